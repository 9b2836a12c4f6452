//! `InputTemplate` (User Guide, "Amazon EventBridge Pipes input transformation"): free text, a
//! JSON path, or JSON with inline `<$.path>` placeholders, plus the reserved variables
//! `<aws.pipes.pipe-arn>`, `<aws.pipes.pipe-name>`, `<aws.pipes.source-arn>`,
//! `<aws.pipes.enrichment-arn>`, `<aws.pipes.target-arn>`, `<aws.pipes.event.ingestion-time>`,
//! `<aws.pipes.event>` and `<aws.pipes.event.json>`. Applied to each event of a batch on its own.
//!
//! Implicit body parsing: an SQS record's JSON `body` and a Kinesis record's base64 `data`
//! holding JSON are addressed as JSON (`<$.body.order.id>`, `<$.data.id>`); `<$.body>` itself is
//! the body as sent (a string).

use lb_rules::transform::JsonPath;
use serde_json::Value;

/// The reserved variables' values for one pipe.
#[derive(Debug, Clone, Default)]
pub struct TemplateContext {
    pub pipe_arn: String,
    pub pipe_name: String,
    pub source_arn: String,
    pub enrichment_arn: String,
    pub target_arn: String,
}

#[derive(Debug, Clone)]
enum Var {
    Path(Box<JsonPath>),
    PipeArn,
    PipeName,
    SourceArn,
    EnrichmentArn,
    TargetArn,
    IngestionTime,
    Event,
    EventJson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// A JSON value of a JSON template.
    Value,
    /// Inside a JSON string.
    InString,
    /// Free text.
    Text,
}

#[derive(Debug, Clone)]
enum Piece {
    Lit(String),
    Var(Var, Position),
}

/// A parsed `InputTemplate`.
#[derive(Debug, Clone)]
pub struct Template {
    pieces: Vec<Piece>,
    json: bool,
}

fn placeholder_at(template: &str, at: usize) -> Option<&str> {
    let rest = &template[at + 1..];
    let end = rest.find('>')?;
    let name = &rest[..end];
    (!name.is_empty() && !name.contains(['<', '"', '\n'])).then_some(name)
}

impl Template {
    /// Parses a template; `Err` names what is wrong (an invalid path).
    pub fn parse(text: &str) -> Result<Self, String> {
        let json = matches!(text.trim_start().chars().next(), Some('{' | '['));
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut in_string = false;
        let mut escaped = false;
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if json {
                if escaped {
                    escaped = false;
                } else if in_string && b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = !in_string;
                }
            }
            if b == b'<' && !escaped {
                if let Some(name) = placeholder_at(text, i) {
                    let var = match name {
                        "aws.pipes.pipe-arn" => Some(Var::PipeArn),
                        "aws.pipes.pipe-name" => Some(Var::PipeName),
                        "aws.pipes.source-arn" => Some(Var::SourceArn),
                        "aws.pipes.enrichment-arn" => Some(Var::EnrichmentArn),
                        "aws.pipes.target-arn" => Some(Var::TargetArn),
                        "aws.pipes.event.ingestion-time" => Some(Var::IngestionTime),
                        "aws.pipes.event" => Some(Var::Event),
                        "aws.pipes.event.json" => Some(Var::EventJson),
                        p if p.starts_with('$') => Some(Var::Path(Box::new(
                            JsonPath::parse(p).map_err(|e| format!("Invalid JSON path {p}: {e}"))?,
                        ))),
                        _ => None,
                    };
                    if let Some(var) = var {
                        let position = if !json {
                            Position::Text
                        } else if in_string {
                            Position::InString
                        } else {
                            Position::Value
                        };
                        if !lit.is_empty() {
                            pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                        }
                        pieces.push(Piece::Var(var, position));
                        i += name.len() + 2;
                        continue;
                    }
                }
            }
            let width = match b {
                0x00..=0x7f => 1,
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            lit.push_str(&text[i..i + width]);
            i += width;
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(Self { pieces, json })
    }

