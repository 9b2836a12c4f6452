//! A bus's resource policy (PutPermission, RemovePermission), UpdateEventBus, and tags.
//!
//! The policy decides which other accounts may send to the bus (PutEvents with the bus's ARN,
//! or a rule of another account whose target is the bus). Statements with a `Condition`
//! (`aws:PrincipalOrgID`) grant nothing locally: there are no organizations to check them
//! against.

use std::collections::BTreeMap;

use lb_core::policy::glob_ignore_ascii_case;
use lb_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use super::{bus_name, check_length, constraint, not_found, required, validation, Events};
use crate::model::{EventBus, UpdateEventBusInput};

/// Whether `policy` lets `account` call `events:PutEvents` on its bus.
pub(crate) fn allows_put_events(policy: Option<&Value>, account: &str) -> bool {
    let Some(statements) = policy.and_then(|p| p.get("Statement")) else {
        return false;
    };
    let list: Vec<&Value> = match statements {
        Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    let strings = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        }
    };
    let principal_ok = |p: &Value| match p {
        Value::String(s) => s == "*",
        Value::Object(m) => m.get("AWS").is_some_and(|v| {
            strings(v)
                .iter()
                .any(|s| s == "*" || s == account || *s == format!("arn:aws:iam::{account}:root"))
        }),
        _ => false,
    };
    let mut allowed = false;
    for st in list {
        let applies = st.get("Principal").is_some_and(principal_ok)
            && st
                .get("Action")
                .is_some_and(|a| strings(a).iter().any(|a| glob_ignore_ascii_case(a, "events:PutEvents")))
            && st.get("Condition").is_none();
        if applies {
            match st.get("Effect").and_then(Value::as_str) {
                Some("Deny") => return false,
                Some("Allow") => allowed = true,
                _ => {}
            }
        }
    }
    allowed
}

/// PutPermission's input.
#[derive(Debug, Clone, Default)]
pub struct PutPermissionInput {
    pub event_bus_name: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub statement_id: Option<String>,
    pub condition: Option<Value>,
    pub policy: Option<String>,
}

