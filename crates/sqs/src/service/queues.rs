//! Queue operations: create, look up, list, delete, attributes, tags, purge, dead-letter sources.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, Weak};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use lb_core::{Arn, AwsError, RequestContext};

use super::{registry_key, retention_ms};
use crate::attributes::{QueueAttr, QueueConfig, RedrivePolicy};
use crate::errors;
use crate::model::{queue_url, CreateQueueInput, GetQueueUrlInput, ListQueuesInput, ListQueuesOutput, QueueRef};
use crate::queue::{Attempts, Dedup, Queue};
use crate::validate;
use crate::Sqs;

/// Only one PurgeQueue per queue per minute.
const PURGE_INTERVAL_MS: u64 = 60_000;
/// The most queue URLs one ListQueues or ListDeadLetterSourceQueues page returns.
const MAX_PAGE: usize = 1000;
/// How long a deleted queue's name stays unavailable: "you must wait 60 seconds after deleting
/// a queue before you can create another with the same name" (CreateQueue, DeleteQueue).
const NAME_REUSE_DELAY_MS: u64 = 60_000;
/// The most tags a queue may carry.
const MAX_TAGS: usize = 50;

/// `MaxResults` of the list operations: 1 to 1000 when given.
fn page_size(max_results: Option<i64>) -> Result<Option<usize>, AwsError> {
    match max_results {
        None => Ok(None),
        Some(n @ 1..=1000) => Ok(usize::try_from(n).ok()),
        Some(n) => Err(errors::invalid_value(
            n,
            "MaxResults",
            "MaxResults must be an integer between 1 and 1000.",
        )),
    }
}

fn decode_token(token: Option<&str>) -> Result<Option<String>, AwsError> {
    match token.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| errors::invalid_value(t, "NextToken", "Invalid NextToken value.")),
    }
}

/// One page of `names` (sorted, already past the token); a token only when the caller paginates.
fn paginate(mut names: Vec<String>, max: Option<usize>) -> (Vec<String>, Option<String>) {
    let limit = max.unwrap_or(MAX_PAGE);
    if names.len() <= limit {
        return (names, None);
    }
    names.truncate(limit);
    let token = max
        .and_then(|_| names.last())
        .map(|last| URL_SAFE_NO_PAD.encode(last.as_bytes()));
    (names, token)
}

impl Sqs {
    pub fn create_queue(
        &self,
        ctx: &RequestContext,
        endpoint: &str,
        input: CreateQueueInput,
    ) -> Result<String, AwsError> {
        let name = input.queue_name.as_str();
        if name.is_empty() {
            return Err(errors::missing_parameter("QueueName"));
        }
        let fifo = match input
            .attributes
            .iter()
            .find(|(n, _)| n == "FifoQueue")
            .map(|(_, v)| v.as_str())
        {
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(_) => return Err(errors::invalid_attribute_value("FifoQueue", None)),
            None => false,
        };
        validate::check_queue_name(name, fifo)?;
        let mut config = QueueConfig::new(fifo);
        config.apply(&input.attributes)?;
        check_tags(&input.tags)?;
        if input.tags.len() > MAX_TAGS {
            return Err(errors::invalid_parameter(format!(
                "Too many tags added for queue {name}."
            )));
        }
        let (region, account) = (ctx.region.as_str(), ctx.account.as_str());
        let url = queue_url(endpoint, region, account, name);
        if let Some(existing) = self.lookup(region, account, name) {
            return existing_matches(&existing, &input.attributes).map(|()| url);
        }
        let key = registry_key(region, account, name);
        if self.deleted_recently(&key) {
            return Err(errors::queue_deleted_recently());
        }
        let arn = format!("arn:aws:sqs:{region}:{account}:{name}");
        if let Some(policy) = &config.redrive_policy {
            self.check_redrive(
                region,
                account,
                &arn,
                fifo,
                policy,
                raw_attribute(&input.attributes, "RedrivePolicy"),
            )?;
        }
        let uid = self.inner.next_queue_uid.fetch_add(2, Ordering::Relaxed);
        let queue = Arc::new(Queue::new(uid, region, account, name, config, self.now()));
        queue.lock().tags = input.tags.into_iter().collect();
        let raced = {
            let mut map = self.inner.queues.write().unwrap_or_else(PoisonError::into_inner);
            match map.get(&key) {
                Some(q) => Some(Arc::clone(q)),
                None => {
                    map.insert(key, queue);
                    None
                }
            }
        };
        if let Some(existing) = raced {
            existing_matches(&existing, &input.attributes)?;
        }
        Ok(url)
    }

