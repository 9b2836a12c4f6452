//! The wire edge: AWS JSON 1.1 (`X-Amz-Target: AWSEvents.<Op>`), inputs and outputs as
//! botocore's `events` model names them, parsed once into the model types of [`crate::model`].

mod archives;

use lb_protocol::json::input;
use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use lb_core::clock::BoxFuture;
use lb_core::{AwsError, RequestContext};
use lb_protocol::json::JsonVersion;
use lb_protocol::{ApiRequest, ServiceSpec};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::debug;

use crate::model::{
    CreateEventBusInput, EventBus, ListInput, PutEventsEntry, PutEventsResult, PutRuleInput, Rule, TargetFailure,
    UpdateEventBusInput,
};
use crate::service::validation;
use crate::{Events, PutPermissionInput};

const VERSION: JsonVersion = JsonVersion::V1_1;

/// The operations served (besides the connection and API destination ones of
/// [`crate::connections::Destinations::OPERATIONS`]).
pub const OPERATIONS: [&str; 22] = [
    "CreateEventBus",
    "DeleteEventBus",
    "DeleteRule",
    "DescribeEventBus",
    "DescribeRule",
    "DisableRule",
    "EnableRule",
    "ListEventBuses",
    "ListRuleNamesByTarget",
    "ListRules",
    "ListTagsForResource",
    "ListTargetsByRule",
    "PutEvents",
    "PutPermission",
    "PutRule",
    "PutTargets",
    "RemovePermission",
    "RemoveTargets",
    "TagResource",
    "TestEventPattern",
    "UntagResource",
    "UpdateEventBus",
];

/// EventBridge operations in botocore's model not served yet: answered `NotImplemented`.
const NOT_YET: [&str; 12] = [
    "ActivateEventSource",
    "CreateEndpoint",
    "CreatePartnerEventSource",
    "DeactivateEventSource",
    "DeleteEndpoint",
    "DeletePartnerEventSource",
    "DescribeEndpoint",
    "DescribeEventSource",
    "DescribePartnerEventSource",
    "ListEndpoints",
    "ListEventSources",
    "ListPartnerEventSourceAccounts",
];

/// More unserved operations (the table is split to keep each list readable).
const NOT_YET_MORE: [&str; 3] = ["ListPartnerEventSources", "PutPartnerEvents", "UpdateEndpoint"];

/// What identifies EventBridge's requests (botocore `events` 2015-10-07: protocol `json` 1.1,
/// target prefix `AWSEvents`, signing name `events`).
pub const SPEC: ServiceSpec = ServiceSpec {
    json: Some(VERSION),
    target_prefixes: &["AWSEvents."],
    operations: &ALL_OPERATIONS,
    max_body: 1024 * 1024,
    ..ServiceSpec::new("events")
};

/// Every operation answered here, served or not yet (the gateway routes them to this service).
const ALL_OPERATIONS: [&str; 57] = concat_ops();

