//! SNS subscription filter policies, on the one pattern engine ([`crate::pattern`]).
//!
//! SNS filter policies are EventBridge patterns with SNS's own rules on top; this module holds
//! only those differences:
//! - validation with SNS's messages (`InvalidParameter`, `Invalid parameter: FilterPolicy: ...`)
//!   and SNS's limits: 256 KB of policy text, at most 5 keys, at most 150 combinations of values,
//!   no nesting when the scope is `MessageAttributes`, and SNS's operator set (exact values,
//!   `prefix`, `suffix`, `equals-ignore-case`, `anything-but`, `numeric`, `exists`, `cidr`,
//!   `$or`; no `wildcard`);
//! - message attributes as the matched "event": `String` is a string, `Number` a number,
//!   `String.Array` a JSON array (any element may match), `Binary` is never compared;
//!   a `null` in an attribute policy matches a message without that attribute.
//!
//! Matching itself is [`Pattern::matches`], with one SNS difference on numbers: SNS compares
//! numbers "with five digits of accuracy after the decimal point" (SNS Developer Guide, "Filter
//! policy constraints"), so every number of the policy and of the message within ±1e9 is rounded
//! to the nearest multiple of 1e-5 (half away from zero) before matching ([`sns_number`]); the
//! rounding rule itself (nearest rather than truncated) is inferred, the documentation does not
//! state it. EventBridge patterns are unaffected.
//!
//! And one on names: EventBridge joins nested field names with `.` (its User Guide says so, and
//! `{"a.b": [..]}` there is `{"a": {"b": [..]}}`); the SNS Developer Guide says nothing of the
//! kind, so a policy's keys are matched as written (`Pattern::parse_literal_names`): in a body
//! policy `{"a.b": ["x"]}` matches `{"a.b": "x"}` and not `{"a": {"b": "x"}}`. Should SNS turn
//! out to run the same joining (its payload filtering may well be event-ruler too), the change
//! is to parse with `Pattern::parse`.
//!
//! The messages were checked against responses recorded from AWS (SetSubscriptionAttributes and
//! Subscribe): SetSubscriptionAttributes answers `Invalid parameter: FilterPolicy: <reason>`
//! ([`FilterPolicyError`]'s `Display`), Subscribe `Invalid parameter: Attributes Reason:
//! FilterPolicy: <reason>` ([`FilterPolicyError::subscribe_message`]). AWS appends Jackson's
//! ` at [Source: ...; line: 1, column: N]` position to parse-time reasons; that suffix is not
//! reproduced.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use crate::pattern::Pattern;

/// The largest policy SNS accepts, in bytes.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;
/// Most keys in a policy (per `$or` alternative).
pub const MAX_KEYS: usize = 5;
/// Most combinations of values (the product of the value-list lengths, summed over `$or`
/// alternatives).
pub const MAX_COMBINATIONS: u64 = 150;

/// What a subscription's filter policy is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterPolicyScope {
    #[default]
    MessageAttributes,
    MessageBody,
}

impl FilterPolicyScope {
    /// Parses the `FilterPolicyScope` subscription attribute.
    pub fn parse(value: &str) -> Result<Self, FilterPolicyError> {
        match value {
            "MessageAttributes" => Ok(Self::MessageAttributes),
            "MessageBody" => Ok(Self::MessageBody),
            other => Err(FilterPolicyError::Scope(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageAttributes => "MessageAttributes",
            Self::MessageBody => "MessageBody",
        }
    }
}

/// Why a filter policy (or scope) was rejected. The AWS error code is `InvalidParameter`
/// (HTTP 400, `Sender`) for all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterPolicyError {
    /// The policy is invalid; the text is SNS's reason (after `FilterPolicy: `).
    Policy(String),
    /// A nested policy with the `MessageAttributes` scope.
    NestedInAttributeScope,
    /// An unknown `FilterPolicyScope` value.
    Scope(String),
}

impl FilterPolicyError {
    fn policy(reason: impl Into<String>) -> Self {
        Self::Policy(reason.into())
    }

    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        "InvalidParameter"
    }

    /// The message as Subscribe returns it (policy given in `Attributes`).
    pub fn subscribe_message(&self) -> String {
        match self {
            Self::Policy(reason) => format!("Invalid parameter: Attributes Reason: FilterPolicy: {reason}"),
            other => other.to_string(),
        }
    }
}

