//! The query protocol: `Action=<Op>&Version=2012-11-05&...` in a form body or the query string,
//! XML responses. Lists and maps are flattened as the model's `locationName`s say:
//! `AttributeName.1`, `Attribute.1.Name` / `Attribute.1.Value`, `MessageAttribute.1.Value.DataType`,
//! `SendMessageBatchRequestEntry.1.MessageBody`, ... A request may be POSTed to the queue URL
//! itself (`/000000000000/uploads`) instead of naming `QueueUrl`. The parameters are parsed
//! once (by the gateway, which needed `Action`), the framing and XML writer are
//! [`lb_protocol`]'s.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Response};
use lb_core::{AwsError, RequestContext};
use lb_protocol::query::{Params, QueryWriter};
use lb_protocol::{ApiRequest, XmlWriter};

use super::{queue_ref, SqsOp, SqsOutput, NAMESPACE, OPERATIONS, SPEC};
use crate::errors;
use crate::model::{
    AddPermissionInput, BatchEntry, BatchOutput, ChangeVisibilityEntry, CreateQueueInput, GetQueueUrlInput,
    ListQueuesInput, MessageAttributeValue, MessageAttributes, QueueRef, ReceiveMessageInput, SendMessageEntry,
    SendMessageOutput, StartMessageMoveTaskInput,
};

/// Actions that name no queue: sent to a queue URL, AWS answers `InvalidAction`.
const QUEUELESS: [&str; 2] = ["CreateQueue", "ListQueues"];

/// The request's parameters with SQS's readings of them.
struct P<'a> {
    p: &'a Params,
    /// The queue URL path the request was sent to, if any (`/{account}/{name}`).
    path: &'a str,
}

impl P<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.p.get(key)
    }

    fn string(&self, key: &str) -> Option<String> {
        self.p.string(key)
    }

    fn int(&self, key: &str) -> Result<Option<i64>, AwsError> {
        self.p
            .int(key)
            .map_err(|e| errors::invalid_value(&e.value, key, "Value must be an integer."))
    }

    fn indices(&self, prefix: &str) -> std::collections::BTreeSet<u32> {
        self.p.indices(prefix)
    }

    fn list(&self, prefix: &str) -> Vec<String> {
        self.p.list(prefix)
    }

    fn pairs(&self, prefix: &str, key: &str, value: &str) -> Vec<(String, String)> {
        self.p.pairs(prefix, key, value)
    }

    /// Message attributes under `{prefix}.N.Name` / `{prefix}.N.Value.*`.
    fn attributes(&self, prefix: &str) -> Result<MessageAttributes, AwsError> {
        let mut out = MessageAttributes::new();
        for n in self.indices(prefix) {
            let base = format!("{prefix}.{n}");
            let Some(name) = self.string(&format!("{base}.Name")) else {
                continue;
            };
            let blob = |v: &str| {
                STANDARD
                    .decode(v)
                    .map_err(|_| errors::invalid_value(v, &format!("{base}.Value.BinaryValue"), "Not valid base64."))
            };
            let value = MessageAttributeValue {
                data_type: self.string(&format!("{base}.Value.DataType")).unwrap_or_default(),
                string_value: self.string(&format!("{base}.Value.StringValue")),
                binary_value: self.get(&format!("{base}.Value.BinaryValue")).map(blob).transpose()?,
                string_list_values: self.list(&format!("{base}.Value.StringListValue")),
                binary_list_values: self
                    .list(&format!("{base}.Value.BinaryListValue"))
                    .iter()
                    .map(|v| blob(v))
                    .collect::<Result<_, _>>()?,
            };
            out.insert(name, value);
        }
        Ok(out)
    }

    /// `QueueUrl`, or the path the request was sent to.
    fn queue(&self) -> Result<QueueRef, AwsError> {
        match self.get("QueueUrl").filter(|u| !u.is_empty()) {
            Some(url) => queue_ref(Some(url)),
            None if self.path.split('/').filter(|s| !s.is_empty()).count() >= 2 => QueueRef::from_url(self.path),
            None => Err(errors::missing_parameter("QueueUrl")),
        }
    }

    fn send_entry(&self, base: &str) -> Result<SendMessageEntry, AwsError> {
        let key = |k: &str| {
            if base.is_empty() {
                k.to_owned()
            } else {
                format!("{base}.{k}")
            }
        };
        Ok(SendMessageEntry {
            body: self.string(&key("MessageBody")),
            delay_seconds: self.int(&key("DelaySeconds"))?,
            attributes: self.attributes(&key("MessageAttribute"))?,
            system_attributes: self.attributes(&key("MessageSystemAttribute"))?,
            deduplication_id: self.string(&key("MessageDeduplicationId")),
            group_id: self.string(&key("MessageGroupId")),
        })
    }
}

