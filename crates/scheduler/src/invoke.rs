//! What a schedule invokes and what its target receives.
//!
//! A schedule's target is compiled once, when the schedule is created or updated, into a
//! [`Plan`]: a templated target of a service localbridge emulates (SQS `SendMessage`, SNS
//! `Publish`, Lambda `Invoke` (asynchronous), EventBridge `PutEvents`, Kinesis and Firehose
//! `PutRecord`), a universal target
//! (`arn:aws:scheduler:::aws-sdk:<service>:<apiAction>`, its Input the API's parameters), or a
//! target of a service localbridge does not emulate (accepted as AWS accepts it; each invocation
//! fails with a clear reason and goes to the dead-letter queue, if any).
//!
//! Each attempt renders the Input with the context attributes the User Guide lists
//! (`<aws.scheduler.schedule-arn>`, `<aws.scheduler.scheduled-time>`,
//! `<aws.scheduler.execution-id>`, `<aws.scheduler.attempt-number>`) and turns it into the
//! messages the target service receives ([`Plan::messages`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use lb_core::arn::Arn;
use lb_core::deliver::{DeliveryError, Message, MessageAttribute};
use lb_core::AwsError;
use serde_json::{Map, Value};

use crate::model::TargetSpec;
use crate::validate::validation;

/// The prefix of a universal target's ARN.
pub const UNIVERSAL_PREFIX: &str = "arn:aws:scheduler:::aws-sdk:";

/// What a schedule's target is.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// A templated target of a service localbridge emulates.
    Templated { arn: Arc<Arn>, kind: Templated },
    /// `arn:aws:scheduler:::aws-sdk:<service>:<apiAction>`.
    Universal { service: String, action: String },
    /// A target localbridge does not emulate (ECS, Step Functions, SageMaker, ...).
    Unsupported { arn: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Templated {
    /// SQS `SendMessage`; `MessageGroupId` from `SqsParameters`.
    Sqs { group_id: Option<String> },
    /// SNS `Publish`.
    Sns,
    /// Lambda `Invoke`, asynchronous.
    Lambda,
    /// EventBridge `PutEvents` to a bus.
    EventBus { detail_type: String, source: String },
    /// Kinesis `PutRecord`; the partition key from `KinesisParameters.PartitionKey` (carried as
    /// the message group, which the Kinesis delivery target reads as the partition key).
    Kinesis { partition_key: String },
    /// Firehose `PutRecord`.
    Firehose,
}

/// The universal targets localbridge translates, as (service, apiAction).
pub const UNIVERSAL_SUPPORTED: &[(&str, &str)] = &[
    ("sqs", "sendMessage"),
    ("sns", "publish"),
    ("lambda", "invoke"),
    ("eventbridge", "putEvents"),
    ("events", "putEvents"),
];

fn is_json(s: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
}

impl Plan {
    /// Compiles a validated target (its `Arn` present).
    pub fn compile(target: &TargetSpec) -> Result<Plan, AwsError> {
        let arn_text = target.arn.as_deref().unwrap_or_default();
        if let Some(rest) = arn_text.strip_prefix(UNIVERSAL_PREFIX) {
            let (service, action) = rest.split_once(':').unwrap_or((rest, ""));
            if service.is_empty() || action.is_empty() || action.contains(':') {
                return Err(validation(format!("Invalid target ARN {arn_text}.")));
            }
            if target.input.as_deref().is_some_and(|i| !is_json(i)) {
                return Err(validation("Target Input must be a valid JSON for a universal target."));
            }
            return Ok(Plan::Universal {
                service: service.to_owned(),
                action: action.to_owned(),
            });
        }
        let arn: Arn = arn_text
            .parse()
            .map_err(|_| validation("Provided Arn is not in correct format."))?;
        let needs_json = matches!(arn.service.as_str(), "lambda" | "events" | "states");
        if needs_json && target.input.as_deref().is_some_and(|i| !is_json(i)) {
            return Err(validation(format!(
                "Target Input must be a valid JSON for a {} target.",
                arn.service
            )));
        }
        let kind = match (arn.service.as_str(), arn.resource.as_str()) {
            ("sqs", _) => Templated::Sqs {
                group_id: target.sqs_parameters.as_ref().and_then(|p| p.message_group_id.clone()),
            },
            ("sns", _) => Templated::Sns,
            ("lambda", r) if r.starts_with("function:") => Templated::Lambda,
            ("events", r) if r.starts_with("event-bus/") => {
                let Some(p) = &target.event_bridge_parameters else {
                    return Err(validation(
                        "EventBridgeParameters must be specified for an EventBridge PutEvents target.",
                    ));
                };
                Templated::EventBus {
                    detail_type: p.detail_type.clone().unwrap_or_default(),
                    source: p.source.clone().unwrap_or_default(),
                }
            }
            ("kinesis", r) if r.starts_with("stream/") => {
                let key = target
                    .kinesis_parameters
                    .as_ref()
                    .and_then(|p| p.get("PartitionKey"))
                    .and_then(Value::as_str);
                let Some(key) = key else {
                    return Err(validation(
                        "KinesisParameters must be specified for a Kinesis PutRecord target.",
                    ));
                };
                let len = key.chars().count();
                if !(1..=256).contains(&len) {
                    return Err(validation(format!(
                        "1 validation error detected: Value '{key}' at 'target.kinesisParameters.partitionKey' failed to satisfy constraint: Member must have length {}",
                        if len == 0 {
                            "greater than or equal to 1"
                        } else {
                            "less than or equal to 256"
                        }
                    )));
                }
                Templated::Kinesis {
                    partition_key: key.to_owned(),
                }
            }
            ("firehose", r) if r.starts_with("deliverystream/") => Templated::Firehose,
            _ => {
                return Ok(Plan::Unsupported {
                    arn: arn_text.to_owned(),
                })
            }
        };
        Ok(Plan::Templated {
            arn: Arc::new(arn),
            kind,
        })
    }
}

/// What one invocation's payload is rendered with.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub schedule_arn: &'a str,
    /// `2022-03-22T18:59:43Z`.
    pub scheduled_time: &'a str,
    pub execution_id: &'a str,
    pub attempt: u32,
    pub region: &'a str,
    pub account: &'a str,
    /// When the attempt is made (the `time` of an EventBridge event).
    pub now_millis: u64,
}

