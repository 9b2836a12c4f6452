//! The one XML writer and the one escaper (S3's own XML is written by `s3s`).
//!
//! The writer appends to a `String`: elements, escaped text, nothing else. It never validates
//! tag names: they are the caller's constants.

use std::borrow::Cow;

/// The XML declaration the query protocol's responses start with.
pub const DECLARATION: &str = "<?xml version=\"1.0\"?>";
/// The declaration S3 writes (with the encoding).
pub const DECLARATION_UTF8: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Appends `s` escaped for element content and attribute values. `\r` is written as a character
/// reference: a literal one would be turned into `\n` by every XML parser (and a message body
/// would no longer match its MD5).
pub fn escape_into(buf: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            b'\r' => "&#xD;",
            _ => continue,
        };
        // Every replaced byte is ASCII, so `i` is a char boundary.
        buf.push_str(&s[last..i]);
        buf.push_str(rep);
        last = i + 1;
    }
    buf.push_str(&s[last..]);
}

/// `s` escaped (borrowed when nothing needs escaping).
pub fn escape(s: &str) -> Cow<'_, str> {
    if s.bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'' | b'\r'))
    {
        let mut out = String::with_capacity(s.len() + 16);
        escape_into(&mut out, s);
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    }
}

/// An XML document under construction.
#[derive(Debug, Default, Clone)]
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    /// An empty document.
    pub fn new() -> Self {
        Self {
            buf: String::with_capacity(512),
        }
    }

    /// A document starting with `declaration` (e.g. [`DECLARATION`]).
    pub fn with_declaration(declaration: &str) -> Self {
        let mut w = Self::new();
        w.buf.push_str(declaration);
        w
    }

    /// `<tag>`
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// `<tag xmlns="ns">`
    pub fn open_ns(&mut self, tag: &str, xmlns: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push_str(" xmlns=\"");
        escape_into(&mut self.buf, xmlns);
        self.buf.push_str("\">");
        self
    }

    /// `<{prefix}{suffix}>`: `<SendMessageResponse>` without formatting a tag first.
    pub fn open2(&mut self, prefix: &str, suffix: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(prefix);
        self.buf.push_str(suffix);
        self.buf.push('>');
        self
    }

    /// `<{prefix}{suffix} xmlns="ns">`
    pub fn open2_ns(&mut self, prefix: &str, suffix: &str, xmlns: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(prefix);
        self.buf.push_str(suffix);
        self.buf.push_str(" xmlns=\"");
        escape_into(&mut self.buf, xmlns);
        self.buf.push_str("\">");
        self
    }

    /// `</tag>`
    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// `</{prefix}{suffix}>`
    pub fn close2(&mut self, prefix: &str, suffix: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(prefix);
        self.buf.push_str(suffix);
        self.buf.push('>');
        self
    }

    /// `<tag/>`
    pub fn empty(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push_str("/>");
        self
    }

    /// `<{prefix}{suffix}/>`
    pub fn empty2(&mut self, prefix: &str, suffix: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(prefix);
        self.buf.push_str(suffix);
        self.buf.push_str("/>");
        self
    }

    /// `<tag>text</tag>`, text escaped.
    pub fn leaf(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        escape_into(&mut self.buf, text);
        self.close(tag)
    }

    /// `<tag>text</tag>` when there is a value.
    pub fn opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.leaf(tag, t);
        }
        self
    }

    /// Escaped text at the current position.
    pub fn text(&mut self, text: &str) -> &mut Self {
        escape_into(&mut self.buf, text);
        self
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn finish(self) -> String {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_carriage_returns() {
        let mut s = String::new();
        escape_into(&mut s, "a<b>&\"c'\r\n日本");
        assert_eq!(s, "a&lt;b&gt;&amp;&quot;c&apos;&#xD;\n日本");
        assert!(matches!(escape("plain"), Cow::Borrowed("plain")));
        assert_eq!(escape("x&y"), "x&amp;y");
    }

    #[test]
    fn writes_elements() {
        let mut w = XmlWriter::with_declaration(DECLARATION);
        w.open_ns("R", "urn:x")
            .leaf("A", "1<2")
            .empty("B")
            .opt("C", None)
            .opt("D", Some("d"));
        w.open2("Send", "Result").close2("Send", "Result").close("R");
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\"?><R xmlns=\"urn:x\"><A>1&lt;2</A><B/><D>d</D><SendResult></SendResult></R>"
        );
    }
}
