//! ReceiveMessage: one look at the queue, or a long poll that waits on the clock and on the
//! queue's wake-ups; redrive to the dead-letter queue happens here, as messages are received.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use lb_core::{AwsError, RequestContext};

use super::{optional_in_range, retention_ms};
use crate::attributes::{MAX_VISIBILITY_TIMEOUT, MAX_WAIT_TIME_SECONDS};
use crate::digest;
use crate::errors;
use crate::model::{MessageAttributeValue, QueueRef, ReceiveMessageInput, ReceivedMessage};
use crate::queue::{MsgKey, Queue, QueueState, ReceiveParams, Received, Slot, Taken};
use crate::receipt::Receipt;
use crate::validate;
use crate::Sqs;

/// The most messages a queue may have in flight. Past it, a standard queue's ReceiveMessage
/// fails with OverLimit and a FIFO queue's returns nothing, as AWS documents.
const MAX_IN_FLIGHT: usize = 120_000;

/// Which attributes a receive returns.
struct Selection {
    system_all: bool,
    system: Vec<String>,
    user_all: bool,
    user: Vec<String>,
    user_prefixes: Vec<String>,
}

impl Selection {
    fn new(attribute_names: &[String], message_attribute_names: &[String]) -> Self {
        let mut user_all = false;
        let mut user = Vec::new();
        let mut user_prefixes = Vec::new();
        // As AWS answered them (recorded): `All`, `.*` and `*` select every attribute; `Help.*`
        // the attributes whose names start with `Help.` (`Help.Me`; `Hel.*` selects neither
        // `Hello` nor `Help.Me`); anything else one name. No name is refused.
        for n in message_attribute_names {
            if n == "All" || n == ".*" || n == "*" {
                user_all = true;
            } else if let Some(prefix) = n.strip_suffix('*').filter(|p| p.ends_with('.')) {
                user_prefixes.push(prefix.to_owned());
            } else {
                user.push(n.clone());
            }
        }
        Self {
            system_all: attribute_names.iter().any(|n| n == "All"),
            system: attribute_names.to_vec(),
            user_all,
            user,
            user_prefixes,
        }
    }

    fn wants_system(&self, name: &str) -> bool {
        self.system_all || self.system.iter().any(|n| n == name)
    }

    fn wants_user(&self, name: &str) -> bool {
        self.user_all || self.user.iter().any(|n| n == name) || self.user_prefixes.iter().any(|p| name.starts_with(p))
    }
}

/// System attributes in the order they are returned.
const SYSTEM_ATTRIBUTES: [&str; 9] = [
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
];

struct ReceiveAttempt {
    taken: Vec<Taken>,
    next_wake_ms: Option<u64>,
    /// Visible messages left after this receive.
    visible_left: usize,
}

