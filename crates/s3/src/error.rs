//! S3 errors as AWS sends them: code, HTTP status, message, the extra elements of the XML error
//! document (`Key`, `BucketName`, `Condition`, ...) and extra headers (`x-amz-delete-marker`, ...).
//!
//! `s3s` renders an `S3Error` as `<Code>`, `<Message>` and `<RequestId>` only. The extra elements
//! travel to the edge in the internal [`FIELDS_HEADER`], and [`finish_response`] (called by the
//! gateway on the collected response) turns them into XML elements and adds `<HostId>`.

use std::borrow::Cow;
use std::str::FromStr as _;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use s3s::{S3Error, S3ErrorCode};

/// Internal header carrying extra error-document elements from the S3 layer to the edge.
pub const FIELDS_HEADER: &str = "x-localbridge-error-fields";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: Cow<'static, str>,
    pub status: u16,
    pub message: String,
    /// Extra elements of the XML error document, in order.
    pub fields: Vec<(Cow<'static, str>, String)>,
    /// Extra response headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Fault {
    pub fn new(code: impl Into<Cow<'static, str>>, status: u16, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            status,
            message: message.into(),
            fields: Vec::new(),
            headers: Vec::new(),
        }
    }

    #[must_use]
    pub fn field(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    #[must_use]
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new("NoSuchBucket", 404, "The specified bucket does not exist").field("BucketName", bucket)
    }

    pub fn no_such_key(key: &str) -> Self {
        Self::new("NoSuchKey", 404, "The specified key does not exist.").field("Key", key)
    }

    pub fn no_such_version(key: &str, version_id: &str) -> Self {
        Self::new("NoSuchVersion", 404, "The specified version does not exist.")
            .field("Key", key)
            .field("VersionId", version_id)
    }

    pub fn no_such_upload(upload_id: &str) -> Self {
        Self::new(
            "NoSuchUpload",
            404,
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
        .field("UploadId", upload_id)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new("InvalidRequest", 400, message)
    }

    pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> Self {
        Self::new("InvalidArgument", 400, message)
            .field("ArgumentName", name)
            .field("ArgumentValue", value)
    }

    pub fn invalid_version_id(version_id: &str) -> Self {
        Self::invalid_argument("Invalid version id specified", "versionId", version_id)
    }

    pub fn bad_digest(message: impl Into<String>) -> Self {
        Self::new("BadDigest", 400, message)
    }

    pub fn malformed_xml() -> Self {
        Self::new(
            "MalformedXML",
            400,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    }

    pub fn invalid_bucket_name(bucket: &str) -> Self {
        Self::new("InvalidBucketName", 400, "The specified bucket is not valid.").field("BucketName", bucket)
    }

    pub fn precondition_failed(condition: &str) -> Self {
        Self::new(
            "PreconditionFailed",
            412,
            "At least one of the pre-conditions you specified did not hold",
        )
        .field("Condition", condition)
    }

    pub fn not_modified() -> Self {
        Self::new("NotModified", 304, "Not Modified")
    }

    pub fn invalid_range(size: u64, range: &str) -> Self {
        Self::new("InvalidRange", 416, "The requested range is not satisfiable")
            .field("RangeRequested", range)
            .field("ActualObjectSize", size.to_string())
            .header("content-range", format!("bytes */{size}"))
    }

    pub fn method_not_allowed(method: &str, resource_type: &str) -> Self {
        Self::new(
            "MethodNotAllowed",
            405,
            "The specified method is not allowed against this resource.",
        )
        .field("Method", method)
        .field("ResourceType", resource_type)
    }

    pub fn entity_too_large(size: u64, max: u64) -> Self {
        Self::new(
            "EntityTooLarge",
            400,
            "Your proposed upload exceeds the maximum allowed size",
        )
        .field("ProposedSize", size.to_string())
        .field("MaxSizeAllowed", max.to_string())
    }

    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new("NotImplemented", 501, message)
    }

    /// Builds the `s3s` error: code, message, status, request id, and every response header
    /// (`s3s` replaces the error response's headers with these, Content-Type included).
    pub fn into_s3_error(self, request_id: &str, host_id: &str) -> S3Error {
        let code = S3ErrorCode::from_str(&self.code).unwrap_or(S3ErrorCode::InternalError);
        let mut err = S3Error::with_message(code, self.message);
        if let Ok(status) = StatusCode::from_u16(self.status) {
            err.set_status_code(status);
        }
        err.set_request_id(request_id);
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        insert(&mut headers, "x-amz-request-id", request_id);
        insert(&mut headers, "x-amz-id-2", host_id);
        for (name, value) in &self.headers {
            insert(&mut headers, name, value);
        }
        if !self.fields.is_empty() {
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(self.fields.iter().map(|(k, v)| (k.as_ref(), v.as_str())))
                .finish();
            insert(&mut headers, FIELDS_HEADER, &encoded);
        }
        err.set_headers(headers);
        err
    }
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
        headers.insert(n, v);
    }
}

