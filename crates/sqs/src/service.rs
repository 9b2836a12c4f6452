//! The SQS operations over plain types: no HTTP, no XML, no JSON. Time comes from the injected
//! clock (visibility, delays, retention); only the long-poll wait itself uses tokio's timer.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, Weak};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use lb_core::{Arn, AwsError, RequestContext};
use serde_json::{json, Value};

use crate::attributes::{
    DeduplicationScope, QueueAttr, QueueConfig, RedrivePolicy, MAX_DELAY_SECONDS, MAX_MESSAGE_SIZE,
    MAX_VISIBILITY_TIMEOUT, MAX_WAIT_TIME_SECONDS,
};
use crate::digest;
use crate::errors;
use crate::model::{
    queue_url, AddPermissionInput, BatchEntry, BatchOutput, BatchResultError, ChangeVisibilityEntry, CreateQueueInput,
    GetQueueUrlInput, ListQueuesInput, ListQueuesOutput, MessageAttributeValue, QueueRef, ReceiveMessageInput,
    ReceivedMessage, SendMessageEntry, SendMessageOutput,
};
use crate::queue::{
    DedupHit, MessageData, MessageExtra, MsgKey, Queue, QueueState, ReceiveParams, Received, Slot, SlotState, Taken,
};
use crate::receipt::Receipt;
use crate::validate;
use crate::Sqs;

/// Only one PurgeQueue per queue per minute.
const PURGE_INTERVAL_MS: u64 = 60_000;
/// The most queue URLs one ListQueues or ListDeadLetterSourceQueues page returns.
const MAX_PAGE: usize = 1000;
/// The most tags a queue may carry.
const MAX_TAGS: usize = 50;
/// The most messages a queue may have in flight. Past it, a standard queue's ReceiveMessage
/// fails with OverLimit and a FIFO queue's returns nothing, as AWS documents.
const MAX_IN_FLIGHT: usize = 120_000;

fn registry_key(region: &str, account: &str, name: &str) -> String {
    format!("{region}\n{account}\n{name}")
}

fn retention_ms(config: &QueueConfig) -> u64 {
    u64::from(config.message_retention_period) * 1000
}

