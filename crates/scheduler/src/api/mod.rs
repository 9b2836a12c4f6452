//! The wire edge: rest-json under `/schedules`, `/schedule-groups` and `/tags`, as botocore's
//! `scheduler` model (2021-06-30) lays it out — the operation in the method and path, the name
//! in the path, filters in the query string, the rest in a JSON body. Errors carry
//! `x-amzn-errortype` and `{"Message": ...}` (the model's error shapes).

use lb_protocol::restjson::{path_segment, query_param, query_params};
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Response};
use lb_core::clock::BoxFuture;
use lb_core::AwsError;
use lb_protocol::{ApiRequest, Protocol, ServiceSpec};
use serde::Deserialize;
use serde_json::Value;

use crate::model::{GroupInput, ListGroupsInput, ListSchedulesInput, ScheduleInput, Tag};
use crate::Scheduler;

/// The operations served (every one of the model's).
pub const OPERATIONS: &[&str] = &[
    "CreateSchedule",
    "CreateScheduleGroup",
    "DeleteSchedule",
    "DeleteScheduleGroup",
    "GetSchedule",
    "GetScheduleGroup",
    "ListScheduleGroups",
    "ListSchedules",
    "ListTagsForResource",
    "TagResource",
    "UntagResource",
    "UpdateSchedule",
];

/// The rest paths recognised without a signature. Each names a resource (`/schedules/<name>`),
/// so an unsigned request for an S3 bucket called `schedules...` is not taken; signed requests
/// are recognised by their signing name, whatever their path.
pub const REST_PATHS: &[&str] = &["/schedules/", "/schedule-groups/", "/tags/arn%3A", "/tags/arn:"];

pub static SPEC: ServiceSpec = ServiceSpec {
    signing_name: "scheduler",
    rest_paths: REST_PATHS,
    rest: Some(Protocol::RestJson),
    operations: OPERATIONS,
    // A target's Input is at most 256 KB.
    max_body: 1024 * 1024,
    ..ServiceSpec::new("scheduler")
};

/// Scheduler's wire edge.
pub struct SchedulerApi {
    scheduler: Arc<Scheduler>,
}

impl SchedulerApi {
    pub fn new(scheduler: Arc<Scheduler>) -> Self {
        Self { scheduler }
    }
}

impl lb_protocol::Service for SchedulerApi {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
        Box::pin(async move {
            let rid = req.ctx.request_id.clone();
            match route(&self.scheduler, &req) {
                Ok(v) => lb_protocol::restjson::response(200, v.to_string().into_bytes(), &rid),
                Err(e) => error_response(&e, &rid),
            }
        })
    }

    fn error_response(&self, _protocol: Protocol, err: &AwsError, request_id: &str) -> Response<Bytes> {
        error_response(err, request_id)
    }

    fn metrics(&self, out: &mut String) {
        let s = self.scheduler.stats();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        metric(
            "localbridge_scheduler_schedules",
            "gauge",
            "Schedules held.",
            s.schedules as u64,
        );
        metric(
            "localbridge_scheduler_fired_total",
            "counter",
            "Schedule invocations started (one per firing).",
            s.fired,
        );
        metric(
            "localbridge_scheduler_delivered_total",
            "counter",
            "Invocations that reached their target.",
            s.delivered,
        );
        metric(
            "localbridge_scheduler_dead_lettered_total",
            "counter",
            "Invocations that failed for good and went to their dead-letter queue.",
            s.dead_lettered,
        );
        metric(
            "localbridge_scheduler_dropped_total",
            "counter",
            "Invocations that failed for good with no dead-letter queue (or it refused them).",
            s.dropped,
        );
        metric(
            "localbridge_scheduler_retries_total",
            "counter",
            "Failed invocation attempts scheduled again.",
            s.retried,
        );
        metric(
            "localbridge_scheduler_throttled_total",
            "counter",
            "Invocations not started: the delivery engine had no room.",
            s.throttled,
        );
        metric(
            "localbridge_scheduler_deleted_after_completion_total",
            "counter",
            "Schedules deleted after their last invocation (ActionAfterCompletion DELETE).",
            s.deleted_after_completion,
        );
        metric(
            "localbridge_scheduler_executions",
            "gauge",
            "Invocations in flight (delivering or waiting for a retry).",
            s.executions as u64,
        );
        let (buckets, sum, count, max) = self.scheduler.lateness().snapshot();
        let name = "localbridge_scheduler_fire_lateness_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} How late each firing started: the clock when it was taken minus its due time."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (bound, n) in buckets {
            match bound {
                #[allow(clippy::cast_precision_loss)]
                Some(ms) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {n}", ms as f64 / 1000.0);
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {n}");
                }
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let _ = writeln!(out, "{name}_sum {}", sum as f64 / 1000.0);
        let _ = writeln!(out, "{name}_count {count}");
        #[allow(clippy::cast_precision_loss)]
        let _ = writeln!(
            out,
            "# HELP localbridge_scheduler_fire_lateness_max_seconds The latest firing so far.\n# TYPE localbridge_scheduler_fire_lateness_max_seconds gauge\nlocalbridge_scheduler_fire_lateness_max_seconds {}",
            max as f64 / 1000.0
        );
    }
}

