//! The wire edge. A request is either AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Op>`, current SDKs)
//! or the query protocol (`Action=<Op>` in a form body or the query string, XML responses, older
//! SDKs). Either way it is parsed once into an [`SqsOp`], executed, and the [`SqsOutput`] or the
//! error is rendered in the request's protocol.

mod json;
mod query;

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use lb_core::clock::BoxFuture;
use lb_core::{AwsError, RequestContext};
use lb_protocol::query::{ErrorStyle, Params};
use lb_protocol::{ApiRequest, JsonVersion, Protocol, ServiceSpec};
use tracing::debug;

use crate::errors;
use crate::model::{
    AddPermissionInput, BatchEntry, BatchOutput, ChangeVisibilityEntry, CreateQueueInput, GetQueueUrlInput,
    ListQueuesInput, ListQueuesOutput, MessageMoveTaskInfo, QueueRef, ReceiveMessageInput, ReceivedMessage,
    SendMessageEntry, SendMessageOutput, StartMessageMoveTaskInput,
};
use crate::Sqs;

/// Where a queue URL points when the request carries no Host header.
const DEFAULT_HOST: &str = "localhost:4566";

/// One SQS operation with its input, parsed from either protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqsOp {
    CreateQueue(CreateQueueInput),
    GetQueueUrl(GetQueueUrlInput),
    ListQueues(ListQueuesInput),
    DeleteQueue(QueueRef),
    GetQueueAttributes(QueueRef, Vec<String>),
    SetQueueAttributes(QueueRef, Vec<(String, String)>),
    TagQueue(QueueRef, Vec<(String, String)>),
    UntagQueue(QueueRef, Vec<String>),
    ListQueueTags(QueueRef),
    PurgeQueue(QueueRef),
    SendMessage(QueueRef, SendMessageEntry),
    SendMessageBatch(QueueRef, Vec<BatchEntry<SendMessageEntry>>),
    ReceiveMessage(QueueRef, ReceiveMessageInput),
    DeleteMessage(QueueRef, String),
    DeleteMessageBatch(QueueRef, Vec<BatchEntry<String>>),
    ChangeMessageVisibility(QueueRef, String, Option<i64>),
    ChangeMessageVisibilityBatch(QueueRef, Vec<BatchEntry<ChangeVisibilityEntry>>),
    ListDeadLetterSourceQueues {
        queue: QueueRef,
        next_token: Option<String>,
        max_results: Option<i64>,
    },
    StartMessageMoveTask(StartMessageMoveTaskInput),
    CancelMessageMoveTask(String),
    ListMessageMoveTasks {
        source_arn: String,
        max_results: Option<i64>,
    },
    AddPermission(QueueRef, AddPermissionInput),
    RemovePermission(QueueRef, String),
}

/// What an operation returns, before rendering.
#[derive(Debug)]
pub enum SqsOutput {
    Empty,
    QueueUrl(String),
    QueueUrls(ListQueuesOutput),
    /// ListDeadLetterSourceQueues (its JSON spells the list `queueUrls`).
    DeadLetterSourceQueues(ListQueuesOutput),
    Attributes(Vec<(String, String)>),
    Tags(Vec<(String, String)>),
    Sent(SendMessageOutput),
    SentBatch(BatchOutput<SendMessageOutput>),
    Received(Vec<ReceivedMessage>),
    Batch(BatchOutput<()>),
    TaskHandle(String),
    Moved(i64),
    MoveTasks(Vec<MessageMoveTaskInfo>),
}

/// Every operation name, as both protocols spell it.
pub const OPERATIONS: [&str; 23] = [
    "AddPermission",
    "CancelMessageMoveTask",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "CreateQueue",
    "DeleteMessage",
    "DeleteMessageBatch",
    "DeleteQueue",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "ListMessageMoveTasks",
    "ListQueueTags",
    "ListQueues",
    "PurgeQueue",
    "ReceiveMessage",
    "RemovePermission",
    "SendMessage",
    "SendMessageBatch",
    "SetQueueAttributes",
    "StartMessageMoveTask",
    "TagQueue",
    "UntagQueue",
];