    /// Checks a `RedrivePolicy`: the dead-letter queue exists in the same region and account, is
    /// of the same type, and its `RedriveAllowPolicy` lets `source_arn` use it.
    fn check_redrive(
        &self,
        region: &str,
        account: &str,
        source_arn: &str,
        source_fifo: bool,
        policy: &RedrivePolicy,
        raw: &str,
    ) -> Result<(), AwsError> {
        let invalid = |reason: &str| errors::invalid_value(raw, "RedrivePolicy", reason);
        let target: Arn = policy
            .dead_letter_target_arn
            .parse()
            .map_err(|_| invalid("Invalid value for deadLetterTargetArn."))?;
        if policy.dead_letter_target_arn == source_arn {
            return Err(invalid("Dead letter target can not be the source queue."));
        }
        let dlq = (target.region == region && target.account == account)
            .then(|| self.lookup(region, account, &target.resource))
            .flatten()
            .ok_or_else(|| invalid("Dead letter target does not exist."))?;
        if dlq.fifo != source_fifo {
            return Err(invalid("Dead-letter queue must be same type of queue as the source."));
        }
        let allow = dlq.lock().config.redrive_allow_policy.clone();
        if allow.is_some_and(|a| !a.allows(source_arn)) {
            return Err(invalid(&format!(
                "Queue {} does not allow this queue to use it as a dead-letter queue.",
                dlq.arn
            )));
        }
        Ok(())
    }

    pub fn get_queue_url(
        &self,
        ctx: &RequestContext,
        endpoint: &str,
        input: GetQueueUrlInput,
    ) -> Result<String, AwsError> {
        if input.queue_name.is_empty() {
            return Err(errors::missing_parameter("QueueName"));
        }
        let account = input
            .queue_owner_account
            .as_deref()
            .filter(|a| !a.is_empty())
            .unwrap_or(&ctx.account);
        self.lookup(&ctx.region, account, &input.queue_name)
            .map(|_| queue_url(endpoint, &ctx.region, account, &input.queue_name))
            .ok_or_else(errors::queue_does_not_exist)
    }

    pub fn list_queues(
        &self,
        ctx: &RequestContext,
        endpoint: &str,
        input: ListQueuesInput,
    ) -> Result<ListQueuesOutput, AwsError> {
        let max = page_size(input.max_results)?;
        let after = decode_token(input.next_token.as_deref())?;
        let prefix = input.queue_name_prefix.unwrap_or_default();
        let names = self
            .queues_of(&ctx.region, &ctx.account)
            .into_iter()
            .map(|q| q.name.clone())
            .filter(|n| n.starts_with(&prefix) && after.as_ref().is_none_or(|a| n > a))
            .collect();
        let (names, next_token) = paginate(names, max);
        Ok(ListQueuesOutput {
            queue_urls: names
                .iter()
                .map(|n| queue_url(endpoint, &ctx.region, &ctx.account, n))
                .collect(),
            next_token,
        })
    }

    pub fn delete_queue(&self, ctx: &RequestContext, queue: &QueueRef) -> Result<(), AwsError> {
        let key = registry_key(&ctx.region, queue.account_or(&ctx.account), &queue.name);
        let removed = self
            .inner
            .queues
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        let q = removed.ok_or_else(errors::queue_does_not_exist)?;
        let now = self.now();
        {
            let mut deleted = self.inner.deleted.lock().unwrap_or_else(PoisonError::into_inner);
            deleted.retain(|_, at| now < at.saturating_add(NAME_REUSE_DELAY_MS));
            deleted.insert(key, now);
        }
        q.mark_deleted();
        let mut st = q.lock();
        st.store.purge();
        st.dedup = Dedup::default();
        st.attempts = Attempts::default();
        Ok(())
    }

    /// Whether a queue of this key was deleted less than 60 s ago (clock time).
    fn deleted_recently(&self, key: &str) -> bool {
        let now = self.now();
        let mut deleted = self.inner.deleted.lock().unwrap_or_else(PoisonError::into_inner);
        deleted.retain(|_, at| now < at.saturating_add(NAME_REUSE_DELAY_MS));
        deleted.contains_key(key)
    }

    pub fn get_queue_attributes(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        names: &[String],
    ) -> Result<Vec<(String, String)>, AwsError> {
        let mut wanted: Vec<QueueAttr> = Vec::new();
        for n in names {
            let attr = QueueAttr::parse(n).ok_or_else(|| errors::unknown_attribute(n))?;
            if attr == QueueAttr::All {
                wanted = QueueAttr::EVERY.to_vec();
                break;
            }
            if !wanted.contains(&attr) {
                wanted.push(attr);
            }
        }
        let q = self.queue(ctx, queue)?;
        let now = self.now();
        let mut guard = q.lock();
        let st = &mut *guard;
        st.store.expire(now, retention_ms(&st.config));
        st.store.promote(now);
        let (visible, in_flight, delayed) = st.store.counts();
        Ok(wanted
            .into_iter()
            .filter_map(|attr| {
                let value = match attr {
                    QueueAttr::ApproximateNumberOfMessages => Some(visible.to_string()),
                    QueueAttr::ApproximateNumberOfMessagesNotVisible => Some(in_flight.to_string()),
                    QueueAttr::ApproximateNumberOfMessagesDelayed => Some(delayed.to_string()),
                    QueueAttr::CreatedTimestamp => Some((q.created_ms / 1000).to_string()),
                    QueueAttr::LastModifiedTimestamp => Some((st.last_modified_ms / 1000).to_string()),
                    QueueAttr::QueueArn => Some(q.arn.to_string()),
                    other => st.config.value(other),
                };
                value.map(|v| (attr.name().to_owned(), v))
            })
            .collect())
    }