/// The Input with the context attributes substituted.
pub fn render(input: &str, ctx: &Context<'_>) -> String {
    if !input.contains("<aws.scheduler.") {
        return input.to_owned();
    }
    input
        .replace("<aws.scheduler.schedule-arn>", ctx.schedule_arn)
        .replace("<aws.scheduler.scheduled-time>", ctx.scheduled_time)
        .replace("<aws.scheduler.execution-id>", ctx.execution_id)
        .replace("<aws.scheduler.attempt-number>", &ctx.attempt.to_string())
}

/// `2022-03-22T18:59:43Z`: UTC, whole seconds (the form the context attribute and the
/// dead-letter attribute `SCHEDULED_TIME` use).
pub fn seconds_text(millis: u64) -> String {
    let s = lb_core::clock::iso8601_millis(millis - millis % 1000);
    s.replace(".000Z", "Z")
}

/// A failure that is the request's fault: never retried.
fn invalid(code: &str, message: impl Into<String>) -> DeliveryError {
    DeliveryError::terminal(code, message)
}

fn not_emulated(what: &str) -> DeliveryError {
    DeliveryError::terminal(
        "NotImplemented",
        format!("localbridge does not emulate {what} as an EventBridge Scheduler target"),
    )
}

/// The ARN of a queue URL (`http(s)://host/<account>/<name>`); the region from an
/// `sqs.<region>.` host, else the schedule's.
pub fn queue_arn_of_url(url: &str, region: &str) -> Option<Arn> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, path) = rest.split_once('/')?;
    let mut segs = path.trim_end_matches('/').split('/');
    let (account, name) = (segs.next()?, segs.next()?);
    if segs.next().is_some() || account.is_empty() || name.is_empty() {
        return None;
    }
    let host_region = host
        .split(':')
        .next()
        .and_then(|h| h.strip_prefix("sqs."))
        .and_then(|h| h.split('.').next())
        .filter(|r| r.contains('-'));
    Some(Arn::new("sqs", host_region.unwrap_or(region), account, name))
}

