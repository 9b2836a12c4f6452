//! PutTargets, RemoveTargets, ListTargetsByRule and ListRuleNamesByTarget.
//!
//! PutTargets checks each target as AWS does: model constraints (id, lengths, retry policy
//! ranges) fail the whole request with `ValidationException`; problems of one target (an ARN
//! that is not an ARN, a FIFO queue without `SqsParameters`) are reported in `FailedEntries`
//! while the others are saved. Targets are not required to exist yet: a missing target fails at
//! delivery, into the dead-letter queue and the ledger, as on AWS.

use std::collections::BTreeMap;
use std::sync::Arc;

use lb_core::arn::Arn;
use lb_core::{AwsError, RequestContext};
use lb_rules::transform::{InputPath, InputTransformer, TransformError};
use serde_json::Value;

use super::{bus_name, check_length, check_limit, constraint, limit_exceeded, sync_route, validation, Events};
use crate::connections::HttpParameters;
use crate::model::{Page, TargetFailure};
use crate::route::{RouteTarget, TargetInput};

/// Most targets in one PutTargets or ids in one RemoveTargets (botocore `TargetList.max`).
const MAX_TARGETS_PER_CALL: usize = 100;

fn field(index: usize, name: &str) -> String {
    format!("targets.{}.member.{name}", index + 1)
}

fn str_member<'a>(t: &'a Value, key: &str) -> Result<Option<&'a str>, String> {
    match t.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

fn int_member(t: &Value, key: &str) -> Option<i64> {
    t.get(key).and_then(Value::as_i64)
}

fn check_range(value: Option<i64>, field: &str, min: i64, max: i64) -> Result<Option<i64>, AwsError> {
    match value {
        Some(v) if v < min => Err(constraint(
            Some(&v.to_string()),
            field,
            &format!("Member must have value greater than or equal to {min}"),
        )),
        Some(v) if v > max => Err(constraint(
            Some(&v.to_string()),
            field,
            &format!("Member must have value less than or equal to {max}"),
        )),
        v => Ok(v),
    }
}

fn transform_error(index: usize, e: TransformError) -> AwsError {
    match e {
        TransformError::Constraint {
            field: f,
            value,
            constraint: c,
        } => constraint(Some(&value), &field(index, f), &c),
        other => validation(other.to_string()),
    }
}