/// The message as SetSubscriptionAttributes returns it.
impl fmt::Display for FilterPolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Policy(reason) => write!(f, "Invalid parameter: FilterPolicy: {reason}"),
            Self::NestedInAttributeScope => {
                f.write_str("Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy")
            }
            Self::Scope(value) => write!(
                f,
                "Invalid parameter: FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or MessageAttributes"
            ),
        }
    }
}

impl std::error::Error for FilterPolicyError {}

/// A validated filter policy.
#[derive(Debug, Clone)]
pub struct FilterPolicy {
    scope: FilterPolicyScope,
    /// None for the empty policy `{}`, which lets everything through.
    pattern: Option<Pattern>,
    /// Attribute-scope keys whose values list `null`: a missing attribute matches them.
    null_keys: BTreeSet<String>,
    /// Whether the policy holds any number (only then are message numbers rounded).
    numeric: bool,
}

/// A number as SNS compares it: within ±1e9, rounded to five decimal places (half away from
/// zero); outside that range, unchanged (such message values never satisfy a policy number).
fn sns_number(x: f64) -> f64 {
    if !(-MAX_NUMBER..=MAX_NUMBER).contains(&x) {
        return x;
    }
    let r = (x * 1e5).round() / 1e5;
    // No negative zero: -0.000001 and 0 are the same number.
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// Rounds every number in `v` with [`sns_number`]; returns whether it held any number.
fn round_numbers(v: &mut Value) -> bool {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                let r = sns_number(x);
                if r != x {
                    if let Some(rounded) = serde_json::Number::from_f64(r) {
                        *n = rounded;
                    }
                }
            }
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |any, i| round_numbers(i) | any),
        Value::Object(map) => map.values_mut().fold(false, |any, i| round_numbers(i) | any),
        _ => false,
    }
}

/// The attribute types SNS compares.
enum AttrKind {
    String,
    Number,
    StringArray,
    Binary,
}

fn attr_kind(data_type: &str) -> AttrKind {
    if data_type == "String.Array" {
        return AttrKind::StringArray;
    }
    // Custom types keep their base: `Number.float`, `String.json`, `Binary.gif`.
    match data_type.split('.').next().unwrap_or("") {
        "Number" => AttrKind::Number,
        "Binary" => AttrKind::Binary,
        _ => AttrKind::String,
    }
}

impl FilterPolicy {
    /// Validates a policy as Subscribe / SetSubscriptionAttributes do.
    pub fn parse(text: &str, scope: FilterPolicyScope) -> Result<FilterPolicy, FilterPolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(FilterPolicyError::policy("Filter policy is too long"));
        }
        // Validated in document order, as SNS reads it (serde_json's map would sort the keys).
        let value: J = serde_json::from_str(text).map_err(|_| FilterPolicyError::policy("failed to parse JSON."))?;
        let J::Obj(root) = value else {
            return Err(FilterPolicyError::policy("Filter policy must be a JSON object"));
        };
        let mut check = Check {
            nested: false,
            null_keys: BTreeSet::new(),
        };
        let alternatives = check.object(&root, 0)?;
        if scope == FilterPolicyScope::MessageAttributes && check.nested {
            return Err(FilterPolicyError::NestedInAttributeScope);
        }
        if alternatives.iter().any(|a| a.keys > MAX_KEYS) {
            return Err(FilterPolicyError::policy("Filter policy can not have more than 5 keys"));
        }
        let combinations = alternatives
            .iter()
            .fold(0u64, |sum, a| sum.saturating_add(a.combinations));
        if combinations > MAX_COMBINATIONS {
            return Err(FilterPolicyError::policy("Filter policy is too complex"));
        }
        let mut numeric = false;
        let pattern = if root.is_empty() {
            None
        } else {
            // Names as written, not joined with `.` as EventBridge joins them: the SNS Developer
            // Guide (payload-based filtering, "Filter policy constraints") describes nested keys
            // matched by nesting and says nothing of joining, so `{"a.b": [..]}` names a key
            // `a.b`, not `b` inside `a` (EventBridge's User Guide states its joining; SNS's does
            // not). Attribute scope is flat, where both readings agree.
            let pattern = Pattern::parse_literal_names(text).map_err(|e| FilterPolicyError::policy(e.reason()))?;
            // The same policy with its numbers at SNS's precision. Should rounding make it
            // invalid (a range whose bounds round to the same number), the policy is kept as
            // written and messages are compared at full precision.
            let mut rounded: Value =
                serde_json::from_str(text).map_err(|_| FilterPolicyError::policy("failed to parse JSON."))?;
            if round_numbers(&mut rounded) {
                if let Ok(p) = Pattern::parse_literal_names(&rounded.to_string()) {
                    numeric = true;
                    Some(p)
                } else {
                    Some(pattern)
                }
            } else {
                Some(pattern)
            }
        };
        Ok(FilterPolicy {
            scope,
            pattern,
            numeric,
            null_keys: if scope == FilterPolicyScope::MessageAttributes {
                check.null_keys
            } else {
                BTreeSet::new()
            },
        })
    }

    pub fn scope(&self) -> FilterPolicyScope {
        self.scope
    }

    /// Whether a message with these attributes (name -> (DataType, StringValue)) passes.
    pub fn matches_attributes(&self, attrs: &BTreeMap<String, (String, String)>) -> bool {
        let Some(pattern) = &self.pattern else {
            return true;
        };
        let mut event = Map::new();
        for (name, (data_type, value)) in attrs {
            let v = match attr_kind(data_type) {
                AttrKind::String => Value::String(value.clone()),
                AttrKind::Number => match serde_json::from_str::<serde_json::Number>(value.trim()) {
                    Ok(n) => Value::Number(n),
                    Err(_) => continue,
                },
                AttrKind::StringArray => match serde_json::from_str::<Value>(value) {
                    Ok(Value::Array(items)) => {
                        Value::Array(items.into_iter().filter(|i| !i.is_object() && !i.is_array()).collect())
                    }
                    _ => continue,
                },
                AttrKind::Binary => continue,
            };
            let mut v = v;
            if self.numeric {
                round_numbers(&mut v);
            }
            event.insert(name.clone(), v);
        }
        for key in &self.null_keys {
            event.entry(key.clone()).or_insert(Value::Null);
        }
        pattern.matches(&Value::Object(event))
    }

    /// Whether a message whose body is this JSON passes (a body that is not a JSON object never
    /// matches a non-empty policy).
    pub fn matches_body(&self, body: &Value) -> bool {
        match &self.pattern {
            None => true,
            Some(pattern) if self.numeric && body.is_object() => {
                let mut body = body.clone();
                round_numbers(&mut body);
                pattern.matches(&body)
            }
            Some(pattern) => body.is_object() && pattern.matches(body),
        }
    }
}

