//! The wire edge: rest-json as botocore's `pipes` model (2015-10-07) lays it out — `/v1/pipes`,
//! `/v1/pipes/{Name}`, `/v1/pipes/{Name}/start`, `/v1/pipes/{Name}/stop`, `/tags/{resourceArn}`.
//! Errors carry `x-amzn-errortype` and `{"message": ...}`, plus `fieldList` (ValidationException)
//! or `resourceId`/`resourceType` (ConflictException), the model's error shapes.

use lb_protocol::restjson::{path_segment, query_param, query_params};
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Response};
use lb_core::clock::BoxFuture;
use lb_core::AwsError;
use lb_protocol::{ApiRequest, Protocol, ServiceSpec};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::service::{ListInput, Pipes};
use crate::spec::PipeInput;
use crate::PipesError;

/// The operations served (every one of the model's).
pub const OPERATIONS: &[&str] = &[
    "CreatePipe",
    "DeletePipe",
    "DescribePipe",
    "ListPipes",
    "ListTagsForResource",
    "StartPipe",
    "StopPipe",
    "TagResource",
    "UntagResource",
    "UpdatePipe",
];

/// Unsigned requests are recognised by a pipe's path (`/v1/pipes/<name>`), so an unsigned
/// request for an S3 bucket called `v1` is not taken; signed requests are recognised by their
/// signing name, whatever their path.
pub const REST_PATHS: &[&str] = &["/v1/pipes/"];

pub static SPEC: ServiceSpec = ServiceSpec {
    signing_name: "pipes",
    rest_paths: REST_PATHS,
    rest: Some(Protocol::RestJson),
    operations: OPERATIONS,
    max_body: 1024 * 1024,
    ..ServiceSpec::new("pipes")
};

/// Pipes' wire edge.
pub struct PipesApi {
    pipes: Arc<Pipes>,
}

impl PipesApi {
    pub fn new(pipes: Arc<Pipes>) -> Self {
        Self { pipes }
    }
}

impl lb_protocol::Service for PipesApi {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
        Box::pin(async move {
            let rid = req.ctx.request_id.clone();
            match route(&self.pipes, &req) {
                Ok(v) => lb_protocol::restjson::response(200, v.to_string().into_bytes(), &rid),
                Err(e) => error_response(&e, &rid),
            }
        })
    }

    fn error_response(&self, _protocol: Protocol, err: &AwsError, request_id: &str) -> Response<Bytes> {
        error_response(&err.clone().into(), request_id)
    }

    fn metrics(&self, out: &mut String) {
        use std::sync::atomic::Ordering::Relaxed;
        let c = self.pipes.counters();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        metric(
            "localbridge_pipes_pipes",
            "gauge",
            "Pipes held.",
            self.pipes.len() as u64,
        );
        metric(
            "localbridge_pipes_records_received_total",
            "counter",
            "Records pipes read from their sources.",
            c.received.load(Relaxed),
        );
        metric(
            "localbridge_pipes_records_filtered_total",
            "counter",
            "Records no filter matched (deleted or checkpointed, not delivered).",
            c.filtered.load(Relaxed),
        );
        metric(
            "localbridge_pipes_events_delivered_total",
            "counter",
            "Events pipe targets accepted.",
            c.delivered.load(Relaxed),
        );
        metric(
            "localbridge_pipes_records_failed_total",
            "counter",
            "Source records whose delivery failed (SQS: left in the queue; Kinesis: retried).",
            c.failed.load(Relaxed),
        );
        metric(
            "localbridge_pipes_batches_total",
            "counter",
            "Batches run through pipes.",
            c.batches.load(Relaxed),
        );
        metric(
            "localbridge_pipes_enrichment_failures_total",
            "counter",
            "Enrichment invocations that failed.",
            c.enrichment_failures.load(Relaxed),
        );
        metric(
            "localbridge_pipes_records_dead_lettered_total",
            "counter",
            "Kinesis records sent to the pipe's dead-letter queue after their retries.",
            c.dead_lettered.load(Relaxed),
        );
        metric(
            "localbridge_pipes_records_discarded_total",
            "counter",
            "Kinesis records dropped after their retries (no dead-letter queue, or it refused).",
            c.discarded.load(Relaxed),
        );
        // Per pipe: the same counters labelled by the pipe's ARN.
        let per_pipe = self.pipes.pipe_counters();
        if per_pipe.is_empty() {
            return;
        }
        let families: [(&str, &str, Counter); 8] = [
            ("received", "Records this pipe read from its source.", |c| &c.received),
            ("filtered", "Records no filter of this pipe matched.", |c| &c.filtered),
            ("delivered", "Events this pipe's target accepted.", |c| &c.delivered),
            ("failed", "Source records of this pipe whose delivery failed.", |c| {
                &c.failed
            }),
            ("batches", "Batches run through this pipe.", |c| &c.batches),
            (
                "enrichment_failures",
                "This pipe's failed enrichment invocations.",
                |c| &c.enrichment_failures,
            ),
            (
                "dead_lettered",
                "Records this pipe sent to its dead-letter queue.",
                |c| &c.dead_lettered,
            ),
            ("discarded", "Records this pipe dropped after their retries.", |c| {
                &c.discarded
            }),
        ];
        for (name, help, get) in families {
            let _ = writeln!(out, "# HELP localbridge_pipe_{name}_total {help}");
            let _ = writeln!(out, "# TYPE localbridge_pipe_{name}_total counter");
            for (arn, c) in &per_pipe {
                let _ = writeln!(
                    out,
                    "localbridge_pipe_{name}_total{{pipe=\"{arn}\"}} {}",
                    get(c).load(Relaxed)
                );
            }
        }
    }
}