/// Runs one operation.
async fn execute(sqs: &Sqs, ctx: &RequestContext, req: &ApiRequest, op: SqsOp) -> Result<SqsOutput, AwsError> {
    let endpoint = if needs_endpoint(&op) {
        endpoint(req)
    } else {
        String::new()
    };
    let endpoint = endpoint.as_str();
    Ok(match op {
        SqsOp::CreateQueue(input) => SqsOutput::QueueUrl(sqs.create_queue(ctx, endpoint, input)?),
        SqsOp::GetQueueUrl(input) => SqsOutput::QueueUrl(sqs.get_queue_url(ctx, endpoint, input)?),
        SqsOp::ListQueues(input) => SqsOutput::QueueUrls(sqs.list_queues(ctx, endpoint, input)?),
        SqsOp::DeleteQueue(q) => {
            sqs.delete_queue(ctx, &q)?;
            SqsOutput::Empty
        }
        SqsOp::GetQueueAttributes(q, names) => SqsOutput::Attributes(sqs.get_queue_attributes(ctx, &q, &names)?),
        SqsOp::SetQueueAttributes(q, attrs) => {
            sqs.set_queue_attributes(ctx, &q, &attrs)?;
            SqsOutput::Empty
        }
        SqsOp::TagQueue(q, tags) => {
            sqs.tag_queue(ctx, &q, tags)?;
            SqsOutput::Empty
        }
        SqsOp::UntagQueue(q, keys) => {
            sqs.untag_queue(ctx, &q, &keys)?;
            SqsOutput::Empty
        }
        SqsOp::ListQueueTags(q) => SqsOutput::Tags(sqs.list_queue_tags(ctx, &q)?),
        SqsOp::PurgeQueue(q) => {
            sqs.purge_queue(ctx, &q)?;
            SqsOutput::Empty
        }
        SqsOp::SendMessage(q, entry) => SqsOutput::Sent(sqs.send_message(ctx, &q, entry)?),
        SqsOp::SendMessageBatch(q, entries) => SqsOutput::SentBatch(sqs.send_message_batch(ctx, &q, entries)?),
        SqsOp::ReceiveMessage(q, input) => SqsOutput::Received(sqs.receive_message(ctx, &q, input).await?),
        SqsOp::DeleteMessage(q, handle) => {
            sqs.delete_message(ctx, &q, &handle)?;
            SqsOutput::Empty
        }
        SqsOp::DeleteMessageBatch(q, entries) => SqsOutput::Batch(sqs.delete_message_batch(ctx, &q, entries)?),
        SqsOp::ChangeMessageVisibility(q, handle, timeout) => {
            sqs.change_message_visibility(ctx, &q, &handle, timeout)?;
            SqsOutput::Empty
        }
        SqsOp::ChangeMessageVisibilityBatch(q, entries) => {
            SqsOutput::Batch(sqs.change_message_visibility_batch(ctx, &q, entries)?)
        }
        SqsOp::ListDeadLetterSourceQueues {
            queue,
            next_token,
            max_results,
        } => SqsOutput::DeadLetterSourceQueues(sqs.list_dead_letter_source_queues(
            ctx,
            endpoint,
            &queue,
            next_token.as_deref(),
            max_results,
        )?),
        SqsOp::StartMessageMoveTask(input) => SqsOutput::TaskHandle(sqs.start_message_move_task(input)?),
        SqsOp::CancelMessageMoveTask(handle) => SqsOutput::Moved(sqs.cancel_message_move_task(&handle)?),
        SqsOp::ListMessageMoveTasks {
            source_arn,
            max_results,
        } => SqsOutput::MoveTasks(sqs.list_message_move_tasks(&source_arn, max_results)?),
        SqsOp::AddPermission(q, input) => {
            sqs.add_permission(ctx, &q, input)?;
            SqsOutput::Empty
        }
        SqsOp::RemovePermission(q, label) => {
            sqs.remove_permission(ctx, &q, &label)?;
            SqsOutput::Empty
        }
    })
}

/// The namespace of every SQS query response.
pub const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// What identifies SQS's requests (botocore `sqs` 2012-11-05: protocol `json` 1.0, target
/// prefix `AmazonSQS`, `awsQueryCompatible`; the query protocol is still served for older SDKs).
pub const SPEC: ServiceSpec = ServiceSpec {
    json: Some(JsonVersion::V1_0),
    target_prefixes: &["AmazonSQS."],
    operations: &OPERATIONS,
    query: true,
    query_path: Some(is_queue_path),
    xmlns: NAMESPACE,
    query_errors: ErrorStyle {
        xmlns: Some(NAMESPACE),
        detail: true,
    },
    query_compatible: true,
    ..ServiceSpec::new("sqs")
};

