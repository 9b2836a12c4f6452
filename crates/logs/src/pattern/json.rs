//! Evaluating a JSON pattern against a parsed message.

use serde_json::Value;

use super::{compare, JsonExpr, Step};

fn select<'a>(v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get(k.as_str()),
        Step::Index(i) => v.get(*i),
    })
}

pub(super) fn eval(e: &JsonExpr, doc: &Value) -> bool {
    match e {
        JsonExpr::And(a, b) => eval(a, doc) && eval(b, doc),
        JsonExpr::Or(a, b) => eval(a, doc) || eval(b, doc),
        JsonExpr::Cmp(path, op, operand) => match select(doc, path) {
            Some(Value::String(s)) => compare(s, None, *op, operand),
            Some(Value::Number(n)) => compare(&n.to_string(), n.as_f64(), *op, operand),
            Some(Value::Bool(b)) => compare(if *b { "true" } else { "false" }, None, *op, operand),
            _ => false,
        },
        JsonExpr::IsNull(path) => matches!(select(doc, path), Some(Value::Null)),
        JsonExpr::IsBool(path, want) => matches!(select(doc, path), Some(Value::Bool(b)) if b == want),
        JsonExpr::Exists(path) => select(doc, path).is_some(),
        JsonExpr::NotExists(path) => select(doc, path).is_none(),
    }
}
