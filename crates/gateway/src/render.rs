//! Error envelopes for requests the gateway answers itself (before any service sees them).

use lb_core::AwsError;

/// Escapes text for XML element content and attribute values.
pub fn xml_escape(s: &str) -> String {
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

/// S3's error document.
pub fn s3_error_xml(code: &str, message: &str, extra: &[(&str, String)], request_id: &str, host_id: &str) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
    out.push_str(&xml_escape(code));
    out.push_str("</Code><Message>");
    out.push_str(&xml_escape(message));
    out.push_str("</Message>");
    for (name, value) in extra {
        out.push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
    }
    out.push_str(&format!(
        "<RequestId>{}</RequestId><HostId>{}</HostId></Error>",
        xml_escape(request_id),
        xml_escape(host_id)
    ));
    out
}

/// The AWS JSON protocols' error body.
pub fn json_error(err: &AwsError) -> String {
    serde_json::json!({"__type": err.code, "message": err.message}).to_string()
}

/// The query protocol's error document.
pub fn query_error_xml(err: &AwsError, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<ErrorResponse><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        if err.sender_fault { "Sender" } else { "Receiver" },
        xml_escape(&err.code),
        xml_escape(&err.message),
        xml_escape(request_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_envelopes() {
        assert_eq!(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        let x = s3_error_xml(
            "NoSuchKey",
            "The specified key does not exist.",
            &[("Key", "a&b".into())],
            "R",
            "H",
        );
        assert!(x.ends_with("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&amp;b</Key><RequestId>R</RequestId><HostId>H</HostId></Error>"));
        let e = AwsError::new("NotImplemented", 501, "x");
        assert_eq!(json_error(&e), r#"{"__type":"NotImplemented","message":"x"}"#);
        assert!(query_error_xml(&e, "R").contains("<Type>Receiver</Type><Code>NotImplemented</Code>"));
    }
}
