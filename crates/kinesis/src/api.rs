//! The wire edge: AWS JSON 1.1 (`X-Amz-Target: Kinesis_20131202.<Op>`), inputs and outputs as
//! botocore's `kinesis` model names them, errors as `{"__type": ..., "message": ...}`.

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
    DescribeStreamInput, GetRecordsInput, GetShardIteratorInput, ListShardsInput, ListStreamsInput, RetentionInput,
    StreamRef, TagsInput,
};
use crate::Kinesis;

const VERSION: JsonVersion = JsonVersion::V1_1;

/// The operations served.
pub const OPERATIONS: &[&str] = &[
    "AddTagsToStream",
    "CreateStream",
    "DecreaseStreamRetentionPeriod",
    "DeleteStream",
    "DeregisterStreamConsumer",
    "DescribeStream",
    "DescribeStreamConsumer",
    "DescribeStreamSummary",
    "GetRecords",
    "GetShardIterator",
    "IncreaseStreamRetentionPeriod",
    "ListShards",
    "ListStreamConsumers",
    "ListStreams",
    "ListTagsForStream",
    "MergeShards",
    "PutRecord",
    "PutRecords",
    "RegisterStreamConsumer",
    "RemoveTagsFromStream",
    "SplitShard",
    "SubscribeToShard",
    "UpdateShardCount",
];

/// What identifies Kinesis' requests (botocore `kinesis` 2013-12-02: protocol `json` 1.1,
/// target prefix `Kinesis_20131202`, signing name `kinesis`).
pub const SPEC: ServiceSpec = ServiceSpec {
    json: Some(VERSION),
    target_prefixes: &["Kinesis_20131202."],
    operations: OPERATIONS,
    // PutRecords: 500 records, 5 MiB in all (1 MiB each), base64 (4/3) plus the JSON around it.
    max_body: 8 * 1024 * 1024,
    ..ServiceSpec::new("kinesis")
};

/// Kinesis' wire edge as a gateway service.
pub struct KinesisApi {
    kinesis: Arc<Kinesis>,
}

impl KinesisApi {
    pub fn new(kinesis: Arc<Kinesis>) -> Self {
        Self { kinesis }
    }
}

impl lb_protocol::Service for KinesisApi {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
        let cbor = req
            .header("content-type")
            .is_some_and(|t| t.starts_with(crate::cbor::CONTENT_TYPE));
        if req.operation == "SubscribeToShard" && !cbor {
            // The one operation that waits: an event stream answered once records are there.
            let kinesis = Arc::clone(&self.kinesis);
            return Box::pin(async move {
                let ctx = req.ctx.clone();
                match kinesis.subscribe_to_shard(req.ctx, req.body).await {
                    Ok(resp) => resp,
                    Err(e) => error_response(&ctx, "SubscribeToShard", &e),
                }
            });
        }
        let resp = if cbor {
            handle_cbor(&self.kinesis, &req.ctx, &req.operation, &req.body)
        } else {
            handle_json(&self.kinesis, &req.ctx, &req.operation, &req.body)
        };
        Box::pin(async move { resp })
    }

    fn metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let s = self.kinesis.stats();
        for (name, kind, help, value) in [
            (
                "records_stored",
                "gauge",
                "Kinesis records stored now.",
                s.stored as u64,
            ),
            (
                "records_capacity",
                "gauge",
                "The most Kinesis records stored at once (serve --kinesis-max-records).",
                s.capacity as u64,
            ),
            (
                "records_dropped_total",
                "counter",
                "Kinesis records dropped, oldest first, to stay within the capacity.",
                s.dropped,
            ),
            (
                "records_expired_total",
                "counter",
                "Kinesis records removed by their stream's retention.",
                s.expired,
            ),
        ] {
            let _ = writeln!(out, "# HELP localbridge_kinesis_{name} {help}");
            let _ = writeln!(out, "# TYPE localbridge_kinesis_{name} {kind}");
            let _ = writeln!(out, "localbridge_kinesis_{name} {value}");
        }
    }
}

/// Answers one JSON 1.1 request for `operation` (the `X-Amz-Target` suffix).
pub fn handle_json(kinesis: &Kinesis, ctx: &RequestContext, operation: &str, body: &[u8]) -> Response<Bytes> {
    match execute(kinesis, ctx, operation, body) {
        Ok(v) => lb_protocol::json::ok(VERSION, &v, &ctx.request_id),
        Err(e) => error_response(ctx, operation, &e),
    }
}

