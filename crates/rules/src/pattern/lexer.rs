//! A streaming JSON tokenizer that reports errors and positions the way EventBridge does.
//!
//! EventBridge validates patterns with aws/event-ruler, which reads the pattern with Jackson's
//! streaming parser and reports the parser's *current location* with every error
//! (`\n at [Source: (String)"..."; line: 1, column: 56]`). Jackson reads a string value lazily:
//! after a string token its location is just past the opening quote, and only reading the text
//! moves it past the closing quote; after a field name it has already looked at the first
//! character of the value. This tokenizer reproduces those positions.

use super::PatternError;

/// A token, as Jackson names them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    StartObject,
    EndObject,
    StartArray,
    EndArray,
    FieldName(String),
    Str(String),
    /// The number's text as written.
    Num(String),
    True,
    False,
    Null,
}

impl Tok {
    /// Jackson's `getText()` for the token.
    pub(crate) fn text(&self) -> String {
        match self {
            Tok::StartObject => "{".into(),
            Tok::EndObject => "}".into(),
            Tok::StartArray => "[".into(),
            Tok::EndArray => "]".into(),
            Tok::FieldName(s) | Tok::Str(s) | Tok::Num(s) => s.clone(),
            Tok::True => "true".into(),
            Tok::False => "false".into(),
            Tok::Null => "null".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ctx {
    /// `{` at this byte offset; whether an entry has been read.
    Object(usize, bool),
    Array(usize, bool),
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    /// Scan position (bytes).
    i: usize,
    /// The location Jackson would report (bytes).
    loc: usize,
    /// Where the current string token's text ends (past the closing quote), when unread.
    unread_string_end: Option<usize>,
    stack: Vec<Ctx>,
    /// The value token read ahead after a field name, with its location and, for strings, end.
    pending: Option<(Tok, usize, Option<usize>)>,
}

/// Jackson's default nesting limit (`StreamReadConstraints`, 1000 since Jackson 2.15).
const MAX_DEPTH: usize = 1000;

const VALUE_EXPECTED: &str = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')";

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Lexer {
            src,
            b: src.as_bytes(),
            i: 0,
            loc: 0,
            unread_string_end: None,
            stack: Vec::new(),
            pending: None,
        }
    }

    /// An error at the current location.
    pub(crate) fn error(&self, reason: impl Into<String>) -> PatternError {
        self.error_at(reason, self.loc)
    }

    fn error_at(&self, reason: impl Into<String>, at: usize) -> PatternError {
        PatternError::with_location(reason, self.location(at))
    }

    /// Marks the current string token as read (Jackson's `getText()` on a lazy string).
    pub(crate) fn read_text(&mut self) {
        if let Some(end) = self.unread_string_end.take() {
            self.loc = end;
        }
    }

    /// `[Source: (String)"..."; line: L, column: C]` for a byte offset.
    fn location(&self, at: usize) -> String {
        let at = at.min(self.src.len());
        let before = &self.src[..floor_char_boundary(self.src, at)];
        let line = 1 + before.bytes().filter(|&c| c == b'\n').count();
        let line_start = before.rfind('\n').map_or(0, |p| p + 1);
        let column = 1 + before[line_start..].encode_utf16().count();
        format!("[Source: {}; line: {line}, column: {column}]", source_desc(self.src))
    }

    fn skip_ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn char_at(&self, i: usize) -> char {
        self.src[i..].chars().next().unwrap_or('\0')
    }

    fn unexpected(&self, at: usize, what: &str) -> PatternError {
        let c = self.char_at(at);
        self.error_at(
            format!("Unexpected character ({}): {what}", char_desc(c)),
            at + c.len_utf8(),
        )
    }

    fn eof(&self, what: &str) -> PatternError {
        self.error_at(format!("Unexpected end-of-input{what}"), self.b.len())
    }

    /// The next token, or `None` at the end of the input (outside any object or array).
    pub(crate) fn next(&mut self) -> Result<Option<Tok>, PatternError> {
        self.read_text();
        if let Some((tok, loc, end)) = self.pending.take() {
            self.loc = loc;
            self.unread_string_end = end;
            return Ok(Some(tok));
        }
        self.skip_ws();
        let Some(top) = self.stack.last().copied() else {
            if self.i >= self.b.len() {
                self.loc = self.i;
                return Ok(None);
            }
            let (tok, loc, end) = self.value()?;
            self.loc = loc;
            self.unread_string_end = end;
            return Ok(Some(tok));
        };
        if self.i >= self.b.len() {
            let (kind, start) = match top {
                Ctx::Object(s, _) => ("OBJECT", s),
                Ctx::Array(s, _) => ("ARRAY", s),
            };
            return Err(self.eof(&format!(
                ": expected close marker for {kind} (start marker at {})",
                self.location(start)
            )));
        }
        let c = self.b[self.i];
        let (is_object, seen) = match top {
            Ctx::Object(_, seen) => (true, seen),
            Ctx::Array(_, seen) => (false, seen),
        };
        if (c == b'}' && is_object) || (c == b']' && !is_object) {
            self.stack.pop();
            self.i += 1;
            self.loc = self.i;
            return Ok(Some(if is_object { Tok::EndObject } else { Tok::EndArray }));
        }
        if c == b'}' || c == b']' {
            let (expected, kind, start) = match top {
                Ctx::Object(s, _) => ('}', "Object", s),
                Ctx::Array(s, _) => (']', "Array", s),
            };
            return Err(self.error_at(
                format!(
                    "Unexpected close marker '{}': expected '{expected}' (for {kind} starting at {})",
                    c as char,
                    self.location(start)
                ),
                self.i + 1,
            ));
        }
        if seen {
            if c != b',' {
                let what = if is_object {
                    "was expecting comma to separate Object entries"
                } else {
                    "was expecting comma to separate Array entries"
                };
                return Err(self.unexpected(self.i, what));
            }
            self.i += 1;
            self.skip_ws();
            if self.i >= self.b.len() {
                return Err(self.eof(if is_object { " in field name" } else { "" }));
            }
        }
        if let Some(Ctx::Object(_, seen) | Ctx::Array(_, seen)) = self.stack.last_mut() {
            *seen = true;
        }
        if !is_object {
            let (tok, loc, end) = self.value()?;
            self.loc = loc;
            self.unread_string_end = end;
            return Ok(Some(tok));
        }
        // A field name, the colon, and a look at the value.
        if self.b[self.i] != b'"' {
            return Err(self.unexpected(self.i, "was expecting double-quote to start field name"));
        }
        let name = self.string(true)?;
        self.skip_ws();
        if self.i >= self.b.len() {
            return Err(self.eof(" within/between Object entries"));
        }
        if self.b[self.i] != b':' {
            return Err(self.unexpected(self.i, "was expecting a colon to separate field name and value"));
        }
        self.i += 1;
        self.skip_ws();
        if self.i >= self.b.len() {
            return Err(self.eof(" within/between Object entries"));
        }
        let value = self.value()?;
        self.loc = value.1;
        self.unread_string_end = None;
        self.pending = Some(value);
        Ok(Some(Tok::FieldName(name)))
    }

    /// Reads a value token at `self.i` (not `]` or `}`): the token, its Jackson location and,
    /// for a string, where its text ends.
    fn value(&mut self) -> Result<(Tok, usize, Option<usize>), PatternError> {
        if self.i >= self.b.len() {
            return Err(self.eof(&format!(": expected a value {VALUE_EXPECTED}")));
        }
        let start = self.i;
        match self.b[start] {
            b'"' => {
                let s = self.string(false)?;
                Ok((Tok::Str(s), start + 1, Some(self.i)))
            }
            b'{' | b'[' if self.stack.len() >= MAX_DEPTH => Err(self.error_at(
                format!(
                    "Document nesting depth ({}) exceeds the maximum allowed ({MAX_DEPTH}, from `StreamReadConstraints.getMaxNestingDepth()`)",
                    MAX_DEPTH + 1
                ),
                start + 1,
            )),
            b'{' => {
                self.i += 1;
                self.stack.push(Ctx::Object(start, false));
                Ok((Tok::StartObject, self.i, None))
            }
            b'[' => {
                self.i += 1;
                self.stack.push(Ctx::Array(start, false));
                Ok((Tok::StartArray, self.i, None))
            }
            b'-' | b'0'..=b'9' => {
                let text = self.number()?;
                Ok((Tok::Num(text), self.i, None))
            }
            b't' | b'f' | b'n' => {
                let word_end = self.word_end(start);
                let tok = match &self.src[start..word_end] {
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "null" => Tok::Null,
                    word => {
                        return Err(self.error_at(
                            format!("Unrecognized token '{word}': was expecting {VALUE_EXPECTED}"),
                            word_end,
                        ))
                    }
                };
                self.i = word_end;
                Ok((tok, self.i, None))
            }
            _ => {
                let c = self.char_at(start);
                if c.is_alphanumeric() {
                    let word_end = self.word_end(start);
                    return Err(self.error_at(
                        format!(
                            "Unrecognized token '{}': was expecting {VALUE_EXPECTED}",
                            &self.src[start..word_end]
                        ),
                        word_end,
                    ));
                }
                Err(self.unexpected(start, &format!("expected a valid value {VALUE_EXPECTED}")))
            }
        }
    }

    fn word_end(&self, start: usize) -> usize {
        let mut end = start;
        for c in self.src[start..].chars() {
            if c.is_alphanumeric() || c == '_' || c == '$' || c == '-' || c == '.' {
                end += c.len_utf8();
            } else {
                break;
            }
        }
        end.max(start + self.char_at(start).len_utf8())
    }

    /// A number at `self.i`, validated as JSON; returns its text.
    fn number(&mut self) -> Result<String, PatternError> {
        let start = self.i;
        let b = self.b;
        let mut i = start;
        let digit = |i: usize| i < b.len() && b[i].is_ascii_digit();
        if b[i] == b'-' {
            i += 1;
            if !digit(i) {
                if i >= b.len() {
                    return Err(self.eof(" in a Number value"));
                }
                return Err(self.unexpected(i, "expected digit (0-9) to follow minus sign, for valid numeric value"));
            }
        }
        if b[i] == b'0' && digit(i + 1) {
            return Err(self.error_at("Invalid numeric value: Leading zeroes not allowed", i + 1));
        }
        while digit(i) {
            i += 1;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            if !digit(i) {
                if i >= b.len() {
                    return Err(self.eof(" in a Number value"));
                }
                let c = self.char_at(i);
                return Err(self.error_at(
                    format!(
                        "Unexpected character ({}) in numeric value: Decimal point not followed by a digit",
                        char_desc(c)
                    ),
                    i + c.len_utf8(),
                ));
            }
            while digit(i) {
                i += 1;
            }
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            if !digit(i) {
                if i >= b.len() {
                    return Err(self.eof(" in a Number value"));
                }
                let c = self.char_at(i);
                return Err(self.error_at(
                    format!(
                        "Unexpected character ({}) in numeric value: Exponent indicator not followed by a digit",
                        char_desc(c)
                    ),
                    i + c.len_utf8(),
                ));
            }
            while digit(i) {
                i += 1;
            }
        }
        self.i = i;
        Ok(self.src[start..i].to_owned())
    }

    /// A string at `self.i` (which is `"`); leaves `self.i` past the closing quote.
    fn string(&mut self, field_name: bool) -> Result<String, PatternError> {
        let mut out = String::new();
        let mut i = self.i + 1;
        let b = self.b;
        loop {
            if i >= b.len() {
                return Err(self.eof(if field_name {
                    " in field name"
                } else {
                    ": was expecting closing quote for a string value"
                }));
            }
            match b[i] {
                b'"' => {
                    self.i = i + 1;
                    return Ok(out);
                }
                b'\\' => {
                    i += 1;
                    if i >= b.len() {
                        return Err(self.eof(" in character escape sequence"));
                    }
                    let c = b[i];
                    i += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4(&mut i)?;
                            let cp = if (0xD800..0xDC00).contains(&hi)
                                && b.get(i) == Some(&b'\\')
                                && b.get(i + 1) == Some(&b'u')
                            {
                                let save = i;
                                i += 2;
                                let lo = self.hex4(&mut i)?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    i = save;
                                    0xFFFD
                                }
                            } else {
                                hi
                            };
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                        }
                        _ => {
                            let ch = self.char_at(i - 1);
                            return Err(self.error_at(
                                format!("Unrecognized character escape {}", char_desc(ch)),
                                i - 1 + ch.len_utf8(),
                            ));
                        }
                    }
                }
                c if c < 0x20 => {
                    return Err(self.error_at(
                        format!(
                            "Illegal unquoted character ((CTRL-CHAR, code {c})): has to be escaped using backslash to be included in {}",
                            if field_name { "name" } else { "string value" }
                        ),
                        i + 1,
                    ));
                }
                _ => {
                    let ch = self.char_at(i);
                    out.push(ch);
                    i += ch.len_utf8();
                }
            }
        }
    }

    fn hex4(&self, i: &mut usize) -> Result<u32, PatternError> {
        let mut v = 0u32;
        for _ in 0..4 {
            if *i >= self.b.len() {
                return Err(self.eof(" in character escape sequence"));
            }
            let ch = self.char_at(*i);
            let Some(d) = ch.to_digit(16) else {
                return Err(self.error_at(
                    format!(
                        "Unexpected character ({}): expected a hex-digit for character escape sequence",
                        char_desc(ch)
                    ),
                    *i + ch.len_utf8(),
                ));
            };
            v = v * 16 + d;
            *i += ch.len_utf8();
        }
        Ok(v)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Jackson's description of a character in an error message.
fn char_desc(c: char) -> String {
    let code = c as u32;
    if c.is_control() {
        format!("(CTRL-CHAR, code {code})")
    } else if code > 255 {
        format!("'{c}' (code {code} / 0x{code:x})")
    } else {
        format!("'{c}' (code {code})")
    }
}

/// The source as Jackson quotes it in a location: at most 500 characters.
fn source_desc(src: &str) -> String {
    const MAX: usize = 500;
    let total = src.chars().count();
    if total <= MAX {
        format!("(String)\"{src}\"")
    } else {
        let cut: String = src.chars().take(MAX).collect();
        format!("(String)\"{cut}\"[truncated {} chars]", total - MAX)
    }
}
