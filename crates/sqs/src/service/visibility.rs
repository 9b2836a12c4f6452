//! What a consumer does with a received message: DeleteMessage, ChangeMessageVisibility and
//! their batches.

use lb_core::{AwsError, RequestContext};

use super::check_batch;
use crate::attributes::MAX_VISIBILITY_TIMEOUT;
use crate::errors;
use crate::model::{BatchEntry, BatchOutput, BatchResultError, ChangeVisibilityEntry, QueueRef};
use crate::queue::{Queue, SlotState};
use crate::receipt::Receipt;
use crate::Sqs;

impl Sqs {
    pub fn delete_message(&self, ctx: &RequestContext, queue: &QueueRef, receipt_handle: &str) -> Result<(), AwsError> {
        let q = self.queue(ctx, queue)?;
        self.delete_on(&q, receipt_handle)
    }

    fn delete_on(&self, q: &Queue, handle: &str) -> Result<(), AwsError> {
        if handle.is_empty() {
            return Err(errors::missing_parameter("ReceiptHandle"));
        }
        let r = Receipt::decode(handle)
            .filter(|r| r.queue_uid == q.uid)
            .ok_or_else(|| errors::receipt_handle_is_invalid(handle))?;
        let now = self.now();
        let mut st = q.lock();
        st.store.promote(now);
        let Some(slot) = st.store.get(&r.key) else {
            // Already deleted (or expired): deleting again succeeds, as on AWS.
            return Ok(());
        };
        // FIFO queues only accept the handle of the receive currently in flight.
        if q.fifo && !(slot.state == SlotState::InFlight && slot.receive_count == r.receive_count) {
            return Err(errors::receipt_handle_expired(handle));
        }
        st.store.remove(r.key);
        st.store.compact();
        drop(st);
        if q.fifo {
            // The message's group may have unlocked.
            q.wake(1);
        }
        Ok(())
    }

    pub fn delete_message_batch(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        entries: Vec<BatchEntry<String>>,
    ) -> Result<BatchOutput<()>, AwsError> {
        check_batch(&entries, "DeleteMessageBatchRequestEntry")?;
        let q = self.queue(ctx, queue)?;
        Ok(each_entry(entries, |handle| self.delete_on(&q, handle)))
    }

    pub fn change_message_visibility(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        receipt_handle: &str,
        visibility_timeout: Option<i64>,
    ) -> Result<(), AwsError> {
        let q = self.queue(ctx, queue)?;
        self.change_visibility_on(&q, receipt_handle, visibility_timeout)
    }

    fn change_visibility_on(&self, q: &Queue, handle: &str, timeout: Option<i64>) -> Result<(), AwsError> {
        if handle.is_empty() {
            return Err(errors::missing_parameter("ReceiptHandle"));
        }
        let timeout = timeout.ok_or_else(|| errors::missing_parameter("VisibilityTimeout"))?;
        if timeout < 0 {
            return Err(errors::invalid_value(
                timeout,
                "VisibilityTimeout",
                "Must be >= 0 and <= 43200, if provided.",
            ));
        }
        let too_long = || {
            errors::invalid_value(
                timeout,
                "VisibilityTimeout",
                "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
            )
        };
        if timeout > MAX_VISIBILITY_TIMEOUT {
            return Err(too_long());
        }
        let timeout_ms = u64::try_from(timeout).unwrap_or(0) * 1000;
        let r = Receipt::decode(handle)
            .filter(|r| r.queue_uid == q.uid)
            .ok_or_else(|| errors::receipt_handle_is_invalid(handle))?;
        let now = self.now();
        let mut st = q.lock();
        st.store.promote(now);
        let Some(slot) = st.store.get(&r.key) else {
            return Err(errors::message_not_available_for_visibility(handle));
        };
        let current = slot.state == SlotState::InFlight && slot.receive_count == r.receive_count;
        if (q.fifo && !current) || slot.state == SlotState::Delayed {
            return Err(errors::message_not_inflight());
        }
        if slot.state == SlotState::InFlight
            && now.saturating_add(timeout_ms).saturating_sub(slot.received_ms)
                > u64::try_from(MAX_VISIBILITY_TIMEOUT).unwrap_or(u64::MAX) * 1000
        {
            return Err(too_long());
        }
        if !st.store.change_visibility(r.key, now, timeout_ms) {
            return Err(errors::message_not_inflight());
        }
        drop(st);
        if timeout_ms == 0 {
            q.wake(1);
        }
        Ok(())
    }

    pub fn change_message_visibility_batch(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        entries: Vec<BatchEntry<ChangeVisibilityEntry>>,
    ) -> Result<BatchOutput<()>, AwsError> {
        check_batch(&entries, "ChangeMessageVisibilityBatchRequestEntry")?;
        let q = self.queue(ctx, queue)?;
        Ok(each_entry(entries, |e| {
            self.change_visibility_on(&q, &e.receipt_handle, e.visibility_timeout)
        }))
    }
}

/// Runs `op` on each entry of a batch; each entry succeeds or fails on its own.
fn each_entry<E>(entries: Vec<BatchEntry<E>>, mut op: impl FnMut(&E) -> Result<(), AwsError>) -> BatchOutput<()> {
    let mut out = BatchOutput::default();
    for e in entries {
        match op(&e.entry) {
            Ok(()) => out.successful.push((e.id, ())),
            Err(err) => out.failed.push(BatchResultError::new(&e.id, &err)),
        }
    }
    out
}
