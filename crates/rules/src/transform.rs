//! EventBridge target input: `InputPath` and `InputTransformer` (`InputPathsMap` + `InputTemplate`).
//!
//! **JSONPath.** EventBridge accepts a subset of JSONPath: `$`, dot notation (`$.detail.state`),
//! names made of alphanumerics, `-`, `_` and `/`, array indices (`[0]`) and wildcards (`.*`,
//! `[*]`). [`JsonPath`] accepts exactly that subset and evaluates it with `serde_json_path`
//! (RFC 9535, maintained); the general RFC syntax (filters, slices, bracketed names, `..`) is
//! refused. A path without wildcards selects one value (or nothing); a path with a wildcard
//! selects the list of everything it reaches, as a JSON array (Jayway's "indefinite path" rule,
//! which EventBridge follows).
//!
//! **Templates.** Three kinds, decided by the template's first non-blank character:
//! - JSON (`{` or `[`): a placeholder standing as a JSON value is replaced by the value as JSON
//!   (strings get their quotes); a placeholder inside a JSON string is replaced raw (strings
//!   without quotes, no escaping — "EventBridge doesn't escape values extracted by Input Path");
//!   an object or array inside a string loses its inner quotes (`{instance-id:i-1,state:RUNNING}`).
//!   The output is minified (whitespace outside strings removed), keys keep their order.
//!   A placeholder may not be an object key.
//! - string (`"`): the template is one JSON string; placeholders are replaced raw inside it and
//!   the quotes stay (`"instance i-0123456789 is in RUNNING"`).
//! - plain text (anything else, e.g. `<instance> is in state <status>`): placeholders are
//!   replaced raw, the text is kept as written.
//!
//! A path that selects nothing makes its variable absent: `null` as a JSON value, the empty
//! string inside a string or plain text. Placeholders naming neither a key of `InputPathsMap`
//! nor a reserved variable are left as written.
//!
//! Reserved variables: `<aws.events.rule-arn>`, `<aws.events.rule-name>`,
//! `<aws.events.event.ingestion-time>` (ISO 8601, given by the caller), `<aws.events.event>`
//! (the event without its `detail` field) and `<aws.events.event.json>` (the whole event).
//!
//! Limits (botocore `events/2015-10-07`): `InputPathsMap` at most 100 entries, keys 1..=256
//! characters matching `[A-Za-z0-9\_\-]+`, paths at most 256 characters; `InputTemplate`
//! 1..=8192 characters; `InputPath` at most 256 characters.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// Most entries in `InputPathsMap` (botocore `TransformerPaths.max`).
pub const MAX_PATHS: usize = 100;
/// Longest `InputPathsMap` key (botocore `InputTransformerPathKey.max`).
pub const MAX_KEY_LEN: usize = 256;
/// Longest JSONPath, in `InputPath` or as an `InputPathsMap` value (botocore `TargetInputPath.max`).
pub const MAX_PATH_LEN: usize = 256;
/// Longest `InputTemplate` (botocore `TransformerInput.max`).
pub const MAX_TEMPLATE_LEN: usize = 8192;

const RULE_ARN: &str = "aws.events.rule-arn";
const RULE_NAME: &str = "aws.events.rule-name";
const INGESTION_TIME: &str = "aws.events.event.ingestion-time";
const EVENT: &str = "aws.events.event";
const EVENT_JSON: &str = "aws.events.event.json";

/// Why an input path or transformer was rejected. [`TransformError::code`] is the AWS error
/// code, `Display` the message (the `Value '...' at '...' failed to satisfy constraint: ...`
/// form for model constraints, as AWS's request validation words them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformError {
    /// A model constraint (length, pattern, count). `field` is the member path below the
    /// target, e.g. `inputTransformer.inputTemplate`.
    Constraint {
        field: &'static str,
        value: String,
        constraint: String,
    },
    /// A JSONPath outside EventBridge's subset (or not JSONPath at all).
    InvalidPath { path: String, reason: String },
    /// A JSON template that is not JSON once its placeholders are filled.
    InvalidTemplate { reason: String },
}

impl TransformError {
    /// The AWS error code: `ValidationException` for all of these.
    pub fn code(&self) -> &'static str {
        "ValidationException"
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Constraint {
                field,
                value,
                constraint,
            } => write!(
                f,
                "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
            ),
            Self::InvalidPath { path, reason } => write!(f, "Invalid JSON path '{path}': {reason}"),
            Self::InvalidTemplate { reason } => write!(f, "Invalid InputTemplate: {reason}"),
        }
    }
}