fn str_field<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    params.get(name).and_then(Value::as_str)
}

/// SQS/SNS `MessageAttributes` in the API's JSON form.
fn attributes_of(v: Option<&Value>) -> Result<BTreeMap<String, MessageAttribute>, DeliveryError> {
    let mut out = BTreeMap::new();
    let Some(map) = v.and_then(Value::as_object) else {
        return Ok(out);
    };
    for (name, a) in map {
        let data_type = a.get("DataType").and_then(Value::as_str).ok_or_else(|| {
            invalid(
                "InvalidParameterValue",
                format!("The message attribute '{name}' must contain a DataType."),
            )
        })?;
        let string_value = a.get("StringValue").and_then(Value::as_str).map(str::to_owned);
        let binary_value = match a.get("BinaryValue").and_then(Value::as_str) {
            Some(b) => Some(
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).map_err(|_| {
                    invalid(
                        "InvalidParameterValue",
                        format!("The message attribute '{name}' has an invalid BinaryValue."),
                    )
                })?,
            ),
            None => None,
        };
        out.insert(
            name.clone(),
            MessageAttribute {
                data_type: data_type.to_owned(),
                string_value,
                binary_value,
            },
        );
    }
    Ok(out)
}

/// An EventBridge event as a bus receives it from a `PutEvents` entry.
fn event(
    detail_type: &str,
    source: &str,
    detail: &str,
    resources: Vec<Value>,
    time: Option<&str>,
    ctx: &Context<'_>,
) -> Result<String, DeliveryError> {
    let detail: Value = serde_json::from_str(detail).map_err(|_| {
        invalid(
            "MalformedDetail",
            "Detail is malformed: the Input is not a JSON object.",
        )
    })?;
    if !detail.is_object() {
        return Err(invalid("MalformedDetail", "Detail is malformed."));
    }
    let time = time.map_or_else(|| seconds_text(ctx.now_millis), str::to_owned);
    let mut e = Map::new();
    e.insert("version".into(), "0".into());
    e.insert("id".into(), lb_core::ids::uuid().into());
    e.insert("detail-type".into(), detail_type.into());
    e.insert("source".into(), source.into());
    e.insert("account".into(), ctx.account.into());
    e.insert("time".into(), time.into());
    e.insert("region".into(), ctx.region.into());
    e.insert("resources".into(), Value::Array(resources));
    e.insert("detail".into(), detail);
    Ok(Value::Object(e).to_string())
}

fn bus_arn(name_or_arn: Option<&str>, ctx: &Context<'_>) -> Arc<Arn> {
    let name = name_or_arn.unwrap_or("default");
    Arc::new(
        name.parse::<Arn>()
            .unwrap_or_else(|_| Arn::new("events", ctx.region, ctx.account, &format!("event-bus/{name}"))),
    )
}

/// A deliverable for a target: its ARN and message.
pub type Outgoing = (Arc<Arn>, Message);

