//! The wire edge: AWS JSON 1.1 (`X-Amz-Target: AWSEvents.<Op>`), inputs and outputs as
//! botocore's `events` model names them, parsed once into the model types of [`crate::model`].

use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use lb_core::clock::BoxFuture;
use lb_core::{AwsError, RequestContext};
use lb_protocol::json::{JsonError, JsonVersion};
use lb_protocol::{ApiRequest, ServiceSpec};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::debug;

use crate::model::{CreateEventBusInput, EventBus, ListInput, PutRuleInput, Rule};
use crate::service::validation;
use crate::Events;

const VERSION: JsonVersion = JsonVersion::V1_1;

/// The operations served.
pub const OPERATIONS: [&str; 11] = [
    "CreateEventBus",
    "DeleteEventBus",
    "DeleteRule",
    "DescribeEventBus",
    "DescribeRule",
    "DisableRule",
    "EnableRule",
    "ListEventBuses",
    "ListRules",
    "PutRule",
    "TestEventPattern",
];

/// EventBridge operations in botocore's model not served yet: answered `NotImplemented`.
const NOT_YET: [&str; 46] = [
    "ActivateEventSource",
    "CancelReplay",
    "CreateApiDestination",
    "CreateArchive",
    "CreateConnection",
    "CreateEndpoint",
    "CreatePartnerEventSource",
    "DeactivateEventSource",
    "DeauthorizeConnection",
    "DeleteApiDestination",
    "DeleteArchive",
    "DeleteConnection",
    "DeleteEndpoint",
    "DeletePartnerEventSource",
    "DescribeApiDestination",
    "DescribeArchive",
    "DescribeConnection",
    "DescribeEndpoint",
    "DescribeEventSource",
    "DescribePartnerEventSource",
    "DescribeReplay",
    "ListApiDestinations",
    "ListArchives",
    "ListConnections",
    "ListEndpoints",
    "ListEventSources",
    "ListPartnerEventSourceAccounts",
    "ListPartnerEventSources",
    "ListReplays",
    "ListRuleNamesByTarget",
    "ListTagsForResource",
    "ListTargetsByRule",
    "PutEvents",
    "PutPartnerEvents",
    "PutPermission",
    "PutTargets",
    "RemovePermission",
    "RemoveTargets",
    "StartReplay",
    "TagResource",
    "UntagResource",
    "UpdateApiDestination",
    "UpdateArchive",
    "UpdateConnection",
    "UpdateEndpoint",
    "UpdateEventBus",
];

/// What identifies EventBridge's requests (botocore `events` 2015-10-07: protocol `json` 1.1,
/// target prefix `AWSEvents`, signing name `events`).
pub const SPEC: ServiceSpec = ServiceSpec {
    json: Some(VERSION),
    target_prefixes: &["AWSEvents."],
    operations: &OPERATIONS,
    max_body: 1024 * 1024,
    ..ServiceSpec::new("events")
};

/// EventBridge's wire edge as a gateway service.
pub struct EventsApi {
    events: Arc<Events>,
}

impl EventsApi {
    pub fn new(events: Arc<Events>) -> Self {
        Self { events }
    }
}

impl lb_protocol::Service for EventsApi {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
        let resp = handle_json(&self.events, &req.ctx, &req.operation, &req.body);
        Box::pin(async move { resp })
    }
}

/// Answers one JSON 1.1 request for `operation` (the `X-Amz-Target` suffix).
pub fn handle_json(events: &Events, ctx: &RequestContext, operation: &str, body: &[u8]) -> Response<Bytes> {
    match execute(events, ctx, operation, body) {
        Ok(v) => lb_protocol::json::ok(VERSION, &v, &ctx.request_id),
        Err(e) => {
            debug!(op = operation, code = %e.code, message = %e.message, "events error");
            lb_protocol::json::error_response(
                VERSION,
                &JsonError {
                    status: e.status,
                    type_name: &e.code,
                    message: &e.message,
                    query_error: None,
                },
                &ctx.request_id,
            )
        }
    }
}

