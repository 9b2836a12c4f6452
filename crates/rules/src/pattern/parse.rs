//! Parsing and validation, in the order and with the messages of aws/event-ruler's
//! `JsonRuleCompiler`, which is what EventBridge runs.
//!
//! The pattern is read as a token stream (like event-ruler's Jackson parser), so the first error
//! in text order is the one reported, and duplicate keys behave as on AWS: every occurrence is
//! validated, and for each leaf path the last occurrence wins. `$or` is expanded while reading,
//! exactly as event-ruler forks its sub-rules.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ast::*;
use super::lexer::{Lexer, Tok};
use super::{FieldNames, PatternError};

/// The largest magnitude of a number that `numeric` and `anything-but` accept (and that numeric
/// matching considers in events): 5.0e9, as the EventBridge User Guide states.
pub const NUMERIC_LIMIT: f64 = 5.0e9;

/// Not an AWS limit: localbridge's guard against `$or` expansions that would exhaust memory
/// (every alternative is a copy of the pattern's fields). AWS documents no limit and
/// event-ruler has none; the reason text is localbridge's own.
pub const MAX_ALTERNATIVES: usize = 1024;

/// Words that may not be field names inside `$or` (event-ruler's reserved names).
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "html",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

pub(crate) struct Parsed {
    pub root: ObjectPattern,
    pub alternatives: Vec<Conjunction>,
}

pub(crate) fn parse(text: &str, names: FieldNames) -> Result<Parsed, PatternError> {
    let mut p = Parser {
        lx: Lexer::new(text),
        path: Vec::new(),
        names,
    };
    let mut rules: Vec<Conjunction> = Vec::new();
    if p.next()? != Some(Tok::StartObject) {
        return Err(p.lx.error("Filter is not an object"));
    }
    let root = p.object(&mut rules, false)?;
    if rules.is_empty() {
        rules.push(Conjunction::default());
    }
    Ok(Parsed {
        root,
        alternatives: rules,
    })
}

/// What [`Parser::field`] did.
enum Step {
    /// The object ended.
    End,
    /// A field was read completely.
    Done,
    /// A nested object starts (its `{` read).
    Nested(String),
}

struct Parser<'a> {
    lx: Lexer<'a>,
    /// The keys of the objects being read, as written.
    path: Vec<String>,
    names: FieldNames,
}

