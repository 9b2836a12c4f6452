//! botocore's constraints on Scheduler's members, answered as AWS answers a request that
//! breaks them: one `ValidationException` listing every violation,
//! `N validation error(s) detected: Value '<v>' at '<member>' failed to satisfy constraint: ...`
//! (the members named in lower camel case, nested ones joined with dots).
//!
//! The model's patterns are checked by hand (no regular-expression engine): each function below
//! names the pattern it implements.

use lb_core::AwsError;

/// A model pattern's text (quoted in the message) and the check that implements it.
pub type Pattern<'a> = (&'a str, fn(&str) -> bool);

/// Collects the violations of one request, in the order the members are checked.
#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, value: &str, member: &str, constraint: &str) {
        self.0.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// A required member that is missing.
    pub fn null(&mut self, member: &str) {
        self.0.push(format!(
            "Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ));
    }

    /// A string's length and, if given, its pattern.
    pub fn string(&mut self, value: &str, member: &str, min: usize, max: usize, pattern: Option<Pattern<'_>>) {
        let len = value.chars().count();
        if len < min {
            self.push(
                value,
                member,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
        if len > max {
            self.push(
                value,
                member,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
        if let Some((text, matches)) = pattern {
            if len >= min && !matches(value) {
                self.push(
                    value,
                    member,
                    &format!("Member must satisfy regular expression pattern: {text}"),
                );
            }
        }
    }

    /// A required string.
    pub fn required(
        &mut self,
        value: Option<&str>,
        member: &str,
        min: usize,
        max: usize,
        pattern: Option<Pattern<'_>>,
    ) {
        match value {
            None => self.null(member),
            Some(v) => self.string(v, member, min, max, pattern),
        }
    }

    /// An optional string.
    pub fn optional(
        &mut self,
        value: Option<&str>,
        member: &str,
        min: usize,
        max: usize,
        pattern: Option<Pattern<'_>>,
    ) {
        if let Some(v) = value {
            self.string(v, member, min, max, pattern);
        }
    }

    /// An enum member.
    pub fn one_of(&mut self, value: Option<&str>, member: &str, allowed: &[&str]) {
        if let Some(v) = value {
            if !allowed.contains(&v) {
                self.push(
                    v,
                    member,
                    &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
                );
            }
        }
    }

    /// An integer member in `min..=max`; `None` when absent (or not an integer, reported).
    pub fn integer(&mut self, value: Option<&serde_json::Number>, member: &str, min: i64, max: i64) -> Option<i64> {
        let n = value?;
        let Some(v) = n.as_i64() else {
            self.push(&n.to_string(), member, "Member must be an integer");
            return None;
        };
        if v < min {
            self.push(
                &v.to_string(),
                member,
                &format!("Member must have value greater than or equal to {min}"),
            );
            return None;
        }
        if v > max {
            self.push(
                &v.to_string(),
                member,
                &format!("Member must have value less than or equal to {max}"),
            );
            return None;
        }
        Some(v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was violated, else the `ValidationException`.
    pub fn finish(self) -> Result<(), AwsError> {
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

/// `ValidationException` (400).
pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationException", 400, message)
}

/// `ResourceNotFoundException` (404).
pub fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new("ResourceNotFoundException", 404, message)
}

/// `ConflictException` (409).
pub fn conflict(message: impl Into<String>) -> AwsError {
    AwsError::new("ConflictException", 409, message)
}

/// `Name`, `ScheduleGroupName`, `NamePrefix`: `[0-9a-zA-Z-_.]+`.
pub const NAME_PATTERN: &str = "[0-9a-zA-Z-_.]+";

pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `ClientToken`: `[a-zA-Z0-9-_]+`.
pub const CLIENT_TOKEN_PATTERN: &str = "[a-zA-Z0-9-_]+";

pub fn is_client_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// `arn:aws[a-z-]*:<service>:` followed by what comes after, split as (region, account, rest).
fn arn_after_partition<'a>(s: &'a str, service: &str) -> Option<&'a str> {
    let rest = s.strip_prefix("arn:aws")?;
    let (partition_tail, rest) = rest.split_once(':')?;
    if !partition_tail.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
        return None;
    }
    rest.strip_prefix(service)?.strip_prefix(':')
}

fn is_region(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `RoleArn`: `arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+`.
pub const ROLE_ARN_PATTERN: &str = r"arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+";

pub fn is_role_arn(s: &str) -> bool {
    let Some(rest) = arn_after_partition(s, "iam") else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(':') else {
        return false;
    };
    let Some((account, rest)) = rest.split_once(':') else {
        return false;
    };
    let Some(path) = rest.strip_prefix("role/") else {
        return false;
    };
    is_account(account)
        && !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '/' | '-'))
}

/// `DeadLetterConfigArnString`: `arn:aws[a-z-]*:sqs:[a-z0-9\-]+:\d{12}:[a-zA-Z0-9\-_]+` (a
/// standard queue: a FIFO queue's `.fifo` suffix does not match).
pub const DEAD_LETTER_ARN_PATTERN: &str = r"arn:aws[a-z-]*:sqs:[a-z0-9\-]+:\d{12}:[a-zA-Z0-9\-_]+";

pub fn is_dead_letter_arn(s: &str) -> bool {
    let Some(rest) = arn_after_partition(s, "sqs") else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let (Some(region), Some(account), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    is_region(region)
        && is_account(account)
        && !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// `KmsKeyArn`: `arn:aws[a-z-]*:kms:[a-z0-9\-]+:\d{12}:(key|alias)\/[0-9a-zA-Z-_]*`.
pub const KMS_KEY_ARN_PATTERN: &str = r"arn:aws[a-z-]*:kms:[a-z0-9\-]+:\d{12}:(key|alias)\/[0-9a-zA-Z-_]*";

pub fn is_kms_key_arn(s: &str) -> bool {
    let Some(rest) = arn_after_partition(s, "kms") else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let (Some(region), Some(account), Some(resource)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let id = resource
        .strip_prefix("key/")
        .or_else(|| resource.strip_prefix("alias/"));
    is_region(region)
        && is_account(account)
        && id.is_some_and(|id| id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
}

/// `TagResourceArn` (a schedule group's ARN):
/// `arn:aws[a-z-]*:scheduler:[a-z0-9\-]+:\d{12}:schedule-group\/[0-9a-zA-Z-_.]+`.
pub const TAG_RESOURCE_ARN_PATTERN: &str =
    r"arn:aws[a-z-]*:scheduler:[a-z0-9\-]+:\d{12}:schedule-group\/[0-9a-zA-Z-_.]+";

/// The (region, account, group name) of a schedule group's ARN.
pub fn group_arn_parts(s: &str) -> Option<(&str, &str, &str)> {
    let rest = arn_after_partition(s, "scheduler")?;
    let mut parts = rest.splitn(3, ':');
    let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    let name = resource.strip_prefix("schedule-group/")?;
    (is_region(region) && is_account(account) && is_name(name)).then_some((region, account, name))
}

/// `Source` of `EventBridgeParameters`: not starting with `aws.` (the model's lookahead
/// pattern), or a JSON path.
pub const SOURCE_PATTERN: &str = r"(?=[/\.\-_A-Za-z0-9]+)((?!aws\.).*)|(\$(\.[\w_-]+(\[(\d+|\*)\])*)*)";

pub fn is_source(s: &str) -> bool {
    if s.starts_with('$') {
        return true;
    }
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_'));
    first_ok && !s.starts_with("aws.")
}

/// Tags: at most 200; keys 1..=128 and values 1..=256 characters.
pub fn tags(v: &mut Violations, tags: &[crate::model::Tag], member: &str) {
    if tags.len() > 200 {
        v.push(
            &format!("{tags:?}"),
            member,
            "Member must have length less than or equal to 200",
        );
    }
    for (i, t) in tags.iter().enumerate() {
        let at = format!("{member}.{}", i + 1);
        v.required(t.key.as_deref(), &format!("{at}.member.key"), 1, 128, None);
        v.required(t.value.as_deref(), &format!("{at}.member.value"), 1, 256, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(is_name("a-b_c.d9"));
        assert!(!is_name("a b"));
        assert!(!is_name(""));
        assert!(is_role_arn("arn:aws:iam::123456789012:role/service-role/x"));
        assert!(!is_role_arn("arn:aws:iam::1234:role/x"));
        assert!(is_dead_letter_arn("arn:aws:sqs:us-east-1:000000000000:dlq"));
        assert!(!is_dead_letter_arn("arn:aws:sqs:us-east-1:000000000000:dlq.fifo"));
        assert!(is_kms_key_arn("arn:aws:kms:us-east-1:000000000000:key/abc-123"));
        assert!(!is_kms_key_arn("arn:aws:kms:us-east-1:000000000000:thing/abc"));
        assert_eq!(
            group_arn_parts("arn:aws:scheduler:us-east-1:000000000000:schedule-group/g1"),
            Some(("us-east-1", "000000000000", "g1"))
        );
        assert!(group_arn_parts("arn:aws:scheduler:us-east-1:000000000000:schedule/default/x").is_none());
        assert!(is_source("my.app"));
        assert!(!is_source("aws.events"));
    }

    #[test]
    fn messages() {
        let mut v = Violations::new();
        v.required(Some("bad name"), "name", 1, 64, Some((NAME_PATTERN, is_name)));
        v.null("target");
        let e = v.finish().unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert_eq!(
            e.message,
            "2 validation errors detected: Value 'bad name' at 'name' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+; Value null at 'target' \
             failed to satisfy constraint: Member must not be null"
        );
    }
}