/// `x-amzn-errortype: <code>` and `{"Message": ...}`.
pub fn error_response(e: &AwsError, request_id: &str) -> Response<Bytes> {
    let body = serde_json::json!({ "Message": e.message }).to_string();
    let mut r = lb_protocol::respond(
        e.status,
        lb_protocol::restjson::CONTENT_TYPE,
        Bytes::from(body),
        request_id,
    );
    if let Ok(v) = HeaderValue::from_str(&e.code) {
        r.headers_mut().insert(lb_protocol::restjson::ERROR_TYPE_HEADER, v);
    }
    r
}

fn body<T: serde::de::DeserializeOwned + Default>(req: &ApiRequest) -> Result<T, AwsError> {
    lb_protocol::json::input(&req.body)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagBody {
    tags: Option<Vec<Tag>>,
}

fn unknown(method: &Method, path: &str) -> AwsError {
    AwsError::new(
        "UnknownOperationException",
        404,
        format!("No EventBridge Scheduler operation matches {method} {path}"),
    )
}

fn route(s: &Scheduler, req: &ApiRequest) -> Result<Value, AwsError> {
    let path = req.parts.uri.path();
    let method = &req.parts.method;
    let ctx = &req.ctx;
    let q = query_params(&req.parts.uri);
    if let Some(rest) = path.strip_prefix("/tags/") {
        let arn = path_segment(rest);
        return match *method {
            Method::GET => s.list_tags_for_resource(ctx, &arn),
            Method::POST => s.tag_resource(ctx, &arn, body::<TagBody>(req)?.tags),
            Method::DELETE => {
                let keys: Vec<String> = q
                    .iter()
                    .filter(|(k, _)| k == "TagKeys")
                    .map(|(_, v)| v.clone())
                    .collect();
                s.untag_resource(ctx, &arn, &keys)
            }
            _ => Err(unknown(method, path)),
        };
    }
    let segs: Vec<String> = path.trim_matches('/').split('/').map(path_segment).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (method, segs.as_slice()) {
        (&Method::GET, ["schedules"]) => s.list_schedules(
            ctx,
            &ListSchedulesInput {
                group_name: query_param(&q, "ScheduleGroup"),
                name_prefix: query_param(&q, "NamePrefix"),
                state: query_param(&q, "State"),
                next_token: query_param(&q, "NextToken"),
                max_results: query_param(&q, "MaxResults"),
            },
        ),
        (&Method::POST, ["schedules", name]) => {
            let mut input: ScheduleInput = body(req)?;
            (*name).clone_into(&mut input.name);
            s.create_schedule(ctx, input)
        }
        (&Method::PUT, ["schedules", name]) => {
            let mut input: ScheduleInput = body(req)?;
            (*name).clone_into(&mut input.name);
            s.update_schedule(ctx, input)
        }
        (&Method::GET, ["schedules", name]) => s.get_schedule(ctx, name, query_param(&q, "groupName").as_deref()),
        (&Method::DELETE, ["schedules", name]) => s.delete_schedule(
            ctx,
            name,
            query_param(&q, "groupName").as_deref(),
            query_param(&q, "clientToken").as_deref(),
        ),
        (&Method::GET, ["schedule-groups"]) => s.list_schedule_groups(
            ctx,
            &ListGroupsInput {
                name_prefix: query_param(&q, "NamePrefix"),
                next_token: query_param(&q, "NextToken"),
                max_results: query_param(&q, "MaxResults"),
            },
        ),
        (&Method::POST, ["schedule-groups", name]) => {
            let mut input: GroupInput = body(req)?;
            (*name).clone_into(&mut input.name);
            s.create_schedule_group(ctx, input)
        }
        (&Method::GET, ["schedule-groups", name]) => s.get_schedule_group(ctx, name),
        (&Method::DELETE, ["schedule-groups", name]) => {
            s.delete_schedule_group(ctx, name, query_param(&q, "clientToken").as_deref())
        }
        _ => Err(unknown(method, path)),
    }
}