/// Picks one counter of a pipe's.
type Counter = fn(&crate::PipeCounters) -> &std::sync::atomic::AtomicU64;

/// `x-amzn-errortype: <code>` and the error shape's members.
pub fn error_response(e: &PipesError, request_id: &str) -> Response<Bytes> {
    let mut body = json!({ "message": e.aws.message });
    if !e.field_list.is_empty() {
        body["fieldList"] = e
            .field_list
            .iter()
            .map(|f| json!({ "name": f.name, "message": f.message }))
            .collect();
    }
    if let Some((id, kind)) = &e.resource {
        body["resourceId"] = json!(id);
        body["resourceType"] = json!(kind);
    }
    let mut r = lb_protocol::respond(
        e.aws.status,
        lb_protocol::restjson::CONTENT_TYPE,
        Bytes::from(body.to_string()),
        request_id,
    );
    if let Ok(v) = HeaderValue::from_str(&e.aws.code) {
        r.headers_mut().insert(lb_protocol::restjson::ERROR_TYPE_HEADER, v);
    }
    r
}

fn body<T: serde::de::DeserializeOwned + Default>(req: &ApiRequest) -> Result<T, PipesError> {
    Ok(lb_protocol::json::input(&req.body)?)
}

#[derive(Debug, Default, Deserialize)]
struct TagBody {
    tags: Option<std::collections::BTreeMap<String, String>>,
}

fn unknown(method: &Method, path: &str) -> PipesError {
    AwsError::new(
        "UnknownOperationException",
        404,
        format!("No EventBridge Pipes operation matches {method} {path}"),
    )
    .into()
}

fn route(p: &Pipes, req: &ApiRequest) -> Result<Value, PipesError> {
    let path = req.parts.uri.path();
    let method = &req.parts.method;
    let ctx = &req.ctx;
    let q = query_params(&req.parts.uri);
    if let Some(rest) = path.strip_prefix("/tags/") {
        let arn = path_segment(rest);
        return match *method {
            Method::GET => p.list_tags_for_resource(&arn),
            Method::POST => p.tag_resource(&arn, body::<TagBody>(req)?.tags),
            Method::DELETE => {
                let keys: Vec<String> = q
                    .iter()
                    .filter(|(k, _)| k == "tagKeys")
                    .map(|(_, v)| v.clone())
                    .collect();
                p.untag_resource(&arn, &keys)
            }
            _ => Err(unknown(method, path)),
        };
    }
    let segs: Vec<String> = path.trim_matches('/').split('/').map(path_segment).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (method, segs.as_slice()) {
        (&Method::GET, ["v1", "pipes"]) => p.list_pipes(
            ctx,
            &ListInput {
                name_prefix: query_param(&q, "NamePrefix"),
                desired_state: query_param(&q, "DesiredState"),
                current_state: query_param(&q, "CurrentState"),
                source_prefix: query_param(&q, "SourcePrefix"),
                target_prefix: query_param(&q, "TargetPrefix"),
                next_token: query_param(&q, "NextToken"),
                limit: query_param(&q, "Limit"),
            },
        ),
        (&Method::POST, ["v1", "pipes", name]) => {
            let mut input: PipeInput = body(req)?;
            (*name).clone_into(&mut input.name);
            p.create_pipe(ctx, input)
        }
        (&Method::PUT, ["v1", "pipes", name]) => {
            let mut input: PipeInput = body(req)?;
            (*name).clone_into(&mut input.name);
            p.update_pipe(ctx, input)
        }
        (&Method::GET, ["v1", "pipes", name]) => p.describe_pipe(ctx, name),
        (&Method::DELETE, ["v1", "pipes", name]) => p.delete_pipe(ctx, name),
        (&Method::POST, ["v1", "pipes", name, "start"]) => p.start_pipe(ctx, name),
        (&Method::POST, ["v1", "pipes", name, "stop"]) => p.stop_pipe(ctx, name),
        _ => Err(unknown(method, path)),
    }
}
