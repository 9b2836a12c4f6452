//! S3's error document, for requests the gateway (or its S3 edge) refuses before `s3s` sees
//! them. Written with [`lb_protocol::xml`], the one XML writer and escaper; every other envelope
//! is [`lb_protocol`]'s.

use lb_protocol::xml::{XmlWriter, DECLARATION_UTF8};

/// S3's error document: `<Error><Code/><Message/>{extra}<RequestId/><HostId/></Error>`.
pub fn s3_error_xml(code: &str, message: &str, extra: &[(&str, String)], request_id: &str, host_id: &str) -> String {
    let mut w = XmlWriter::with_declaration(DECLARATION_UTF8);
    w.open("Error").leaf("Code", code).leaf("Message", message);
    for (name, value) in extra {
        w.leaf(name, value);
    }
    w.leaf("RequestId", request_id).leaf("HostId", host_id).close("Error");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_s3_errors() {
        let x = s3_error_xml(
            "NoSuchKey",
            "The specified key does not exist.",
            &[("Key", "a&b".into())],
            "R",
            "H",
        );
        assert_eq!(
            x,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&amp;b</Key><RequestId>R</RequestId><HostId>H</HostId></Error>"
        );
    }
}
