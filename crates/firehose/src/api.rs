//! The wire edge: AWS JSON 1.1 (`X-Amz-Target: Firehose_20150804.<Op>`), inputs and outputs as
//! botocore's `firehose` model names them, errors as `{"__type": ..., "message": ...}`.

use lb_protocol::json::input;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use lb_core::clock::BoxFuture;
use lb_core::{AwsError, RequestContext};
use lb_protocol::json::JsonVersion;
use lb_protocol::{ApiRequest, ServiceSpec};

use serde_json::Value;
use tracing::debug;

use crate::service::{ListInput, NameInput, PutRecordBatchInput, PutRecordInput, TagsInput};
use crate::Firehose;

const VERSION: JsonVersion = JsonVersion::V1_1;

/// The operations served.
pub const OPERATIONS: &[&str] = &[
    "CreateDeliveryStream",
    "DeleteDeliveryStream",
    "DescribeDeliveryStream",
    "ListDeliveryStreams",
    "ListTagsForDeliveryStream",
    "PutRecord",
    "PutRecordBatch",
    "TagDeliveryStream",
    "UntagDeliveryStream",
    "UpdateDestination",
];

/// What identifies Firehose's requests (botocore `firehose` 2015-08-04: protocol `json` 1.1,
/// target prefix `Firehose_20150804`, signing name `firehose`).
pub const SPEC: ServiceSpec = ServiceSpec {
    json: Some(VERSION),
    target_prefixes: &["Firehose_20150804."],
    operations: OPERATIONS,
    // PutRecordBatch: 4 MiB of records, base64 (4/3) plus the JSON around them.
    max_body: 8 * 1024 * 1024,
    ..ServiceSpec::new("firehose")
};

/// Firehose's wire edge as a gateway service.
pub struct FirehoseApi {
    firehose: Arc<Firehose>,
}

impl FirehoseApi {
    pub fn new(firehose: Arc<Firehose>) -> Self {
        Self { firehose }
    }
}

impl lb_protocol::Service for FirehoseApi {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
        let resp = handle_json(&self.firehose, &req.ctx, &req.operation, &req.body);
        Box::pin(async move { resp })
    }

    fn metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        use std::sync::atomic::Ordering::Relaxed;
        let s = self.firehose.stats();
        for (name, kind, help, value) in [
            (
                "records_received_total",
                "counter",
                "Records Firehose accepted (PutRecord, PutRecordBatch, targets, source streams).",
                s.records_in.load(Relaxed),
            ),
            (
                "bytes_received_total",
                "counter",
                "Record bytes Firehose accepted.",
                s.bytes_in.load(Relaxed),
            ),
            (
                "buffered_bytes",
                "gauge",
                "Record bytes waiting in Firehose buffers now.",
                self.firehose.buffered_bytes() as u64,
            ),
            (
                "objects_delivered_total",
                "counter",
                "Objects Firehose wrote to S3 (data and error output).",
                s.objects.load(Relaxed),
            ),
            (
                "object_bytes_delivered_total",
                "counter",
                "Bytes of the objects Firehose wrote to S3.",
                s.object_bytes.load(Relaxed),
            ),
            (
                "records_delivered_total",
                "counter",
                "Records Firehose delivered in data objects.",
                s.records_delivered.load(Relaxed),
            ),
            (
                "s3_write_failures_total",
                "counter",
                "Failed S3 writes (each retried on the clock).",
                s.write_failures.load(Relaxed),
            ),
            (
                "records_expired_total",
                "counter",
                "Records dropped after failing delivery for the retention period (or when their stream was deleted).",
                s.records_expired.load(Relaxed),
            ),
            (
                "records_transform_dropped_total",
                "counter",
                "Records the transformation function returned as Dropped.",
                s.records_transform_dropped.load(Relaxed),
            ),
            (
                "records_processing_failed_total",
                "counter",
                "Records written to the error output (ProcessingFailed, or failed invocations).",
                s.records_processing_failed.load(Relaxed),
            ),
            (
                "invocation_failures_total",
                "counter",
                "Failed transformation invocations (retried up to NumberOfRetries).",
                s.invocation_failures.load(Relaxed),
            ),
        ] {
            let _ = writeln!(out, "# HELP localbridge_firehose_{name} {help}");
            let _ = writeln!(out, "# TYPE localbridge_firehose_{name} {kind}");
            let _ = writeln!(out, "localbridge_firehose_{name} {value}");
        }
    }
}

/// Answers one JSON 1.1 request for `operation` (the `X-Amz-Target` suffix).
pub fn handle_json(fh: &Firehose, ctx: &RequestContext, operation: &str, body: &[u8]) -> Response<Bytes> {
    match execute(fh, ctx, operation, body) {
        Ok(v) => lb_protocol::json::ok(VERSION, &v, &ctx.request_id),
        Err(e) => {
            debug!(op = operation, code = %e.code, message = %e.message, "firehose error");
            lb_protocol::json::aws_error_response(VERSION, &e, &ctx.request_id)
        }
    }
}

fn execute(f: &Firehose, ctx: &RequestContext, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    let (r, a) = (ctx.region.as_str(), ctx.account.as_str());
    match operation {
        "CreateDeliveryStream" => f.create_delivery_stream(r, a, input(body)?),
        "DescribeDeliveryStream" => f.describe_delivery_stream(r, a, &input::<NameInput>(body)?),
        "ListDeliveryStreams" => f.list_delivery_streams(r, a, &input::<ListInput>(body)?),
        "DeleteDeliveryStream" => f.delete_delivery_stream(r, a, &input::<NameInput>(body)?),
        "PutRecord" => f.put_record(r, a, &input::<PutRecordInput>(body)?),
        "PutRecordBatch" => f.put_record_batch(r, a, &input::<PutRecordBatchInput>(body)?),
        "TagDeliveryStream" => f.tag_delivery_stream(r, a, &input::<TagsInput>(body)?),
        "UntagDeliveryStream" => f.untag_delivery_stream(r, a, &input::<TagsInput>(body)?),
        "ListTagsForDeliveryStream" => f.list_tags(r, a, &input::<TagsInput>(body)?),
        "UpdateDestination" => f.update_destination(r, a, input(body)?),
        other => Err(AwsError::new(
            "UnknownOperationException",
            400,
            format!("localbridge does not implement the Firehose operation {other}"),
        )),
    }
}
