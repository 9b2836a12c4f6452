//! The SQS operations over plain types: no HTTP, no XML, no JSON. One module per operation
//! family, each a one-hop answer to "where is operation X":
//!
//! - `queues`: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, Get/SetQueueAttributes, tags,
//!   PurgeQueue, ListDeadLetterSourceQueues.
//! - `send`: SendMessage, SendMessageBatch (validation and digests outside the queue lock).
//! - `receive`: ReceiveMessage (long polling on the clock), redrive to the dead-letter queue.
//! - `visibility`: DeleteMessage, ChangeMessageVisibility and their batches.
//! - `permissions`: AddPermission, RemovePermission.
//!
//! Time comes from the injected clock everywhere, the long-poll deadline included.

mod permissions;
mod queues;
mod receive;
mod send;
mod visibility;

pub(crate) use send::prepare;

use std::collections::HashSet;
use std::sync::{Arc, PoisonError};

use lb_core::{Arn, AwsError, RequestContext};

use crate::attributes::QueueConfig;
use crate::errors;
use crate::model::{BatchEntry, QueueRef};
use crate::queue::Queue;
use crate::validate;
use crate::Sqs;

fn registry_key(region: &str, account: &str, name: &str) -> String {
    let mut key = String::with_capacity(region.len() + account.len() + name.len() + 2);
    push_registry_key(&mut key, region, account, name);
    key
}

fn push_registry_key(key: &mut String, region: &str, account: &str, name: &str) {
    key.push_str(region);
    key.push('\n');
    key.push_str(account);
    key.push('\n');
    key.push_str(name);
}

thread_local! {
    /// The lookup key, built in a buffer the thread reuses: a queue lookup (every message
    /// operation) allocates nothing.
    static LOOKUP_KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

fn retention_ms(config: &QueueConfig) -> u64 {
    u64::from(config.message_retention_period) * 1000
}

/// Checks a batch's shape: 1 to 10 entries with valid, distinct ids.
fn check_batch<T>(entries: &[BatchEntry<T>], entry_name: &str) -> Result<(), AwsError> {
    if entries.is_empty() {
        return Err(errors::empty_batch(entry_name));
    }
    if entries.len() > 10 {
        return Err(errors::too_many_entries(entries.len()));
    }
    if entries.iter().any(|e| !validate::valid_batch_id(&e.id)) {
        return Err(errors::invalid_batch_entry_id());
    }
    let mut seen = HashSet::with_capacity(entries.len());
    for e in entries {
        if !seen.insert(e.id.as_str()) {
            return Err(errors::batch_entry_ids_not_distinct(&e.id));
        }
    }
    Ok(())
}

/// An optional integer parameter that must lie in `min..=max` when given.
fn optional_in_range(
    value: Option<i64>,
    min: i64,
    max: i64,
    param: &str,
    reason: &str,
) -> Result<Option<i64>, AwsError> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(errors::invalid_value(v, param, reason)),
        v => Ok(v),
    }
}

impl Sqs {
    pub(crate) fn lookup(&self, region: &str, account: &str, name: &str) -> Option<Arc<Queue>> {
        LOOKUP_KEY.with_borrow_mut(|key| {
            key.clear();
            push_registry_key(key, region, account, name);
            let map = self.inner.queues.read().unwrap_or_else(PoisonError::into_inner);
            let found = map.get(key.as_str()).cloned();
            // A pathological name must not keep a large buffer alive on the thread.
            if key.capacity() > 1024 {
                *key = String::new();
            }
            found
        })
    }

    /// The queue a request names (a bare name: the caller's account), in the request's region.
    pub(crate) fn queue(&self, ctx: &RequestContext, q: &QueueRef) -> Result<Arc<Queue>, AwsError> {
        self.lookup(&ctx.region, q.account_or(&ctx.account), &q.name)
            .ok_or_else(errors::queue_does_not_exist)
    }

    pub(crate) fn queue_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        let arn: Arn = arn.parse().ok()?;
        if arn.service != "sqs" {
            return None;
        }
        self.lookup(&arn.region, &arn.account, &arn.resource)
    }

    /// The queues of one region and account, in name order.
    fn queues_of(&self, region: &str, account: &str) -> Vec<Arc<Queue>> {
        let prefix = registry_key(region, account, "");
        let map = self.inner.queues.read().unwrap_or_else(PoisonError::into_inner);
        map.range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, q)| Arc::clone(q))
            .collect()
    }
}
