//! SendMessage and SendMessageBatch: each message is validated and digested outside the queue
//! lock, then stored under one lock acquisition.

use std::sync::Arc;

use lb_core::{AwsError, RequestContext};

use super::{check_batch, retention_ms};
use crate::attributes::{DeduplicationScope, QueueConfig, MAX_DELAY_SECONDS, MAX_MESSAGE_SIZE};
use crate::digest;
use crate::errors;
use crate::model::{
    BatchEntry, BatchOutput, BatchResultError, MessageAttributeValue, QueueRef, SendMessageEntry, SendMessageOutput,
};
use crate::queue::{DedupHit, MessageData, MessageExtra, MessageId, MsgKey, Queue, Slot};
use crate::validate;
use crate::Sqs;

/// The system attribute that carries an X-Ray trace header.
pub(crate) const TRACE_HEADER: &str = "AWSTraceHeader";

/// Who sent a message: the caller's access key when signed, else the account.
pub(crate) fn sender_id(ctx: &RequestContext) -> &str {
    ctx.access_key.as_deref().unwrap_or(&ctx.account)
}

/// A validated message, with its digests computed, ready to be stored.
pub(crate) struct Prepared {
    data: Arc<MessageData>,
    /// Body plus attributes, as counted against `MaximumMessageSize`.
    size: usize,
    delay: Option<u32>,
    explicit_dedup: bool,
}

/// Validates one message (everything that does not need the queue's configuration) and computes
/// its digests, outside any lock.
///
/// `trace_header` is the request's `X-Amzn-Trace-Id` (or a delivery's): it becomes the
/// `AWSTraceHeader` system attribute unless the message sets that attribute itself. It does not
/// count toward `MD5OfMessageSystemAttributes`, which covers what the request sent.
///
/// `body` is the message's text: the entry's own (a request's) or one shared with its producer
/// (a delivery's), kept as it is, never copied; `entry.body` is not read.
pub(crate) fn prepare(
    fifo: bool,
    message_id: MessageId,
    sender_id: Arc<str>,
    body: Option<Arc<str>>,
    mut entry: SendMessageEntry,
    trace_header: Option<&str>,
) -> Result<Prepared, AwsError> {
    let body = match body {
        Some(b) if !b.is_empty() => b,
        _ => return Err(errors::missing_parameter("MessageBody")),
    };
    validate::check_body(&body)?;
    validate::check_attributes(&entry.attributes)?;
    validate::check_system_attributes(&entry.system_attributes)?;
    let delay = match entry.delay_seconds {
        None => None,
        // FIFO queues take no per-message delay; 0 means "the queue's".
        Some(0) if fifo => None,
        Some(d) if fifo => {
            return Err(errors::invalid_value(
                d,
                "DelaySeconds",
                "The request include parameter that is not valid for this queue type.",
            ))
        }
        Some(d @ 0..=MAX_DELAY_SECONDS) => Some(u32::try_from(d).unwrap_or(0)),
        Some(d) => {
            return Err(errors::invalid_value(
                d,
                "DelaySeconds",
                "DelaySeconds must be >= 0 and <= 900.",
            ))
        }
    };
    if let Some(g) = &entry.group_id {
        validate::check_token(g, "MessageGroupId")?;
    } else if fifo {
        return Err(errors::missing_parameter("MessageGroupId"));
    }
    let explicit_dedup = entry.deduplication_id.is_some();
    let deduplication_id = match entry.deduplication_id {
        Some(d) if fifo => {
            validate::check_token(&d, "MessageDeduplicationId")?;
            Some(d)
        }
        Some(d) => {
            return Err(errors::invalid_value(
                d,
                "MessageDeduplicationId",
                "The request include parameter that is not valid for this queue type.",
            ))
        }
        // Content-based deduplication: SHA-256 of the body (whether the queue allows it is
        // checked under its lock).
        None if fifo => Some(digest::sha256_hex(body.as_bytes())),
        None => None,
    };
    let size = body.len() + validate::attributes_size(&entry.attributes);
    let has_extra = !entry.attributes.is_empty()
        || !entry.system_attributes.is_empty()
        || entry.group_id.is_some()
        || deduplication_id.is_some();
    let md5_of_system_attributes = digest::md5_of_attributes(&entry.system_attributes);
    if let Some(trace) = trace_header.filter(|t| !t.is_empty() && validate::first_invalid_char(t).is_none()) {
        entry
            .system_attributes
            .entry(TRACE_HEADER.to_owned())
            .or_insert_with(|| MessageAttributeValue::string("String", trace));
    }
    let has_extra = has_extra || !entry.system_attributes.is_empty();
    let extra = has_extra.then(|| {
        Box::new(MessageExtra {
            md5_of_attributes: digest::md5_of_attributes(&entry.attributes),
            attributes: entry.attributes,
            md5_of_system_attributes,
            system_attributes: entry.system_attributes,
            group_id: entry.group_id,
            deduplication_id,
        })
    });
    let data = MessageData {
        message_id,
        md5_of_body: std::sync::OnceLock::new(),
        body,
        sender_id,
        extra,
    };
    Ok(Prepared {
        data: Arc::new(data),
        size,
        delay,
        explicit_dedup,
    })
}