/// A target checked against the model; `Ok(Err(failure))` for a problem AWS reports per entry.
fn compile(index: usize, t: &Value) -> Result<Result<RouteTarget, TargetFailure>, AwsError> {
    let serialization = |m: String| AwsError::new("SerializationException", 400, m);
    if !t.is_object() {
        return Err(serialization("Each target must be an object".to_owned()));
    }
    let id = str_member(t, "Id").map_err(serialization)?;
    let id = id.ok_or_else(|| constraint(None, &field(index, "id"), "Member must not be null"))?;
    check_length(id, &field(index, "id"), 1, 64)?;
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err(constraint(
            Some(id),
            &field(index, "id"),
            r"Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+",
        ));
    }
    let arn_text = str_member(t, "Arn").map_err(serialization)?;
    let arn_text = arn_text.ok_or_else(|| constraint(None, &field(index, "arn"), "Member must not be null"))?;
    check_length(arn_text, &field(index, "arn"), 1, 1600)?;
    if let Some(r) = str_member(t, "RoleArn").map_err(serialization)? {
        check_length(r, &field(index, "roleArn"), 1, 1600)?;
    }
    let input = str_member(t, "Input").map_err(serialization)?;
    let input_path = str_member(t, "InputPath").map_err(serialization)?;
    let transformer = t.get("InputTransformer").filter(|v| !v.is_null());
    if let Some(i) = input {
        check_length(i, &field(index, "input"), 0, 8192)?;
    }
    if let Some(p) = input_path {
        check_length(p, &field(index, "inputPath"), 0, 256)?;
    }
    let given = [input.is_some(), input_path.is_some(), transformer.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(validation(format!(
            "Only one of Input, InputPath, or InputTransformer must be provided for target {id}."
        )));
    }
    let retry = t.get("RetryPolicy").filter(|v| !v.is_null());
    let attempts = check_range(
        retry.and_then(|r| int_member(r, "MaximumRetryAttempts")),
        &field(index, "retryPolicy.maximumRetryAttempts"),
        0,
        185,
    )?;
    let age = check_range(
        retry.and_then(|r| int_member(r, "MaximumEventAgeInSeconds")),
        &field(index, "retryPolicy.maximumEventAgeInSeconds"),
        60,
        86_400,
    )?;
    let dlq = t
        .get("DeadLetterConfig")
        .and_then(|d| d.get("Arn"))
        .and_then(Value::as_str);
    if let Some(d) = dlq {
        check_length(d, &field(index, "deadLetterConfig.arn"), 1, 1600)?;
    }
    let group_id = t
        .get("SqsParameters")
        .and_then(|p| p.get("MessageGroupId"))
        .and_then(Value::as_str);
    if let Some(g) = group_id {
        check_length(g, &field(index, "sqsParameters.messageGroupId"), 0, 100)?;
    }
    let partition_key = match t.get("KinesisParameters").filter(|v| !v.is_null()) {
        None => None,
        Some(k) => {
            let name = field(index, "kinesisParameters.partitionKeyPath");
            let path = str_member(k, "PartitionKeyPath")
                .map_err(serialization)?
                .ok_or_else(|| constraint(None, &name, "Member must not be null"))?;
            check_length(path, &name, 0, 256)?;
            Some(InputPath::new(path).map_err(|e| transform_error(index, e))?)
        }
    };
    let input = match (input, input_path, transformer) {
        (Some(text), _, _) => {
            if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
                return Ok(Err(TargetFailure::new(
                    id,
                    "ValidationException",
                    format!("Parameter Input is not valid. Reason: Input for target {id} is not valid JSON."),
                )));
            }
            TargetInput::Constant(text.into())
        }
        (None, Some(path), _) => TargetInput::Path(InputPath::new(path).map_err(|e| transform_error(index, e))?),
        (None, None, Some(tr)) => {
            let template = tr.get("InputTemplate").and_then(Value::as_str).ok_or_else(|| {
                constraint(
                    None,
                    &field(index, "inputTransformer.inputTemplate"),
                    "Member must not be null",
                )
            })?;
            let paths: BTreeMap<String, String> = match tr.get("InputPathsMap") {
                None | Some(Value::Null) => BTreeMap::new(),
                Some(m) => {
                    serde_json::from_value(m.clone()).map_err(|e| serialization(format!("InputPathsMap: {e}")))?
                }
            };
            TargetInput::Transformer(InputTransformer::new(&paths, template).map_err(|e| transform_error(index, e))?)
        }
        (None, None, None) => TargetInput::Event,
    };
    let Ok(arn) = arn_text.parse::<Arn>() else {
        return Ok(Err(TargetFailure::new(
            id,
            "ValidationException",
            format!("Parameter {arn_text} is not valid. Reason: Provided Arn is not in correct format."),
        )));
    };
    let fifo = arn.service == "sqs" && arn.resource.ends_with(".fifo");
    if fifo && group_id.is_none() {
        return Ok(Err(TargetFailure::new(
            id,
            "ValidationException",
            format!("Parameter(s) SqsParameters must be specified for target: {id}."),
        )));
    }
    let dead_letter = match dlq {
        None => None,
        Some(d) => match d.parse::<Arn>() {
            Ok(a) if a.service == "sqs" && !a.resource.ends_with(".fifo") => Some(a),
            Ok(a) if a.service == "sqs" => {
                return Ok(Err(TargetFailure::new(
                    id,
                    "ValidationException",
                    format!("Parameter DeadLetterConfig.Arn is not valid. Reason: {d} is a FIFO queue; dead-letter queues must be standard SQS queues."),
                )))
            }
            _ => {
                return Ok(Err(TargetFailure::new(
                    id,
                    "ValidationException",
                    format!("Parameter DeadLetterConfig.Arn is not valid. Reason: {d} is not the ARN of an SQS queue."),
                )))
            }
        },
    };
    let http = match t.get("HttpParameters") {
        None | Some(Value::Null) => None,
        Some(h) => Some(
            serde_json::from_value::<HttpParameters>(h.clone())
                .map_err(|e| serialization(format!("HttpParameters: {e}")))?,
        ),
    };
    Ok(Ok(RouteTarget {
        id: id.into(),
        arn_text: arn_text.into(),
        arn: Arc::new(arn),
        input,
        retry: RouteTarget::retry_policy(attempts.map(|a| a as u32), age.map(|a| a as u64)),
        dead_letter: dead_letter.map(Arc::new),
        group_id: group_id.map(str::to_owned),
        fifo,
        http,
        partition_key,
    }))
}