const fn concat_ops() -> [&'static str; 57] {
    let mut out = [""; 57];
    let mut i = 0;
    let lists: [&[&str]; 5] = [
        &OPERATIONS,
        &crate::connections::Destinations::OPERATIONS,
        &archives::OPERATIONS,
        &NOT_YET,
        &NOT_YET_MORE,
    ];
    let mut l = 0;
    while l < lists.len() {
        let mut j = 0;
        while j < lists[l].len() {
            out[i] = lists[l][j];
            i += 1;
            j += 1;
        }
        l += 1;
    }
    out
}

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
        let resp = match req.header(REPLAY_HEADER).filter(|_| req.operation == "PutEvents") {
            Some(mark) => handle_replay(&self.events, &req.ctx, mark, &req.body),
            None => handle_json(&self.events, &req.ctx, &req.operation, &req.body),
        };
        Box::pin(async move { resp })
    }

    /// Per rule, under AWS's metric names and dimensions (`EventBusName`, `RuleName`).
    fn metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let rules = self.events.rule_metrics();
        let series: [(&str, &str); 6] = [
            ("MatchedEvents", "Events that matched the rule."),
            (
                "Invocations",
                "Target invocations that ended (delivered, dead-lettered or failed).",
            ),
            (
                "FailedInvocations",
                "Invocations that failed for good without reaching a dead-letter queue.",
            ),
            (
                "InvocationsSentToDlq",
                "Invocations sent to the target's dead-letter queue.",
            ),
            (
                "RetryInvocationAttempts",
                "Invocation attempts that failed and were retried.",
            ),
            (
                "ThrottledRules",
                "Deliveries refused because the delivery engine was full.",
            ),
        ];
        for (i, (name, help)) in series.into_iter().enumerate() {
            let _ = writeln!(out, "# HELP localbridge_events_{name} {help}");
            let _ = writeln!(out, "# TYPE localbridge_events_{name} counter");
            for (bus, rule, m) in &rules {
                let _ = writeln!(
                    out,
                    "localbridge_events_{name}{{EventBusName=\"{}\",RuleName=\"{}\"}} {}",
                    bus.rsplit_once("event-bus/").map_or(bus.as_str(), |(_, n)| n),
                    rule,
                    m.values()[i]
                );
            }
        }
        self.events.archive_metrics(out);
    }

    /// `events/<event-id>[?explain=true]`.
    fn admin(&self, path: &str, query: Option<&str>) -> Option<Response<Bytes>> {
        let id = path.strip_prefix("events/").filter(|id| *id != "tail")?;
        let explain = query.is_some_and(|q| {
            q.split('&')
                .any(|kv| matches!(kv, "explain=true" | "explain=1" | "explain"))
        });
        let (status, body) = match self.events.event_report(id, explain) {
            Some(report) => (200, report),
            None => (
                404,
                serde_json::json!({
                    "error": "NotFound",
                    "message": format!(
                        "no event {id} in the journal (it keeps the last {} events of all buses)",
                        self.events.journal().capacity()
                    ),
                }),
            ),
        };
        let mut resp = Response::new(Bytes::from(serde_json::to_vec_pretty(&body).unwrap_or_default()));
        *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        Some(resp)
    }

    /// `events/tail?bus=&pattern=&rule=&after=&wait=&limit=` (see [`crate::tail`]).
    fn admin_wait(&self, path: &str, query: Option<&str>) -> Option<BoxFuture<'_, Response<Bytes>>> {
        if path != "events/tail" {
            return None;
        }
        let req = crate::tail::TailRequest::parse(query);
        Some(Box::pin(async move {
            let answer = match req {
                Ok(req) => self.events.tail(&req).await,
                Err(e) => Err(e),
            };
            let (status, body) = match answer {
                Ok(batch) => (200, batch.to_json()),
                Err(e) => (
                    e.status,
                    serde_json::json!({ "error": e.code, "message": e.message }).to_string(),
                ),
            };
            let mut resp = Response::new(Bytes::from(body));
            *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            resp
        }))
    }
}

/// Answers one JSON 1.1 request for `operation` (the `X-Amz-Target` suffix).
pub fn handle_json(events: &Arc<Events>, ctx: &RequestContext, operation: &str, body: &[u8]) -> Response<Bytes> {
    match execute(events, ctx, operation, body) {
        Ok(Output::Value(v)) => lb_protocol::json::ok(VERSION, &v, &ctx.request_id),
        Ok(Output::PutEvents(out)) => lb_protocol::json::ok(VERSION, &out, &ctx.request_id),
        Err(e) => {
            debug!(op = operation, code = %e.code, message = %e.message, "events error");
            lb_protocol::json::aws_error_response(VERSION, &e, &ctx.request_id)
        }
    }
}

/// The request header of `localbridge replay`'s PutEvents (a localbridge extension, never sent
/// by AWS's clients): its value, a replay name, lifts the `aws.` source restriction and is
/// added to each event as `replay-name`, as EventBridge marks the events an archive replays.
pub const REPLAY_HEADER: &str = "x-localbridge-replay";