impl Events {
    pub fn put_permission(&self, ctx: &RequestContext, input: PutPermissionInput) -> Result<(), AwsError> {
        let bus = bus_name(input.event_bus_name.as_deref())?;
        let policy = if let Some(text) = &input.policy {
            let doc: Value = serde_json::from_str(text)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| validation("Parameter Policy is not valid. Reason: Policy is not valid JSON."))?;
            Some(doc)
        } else {
            None
        };
        let statement = if policy.is_none() {
            let action = required(input.action.as_deref(), "action")?;
            check_length(action, "action", 1, 64)?;
            if !action.starts_with("events:") {
                return Err(constraint(
                    Some(action),
                    "action",
                    "Member must satisfy regular expression pattern: events:[a-zA-Z]+",
                ));
            }
            if action != "events:PutEvents" {
                return Err(validation("Provided value in parameter 'action' is not supported."));
            }
            let principal = required(input.principal.as_deref(), "principal")?;
            let ok = principal == "*" || (principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(constraint(
                    Some(principal),
                    "principal",
                    r"Member must satisfy regular expression pattern: (\d{12}|\*)",
                ));
            }
            let sid = required(input.statement_id.as_deref(), "statementId")?;
            check_length(sid, "statementId", 1, 64)?;
            if !sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(constraint(
                    Some(sid),
                    "statementId",
                    "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+",
                ));
            }
            if principal == "*" && input.condition.is_none() {
                // AWS refuses an open grant without an organization condition.
                return Err(validation(
                    "Parameter(s) Condition must be specified when Principal is '*'.",
                ));
            }
            let principal = if principal == "*" {
                json!("*")
            } else {
                json!({ "AWS": format!("arn:aws:iam::{principal}:root") })
            };
            let mut st = json!({
                "Sid": sid,
                "Effect": "Allow",
                "Principal": principal,
                "Action": "events:PutEvents",
            });
            if let Some(c) = &input.condition {
                let get = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
                let (Some(t), Some(k), Some(v)) = (get("Type"), get("Key"), get("Value")) else {
                    return Err(constraint(None, "condition.type", "Member must not be null"));
                };
                st["Condition"] = json!({ t: { k: v } });
            }
            Some((sid.to_owned(), st))
        } else {
            None
        };
        self.with_scope(ctx, |scope| {
            let b = scope.buses.get_mut(&bus).ok_or_else(|| Self::bus_missing(&bus))?;
            let doc = match (policy, statement) {
                (Some(doc), _) => doc,
                (None, Some((sid, mut st))) => {
                    st["Resource"] = json!(b.bus.arn);
                    let mut doc = b
                        .policy
                        .take()
                        .unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
                    if let Some(list) = doc.get_mut("Statement").and_then(Value::as_array_mut) {
                        list.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(&sid));
                        list.push(st);
                    }
                    doc
                }
                (None, None) => return Ok(()),
            };
            b.handle.set_policy(Some(doc.clone()));
            b.policy = Some(doc);
            Ok(())
        })
    }

    pub fn remove_permission(
        &self,
        ctx: &RequestContext,
        bus: Option<&str>,
        statement_id: Option<&str>,
        remove_all: bool,
    ) -> Result<(), AwsError> {
        let bus = bus_name(bus)?;
        self.with_scope(ctx, |scope| {
            let b = scope.buses.get_mut(&bus).ok_or_else(|| Self::bus_missing(&bus))?;
            if remove_all {
                b.policy = None;
                b.handle.set_policy(None);
                return Ok(());
            }
            let sid = required(statement_id, "statementId")?;
            let Some(doc) = b.policy.as_mut() else {
                return Err(not_found("EventBus does not have a policy."));
            };
            let list = doc.get_mut("Statement").and_then(Value::as_array_mut);
            let found = list.is_some_and(|l| {
                let before = l.len();
                l.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid));
                l.len() != before
            });
            if !found {
                return Err(not_found("Statement with the provided id does not exist."));
            }
            let doc = b.policy.clone();
            b.handle.set_policy(doc);
            Ok(())
        })
    }

    /// UpdateEventBus: the description, and the settings AWS keeps for KMS failures and logging
    /// (stored and returned; see the crate documentation for what they do locally).
    pub fn update_event_bus(&self, ctx: &RequestContext, input: UpdateEventBusInput) -> Result<EventBus, AwsError> {
        let name = bus_name(input.name.as_deref())?;
        if let Some(d) = &input.description {
            check_length(d, "description", 0, 512)?;
        }
        let now = self.clock.now_millis();
        self.with_scope(ctx, |scope| {
            let b = scope.buses.get_mut(&name).ok_or_else(|| Self::bus_missing(&name))?;
            if input.description.is_some() {
                b.bus.description = input.description.filter(|d| !d.is_empty());
            }
            if input.dead_letter_config.is_some() {
                b.bus.dead_letter_config = input.dead_letter_config;
            }
            if input.kms_key_identifier.is_some() {
                b.bus.kms_key_identifier = input.kms_key_identifier;
            }
            if input.log_config.is_some() {
                b.bus.log_config = input.log_config;
            }
            b.bus.last_modified_millis = now;
            Ok(b.bus.clone())
        })
    }

    /// Whether the ARN names a bus or rule of the caller's, for tagging.
    fn check_taggable(scope: &super::Scope, arn: &str) -> Result<(), AwsError> {
        let known = scope
            .buses
            .values()
            .any(|b| b.bus.arn == arn || b.rules.values().any(|r| r.rule.arn == arn));
        if known {
            return Ok(());
        }
        let (kind, name) = arn
            .rsplit_once(':')
            .map_or(("", arn), |(_, r)| r.split_once('/').unwrap_or(("", r)));
        Err(not_found(match kind {
            "rule" => {
                let (bus, rule) = name.rsplit_once('/').unwrap_or(("default", name));
                format!("Rule {rule} does not exist on EventBus {bus}.")
            }
            "event-bus" => format!("Event bus {name} does not exist."),
            _ => format!("Resource {arn} does not exist."),
        }))
    }

    pub fn tag_resource(
        &self,
        ctx: &RequestContext,
        arn: Option<&str>,
        tags: Vec<(String, String)>,
    ) -> Result<(), AwsError> {
        let arn = required(arn, "resourceARN")?;
        check_length(arn, "resourceARN", 1, 1600)?;
        let mut seen = std::collections::BTreeSet::new();
        for (k, v) in &tags {
            check_length(k, "tags.member.key", 1, 128)?;
            check_length(v, "tags.member.value", 0, 256)?;
            if !seen.insert(k) {
                return Err(validation("Invalid parameter: Duplicated keys are not allowed."));
            }
        }
        self.with_scope(ctx, |scope| {
            Self::check_taggable(scope, arn)?;
            let entry = scope.tags.entry(arn.to_owned()).or_default();
            if entry.len() + tags.iter().filter(|(k, _)| !entry.contains_key(k)).count() > 50 {
                return Err(AwsError::new(
                    "LimitExceededException",
                    400,
                    "The requested resource exceeds the maximum number allowed.",
                ));
            }
            entry.extend(tags);
            Ok(())
        })
    }

    pub fn untag_resource(&self, ctx: &RequestContext, arn: Option<&str>, keys: Vec<String>) -> Result<(), AwsError> {
        let arn = required(arn, "resourceARN")?;
        self.with_scope(ctx, |scope| {
            Self::check_taggable(scope, arn)?;
            if let Some(t) = scope.tags.get_mut(arn) {
                for k in &keys {
                    t.remove(k);
                }
            }
            Ok(())
        })
    }

    pub fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        arn: Option<&str>,
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let arn = required(arn, "resourceARN")?;
        self.with_scope(ctx, |scope| {
            Self::check_taggable(scope, arn)?;
            Ok(scope.tags.get(arn).cloned().unwrap_or_default())
        })
    }
}