impl Events {
    /// Adds or replaces targets of a rule; the failed entries, for the targets not saved.
    pub fn put_targets(
        &self,
        ctx: &RequestContext,
        rule: Option<&str>,
        bus: Option<&str>,
        targets: Option<Vec<Value>>,
    ) -> Result<Vec<TargetFailure>, AwsError> {
        let rule_name = super::required(rule, "rule")?;
        super::check_name(rule_name, "rule", 64, false)?;
        let targets = targets.ok_or_else(|| constraint(None, "targets", "Member must not be null"))?;
        if targets.is_empty() {
            return Err(constraint(
                Some("[]"),
                "targets",
                "Member must have length greater than or equal to 1",
            ));
        }
        if targets.len() > MAX_TARGETS_PER_CALL {
            return Err(constraint(
                Some(&format!("{} targets", targets.len())),
                "targets",
                "Member must have length less than or equal to 100",
            ));
        }
        let mut compiled = Vec::with_capacity(targets.len());
        for (i, t) in targets.iter().enumerate() {
            compiled.push((t, compile(i, t)?));
        }
        if let Some(arn) = compiled.iter().find_map(|(_, c)| match c {
            Ok(t) if t.arn.service == "events" && t.arn.resource.starts_with("api-destination/") => {
                (!self.destinations().exists(&t.arn)).then(|| t.arn_text.to_string())
            }
            _ => None,
        }) {
            return Err(super::not_found(format!("API destination {arn} does not exist.")));
        }
        let max_targets = self.config.max_targets_per_rule;
        let bus = bus_name(bus)?;
        self.with_scope(ctx, |scope| {
            let b = scope.buses.get_mut(&bus).ok_or_else(|| Self::bus_missing(&bus))?;
            let entry = b
                .rules
                .get_mut(rule_name)
                .ok_or_else(|| Self::rule_missing(rule_name, &bus))?;
            let new_ids = compiled
                .iter()
                .filter_map(|(_, c)| c.as_ref().ok())
                .filter(|t| !entry.targets.contains_key(&*t.id))
                .map(|t| &*t.id)
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            if entry.targets.len() + new_ids > max_targets {
                return Err(limit_exceeded());
            }
            let mut failures = Vec::new();
            for (raw, c) in compiled {
                match c {
                    Ok(t) => {
                        entry.targets.insert(t.id.to_string(), (raw.clone(), Arc::new(t)));
                    }
                    Err(f) => failures.push(f),
                }
            }
            sync_route(&b.handle, rule_name, Some(entry));
            Ok(failures)
        })
    }

    /// Removes targets by id; ids the rule does not have are reported as failed entries.
    pub fn remove_targets(
        &self,
        ctx: &RequestContext,
        rule: Option<&str>,
        bus: Option<&str>,
        ids: Option<Vec<String>>,
    ) -> Result<Vec<TargetFailure>, AwsError> {
        let ids = ids.ok_or_else(|| constraint(None, "ids", "Member must not be null"))?;
        if ids.is_empty() {
            return Err(constraint(
                Some("[]"),
                "ids",
                "Member must have length greater than or equal to 1",
            ));
        }
        if ids.len() > MAX_TARGETS_PER_CALL {
            return Err(constraint(
                Some(&format!("{} ids", ids.len())),
                "ids",
                "Member must have length less than or equal to 100",
            ));
        }
        for (i, id) in ids.iter().enumerate() {
            check_length(id, &format!("ids.{}.member", i + 1), 1, 64)?;
        }
        self.with_rule(ctx, rule, bus, |entry| {
            let mut failures = Vec::new();
            for id in ids {
                if entry.targets.remove(&id).is_none() {
                    failures.push(TargetFailure::new(
                        &id,
                        "ResourceNotFoundException",
                        format!("Rule '{}' does not have a target with the Id '{id}'.", entry.rule.name),
                    ));
                }
            }
            Ok(failures)
        })
    }

    /// A page of a rule's targets, as PutTargets took them.
    pub fn list_targets_by_rule(
        &self,
        ctx: &RequestContext,
        rule: Option<&str>,
        bus: Option<&str>,
        next_token: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, AwsError> {
        let input = crate::model::ListInput {
            next_token: next_token.map(str::to_owned),
            limit,
            ..Default::default()
        };
        self.with_rule(ctx, rule, bus, |entry| {
            super::page(&entry.targets, &input, |(raw, _)| raw.clone())
        })
    }

    /// The names of the bus's rules with a target of that ARN.
    pub fn list_rule_names_by_target(
        &self,
        ctx: &RequestContext,
        target_arn: Option<&str>,
        bus: Option<&str>,
        next_token: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<String>, AwsError> {
        let target_arn = super::required(target_arn, "targetArn")?;
        check_length(target_arn, "targetArn", 1, 1600)?;
        let bus = bus_name(bus)?;
        let limit = check_limit(limit)?;
        if let Some(t) = next_token {
            check_length(t, "nextToken", 1, 2048)?;
        }
        self.with_scope(ctx, |scope| {
            let b = scope.buses.get(&bus).ok_or_else(|| Self::bus_missing(&bus))?;
            let mut names = b
                .rules
                .iter()
                .filter(|(name, _)| next_token.is_none_or(|t| name.as_str() >= t))
                .filter(|(_, r)| r.targets.values().any(|(_, t)| &*t.arn_text == target_arn))
                .map(|(name, _)| name.clone());
            let items: Vec<String> = names.by_ref().take(limit).collect();
            Ok(Page {
                items,
                next_token: names.next(),
            })
        })
    }
}
