//! The wire edge. A request is either AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Op>`, current SDKs)
//! or the query protocol (`Action=<Op>` in a form body or the query string, XML responses, older
//! SDKs). Either way it is parsed once into an [`SqsOp`], executed, and the [`SqsOutput`] or the
//! error is rendered in the request's protocol.

mod json;
mod query;
mod xml;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use lb_core::{AwsError, RequestContext};
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
pub async fn execute(sqs: &Sqs, ctx: &RequestContext, endpoint: &str, op: SqsOp) -> Result<SqsOutput, AwsError> {
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

/// Handles one SQS request; the gateway has decided it is SQS (by `X-Amz-Target`, credential
/// scope or `Action`). Never panics on any input; always answers in the request's protocol.
pub async fn handle(sqs: &Sqs, ctx: &RequestContext, req: Request<Bytes>) -> Response<Bytes> {
    let endpoint = endpoint(&req);
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match target {
        Some(target) => {
            let op_name = target.strip_prefix("AmazonSQS.").unwrap_or(&target);
            let result = match json::parse(op_name, req.body()) {
                Ok(op) => execute(sqs, ctx, &endpoint, op).await,
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
        None => {
            let (action, result) = match query::parse(&req) {
                Ok((action, op)) => (Some(action), execute(sqs, ctx, &endpoint, op).await),
                Err((action, e)) => (action, Err(e)),
            };
            match (action, result) {
                (Some(action), Ok(out)) => query::response(action, &out, ctx),
                (action, Err(e)) => {
                    debug!(op = action.unwrap_or("?"), code = %e.code, message = %e.message, "sqs error");
                    query::error_response(&e, ctx)
                }
                (None, Ok(_)) => query::error_response(&errors::missing_action(), ctx),
            }
        }
    }
}

/// `http://{Host}`: queue URLs point back at the address the caller used.
fn endpoint<B>(req: &Request<B>) -> String {
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or(DEFAULT_HOST);
    format!("http://{host}")
}

/// A response with the protocol's content type and AWS's request-id header.
fn respond(status: u16, content_type: &'static str, body: Vec<u8>, ctx: &RequestContext) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    resp
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