impl Plan {
    /// The messages one attempt delivers, from the rendered Input (`None`: no Input).
    pub fn messages(&self, input: Option<&str>, ctx: &Context<'_>) -> Result<Vec<Outgoing>, DeliveryError> {
        match self {
            Plan::Templated { arn, kind } => {
                // No Input: AWS delivers "a default notification"; its shape is not documented,
                // so an empty JSON object stands in for it.
                let body = input.unwrap_or("{}");
                let mut msg = Message::new(body);
                match kind {
                    Templated::Sqs { group_id } => msg.group_id.clone_from(group_id),
                    Templated::Kinesis { partition_key } => msg.group_id = Some(partition_key.clone()),
                    Templated::Sns | Templated::Lambda | Templated::Firehose => {}
                    Templated::EventBus { detail_type, source } => {
                        let text = event(
                            detail_type,
                            source,
                            body,
                            vec![Value::from(ctx.schedule_arn)],
                            None,
                            ctx,
                        )?;
                        msg = Message::new(text);
                        msg.source_account = Some(ctx.account.into());
                    }
                }
                Ok(vec![(Arc::clone(arn), msg)])
            }
            Plan::Unsupported { arn } => Err(not_emulated(arn)),
            Plan::Universal { service, action } => {
                let Some(input) = input else {
                    return Err(invalid(
                        "ValidationException",
                        format!("The universal target {service}:{action} needs its parameters as the Input."),
                    ));
                };
                let params: Map<String, Value> = serde_json::from_str(input).map_err(|_| {
                    invalid(
                        "ValidationException",
                        "The Input is not a JSON object of API parameters.",
                    )
                })?;
                universal(service, action, &params, ctx)
            }
        }
    }
}

fn missing(name: &str) -> DeliveryError {
    invalid(
        "MissingParameter",
        format!("The request must contain the parameter {name}."),
    )
}

fn universal(
    service: &str,
    action: &str,
    params: &Map<String, Value>,
    ctx: &Context<'_>,
) -> Result<Vec<Outgoing>, DeliveryError> {
    let action_lc = action.to_ascii_lowercase();
    match (service, action_lc.as_str()) {
        ("sqs", "sendmessage") => {
            let url = str_field(params, "QueueUrl").ok_or_else(|| missing("QueueUrl"))?;
            let body = str_field(params, "MessageBody").ok_or_else(|| missing("MessageBody"))?;
            let arn = queue_arn_of_url(url, ctx.region).ok_or_else(|| {
                invalid(
                    "AWS.SimpleQueueService.NonExistentQueue",
                    "The specified queue does not exist for this wsdl version.",
                )
            })?;
            if params
                .get("DelaySeconds")
                .and_then(Value::as_i64)
                .is_some_and(|d| d != 0)
            {
                return Err(not_emulated("sqs:sendMessage with DelaySeconds"));
            }
            let mut msg = Message::new(body);
            msg.attributes = attributes_of(params.get("MessageAttributes"))?;
            msg.group_id = str_field(params, "MessageGroupId").map(str::to_owned);
            msg.dedup_id = str_field(params, "MessageDeduplicationId").map(str::to_owned);
            msg.trace_header = params
                .get("MessageSystemAttributes")
                .and_then(|a| a.get("AWSTraceHeader"))
                .and_then(|a| a.get("StringValue"))
                .and_then(Value::as_str)
                .map(Into::into);
            Ok(vec![(Arc::new(arn), msg)])
        }
        ("sns", "publish") => {
            let topic = str_field(params, "TopicArn")
                .or_else(|| str_field(params, "TargetArn"))
                .ok_or_else(|| {
                    if params.contains_key("PhoneNumber") {
                        not_emulated("sns:publish to a phone number")
                    } else {
                        missing("TopicArn")
                    }
                })?;
            let text = str_field(params, "Message").ok_or_else(|| missing("Message"))?;
            if params.get("MessageStructure").is_some() {
                return Err(not_emulated("sns:publish with MessageStructure"));
            }
            let arn: Arn = topic
                .parse()
                .map_err(|_| invalid("InvalidParameter", "Invalid parameter: TopicArn"))?;
            let mut msg = Message::new(text);
            msg.subject = str_field(params, "Subject").map(str::to_owned);
            msg.attributes = attributes_of(params.get("MessageAttributes"))?;
            msg.group_id = str_field(params, "MessageGroupId").map(str::to_owned);
            msg.dedup_id = str_field(params, "MessageDeduplicationId").map(str::to_owned);
            Ok(vec![(Arc::new(arn), msg)])
        }
        ("lambda", "invoke") => {
            let name = str_field(params, "FunctionName").ok_or_else(|| missing("FunctionName"))?;
            let qualifier = str_field(params, "Qualifier");
            let arn = function_arn(name, qualifier, ctx);
            let payload = match params.get("Payload") {
                None | Some(Value::Null) => "{}".to_owned(),
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            };
            Ok(vec![(Arc::new(arn), Message::new(payload))])
        }
        ("eventbridge" | "events", "putevents") => {
            let entries = params
                .get("Entries")
                .and_then(Value::as_array)
                .ok_or_else(|| missing("Entries"))?;
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                let detail_type = e.get("DetailType").and_then(Value::as_str).unwrap_or_default();
                let source = e.get("Source").and_then(Value::as_str).unwrap_or_default();
                let detail = e.get("Detail").and_then(Value::as_str).unwrap_or("{}");
                let resources = e
                    .get("Resources")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let time = e.get("Time").and_then(Value::as_str);
                let bus = bus_arn(e.get("EventBusName").and_then(Value::as_str), ctx);
                let mut msg = Message::new(event(detail_type, source, detail, resources, time, ctx)?);
                msg.source_account = Some(ctx.account.into());
                out.push((bus, msg));
            }
            Ok(out)
        }
        _ => Err(not_emulated(&format!("{service}:{action}"))),
    }
}