    /// The template applied to one event. `ingestion_time` is ISO 8601.
    pub fn render(&self, event: &Value, ctx: &TemplateContext, ingestion_time: &str) -> String {
        let mut view: Option<Value> = None;
        let mut out = String::new();
        for piece in &self.pieces {
            let (var, position) = match piece {
                Piece::Lit(s) => {
                    out.push_str(s);
                    continue;
                }
                Piece::Var(v, p) => (v, *p),
            };
            let value: Option<Value> = match var {
                Var::Path(path) => path.select(event).or_else(|| {
                    let v = view.get_or_insert_with(|| decoded(event));
                    path.select(v)
                }),
                Var::PipeArn => Some(Value::String(ctx.pipe_arn.clone())),
                Var::PipeName => Some(Value::String(ctx.pipe_name.clone())),
                Var::SourceArn => Some(Value::String(ctx.source_arn.clone())),
                Var::EnrichmentArn => Some(Value::String(ctx.enrichment_arn.clone())),
                Var::TargetArn => Some(Value::String(ctx.target_arn.clone())),
                Var::IngestionTime => Some(Value::String(ingestion_time.to_owned())),
                Var::Event => Some(event.clone()),
                Var::EventJson => Some(view.get_or_insert_with(|| decoded(event)).clone()),
            };
            match (value, position) {
                (None, Position::Value) => out.push_str("null"),
                (None, _) => {}
                (Some(v), Position::Value) => out.push_str(&v.to_string()),
                (Some(Value::String(s)), Position::InString) => {
                    // Inside a JSON string the text is escaped so the template stays JSON.
                    let quoted = Value::String(s).to_string();
                    out.push_str(&quoted[1..quoted.len() - 1]);
                }
                (Some(Value::String(s)), _) => out.push_str(&s),
                (Some(v), Position::InString) => {
                    let quoted = Value::String(v.to_string()).to_string();
                    out.push_str(&quoted[1..quoted.len() - 1]);
                }
                (Some(v), _) => out.push_str(&v.to_string()),
            }
        }
        if self.json {
            if let Ok(v) = serde_json::from_str::<Value>(&out) {
                return v.to_string();
            }
        }
        out
    }
}

/// The event with its encoded payload decoded: an SQS record's `body` parsed when it is JSON, a
/// Kinesis record's `data` base64-decoded and parsed when it is JSON (else left as it is).
pub fn decoded(event: &Value) -> Value {
    let mut v = event.clone();
    let source = event.get("eventSource").and_then(Value::as_str);
    match source {
        Some("aws:sqs") => {
            if let Some(parsed) = event
                .get("body")
                .and_then(Value::as_str)
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
            {
                if parsed.is_object() || parsed.is_array() {
                    v["body"] = parsed;
                }
            }
        }
        Some("aws:kinesis") => {
            use base64::Engine as _;
            if let Some(parsed) = event
                .get("data")
                .and_then(Value::as_str)
                .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
                .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
            {
                if parsed.is_object() || parsed.is_array() {
                    v["data"] = parsed;
                }
            }
        }
        _ => {}
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> TemplateContext {
        TemplateContext {
            pipe_arn: "arn:aws:pipes:us-east-1:000000000000:pipe/p".into(),
            pipe_name: "p".into(),
            source_arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            enrichment_arn: String::new(),
            target_arn: "arn:aws:sqs:us-east-1:000000000000:t".into(),
        }
    }

    fn sqs(body: &str) -> Value {
        json!({"messageId": "m1", "body": body, "eventSource": "aws:sqs", "attributes": {"SenderId": "S"}})
    }

    #[test]
    fn text_and_paths() {
        let t = Template::parse("Hello, <$.attributes.SenderId> from <aws.pipes.pipe-name>").unwrap();
        assert_eq!(t.render(&sqs("x"), &ctx(), "T"), "Hello, S from p");
    }

    #[test]
    fn json_with_implicit_body_parsing() {
        let t = Template::parse(r#"{"id": <$.body.order.id>, "who": "<$.body.order.who>", "raw": <$.body>, "pipe": "<aws.pipes.pipe-arn>", "t": "<aws.pipes.event.ingestion-time>"}"#).unwrap();
        let e = sqs(r#"{"order":{"id":7,"who":"a\"b"}}"#);
        let out: Value = serde_json::from_str(&t.render(&e, &ctx(), "2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(
            out,
            json!({"id": 7, "who": "a\"b", "raw": r#"{"order":{"id":7,"who":"a\"b"}}"#, "pipe": "arn:aws:pipes:us-east-1:000000000000:pipe/p", "t": "2026-01-01T00:00:00Z"})
        );
    }

    #[test]
    fn event_and_event_json() {
        let t = Template::parse(r#"{"e": <aws.pipes.event>, "j": <aws.pipes.event.json>}"#).unwrap();
        let e = sqs(r#"{"a":1}"#);
        let out: Value = serde_json::from_str(&t.render(&e, &ctx(), "T")).unwrap();
        assert_eq!(out["e"]["body"], json!(r#"{"a":1}"#));
        assert_eq!(out["j"]["body"], json!({"a": 1}));
    }

    #[test]
    fn kinesis_data_decoded() {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(br#"{"k":"v"}"#);
        let e = json!({"eventSource": "aws:kinesis", "data": data, "partitionKey": "pk"});
        let t = Template::parse("<$.data.k>/<$.partitionKey>").unwrap();
        assert_eq!(t.render(&e, &ctx(), "T"), "v/pk");
    }

    #[test]
    fn missing_path_is_null_or_empty() {
        let t = Template::parse(r#"{"a": <$.nope>, "b": "x<$.nope>y"}"#).unwrap();
        assert_eq!(t.render(&sqs("1"), &ctx(), "T"), r#"{"a":null,"b":"xy"}"#);
    }
}