impl Parser<'_> {
    fn next(&mut self) -> Result<Option<Tok>, PatternError> {
        self.lx.next()
    }

    /// The next token; the end of input inside a structure is already an error in the lexer,
    /// so `None` here only happens after the root object, where it never is asked for.
    fn tok(&mut self) -> Result<Tok, PatternError> {
        match self.lx.next()? {
            Some(t) => Ok(t),
            None => Err(self.lx.error("Unexpected end-of-input")),
        }
    }

    fn barf<T>(&self, reason: impl Into<String>) -> Result<T, PatternError> {
        Err(self.lx.error(reason))
    }

    /// The inside of an object, after `{`.
    ///
    /// This is the parser's only recursion per nesting level, so it is kept thin (a pattern may
    /// nest 1000 deep, and callers may run on small thread stacks): the work on each field is
    /// in [`Self::field`].
    fn object(&mut self, rules: &mut Vec<Conjunction>, inside_or: bool) -> Result<ObjectPattern, PatternError> {
        let mut node = ObjectPattern {
            fields: Vec::new(),
            or: None,
        };
        let mut fields_present = false;
        loop {
            match self.field(&mut node, rules, inside_or)? {
                Step::End => break,
                Step::Done => {}
                Step::Nested(name) => {
                    self.path.push(name.clone());
                    let child = self.object(rules, inside_or)?;
                    self.path.pop();
                    insert_field(&mut node, name, FieldPattern::Object(child));
                }
            }
            fields_present = true;
        }
        if !fields_present {
            return self.barf("Empty objects are not allowed");
        }
        Ok(node)
    }

    /// One field of an object: handles `$or` and leaves; for a nested object, returns its name
    /// with the `{` read.
    fn field(
        &mut self,
        node: &mut ObjectPattern,
        rules: &mut Vec<Conjunction>,
        inside_or: bool,
    ) -> Result<Step, PatternError> {
        let name = match self.tok()? {
            Tok::EndObject => return Ok(Step::End),
            Tok::FieldName(name) => name,
            other => return self.barf(format!("Unexpected token {}", other.text())),
        };
        if name == "$or" {
            let alts = self.or(rules)?;
            node.or = Some(match node.or.take() {
                None => alts,
                Some(prev) => distribute(&prev, &alts),
            });
            return Ok(Step::Done);
        }
        if inside_or && RESERVED_IN_OR.contains(&name.as_str()) {
            return self.barf(format!(
                "{name} is Ruler reserved fieldName which cannot be used inside $or."
            ));
        }
        match self.tok()? {
            Tok::StartObject => Ok(Step::Nested(name)),
            Tok::StartArray => {
                let matchers = self.leaf(rules, &name)?;
                insert_field(node, name, FieldPattern::Leaf(matchers));
                Ok(Step::Done)
            }
            _ => self.barf(format!("\"{name}\" must be an object or an array")),
        }
    }

    /// `"$or": [ {...}, ... ]`, after the field name: forks every current alternative.
    fn or(&mut self, rules: &mut Vec<Conjunction>) -> Result<Vec<ObjectPattern>, PatternError> {
        let current = std::mem::take(rules);
        if self.tok()? != Tok::StartArray {
            return self.barf("It must be an Array followed with $or.");
        }
        let mut alts = Vec::new();
        loop {
            match self.tok()? {
                Tok::EndArray => break,
                Tok::StartObject => {
                    let mut forked = current.clone();
                    if forked.is_empty() {
                        forked.push(Conjunction::default());
                    }
                    alts.push(self.object(&mut forked, true)?);
                    rules.extend(forked);
                    if rules.len() > MAX_ALTERNATIVES {
                        return self.barf(format!(
                            "The pattern expands to more than {MAX_ALTERNATIVES} combinations of $or alternatives"
                        ));
                    }
                }
                _ => return self.barf("Only JSON object is allowed in array of $or relationship."),
            }
        }
        if alts.len() < 2 {
            return self.barf("There must have at least 2 Objects in $or relationship.");
        }
        Ok(alts)
    }

    /// A leaf's array, after `[`; writes the leaf into every current alternative.
    fn leaf(&mut self, rules: &mut Vec<Conjunction>, name: &str) -> Result<Vec<Matcher>, PatternError> {
        let mut values = Vec::new();
        loop {
            let m = match self.tok()? {
                Tok::EndArray => break,
                Tok::StartObject => self.match_expression()?,
                Tok::Str(s) => {
                    self.lx.read_text();
                    Matcher::Exact(Literal::String(s))
                }
                Tok::Num(text) => Matcher::Exact(Literal::Number(number(text))),
                Tok::True => Matcher::Exact(Literal::Bool(true)),
                Tok::False => Matcher::Exact(Literal::Bool(false)),
                Tok::Null => Matcher::Exact(Literal::Null),
                _ => return self.barf("Match value must be String, number, true, false, or null"),
            };
            values.push(m);
        }
        if values.is_empty() {
            return self.barf("Empty arrays are not allowed");
        }
        if rules.is_empty() {
            rules.push(Conjunction::default());
        }
        let path = self.leaf_path(name);
        for rule in rules.iter_mut() {
            match rule.fields.iter_mut().find(|f| f.path == path) {
                Some(existing) => existing.matchers = values.clone(),
                None => rule.fields.push(FieldMatch {
                    path: path.clone(),
                    matchers: values.clone(),
                }),
            }
        }
        Ok(values)
    }

    /// The path of the leaf `name` in the object being read. EventBridge joins the names with
    /// `.` (event-ruler's `Path.extendedName`) and so do events, so the path is the names split
    /// at every `.`: `{"a.b": [..]}`, `{"a": {"b": [..]}}` both give `["a", "b"]`, and repeat
    /// each other (the last in text order wins, as for any repeated path). Empty names stay
    /// steps of their own (`{"a": {"": [..]}}` and `{"a.": [..]}` give `["a", ""]`).
    fn leaf_path(&self, name: &str) -> Vec<String> {
        let names = self.path.iter().map(String::as_str).chain([name]);
        match self.names {
            FieldNames::Literal => names.map(str::to_owned).collect(),
            FieldNames::Joined => names.flat_map(|n| n.split('.')).map(str::to_owned).collect(),
        }
    }

    /// Expects the `}` closing a one-key match expression.
    fn end_object(&mut self, reason: &str) -> Result<(), PatternError> {
        if self.tok()? != Tok::EndObject {
            return self.barf(reason);
        }
        Ok(())
    }

    /// The string operand of a match expression.
    fn string_operand(&mut self, reason: &str) -> Result<String, PatternError> {
        match self.tok()? {
            Tok::Str(s) => {
                self.lx.read_text();
                Ok(s)
            }
            _ => self.barf(reason),
        }
    }

    /// `{ "op": ... }` inside a leaf array, after `{`.
    fn match_expression(&mut self) -> Result<Matcher, PatternError> {
        const ONE_KEY: &str = "Only one key allowed in match expression";
        let Tok::FieldName(op) = self.tok()? else {
            return self.barf("Match expression name not found");
        };
        match op.as_str() {
            "exactly" => {
                let s = self.string_operand("exact match pattern must be a string")?;
                self.end_object(ONE_KEY)?;
                Ok(Matcher::Exact(Literal::String(s)))
            }
            "prefix" | "suffix" => {
                let is_prefix = op == "prefix";
                match self.tok()? {
                    Tok::StartObject => {
                        let (missing, unsupported) = if is_prefix {
                            ("Prefix expression name not found", "Unsupported prefix pattern: ")
                        } else {
                            ("Suffix expression name not found", "Unsupported suffix pattern: ")
                        };
                        let Tok::FieldName(inner) = self.tok()? else {
                            return self.barf(missing);
                        };
                        if inner != "equals-ignore-case" {
                            return self.barf(format!("{unsupported}{inner}"));
                        }
                        let value = self.string_operand("equals-ignore-case match pattern must be a string")?;
                        self.end_object(ONE_KEY)?;
                        self.end_object(ONE_KEY)?;
                        Ok(if is_prefix {
                            Matcher::Prefix {
                                value,
                                ignore_case: true,
                            }
                        } else {
                            Matcher::Suffix {
                                value,
                                ignore_case: true,
                            }
                        })
                    }
                    Tok::Str(value) => {
                        self.lx.read_text();
                        self.end_object(ONE_KEY)?;
                        Ok(if is_prefix {
                            Matcher::Prefix {
                                value,
                                ignore_case: false,
                            }
                        } else {
                            Matcher::Suffix {
                                value,
                                ignore_case: false,
                            }
                        })
                    }
                    _ if is_prefix => self.barf("prefix match pattern must be a string"),
                    _ => self.barf("suffix match pattern must be a string"),
                }
            }
            "numeric" => {
                if self.tok()? != Tok::StartArray {
                    return self.barf("Value of numeric must be an array.");
                }
                let conditions = self.numeric()?;
                self.end_object("Too many elements in numeric expression")?;
                Ok(Matcher::Numeric(conditions))
            }
            "anything-but" => self.anything_but(),
            "exists" => {
                let b = match self.tok()? {
                    Tok::True => true,
                    Tok::False => false,
                    _ => return self.barf("exists match pattern must be either true or false."),
                };
                self.end_object(ONE_KEY)?;
                Ok(Matcher::Exists(b))
            }
            "cidr" => {
                // event-ruler's message for a non-string operand says "prefix" (sic).
                let text = self.string_operand("prefix match pattern must be a string")?;
                // CIDR errors escape event-ruler's parser: AWS reports them without a location.
                let cidr = parse_cidr(&text).map_err(PatternError::new)?;
                self.end_object(ONE_KEY)?;
                Ok(Matcher::Cidr(cidr))
            }
            "equals-ignore-case" => {
                let s = self.string_operand("equals-ignore-case match pattern must be a string")?;
                self.end_object(ONE_KEY)?;
                Ok(Matcher::EqualsIgnoreCase(s))
            }
            "wildcard" => {
                let s = self.string_operand("wildcard match pattern must be a string")?;
                let w = parse_wildcard(&s).map_err(|m| self.lx.error(m))?;
                self.end_object(ONE_KEY)?;
                Ok(Matcher::Wildcard(w))
            }
            _ => self.barf(format!("Unrecognized match type {op}")),
        }
    }

    /// A numeric operand: `Ok(None)` when the token is not a number.
    fn numeric_operand(&mut self) -> Result<Option<f64>, PatternError> {
        match self.tok()? {
            Tok::Num(text) => {
                let v = number(text).value;
                check_range(v).map_err(|m| self.lx.error(m))?;
                Ok(Some(v))
            }
            _ => Ok(None),
        }
    }

    /// The inside of `"numeric": [ ... ]`, after `[`.
    fn numeric(&mut self) -> Result<Vec<(NumericOp, f64)>, PatternError> {
        const TOO_MANY: &str = "Too many elements in numeric expression";
        let op = match self.tok()? {
            Tok::Str(s) => {
                self.lx.read_text();
                s
            }
            other => return self.barf(format!("Invalid member in numeric match: {}", other.text())),
        };
        let Some(first) = numeric_op(&op) else {
            return self.barf(format!("Unrecognized numeric range operator: {op}"));
        };
        let Some(value) = self.numeric_operand()? else {
            let what = if first == NumericOp::Eq {
                "equals"
            } else {
                first.as_str()
            };
            return self.barf(format!("Value of {what} must be numeric"));
        };
        match first {
            NumericOp::Eq | NumericOp::Lt | NumericOp::Le => {
                if self.tok()? != Tok::EndArray {
                    return self.barf(TOO_MANY);
                }
                Ok(vec![(first, value)])
            }
            NumericOp::Gt | NumericOp::Ge => {
                let op2 = match self.tok()? {
                    Tok::EndArray => return Ok(vec![(first, value)]),
                    Tok::Str(s) => {
                        self.lx.read_text();
                        s
                    }
                    other => return self.barf(format!("Bad value in numeric range: {}", other.text())),
                };
                let second = match op2.as_str() {
                    "<" => NumericOp::Lt,
                    "<=" => NumericOp::Le,
                    _ => return self.barf(format!("Bad numeric range operator: {op2}")),
                };
                let Some(top) = self.numeric_operand()? else {
                    return self.barf(format!("Value of {op2} must be numeric"));
                };
                if self.tok()? != Tok::EndArray {
                    return self.barf("Too many terms in numeric range expression");
                }
                if value >= top {
                    return self.barf("Bottom must be less than top");
                }
                Ok(vec![(first, value), (second, top)])
            }
        }
    }

    /// `"anything-but": ...`, after the name.
    fn anything_but(&mut self) -> Result<Matcher, PatternError> {
        const TOO_MANY: &str = "Too many elements in numeric expression";
        #[derive(PartialEq, Clone, Copy)]
        enum Kind {
            Values,
            IgnoreCase,
            Prefix,
            Suffix,
            Wildcard,
        }
        let mut kind = Kind::Values;
        let mut tok = self.tok()?;
        if tok == Tok::StartObject {
            let Tok::FieldName(inner) = self.tok()? else {
                return self.barf("Anything-But expression name not found");
            };
            kind = match inner.as_str() {
                "equals-ignore-case" => Kind::IgnoreCase,
                "prefix" => Kind::Prefix,
                "suffix" => Kind::Suffix,
                "wildcard" => Kind::Wildcard,
                _ => return self.barf(format!("Unsupported anything-but pattern: {inner}")),
            };
            tok = self.tok()?;
        }
        if !matches!(tok, Tok::StartArray | Tok::Str(_) | Tok::Num(_)) {
            return self.barf("Value of anything-but must be an array or single string/number value.");
        }
        let set_type_error = |kind: Kind| match kind {
            Kind::IgnoreCase => {
                "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
            }
            Kind::Wildcard => "wildcard match pattern must be a string",
            _ => "prefix/suffix match pattern must be a string",
        };
        let matcher = if kind == Kind::Values {
            let mut values = Vec::new();
            if tok == Tok::StartArray {
                let (mut has_number, mut has_string) = (false, false);
                loop {
                    match self.tok()? {
                        Tok::EndArray => break,
                        Tok::Str(s) => {
                            self.lx.read_text();
                            has_string = true;
                            values.push(Literal::String(s));
                        }
                        Tok::Num(text) => {
                            has_number = true;
                            let n = number(text);
                            check_range(n.value).map_err(|m| self.lx.error(m))?;
                            values.push(Literal::Number(n));
                        }
                        _ => return self.barf("Inside anything but list, start|null|boolean is not supported."),
                    }
                }
                if has_number == has_string {
                    return self.barf(
                        "Inside anything but list, either all values are number or string, mixed type is not supported",
                    );
                }
            } else {
                match tok {
                    Tok::Str(s) => {
                        self.lx.read_text();
                        values.push(Literal::String(s));
                    }
                    Tok::Num(text) => {
                        let n = number(text);
                        check_range(n.value).map_err(|m| self.lx.error(m))?;
                        values.push(Literal::Number(n));
                    }
                    _ => unreachable!("checked above"),
                }
            }
            AnythingBut::Values(values)
        } else {
            let mut texts = Vec::new();
            let mut take = |p: &mut Self, tok: Tok| -> Result<(), PatternError> {
                match tok {
                    Tok::Str(s) => {
                        p.lx.read_text();
                        if matches!(kind, Kind::Prefix | Kind::Suffix) && s.is_empty() {
                            return p.barf("Null prefix/suffix not allowed");
                        }
                        texts.push(s);
                        Ok(())
                    }
                    _ => p.barf(set_type_error(kind)),
                }
            };
            if tok == Tok::StartArray {
                loop {
                    let t = self.tok()?;
                    if t == Tok::EndArray {
                        break;
                    }
                    take(self, t)?;
                }
            } else {
                take(self, tok)?;
            }
            match kind {
                Kind::IgnoreCase => AnythingBut::EqualsIgnoreCase(texts),
                Kind::Prefix => AnythingBut::Prefix(texts),
                Kind::Suffix => AnythingBut::Suffix(texts),
                Kind::Wildcard => {
                    let mut ws = Vec::new();
                    for t in &texts {
                        ws.push(parse_wildcard(t).map_err(|m| self.lx.error(m))?);
                    }
                    AnythingBut::Wildcard(ws)
                }
                Kind::Values => unreachable!(),
            }
        };
        self.end_object(TOO_MANY)?;
        if kind != Kind::Values {
            self.end_object(TOO_MANY)?;
        }
        Ok(Matcher::AnythingBut(matcher))
    }
}