impl std::error::Error for TransformError {}

/// One step of an EventBridge JSONPath.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Name(String),
    Index(usize),
    Wildcard,
}

/// A JSONPath restricted to EventBridge's subset, evaluated by `serde_json_path`.
#[derive(Debug, Clone)]
pub struct JsonPath {
    text: String,
    /// True when the path has a wildcard (the result is a list).
    indefinite: bool,
    /// Fast path for definite paths: walked directly.
    steps: Vec<Step>,
    /// The equivalent RFC 9535 query, used for indefinite paths.
    query: serde_json_path::JsonPath,
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

fn name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_' || c == '/'
}

impl JsonPath {
    /// Parses a path of EventBridge's subset.
    pub fn parse(text: &str) -> Result<Self, TransformError> {
        let bad = |reason: &str| TransformError::InvalidPath {
            path: text.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = text.strip_prefix('$').ok_or_else(|| bad("a path starts with '$'"))?;
        let mut steps = Vec::new();
        let mut chars = rest.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '.' => {
                    if chars.peek().map(|&(_, c)| c) == Some('*') {
                        chars.next();
                        steps.push(Step::Wildcard);
                        continue;
                    }
                    let start = i + 1;
                    let mut end = start;
                    while let Some(&(j, c)) = chars.peek() {
                        if !name_char(c) {
                            break;
                        }
                        end = j + c.len_utf8();
                        chars.next();
                    }
                    if end == start {
                        return Err(bad("a name after '.' is made of letters, digits, '-', '_' and '/'"));
                    }
                    steps.push(Step::Name(rest[start..end].to_owned()));
                }
                '[' => {
                    let start = i + 1;
                    let close = rest[start..]
                        .find(']')
                        .map(|n| start + n)
                        .ok_or_else(|| bad("unclosed '['"))?;
                    let inner = &rest[start..close];
                    if inner == "*" {
                        steps.push(Step::Wildcard);
                    } else if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
                        let index = inner.parse().map_err(|_| bad("array index out of range"))?;
                        steps.push(Step::Index(index));
                    } else {
                        return Err(bad("only array indices and '*' go in brackets (use dot notation)"));
                    }
                    while chars.peek().is_some_and(|&(j, _)| j <= close) {
                        chars.next();
                    }
                }
                _ => return Err(bad("expected '.' or '['")),
            }
        }
        let mut rfc = String::from("$");
        for step in &steps {
            match step {
                Step::Name(n) => {
                    rfc.push_str("['");
                    // Names hold no quote or backslash (see name_char), so no escaping is needed.
                    rfc.push_str(n);
                    rfc.push_str("']");
                }
                Step::Index(i) => {
                    rfc.push('[');
                    rfc.push_str(&i.to_string());
                    rfc.push(']');
                }
                Step::Wildcard => rfc.push_str("[*]"),
            }
        }
        let query = serde_json_path::JsonPath::parse(&rfc).map_err(|e| bad(&e.to_string()))?;
        Ok(Self {
            text: text.to_owned(),
            indefinite: steps.contains(&Step::Wildcard),
            steps,
            query,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What the path selects in `event`: one value (definite path) or the array of all values
    /// reached (path with a wildcard); `None` when a definite path reaches nothing.
    pub fn select(&self, event: &Value) -> Option<Value> {
        if self.indefinite {
            let nodes = self.query.query(event).all();
            return Some(Value::Array(nodes.into_iter().cloned().collect()));
        }
        let mut at = event;
        for step in &self.steps {
            at = match step {
                Step::Name(n) => at.as_object()?.get(n)?,
                Step::Index(i) => at.as_array()?.get(*i)?,
                Step::Wildcard => unreachable!("definite paths have no wildcard"),
            };
        }
        Some(at.clone())
    }
}

/// A target's `InputPath`: the part of the event sent to the target.
#[derive(Debug, Clone, PartialEq)]
pub struct InputPath {
    path: JsonPath,
}

impl InputPath {
    pub fn new(path: &str) -> Result<Self, TransformError> {
        if path.chars().count() > MAX_PATH_LEN {
            return Err(TransformError::Constraint {
                field: "inputPath",
                value: path.to_owned(),
                constraint: format!("Member must have length less than or equal to {MAX_PATH_LEN}"),
            });
        }
        Ok(Self {
            path: JsonPath::parse(path)?,
        })
    }

    /// The selected part of the event; `null` when the path reaches nothing.
    pub fn apply(&self, event: &Value) -> Value {
        self.path.select(event).unwrap_or(Value::Null)
    }
}

/// What the reserved variables stand for, per delivery.
#[derive(Debug, Clone, Copy)]
pub struct TransformContext<'a> {
    pub rule_arn: &'a str,
    pub rule_name: &'a str,
    /// When EventBridge received the event, ISO 8601 (e.g. `2015-11-11T21:29:54Z`).
    pub ingestion_time: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TemplateKind {
    Json,
    String,
    Text,
}

/// Where a placeholder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// A JSON value (outside any string) of a JSON template.
    Value,
    /// Inside a JSON string.
    InString,
    /// Plain text.
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Var {
    Path(usize),
    RuleArn,
    RuleName,
    IngestionTime,
    Event,
    EventJson,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Var(Var, Position),
}

/// A validated `InputTransformer`.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTransformer {
    paths: Vec<JsonPath>,
    pieces: Vec<Piece>,
    kind: TemplateKind,
}