type ParseError = (Option<&'static str>, AwsError);

/// A GET without `Action`: 404 `UnknownOperationException` (recorded from AWS; the message is
/// localbridge's).
fn unknown_operation_without_action() -> AwsError {
    AwsError::new(
        errors::UNKNOWN_OPERATION,
        404,
        "The request names no operation (Action).",
    )
}

/// Parses a query-protocol request into its action name and operation.
pub(super) fn parse(req: &ApiRequest) -> Result<(&'static str, SqsOp), ParseError> {
    let parsed;
    let params = match &req.params {
        Some(p) => p,
        None => {
            parsed = Params::parse(req.parts.uri.query(), &req.body);
            &parsed
        }
    };
    let path = req.parts.uri.path();
    let p = P { p: params, path };
    let action = match params.action() {
        // Over GET, a request without an action is no operation at all.
        None if req.parts.method == Method::GET => return Err((None, unknown_operation_without_action())),
        None => return Err((None, errors::missing_action())),
        Some(a) => OPERATIONS
            .into_iter()
            .find(|op| *op == a)
            .ok_or_else(|| (None, errors::invalid_action(a)))?,
    };
    if QUEUELESS.contains(&action) && super::is_queue_path(path) {
        return Err((Some(action), errors::invalid_action(action)));
    }
    parse_op(action, &p)
        .map(|op| (action, op))
        .map_err(|e| (Some(action), e))
}

fn parse_op(action: &str, p: &P<'_>) -> Result<SqsOp, AwsError> {
    Ok(match action {
        "CreateQueue" => SqsOp::CreateQueue(CreateQueueInput {
            queue_name: p.string("QueueName").unwrap_or_default(),
            attributes: p.pairs("Attribute", "Name", "Value"),
            tags: p.pairs("Tag", "Key", "Value"),
        }),
        "GetQueueUrl" => SqsOp::GetQueueUrl(GetQueueUrlInput {
            queue_name: p.string("QueueName").unwrap_or_default(),
            queue_owner_account: p.string("QueueOwnerAWSAccountId"),
        }),
        "ListQueues" => SqsOp::ListQueues(ListQueuesInput {
            queue_name_prefix: p.string("QueueNamePrefix"),
            next_token: p.string("NextToken"),
            max_results: p.int("MaxResults")?,
        }),
        "DeleteQueue" => SqsOp::DeleteQueue(p.queue()?),
        "ListQueueTags" => SqsOp::ListQueueTags(p.queue()?),
        "PurgeQueue" => SqsOp::PurgeQueue(p.queue()?),
        "GetQueueAttributes" => SqsOp::GetQueueAttributes(p.queue()?, p.list("AttributeName")),
        "SetQueueAttributes" => SqsOp::SetQueueAttributes(p.queue()?, p.pairs("Attribute", "Name", "Value")),
        "TagQueue" => SqsOp::TagQueue(p.queue()?, p.pairs("Tag", "Key", "Value")),
        "UntagQueue" => SqsOp::UntagQueue(p.queue()?, p.list("TagKey")),
        "SendMessage" => SqsOp::SendMessage(p.queue()?, p.send_entry("")?),
        "SendMessageBatch" => {
            let q = p.queue()?;
            let mut entries = Vec::new();
            for n in p.indices("SendMessageBatchRequestEntry") {
                let base = format!("SendMessageBatchRequestEntry.{n}");
                entries.push(BatchEntry {
                    id: p.string(&format!("{base}.Id")).unwrap_or_default(),
                    entry: p.send_entry(&base)?,
                });
            }
            SqsOp::SendMessageBatch(q, entries)
        }
        "ReceiveMessage" => {
            let mut attribute_names = p.list("AttributeName");
            attribute_names.extend(p.list("MessageSystemAttributeName"));
            SqsOp::ReceiveMessage(
                p.queue()?,
                ReceiveMessageInput {
                    max_number_of_messages: p.int("MaxNumberOfMessages")?,
                    visibility_timeout: p.int("VisibilityTimeout")?,
                    wait_time_seconds: p.int("WaitTimeSeconds")?,
                    attribute_names,
                    message_attribute_names: p.list("MessageAttributeName"),
                    receive_request_attempt_id: p.string("ReceiveRequestAttemptId"),
                },
            )
        }
        "DeleteMessage" => SqsOp::DeleteMessage(p.queue()?, p.string("ReceiptHandle").unwrap_or_default()),
        "DeleteMessageBatch" => {
            let entries = p
                .indices("DeleteMessageBatchRequestEntry")
                .into_iter()
                .map(|n| BatchEntry {
                    id: p
                        .string(&format!("DeleteMessageBatchRequestEntry.{n}.Id"))
                        .unwrap_or_default(),
                    entry: p
                        .string(&format!("DeleteMessageBatchRequestEntry.{n}.ReceiptHandle"))
                        .unwrap_or_default(),
                })
                .collect();
            SqsOp::DeleteMessageBatch(p.queue()?, entries)
        }
        "ChangeMessageVisibility" => SqsOp::ChangeMessageVisibility(
            p.queue()?,
            p.string("ReceiptHandle").unwrap_or_default(),
            p.int("VisibilityTimeout")?,
        ),
        "ChangeMessageVisibilityBatch" => {
            let mut entries = Vec::new();
            for n in p.indices("ChangeMessageVisibilityBatchRequestEntry") {
                let base = format!("ChangeMessageVisibilityBatchRequestEntry.{n}");
                entries.push(BatchEntry {
                    id: p.string(&format!("{base}.Id")).unwrap_or_default(),
                    entry: ChangeVisibilityEntry {
                        receipt_handle: p.string(&format!("{base}.ReceiptHandle")).unwrap_or_default(),
                        visibility_timeout: p.int(&format!("{base}.VisibilityTimeout"))?,
                    },
                });
            }
            SqsOp::ChangeMessageVisibilityBatch(p.queue()?, entries)
        }
        "ListDeadLetterSourceQueues" => SqsOp::ListDeadLetterSourceQueues {
            queue: p.queue()?,
            next_token: p.string("NextToken"),
            max_results: p.int("MaxResults")?,
        },
        "StartMessageMoveTask" => SqsOp::StartMessageMoveTask(StartMessageMoveTaskInput {
            source_arn: p.string("SourceArn").unwrap_or_default(),
            destination_arn: p.string("DestinationArn"),
            max_number_of_messages_per_second: p.int("MaxNumberOfMessagesPerSecond")?,
        }),
        "CancelMessageMoveTask" => SqsOp::CancelMessageMoveTask(p.string("TaskHandle").unwrap_or_default()),
        "ListMessageMoveTasks" => SqsOp::ListMessageMoveTasks {
            source_arn: p.string("SourceArn").unwrap_or_default(),
            max_results: p.int("MaxResults")?,
        },
        "AddPermission" => SqsOp::AddPermission(
            p.queue()?,
            AddPermissionInput {
                label: p.string("Label").unwrap_or_default(),
                account_ids: p.list("AWSAccountId"),
                actions: p.list("ActionName"),
            },
        ),
        "RemovePermission" => SqsOp::RemovePermission(p.queue()?, p.string("Label").unwrap_or_default()),
        other => return Err(errors::invalid_action(other)),
    })
}

// ---- responses ----------------------------------------------------------------------------

fn batch_errors<T>(x: &mut XmlWriter, b: &BatchOutput<T>) {
    for f in &b.failed {
        x.open("BatchResultErrorEntry");
        x.leaf("Id", &f.id);
        x.leaf("SenderFault", if f.sender_fault { "true" } else { "false" });
        x.leaf("Code", &f.code);
        x.leaf("Message", &f.message);
        x.close("BatchResultErrorEntry");
    }
}

fn sent(x: &mut XmlWriter, o: &SendMessageOutput) {
    x.leaf("MessageId", &o.message_id);
    x.leaf("MD5OfMessageBody", &o.md5_of_message_body);
    x.opt("MD5OfMessageAttributes", o.md5_of_message_attributes.as_deref());
    x.opt(
        "MD5OfMessageSystemAttributes",
        o.md5_of_message_system_attributes.as_deref(),
    );
    x.opt("SequenceNumber", o.sequence_number.as_deref());
}

/// Writes `<{action}Result>...</{action}Result>` for outputs that have one.
fn result(q: &mut QueryWriter<'_>, action: &str, out: &SqsOutput) {
    let empty = match out {
        SqsOutput::Empty => return,
        SqsOutput::QueueUrls(l) | SqsOutput::DeadLetterSourceQueues(l) => {
            l.queue_urls.is_empty() && l.next_token.is_none()
        }
        SqsOutput::Attributes(a) | SqsOutput::Tags(a) => a.is_empty(),
        SqsOutput::Received(m) => m.is_empty(),
        SqsOutput::MoveTasks(t) => t.is_empty(),
        _ => false,
    };
    if empty {
        q.empty_result();
        return;
    }
    let x = q.open_result();
    match out {
        SqsOutput::Empty => {}
        SqsOutput::QueueUrl(url) => {
            x.leaf("QueueUrl", url);
        }
        SqsOutput::QueueUrls(list) | SqsOutput::DeadLetterSourceQueues(list) => {
            for url in &list.queue_urls {
                x.leaf("QueueUrl", url);
            }
            x.opt("NextToken", list.next_token.as_deref());
        }
        SqsOutput::Attributes(attrs) => {
            for (name, value) in attrs {
                x.open("Attribute");
                x.leaf("Name", name);
                x.leaf("Value", value);
                x.close("Attribute");
            }
        }
        SqsOutput::Tags(tags) => {
            for (key, value) in tags {
                x.open("Tag");
                x.leaf("Key", key);
                x.leaf("Value", value);
                x.close("Tag");
            }
        }
        SqsOutput::Sent(o) => sent(x, o),
        SqsOutput::SentBatch(b) => {
            for (id, o) in &b.successful {
                x.open("SendMessageBatchResultEntry");
                x.leaf("Id", id);
                sent(x, o);
                x.close("SendMessageBatchResultEntry");
            }
            batch_errors(x, b);
        }
        SqsOutput::Batch(b) => {
            for (id, ()) in &b.successful {
                x.open2(action, "ResultEntry");
                x.leaf("Id", id);
                x.close2(action, "ResultEntry");
            }
            batch_errors(x, b);
        }
        SqsOutput::Received(messages) => {
            for m in messages {
                x.open("Message");
                x.leaf("MessageId", m.message_id());
                x.leaf("ReceiptHandle", &m.receipt_handle);
                x.leaf("MD5OfBody", m.md5_of_body());
                x.leaf("Body", m.body());
                for (name, value) in &m.attributes {
                    x.open("Attribute");
                    x.leaf("Name", name);
                    x.leaf("Value", value);
                    x.close("Attribute");
                }
                x.opt("MD5OfMessageAttributes", m.md5_of_message_attributes.as_deref());
                for (name, v) in &m.message_attributes {
                    x.open("MessageAttribute");
                    x.leaf("Name", name);
                    x.open("Value");
                    x.opt("StringValue", v.string_value.as_deref());
                    if let Some(b) = &v.binary_value {
                        x.leaf("BinaryValue", &STANDARD.encode(b));
                    }
                    x.leaf("DataType", &v.data_type);
                    x.close("Value");
                    x.close("MessageAttribute");
                }
                x.close("Message");
            }
        }
        SqsOutput::TaskHandle(h) => {
            x.leaf("TaskHandle", h);
        }
        SqsOutput::Moved(n) => {
            x.leaf("ApproximateNumberOfMessagesMoved", &n.to_string());
        }
        SqsOutput::MoveTasks(tasks) => {
            for t in tasks {
                x.open("ListMessageMoveTasksResultEntry");
                x.opt("TaskHandle", t.task_handle.as_deref());
                x.leaf("Status", t.status);
                x.leaf("SourceArn", &t.source_arn);
                x.opt("DestinationArn", t.destination_arn.as_deref());
                x.opt(
                    "MaxNumberOfMessagesPerSecond",
                    t.max_number_of_messages_per_second.map(|n| n.to_string()).as_deref(),
                );
                x.leaf(
                    "ApproximateNumberOfMessagesMoved",
                    &t.approximate_number_of_messages_moved.to_string(),
                );
                x.opt(
                    "ApproximateNumberOfMessagesToMove",
                    t.approximate_number_of_messages_to_move
                        .map(|n| n.to_string())
                        .as_deref(),
                );
                x.opt("FailureReason", t.failure_reason.as_deref());
                x.leaf("StartedTimestamp", &t.started_timestamp.to_string());
                x.close("ListMessageMoveTasksResultEntry");
            }
        }
    }
    q.close_result();
}

pub(super) fn response(action: &str, out: &SqsOutput, ctx: &RequestContext) -> Response<Bytes> {
    let mut q = QueryWriter::start(action, NAMESPACE);
    result(&mut q, action, out);
    lb_protocol::query::response(q.finish(&ctx.request_id), &ctx.request_id)
}

pub(super) fn error_response(err: &AwsError, ctx: &RequestContext) -> Response<Bytes> {
    lb_protocol::query::error_response(err, errors::query_message(err), &ctx.request_id, SPEC.query_errors)
}