/// The internal header that carries a success status `s3s` 0.14 cannot set itself (its
/// generated operations ignore `S3Response::status`): RestoreObject's 202 Accepted.
pub const STATUS_HEADER: &str = "x-localbridge-status";

/// Completes a successful S3 response at the edge: applies [`STATUS_HEADER`] and removes the
/// internal headers ([`finish_response`] applies the status too).
pub fn finish_success(parts: &mut http::response::Parts) {
    parts.headers.remove(FIELDS_HEADER);
    apply_status(parts);
}

fn apply_status(parts: &mut http::response::Parts) {
    if let Some(status) = parts.headers.remove(STATUS_HEADER) {
        if let Some(s) = status.to_str().ok().and_then(|s| s.parse::<u16>().ok()) {
            if let Ok(code) = http::StatusCode::from_u16(s) {
                parts.status = code;
            }
        }
    }
}

/// Completes an S3 response at the edge: moves the extra error elements carried in
/// [`FIELDS_HEADER`] into the XML error document (before `<RequestId>`), adds `<HostId>`, and
/// removes the internal header. Errors that `s3s` raised before the request reached the stub
/// (malformed XML, an invalid URI, a missing body, ...) carry no ids and sometimes no message:
/// they get fresh `x-amz-request-id`/`x-amz-id-2` headers, the matching elements, and AWS's
/// message for the code. Any other response is returned unchanged.
pub fn finish_response(parts: &mut http::response::Parts, body: Bytes) -> Bytes {
    apply_status(parts);
    let headers = &mut parts.headers;
    let fields = headers.remove(FIELDS_HEADER);
    let Ok(text) = std::str::from_utf8(&body) else {
        return body;
    };
    let Some(open) = text.find("<Error><Code>") else {
        return body;
    };
    if !text.ends_with("</Error>") {
        return body;
    }
    let in_body = text
        .find("<RequestId>")
        .and_then(|i| text[i + "<RequestId>".len()..].split("</RequestId>").next())
        .filter(|id| !id.is_empty());
    let request_id = match headers.get("x-amz-request-id").and_then(|v| v.to_str().ok()) {
        Some(id) => id.to_owned(),
        None => {
            let id = in_body.map_or_else(lb_core::ids::s3_request_id, str::to_owned);
            insert(headers, "x-amz-request-id", &id);
            id
        }
    };
    let host_id = match headers.get("x-amz-id-2").and_then(|v| v.to_str().ok()) {
        Some(id) => id.to_owned(),
        None => {
            let id = crate::notify::host_id(&request_id);
            insert(headers, "x-amz-id-2", &id);
            id
        }
    };
    // <Error><Code>X</Code>[<Message>..</Message>][<RequestId>..</RequestId>]</Error>
    let Some(inner) = text.get(open + "<Error>".len()..text.len() - "</Error>".len()) else {
        return body;
    };
    let code_end = inner.find("</Code>").map_or(inner.len(), |i| i + "</Code>".len());
    let (code_el, rest) = inner.split_at(code_end);
    let rest = match rest.find("<RequestId>") {
        Some(i) => &rest[..i],
        None => rest,
    };
    let mut out = String::with_capacity(text.len() + 256);
    out.push_str(text.get(..open).unwrap_or_default());
    out.push_str("<Error>");
    let rewritten = post_policy_failure(code_el, rest);
    if let Some((code, message)) = &rewritten {
        parts.status = StatusCode::FORBIDDEN;
        out.push_str(&format!(
            "<Code>{code}</Code><Message>{}</Message>",
            xml_escape(message)
        ));
    } else {
        out.push_str(code_el);
    }
    match (&rewritten, rest.is_empty()) {
        (Some(_), _) => {}
        (None, true) => {
            let code = code_el
                .strip_prefix("<Code>")
                .and_then(|c| c.strip_suffix("</Code>"))
                .unwrap_or_default();
            if let Some(m) = default_message(code) {
                out.push_str(&format!("<Message>{}</Message>", xml_escape(m)));
            }
        }
        (None, false) => out.push_str(rest),
    }
    if let Some(fields) = fields {
        for (k, v) in form_urlencoded::parse(fields.as_bytes()) {
            out.push_str(&format!("<{k}>{}</{k}>", xml_escape(&v)));
        }
    }
    out.push_str(&format!(
        "<RequestId>{}</RequestId><HostId>{}</HostId></Error>",
        xml_escape(&request_id),
        xml_escape(&host_id)
    ));
    Bytes::from(out)
}