fn placeholder_at(template: &str, at: usize) -> Option<&str> {
    let rest = &template[at + 1..];
    let end = rest.find('>')?;
    let name = &rest[..end];
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))).then_some(name)
}

impl InputTransformer {
    /// Validates the map and the template as PutTargets does.
    pub fn new(paths_map: &BTreeMap<String, String>, template: &str) -> Result<Self, TransformError> {
        if paths_map.len() > MAX_PATHS {
            return Err(TransformError::Constraint {
                field: "inputTransformer.inputPathsMap",
                value: format!("{{{} entries}}", paths_map.len()),
                constraint: format!("Member must have length less than or equal to {MAX_PATHS}"),
            });
        }
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        let mut paths = Vec::with_capacity(paths_map.len());
        for (key, path) in paths_map {
            let key_len = key.chars().count();
            if key_len == 0 || key_len > MAX_KEY_LEN {
                return Err(TransformError::Constraint {
                    field: "inputTransformer.inputPathsMap",
                    value: key.clone(),
                    constraint: format!(
                        "Map keys must satisfy constraint: [Member must have length {}]",
                        if key_len == 0 {
                            "greater than or equal to 1".to_owned()
                        } else {
                            format!("less than or equal to {MAX_KEY_LEN}")
                        }
                    ),
                });
            }
            if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                return Err(TransformError::Constraint {
                    field: "inputTransformer.inputPathsMap",
                    value: key.clone(),
                    constraint: "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [A-Za-z0-9\\_\\-]+]".to_owned(),
                });
            }
            if path.chars().count() > MAX_PATH_LEN {
                return Err(TransformError::Constraint {
                    field: "inputTransformer.inputPathsMap",
                    value: path.clone(),
                    constraint: format!(
                        "Map value must satisfy constraint: [Member must have length less than or equal to {MAX_PATH_LEN}]"
                    ),
                });
            }
            names.insert(key, paths.len());
            paths.push(JsonPath::parse(path)?);
        }
        let len = template.chars().count();
        if len == 0 || len > MAX_TEMPLATE_LEN {
            return Err(TransformError::Constraint {
                field: "inputTransformer.inputTemplate",
                value: template.to_owned(),
                constraint: if len == 0 {
                    "Member must have length greater than or equal to 1".to_owned()
                } else {
                    format!("Member must have length less than or equal to {MAX_TEMPLATE_LEN}")
                },
            });
        }
        let kind = match template.trim_start().chars().next() {
            Some('{') | Some('[') => TemplateKind::Json,
            Some('"') => TemplateKind::String,
            _ => TemplateKind::Text,
        };
        let pieces = Self::split(template, kind, &names)?;
        let transformer = Self { paths, pieces, kind };
        if kind == TemplateKind::Json {
            transformer.check_json()?;
        }
        Ok(transformer)
    }

    /// Splits the template into literal text and placeholders, noting where each stands.
    fn split(template: &str, kind: TemplateKind, names: &BTreeMap<&str, usize>) -> Result<Vec<Piece>, TransformError> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut in_string = false;
        let mut escaped = false;
        let bytes = template.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if kind != TemplateKind::Text {
                if escaped {
                    escaped = false;
                } else if in_string && b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = !in_string;
                }
            }
            if b == b'<' && !escaped {
                if let Some(name) = placeholder_at(template, i) {
                    let var = match name {
                        RULE_ARN => Some(Var::RuleArn),
                        RULE_NAME => Some(Var::RuleName),
                        INGESTION_TIME => Some(Var::IngestionTime),
                        EVENT => Some(Var::Event),
                        EVENT_JSON => Some(Var::EventJson),
                        _ => names.get(name).map(|&i| Var::Path(i)),
                    };
                    if let Some(var) = var {
                        let position = match kind {
                            TemplateKind::Text => Position::Text,
                            _ if in_string => Position::InString,
                            TemplateKind::Json => Position::Value,
                            TemplateKind::String => Position::Text,
                        };
                        if position == Position::Value && is_object_key(template, i + name.len() + 2) {
                            return Err(TransformError::InvalidTemplate {
                                reason: format!("placeholder <{name}> cannot be used as an object key"),
                            });
                        }
                        if !lit.is_empty() {
                            pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                        }
                        pieces.push(Piece::Var(var, position));
                        i += name.len() + 2;
                        continue;
                    }
                }
            }
            // Copy one whole UTF-8 character.
            let width = utf8_width(b);
            lit.push_str(&template[i..i + width]);
            i += width;
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(pieces)
    }

    /// A JSON template must be JSON whatever its variables hold: checked with each value
    /// placeholder standing for `null` and each in-string one for nothing.
    fn check_json(&self) -> Result<(), TransformError> {
        let mut probe = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Lit(s) => probe.push_str(s),
                Piece::Var(_, Position::Value) => probe.push_str("null"),
                Piece::Var(..) => {}
            }
        }
        serde_json::from_str::<serde::de::IgnoredAny>(&probe)
            .map(|_| ())
            .map_err(|e| TransformError::InvalidTemplate { reason: e.to_string() })
    }

    /// The target input for `event`.
    pub fn apply(&self, event: &Value, ctx: &TransformContext<'_>) -> Result<String, TransformError> {
        let values: Vec<Option<Value>> = self.paths.iter().map(|p| p.select(event)).collect();
        let mut out = String::new();
        let mut owned;
        for piece in &self.pieces {
            let (var, position) = match piece {
                Piece::Lit(s) => {
                    out.push_str(s);
                    continue;
                }
                Piece::Var(var, position) => (var, *position),
            };
            let value: Option<&Value> = match var {
                Var::Path(i) => values[*i].as_ref(),
                Var::RuleArn => {
                    owned = Value::String(ctx.rule_arn.to_owned());
                    Some(&owned)
                }
                Var::RuleName => {
                    owned = Value::String(ctx.rule_name.to_owned());
                    Some(&owned)
                }
                Var::IngestionTime => {
                    owned = Value::String(ctx.ingestion_time.to_owned());
                    Some(&owned)
                }
                Var::Event => {
                    owned = event.clone();
                    if let Some(map) = owned.as_object_mut() {
                        map.remove("detail");
                    }
                    Some(&owned)
                }
                Var::EventJson => Some(event),
            };
            render(&mut out, value, position);
        }
        // JSON templates are delivered minified (unless a raw value broke the JSON: then the
        // text is delivered as it came out, as EventBridge does not escape inserted values).
        if self.kind == TemplateKind::Json && serde_json::from_str::<serde::de::IgnoredAny>(&out).is_ok() {
            return Ok(minify(&out));
        }
        Ok(out)
    }
}