    pub fn set_queue_attributes(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        attributes: &[(String, String)],
    ) -> Result<(), AwsError> {
        let q = self.queue(ctx, queue)?;
        let mut next = q.lock().config.clone();
        next.apply(attributes)?;
        let redrive_set = attributes.iter().any(|(n, _)| n == "RedrivePolicy");
        if redrive_set {
            if let Some(policy) = &next.redrive_policy {
                let raw = raw_attribute(attributes, "RedrivePolicy");
                self.check_redrive(&q.region, &q.account, &q.arn, q.fifo, policy, raw)?;
            }
        }
        let now = self.now();
        let mut st = q.lock();
        // Applied again to the current configuration, in case another change landed meanwhile.
        st.config.apply(attributes)?;
        st.last_modified_ms = now;
        if redrive_set {
            st.dlq_target = Weak::new();
        }
        q.default_wait
            .store(st.config.receive_message_wait_time_seconds, Ordering::Relaxed);
        Ok(())
    }

    pub fn tag_queue(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        tags: Vec<(String, String)>,
    ) -> Result<(), AwsError> {
        check_tags(&tags)?;
        let q = self.queue(ctx, queue)?;
        let mut st = q.lock();
        let mut merged = st.tags.clone();
        merged.extend(tags);
        if merged.len() > MAX_TAGS {
            return Err(errors::invalid_parameter(format!(
                "Too many tags added for queue {}.",
                q.name
            )));
        }
        st.tags = merged;
        Ok(())
    }

    pub fn untag_queue(&self, ctx: &RequestContext, queue: &QueueRef, keys: &[String]) -> Result<(), AwsError> {
        let q = self.queue(ctx, queue)?;
        let mut st = q.lock();
        for k in keys {
            st.tags.remove(k);
        }
        Ok(())
    }

    pub fn list_queue_tags(&self, ctx: &RequestContext, queue: &QueueRef) -> Result<Vec<(String, String)>, AwsError> {
        let q = self.queue(ctx, queue)?;
        let st = q.lock();
        Ok(st.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    pub fn purge_queue(&self, ctx: &RequestContext, queue: &QueueRef) -> Result<(), AwsError> {
        let q = self.queue(ctx, queue)?;
        let now = self.now();
        let mut st = q.lock();
        if st
            .last_purge_ms
            .is_some_and(|last| now < last.saturating_add(PURGE_INTERVAL_MS))
        {
            return Err(errors::purge_in_progress(&q.name));
        }
        st.store.purge();
        // Purging forgets the deduplication ids too: a message sent again is a new message.
        st.dedup = Dedup::default();
        st.last_purge_ms = Some(now);
        Ok(())
    }

    pub fn list_dead_letter_source_queues(
        &self,
        ctx: &RequestContext,
        endpoint: &str,
        queue: &QueueRef,
        next_token: Option<&str>,
        max_results: Option<i64>,
    ) -> Result<ListQueuesOutput, AwsError> {
        let max = page_size(max_results)?;
        let after = decode_token(next_token)?;
        let dlq = self.queue(ctx, queue)?;
        let names = self
            .queues_of(&dlq.region, &dlq.account)
            .into_iter()
            .filter(|q| after.as_ref().is_none_or(|a| q.name > *a))
            .filter(|q| {
                q.lock()
                    .config
                    .redrive_policy
                    .as_ref()
                    .is_some_and(|p| *p.dead_letter_target_arn == *dlq.arn)
            })
            .map(|q| q.name.clone())
            .collect();
        let (names, next_token) = paginate(names, max);
        Ok(ListQueuesOutput {
            queue_urls: names
                .iter()
                .map(|n| queue_url(endpoint, &dlq.region, &dlq.account, n))
                .collect(),
            next_token,
        })
    }

    /// Whether some queue of the same region and account redrives into `dlq`.
    pub(crate) fn is_dead_letter_queue(&self, dlq: &Queue) -> bool {
        self.queues_of(&dlq.region, &dlq.account).iter().any(|q| {
            q.lock()
                .config
                .redrive_policy
                .as_ref()
                .is_some_and(|p| *p.dead_letter_target_arn == *dlq.arn)
        })
    }
}

/// CreateQueue on an existing name succeeds only if every attribute given matches.
fn existing_matches(q: &Queue, attributes: &[(String, String)]) -> Result<(), AwsError> {
    match q.lock().config.first_difference(attributes) {
        Some(name) => Err(errors::queue_already_exists(name)),
        None => Ok(()),
    }
}

fn check_tags(tags: &[(String, String)]) -> Result<(), AwsError> {
    for (k, v) in tags {
        if k.is_empty() || k.len() > 128 || v.len() > 256 {
            return Err(errors::invalid_parameter(format!("Tag {k} is invalid.")));
        }
    }
    Ok(())
}

/// The last value `attributes` gives `name` (the one that was applied), as the caller sent it.
fn raw_attribute<'a>(attributes: &'a [(String, String)], name: &str) -> &'a str {
    attributes
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}