/// Keys and combinations of one `$or` alternative.
#[derive(Debug, Clone, Copy)]
struct Alt {
    keys: usize,
    combinations: u64,
}

struct Check {
    nested: bool,
    null_keys: BTreeSet<String>,
}

const OPERATORS: [&str; 8] = [
    "prefix",
    "suffix",
    "equals-ignore-case",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "wildcard",
];

impl Check {
    /// Validates an object of the policy; returns its alternatives (one per `$or` expansion).
    fn object(&mut self, obj: &[(String, J)], depth: usize) -> Result<Vec<Alt>, FilterPolicyError> {
        let mut alts = vec![Alt {
            keys: 0,
            combinations: 1,
        }];
        for (key, value) in obj {
            if key == "$or" {
                let J::Arr(branches) = value else {
                    return Err(FilterPolicyError::policy("\"$or\" must be an object or an array"));
                };
                let mut or_alts = Vec::new();
                for branch in branches {
                    let J::Obj(b) = branch else {
                        return Err(FilterPolicyError::policy("\"$or\" must be an object or an array"));
                    };
                    or_alts.extend(self.object(b, depth)?);
                }
                // Each existing alternative combines with each branch.
                let mut next = Vec::with_capacity(alts.len() * or_alts.len().max(1));
                for a in &alts {
                    for o in &or_alts {
                        next.push(Alt {
                            keys: a.keys + o.keys,
                            combinations: a.combinations.saturating_mul(o.combinations),
                        });
                    }
                }
                if !next.is_empty() {
                    alts = next;
                }
                continue;
            }
            match value {
                J::Arr(items) => {
                    for item in items {
                        self.matcher(item)?;
                        if matches!(item, J::Null) && depth == 0 {
                            self.null_keys.insert(key.clone());
                        }
                    }
                    let n = items.len().max(1) as u64;
                    for a in &mut alts {
                        a.keys += 1;
                        a.combinations = a.combinations.saturating_mul(n);
                    }
                }
                J::Obj(inner) => {
                    self.nested = true;
                    let inner_alts = self.object(inner, depth + 1)?;
                    let mut next = Vec::with_capacity(alts.len() * inner_alts.len());
                    for a in &alts {
                        for i in &inner_alts {
                            next.push(Alt {
                                // A nested object counts as one key.
                                keys: a.keys + 1,
                                combinations: a.combinations.saturating_mul(i.combinations),
                            });
                        }
                    }
                    alts = next;
                }
                _ => {
                    return Err(FilterPolicyError::policy(format!(
                        "\"{key}\" must be an object or an array"
                    )))
                }
            }
        }
        Ok(alts)
    }

