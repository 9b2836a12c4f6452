//! CloudWatch Logs filter patterns ("Filter pattern syntax for metric filters, subscription
//! filters, filter log events, and Live Tail" in the CloudWatch Logs User Guide), parsed once
//! and matched against an event's message.
//!
//! - **Terms** (unstructured events): `ERROR` (the message contains it; case-sensitive),
//!   `ERROR Exception` (all of them), `"Failed to process"` (a quoted phrase, matched as
//!   written), `?ERROR ?WARN` (any of them), `-Exiting` / `-"phrase"` (none of them). Mixed,
//!   every plain term must appear, at least one `?` term when there are any, and no `-` term.
//!   An empty pattern (or `""`) matches every event.
//! - **JSON** (`{ ... }`, events whose message is a JSON object): selectors `$.a.b`,
//!   `$.list[0].id`; `=` / `!=` against strings (quoted or bare, `*` matching any run of
//!   characters) and numbers; `<` `<=` `>` `>=` against numbers; `IS NULL`, `IS TRUE`,
//!   `IS FALSE`, `EXISTS`, `NOT EXISTS`; combined with `&&`, `||` and parentheses. A selector
//!   that is missing matches nothing but `NOT EXISTS`.
//! - **Space-delimited** (`[ip, user, ..., status=404, bytes>1000]`): the message split on
//!   spaces (text between `""` or `[]` is one field), `...` any number of fields, conditions on
//!   named fields with the operators above and `&&` / `||`.
//!
//! Regular expressions (`%...%`) are refused with `InvalidParameterException`: not implemented.

mod json;
mod parse;
#[cfg(test)]
mod tests;

pub use parse::parse;

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterPattern {
    /// Matches every event.
    All,
    Terms(Terms),
    Json(JsonExpr),
    Delimited(Vec<Field>),
}

/// An unstructured-text pattern.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Terms {
    pub required: Vec<String>,
    pub any: Vec<String>,
    pub excluded: Vec<String>,
}

/// A step of a JSON selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A number (bare in the pattern).
    Num(f64),
    /// A string (quoted or bare); `*` matches any run of characters.
    Str(String),
}

/// A JSON pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonExpr {
    And(Box<JsonExpr>, Box<JsonExpr>),
    Or(Box<JsonExpr>, Box<JsonExpr>),
    Cmp(Vec<Step>, Op, Operand),
    IsNull(Vec<Step>),
    IsBool(Vec<Step>, bool),
    Exists(Vec<Step>),
    NotExists(Vec<Step>),
}

/// One field of a space-delimited pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// `...`: any number of fields.
    Ellipsis,
    /// A named field, with conditions (alternatives of conjunctions) on it, if any.
    Named(String, Option<FieldCond>),
}

/// Conditions on a space-delimited field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldCond {
    Cmp(Op, Operand),
    And(Box<FieldCond>, Box<FieldCond>),
    Or(Box<FieldCond>, Box<FieldCond>),
}

/// Why a pattern is refused (the text goes into `InvalidParameterException`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(pub String);

impl FilterPattern {
    /// Whether `message` matches.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            FilterPattern::All => true,
            FilterPattern::Terms(t) => t.matches(message),
            FilterPattern::Json(e) => match serde_json::from_str::<serde_json::Value>(message.trim()) {
                Ok(v @ serde_json::Value::Object(_)) => json::eval(e, &v),
                _ => false,
            },
            FilterPattern::Delimited(fields) => delimited_match(fields, &split_fields(message)),
        }
    }
}

impl Terms {
    fn matches(&self, message: &str) -> bool {
        self.required.iter().all(|t| message.contains(t.as_str()))
            && (self.any.is_empty() || self.any.iter().any(|t| message.contains(t.as_str())))
            && !self.excluded.iter().any(|t| message.contains(t.as_str()))
    }
}

/// `*` matches any run of characters; everything else is literal.
pub fn glob(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Compares a scalar's text (or number) with an operand.
pub(crate) fn compare(text: &str, number: Option<f64>, op: Op, operand: &Operand) -> bool {
    match operand {
        Operand::Num(n) => {
            let Some(v) = number.or_else(|| text.parse::<f64>().ok()) else {
                return false;
            };
            match op {
                Op::Eq => v == *n,
                Op::Ne => v != *n,
                Op::Lt => v < *n,
                Op::Le => v <= *n,
                Op::Gt => v > *n,
                Op::Ge => v >= *n,
            }
        }
        Operand::Str(s) => match op {
            Op::Eq => glob(s, text),
            Op::Ne => !glob(s, text),
            _ => false,
        },
    }
}

/// Splits a message into space-delimited fields; text between `""` or `[]` is one field
/// (without its delimiters).
pub fn split_fields(message: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = message.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            open @ (b'"' | b'[') => {
                let close = if open == b'"' { b'"' } else { b']' };
                let start = i + 1;
                let end = bytes[start..]
                    .iter()
                    .position(|&b| b == close)
                    .map_or(bytes.len(), |p| start + p);
                out.push(&message[start..end]);
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t') {
                    i += 1;
                }
                out.push(&message[start..i]);
            }
        }
    }
    out
}

fn field_cond(c: &FieldCond, value: &str) -> bool {
    match c {
        FieldCond::Cmp(op, operand) => compare(value, None, *op, operand),
        FieldCond::And(a, b) => field_cond(a, value) && field_cond(b, value),
        FieldCond::Or(a, b) => field_cond(a, value) || field_cond(b, value),
    }
}

fn delimited_match(fields: &[Field], values: &[&str]) -> bool {
    match fields.split_first() {
        None => values.is_empty(),
        Some((Field::Ellipsis, rest)) => (0..=values.len()).any(|skip| delimited_match(rest, &values[skip..])),
        Some((Field::Named(_, cond), rest)) => match values.split_first() {
            None => false,
            Some((v, more)) => cond.as_ref().is_none_or(|c| field_cond(c, v)) && delimited_match(rest, more),
        },
    }
}
