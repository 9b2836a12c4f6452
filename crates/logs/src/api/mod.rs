//! The wire edge: AWS JSON 1.1 (`X-Amz-Target: Logs_20140328.<Op>`), inputs and outputs as
//! botocore's `logs` model names them, errors as `{"__type": ..., "message": ...}`.

use lb_protocol::json::input;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use lb_core::clock::BoxFuture;
use lb_core::{AwsError, RequestContext};
use lb_protocol::json::JsonVersion;
use lb_protocol::{ApiRequest, ServiceSpec};

use serde_json::{json, Value};
use tracing::debug;

use crate::service::{
    DescribeInput, FilterLogEventsInput, GetLogEventsInput, GroupInput, PutLogEventsInput, ResourcePolicyInput,
    TagsInput,
};
use crate::Logs;

const VERSION: JsonVersion = JsonVersion::V1_1;

/// The operations served.
pub const OPERATIONS: &[&str] = &[
    "CreateLogGroup",
    "CreateLogStream",
    "DeleteLogGroup",
    "DeleteLogStream",
    "DeleteResourcePolicy",
    "DeleteRetentionPolicy",
    "DescribeLogGroups",
    "DescribeLogStreams",
    "DescribeResourcePolicies",
    "FilterLogEvents",
    "GetLogEvents",
    "ListTagsForResource",
    "ListTagsLogGroup",
    "PutLogEvents",
    "PutResourcePolicy",
    "PutRetentionPolicy",
    "TagLogGroup",
    "TagResource",
    "UntagLogGroup",
    "UntagResource",
];

/// What identifies CloudWatch Logs' requests (botocore `logs` 2014-03-28: protocol `json` 1.1,
/// target prefix `Logs_20140328`, signing name `logs`).
pub const SPEC: ServiceSpec = ServiceSpec {
    json: Some(VERSION),
    target_prefixes: &["Logs_20140328."],
    operations: OPERATIONS,
    // PutLogEvents' batch limit (1,048,576 bytes of messages) plus the JSON around them.
    max_body: 2 * 1024 * 1024,
    ..ServiceSpec::new("logs")
};

/// CloudWatch Logs' wire edge as a gateway service.
pub struct LogsApi {
    logs: Arc<Logs>,
}

impl LogsApi {
    pub fn new(logs: Arc<Logs>) -> Self {
        Self { logs }
    }
}

impl lb_protocol::Service for LogsApi {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
        let resp = handle_json(&self.logs, &req.ctx, &req.operation, &req.body);
        Box::pin(async move { resp })
    }

    fn metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let s = self.logs.stats();
        for (name, kind, help, value) in [
            ("events_stored", "gauge", "Log events stored now.", s.stored as u64),
            (
                "events_capacity",
                "gauge",
                "The most log events stored at once (serve --logs-max-events).",
                s.capacity as u64,
            ),
            (
                "events_dropped_total",
                "counter",
                "Log events dropped, oldest first, to stay within the capacity.",
                s.dropped,
            ),
            (
                "events_expired_total",
                "counter",
                "Log events removed by their group's retention.",
                s.expired,
            ),
        ] {
            let _ = writeln!(out, "# HELP localbridge_logs_{name} {help}");
            let _ = writeln!(out, "# TYPE localbridge_logs_{name} {kind}");
            let _ = writeln!(out, "localbridge_logs_{name} {value}");
        }
    }
}

/// Answers one JSON 1.1 request for `operation` (the `X-Amz-Target` suffix).
pub fn handle_json(logs: &Logs, ctx: &RequestContext, operation: &str, body: &[u8]) -> Response<Bytes> {
    match execute(logs, ctx, operation, body) {
        Ok(v) => lb_protocol::json::ok(VERSION, &v, &ctx.request_id),
        Err(e) => {
            debug!(op = operation, code = %e.code, message = %e.message, "logs error");
            lb_protocol::json::aws_error_response(VERSION, &e, &ctx.request_id)
        }
    }
}