/// Who sent a message: the caller's access key when signed, else the account.
pub(crate) fn sender_id(ctx: &RequestContext) -> String {
    ctx.access_key.clone().unwrap_or_else(|| ctx.account.clone())
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
pub(crate) fn prepare(
    fifo: bool,
    message_id: String,
    sender_id: String,
    entry: SendMessageEntry,
) -> Result<Prepared, AwsError> {
    let body = match entry.body {
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
    let extra = has_extra.then(|| {
        Box::new(MessageExtra {
            md5_of_attributes: digest::md5_of_attributes(&entry.attributes),
            attributes: entry.attributes,
            md5_of_system_attributes: digest::md5_of_attributes(&entry.system_attributes),
            system_attributes: entry.system_attributes,
            group_id: entry.group_id,
            deduplication_id,
        })
    });
    let data = MessageData {
        message_id,
        md5_of_body: digest::md5(body.as_bytes()),
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

fn send_output(data: &MessageData, message_id: &str, sequence_number: Option<u128>) -> SendMessageOutput {
    SendMessageOutput {
        message_id: message_id.to_owned(),
        md5_of_message_body: data.md5_of_body_hex(),
        md5_of_message_attributes: data.md5_of_attributes().map(str::to_owned),
        md5_of_message_system_attributes: data.md5_of_system_attributes().map(str::to_owned),
        sequence_number: sequence_number.map(|n| n.to_string()),
    }
}

fn dedup_key(config: &QueueConfig, data: &MessageData) -> String {
    let id = data.deduplication_id().unwrap_or_default();
    match config.deduplication_scope {
        DeduplicationScope::Queue => id.to_owned(),
        DeduplicationScope::MessageGroup => {
            format!("{}\u{0}{id}", data.group_id().unwrap_or_default())
        }
    }
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
        for n in message_attribute_names {
            if n == "All" || n == ".*" {
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
    // ---- registry -------------------------------------------------------------------------

    pub(crate) fn lookup(&self, region: &str, account: &str, name: &str) -> Option<Arc<Queue>> {
        let key = registry_key(region, account, name);
        let map = self.inner.queues.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&key).cloned()
    }

    pub(crate) fn queue(&self, region: &str, q: &QueueRef) -> Result<Arc<Queue>, AwsError> {
        self.lookup(region, &q.account, &q.name)
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

    // ---- queues ---------------------------------------------------------------------------

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
        let url = queue_url(endpoint, account, name);
        if let Some(existing) = self.lookup(region, account, name) {
            return existing_matches(&existing, &input.attributes).map(|()| url);
        }
        let arn = format!("arn:aws:sqs:{region}:{account}:{name}");
        if let Some(policy) = &config.redrive_policy {
            self.check_redrive(region, account, &arn, fifo, policy)?;
        }
        let uid = self.inner.next_queue_uid.fetch_add(2, Ordering::Relaxed);
        let queue = Arc::new(Queue::new(uid, region, account, name, config, self.now()));
        queue.lock().tags = input.tags.into_iter().collect();
        let key = registry_key(region, account, name);
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
    ) -> Result<(), AwsError> {
        let invalid = |reason: &str| errors::invalid_value(&policy.raw, "RedrivePolicy", reason);
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
            .map(|_| queue_url(endpoint, account, &input.queue_name))
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
            queue_urls: names.iter().map(|n| queue_url(endpoint, &ctx.account, n)).collect(),
            next_token,
        })
    }

    pub fn delete_queue(&self, ctx: &RequestContext, queue: &QueueRef) -> Result<(), AwsError> {
        let key = registry_key(&ctx.region, &queue.account, &queue.name);
        let removed = self
            .inner
            .queues
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        let q = removed.ok_or_else(errors::queue_does_not_exist)?;
        q.mark_deleted();
        q.lock().store.purge();
        Ok(())
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
        let q = self.queue(&ctx.region, queue)?;
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
        let q = self.queue(&ctx.region, queue)?;
        let mut next = q.lock().config.clone();
        next.apply(attributes)?;
        let redrive_set = attributes.iter().any(|(n, _)| n == "RedrivePolicy");
        if redrive_set {
            if let Some(policy) = &next.redrive_policy {
                self.check_redrive(&q.region, &q.account, &q.arn, q.fifo, policy)?;
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
        let q = self.queue(&ctx.region, queue)?;
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
        let q = self.queue(&ctx.region, queue)?;
        let mut st = q.lock();
        for k in keys {
            st.tags.remove(k);
        }
        Ok(())
    }

    pub fn list_queue_tags(&self, ctx: &RequestContext, queue: &QueueRef) -> Result<Vec<(String, String)>, AwsError> {
        let q = self.queue(&ctx.region, queue)?;
        let st = q.lock();
        Ok(st.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    pub fn purge_queue(&self, ctx: &RequestContext, queue: &QueueRef) -> Result<(), AwsError> {
        let q = self.queue(&ctx.region, queue)?;
        let now = self.now();
        let mut st = q.lock();
        if st
            .last_purge_ms
            .is_some_and(|last| now < last.saturating_add(PURGE_INTERVAL_MS))
        {
            return Err(errors::purge_in_progress(&q.name));
        }
        st.store.purge();
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
        let dlq = self.queue(&ctx.region, queue)?;
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
            queue_urls: names.iter().map(|n| queue_url(endpoint, &dlq.account, n)).collect(),
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

    pub fn add_permission(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        input: AddPermissionInput,
    ) -> Result<(), AwsError> {
        check_label(&input.label)?;
        if input.account_ids.is_empty() {
            return Err(errors::missing_parameter("AWSAccountIds"));
        }
        if input.actions.is_empty() {
            return Err(errors::missing_parameter("Actions"));
        }
        let q = self.queue(&ctx.region, queue)?;
        let one_or_many = |v: Vec<String>| match v.len() {
            1 => Value::String(v.into_iter().next().unwrap_or_default()),
            _ => Value::Array(v.into_iter().map(Value::String).collect()),
        };
        let principals = input
            .account_ids
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect();
        let actions = input.actions.iter().map(|a| format!("SQS:{a}")).collect();
        let statement = json!({
            "Sid": input.label,
            "Effect": "Allow",
            "Principal": {"AWS": one_or_many(principals)},
            "Action": one_or_many(actions),
            "Resource": &*q.arn,
        });
        let now = self.now();
        let mut st = q.lock();
        let mut policy = st
            .config
            .policy
            .as_deref()
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .filter(Value::is_object)
            .unwrap_or_else(
                || json!({"Version": "2008-10-17", "Id": format!("{}/SQSDefaultPolicy", q.arn), "Statement": []}),
            );
        let Some(statements) = statements_mut(&mut policy) else {
            return Err(AwsError::internal("the queue policy is not a JSON object"));
        };
        if statements
            .iter()
            .any(|s| s.get("Sid").and_then(Value::as_str) == Some(&input.label))
        {
            return Err(errors::invalid_value(&input.label, "Label", "Already exists."));
        }
        statements.push(statement);
        st.config.policy = Some(policy.to_string());
        st.last_modified_ms = now;
        Ok(())
    }

    pub fn remove_permission(&self, ctx: &RequestContext, queue: &QueueRef, label: &str) -> Result<(), AwsError> {
        if label.is_empty() {
            return Err(errors::missing_parameter("Label"));
        }
        let q = self.queue(&ctx.region, queue)?;
        let now = self.now();
        let mut st = q.lock();
        let mut policy = st
            .config
            .policy
            .as_deref()
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .filter(Value::is_object)
            .ok_or_else(|| errors::invalid_value(label, "Label", "can't find label."))?;
        let Some(statements) = statements_mut(&mut policy) else {
            return Err(errors::invalid_value(label, "Label", "can't find label."));
        };
        let before = statements.len();
        statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(label));
        if statements.len() == before {
            return Err(errors::invalid_value(label, "Label", "can't find label."));
        }
        st.config.policy = (!statements.is_empty()).then(|| policy.to_string());
        st.last_modified_ms = now;
        Ok(())
    }

    // ---- messages -------------------------------------------------------------------------

    pub fn send_message(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        entry: SendMessageEntry,
    ) -> Result<SendMessageOutput, AwsError> {
        let q = self.queue(&ctx.region, queue)?;
        self.send_to(&q, sender_id(ctx), entry)
    }

    pub(crate) fn send_to(
        &self,
        q: &Queue,
        sender_id: String,
        entry: SendMessageEntry,
    ) -> Result<SendMessageOutput, AwsError> {
        let prepared = prepare(q.fifo, self.message_uuid(), sender_id, entry)?;
        self.enqueue(q, vec![Ok(prepared)], false)?
            .pop()
            .unwrap_or_else(|| Err(AwsError::internal("the message produced no result")))
    }

    pub fn send_message_batch(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        entries: Vec<BatchEntry<SendMessageEntry>>,
    ) -> Result<BatchOutput<SendMessageOutput>, AwsError> {
        check_batch(&entries, "SendMessageBatchRequestEntry")?;
        let q = self.queue(&ctx.region, queue)?;
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
        let sender = sender_id(ctx);
        let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
        let items = entries
            .into_iter()
            .map(|e| prepare(q.fifo, self.message_uuid(), sender.clone(), e.entry))
            .collect();
        let results = self.enqueue(&q, items, true)?;
        let mut out = BatchOutput::default();
        for (id, r) in ids.into_iter().zip(results) {
            match r {
                Ok(o) => out.successful.push((id, o)),
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
    ) -> Result<Vec<Result<SendMessageOutput, AwsError>>, AwsError> {
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
                let key = dedup_key(&st.config, &p.data);
                if let Some(hit) = st.dedup.get(&key) {
                    // A duplicate is accepted but not delivered again.
                    out.push(Ok(send_output(&p.data, &hit.message_id, hit.sequence_number)));
                    continue;
                }
                sequence_number = Some(self.next_sequence_number());
                let hit = DedupHit {
                    message_id: p.data.message_id.clone(),
                    sequence_number,
                };
                st.dedup.insert(key, hit, now);
            }
            let delay = u64::from(p.delay.unwrap_or(st.config.delay_seconds));
            let key = MsgKey {
                sent: now,
                id: self.next_message_id(),
            };
            out.push(Ok(send_output(&p.data, &p.data.message_id, sequence_number)));
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
        let q = self.queue(&ctx.region, queue)?;
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
        // Long poll: wait for a wake-up (a send, a delete unlocking a FIFO group) or for the next
        // delayed/invisible message to become visible, whichever comes first.
        let _waiter = q.waiter();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
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
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let mut until = deadline;
            if let Some(at) = attempt.next_wake_ms {
                let ms = at.saturating_sub(self.now()).max(1);
                until = until.min(now + Duration::from_millis(ms));
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
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
                            "SenderId" => Some(data.sender_id.clone()),
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

    pub fn delete_message(&self, ctx: &RequestContext, queue: &QueueRef, receipt_handle: &str) -> Result<(), AwsError> {
        let q = self.queue(&ctx.region, queue)?;
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
        let q = self.queue(&ctx.region, queue)?;
        let mut out = BatchOutput::default();
        for e in entries {
            match self.delete_on(&q, &e.entry) {
                Ok(()) => out.successful.push((e.id, ())),
                Err(err) => out.failed.push(BatchResultError::new(&e.id, &err)),
            }
        }
        Ok(out)
    }

    pub fn change_message_visibility(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        receipt_handle: &str,
        visibility_timeout: Option<i64>,
    ) -> Result<(), AwsError> {
        let q = self.queue(&ctx.region, queue)?;
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
        let q = self.queue(&ctx.region, queue)?;
        let mut out = BatchOutput::default();
        for e in entries {
            match self.change_visibility_on(&q, &e.entry.receipt_handle, e.entry.visibility_timeout) {
                Ok(()) => out.successful.push((e.id, ())),
                Err(err) => out.failed.push(BatchResultError::new(&e.id, &err)),
            }
        }
        Ok(out)
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

fn check_label(label: &str) -> Result<(), AwsError> {
    if label.is_empty() {
        return Err(errors::missing_parameter("Label"));
    }
    if label.len() > 80
        || !label
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Err(errors::invalid_value(
            label,
            "Label",
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ));
    }
    Ok(())
}

/// The `Statement` array of a policy document, created if missing (a single statement object is
/// turned into an array). `None` if the document is not an object.
fn statements_mut(policy: &mut Value) -> Option<&mut Vec<Value>> {
    let entry = policy
        .as_object_mut()?
        .entry("Statement")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !entry.is_array() {
        let single = std::mem::take(entry);
        *entry = Value::Array(if single.is_null() { Vec::new() } else { vec![single] });
    }
    entry.as_array_mut()
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