/// PutEvents under [`REPLAY_HEADER`]: the mark must be a valid replay name (botocore
/// `ReplayName`: 1 to 64 of `[\.\-_A-Za-z0-9]`).
fn handle_replay(events: &Events, ctx: &RequestContext, mark: &str, body: &[u8]) -> Response<Bytes> {
    let valid = (1..=64).contains(&mark.len())
        && mark
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    let result = if valid {
        put_events(events, ctx, body, Some(mark))
    } else {
        Err(AwsError::new(
            "ValidationException",
            400,
            format!("{REPLAY_HEADER}: a replay name is 1 to 64 of A-Z, a-z, 0-9, '.', '-', '_' (got {mark:?})"),
        ))
    };
    match result {
        Ok(out) => lb_protocol::json::ok(VERSION, &out, &ctx.request_id),
        Err(e) => lb_protocol::json::aws_error_response(VERSION, &e, &ctx.request_id),
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct NameJson {
    name: Option<String>,
    event_bus_name: Option<String>,
    /// DeleteRule's: a managed rule is deleted only with it.
    force: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct CreateEventBusJson {
    name: Option<String>,
    event_source_name: Option<String>,
    description: Option<String>,
    kms_key_identifier: Option<String>,
    dead_letter_config: Option<Value>,
    log_config: Option<Value>,
    tags: Option<Vec<TagJson>>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct TagJson {
    key: String,
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct TargetsJson {
    rule: Option<String>,
    event_bus_name: Option<String>,
    targets: Option<Vec<Value>>,
    ids: Option<Vec<String>>,
    target_arn: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
    /// RemoveTargets': a managed rule's targets are removed only with it.
    force: Option<bool>,
}

/// PutEvents's input, read in place from the request body where its strings have no escapes.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct PutEventsJson<'a> {
    #[serde(borrow)]
    entries: Option<Vec<EntryJson<'a>>>,
    endpoint_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct EntryJson<'a> {
    time: Option<f64>,
    #[serde(borrow)]
    source: Option<Text<'a>>,
    #[serde(borrow)]
    resources: Option<Vec<Text<'a>>>,
    #[serde(borrow)]
    detail_type: Option<Text<'a>>,
    #[serde(borrow)]
    detail: Option<Text<'a>>,
    #[serde(borrow)]
    event_bus_name: Option<Text<'a>>,
    #[serde(borrow)]
    trace_header: Option<Text<'a>>,
}

/// A JSON string borrowed from the input when it has no escapes, else unescaped into a copy.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visit(std::marker::PhantomData))
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct PermissionJson {
    event_bus_name: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    statement_id: Option<String>,
    condition: Option<Value>,
    policy: Option<String>,
    remove_all_permissions: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct UpdateEventBusJson {
    name: Option<String>,
    description: Option<String>,
    kms_key_identifier: Option<String>,
    dead_letter_config: Option<Value>,
    log_config: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TagsJson {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    #[serde(rename = "Tags")]
    tags: Option<Vec<TagJson>>,
    #[serde(rename = "TagKeys")]
    tag_keys: Option<Vec<String>>,
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
    tags: Option<Vec<TagJson>>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_identifier: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dead_letter_config: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_config: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<String>,
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
            kms_key_identifier: b.kms_key_identifier.as_deref(),
            dead_letter_config: b.dead_letter_config.as_ref(),
            log_config: b.log_config.as_ref(),
            policy: None,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    managed_by: Option<&'a str>,
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
        managed_by: r.managed_by.as_deref(),
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

/// An operation's output: a JSON value, or PutEvents' typed output (the hot path: serialized
/// straight to bytes, without building a `Value`).
enum Output {
    Value(Value),
    PutEvents(PutEventsOut),
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutEventsOut {
    failed_entry_count: usize,
    entries: Vec<PutEventsEntryOut>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum PutEventsEntryOut {
    Accepted {
        #[serde(rename = "EventId", serialize_with = "shared_str")]
        event_id: std::sync::Arc<str>,
    },
    Failed {
        #[serde(rename = "ErrorCode")]
        code: String,
        #[serde(rename = "ErrorMessage")]
        message: String,
    },
}

fn shared_str<S: serde::Serializer>(s: &std::sync::Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

fn execute(events: &Arc<Events>, ctx: &RequestContext, operation: &str, body: &[u8]) -> Result<Output, AwsError> {
    if operation == "PutEvents" {
        return put_events(events, ctx, body, None).map(Output::PutEvents);
    }
    execute_value(events, ctx, operation, body).map(Output::Value)
}

fn put_events(
    events: &Events,
    ctx: &RequestContext,
    body: &[u8],
    replay: Option<&str>,
) -> Result<PutEventsOut, AwsError> {
    let j: PutEventsJson<'_> = if body.iter().all(u8::is_ascii_whitespace) {
        PutEventsJson::default()
    } else {
        serde_json::from_slice(body).map_err(|e| AwsError::new("SerializationException", 400, e.to_string()))?
    };
    if let Some(e) = j.endpoint_id {
        return Err(AwsError::new(
            "NotImplemented",
            501,
            format!("localbridge does not implement global endpoints (EndpointId {e})"),
        ));
    }
    let entries = j.entries.map(|list| {
        list.into_iter()
            .map(|e| PutEventsEntry {
                time_millis: e
                    .time
                    .filter(|t| t.is_finite() && *t >= 0.0)
                    .map(|t| (t * 1000.0) as u64),
                source: e.source.map(|t| t.0),
                resources: e.resources.map(|list| list.into_iter().map(|t| t.0).collect()),
                detail_type: e.detail_type.map(|t| t.0),
                detail: e.detail.map(|t| t.0),
                event_bus_name: e.event_bus_name.map(|t| t.0),
                trace_header: e.trace_header.map(|t| t.0),
            })
            .collect()
    });
    let results = events.put_events_marked(ctx, entries, replay)?;
    let failed_entry_count = results
        .iter()
        .filter(|r| matches!(r, PutEventsResult::Failed { .. }))
        .count();
    let entries = results
        .into_iter()
        .map(|r| match r {
            PutEventsResult::Accepted { event_id } => PutEventsEntryOut::Accepted { event_id },
            PutEventsResult::Failed { code, message } => PutEventsEntryOut::Failed { code, message },
        })
        .collect();
    Ok(PutEventsOut {
        failed_entry_count,
        entries,
    })
}

fn execute_value(events: &Arc<Events>, ctx: &RequestContext, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    let empty = || Value::Object(serde_json::Map::new());
    Ok(match operation {
        "CreateEventBus" => {
            let j: CreateEventBusJson = input(body)?;
            let bus = events.create_event_bus(
                ctx,
                CreateEventBusInput {
                    name: j.name.clone(),
                    event_source_name: j.event_source_name,
                    description: j.description,
                },
            )?;
            let configured = j.kms_key_identifier.is_some() || j.dead_letter_config.is_some() || j.log_config.is_some();
            let bus = if configured {
                events.update_event_bus(
                    ctx,
                    UpdateEventBusInput {
                        name: j.name,
                        kms_key_identifier: j.kms_key_identifier,
                        dead_letter_config: j.dead_letter_config,
                        log_config: j.log_config,
                        ..UpdateEventBusInput::default()
                    },
                )?
            } else {
                bus
            };
            if let Some(tags) = j.tags.filter(|t| !t.is_empty()) {
                events.tag_resource(ctx, Some(&bus.arn), tag_pairs(tags))?;
            }
            let mut out = serde_json::json!({ "EventBusArn": bus.arn });
            if let Some(d) = bus.description {
                out["Description"] = Value::String(d);
            }
            for (k, v) in [
                ("DeadLetterConfig", bus.dead_letter_config),
                ("LogConfig", bus.log_config),
            ] {
                if let Some(v) = v {
                    out[k] = v;
                }
            }
            if let Some(k) = bus.kms_key_identifier {
                out["KmsKeyIdentifier"] = Value::String(k);
            }
            out
        }
        "DescribeEventBus" => {
            let j: NameJson = input(body)?;
            let (bus, policy) = events.describe_event_bus(ctx, j.name.as_deref())?;
            to_value(EventBusJson {
                policy,
                ..EventBusJson::from(&bus)
            })?
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
            events.refuse_managed_rule(ctx, j.name.as_deref(), j.event_bus_name.as_deref())?;
            let tags = j.tags;
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
            if let Some(tags) = tags.filter(|t| !t.is_empty()) {
                events.tag_resource(ctx, Some(&arn), tag_pairs(tags))?;
            }
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
            if j.force != Some(true) {
                events.refuse_managed_rule(ctx, j.name.as_deref(), j.event_bus_name.as_deref())?;
            }
            events.delete_rule(ctx, j.name.as_deref(), j.event_bus_name.as_deref())?;
            empty()
        }
        "EnableRule" => {
            let j: NameJson = input(body)?;
            events.refuse_managed_rule(ctx, j.name.as_deref(), j.event_bus_name.as_deref())?;
            events.enable_rule(ctx, j.name.as_deref(), j.event_bus_name.as_deref())?;
            empty()
        }
        "DisableRule" => {
            let j: NameJson = input(body)?;
            events.refuse_managed_rule(ctx, j.name.as_deref(), j.event_bus_name.as_deref())?;
            events.disable_rule(ctx, j.name.as_deref(), j.event_bus_name.as_deref())?;
            empty()
        }
        "TestEventPattern" => {
            let j: TestEventPatternJson = input(body)?;
            let result = events.test_event_pattern(j.event_pattern.as_deref(), j.event.as_deref())?;
            serde_json::json!({ "Result": result })
        }
        "PutTargets" => {
            let j: TargetsJson = input(body)?;
            events.refuse_managed_rule(ctx, j.rule.as_deref(), j.event_bus_name.as_deref())?;
            let failed = events.put_targets(ctx, j.rule.as_deref(), j.event_bus_name.as_deref(), j.targets)?;
            failures_json(&failed)
        }
        "RemoveTargets" => {
            let j: TargetsJson = input(body)?;
            if j.force != Some(true) {
                events.refuse_managed_rule(ctx, j.rule.as_deref(), j.event_bus_name.as_deref())?;
            }
            let failed = events.remove_targets(ctx, j.rule.as_deref(), j.event_bus_name.as_deref(), j.ids)?;
            failures_json(&failed)
        }
        "ListTargetsByRule" => {
            let j: TargetsJson = input(body)?;
            let page = events.list_targets_by_rule(
                ctx,
                j.rule.as_deref(),
                j.event_bus_name.as_deref(),
                j.next_token.as_deref(),
                j.limit,
            )?;
            page_json("Targets", Value::Array(page.items), page.next_token)
        }
        "ListRuleNamesByTarget" => {
            let j: TargetsJson = input(body)?;
            let page = events.list_rule_names_by_target(
                ctx,
                j.target_arn.as_deref(),
                j.event_bus_name.as_deref(),
                j.next_token.as_deref(),
                j.limit,
            )?;
            page_json("RuleNames", to_value(page.items)?, page.next_token)
        }
        "UpdateEventBus" => {
            let j: UpdateEventBusJson = input(body)?;
            let bus = events.update_event_bus(
                ctx,
                UpdateEventBusInput {
                    name: j.name,
                    description: j.description,
                    kms_key_identifier: j.kms_key_identifier,
                    dead_letter_config: j.dead_letter_config,
                    log_config: j.log_config,
                },
            )?;
            let mut out = serde_json::json!({ "Arn": bus.arn, "Name": bus.name });
            if let Some(d) = bus.description {
                out["Description"] = Value::String(d);
            }
            if let Some(k) = bus.kms_key_identifier {
                out["KmsKeyIdentifier"] = Value::String(k);
            }
            for (k, v) in [
                ("DeadLetterConfig", bus.dead_letter_config),
                ("LogConfig", bus.log_config),
            ] {
                if let Some(v) = v {
                    out[k] = v;
                }
            }
            out
        }
        "PutPermission" => {
            let j: PermissionJson = input(body)?;
            events.put_permission(
                ctx,
                PutPermissionInput {
                    event_bus_name: j.event_bus_name,
                    action: j.action,
                    principal: j.principal,
                    statement_id: j.statement_id,
                    condition: j.condition,
                    policy: j.policy,
                },
            )?;
            empty()
        }
        "RemovePermission" => {
            let j: PermissionJson = input(body)?;
            events.remove_permission(
                ctx,
                j.event_bus_name.as_deref(),
                j.statement_id.as_deref(),
                j.remove_all_permissions.unwrap_or(false),
            )?;
            empty()
        }
        "TagResource" => {
            let j: TagsJson = input(body)?;
            let tags = j
                .tags
                .ok_or_else(|| validation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null"))?;
            events.refuse_managed_arn(ctx, j.resource_arn.as_deref())?;
            events.tag_resource(ctx, j.resource_arn.as_deref(), tag_pairs(tags))?;
            empty()
        }
        "UntagResource" => {
            let j: TagsJson = input(body)?;
            events.refuse_managed_arn(ctx, j.resource_arn.as_deref())?;
            events.untag_resource(ctx, j.resource_arn.as_deref(), j.tag_keys.unwrap_or_default())?;
            empty()
        }
        "ListTagsForResource" => {
            let j: TagsJson = input(body)?;
            let tags: Vec<TagJson> = events
                .list_tags_for_resource(ctx, j.resource_arn.as_deref())?
                .into_iter()
                .map(|(key, value)| TagJson { key, value })
                .collect();
            serde_json::json!({ "Tags": to_value(tags)? })
        }
        op if crate::connections::Destinations::OPERATIONS.contains(&op) => {
            let v: Value = if body.is_empty() {
                empty()
            } else {
                serde_json::from_slice(body).map_err(|e| AwsError::new("SerializationException", 400, e.to_string()))?
            };
            events.destinations().handle(ctx, op, v)?
        }
        op if archives::OPERATIONS.contains(&op) => archives::execute(events, ctx, op, body)?,
        op if NOT_YET.contains(&op) || NOT_YET_MORE.contains(&op) => {
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

fn tag_pairs(tags: Vec<TagJson>) -> Vec<(String, String)> {
    tags.into_iter().map(|t| (t.key, t.value)).collect()
}

/// PutTargets' and RemoveTargets' output.
fn failures_json(failed: &[TargetFailure]) -> Value {
    let entries: Vec<Value> = failed
        .iter()
        .map(|f| {
            serde_json::json!({
                "TargetId": f.target_id,
                "ErrorCode": f.error_code,
                "ErrorMessage": f.error_message,
            })
        })
        .collect();
    serde_json::json!({ "FailedEntryCount": failed.len(), "FailedEntries": entries })
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

    #[test]
    fn put_events_strings_are_read_in_place_unless_escaped() {
        let body = br#"{"Entries":[{"Source":"a.b","DetailType":"t\u00e9","Detail":"{\"k\":1}","Resources":["r"]}]}"#;
        let j: PutEventsJson<'_> = serde_json::from_slice(body).unwrap();
        let e = &j.entries.as_ref().unwrap()[0];
        assert!(matches!(e.source.as_ref().unwrap().0, Cow::Borrowed("a.b")));
        assert!(matches!(&e.detail_type.as_ref().unwrap().0, Cow::Owned(s) if s == "té"));
        assert!(matches!(&e.detail.as_ref().unwrap().0, Cow::Owned(s) if s == r#"{"k":1}"#));
        assert!(matches!(e.resources.as_ref().unwrap()[0].0, Cow::Borrowed("r")));
    }

    fn call(events: &Arc<Events>, op: &str, body: &str) -> (u16, Value) {
        let r = handle_json(events, &RequestContext::default(), op, body.as_bytes());
        (r.status().as_u16(), serde_json::from_slice(r.body()).unwrap())
    }

    #[test]
    fn wire_shapes_and_errors() {
        let events = Arc::new(crate::tests::events());
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
        let (s, v) = call(&events, "CreateEndpoint", "{}");
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