fn empty() -> Value {
    json!({})
}

fn execute(logs: &Logs, ctx: &RequestContext, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    let (r, a) = (ctx.region.as_str(), ctx.account.as_str());
    let to_value = |v: &dyn erased::Ser| v.value();
    Ok(match operation {
        "CreateLogGroup" => {
            logs.create_log_group(r, a, input(body)?)?;
            empty()
        }
        "DeleteLogGroup" => {
            let i: GroupInput = input(body)?;
            logs.delete_log_group(r, a, i.log_group_name.as_deref())?;
            empty()
        }
        "DescribeLogGroups" => {
            let page = logs.describe_log_groups(r, a, &input::<DescribeInput>(body)?)?;
            let mut v = json!({ "logGroups": to_value(&page.items) });
            if let Some(t) = page.next_token {
                v["nextToken"] = Value::String(t);
            }
            v
        }
        "PutRetentionPolicy" => {
            logs.put_retention_policy(r, a, input(body)?)?;
            empty()
        }
        "DeleteRetentionPolicy" => {
            let i: GroupInput = input(body)?;
            logs.delete_retention_policy(r, a, i.log_group_name.as_deref())?;
            empty()
        }
        "CreateLogStream" => {
            let i: GroupInput = input(body)?;
            logs.create_log_stream(r, a, i.log_group_name.as_deref(), i.log_stream_name.as_deref())?;
            empty()
        }
        "DeleteLogStream" => {
            let i: GroupInput = input(body)?;
            logs.delete_log_stream(r, a, i.log_group_name.as_deref(), i.log_stream_name.as_deref())?;
            empty()
        }
        "DescribeLogStreams" => {
            let page = logs.describe_log_streams(r, a, &input::<DescribeInput>(body)?)?;
            let mut v = json!({ "logStreams": to_value(&page.items) });
            if let Some(t) = page.next_token {
                v["nextToken"] = Value::String(t);
            }
            v
        }
        "PutLogEvents" => to_value(&logs.put_log_events(r, a, input::<PutLogEventsInput>(body)?)?),
        "GetLogEvents" => to_value(&logs.get_log_events(r, a, &input::<GetLogEventsInput>(body)?)?),
        "FilterLogEvents" => to_value(&logs.filter_log_events(r, a, &input::<FilterLogEventsInput>(body)?)?),
        "PutResourcePolicy" => {
            let p = logs.put_resource_policy(r, a, input::<ResourcePolicyInput>(body)?)?;
            json!({ "resourcePolicy": to_value(&p) })
        }
        "DescribeResourcePolicies" => {
            let _: ResourcePolicyInput = input(body)?;
            json!({ "resourcePolicies": to_value(&logs.describe_resource_policies(r, a)) })
        }
        "DeleteResourcePolicy" => {
            let i: ResourcePolicyInput = input(body)?;
            logs.delete_resource_policy(r, a, i.policy_name.as_deref())?;
            empty()
        }
        "TagResource" | "TagLogGroup" => {
            logs.tag(r, a, input::<TagsInput>(body)?)?;
            empty()
        }
        "UntagResource" | "UntagLogGroup" => {
            logs.untag(r, a, input::<TagsInput>(body)?)?;
            empty()
        }
        "ListTagsForResource" | "ListTagsLogGroup" => {
            json!({ "tags": logs.list_tags(r, a, &input::<TagsInput>(body)?)? })
        }
        other => {
            return Err(AwsError::new(
                "UnknownOperationException",
                400,
                format!("localbridge does not implement the CloudWatch Logs operation {other}"),
            ))
        }
    })
}

/// Serializing any output into a `Value` without naming each type.
mod erased {
    pub trait Ser {
        fn value(&self) -> serde_json::Value;
    }

    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}

#[cfg(test)]
mod tests;