fn utf8_width(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Whether the next non-blank character after `at` is `:` (the placeholder is a key).
fn is_object_key(template: &str, at: usize) -> bool {
    template[at..].trim_start().starts_with(':')
}

fn render(out: &mut String, value: Option<&Value>, position: Position) {
    match (value, position) {
        (None, Position::Value) => out.push_str("null"),
        (None, _) => {}
        (Some(v), Position::Value) => out.push_str(&v.to_string()),
        (Some(Value::String(s)), _) => out.push_str(s),
        (Some(v @ (Value::Object(_) | Value::Array(_))), Position::InString) => {
            // Inside a string the quotes of an object or array are dropped, keeping the string valid.
            out.extend(v.to_string().chars().filter(|&c| c != '"'));
        }
        (Some(v), _) => out.push_str(&v.to_string()),
    }
}

/// Removes whitespace outside strings (keeps key order and the text of numbers). `json` must be
/// valid JSON.
pub fn minify(json: &str) -> String {
    let bytes = json.as_bytes();
    // Most JSON sent by programs is compact already: one scan, one copy.
    if !bytes.iter().any(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t')) {
        return json.to_owned();
    }
    // JSON's structure is ASCII, and UTF-8 never reuses ASCII bytes inside a multi-byte
    // character: a byte scan keeps every character whole.
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            out.push(b);
        }
    }
    // Only ASCII whitespace outside strings was removed.
    String::from_utf8(out).unwrap_or_else(|_| json.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minify_keeps_strings_and_characters_whole() {
        assert_eq!(
            minify("{ \"é b\" : [1, 2.50],\n\t\"c\":\"x \\\" ü\" }"),
            r#"{"é b":[1,2.50],"c":"x \" ü"}"#
        );
        assert_eq!(minify(r#"{"a":1}"#), r#"{"a":1}"#);
    }

    /// The example event of the User Guide's "Amazon EventBridge input transformation" page.
    fn ec2_event() -> Value {
        json!({
          "version": "0",
          "id": "7bf73129-1428-4cd3-a780-95db273d1602",
          "detail-type": "EC2 Instance State-change Notification",
          "source": "aws.ec2",
          "account": "123456789012",
          "time": "2015-11-11T21:29:54Z",
          "region": "us-east-1",
          "resources": [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"
          ],
          "detail": {
            "instance-id": "i-0123456789",
            "state": "RUNNING"
          }
        })
    }

    /// The page's "Input Path" box.
    fn guide_paths() -> BTreeMap<String, String> {
        [
            ("timestamp", "$.time"),
            ("instance", "$.detail.instance-id"),
            ("state", "$.detail.state"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    const CTX: TransformContext<'static> = TransformContext {
        rule_arn: "arn:aws:events:us-east-2:123456789012:rule/example",
        rule_name: "example",
        ingestion_time: "2015-11-11T21:29:55Z",
    };

    fn run(template: &str) -> String {
        InputTransformer::new(&guide_paths(), template)
            .unwrap()
            .apply(&ec2_event(), &CTX)
            .unwrap()
    }

    fn minified(v: &str) -> String {
        minify(v)
    }

    #[test]
    fn guide_simple_string() {
        assert_eq!(
            run(r#""instance <instance> is in <state>""#),
            r#""instance i-0123456789 is in RUNNING""#
        );
    }

    #[test]
    fn guide_string_with_escaped_quotes() {
        assert_eq!(
            run(r#""instance \"<instance>\" is in <state>""#),
            r#""instance \"i-0123456789\" is in RUNNING""#
        );
    }

    #[test]
    fn guide_simple_json() {
        assert_eq!(
            run("{\n  \"instance\" : <instance>,\n  \"state\": <state>\n}"),
            minified("{\n  \"instance\" : \"i-0123456789\",\n  \"state\": \"RUNNING\"\n}")
        );
    }

    #[test]
    fn guide_json_with_strings_and_variables() {
        assert_eq!(
            run("{\n \"instance\" : <instance>,\n \"state\": \"<state>\",\n \"instanceStatus\": \"instance \\\"<instance>\\\" is in <state>\"\n}"),
            minified("{\n \"instance\" : \"i-0123456789\",\n \"state\": \"RUNNING\",\n \"instanceStatus\": \"instance \\\"i-0123456789\\\" is in RUNNING\"\n}")
        );
    }

    #[test]
    fn guide_json_with_static_information() {
        assert_eq!(
            run(
                "{\n  \"instance\" : <instance>,\n  \"state\": [ 9, <state>, true ],\n  \"Transformed\" : \"Yes\"\n}\n"
            ),
            r#"{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}"#
        );
    }

    #[test]
    fn guide_reserved_variables_in_json() {
        let out = run("{\n  \"instance\" : <instance>,\n  \"state\": <state>,\n  \"ruleArn\" : <aws.events.rule-arn>,\n  \"ruleName\" : <aws.events.rule-name>,\n  \"originalEvent\" : <aws.events.event>\n}");
        let v: Value = serde_json::from_str(&out).unwrap();
        let mut without_detail = ec2_event();
        without_detail.as_object_mut().unwrap().remove("detail");
        assert_eq!(
            v,
            json!({
                "instance": "i-0123456789",
                "state": "RUNNING",
                "ruleArn": "arn:aws:events:us-east-2:123456789012:rule/example",
                "ruleName": "example",
                "originalEvent": without_detail,
            })
        );
        assert!(out.starts_with(r#"{"instance":"i-0123456789","state":"RUNNING","ruleArn":"#));
    }

    #[test]
    fn guide_reserved_variables_in_string() {
        assert_eq!(run(r#""<aws.events.rule-name> triggered""#), r#""example triggered""#);
    }

    /// The page's CloudWatch log group example shows what the log stream displays (quotes
    /// unescaped, the timestamp unquoted); the target input itself is this JSON.
    #[test]
    fn guide_cloudwatch_log_group_template() {
        assert_eq!(
            run("{\n  \"timestamp\" : <timestamp>,\n  \"message\": \"instance \\\"<instance>\\\" is in <state>\"\n}"),
            r#"{"timestamp":"2015-11-11T21:29:54Z","message":"instance \"i-0123456789\" is in RUNNING"}"#
        );
    }

    /// The PutTargets / InputTransformer API reference examples.
    #[test]
    fn api_reference_examples() {
        let paths: BTreeMap<String, String> = [("instance", "$.detail.instance"), ("status", "$.detail.status")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let event = json!({"detail": {"instance": "i-1", "status": "running"}});
        let t = |tpl: &str| InputTransformer::new(&paths, tpl).unwrap().apply(&event, &CTX).unwrap();
        assert_eq!(t("<instance> is in state <status>"), "i-1 is in state running");
        assert_eq!(
            t(r#""<instance> is in state \"<status>\"""#),
            r#""i-1 is in state \"running\"""#
        );
        assert_eq!(
            t(r#"{"myInstance": <instance>,"myStatus": "<instance> is in state \"<status>\""}"#),
            r#"{"myInstance":"i-1","myStatus":"i-1 is in state \"running\""}"#
        );
    }

    #[test]
    fn objects_inside_strings_lose_their_quotes() {
        let paths: BTreeMap<String, String> = [("detail".to_owned(), "$.detail".to_owned())].into();
        let t = InputTransformer::new(&paths, r#""Detail is <detail>""#).unwrap();
        assert_eq!(
            t.apply(&ec2_event(), &CTX).unwrap(),
            r#""Detail is {instance-id:i-0123456789,state:RUNNING}""#
        );
        let t = InputTransformer::new(&paths, r#"{"detail": <detail>}"#).unwrap();
        assert_eq!(
            t.apply(&ec2_event(), &CTX).unwrap(),
            r#"{"detail":{"instance-id":"i-0123456789","state":"RUNNING"}}"#
        );
    }

    #[test]
    fn values_of_every_type_and_missing_paths() {
        let paths: BTreeMap<String, String> = [
            ("n", "$.detail.n"),
            ("b", "$.detail.b"),
            ("z", "$.detail.z"),
            ("missing", "$.detail.nope"),
            ("all", "$.detail.list[*].id"),
            ("first", "$.detail.list[0].id"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let event = json!({"detail": {"n": 1.5e3, "b": true, "z": null, "list": [{"id": "a"}, {"id": "b"}]}});
        let t = InputTransformer::new(
            &paths,
            r#"{"n": <n>, "b": <b>, "z": <z>, "m": <missing>, "all": <all>, "first": <first>, "s": "<n>-<b>-<missing>-<all>"}"#,
        )
        .unwrap();
        assert_eq!(
            t.apply(&event, &CTX).unwrap(),
            r#"{"n":1500.0,"b":true,"z":null,"m":null,"all":["a","b"],"first":"a","s":"1500.0-true--[a,b]"}"#
        );
    }

    #[test]
    fn reserved_variables() {
        let t = InputTransformer::new(
            &BTreeMap::new(),
            r#"{"t": <aws.events.event.ingestion-time>, "e": <aws.events.event.json>, "x": "<unknown>"}"#,
        )
        .unwrap();
        let event = json!({"detail": {"a": 1}, "id": "1"});
        assert_eq!(
            t.apply(&event, &CTX).unwrap(),
            r#"{"t":"2015-11-11T21:29:55Z","e":{"detail":{"a":1},"id":"1"},"x":"<unknown>"}"#
        );
    }

    #[test]
    fn limits_and_errors() {
        let too_many: BTreeMap<String, String> = (0..=MAX_PATHS).map(|i| (format!("k{i}"), "$.a".to_owned())).collect();
        let err = InputTransformer::new(&too_many, "\"x\"").unwrap_err();
        assert_eq!(err.code(), "ValidationException");
        assert!(err
            .to_string()
            .ends_with("failed to satisfy constraint: Member must have length less than or equal to 100"));
        let ok: BTreeMap<String, String> = (0..MAX_PATHS).map(|i| (format!("k{i}"), "$.a".to_owned())).collect();
        assert!(InputTransformer::new(&ok, "\"x\"").is_ok());

        let bad_key: BTreeMap<String, String> = [("a.b".to_owned(), "$.a".to_owned())].into();
        assert!(InputTransformer::new(&bad_key, "\"x\"")
            .unwrap_err()
            .to_string()
            .contains("[A-Za-z0-9\\_\\-]+"));

        assert!(InputTransformer::new(&BTreeMap::new(), "").is_err());
        assert!(InputTransformer::new(&BTreeMap::new(), &"x".repeat(MAX_TEMPLATE_LEN)).is_ok());
        assert!(InputTransformer::new(&BTreeMap::new(), &"x".repeat(MAX_TEMPLATE_LEN + 1)).is_err());

        let paths: BTreeMap<String, String> = [("k".to_owned(), "$.a".to_owned())].into();
        let err = InputTransformer::new(&paths, r#"{<k>: 1}"#).unwrap_err();
        assert!(matches!(err, TransformError::InvalidTemplate { .. }));
        assert!(InputTransformer::new(&paths, r#"{"a": <k>"#).is_err());
        assert!(InputTransformer::new(&paths, r#"{"a": <k>}"#).is_ok());

        let long_path: BTreeMap<String, String> = [("k".to_owned(), format!("$.{}", "a".repeat(MAX_PATH_LEN)))].into();
        assert!(InputTransformer::new(&long_path, "\"x\"").is_err());
    }

    #[test]
    fn jsonpath_subset() {
        for ok in [
            "$",
            "$.detail",
            "$.detail.instance-id",
            "$.a_b./c",
            "$.list[0]",
            "$.list[*].id",
            "$.detail.*",
            "$.a[10][2]",
        ] {
            assert!(JsonPath::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "detail",
            "$.",
            "$..a",
            "$['a']",
            "$.a[?(@.b)]",
            "$.a[1:2]",
            "$.a[",
            "$.a b",
            "$.a[-1]",
            "$[\"a\"]",
        ] {
            assert!(
                matches!(JsonPath::parse(bad), Err(TransformError::InvalidPath { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn input_path() {
        let event = ec2_event();
        assert_eq!(InputPath::new("$").unwrap().apply(&event), event);
        assert_eq!(InputPath::new("$.detail").unwrap().apply(&event), event["detail"]);
        assert_eq!(
            InputPath::new("$.detail.state").unwrap().apply(&event),
            json!("RUNNING")
        );
        assert_eq!(
            InputPath::new("$.resources[0]").unwrap().apply(&event),
            event["resources"][0]
        );
        assert_eq!(InputPath::new("$.detail.nothing").unwrap().apply(&event), Value::Null);
        assert_eq!(
            InputPath::new("$.detail.*").unwrap().apply(&event),
            json!(["i-0123456789", "RUNNING"])
        );
        assert!(InputPath::new(&format!("$.{}", "a".repeat(MAX_PATH_LEN))).is_err());
        assert!(InputPath::new("$..x").is_err());
    }

    #[test]
    fn no_panic_on_odd_templates() {
        let paths: BTreeMap<String, String> = [("k".to_owned(), "$.a".to_owned())].into();
        for tpl in [
            "<",
            "<k",
            "<>",
            "\"<k>",
            "é<k>ü",
            "\"\\",
            "{\"a\":\"<k>\\\"\"}",
            "[<k>]",
            "<k><k>",
        ] {
            if let Ok(t) = InputTransformer::new(&paths, tpl) {
                let _ = t.apply(&json!({"a": "x"}), &CTX);
            }
        }
    }
}