fn numeric_op(s: &str) -> Option<NumericOp> {
    Some(match s {
        "=" => NumericOp::Eq,
        "<" => NumericOp::Lt,
        "<=" => NumericOp::Le,
        ">" => NumericOp::Gt,
        ">=" => NumericOp::Ge,
        _ => return None,
    })
}

/// A pattern number: its text (valid JSON) and value.
fn number(text: String) -> Number {
    let value = text.parse::<f64>().unwrap_or(f64::NAN);
    Number { value, text }
}

fn check_range(v: f64) -> Result<(), &'static str> {
    // event-ruler formats Java doubles: 5E9 prints as 5.0E9.
    if (-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&v) {
        Ok(())
    } else {
        Err("Value must be between -5.0E9 and 5.0E9, inclusive")
    }
}

/// Parses a wildcard pattern as event-ruler does (positions are byte offsets in the quoted
/// string, hence the `+ 1`).
pub(crate) fn parse_wildcard(text: &str) -> Result<Wildcard, String> {
    let b = text.as_bytes();
    let mut segments = Vec::new();
    let mut current = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'*' => {
                if b.get(i + 1) == Some(&b'*') {
                    return Err(format!("Consecutive wildcard characters at pos {}", i + 1));
                }
                segments.push(String::from_utf8(std::mem::take(&mut current)).unwrap_or_default());
            }
            b'\\' => match b.get(i + 1) {
                Some(&c @ (b'*' | b'\\')) => {
                    current.push(c);
                    i += 1;
                }
                _ => return Err(format!("Invalid escape character at pos {}", i + 1)),
            },
            c => current.push(c),
        }
        i += 1;
    }
    segments.push(String::from_utf8(current).unwrap_or_default());
    Ok(Wildcard {
        text: text.to_owned(),
        segments,
    })
}