/// `s3s` checks browser POST policies before the stub sees the upload; S3 answers a failed
/// condition with 403 AccessDenied "Invalid according to Policy: ...".
fn post_policy_failure(code_el: &str, rest: &str) -> Option<(&'static str, String)> {
    let message = rest.strip_prefix("<Message>")?.split("</Message>").next()?;
    let message = message
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let quoted = |s: &str| -> Vec<String> { s.split('\'').skip(1).step_by(2).map(str::to_owned).collect() };
    if code_el == "<Code>InvalidPolicyDocument</Code>" && message.starts_with("Policy condition '") {
        let q = quoted(&message);
        let (op, field, value) = (q.first()?, q.get(1)?, q.get(2)?);
        return Some((
            "AccessDenied",
            format!("Invalid according to Policy: Policy Condition failed: [\"{op}\", \"${field}\", \"{value}\"]"),
        ));
    }
    if code_el == "<Code>AccessDenied</Code>" {
        if message.starts_with("Each form field") {
            let name = message.split('"').nth(1)?;
            return Some((
                "AccessDenied",
                format!("Invalid according to Policy: Extra input fields: {name}"),
            ));
        }
        // The only expiry s3s checks (presigned URLs are checked at the edge) is a POST policy's.
        if message == "Request has expired" {
            return Some((
                "AccessDenied",
                "Invalid according to Policy: Policy expired.".to_owned(),
            ));
        }
    }
    None
}

/// AWS's messages for the codes `s3s` raises without one.
fn default_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema"
        }
        "MissingRequestBodyError" => "Request Body is empty",
        "InvalidURI" => "Couldn't parse the specified URI.",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "KeyTooLongError" => "Your key is too long",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "NotImplemented" => "A header you provided implies functionality that is not implemented",
        "InvalidArgument" => "Invalid Argument",
        "InvalidRequest" => "Invalid Request",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "IncompleteBody" => "You did not provide the number of bytes specified by the Content-Length HTTP header",
        "MalformedPOSTRequest" => "The body of your POST request is not well-formed multipart/form-data.",
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed size",
        "InvalidPolicyDocument" => "Invalid Policy: Invalid JSON.",
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        "AccessDenied" => "Access Denied",
        "InternalError" => "We encountered an internal error. Please try again.",
        "MaxMessageLengthExceeded" => "Your request was too big.",
        _ => return None,
    })
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_response_adds_fields_and_host_id() {
        let (mut p, ()) = http::Response::new(()).into_parts();
        p.headers.insert(FIELDS_HEADER, HeaderValue::from_static("Key=a+%26+b"));
        p.headers.insert("x-amz-id-2", HeaderValue::from_static("HOST"));
        let body = Bytes::from_static(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>m</Message><RequestId>R</RequestId></Error>",
        );
        let out = finish_response(&mut p, body);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>m</Message><Key>a &amp; b</Key><RequestId>R</RequestId><HostId>HOST</HostId></Error>"
        );
        assert!(p.headers.get(FIELDS_HEADER).is_none());
        let ok = Bytes::from_static(b"<ListBucketResult/>");
        assert_eq!(finish_response(&mut p, ok.clone()), ok);

        // An error s3s raised itself: ids and the message are filled in.
        let (mut p, ()) = http::Response::new(()).into_parts();
        let body =
            Bytes::from_static(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>MalformedXML</Code></Error>");
        let out = finish_response(&mut p, body);
        let rid = p.headers.get("x-amz-request-id").unwrap().to_str().unwrap().to_owned();
        let hid = p.headers.get("x-amz-id-2").unwrap().to_str().unwrap().to_owned();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>MalformedXML</Code><Message>The XML you provided was not well-formed or did not validate against our published schema</Message><RequestId>{rid}</RequestId><HostId>{hid}</HostId></Error>"
            )
        );

        // A failed POST policy condition, as S3 reports it.
        let (mut p, ()) = http::Response::new(()).into_parts();
        p.status = StatusCode::BAD_REQUEST;
        let body = Bytes::from_static(
            b"<Error><Code>InvalidPolicyDocument</Code><Message>Policy condition &apos;eq&apos; for field &apos;key&apos; failed: expected &apos;a/b&apos;, got &apos;c&apos;</Message></Error>",
        );
        let out = String::from_utf8(finish_response(&mut p, body).to_vec()).unwrap();
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(
            out.starts_with("<Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy Condition failed: [&quot;eq&quot;, &quot;$key&quot;, &quot;a/b&quot;]</Message><RequestId>"),
            "{out}"
        );
    }
}