/// `/<12-digit account>/<queue name>`, the path of an SQS queue URL.
pub fn is_queue_path(path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').split('/');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(account), Some(name), None)
            if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
    )
}

/// SQS's wire edge as a gateway service.
pub struct SqsApi {
    sqs: Arc<Sqs>,
}

impl SqsApi {
    pub fn new(sqs: Arc<Sqs>) -> Self {
        Self { sqs }
    }
}

impl lb_protocol::Service for SqsApi {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
        Box::pin(handle_api(&self.sqs, req))
    }
}

/// Handles one classified SQS request. Never panics on any input; always answers in the
/// request's protocol (a query request with `Accept: application/json` is answered in the JSON
/// 1.0 envelope, as AWS's `awsQueryCompatible` front end does).
pub async fn handle_api(sqs: &Sqs, req: ApiRequest) -> Response<Bytes> {
    let ctx = &req.ctx;
    match req.protocol {
        Protocol::Json(_) => {
            let op_name: &str = &req.operation;
            let result = match json::parse(op_name, &req.body) {
                Ok(op) => execute(sqs, ctx, &req, op).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(out) => json::response(&out, ctx),
                Err(e) => {
                    debug!(op = op_name, code = %e.code, message = %e.message, "sqs error");
                    json::error_response(&e, ctx)
                }
            }
        }
        _ => {
            let as_json = req.accepts_json();
            let (action, result) = match query::parse(&req) {
                Ok((action, op)) => (Some(action), execute(sqs, ctx, &req, op).await),
                Err((action, e)) => (action, Err(e)),
            };
            match (action, result) {
                (Some(_), Ok(out)) if as_json => json::response(&out, ctx),
                (Some(action), Ok(out)) => query::response(action, &out, ctx),
                (action, Err(e)) => {
                    debug!(op = action.unwrap_or("?"), code = %e.code, message = %e.message, "sqs error");
                    if as_json {
                        json::error_response(&e, ctx)
                    } else {
                        query::error_response(&e, ctx)
                    }
                }
                (None, Ok(_)) => query::error_response(&errors::missing_action(), ctx),
            }
        }
    }
}

/// Handles one SQS request given as plain HTTP (tests and callers outside the gateway): JSON 1.0
/// when it has `X-Amz-Target`, else the query protocol.
pub async fn handle(sqs: &Sqs, ctx: &RequestContext, req: Request<Bytes>) -> Response<Bytes> {
    let (parts, body) = req.into_parts();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.strip_prefix("AmazonSQS.").unwrap_or(t).to_owned());
    let (protocol, operation, params) = match target {
        Some(op) => (Protocol::Json(JsonVersion::V1_0), op, None),
        None => {
            let params = Params::parse(parts.uri.query(), &body);
            let op = params.action().unwrap_or_default().to_owned();
            (Protocol::Query, op, Some(params))
        }
    };
    let req = ApiRequest {
        service: SPEC.name,
        protocol,
        operation: Cow::Owned(operation),
        parts,
        body,
        params,
        ctx: ctx.clone(),
    };
    handle_api(sqs, req).await
}

/// Whether an operation's result names queue URLs (built from the request's Host).
fn needs_endpoint(op: &SqsOp) -> bool {
    matches!(
        op,
        SqsOp::CreateQueue(_) | SqsOp::GetQueueUrl(_) | SqsOp::ListQueues(_) | SqsOp::ListDeadLetterSourceQueues { .. }
    )
}

/// `http://{Host}`: queue URLs point back at the address the caller used.
fn endpoint(req: &ApiRequest) -> String {
    let host = req
        .header(http::header::HOST.as_str())
        .filter(|h| !h.is_empty())
        .or_else(|| req.parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or(DEFAULT_HOST);
    format!("http://{host}")
}

/// The queue a request names by `QueueUrl`.
fn queue_ref(url: Option<&str>) -> Result<QueueRef, AwsError> {
    match url.filter(|u| !u.is_empty()) {
        Some(u) => QueueRef::from_url(u),
        None => Err(errors::missing_parameter("QueueUrl")),
    }
}

#[cfg(test)]
mod tests;