/// An IP address as event-ruler reads one: dotted decimal IPv4 (leading zeros allowed) or IPv6
/// (hex digits and colons only; no embedded IPv4, no zone).
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 4 || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let mut octets = [0u8; 4];
        for (o, p) in octets.iter_mut().zip(&parts) {
            let v: u32 = p.trim_start_matches('0').parse().unwrap_or(0);
            if p.len() > 3 && p.trim_start_matches('0').len() > 3 || v > 255 {
                return None;
            }
            *o = v as u8;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if s.contains(':') && s.bytes().all(|c| c.is_ascii_hexdigit() || c == b':') {
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    None
}

fn looks_like_ip(s: &str) -> bool {
    let v4 = {
        let parts: Vec<&str> = s.split('.').collect();
        parts.len() == 4
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
    };
    let v6 = s.contains(':') && s.bytes().all(|c| c.is_ascii_hexdigit() || c == b':');
    v4 || v6
}

/// `"10.0.0.0/24"`, with event-ruler's checks and messages.
pub(crate) fn parse_cidr(text: &str) -> Result<Cidr, String> {
    // Java's String.split drops trailing empty strings.
    let mut parts: Vec<&str> = text.split('/').collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.len() != 2 {
        return Err("Malformed CIDR, one '/' required".into());
    }
    let bits = java_parse_int(parts[1]).ok_or("Malformed CIDR, mask bits must be an integer")?;
    if bits < 0 {
        return Err("Malformed CIDR, mask bits must not be negative".into());
    }
    let ip = if looks_like_ip(parts[0]) {
        parse_ip(parts[0]).ok_or_else(|| format!("Invalid IP address: {}", parts[0]))?
    } else {
        return Err(format!("Nonstandard IP address: {}", parts[0]));
    };
    match ip {
        IpAddr::V4(_) if bits > 31 => return Err("IPv4 mask bits must be < 32".into()),
        IpAddr::V6(_) if bits > 127 => return Err("IPv6 mask bits must be < 128".into()),
        _ => {}
    }
    Ok(Cidr {
        network: ip,
        prefix_len: bits as u8,
    })
}

/// Java's `Integer.parseInt`: optional sign, decimal digits, fits in an i32.
fn java_parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: i64 = s.trim_start_matches('+').parse().ok()?;
    (i32::MIN as i64..=i32::MAX as i64).contains(&v).then_some(v)
}

