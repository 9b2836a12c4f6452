//! AWS JSON 1.0: request bodies and responses as the botocore model for `sqs` (protocol `json`)
//! defines them. Errors carry the Smithy shape in `__type` and the query code in
//! `x-amzn-query-error` (the service is `awsQueryCompatible`).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http::Response;
use lb_core::{AwsError, RequestContext};
use lb_protocol::json::{JsonError, JsonVersion};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{queue_ref, SqsOp, SqsOutput};
use crate::errors;
use crate::model::{
    AddPermissionInput, BatchEntry, BatchOutput, ChangeVisibilityEntry, CreateQueueInput, GetQueueUrlInput,
    ListQueuesInput, MessageAttributeValue, MessageAttributes, ReceiveMessageInput, SendMessageEntry,
    SendMessageOutput, StartMessageMoveTaskInput,
};

const VERSION: JsonVersion = JsonVersion::V1_0;

fn body<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, AwsError> {
    lb_protocol::json::decode(bytes)
        .map_err(|e| errors::serialization(format!("Failed to parse the request body: {e}")))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct QueueUrlInput {
    queue_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CreateQueueJson {
    #[serde(rename = "QueueName")]
    queue_name: Option<String>,
    #[serde(rename = "Attributes")]
    attributes: Option<BTreeMap<String, String>>,
    #[serde(rename = "tags")]
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GetQueueUrlJson {
    #[serde(rename = "QueueName")]
    queue_name: Option<String>,
    #[serde(rename = "QueueOwnerAWSAccountId")]
    queue_owner: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ListQueuesJson {
    queue_name_prefix: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct GetQueueAttributesJson {
    queue_url: Option<String>,
    attribute_names: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct SetQueueAttributesJson {
    queue_url: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct TagQueueJson {
    queue_url: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct UntagQueueJson {
    queue_url: Option<String>,
    tag_keys: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct AttributeValueJson {
    data_type: Option<String>,
    string_value: Option<String>,
    binary_value: Option<String>,
    string_list_values: Option<Vec<String>>,
    binary_list_values: Option<Vec<String>>,
}

fn blob(s: &str) -> Result<Vec<u8>, AwsError> {
    STANDARD
        .decode(s)
        .map_err(|_| errors::serialization("A binary value is not valid base64."))
}

fn attributes(map: Option<BTreeMap<String, AttributeValueJson>>) -> Result<MessageAttributes, AwsError> {
    map.unwrap_or_default()
        .into_iter()
        .map(|(name, v)| {
            let value = MessageAttributeValue {
                data_type: v.data_type.unwrap_or_default(),
                string_value: v.string_value,
                binary_value: v.binary_value.as_deref().map(blob).transpose()?,
                string_list_values: v.string_list_values.unwrap_or_default(),
                binary_list_values: v
                    .binary_list_values
                    .unwrap_or_default()
                    .iter()
                    .map(|b| blob(b))
                    .collect::<Result<_, _>>()?,
            };
            Ok((name, value))
        })
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct SendEntryJson {
    id: Option<String>,
    message_body: Option<String>,
    delay_seconds: Option<i64>,
    message_attributes: Option<BTreeMap<String, AttributeValueJson>>,
    message_system_attributes: Option<BTreeMap<String, AttributeValueJson>>,
    message_deduplication_id: Option<String>,
    message_group_id: Option<String>,
}

impl SendEntryJson {
    fn into_entry(self) -> Result<(Option<String>, SendMessageEntry), AwsError> {
        Ok((
            self.id,
            SendMessageEntry {
                body: self.message_body,
                delay_seconds: self.delay_seconds,
                attributes: attributes(self.message_attributes)?,
                system_attributes: attributes(self.message_system_attributes)?,
                deduplication_id: self.message_deduplication_id,
                group_id: self.message_group_id,
            },
        ))
    }
}

/// SendMessage's body: an entry plus `QueueUrl` (spelled out rather than `#[serde(flatten)]`,
/// which would buffer the hot path's body through an intermediate map).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct SendMessageJson {
    queue_url: Option<String>,
    message_body: Option<String>,
    delay_seconds: Option<i64>,
    message_attributes: Option<BTreeMap<String, AttributeValueJson>>,
    message_system_attributes: Option<BTreeMap<String, AttributeValueJson>>,
    message_deduplication_id: Option<String>,
    message_group_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct SendMessageBatchJson {
    queue_url: Option<String>,
    entries: Option<Vec<SendEntryJson>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ReceiveMessageJson {
    queue_url: Option<String>,
    attribute_names: Option<Vec<String>>,
    message_system_attribute_names: Option<Vec<String>>,
    message_attribute_names: Option<Vec<String>>,
    max_number_of_messages: Option<i64>,
    visibility_timeout: Option<i64>,
    wait_time_seconds: Option<i64>,
    receive_request_attempt_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ReceiptEntryJson {
    id: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ReceiptJson {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ReceiptBatchJson {
    queue_url: Option<String>,
    entries: Option<Vec<ReceiptEntryJson>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct DeadLetterSourcesJson {
    queue_url: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct MoveTaskJson {
    source_arn: Option<String>,
    destination_arn: Option<String>,
    max_number_of_messages_per_second: Option<i64>,
    task_handle: Option<String>,
    max_results: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PermissionJson {
    #[serde(rename = "QueueUrl")]
    queue_url: Option<String>,
    #[serde(rename = "Label")]
    label: Option<String>,
    #[serde(rename = "AWSAccountIds")]
    account_ids: Option<Vec<String>>,
    #[serde(rename = "Actions")]
    actions: Option<Vec<String>>,
}

fn pairs(map: Option<BTreeMap<String, String>>) -> Vec<(String, String)> {
    map.map(|m| m.into_iter().collect()).unwrap_or_default()
}

/// Parses the body of operation `op` (the `X-Amz-Target` suffix).
pub(super) fn parse(op: &str, bytes: &[u8]) -> Result<SqsOp, AwsError> {
    Ok(match op {
        "CreateQueue" => {
            let b: CreateQueueJson = body(bytes)?;
            SqsOp::CreateQueue(CreateQueueInput {
                queue_name: b.queue_name.unwrap_or_default(),
                attributes: pairs(b.attributes),
                tags: pairs(b.tags),
            })
        }
        "GetQueueUrl" => {
            let b: GetQueueUrlJson = body(bytes)?;
            SqsOp::GetQueueUrl(GetQueueUrlInput {
                queue_name: b.queue_name.unwrap_or_default(),
                queue_owner_account: b.queue_owner,
            })
        }
        "ListQueues" => {
            let b: ListQueuesJson = body(bytes)?;
            SqsOp::ListQueues(ListQueuesInput {
                queue_name_prefix: b.queue_name_prefix,
                next_token: b.next_token,
                max_results: b.max_results,
            })
        }
        "DeleteQueue" | "ListQueueTags" | "PurgeQueue" => {
            let b: QueueUrlInput = body(bytes)?;
            let q = queue_ref(b.queue_url.as_deref())?;
            match op {
                "DeleteQueue" => SqsOp::DeleteQueue(q),
                "ListQueueTags" => SqsOp::ListQueueTags(q),
                _ => SqsOp::PurgeQueue(q),
            }
        }
        "GetQueueAttributes" => {
            let b: GetQueueAttributesJson = body(bytes)?;
            SqsOp::GetQueueAttributes(
                queue_ref(b.queue_url.as_deref())?,
                b.attribute_names.unwrap_or_default(),
            )
        }
        "SetQueueAttributes" => {
            let b: SetQueueAttributesJson = body(bytes)?;
            SqsOp::SetQueueAttributes(queue_ref(b.queue_url.as_deref())?, pairs(b.attributes))
        }
        "TagQueue" => {
            let b: TagQueueJson = body(bytes)?;
            SqsOp::TagQueue(queue_ref(b.queue_url.as_deref())?, pairs(b.tags))
        }
        "UntagQueue" => {
            let b: UntagQueueJson = body(bytes)?;
            SqsOp::UntagQueue(queue_ref(b.queue_url.as_deref())?, b.tag_keys.unwrap_or_default())
        }
        "SendMessage" => {
            let b: SendMessageJson = body(bytes)?;
            let q = queue_ref(b.queue_url.as_deref())?;
            let entry = SendEntryJson {
                id: None,
                message_body: b.message_body,
                delay_seconds: b.delay_seconds,
                message_attributes: b.message_attributes,
                message_system_attributes: b.message_system_attributes,
                message_deduplication_id: b.message_deduplication_id,
                message_group_id: b.message_group_id,
            };
            SqsOp::SendMessage(q, entry.into_entry()?.1)
        }
        "SendMessageBatch" => {
            let b: SendMessageBatchJson = body(bytes)?;
            let q = queue_ref(b.queue_url.as_deref())?;
            let entries = b
                .entries
                .unwrap_or_default()
                .into_iter()
                .map(|e| {
                    let (id, entry) = e.into_entry()?;
                    Ok(BatchEntry {
                        id: id.unwrap_or_default(),
                        entry,
                    })
                })
                .collect::<Result<_, AwsError>>()?;
            SqsOp::SendMessageBatch(q, entries)
        }
        "ReceiveMessage" => {
            let b: ReceiveMessageJson = body(bytes)?;
            let q = queue_ref(b.queue_url.as_deref())?;
            let mut attribute_names = b.attribute_names.unwrap_or_default();
            attribute_names.extend(b.message_system_attribute_names.unwrap_or_default());
            SqsOp::ReceiveMessage(
                q,
                ReceiveMessageInput {
                    max_number_of_messages: b.max_number_of_messages,
                    visibility_timeout: b.visibility_timeout,
                    wait_time_seconds: b.wait_time_seconds,
                    attribute_names,
                    message_attribute_names: b.message_attribute_names.unwrap_or_default(),
                    receive_request_attempt_id: b.receive_request_attempt_id,
                },
            )
        }
        "DeleteMessage" => {
            let b: ReceiptJson = body(bytes)?;
            SqsOp::DeleteMessage(queue_ref(b.queue_url.as_deref())?, b.receipt_handle.unwrap_or_default())
        }
        "ChangeMessageVisibility" => {
            let b: ReceiptJson = body(bytes)?;
            SqsOp::ChangeMessageVisibility(
                queue_ref(b.queue_url.as_deref())?,
                b.receipt_handle.unwrap_or_default(),
                b.visibility_timeout,
            )
        }
        "DeleteMessageBatch" => {
            let b: ReceiptBatchJson = body(bytes)?;
            let entries = b
                .entries
                .unwrap_or_default()
                .into_iter()
                .map(|e| BatchEntry {
                    id: e.id.unwrap_or_default(),
                    entry: e.receipt_handle.unwrap_or_default(),
                })
                .collect();
            SqsOp::DeleteMessageBatch(queue_ref(b.queue_url.as_deref())?, entries)
        }
        "ChangeMessageVisibilityBatch" => {
            let b: ReceiptBatchJson = body(bytes)?;
            let entries = b
                .entries
                .unwrap_or_default()
                .into_iter()
                .map(|e| BatchEntry {
                    id: e.id.unwrap_or_default(),
                    entry: ChangeVisibilityEntry {
                        receipt_handle: e.receipt_handle.unwrap_or_default(),
                        visibility_timeout: e.visibility_timeout,
                    },
                })
                .collect();
            SqsOp::ChangeMessageVisibilityBatch(queue_ref(b.queue_url.as_deref())?, entries)
        }
        "ListDeadLetterSourceQueues" => {
            let b: DeadLetterSourcesJson = body(bytes)?;
            SqsOp::ListDeadLetterSourceQueues {
                queue: queue_ref(b.queue_url.as_deref())?,
                next_token: b.next_token,
                max_results: b.max_results,
            }
        }
        "StartMessageMoveTask" => {
            let b: MoveTaskJson = body(bytes)?;
            SqsOp::StartMessageMoveTask(StartMessageMoveTaskInput {
                source_arn: b.source_arn.unwrap_or_default(),
                destination_arn: b.destination_arn,
                max_number_of_messages_per_second: b.max_number_of_messages_per_second,
            })
        }
        "CancelMessageMoveTask" => {
            let b: MoveTaskJson = body(bytes)?;
            SqsOp::CancelMessageMoveTask(b.task_handle.unwrap_or_default())
        }
        "ListMessageMoveTasks" => {
            let b: MoveTaskJson = body(bytes)?;
            SqsOp::ListMessageMoveTasks {
                source_arn: b.source_arn.unwrap_or_default(),
                max_results: b.max_results,
            }
        }
        "AddPermission" => {
            let b: PermissionJson = body(bytes)?;
            SqsOp::AddPermission(
                queue_ref(b.queue_url.as_deref())?,
                AddPermissionInput {
                    label: b.label.unwrap_or_default(),
                    account_ids: b.account_ids.unwrap_or_default(),
                    actions: b.actions.unwrap_or_default(),
                },
            )
        }
        "RemovePermission" => {
            let b: PermissionJson = body(bytes)?;
            SqsOp::RemovePermission(queue_ref(b.queue_url.as_deref())?, b.label.unwrap_or_default())
        }
        other => return Err(errors::unknown_operation(other)),
    })
}

// ---- responses ----------------------------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QueueUrlOut<'a> {
    queue_url: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QueueUrlsOut<'a> {
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    queue_urls: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<&'a str>,
}

/// ListDeadLetterSourceQueues spells its list `queueUrls` and always returns it.
#[derive(Serialize)]
struct DeadLetterSourcesOut<'a> {
    #[serde(rename = "queueUrls")]
    queue_urls: &'a [String],
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    next_token: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MapOut<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TagsOut<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
struct SentOut<'a> {
    #[serde(rename = "Id", skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "MD5OfMessageBody")]
    md5_of_message_body: &'a str,
    #[serde(rename = "MD5OfMessageAttributes", skip_serializing_if = "Option::is_none")]
    md5_of_message_attributes: Option<&'a str>,
    #[serde(rename = "MD5OfMessageSystemAttributes", skip_serializing_if = "Option::is_none")]
    md5_of_message_system_attributes: Option<&'a str>,
    #[serde(rename = "MessageId")]
    message_id: &'a str,
    #[serde(rename = "SequenceNumber", skip_serializing_if = "Option::is_none")]
    sequence_number: Option<&'a str>,
}

impl<'a> SentOut<'a> {
    fn new(id: Option<&'a str>, o: &'a SendMessageOutput) -> Self {
        Self {
            id,
            md5_of_message_body: &o.md5_of_message_body,
            md5_of_message_attributes: o.md5_of_message_attributes.as_deref(),
            md5_of_message_system_attributes: o.md5_of_message_system_attributes.as_deref(),
            message_id: &o.message_id,
            sequence_number: o.sequence_number.as_deref(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchErrorOut<'a> {
    id: &'a str,
    sender_fault: bool,
    code: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct IdOut<'a> {
    id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchOut<'a, S> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    successful: Vec<S>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failed: Vec<BatchErrorOut<'a>>,
}

fn batch_errors<T>(b: &BatchOutput<T>) -> Vec<BatchErrorOut<'_>> {
    b.failed
        .iter()
        .map(|f| BatchErrorOut {
            id: &f.id,
            sender_fault: f.sender_fault,
            code: &f.code,
            message: &f.message,
        })
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AttributeValueOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    string_value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary_value: Option<String>,
    data_type: &'a str,
}

#[derive(Serialize)]
struct MessageOut<'a> {
    #[serde(rename = "MessageId")]
    message_id: &'a str,
    #[serde(rename = "ReceiptHandle")]
    receipt_handle: &'a str,
    #[serde(rename = "MD5OfBody")]
    md5_of_body: &'a str,
    #[serde(rename = "Body")]
    body: &'a str,
    #[serde(rename = "Attributes", skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<&'a str, &'a str>,
    #[serde(rename = "MD5OfMessageAttributes", skip_serializing_if = "Option::is_none")]
    md5_of_message_attributes: Option<&'a str>,
    #[serde(rename = "MessageAttributes", skip_serializing_if = "BTreeMap::is_empty")]
    message_attributes: BTreeMap<&'a str, AttributeValueOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MessagesOut<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    messages: Vec<MessageOut<'a>>,
}

#[derive(Serialize)]
struct TaskOut<'a> {
    #[serde(rename = "TaskHandle", skip_serializing_if = "Option::is_none")]
    task_handle: Option<&'a str>,
    #[serde(rename = "Status")]
    status: &'a str,
    #[serde(rename = "SourceArn")]
    source_arn: &'a str,
    #[serde(rename = "DestinationArn", skip_serializing_if = "Option::is_none")]
    destination_arn: Option<&'a str>,
    #[serde(rename = "MaxNumberOfMessagesPerSecond", skip_serializing_if = "Option::is_none")]
    max_number_of_messages_per_second: Option<i64>,
    #[serde(rename = "ApproximateNumberOfMessagesMoved")]
    approximate_number_of_messages_moved: i64,
    #[serde(
        rename = "ApproximateNumberOfMessagesToMove",
        skip_serializing_if = "Option::is_none"
    )]
    approximate_number_of_messages_to_move: Option<i64>,
    #[serde(rename = "FailureReason", skip_serializing_if = "Option::is_none")]
    failure_reason: Option<&'a str>,
    #[serde(rename = "StartedTimestamp")]
    started_timestamp: i64,
}

fn to_body(out: &SqsOutput) -> Result<Vec<u8>, serde_json::Error> {
    match out {
        SqsOutput::Empty => Ok(b"{}".to_vec()),
        SqsOutput::QueueUrl(url) => serde_json::to_vec(&QueueUrlOut { queue_url: url }),
        SqsOutput::QueueUrls(list) => serde_json::to_vec(&QueueUrlsOut {
            queue_urls: &list.queue_urls,
            next_token: list.next_token.as_deref(),
        }),
        SqsOutput::DeadLetterSourceQueues(list) => serde_json::to_vec(&DeadLetterSourcesOut {
            queue_urls: &list.queue_urls,
            next_token: list.next_token.as_deref(),
        }),
        SqsOutput::Attributes(attrs) => serde_json::to_vec(&MapOut {
            attributes: attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        }),
        SqsOutput::Tags(tags) => serde_json::to_vec(&TagsOut {
            tags: tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        }),
        SqsOutput::Sent(o) => serde_json::to_vec(&SentOut::new(None, o)),
        SqsOutput::SentBatch(b) => serde_json::to_vec(&BatchOut {
            successful: b.successful.iter().map(|(id, o)| SentOut::new(Some(id), o)).collect(),
            failed: batch_errors(b),
        }),
        SqsOutput::Batch(b) => serde_json::to_vec(&BatchOut {
            successful: b.successful.iter().map(|(id, ())| IdOut { id }).collect(),
            failed: batch_errors(b),
        }),
        SqsOutput::Received(messages) => serde_json::to_vec(&MessagesOut {
            messages: messages
                .iter()
                .map(|m| MessageOut {
                    message_id: m.message_id(),
                    receipt_handle: &m.receipt_handle,
                    md5_of_body: m.md5_of_body(),
                    body: m.body(),
                    attributes: m.attributes.iter().map(|(k, v)| (*k, v.as_str())).collect(),
                    md5_of_message_attributes: m.md5_of_message_attributes.as_deref(),
                    message_attributes: m
                        .message_attributes
                        .iter()
                        .map(|(k, v)| {
                            let value = AttributeValueOut {
                                string_value: v.string_value.as_deref(),
                                binary_value: v.binary_value.as_ref().map(|b| STANDARD.encode(b)),
                                data_type: &v.data_type,
                            };
                            (k.as_str(), value)
                        })
                        .collect(),
                })
                .collect(),
        }),
        SqsOutput::TaskHandle(h) => serde_json::to_vec(&serde_json::json!({ "TaskHandle": h })),
        SqsOutput::Moved(n) => serde_json::to_vec(&serde_json::json!({ "ApproximateNumberOfMessagesMoved": n })),
        SqsOutput::MoveTasks(tasks) => {
            let results: Vec<TaskOut<'_>> = tasks
                .iter()
                .map(|t| TaskOut {
                    task_handle: t.task_handle.as_deref(),
                    status: t.status,
                    source_arn: &t.source_arn,
                    destination_arn: t.destination_arn.as_deref(),
                    max_number_of_messages_per_second: t.max_number_of_messages_per_second,
                    approximate_number_of_messages_moved: t.approximate_number_of_messages_moved,
                    approximate_number_of_messages_to_move: t.approximate_number_of_messages_to_move,
                    failure_reason: t.failure_reason.as_deref(),
                    started_timestamp: t.started_timestamp,
                })
                .collect();
            serde_json::to_vec(&serde_json::json!({ "Results": results }))
        }
    }
}

pub(super) fn response(out: &SqsOutput, ctx: &RequestContext) -> Response<Bytes> {
    match to_body(out) {
        Ok(body) => lb_protocol::json::response(VERSION, body, &ctx.request_id),
        Err(e) => error_response(&AwsError::internal(format!("could not render the response: {e}")), ctx),
    }
}

/// `{"__type": "<namespace>#<shape>", "message": ...}` with the query code in
/// `x-amzn-query-error` (SQS is `awsQueryCompatible`).
pub(super) fn error_response(err: &AwsError, ctx: &RequestContext) -> Response<Bytes> {
    let type_name = errors::json_full_type(&err.code);
    lb_protocol::json::error_response(
        VERSION,
        &JsonError {
            status: err.status,
            type_name: &type_name,
            message: &err.message,
            query_error: errors::has_query_code(&err.code).then_some((&*err.code, err.sender_fault)),
        },
        &ctx.request_id,
    )
}
