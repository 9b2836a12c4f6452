//! A minimal XML writer for query-protocol responses: elements and escaped text, nothing else.

/// The namespace of every SQS query response.
pub const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

pub struct Xml {
    buf: String,
}

impl Xml {
    /// Starts `<{action}Response xmlns=...>`.
    pub fn response(action: &str) -> Self {
        let mut buf = String::with_capacity(512);
        buf.push_str("<?xml version=\"1.0\"?><");
        buf.push_str(action);
        buf.push_str("Response xmlns=\"");
        buf.push_str(NAMESPACE);
        buf.push_str("\">");
        Self { buf }
    }

    /// Starts `<ErrorResponse xmlns=...>`.
    pub fn error() -> Self {
        let mut buf = String::with_capacity(512);
        buf.push_str("<?xml version=\"1.0\"?><ErrorResponse xmlns=\"");
        buf.push_str(NAMESPACE);
        buf.push_str("\">");
        Self { buf }
    }

    pub fn open(&mut self, tag: &str) {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
    }

    pub fn close(&mut self, tag: &str) {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
    }

    /// `<tag/>`
    pub fn empty(&mut self, tag: &str) {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push_str("/>");
    }

    /// `<tag>text</tag>`, text escaped.
    pub fn leaf(&mut self, tag: &str, text: &str) {
        self.open(tag);
        escape_into(&mut self.buf, text);
        self.close(tag);
    }

    /// `<tag>text</tag>` when there is a value.
    pub fn opt(&mut self, tag: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.leaf(tag, t);
        }
    }

    /// Ends a response with its `ResponseMetadata`.
    pub fn finish(mut self, action: &str, request_id: &str) -> String {
        self.open("ResponseMetadata");
        self.leaf("RequestId", request_id);
        self.close("ResponseMetadata");
        self.buf.push_str("</");
        self.buf.push_str(action);
        self.buf.push_str("Response>");
        self.buf
    }

    /// Ends an `ErrorResponse` with its `RequestId`.
    pub fn finish_error(mut self, request_id: &str) -> String {
        self.leaf("RequestId", request_id);
        self.buf.push_str("</ErrorResponse>");
        self.buf
    }
}

/// Escapes XML text. `\r` is written as a character reference: a literal one would be turned
/// into `\n` by every XML parser, and the body would no longer match its MD5.
pub fn escape_into(buf: &mut String, s: &str) {
    let mut last = 0;
    for (i, c) in s.char_indices() {
        let rep = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&apos;",
            '\r' => "&#xD;",
            _ => continue,
        };
        buf.push_str(&s[last..i]);
        buf.push_str(rep);
        last = i + c.len_utf8();
    }
    buf.push_str(&s[last..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_carriage_returns() {
        let mut s = String::new();
        escape_into(&mut s, "a<b>&\"c'\r\n日本");
        assert_eq!(s, "a&lt;b&gt;&amp;&quot;c&apos;&#xD;\n日本");
        let mut x = Xml::response("DeleteQueue");
        x.leaf("X", "1");
        assert_eq!(
            x.finish("DeleteQueue", "rid"),
            "<?xml version=\"1.0\"?><DeleteQueueResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><X>1</X><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DeleteQueueResponse>"
        );
    }
}