fn error_response(ctx: &RequestContext, operation: &str, e: &AwsError) -> Response<Bytes> {
    debug!(op = operation, code = %e.code, message = %e.message, "kinesis error");
    lb_protocol::json::aws_error_response(VERSION, e, &ctx.request_id)
}

/// Answers one CBOR request (`Content-Type: application/x-amz-cbor-1.1`): the same operations,
/// translated to and from the JSON shapes.
pub fn handle_cbor(kinesis: &Kinesis, ctx: &RequestContext, operation: &str, body: &[u8]) -> Response<Bytes> {
    let result = crate::cbor::decode(body)
        .map_err(|e| AwsError::new("SerializationException", 400, e))
        .and_then(|v| execute(kinesis, ctx, operation, &serde_json::to_vec(&v).unwrap_or_default()));
    let (status, value, error_type) = match result {
        Ok(v) => (200, v, None),
        Err(e) => {
            debug!(op = operation, code = %e.code, message = %e.message, "kinesis error");
            let v = json!({ "__type": e.code, "message": e.message });
            (e.status, v, Some(e.code))
        }
    };
    let mut resp = lb_protocol::respond(
        status,
        crate::cbor::CONTENT_TYPE,
        Bytes::from(crate::cbor::encode(value)),
        &ctx.request_id,
    );
    if let Some(v) = error_type.and_then(|t| http::HeaderValue::from_str(&t).ok()) {
        resp.headers_mut().insert("x-amzn-errortype", v);
    }
    resp
}

fn execute(k: &Kinesis, ctx: &RequestContext, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    let (r, a) = (ctx.region.as_str(), ctx.account.as_str());
    let empty = || json!({});
    Ok(match operation {
        "CreateStream" => {
            k.create_stream(r, a, input(body)?)?;
            empty()
        }
        "DeleteStream" => {
            k.delete_stream(r, a, &input::<StreamRef>(body)?)?;
            empty()
        }
        "DescribeStream" => k.describe_stream(r, a, &input::<DescribeStreamInput>(body)?)?,
        "DescribeStreamSummary" => k.describe_stream_summary(r, a, &input::<StreamRef>(body)?)?,
        "ListStreams" => k.list_streams(r, a, &input::<ListStreamsInput>(body)?)?,
        "ListShards" => k.list_shards(r, a, &input::<ListShardsInput>(body)?)?,
        "PutRecord" => k.put_record(r, a, input(body)?)?,
        "PutRecords" => k.put_records(r, a, input(body)?)?,
        "GetShardIterator" => k.get_shard_iterator(r, a, &input::<GetShardIteratorInput>(body)?)?,
        "GetRecords" => k.get_records(r, a, &input::<GetRecordsInput>(body)?)?,
        "AddTagsToStream" => {
            k.add_tags(r, a, input::<TagsInput>(body)?)?;
            empty()
        }
        "RemoveTagsFromStream" => {
            k.remove_tags(r, a, input::<TagsInput>(body)?)?;
            empty()
        }
        "ListTagsForStream" => k.list_tags(r, a, &input::<TagsInput>(body)?)?,
        "SplitShard" => {
            k.split_shard(r, a, &input(body)?)?;
            empty()
        }
        "MergeShards" => {
            k.merge_shards(r, a, &input(body)?)?;
            empty()
        }
        "UpdateShardCount" => k.update_shard_count(r, a, &input(body)?)?,
        "RegisterStreamConsumer" => k.register_consumer(r, a, &input(body)?)?,
        "DescribeStreamConsumer" => k.describe_consumer(r, a, &input(body)?)?,
        "ListStreamConsumers" => k.list_consumers(r, a, &input(body)?)?,
        "DeregisterStreamConsumer" => {
            k.deregister_consumer(r, a, &input(body)?)?;
            empty()
        }
        "IncreaseStreamRetentionPeriod" => {
            k.change_retention(r, a, &input::<RetentionInput>(body)?, true)?;
            empty()
        }
        "DecreaseStreamRetentionPeriod" => {
            k.change_retention(r, a, &input::<RetentionInput>(body)?, false)?;
            empty()
        }
        other => {
            return Err(AwsError::new(
                "UnknownOperationException",
                400,
                format!("localbridge does not implement the Kinesis operation {other}"),
            ))
        }
    })
}