/// A message the queue accepted (stored, or a FIFO duplicate of one stored before). The answer
/// is built from it after the queue lock is released, and only by callers that answer.
pub(crate) struct Sent {
    data: Arc<MessageData>,
    /// A duplicate's answer carries the original's id.
    original_id: Option<MessageId>,
    sequence_number: Option<u128>,
}

impl Sent {
    pub(crate) fn output(&self) -> SendMessageOutput {
        let id = self.original_id.as_ref().unwrap_or(&self.data.message_id);
        send_output(&self.data, id.as_str(), self.sequence_number)
    }
}

fn send_output(data: &MessageData, message_id: &str, sequence_number: Option<u128>) -> SendMessageOutput {
    SendMessageOutput {
        message_id: message_id.to_owned(),
        md5_of_message_body: data.md5_of_body_hex(),
        md5_of_message_attributes: data.md5_of_attributes().map(str::to_owned),
        md5_of_message_system_attributes: data.md5_of_system_attributes().map(str::to_owned),
        sequence_number: sequence_number.map(|n| n.to_string()),
    }
}

/// The group a deduplication id is looked up in: any (queue scope) or the message's own.
fn dedup_group<'a>(config: &QueueConfig, data: &'a MessageData) -> Option<&'a str> {
    match config.deduplication_scope {
        DeduplicationScope::Queue => None,
        DeduplicationScope::MessageGroup => Some(data.group_id().unwrap_or_default()),
    }
}

impl Sqs {
    pub fn send_message(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        entry: SendMessageEntry,
    ) -> Result<SendMessageOutput, AwsError> {
        let q = self.queue(ctx, queue)?;
        self.send_to(&q, self.sender(sender_id(ctx)), entry, ctx.trace_header.as_deref())
    }

    pub(crate) fn send_to(
        &self,
        q: &Queue,
        sender_id: Arc<str>,
        entry: SendMessageEntry,
        trace_header: Option<&str>,
    ) -> Result<SendMessageOutput, AwsError> {
        let mut entry = entry;
        let body = entry.body.take().map(Arc::from);
        let prepared = prepare(q.fifo, self.message_uuid(), sender_id, body, entry, trace_header)?;
        self.enqueue(q, vec![Ok(prepared)], false)?
            .pop()
            .unwrap_or_else(|| Err(AwsError::internal("the message produced no result")))
            .map(|sent| sent.output())
    }

