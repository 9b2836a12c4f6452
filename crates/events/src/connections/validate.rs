//! Input validation as AWS's front end reports it: every constraint of botocore's model that a
//! request breaks, in member order, in one `ValidationException`:
//! `2 validation errors detected: Value 'x' at 'connectionArn' failed to satisfy constraint: ...; ...`.
//! Members the model marks `sensitive` are reported without their value (`Value at 'password'`).

use lb_core::AwsError;

pub(crate) fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationException", 400, message)
}

/// The constraint violations of one request.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<String>);

impl Errors {
    fn push(&mut self, value: Option<&str>, sensitive: bool, field: &str, constraint: &str) {
        let value = match value {
            _ if sensitive => String::new(),
            Some(v) => format!(" '{v}'"),
            None => " null".to_owned(),
        };
        self.0.push(format!(
            "Value{value} at '{field}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// A required member that is absent.
    pub(crate) fn null(&mut self, field: &str) {
        self.push(None, false, field, "Member must not be null");
    }

    /// A required member: reports it absent, or hands it on.
    pub(crate) fn required<'a>(&mut self, value: Option<&'a str>, field: &str) -> Option<&'a str> {
        if value.is_none() {
            self.null(field);
        }
        value
    }

    pub(crate) fn length(&mut self, value: &str, sensitive: bool, field: &str, min: usize, max: usize) {
        let n = value.encode_utf16().count();
        if n < min {
            let c = format!("Member must have length greater than or equal to {min}");
            self.push(Some(value), sensitive, field, &c);
        }
        if n > max {
            let c = format!("Member must have length less than or equal to {max}");
            self.push(Some(value), sensitive, field, &c);
        }
    }

    pub(crate) fn pattern(&mut self, value: &str, sensitive: bool, field: &str, ok: bool, pattern: &str) {
        if !ok {
            let c = format!("Member must satisfy regular expression pattern: {pattern}");
            self.push(Some(value), sensitive, field, &c);
        }
    }

    pub(crate) fn one_of(&mut self, value: &str, field: &str, ok: bool, set: &str) {
        if !ok {
            self.push(
                Some(value),
                false,
                field,
                &format!("Member must satisfy enum value set: {set}"),
            );
        }
    }

    /// A string member with a length range and a pattern.
    pub(crate) fn string(&mut self, value: &str, s: Str, field: &str) {
        self.length(value, s.sensitive, field, s.min, s.max);
        if let Some((check, pattern)) = s.pattern {
            self.pattern(value, s.sensitive, field, check(value), pattern);
        }
    }

    /// An integer member with a minimum.
    pub(crate) fn min_value(&mut self, value: i64, field: &str, min: i64) {
        if value < min {
            let c = format!("Member must have value greater than or equal to {min}");
            self.push(Some(&value.to_string()), false, field, &c);
        }
    }

    /// An integer member with a maximum.
    pub(crate) fn max_value(&mut self, value: i64, field: &str, max: i64) {
        if value > max {
            let c = format!("Member must have value less than or equal to {max}");
            self.push(Some(&value.to_string()), false, field, &c);
        }
    }

    /// A list member with a maximum length (reported without the list's rendering).
    pub(crate) fn list_max(&mut self, len: usize, field: &str, max: usize) {
        if len > max {
            let c = format!("Member must have length less than or equal to {max}");
            self.push(None, true, field, &c);
        }
    }

    pub(crate) fn finish(self) -> Result<(), AwsError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(validation(format!("1 validation error detected: {}", self.0[0]))),
            n => Err(validation(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}

/// A pattern of the model: its check, and its text as AWS prints it.
pub(crate) type Pattern = (fn(&str) -> bool, &'static str);

/// A string shape of the model: length range, pattern, sensitivity.
#[derive(Clone, Copy)]
pub(crate) struct Str {
    pub min: usize,
    pub max: usize,
    pub pattern: Option<Pattern>,
    pub sensitive: bool,
}

/// `ConnectionName` / `ApiDestinationName`.
pub(crate) const NAME: Str = Str {
    min: 1,
    max: 64,
    pattern: Some((is_name, r"[\.\-_A-Za-z0-9]+")),
    sensitive: false,
};
/// `ConnectionDescription` / `ApiDestinationDescription`.
pub(crate) const DESCRIPTION: Str = Str {
    min: 0,
    max: 512,
    pattern: Some((is_single_line, ".*")),
    sensitive: false,
};
/// `AuthHeaderParameters` (user names, API key names, client ids).
pub(crate) const AUTH_HEADER: Str = Str {
    min: 1,
    max: 512,
    pattern: Some((
        is_auth_header,
        r"^[ \t]*[^\x00-\x1F:\x7F]+([ \t]+[^\x00-\x1F:\x7F]+)*[ \t]*$",
    )),
    sensitive: false,
};
/// `AuthHeaderParametersSensitive` (passwords, API key values, client secrets).
pub(crate) const AUTH_HEADER_SENSITIVE: Str = Str {
    sensitive: true,
    ..AUTH_HEADER
};
/// `HttpsEndpoint` (InvocationEndpoint, AuthorizationEndpoint).
pub(crate) const HTTPS_ENDPOINT: Str = Str {
    min: 1,
    max: 2048,
    pattern: Some((
        is_https_endpoint,
        r"^((%[0-9A-Fa-f]{2}|[-()_.!~*';/?:@\x26=+$,A-Za-z0-9])+)([).!';/?:,])?$",
    )),
    sensitive: false,
};
/// `ConnectionArn`.
pub(crate) const CONNECTION_ARN: Str = Str {
    min: 1,
    max: 1600,
    pattern: Some((
        is_connection_arn,
        r"^arn:aws([a-z]|\-)*:events:([a-z]|\d|\-)*:([0-9]{12})?:connection\/[\.\-_A-Za-z0-9]+\/[\-A-Za-z0-9]+$",
    )),
    sensitive: false,
};
/// `KmsKeyIdentifier`.
pub(crate) const KMS_KEY: Str = Str {
    min: 0,
    max: 2048,
    pattern: Some((is_kms_key, r"^[a-zA-Z0-9_\-/:]*$")),
    sensitive: false,
};
/// `HeaderKey`.
pub(crate) const HEADER_KEY: Str = Str {
    min: 0,
    max: 512,
    pattern: Some((is_header_key, r"^[!#$%&'*+-.^_`|~0-9a-zA-Z]+$")),
    sensitive: false,
};
/// `HeaderValueSensitive`.
pub(crate) const HEADER_VALUE: Str = Str {
    min: 0,
    max: 512,
    pattern: Some((is_header_value, r"^[ \t]*[\x20-\x7E]+([ \t]+[\x20-\x7E]+)*[ \t]*$")),
    sensitive: true,
};
/// `QueryStringKey`.
pub(crate) const QUERY_KEY: Str = Str {
    min: 0,
    max: 512,
    pattern: Some((is_query_key, r"[^\x00-\x1F\x7F]+")),
    sensitive: false,
};
/// `QueryStringValueSensitive`.
pub(crate) const QUERY_VALUE: Str = Str {
    min: 0,
    max: 512,
    pattern: Some((is_query_value, r"[^\x00-\x09\x0B\x0C\x0E-\x1F\x7F]+")),
    sensitive: true,
};
/// `NextToken`.
pub(crate) const NEXT_TOKEN: Str = Str {
    min: 1,
    max: 2048,
    pattern: None,
    sensitive: false,
};

pub(crate) fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Java's `.*` under `matches()`: no line terminator.
fn is_single_line(s: &str) -> bool {
    !s.chars()
        .any(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
}

/// `^[ \t]*X+([ \t]+X+)*[ \t]*$` with X = `[^\x00-\x1F:\x7F]`: X and tabs only, at least one X.
fn is_auth_header(s: &str) -> bool {
    let x = |c: char| !(c <= '\u{1f}' || c == ':' || c == '\u{7f}');
    s.chars().all(|c| c == '\t' || x(c)) && s.chars().any(x)
}

/// `^((%[0-9A-Fa-f]{2}|[-()_.!~*';/?:@&=+$,A-Za-z0-9])+)([).!';/?:,])?$`.
fn is_https_endpoint(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() => i += 3,
            c if c.is_ascii_alphanumeric() || b"-()_.!~*';/?:@&=+$,".contains(&c) => i += 1,
            _ => return false,
        }
    }
    !b.is_empty()
}

/// The `ConnectionArn` pattern.
pub(crate) fn is_connection_arn(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:aws") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(':') else {
        return false;
    };
    let mut parts = rest.splitn(4, ':');
    let (Some("events"), Some(region), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some((name, id)) = resource.strip_prefix("connection/").and_then(|r| r.split_once('/')) else {
        return false;
    };
    partition.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && (account.is_empty() || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
        && is_name(name)
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn is_kms_key(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b':'))
}

/// `^[!#$%&'*+-.^_`|~0-9a-zA-Z]+$` (`+-.` is the range `+ , - .`).
fn is_header_key(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+,-.^_`|~".contains(&b))
}

/// `^[ \t]*[\x20-\x7E]+([ \t]+[\x20-\x7E]+)*[ \t]*$`: printable ASCII and tabs, at least one printable.
fn is_header_value(s: &str) -> bool {
    let y = |c: char| (' '..='~').contains(&c);
    s.chars().all(|c| c == '\t' || y(c)) && s.chars().any(y)
}

fn is_query_key(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c <= '\u{1f}' || c == '\u{7f}')
}

fn is_query_value(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| (c <= '\u{1f}' && c != '\n' && c != '\r') || c == '\u{7f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(is_name("a.b-c_D9") && !is_name("a b") && !is_name(""));
        assert!(is_auth_header("user name") && is_auth_header("   ") && !is_auth_header("a:b"));
        assert!(!is_auth_header("\t\t") && is_auth_header("a\tb") && !is_auth_header("a\nb"));
        assert!(is_https_endpoint("https://example.com/a?b=c&d=%2F"));
        assert!(is_https_endpoint("invalid-endpoint") && !is_https_endpoint("https://a/#x"));
        assert!(!is_https_endpoint("%2") && !is_https_endpoint("a b"));
        assert!(is_connection_arn(
            "arn:aws:events:us-east-1:000000000000:connection/c/0b3c-12ab"
        ));
        assert!(is_connection_arn("arn:aws-cn:events::000000000000:connection/c/1"));
        assert!(!is_connection_arn("invalid-connection-arn"));
        assert!(!is_connection_arn("arn:aws:events:us-east-1:0000:connection/c/1"));
        assert!(!is_connection_arn(
            "arn:aws:events:us-east-1:000000000000:api-destination/c/1"
        ));
        assert!(is_header_key("X-Api-Key") && !is_header_key("a b") && is_header_key("a,b"));
        assert!(is_header_value("v 1") && !is_header_value("é") && !is_header_value("\t"));
        assert!(is_query_value("a\nb") && !is_query_value("a\u{0}"));
    }

    #[test]
    fn messages() {
        let mut e = Errors::default();
        e.string("Invalid Name With Spaces!", NAME, "name");
        assert_eq!(
            e.finish().unwrap_err().message,
            r"1 validation error detected: Value 'Invalid Name With Spaces!' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+"
        );
        let mut e = Errors::default();
        e.null("name");
        e.string(
            "a:b",
            AUTH_HEADER_SENSITIVE,
            "authParameters.basicAuthParameters.password",
        );
        assert_eq!(
            e.finish().unwrap_err().message,
            r"2 validation errors detected: Value null at 'name' failed to satisfy constraint: Member must not be null; Value at 'authParameters.basicAuthParameters.password' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[ \t]*[^\x00-\x1F:\x7F]+([ \t]+[^\x00-\x1F:\x7F]+)*[ \t]*$"
        );
    }
}
