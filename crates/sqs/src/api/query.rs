//! The query protocol: `Action=<Op>&Version=2012-11-05&...` in a form body or the query string,
//! XML responses. Lists and maps are flattened as the model's `locationName`s say:
//! `AttributeName.1`, `Attribute.1.Name` / `Attribute.1.Value`, `MessageAttribute.1.Value.DataType`,
//! `SendMessageBatchRequestEntry.1.MessageBody`, ... A request may be POSTed to the queue URL
//! itself (`/000000000000/uploads`) instead of naming `QueueUrl`.

use std::collections::{BTreeSet, HashMap};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response};
use lb_core::{AwsError, RequestContext};

use super::xml::Xml;
use super::{queue_ref, respond, SqsOp, SqsOutput, OPERATIONS};
use crate::errors;
use crate::model::{
    AddPermissionInput, BatchEntry, BatchOutput, ChangeVisibilityEntry, CreateQueueInput, GetQueueUrlInput,
    ListQueuesInput, MessageAttributeValue, MessageAttributes, QueueRef, ReceiveMessageInput, SendMessageEntry,
    SendMessageOutput, StartMessageMoveTaskInput,
};

const CONTENT_TYPE: &str = "text/xml";

/// The request's parameters (query string and form body; the body wins).
struct Params {
    map: HashMap<String, String>,
    /// The queue URL path the request was sent to, if any (`/{account}/{name}`).
    path: String,
}

impl Params {
    fn from_request(req: &Request<Bytes>) -> Self {
        let mut map = HashMap::new();
        if let Some(q) = req.uri().query() {
            map.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        map.extend(form_urlencoded::parse(req.body()).into_owned());
        Self {
            map,
            path: req.uri().path().to_owned(),
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    fn string(&self, key: &str) -> Option<String> {
        self.map.get(key).cloned()
    }

    fn int(&self, key: &str) -> Result<Option<i64>, AwsError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| errors::invalid_value(v, key, "Value must be an integer.")),
        }
    }

    /// The `N`s of `{prefix}.N` and `{prefix}.N.*` keys, in order.
    fn indices(&self, prefix: &str) -> BTreeSet<u32> {
        self.map
            .keys()
            .filter_map(|k| {
                let rest = k.strip_prefix(prefix)?.strip_prefix('.')?;
                rest.split('.').next()?.parse::<u32>().ok()
            })
            .collect()
    }

    /// `{prefix}.1`, `{prefix}.2`, ... in index order.
    fn list(&self, prefix: &str) -> Vec<String> {
        self.indices(prefix)
            .into_iter()
            .filter_map(|n| self.string(&format!("{prefix}.{n}")))
            .collect()
    }

    /// `{prefix}.N.{key}` / `{prefix}.N.{value}` pairs in index order.
    fn pairs(&self, prefix: &str, key: &str, value: &str) -> Vec<(String, String)> {
        self.indices(prefix)
            .into_iter()
            .filter_map(|n| {
                let k = self.string(&format!("{prefix}.{n}.{key}"))?;
                let v = self.string(&format!("{prefix}.{n}.{value}")).unwrap_or_default();
                Some((k, v))
            })
            .collect()
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
            None if self.path.split('/').filter(|s| !s.is_empty()).count() >= 2 => QueueRef::from_url(&self.path),
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

/// Parses a query-protocol request into its action name and operation.
pub(super) fn parse(req: &Request<Bytes>) -> Result<(&'static str, SqsOp), ParseError> {
    let p = Params::from_request(req);
    let action = match p.get("Action") {
        None | Some("") => return Err((None, errors::missing_action())),
        Some(a) => OPERATIONS
            .into_iter()
            .find(|op| *op == a)
            .ok_or_else(|| (None, errors::invalid_action(a)))?,
    };
    parse_op(action, &p)
        .map(|op| (action, op))
        .map_err(|e| (Some(action), e))
}

fn parse_op(action: &str, p: &Params) -> Result<SqsOp, AwsError> {
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

fn batch_errors<T>(x: &mut Xml, b: &BatchOutput<T>) {
    for f in &b.failed {
        x.open("BatchResultErrorEntry");
        x.leaf("Id", &f.id);
        x.leaf("SenderFault", if f.sender_fault { "true" } else { "false" });
        x.leaf("Code", &f.code);
        x.leaf("Message", &f.message);
        x.close("BatchResultErrorEntry");
    }
}

fn sent(x: &mut Xml, o: &SendMessageOutput) {
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
fn result(x: &mut Xml, action: &str, out: &SqsOutput) {
    let tag = format!("{action}Result");
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
        x.empty(&tag);
        return;
    }
    x.open(&tag);
    match out {
        SqsOutput::Empty => {}
        SqsOutput::QueueUrl(url) => x.leaf("QueueUrl", url),
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
            let entry = format!("{action}ResultEntry");
            for (id, ()) in &b.successful {
                x.open(&entry);
                x.leaf("Id", id);
                x.close(&entry);
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
        SqsOutput::TaskHandle(h) => x.leaf("TaskHandle", h),
        SqsOutput::Moved(n) => x.leaf("ApproximateNumberOfMessagesMoved", &n.to_string()),
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
    x.close(&tag);
}

pub(super) fn response(action: &str, out: &SqsOutput, ctx: &RequestContext) -> Response<Bytes> {
    let mut x = Xml::response(action);
    result(&mut x, action, out);
    respond(200, CONTENT_TYPE, x.finish(action, &ctx.request_id).into_bytes(), ctx)
}

pub(super) fn error_response(err: &AwsError, ctx: &RequestContext) -> Response<Bytes> {
    let mut x = Xml::error();
    x.open("Error");
    x.leaf("Type", if err.sender_fault { "Sender" } else { "Receiver" });
    x.leaf("Code", &err.code);
    x.leaf("Message", errors::query_message(err));
    x.empty("Detail");
    x.close("Error");
    respond(
        err.status,
        CONTENT_TYPE,
        x.finish_error(&ctx.request_id).into_bytes(),
        ctx,
    )
}