    pub fn send_message_batch(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        entries: Vec<BatchEntry<SendMessageEntry>>,
    ) -> Result<BatchOutput<SendMessageOutput>, AwsError> {
        check_batch(&entries, "SendMessageBatchRequestEntry")?;
        let q = self.queue(ctx, queue)?;
        let total: usize = entries
            .iter()
            .map(|e| e.entry.body.as_ref().map_or(0, String::len) + validate::attributes_size(&e.entry.attributes))
            .sum();
        let limit = MAX_MESSAGE_SIZE as usize;
        if total > limit {
            return Err(errors::batch_request_too_long(limit, total));
        }
        if q.fifo && entries.iter().any(|e| e.entry.group_id.is_none()) {
            return Err(errors::invalid_parameter(
                "The request must contain the parameter MessageGroupId.",
            ));
        }
        let sender = self.sender(sender_id(ctx));
        let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
        let items = entries
            .into_iter()
            .map(|mut e| {
                let body = e.entry.body.take().map(Arc::from);
                prepare(
                    q.fifo,
                    self.message_uuid(),
                    sender.clone(),
                    body,
                    e.entry,
                    ctx.trace_header.as_deref(),
                )
            })
            .collect();
        let results = self.enqueue(&q, items, true)?;
        let mut out = BatchOutput::default();
        for (id, r) in ids.into_iter().zip(results) {
            match r {
                Ok(sent) => out.successful.push((id, sent.output())),
                Err(e) => out.failed.push(BatchResultError::new(&id, &e)),
            }
        }
        Ok(out)
    }

    /// Stores prepared messages under one lock acquisition, in order. The outer error fails the
    /// whole request; inner errors fail single entries.
    pub(crate) fn enqueue(
        &self,
        q: &Queue,
        items: Vec<Result<Prepared, AwsError>>,
        batch: bool,
    ) -> Result<Vec<Result<Sent, AwsError>>, AwsError> {
        let now = self.now();
        let mut guard = q.lock();
        if q.is_deleted() {
            return Err(errors::queue_does_not_exist());
        }
        let st = &mut *guard;
        if q.fifo
            && !st.config.content_based_deduplication
            && items.iter().any(|p| matches!(p, Ok(p) if !p.explicit_dedup))
        {
            return Err(errors::invalid_parameter(
                "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
            ));
        }
        st.store.expire(now, retention_ms(&st.config));
        if q.fifo {
            st.dedup.sweep(now);
        }
        let max = st.config.maximum_message_size as usize;
        let mut out = Vec::with_capacity(items.len());
        let mut stored = 0;
        for item in items {
            let p = match item {
                Ok(p) => p,
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
            };
            if p.size > max {
                let lead = if batch {
                    "One or more parameters cannot be validated."
                } else {
                    "One or more parameters are invalid."
                };
                out.push(Err(errors::invalid_parameter(format!(
                    "{lead} Reason: Message must be shorter than {max} bytes."
                ))));
                continue;
            }
            let mut sequence_number = None;
            if q.fifo {
                let id = p.data.deduplication_id().unwrap_or_default();
                if let Some(hit) = st.dedup.get(id, dedup_group(&st.config, &p.data)) {
                    // A duplicate is accepted but not delivered again.
                    out.push(Ok(Sent {
                        original_id: Some(hit.message_id),
                        sequence_number: hit.sequence_number,
                        data: p.data,
                    }));
                    continue;
                }
                sequence_number = Some(self.next_sequence_number());
                let hit = DedupHit {
                    message_id: p.data.message_id,
                    sequence_number,
                };
                st.dedup.insert(id, p.data.group_id().unwrap_or_default(), hit, now);
            }
            let delay = u64::from(p.delay.unwrap_or(st.config.delay_seconds));
            let key = MsgKey {
                sent: now,
                id: self.next_message_id(),
            };
            out.push(Ok(Sent {
                data: Arc::clone(&p.data),
                original_id: None,
                sequence_number,
            }));
            st.store.insert(
                key,
                Slot::new(p.data, now.saturating_add(delay * 1000), sequence_number),
                now,
            );
            stored += 1;
        }
        drop(guard);
        q.wake(stored);
        Ok(out)
    }
}