/// Adds a field to a tree node, resolving a repeated key as event-ruler does: a leaf replaces
/// the earlier leaf, objects merge.
fn insert_field(node: &mut ObjectPattern, name: String, value: FieldPattern) {
    let existing = node.fields.iter_mut().find(|(k, v)| {
        *k == name
            && matches!(
                (v, &value),
                (FieldPattern::Leaf(_), FieldPattern::Leaf(_)) | (FieldPattern::Object(_), FieldPattern::Object(_))
            )
    });
    match (existing, value) {
        (Some((_, FieldPattern::Object(old))), FieldPattern::Object(new)) => merge(old, new),
        (Some((_, slot)), value) => *slot = value,
        (None, value) => node.fields.push((name, value)),
    }
}

/// Merges `new` into `old` (both matched against the same event object).
fn merge(old: &mut ObjectPattern, new: ObjectPattern) {
    for (k, v) in new.fields {
        insert_field(old, k, v);
    }
    if let Some(alts) = new.or {
        old.or = Some(match old.or.take() {
            None => alts,
            Some(prev) => distribute(&prev, &alts),
        });
    }
}

/// Two `$or`s at one level: (a1 | a2) & (b1 | b2) as one `$or` of merged alternatives.
fn distribute(a: &[ObjectPattern], b: &[ObjectPattern]) -> Vec<ObjectPattern> {
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut m = x.clone();
            merge(&mut m, y.clone());
            out.push(m);
        }
    }
    out
}