impl Sqs {
    pub async fn receive_message(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        input: ReceiveMessageInput,
    ) -> Result<Vec<ReceivedMessage>, AwsError> {
        let max = optional_in_range(
            input.max_number_of_messages,
            1,
            10,
            "MaxNumberOfMessages",
            "Must be between 1 and 10, if provided.",
        )?
        .map_or(1, |n| usize::try_from(n).unwrap_or(1));
        let wait = optional_in_range(
            input.wait_time_seconds,
            0,
            MAX_WAIT_TIME_SECONDS,
            "WaitTimeSeconds",
            "Must be >= 0 and <= 20, if provided.",
        )?
        .and_then(|w| u64::try_from(w).ok());
        let visibility = optional_in_range(
            input.visibility_timeout,
            0,
            MAX_VISIBILITY_TIMEOUT,
            "VisibilityTimeout",
            "Must be >= 0 and <= 43200, if provided.",
        )?
        .and_then(|v| u32::try_from(v).ok());
        let q = self.queue(ctx, queue)?;
        let attempt_id = input.receive_request_attempt_id.as_deref().filter(|_| q.fifo);
        if let Some(id) = attempt_id {
            validate::check_token(id, "ReceiveRequestAttemptId")?;
        }
        let selection = Selection::new(&input.attribute_names, &input.message_attribute_names);
        let wait = wait.unwrap_or_else(|| u64::from(q.default_wait.load(Ordering::Relaxed)));
        if wait == 0 {
            let attempt = self.receive_once(&q, max, visibility, attempt_id)?;
            return Ok(self.render(&q, attempt.taken, &selection));
        }
        // Long poll: wait for a wake-up (a send, a delete or visibility change making a FIFO
        // group receivable) or for the next delayed or in-flight message to become visible,
        // whichever comes first. The deadline is clock time: under a manual clock a waiting
        // receive ends when the clock is moved past it.
        let _waiter = q.waiter();
        let deadline = self.now().saturating_add(wait.saturating_mul(1000));
        loop {
            let notified = q.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let attempt = self.receive_once(&q, max, visibility, attempt_id)?;
            if !attempt.taken.is_empty() {
                if attempt.visible_left > 0 {
                    // Pass the wake-up on: one waiter was woken for what may be many messages.
                    q.wake(1);
                }
                return Ok(self.render(&q, attempt.taken, &selection));
            }
            if self.now() >= deadline {
                return Ok(Vec::new());
            }
            let until = attempt.next_wake_ms.map_or(deadline, |at| at.min(deadline));
            let timer = self.inner.clock.sleep_until(until);
            tokio::select! {
                () = &mut notified => {}
                () = timer => {}
            }
        }
    }

    /// How many long polls wait on a queue (0 if it does not exist).
    pub fn waiting_receivers(&self, ctx: &RequestContext, queue: &QueueRef) -> usize {
        self.queue(ctx, queue).map_or(0, |q| q.waiting())
    }

    /// One look at the queue: promote, expire, receive, redrive.
    fn receive_once(
        &self,
        q: &Arc<Queue>,
        max: usize,
        visibility: Option<u32>,
        attempt_id: Option<&str>,
    ) -> Result<ReceiveAttempt, AwsError> {
        let now = self.now();
        let mut guard = q.lock();
        if q.is_deleted() {
            return Err(errors::queue_does_not_exist());
        }
        let dlq = self.resolve_dlq(&mut guard);
        let st = &mut *guard;
        st.store.expire(now, retention_ms(&st.config));
        st.store.promote(now);
        let visibility_ms = u64::from(visibility.unwrap_or(st.config.visibility_timeout)) * 1000;
        let (_, in_flight, _) = st.store.counts();
        if in_flight >= MAX_IN_FLIGHT {
            if q.fifo {
                return Ok(ReceiveAttempt {
                    taken: Vec::new(),
                    next_wake_ms: st.store.next_timer(),
                    visible_left: 0,
                });
            }
            return Err(errors::over_limit(MAX_IN_FLIGHT));
        }
        let max = max.min(MAX_IN_FLIGHT - in_flight);
        if let Some(id) = attempt_id {
            st.attempts.sweep(now);
            if let Some(previous) = st.attempts.get(id).cloned() {
                let again: Option<Vec<Taken>> = previous
                    .iter()
                    .map(|(key, count)| st.store.retake(*key, *count, now, visibility_ms))
                    .collect();
                if let Some(taken) = again {
                    return Ok(ReceiveAttempt {
                        taken,
                        next_wake_ms: None,
                        visible_left: 0,
                    });
                }
            }
        }
        let params = ReceiveParams {
            now,
            max,
            visibility_ms,
            max_receive_count: dlq.as_ref().map(|(_, max_receive)| *max_receive),
        };
        let Received { taken, dead } = st.store.receive(&params, &mut || self.nonce());
        if let Some(id) = attempt_id {
            if !taken.is_empty() {
                let keys = taken.iter().map(|t| (t.key, t.receive_count)).collect();
                st.attempts.insert(id, keys, now);
            }
        }
        let next_wake_ms = st.store.next_timer();
        let (visible_left, _, _) = st.store.counts();
        drop(guard);
        if let Some((dlq, _)) = dlq.filter(|_| !dead.is_empty()) {
            self.dead_letter(q, &dlq, dead, now);
        }
        Ok(ReceiveAttempt {
            taken,
            next_wake_ms,
            visible_left,
        })
    }

