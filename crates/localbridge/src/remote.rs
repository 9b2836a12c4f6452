//! What the commands that talk to a running server (`tail`, `replay`) share: where the server
//! is, the region, and the credential scope their AWS requests carry.

/// The first non-empty environment variable of `names`.
pub fn env_first(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

/// `--endpoint-url`, else `AWS_ENDPOINT_URL`, else `http://127.0.0.1:4566`; no trailing `/`.
pub fn endpoint(arg: Option<&str>) -> String {
    arg.map(str::to_owned)
        .or_else(|| env_first(&["AWS_ENDPOINT_URL"]))
        .unwrap_or_else(|| "http://127.0.0.1:4566".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// `--region`, else `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`.
pub fn region(arg: Option<&str>) -> String {
    arg.map(str::to_owned)
        .or_else(|| env_first(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
        .unwrap_or_else(|| lb_core::DEFAULT_REGION.to_owned())
}

/// An `Authorization` header that places a request (signatures are parsed, not verified: the
/// credential scope gives the region and the service).
pub fn authorization(region: &str, service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=localbridge/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

/// A server's error answer (`{"error"|"__type", "message"}`) as one line.
pub fn error_message(status: u16, body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let code = v["error"].as_str().or_else(|| v["__type"].as_str());
    let message = v["message"].as_str().or_else(|| v["Message"].as_str());
    match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (None, Some(m)) => m.to_owned(),
        _ => format!("HTTP {status}: {}", String::from_utf8_lossy(body).trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages() {
        assert_eq!(
            error_message(
                404,
                br#"{"error":"ResourceNotFoundException","message":"Event bus x does not exist."}"#
            ),
            "ResourceNotFoundException: Event bus x does not exist."
        );
        assert_eq!(error_message(500, b"oops"), "HTTP 500: oops");
        assert_eq!(endpoint(Some("http://h:1/")), "http://h:1");
    }
}