/// A function's ARN from `FunctionName` (a name, a partial ARN `account:function:name` or an
/// ARN, each possibly with `:qualifier`) and `Qualifier`.
fn function_arn(name: &str, qualifier: Option<&str>, ctx: &Context<'_>) -> Arn {
    let mut arn = if let Ok(arn) = name.parse::<Arn>() {
        arn
    } else if let Some((account, rest)) = name.split_once(":function:") {
        Arn::new("lambda", ctx.region, account, &format!("function:{rest}"))
    } else {
        Arn::new("lambda", ctx.region, ctx.account, &format!("function:{name}"))
    };
    if let Some(q) = qualifier {
        let base = arn.resource.strip_prefix("function:").unwrap_or(&arn.resource);
        let fname = base.split(':').next().unwrap_or(base).to_owned();
        arn.resource = format!("function:{fname}:{q}");
    }
    arn
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context<'static> {
        Context {
            schedule_arn: "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s",
            scheduled_time: "2026-03-08T07:00:00Z",
            execution_id: "0123456789abcdef",
            attempt: 2,
            region: "us-east-1",
            account: "000000000000",
            now_millis: 1_772_953_200_000,
        }
    }

    #[test]
    fn renders_context_attributes() {
        let out = render(
            r#"{"a":"<aws.scheduler.schedule-arn>","t":"<aws.scheduler.scheduled-time>","e":"<aws.scheduler.execution-id>","n":"<aws.scheduler.attempt-number>"}"#,
            &ctx(),
        );
        assert_eq!(
            out,
            r#"{"a":"arn:aws:scheduler:us-east-1:000000000000:schedule/default/s","t":"2026-03-08T07:00:00Z","e":"0123456789abcdef","n":"2"}"#
        );
    }

    #[test]
    fn queue_urls() {
        assert_eq!(
            queue_arn_of_url("https://sqs.us-west-2.amazonaws.com/123456789012/q", "us-east-1")
                .unwrap()
                .to_string(),
            "arn:aws:sqs:us-west-2:123456789012:q"
        );
        assert_eq!(
            queue_arn_of_url("http://127.0.0.1:4566/000000000000/q", "eu-west-1")
                .unwrap()
                .to_string(),
            "arn:aws:sqs:eu-west-1:000000000000:q"
        );
        assert!(queue_arn_of_url("http://127.0.0.1:4566/q", "eu-west-1").is_none());
    }

    #[test]
    fn function_names() {
        let c = ctx();
        assert_eq!(
            function_arn("f", None, &c).to_string(),
            "arn:aws:lambda:us-east-1:000000000000:function:f"
        );
        assert_eq!(
            function_arn("f", Some("live"), &c).to_string(),
            "arn:aws:lambda:us-east-1:000000000000:function:f:live"
        );
        assert_eq!(
            function_arn("111111111111:function:f:3", None, &c).to_string(),
            "arn:aws:lambda:us-east-1:111111111111:function:f:3"
        );
    }

    #[test]
    fn event_bus_target_event() {
        let plan = Plan::Templated {
            arn: Arc::new(
                "arn:aws:events:us-east-1:000000000000:event-bus/default"
                    .parse()
                    .unwrap(),
            ),
            kind: Templated::EventBus {
                detail_type: "Reminder".into(),
                source: "my.app".into(),
            },
        };
        let out = plan.messages(Some(r#"{"k":1}"#), &ctx()).unwrap();
        let v: Value = serde_json::from_str(&out[0].1.body).unwrap();
        assert_eq!(v["source"], "my.app");
        assert_eq!(v["detail-type"], "Reminder");
        assert_eq!(v["detail"], serde_json::json!({"k": 1}));
        assert_eq!(
            v["resources"],
            serde_json::json!(["arn:aws:scheduler:us-east-1:000000000000:schedule/default/s"])
        );
        assert_eq!(v["time"], "2026-03-08T07:00:00Z");
    }

    #[test]
    fn universal_send_message() {
        let plan = Plan::Universal {
            service: "sqs".into(),
            action: "sendMessage".into(),
        };
        let out = plan
            .messages(
                Some(r#"{"QueueUrl":"http://localhost:4566/000000000000/q.fifo","MessageBody":"hi","MessageGroupId":"g","MessageAttributes":{"k":{"DataType":"String","StringValue":"v"}}}"#),
                &ctx(),
            )
            .unwrap();
        assert_eq!(out[0].0.to_string(), "arn:aws:sqs:us-east-1:000000000000:q.fifo");
        assert_eq!(&*out[0].1.body, "hi");
        assert_eq!(out[0].1.group_id.as_deref(), Some("g"));
        assert_eq!(out[0].1.attributes["k"].string_value.as_deref(), Some("v"));
        let err = plan.messages(Some(r#"{"MessageBody":"x"}"#), &ctx()).unwrap_err();
        assert_eq!(err.code, "MissingParameter");
    }

    #[test]
    fn kinesis_and_firehose_targets() {
        let spec = |arn: &str, params: Option<Value>| crate::model::TargetSpec {
            arn: Some(arn.to_owned()),
            kinesis_parameters: params,
            ..Default::default()
        };
        let stream = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
        let plan = Plan::compile(&spec(stream, Some(serde_json::json!({"PartitionKey": "pk-1"})))).unwrap();
        let out = plan.messages(Some(r#"{"a":1}"#), &ctx()).unwrap();
        assert_eq!(out[0].0.to_string(), stream);
        assert_eq!(&*out[0].1.body, r#"{"a":1}"#);
        assert_eq!(out[0].1.group_id.as_deref(), Some("pk-1"));
        let err = Plan::compile(&spec(stream, None)).unwrap_err();
        assert_eq!(err.code, "ValidationException");
        let err = Plan::compile(&spec(stream, Some(serde_json::json!({"PartitionKey": ""})))).unwrap_err();
        assert_eq!(err.code, "ValidationException");
        let firehose = "arn:aws:firehose:us-east-1:000000000000:deliverystream/d";
        let plan = Plan::compile(&spec(firehose, None)).unwrap();
        let out = plan.messages(Some("line"), &ctx()).unwrap();
        assert_eq!(out[0].0.to_string(), firehose);
        assert_eq!(&*out[0].1.body, "line");
        assert_eq!(out[0].1.group_id, None);
    }
}