    /// The dead-letter queue of a queue with a redrive policy, if it exists.
    // Lock order: called with the source queue locked; takes the registry lock (never the reverse).
    fn resolve_dlq(&self, st: &mut QueueState) -> Option<(Arc<Queue>, u32)> {
        let policy = st.config.redrive_policy.as_ref()?;
        let max = policy.max_receive_count;
        if let Some(q) = st.dlq_target.upgrade().filter(|q| !q.is_deleted()) {
            return Some((q, max));
        }
        let q = self.queue_by_arn(&policy.dead_letter_target_arn)?;
        st.dlq_target = Arc::downgrade(&q);
        Some((q, max))
    }

    /// Moves messages that exceeded `maxReceiveCount` into the dead-letter queue, keeping their
    /// id, body, attributes, sent time and receive count. Should the dead-letter queue be deleted
    /// meanwhile, they go back to the source queue: an accepted message is never lost here.
    fn dead_letter(&self, source: &Queue, dlq: &Queue, dead: Vec<(MsgKey, Slot)>, now: u64) {
        let n = dead.len();
        let leftover = {
            let mut st = dlq.lock();
            if dlq.is_deleted() {
                Some(dead)
            } else {
                for (key, mut slot) in dead {
                    slot.dead_letter_source = Some(Arc::clone(&source.arn));
                    slot.until = 0;
                    st.store.insert(key, slot, now);
                }
                None
            }
        };
        match leftover {
            None => dlq.wake(n),
            Some(dead) => {
                let mut st = source.lock();
                for (key, mut slot) in dead {
                    slot.until = 0;
                    st.store.insert(key, slot, now);
                }
            }
        }
    }

    fn render(&self, q: &Queue, taken: Vec<Taken>, sel: &Selection) -> Vec<ReceivedMessage> {
        taken
            .into_iter()
            .map(|t| {
                let receipt_handle = Receipt {
                    queue_uid: q.uid,
                    key: t.key,
                    receive_count: t.receive_count,
                    nonce: t.nonce,
                }
                .encode();
                let data = &t.data;
                let attributes = SYSTEM_ATTRIBUTES
                    .into_iter()
                    .filter(|name| sel.wants_system(name))
                    .filter_map(|name| {
                        let value = match name {
                            "SenderId" => Some(data.sender_id.to_string()),
                            "SentTimestamp" => Some(t.key.sent.to_string()),
                            "ApproximateReceiveCount" => Some(t.receive_count.to_string()),
                            "ApproximateFirstReceiveTimestamp" => Some(t.first_receive_ms.to_string()),
                            "SequenceNumber" => t.sequence_number.map(|n| n.to_string()),
                            "MessageDeduplicationId" => data.deduplication_id().map(str::to_owned),
                            "MessageGroupId" => data.group_id().map(str::to_owned),
                            "AWSTraceHeader" => data
                                .system_attributes()
                                .get("AWSTraceHeader")
                                .and_then(|v| v.string_value.clone()),
                            "DeadLetterQueueSourceArn" => t.dead_letter_source.as_deref().map(str::to_owned),
                            _ => None,
                        };
                        value.map(|v| (name, v))
                    })
                    .collect();
                let message_attributes: Vec<(String, MessageAttributeValue)> = data
                    .attributes()
                    .iter()
                    .filter(|(name, _)| sel.wants_user(name))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let md5_of_message_attributes = if message_attributes.len() == data.attributes().len() {
                    data.md5_of_attributes().map(str::to_owned)
                } else {
                    digest::md5_of_attributes(message_attributes.iter().map(|(k, v)| (k, v)))
                };
                ReceivedMessage {
                    md5_of_body: data.md5_of_body_hex(),
                    data: Arc::clone(&t.data),
                    receipt_handle,
                    attributes,
                    message_attributes,
                    md5_of_message_attributes,
                }
            })
            .collect()
    }
}