    /// Validates one element of a value list.
    fn matcher(&mut self, item: &J) -> Result<(), FilterPolicyError> {
        let op = match item {
            J::Str(_) | J::Num(_) | J::Bool(_) | J::Null => return Ok(()),
            J::Arr(_) => {
                return Err(FilterPolicyError::policy(
                    "Match value must be String, number, true, false, or null",
                ))
            }
            J::Obj(op) => op,
        };
        let mut entries = op.iter();
        let Some((name, operand)) = entries.next() else {
            return Err(FilterPolicyError::policy("Empty objects are not allowed"));
        };
        if entries.next().is_some() {
            return Err(FilterPolicyError::policy("Only one key allowed in match expression"));
        }
        // SNS has no wildcard operator.
        if !OPERATORS.contains(&name.as_str()) || name == "wildcard" {
            return Err(FilterPolicyError::policy(format!("Unrecognized match type {name}")));
        }
        match name.as_str() {
            "prefix" | "suffix" if !matches!(operand, J::Str(_)) && !is_ignore_case_object(operand) => {
                return Err(FilterPolicyError::policy(format!(
                    "{name} match pattern must be a string"
                )));
            }
            "equals-ignore-case" if !matches!(operand, J::Str(_)) => {
                return Err(FilterPolicyError::policy(
                    "equals-ignore-case match pattern must be a string",
                ));
            }
            "exists" if !matches!(operand, J::Bool(_)) => {
                return Err(FilterPolicyError::policy(
                    "exists match pattern must be either true or false.",
                ));
            }
            "numeric" => numeric(operand)?,
            "anything-but" => {
                if let J::Obj(inner) = operand {
                    if let Some((inner_name, _)) = inner.first() {
                        if inner_name == "wildcard" {
                            return Err(FilterPolicyError::policy(format!(
                                "Unrecognized match type {inner_name}"
                            )));
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn is_ignore_case_object(v: &J) -> bool {
    matches!(v, J::Obj(m) if m.len() == 1 && m[0].0 == "equals-ignore-case" && matches!(m[0].1, J::Str(_)))
}

/// The largest magnitude SNS compares numerically.
const MAX_NUMBER: f64 = 1e9;

fn numeric_operand(op: &str, v: Option<&J>) -> Result<f64, FilterPolicyError> {
    let name = if op == "=" { "equals" } else { op };
    let n = v
        .and_then(|v| match v {
            J::Num(n) => n.as_f64(),
            _ => None,
        })
        .ok_or_else(|| FilterPolicyError::policy(format!("Value of {name} must be numeric")))?;
    if !(-MAX_NUMBER..=MAX_NUMBER).contains(&n) {
        return Err(FilterPolicyError::policy(format!("Value of {name} must be numeric")));
    }
    Ok(n)
}

/// `{"numeric": ["=", 5]}`, `[">", 0]`, `[">", 0, "<=", 5]`, with SNS's (event-ruler's) messages.
fn numeric(operand: &J) -> Result<(), FilterPolicyError> {
    let J::Arr(items) = operand else {
        return Err(FilterPolicyError::policy("Value of numeric must be an array."));
    };
    let member = |v: Option<&J>| {
        let text = match v {
            None => "]".to_owned(),
            Some(v) => v.text(),
        };
        FilterPolicyError::policy(format!("Invalid member in numeric match: {text}"))
    };
    let Some(J::Str(first)) = items.first() else {
        return Err(member(items.first()));
    };
    match first.as_str() {
        "=" => {
            numeric_operand("=", items.get(1))?;
            if items.len() > 2 {
                return Err(FilterPolicyError::policy("Too many elements in numeric expression"));
            }
        }
        "<" | "<=" => {
            numeric_operand(first, items.get(1))?;
            if items.len() > 2 {
                return Err(FilterPolicyError::policy("Too many elements in numeric expression"));
            }
        }
        ">" | ">=" => {
            let bottom = numeric_operand(first, items.get(1))?;
            match items.get(2) {
                None => {}
                Some(J::Str(second)) if second == "<" || second == "<=" => {
                    let top = numeric_operand(second, items.get(3))?;
                    if bottom >= top {
                        return Err(FilterPolicyError::policy("Bottom must be less than top"));
                    }
                    if items.len() > 4 {
                        return Err(FilterPolicyError::policy("Too many terms in numeric range expression"));
                    }
                }
                Some(J::Str(second)) => {
                    return Err(FilterPolicyError::policy(format!(
                        "Bad numeric range operator: {second}"
                    )))
                }
                Some(other) => {
                    return Err(FilterPolicyError::policy(format!(
                        "Bad value in numeric range: {}",
                        other.text()
                    )))
                }
            }
        }
        other => {
            return Err(FilterPolicyError::policy(format!(
                "Unrecognized numeric range operator: {other}"
            )))
        }
    }
    Ok(())
}

/// JSON with objects kept in document order (validation order matters for the messages).
#[derive(Debug)]
enum J {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    /// The value as JSON text (numbers as written, strings without quotes, as event-ruler
    /// reports a token).
    fn text(&self) -> String {
        match self {
            J::Null => "null".to_owned(),
            J::Bool(b) => b.to_string(),
            J::Num(n) => n.to_string(),
            J::Str(s) => s.clone(),
            J::Arr(_) => "[".to_owned(),
            J::Obj(_) => "{".to_owned(),
        }
    }
}

impl<'de> serde::Deserialize<'de> for J {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<J, E> {
                Ok(J::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<J, E> {
                Ok(J::Num(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<J, E> {
                Ok(J::Num(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<J, E> {
                serde_json::Number::from_f64(n)
                    .map(J::Num)
                    .ok_or_else(|| E::custom("not a finite number"))
            }
            fn visit_str<E>(self, s: &str) -> Result<J, E> {
                Ok(J::Str(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<J, E> {
                Ok(J::Str(s))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<J, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(J::Arr(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<J, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(J::Obj(entries))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(policy: &str) -> String {
        FilterPolicy::parse(policy, FilterPolicyScope::MessageAttributes)
            .unwrap_err()
            .to_string()
    }

    /// Reasons recorded from AWS (SetSubscriptionAttributes / Subscribe responses).
    #[test]
    fn aws_recorded_messages() {
        let cases = [
            (
                r#"{"key":[["value"]]}"#,
                "Match value must be String, number, true, false, or null",
            ),
            (
                r#"{"key":[{"wrong-operator":true}]}"#,
                "Unrecognized match type wrong-operator",
            ),
            (
                r#"{"key":[{"suffix":"value","prefix":"value2"}]}"#,
                "Only one key allowed in match expression",
            ),
            (r#"{"key":[{"suffix":100}]}"#, "suffix match pattern must be a string"),
            (r#"{"key":[{"suffix":null}]}"#, "suffix match pattern must be a string"),
            (
                r#"{"key":{"suffix":"value"}}"#,
                "\"suffix\" must be an object or an array",
            ),
            (r#"{"key":[{"suffix":[]}]}"#, "suffix match pattern must be a string"),
            (
                r#"{"key":[{"suffix":["test","test2"]}]}"#,
                "suffix match pattern must be a string",
            ),
            (
                r#"{"key":{"suffix":"value","prefix":"value"}}"#,
                "\"suffix\" must be an object or an array",
            ),
            (
                r#"{"key":{"not-an-operator":"value"}}"#,
                "\"not-an-operator\" must be an object or an array",
            ),
            (r#"{"key":[{"numeric":[]}]}"#, "Invalid member in numeric match: ]"),
            (
                r#"{"key":[{"numeric":["operator"]}]}"#,
                "Unrecognized numeric range operator: operator",
            ),
            (
                r#"{"key":[{"numeric":[1,"<="]}]}"#,
                "Invalid member in numeric match: 1",
            ),
            (
                r#"{"key":[{"numeric":["=","000"]}]}"#,
                "Value of equals must be numeric",
            ),
            (r#"{"key":[{"numeric":[">="]}]}"#, "Value of >= must be numeric"),
            (
                r#"{"key":[{"numeric":["<",100,">",10]}]}"#,
                "Too many elements in numeric expression",
            ),
            (
                r#"{"key":[{"numeric":[">=",1,">",2]}]}"#,
                "Bad numeric range operator: >",
            ),
            (r#"{"key":[{"numeric":[">",3,"<",1]}]}"#, "Bottom must be less than top"),
            (r#"{"key":[{"numeric":[">",20,"<="]}]}"#, "Value of <= must be numeric"),
            (r#"{"key":[{"numeric":[">",20,30]}]}"#, "Bad value in numeric range: 30"),
            (
                r#"{"key":[{"numeric":[">",20,"test"]}]}"#,
                "Bad numeric range operator: test",
            ),
            (
                r#"{"key":[{"numeric":[">","20","<","30"]}]}"#,
                "Value of > must be numeric",
            ),
            (
                r#"{"key":[{"numeric":[">",20,"<","30"]}]}"#,
                "Value of < must be numeric",
            ),
            (
                r#"{"key":[{"numeric":[">",20,"<",30,"<",50]}]}"#,
                "Too many terms in numeric range expression",
            ),
            (
                r#"{"key":[{"exists":null}]}"#,
                "exists match pattern must be either true or false.",
            ),
            (
                r#"{"key":[{"exists":"no"}]}"#,
                "exists match pattern must be either true or false.",
            ),
            (r#"{"key_a":"value_one"}"#, "\"key_a\" must be an object or an array"),
        ];
        for (policy, reason) in cases {
            assert_eq!(
                err(policy),
                format!("Invalid parameter: FilterPolicy: {reason}"),
                "{policy}"
            );
        }
        let e = FilterPolicy::parse(r#"{"key":[{"exists":"no"}]}"#, FilterPolicyScope::MessageBody).unwrap_err();
        assert_eq!(e.code(), "InvalidParameter");
        assert_eq!(
            e.subscribe_message(),
            "Invalid parameter: Attributes Reason: FilterPolicy: exists match pattern must be either true or false."
        );
    }

    #[test]
    fn scope_rules() {
        let nested = r#"{"object":{"key":[{"prefix":"auto-"}]}}"#;
        assert_eq!(
            err(nested),
            "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
        );
        assert_eq!(
            FilterPolicyScope::parse("RandomValue").unwrap_err().to_string(),
            "Invalid parameter: FilterPolicyScope: Invalid value [RandomValue]. Please use either MessageBody or MessageAttributes"
        );
        assert_eq!(
            FilterPolicyScope::parse("MessageBody").unwrap(),
            FilterPolicyScope::MessageBody
        );
        assert_eq!(FilterPolicyScope::default().as_str(), "MessageAttributes");
        assert_eq!(err("{nope"), "Invalid parameter: FilterPolicy: failed to parse JSON.");
    }

    #[test]
    fn limits() {
        let six = r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}"#;
        assert_eq!(
            err(six),
            "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys"
        );
        // 6 * 5 * 6 = 180 > 150
        let many: Vec<String> = (0..6).map(|i| format!("\"v{i}\"")).collect();
        let five: Vec<String> = (0..5).map(|i| format!("\"v{i}\"")).collect();
        let complex = format!(
            r#"{{"a":[{}],"b":[{}],"c":[{}]}}"#,
            many.join(","),
            five.join(","),
            many.join(",")
        );
        assert_eq!(
            err(&complex),
            "Invalid parameter: FilterPolicy: Filter policy is too complex"
        );
        let with_or = format!(
            r#"{{"$or":[{{"a":[{0}],"b":[{0}]}},{{"c":[{0}],"d":[{0}]}},{{"e":[{0}],"f":[{0}]}},{{"g":[{0}],"h":[{0}]}},{{"i":[{0}],"j":[{0}]}}]}}"#,
            many.join(",")
        );
        // 5 alternatives of 36 = 180 > 150
        assert_eq!(
            err(&with_or),
            "Invalid parameter: FilterPolicy: Filter policy is too complex"
        );
        let big = format!(r#"{{"a":["{}"]}}"#, "x".repeat(MAX_POLICY_BYTES));
        assert_eq!(err(&big), "Invalid parameter: FilterPolicy: Filter policy is too long");
        assert_eq!(
            err(r#"{"a":[{"wildcard":"x*"}]}"#),
            "Invalid parameter: FilterPolicy: Unrecognized match type wildcard"
        );
        assert_eq!(
            err(r#"{"a":[{"numeric":["<",1000000001]}]}"#),
            "Invalid parameter: FilterPolicy: Value of < must be numeric"
        );
    }

    #[test]
    fn empty_policy_lets_everything_through() {
        let p = FilterPolicy::parse("{}", FilterPolicyScope::MessageAttributes).unwrap();
        assert!(p.matches_attributes(&BTreeMap::new()));
        assert!(p.matches_body(&json!("not even an object")));
    }

    fn attrs(list: &[(&str, &str, &str)]) -> BTreeMap<String, (String, String)> {
        list.iter()
            .map(|(n, t, v)| (n.to_string(), (t.to_string(), v.to_string())))
            .collect()
    }

    // The following run on the shared pattern engine (crates/rules/src/pattern).
    #[test]
    fn attribute_matching() {
        let p = FilterPolicy::parse(
            r#"{"store":["example_corp"],"event":[{"anything-but":"order_cancelled"}],"price_usd":[{"numeric":[">=",100]}],"customer_interests":["rugby","football"]}"#,
            FilterPolicyScope::MessageAttributes,
        )
        .unwrap();
        let good = attrs(&[
            ("store", "String", "example_corp"),
            ("event", "String", "order_placed"),
            ("price_usd", "Number", "210.75"),
            ("customer_interests", "String.Array", r#"["soccer","rugby","hockey"]"#),
        ]);
        assert!(p.matches_attributes(&good));
        let mut bad = good.clone();
        bad.insert("price_usd".into(), ("Number".into(), "99.5".into()));
        assert!(!p.matches_attributes(&bad));
        let mut bad = good.clone();
        bad.insert(
            "customer_interests".into(),
            ("String.Array".into(), r#"["hockey"]"#.into()),
        );
        assert!(!p.matches_attributes(&bad));
        let mut bad = good.clone();
        bad.insert("price_usd".into(), ("String".into(), "210.75".into()));
        assert!(!p.matches_attributes(&bad), "a String attribute is not a number");
        let mut bin = good.clone();
        bin.insert("store".into(), ("Binary".into(), "ZXhhbXBsZV9jb3Jw".into()));
        assert!(!p.matches_attributes(&bin));

        let p = FilterPolicy::parse(
            r#"{"attr1":[null,{"anything-but":"whatever"}]}"#,
            FilterPolicyScope::default(),
        )
        .unwrap();
        assert!(
            p.matches_attributes(&BTreeMap::new()),
            "null matches a missing attribute"
        );
        assert!(!p.matches_attributes(&attrs(&[("attr1", "String", "whatever")])));

        let p = FilterPolicy::parse(r#"{"store":[{"exists":false}]}"#, FilterPolicyScope::default()).unwrap();
        assert!(p.matches_attributes(&BTreeMap::new()));
        assert!(!p.matches_attributes(&attrs(&[("store", "Number", "99")])));

        let p = FilterPolicy::parse(r#"{"n":[{"numeric":["=",99]}]}"#, FilterPolicyScope::default()).unwrap();
        assert!(p.matches_attributes(&attrs(&[("n", "Number", "99")])));
        assert!(p.matches_attributes(&attrs(&[("n", "Number.int", "9.9e1")])));
        assert!(p.matches_attributes(&attrs(&[("n", "String.Array", "[1, 99]")])));
    }

    /// SNS compares numbers to five decimal places (policy and message alike).
    #[test]
    fn numbers_at_five_decimal_places() {
        let eq = |policy: &str, value: &str| {
            let p = FilterPolicy::parse(policy, FilterPolicyScope::MessageAttributes).unwrap();
            let by_attr = p.matches_attributes(&attrs(&[("n", "Number", value)]));
            let p = FilterPolicy::parse(policy, FilterPolicyScope::MessageBody).unwrap();
            let body: Value = serde_json::from_str(&format!(r#"{{"n":{value}}}"#)).unwrap();
            let by_body = p.matches_body(&body);
            assert_eq!(by_attr, by_body, "{policy} {value}");
            by_attr
        };
        // Exact numeric values and `numeric` `=`.
        assert!(eq(r#"{"n":[1]}"#, "1.000001"));
        assert!(!eq(r#"{"n":[1]}"#, "1.00001"));
        assert!(eq(r#"{"n":[1.000001]}"#, "1"));
        assert!(eq(r#"{"n":[{"numeric":["=",1]}]}"#, "1.000001"));
        assert!(eq(r#"{"n":[{"numeric":["=",1]}]}"#, "0.999999"));
        assert!(!eq(r#"{"n":[{"numeric":["=",1]}]}"#, "1.00001"));
        assert!(eq(r#"{"n":[{"numeric":["=",301.5]}]}"#, "3.015e2"));
        assert!(eq(r#"{"n":[{"numeric":["=",-2.5]}]}"#, "-2.500004"));
        assert!(eq(r#"{"n":[{"numeric":["=",0]}]}"#, "-0.000001"));
        // Ranges.
        assert!(!eq(r#"{"n":[{"numeric":[">",1]}]}"#, "1.000001"));
        assert!(eq(r#"{"n":[{"numeric":[">",1]}]}"#, "1.00001"));
        assert!(eq(r#"{"n":[{"numeric":["<=",1]}]}"#, "1.000004"));
        assert!(!eq(r#"{"n":[{"numeric":["<",1]}]}"#, "0.999999"));
        assert!(eq(r#"{"n":[{"numeric":[">=",0,"<",1]}]}"#, "0.99999"));
        // anything-but numbers.
        assert!(!eq(r#"{"n":[{"anything-but":[100]}]}"#, "100.000001"));
        assert!(eq(r#"{"n":[{"anything-but":[100]}]}"#, "100.00001"));
        // A range whose bounds round together keeps the policy as written.
        assert!(eq(r#"{"n":[{"numeric":[">",1.000001,"<",1.000004]}]}"#, "1.000002"));
        // String.Array elements are rounded too.
        let p = FilterPolicy::parse(r#"{"n":[1]}"#, FilterPolicyScope::MessageAttributes).unwrap();
        assert!(p.matches_attributes(&attrs(&[("n", "String.Array", r#"["a", 1.000001]"#)])));
        // Nested body numbers.
        let p = FilterPolicy::parse(r#"{"a":{"b":[{"numeric":["=",2]}]}}"#, FilterPolicyScope::MessageBody).unwrap();
        assert!(p.matches_body(&json!({"a": [{"b": 2.000003}]})));
    }

    /// EventBridge patterns keep full precision.
    #[test]
    fn eventbridge_numbers_unrounded() {
        let p = Pattern::parse(r#"{"n":[{"numeric":["=",1]}]}"#).unwrap();
        assert!(!p.matches(&json!({"n": 1.000001})));
        let p = Pattern::parse(r#"{"n":[1]}"#).unwrap();
        assert!(!p.matches(&json!({"n": 1.000001})));
    }

    #[test]
    fn body_matching() {
        let p = FilterPolicy::parse(
            r#"{"Records":{"eventName":[{"prefix":"ObjectCreated:"}]}}"#,
            FilterPolicyScope::MessageBody,
        )
        .unwrap();
        assert!(p.matches_body(
            &json!({"Records": [{"eventName": "ObjectRemoved:Delete"}, {"eventName": "ObjectCreated:Put"}]})
        ));
        assert!(!p.matches_body(&json!({"Records": [{"eventName": "ObjectRemoved:Delete"}]})));
        assert!(!p.matches_body(&json!("text body")));
        let p = FilterPolicy::parse(
            r#"{"source_ip":[{"cidr":"10.0.0.0/24"}],"$or":[{"a":["x"]},{"b":[{"equals-ignore-case":"Y"}]}]}"#,
            FilterPolicyScope::MessageBody,
        )
        .unwrap();
        assert!(p.matches_body(&json!({"source_ip": "10.0.0.7", "b": "y"})));
        assert!(!p.matches_body(&json!({"source_ip": "10.0.1.7", "a": "x"})));
    }

    #[test]
    fn names_with_dots_are_names_as_written() {
        // Not joined with `.` as EventBridge joins them (see the module documentation).
        let body = |policy: &str| FilterPolicy::parse(policy, FilterPolicyScope::MessageBody).unwrap();
        let p = body(r#"{"a.b": ["x"]}"#);
        assert!(p.matches_body(&json!({"a.b": "x"})));
        assert!(!p.matches_body(&json!({"a": {"b": "x"}})));
        let p = body(r#"{"a": {"b": ["x"]}}"#);
        assert!(p.matches_body(&json!({"a": {"b": "x"}})));
        assert!(!p.matches_body(&json!({"a.b": "x"})));
        let p = body(r#"{"a.b": [{"exists": false}]}"#);
        assert!(p.matches_body(&json!({"a": {"b": "x"}})));
        let p = body(r#"{"n.m": [{"numeric": ["=", 1.000001]}]}"#);
        assert!(p.matches_body(&json!({"n.m": 1})));
        assert!(!p.matches_body(&json!({"n": {"m": 1}})));
        // Attribute names may hold dots; a flat policy reads them either way.
        let p = FilterPolicy::parse(r#"{"store.id": ["x"]}"#, FilterPolicyScope::MessageAttributes).unwrap();
        assert!(p.matches_attributes(&attrs(&[("store.id", "String", "x")])));
        assert!(!p.matches_attributes(&attrs(&[("store", "String", "x")])));
    }
}
