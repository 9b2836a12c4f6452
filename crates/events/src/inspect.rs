//! "Why did my event go there": `GET /_localbridge/events/<event-id>[?explain=true]`.
//!
//! The answer is built from the journal (what routing did, when it did it) and the delivery
//! ledger (what became of each delivery). With `explain=true`, each enabled rule of the bus that
//! did not match is explained by the reference evaluator ([`Pattern::explain`]): computed on
//! demand, from the same pattern semantics as matching, so it costs nothing until asked. The
//! rules explained are the bus's rules as they are now (a rule changed since the event was
//! routed is explained as it stands).
//!
//! [`Pattern::explain`]: lb_rules::pattern::Pattern::explain

use serde_json::{json, Value};

use crate::journal::JournalEntry;
use crate::Events;

impl Events {
    /// The report on an event, `None` when the journal does not have it (never routed here, or
    /// older than the journal keeps).
    pub fn event_report(&self, id: &str, explain: bool) -> Option<Value> {
        let entries = self.journal().get(id);
        let (first, rest) = entries.split_first()?;
        let mut report = self.bus_report(first, explain);
        if !rest.is_empty() {
            let later: Vec<Value> = rest.iter().map(|e| self.bus_report(e, explain)).collect();
            report["forwarded"] = Value::Array(later);
        }
        Some(report)
    }

    fn bus_report(&self, entry: &JournalEntry, explain: bool) -> Value {
        let event: Value = serde_json::from_str(&entry.event).unwrap_or(Value::Null);
        let ledger = self.engine.ledger();
        let matched: Vec<Value> = entry
            .matched
            .iter()
            .map(|m| {
                let deliveries: Vec<Value> = m
                    .deliveries
                    .iter()
                    .map(|id| {
                        ledger
                            .get(*id)
                            .and_then(|r| serde_json::to_value(r).ok())
                            .unwrap_or_else(|| json!({ "id": id, "note": "no longer in the ledger" }))
                    })
                    .collect();
                let mut v = json!({ "rule": &*m.rule, "arn": &*m.arn, "deliveries": deliveries });
                if !m.errors.is_empty() {
                    v["errors"] = json!(m.errors);
                }
                v
            })
            .collect();
        let mut report = json!({
            "event": event,
            "bus": &*entry.bus,
            "routedAt": lb_core::clock::iso8601_millis(entry.at),
            "matched": matched,
        });
        if explain {
            report["unmatched"] = Value::Array(self.unmatched(entry, &event));
        }
        report
    }

    /// Each enabled rule of the entry's bus that did not match, with the first field of its
    /// pattern that failed.
    fn unmatched(&self, entry: &JournalEntry, event: &Value) -> Vec<Value> {
        let Some(bus) = self.bus_by_arn(&entry.bus) else {
            return Vec::new();
        };
        let rules = bus.router().rules();
        rules
            .iter()
            .filter(|r| !entry.matched.iter().any(|m| m.rule == r.name))
            .map(|r| match r.pattern.explain(event) {
                Some(m) => json!({
                    "rule": &*r.name,
                    "arn": &*r.arn,
                    "field": m.field,
                    "actual": m.actual,
                    "reason": m.reason,
                }),
                None => json!({
                    "rule": &*r.name,
                    "arn": &*r.arn,
                    "field": null,
                    "actual": null,
                    "reason": "matches now: the rule was added or changed after the event was routed",
                }),
            })
            .collect()
    }
}