fn input<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, AwsError> {
    lb_protocol::json::decode(body).map_err(|e| AwsError::new("SerializationException", 400, e.to_string()))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct NameJson {
    name: Option<String>,
    event_bus_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct CreateEventBusJson {
    name: Option<String>,
    event_source_name: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ListJson {
    name_prefix: Option<String>,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct PutRuleJson {
    name: Option<String>,
    event_bus_name: Option<String>,
    event_pattern: Option<String>,
    schedule_expression: Option<String>,
    state: Option<String>,
    description: Option<String>,
    role_arn: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct TestEventPatternJson {
    event_pattern: Option<String>,
    event: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EventBusJson<'a> {
    name: &'a str,
    arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    creation_time: f64,
    last_modified_time: f64,
}

fn seconds(millis: u64) -> f64 {
    millis as f64 / 1000.0
}

impl<'a> From<&'a EventBus> for EventBusJson<'a> {
    fn from(b: &'a EventBus) -> Self {
        Self {
            name: &b.name,
            arn: &b.arn,
            description: b.description.as_deref(),
            creation_time: seconds(b.created_millis),
            last_modified_time: seconds(b.last_modified_millis),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RuleJson<'a> {
    name: &'a str,
    arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_pattern: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule_expression: Option<&'a str>,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_arn: Option<&'a str>,
    event_bus_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by: Option<&'a str>,
}

fn rule_json(r: &Rule, created_by: bool) -> RuleJson<'_> {
    RuleJson {
        name: &r.name,
        arn: &r.arn,
        event_pattern: r.event_pattern.as_deref(),
        schedule_expression: r.schedule_expression.as_deref(),
        state: r.state.as_str(),
        description: r.description.as_deref(),
        role_arn: r.role_arn.as_deref(),
        event_bus_name: &r.event_bus_name,
        created_by: created_by.then_some(r.created_by.as_str()),
    }
}

fn to_value<T: Serialize>(v: T) -> Result<Value, AwsError> {
    serde_json::to_value(v).map_err(|e| AwsError::internal(e.to_string()))
}

fn list_input(j: ListJson) -> ListInput {
    ListInput {
        name_prefix: j.name_prefix,
        event_bus_name: j.event_bus_name,
        next_token: j.next_token,
        limit: j.limit,
    }
}

fn execute(events: &Events, ctx: &RequestContext, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    let empty = || Value::Object(serde_json::Map::new());
    Ok(match operation {
        "CreateEventBus" => {
            let j: CreateEventBusJson = input(body)?;
            let bus = events.create_event_bus(
                ctx,
                CreateEventBusInput {
                    name: j.name,
                    event_source_name: j.event_source_name,
                    description: j.description,
                },
            )?;
            let mut out = serde_json::json!({ "EventBusArn": bus.arn });
            if let Some(d) = bus.description {
                out["Description"] = Value::String(d);
            }
            out
        }
        "DescribeEventBus" => {
            let j: NameJson = input(body)?;
            to_value(EventBusJson::from(&events.describe_event_bus(ctx, j.name.as_deref())?))?
        }
        "ListEventBuses" => {
            let page = events.list_event_buses(ctx, &list_input(input(body)?))?;
            let buses: Vec<EventBusJson<'_>> = page.items.iter().map(EventBusJson::from).collect();
            page_json("EventBuses", to_value(buses)?, page.next_token)
        }
        "DeleteEventBus" => {
            let j: NameJson = input(body)?;
            events.delete_event_bus(ctx, j.name.as_deref())?;
            empty()
        }
        "PutRule" => {
            let j: PutRuleJson = input(body)?;
            let arn = events.put_rule(
                ctx,
                PutRuleInput {
                    name: j.name,
                    event_bus_name: j.event_bus_name,
                    event_pattern: j.event_pattern,
                    schedule_expression: j.schedule_expression,
                    state: j.state,
                    description: j.description,
                    role_arn: j.role_arn,
                },
            )?;
            serde_json::json!({ "RuleArn": arn })
        }
        "DescribeRule" => {
            let j: NameJson = input(body)?;
            let rule = events.describe_rule(ctx, j.name.as_deref(), j.event_bus_name.as_deref())?;
            to_value(rule_json(&rule, true))?
        }
        "ListRules" => {
            let page = events.list_rules(ctx, &list_input(input(body)?))?;
            let rules: Vec<RuleJson<'_>> = page.items.iter().map(|r| rule_json(r, false)).collect();
            page_json("Rules", to_value(rules)?, page.next_token)
        }
        "DeleteRule" => {
            let j: NameJson = input(body)?;
            events.delete_rule(ctx, j.name.as_deref(), j.event_bus_name.as_deref())?;
            empty()
        }
        "EnableRule" => {
            let j: NameJson = input(body)?;
            events.enable_rule(ctx, j.name.as_deref(), j.event_bus_name.as_deref())?;
            empty()
        }
        "DisableRule" => {
            let j: NameJson = input(body)?;
            events.disable_rule(ctx, j.name.as_deref(), j.event_bus_name.as_deref())?;
            empty()
        }
        "TestEventPattern" => {
            let j: TestEventPatternJson = input(body)?;
            let result = events.test_event_pattern(j.event_pattern.as_deref(), j.event.as_deref())?;
            serde_json::json!({ "Result": result })
        }
        op if NOT_YET.contains(&op) => {
            return Err(AwsError::new(
                "NotImplemented",
                501,
                format!("localbridge does not implement the events operation {op} yet"),
            ))
        }
        "" => return Err(validation("Missing the X-Amz-Target operation.")),
        op => {
            return Err(AwsError::new(
                "UnknownOperationException",
                400,
                format!("Operation {op} is not supported."),
            ))
        }
    })
}

/// A list operation's output: the items under `key`, and `NextToken` when there are more.
fn page_json(key: &str, items: Value, next_token: Option<String>) -> Value {
    let mut out = serde_json::Map::new();
    out.insert(key.to_owned(), items);
    if let Some(t) = next_token {
        out.insert("NextToken".to_owned(), Value::String(t));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lb_core::ManualClock;

    fn call(events: &Events, op: &str, body: &str) -> (u16, Value) {
        let r = handle_json(events, &RequestContext::default(), op, body.as_bytes());
        (r.status().as_u16(), serde_json::from_slice(r.body()).unwrap())
    }

    #[test]
    fn wire_shapes_and_errors() {
        let events = Events::new(Arc::new(ManualClock::new(1_700_000_000_000)));
        let (s, v) = call(
            &events,
            "PutRule",
            r#"{"Name":"r","EventPattern":"{\"source\":[\"a\"]}"}"#,
        );
        assert_eq!(
            (s, v["RuleArn"].as_str()),
            (200, Some("arn:aws:events:us-east-1:000000000000:rule/r"))
        );
        let (s, v) = call(&events, "DescribeRule", r#"{"Name":"r"}"#);
        assert_eq!(s, 200);
        assert_eq!(v["State"], "ENABLED");
        assert_eq!(v["EventBusName"], "default");
        assert_eq!(v["CreatedBy"], "000000000000");
        let (s, v) = call(&events, "DescribeEventBus", "");
        assert_eq!((s, v["Name"].as_str()), (200, Some("default")));
        assert_eq!(v["CreationTime"], 1_700_000_000.0);
        let (s, v) = call(
            &events,
            "PutRule",
            r#"{"Name":"r","EventPattern":"{\"source\":\"a\"}"}"#,
        );
        assert_eq!((s, v["__type"].as_str()), (400, Some("InvalidEventPatternException")));
        assert!(v["message"]
            .as_str()
            .unwrap()
            .starts_with("Event pattern is not valid. Reason: "));
        let (s, v) = call(&events, "PutTargets", "{}");
        assert_eq!((s, v["__type"].as_str()), (501, Some("NotImplemented")));
        let (s, v) = call(&events, "Nope", "{}");
        assert_eq!((s, v["__type"].as_str()), (400, Some("UnknownOperationException")));
        let (s, v) = call(&events, "ListRules", "{");
        assert_eq!((s, v["__type"].as_str()), (400, Some("SerializationException")));
        let (s, v) = call(&events, "ListEventBuses", r#"{"Limit":1}"#);
        assert_eq!(s, 200);
        assert_eq!(v["EventBuses"].as_array().unwrap().len(), 1);
        assert!(v.get("NextToken").is_none());
    }
}
