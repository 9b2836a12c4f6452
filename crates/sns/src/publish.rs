//! Publish, PublishBatch and the fan-out every publisher goes through.
//!
//! Validation follows the SNS API Reference (Publish) and the SNS Developer Guide ("Amazon SNS
//! message attributes", "Message deduplication for FIFO topics"). Fan-out applies each
//! subscription's filter policy first (through `lb_rules::sns`), then builds what its protocol
//! receives and submits one `Delivery` to the engine; nothing is delivered inside the call.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use lb_core::arn::Arn;
use lb_core::deliver::{DeadLetter, Delivery, Message, MessageAttribute, Producer, RetryPolicy, WhenFull};
use lb_core::AwsError;
use lb_rules::sns::FilterPolicyScope;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tracing::debug;

use crate::envelope::{self, Notification};
use crate::errors::{self, invalid};
use crate::model::{HttpRetry, Recorded, Subscription};
use crate::topics::parse_topic_arn;
use crate::Sns;

/// The largest message by default (topic attribute `MaximumMessageSize`: 256 KiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 262_144;
/// Entries in one PublishBatch.
pub const MAX_BATCH: usize = 10;
/// The FIFO deduplication interval (five minutes).
pub const DEDUP_MILLIS: u64 = 5 * 60 * 1000;
/// Internal attributes an HTTP/S delivery carries to this crate's own target (never sent).
pub(crate) const ATTR_TYPE: &str = "lb.sns.type";
pub(crate) const ATTR_MESSAGE_ID: &str = "lb.sns.message-id";
pub(crate) const ATTR_RAW: &str = "lb.sns.raw";

/// One message to publish.
#[derive(Debug, Clone, Default)]
pub struct PublishInput {
    pub message: String,
    pub subject: Option<String>,
    /// `MessageStructure` as given.
    pub structure: Option<String>,
    pub attributes: BTreeMap<String, MessageAttribute>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

/// What Publish answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub message_id: String,
    pub sequence_number: Option<String>,
}

/// One PublishBatch entry's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchResult {
    Ok { id: String, published: Published },
    Failed { id: String, error: AwsError },
}

/// The parts of a topic fan-out needs, copied out under the lock.
#[derive(Debug, Clone)]
pub(crate) struct TopicSnapshot {
    pub arn: Arc<str>,
    pub account: Arc<str>,
    pub signature_version: String,
    pub http_retry: HttpRetry,
}

/// What the fan-out stage needs of one published message.
pub(crate) struct FanOut {
    topic: TopicSnapshot,
    subs: Vec<Subscription>,
    input: PublishInput,
    structured: Option<BTreeMap<String, String>>,
    published: Published,
    dedup_id: Option<String>,
    trace_header: Option<Arc<str>>,
    now: u64,
}

/// Checks the message text, subject and structure; returns the per-protocol messages when the
/// structure is `json`.
fn validate_message(input: &PublishInput, max_bytes: usize) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    if input.message.is_empty() {
        return Err(invalid("Empty message"));
    }
    let attr_bytes: usize = input
        .attributes
        .iter()
        .map(|(k, v)| {
            k.len()
                + v.data_type.len()
                + v.string_value.as_ref().map_or(0, String::len)
                + v.binary_value.as_ref().map_or(0, Vec::len)
        })
        .sum();
    if input.message.len() + attr_bytes > max_bytes {
        return Err(invalid("Message too long"));
    }
    if let Some(s) = &input.subject {
        let ok = !s.is_empty()
            && s.chars().count() < 100
            && s.chars().all(|c| c.is_ascii() && !c.is_ascii_control())
            && !s.starts_with(' ');
        if !ok {
            return Err(invalid("Subject"));
        }
    }
    match input.structure.as_deref() {
        None | Some("") => Ok(None),
        Some("json") => {
            let v: Value = serde_json::from_str(&input.message)
                .map_err(|_| invalid("Message Structure - JSON message body failed to parse"))?;
            let Value::Object(map) = v else {
                return Err(invalid("Message Structure - JSON message body failed to parse"));
            };
            if !map.get("default").is_some_and(Value::is_string) {
                return Err(invalid("Message Structure - No default entry in JSON message body"));
            }
            Ok(Some(
                map.into_iter()
                    .filter_map(|(k, v)| match v {
                        Value::String(s) => Some((k, s)),
                        _ => None,
                    })
                    .collect(),
            ))
        }
        Some(_) => Err(invalid("MessageStructure")),
    }
}

/// Message attributes (SNS Developer Guide, "Amazon SNS message attributes": names of letters,
/// digits, `-`, `_`, `.`, at most 256 characters, not starting with `AWS.` or `Amazon.`;
/// types `String`, `String.Array`, `Number`, `Binary` with optional custom suffixes; values not
/// empty).
pub fn validate_attributes(attrs: &BTreeMap<String, MessageAttribute>) -> Result<(), AwsError> {
    for (name, a) in attrs {
        let name_ok = !name.is_empty()
            && name.len() <= 256
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..")
            && !name.to_ascii_lowercase().starts_with("aws.")
            && !name.to_ascii_lowercase().starts_with("amazon.");
        if !name_ok {
            return Err(invalid(&format!("MessageAttributes: Invalid attribute name: {name}")));
        }
        let base = a.data_type.split('.').next().unwrap_or("");
        if !matches!(base, "String" | "Number" | "Binary") {
            return Err(errors::parameter_value_invalid(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        let empty = match base {
            "Binary" => a.binary_value.as_ref().is_none_or(Vec::is_empty),
            _ => a.string_value.as_ref().is_none_or(String::is_empty),
        };
        if empty {
            return Err(errors::parameter_value_invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{}'.",
                a.data_type
            )));
        }
        let value = a.string_value.as_deref().unwrap_or("");
        if base == "Number" && value.trim().parse::<f64>().map_or(true, |f| !f.is_finite()) {
            return Err(errors::parameter_value_invalid(format!(
                "Could not cast message attribute '{name}' value to number."
            )));
        }
        if a.data_type == "String.Array" && !matches!(serde_json::from_str::<Value>(value), Ok(Value::Array(_))) {
            return Err(errors::parameter_value_invalid(format!(
                "The message attribute '{name}' with type 'String.Array' must be a JSON array."
            )));
        }
    }
    Ok(())
}

/// A FIFO id (`MessageGroupId`, `MessageDeduplicationId`): 1 to 128 characters, letters,
/// digits and punctuation.
fn valid_fifo_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

impl Sns {
    /// Publish (TopicArn or TargetArn naming a topic).
    pub fn publish(&self, topic_arn: &str, input: PublishInput) -> Result<Published, AwsError> {
        parse_topic_arn(topic_arn, "TopicArn")?;
        self.publish_as(topic_arn, input, None)
    }

    /// Publish on a producer's behalf (`producer`: the message that reached the topic through
    /// the engine, for its trace header).
    pub(crate) fn publish_as(
        &self,
        topic_arn: &str,
        input: PublishInput,
        producer: Option<&Message>,
    ) -> Result<Published, AwsError> {
        let max = {
            let st = self.state();
            let topic = st.topics.get(topic_arn).ok_or_else(errors::topic_not_found)?;
            topic
                .attributes
                .get("MaximumMessageSize")
                .and_then(|m| m.parse().ok())
                .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES)
        };
        let structured = validate_message(&input, max)?;
        validate_attributes(&input.attributes)?;
        let now = self.now();
        let message_id = crate::uuid();
        let (snapshot, subs, sequence, dedup_id) = {
            let mut st = self.state();
            let topic = st.topics.get_mut(topic_arn).ok_or_else(errors::topic_not_found)?;
            let mut sequence = None;
            let mut dedup_id = None;
            if topic.fifo {
                let group = input
                    .group_id
                    .as_deref()
                    .ok_or_else(|| invalid("The MessageGroupId parameter is required for FIFO topics"))?;
                if !valid_fifo_id(group) {
                    return Err(invalid("MessageGroupId"));
                }
                let dedup = match (&input.dedup_id, topic.content_based_dedup) {
                    (Some(d), _) => {
                        if !valid_fifo_id(d) {
                            return Err(invalid("MessageDeduplicationId"));
                        }
                        d.clone()
                    }
                    (None, true) => hex::encode(Sha256::digest(input.message.as_bytes())),
                    (None, false) => {
                        return Err(invalid(
                            "The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                        ))
                    }
                };
                // Forget expired ids, then bound what is remembered.
                while let Some((expiry, id)) = topic.dedup_order.front().cloned() {
                    if expiry > now && topic.dedup_order.len() <= self.config.max_dedup_ids {
                        break;
                    }
                    topic.dedup_order.pop_front();
                    if topic.dedup.get(&id) == Some(&expiry) {
                        topic.dedup.remove(&id);
                    }
                }
                topic.sequence += 1;
                let seq = format!("{:020}", 10_000_000_000_000_000_000u128 + topic.sequence);
                if topic.dedup.get(&dedup).is_some_and(|e| *e > now) {
                    self.counters.duplicates.fetch_add(1, Ordering::Relaxed);
                    return Ok(Published {
                        message_id,
                        sequence_number: Some(seq),
                    });
                }
                topic.dedup.insert(dedup.clone(), now + DEDUP_MILLIS);
                topic.dedup_order.push_back((now + DEDUP_MILLIS, dedup.clone()));
                sequence = Some(seq);
                dedup_id = Some(dedup);
            } else if input.dedup_id.is_some() {
                return Err(invalid(
                    "MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
                ));
            } else if let Some(g) = &input.group_id {
                if !valid_fifo_id(g) {
                    return Err(invalid("MessageGroupId"));
                }
            }
            let snapshot = TopicSnapshot {
                arn: Arc::clone(&topic.arn),
                account: topic.account.as_str().into(),
                signature_version: topic.signature_version().to_owned(),
                http_retry: topic.http_retry,
            };
            let subs: Vec<Subscription> = topic
                .subscriptions
                .clone()
                .iter()
                .filter_map(|a| st.subscriptions.get(a))
                .filter(|s| s.confirmed)
                .cloned()
                .collect();
            (snapshot, subs, sequence, dedup_id)
        };
        let published = Published {
            message_id,
            sequence_number: sequence,
        };
        let key = Arc::clone(&snapshot.arn);
        let job = FanOut {
            topic: snapshot,
            subs,
            input,
            structured,
            published: published.clone(),
            dedup_id: dedup_id.clone(),
            trace_header: producer.and_then(|p| p.trace_header.clone()),
            now,
        };
        let Some(sns) = self.me.upgrade() else {
            return Err(errors::throttled());
        };
        if self.stage.run(&key, Box::new(move || sns.fan_out(job))).is_err() {
            // Not accepted: the deduplication id is forgotten, so the caller's retry is not
            // taken for a duplicate.
            if let Some(dedup) = dedup_id {
                if let Some(topic) = self.state().topics.get_mut(&*key) {
                    topic.dedup.remove(&dedup);
                }
            }
            self.counters.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(errors::throttled());
        }
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        Ok(published)
    }

    /// PublishBatch: request-level checks, then each entry on its own.
    pub fn publish_batch(
        &self,
        topic_arn: &str,
        entries: Vec<(String, PublishInput)>,
    ) -> Result<Vec<BatchResult>, AwsError> {
        parse_topic_arn(topic_arn, "TopicArn")?;
        if entries.is_empty() {
            return Err(errors::empty_batch());
        }
        if entries.len() > MAX_BATCH {
            return Err(errors::too_many_entries());
        }
        let mut seen = std::collections::HashSet::new();
        for (id, _) in &entries {
            if id.is_empty()
                || id.len() > 80
                || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(errors::invalid_batch_id());
            }
            if !seen.insert(id.clone()) {
                return Err(errors::ids_not_distinct());
            }
        }
        let total: usize = entries.iter().map(|(_, e)| e.message.len()).sum();
        if total > DEFAULT_MAX_MESSAGE_BYTES {
            return Err(errors::batch_too_long());
        }
        if !self.state().topics.contains_key(topic_arn) {
            return Err(errors::topic_not_found());
        }
        Ok(entries
            .into_iter()
            .map(|(id, input)| match self.publish_as(topic_arn, input, None) {
                Ok(published) => BatchResult::Ok { id, published },
                Err(error) => BatchResult::Failed { id, error },
            })
            .collect())
    }

    /// Publish with `PhoneNumber`: recorded (localbridge sends no SMS).
    pub fn publish_sms(&self, phone: &str, input: &PublishInput) -> Result<Published, AwsError> {
        let digits = phone.strip_prefix('+').unwrap_or(phone);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("PhoneNumber Reason: input incorrectly formatted"));
        }
        validate_message(input, 1600)?;
        let message_id = crate::uuid();
        self.record(Recorded {
            subscription_arn: String::new(),
            protocol: "sms".into(),
            endpoint: phone.to_owned(),
            message_id: message_id.clone(),
            subject: None,
            message: input.message.clone(),
            timestamp: lb_core::clock::iso8601_millis(self.now()),
        });
        Ok(Published {
            message_id,
            sequence_number: None,
        })
    }

    /// One delivery per subscription the message passes the filter of (on the fan-out stage).
    fn fan_out(&self, job: FanOut) {
        let FanOut {
            topic,
            subs,
            input,
            structured,
            published,
            dedup_id,
            trace_header,
            now,
        } = job;
        let (topic, structured) = (&topic, structured.as_ref());
        let timestamp = lb_core::clock::iso8601_millis(now);
        let cert_url = self.signing_cert_url();
        let mut attrs_for_filter: Option<BTreeMap<String, (String, String)>> = None;
        // Signatures of the texts signed so far (one per distinct message text).
        let mut signed: Vec<(String, String)> = Vec::new();
        for sub in &subs {
            let text: &str = match structured {
                Some(map) => map
                    .get(sub.protocol.as_str())
                    .or_else(|| map.get("default"))
                    .map_or(input.message.as_str(), String::as_str),
                None => &input.message,
            };
            if let Some(filter) = &sub.filter {
                let pass = match filter.scope() {
                    FilterPolicyScope::MessageAttributes => {
                        let attrs = attrs_for_filter.get_or_insert_with(|| {
                            input
                                .attributes
                                .iter()
                                .filter_map(|(k, v)| Some((k.clone(), (v.data_type.clone(), v.string_value.clone()?))))
                                .collect()
                        });
                        filter.matches_attributes(attrs)
                    }
                    FilterPolicyScope::MessageBody => match serde_json::from_str::<Value>(text) {
                        Ok(v) => filter.matches_body(&v),
                        Err(_) => false,
                    },
                };
                if !pass {
                    self.counters.filtered.fetch_add(1, Ordering::Relaxed);
                    debug!(subscription = %sub.arn, message_id = %published.message_id, "filtered out");
                    continue;
                }
            }
            let notification = Notification {
                message_id: &published.message_id,
                topic_arn: &topic.arn,
                subject: input.subject.as_deref(),
                message: text,
                timestamp: &timestamp,
                signature_version: &topic.signature_version,
                attributes: &input.attributes,
                sequence_number: published.sequence_number.as_deref(),
            };
            let unsubscribe_url = format!(
                "{}/?Action=Unsubscribe&SubscriptionArn={}",
                self.config.endpoint, sub.arn
            );
            let mut signature = || -> String {
                if let Some((_, s)) = signed.iter().find(|(t, _)| t == text) {
                    return s.clone();
                }
                let s = self
                    .signer
                    .sign(&topic.signature_version, &notification.canonical().string());
                signed.push((text.to_owned(), s.clone()));
                s
            };
            let base = Message {
                source_arn: Some(Arc::clone(&topic.arn)),
                source_account: Some(Arc::clone(&topic.account)),
                principal: Some(crate::PRINCIPAL.into()),
                trace_header: trace_header.clone(),
                ..Message::default()
            };
            let (target, message, retry): (Arc<Arn>, Message, RetryPolicy) = match sub.protocol.as_str() {
                "sqs" | "firehose" => {
                    let Some(arn) = sub.endpoint_arn.clone() else { continue };
                    let message = if sub.raw {
                        Message {
                            attributes: input.attributes.clone(),
                            group_id: input.group_id.clone(),
                            dedup_id: dedup_id.clone(),
                            ..Message {
                                body: text.into(),
                                ..base
                            }
                        }
                    } else {
                        let body = envelope::notification(&notification, &signature(), &cert_url, &unsubscribe_url);
                        Message {
                            group_id: input.group_id.clone(),
                            dedup_id: dedup_id.clone(),
                            ..Message {
                                body: body.into(),
                                ..base
                            }
                        }
                    };
                    (arn, message, managed_retry())
                }
                "lambda" => {
                    let Some(arn) = sub.endpoint_arn.clone() else { continue };
                    let body =
                        envelope::lambda_event(&notification, &sub.arn, &signature(), &cert_url, &unsubscribe_url);
                    (
                        arn,
                        Message {
                            body: body.into(),
                            ..base
                        },
                        managed_retry(),
                    )
                }
                "http" | "https" => {
                    let Ok(arn) = sub.arn.parse::<Arn>() else { continue };
                    let body = if sub.raw {
                        text.to_owned()
                    } else {
                        envelope::notification(&notification, &signature(), &cert_url, &unsubscribe_url)
                    };
                    let mut message = Message {
                        body: body.into(),
                        ..base
                    };
                    message
                        .attributes
                        .insert(ATTR_TYPE.into(), MessageAttribute::string("Notification"));
                    message
                        .attributes
                        .insert(ATTR_MESSAGE_ID.into(), MessageAttribute::string(&published.message_id));
                    if sub.raw {
                        message
                            .attributes
                            .insert(ATTR_RAW.into(), MessageAttribute::string("true"));
                    }
                    (
                        Arc::new(arn),
                        message,
                        http_retry(sub.http_retry.unwrap_or(topic.http_retry)),
                    )
                }
                _ => {
                    let message = if sub.protocol == "email-json" {
                        envelope::notification(&notification, &signature(), &cert_url, &unsubscribe_url)
                    } else {
                        text.to_owned()
                    };
                    self.record(Recorded {
                        subscription_arn: sub.arn.to_string(),
                        protocol: sub.protocol.clone(),
                        endpoint: sub.endpoint.clone(),
                        message_id: published.message_id.clone(),
                        subject: input.subject.clone(),
                        message,
                        timestamp: timestamp.clone(),
                    });
                    continue;
                }
            };
            let message = Arc::new(message);
            let dead_letter = sub.dead_letter.as_ref().map(|dlq| DeadLetter {
                target: Arc::clone(dlq),
                attributes: Arc::new(|_| BTreeMap::new()),
                message: sub.is_http().then(|| {
                    let mut clean = (*message).clone();
                    clean.attributes.retain(|k, _| !k.starts_with("lb."));
                    Arc::new(clean)
                }),
            });
            let delivery = Delivery {
                target,
                message,
                producer: Producer::new(Arc::clone(&topic.arn), Some(sub.arn.to_string())),
                event_id: Some(published.message_id.as_str().into()),
                retry,
                dead_letter,
                when_full: WhenFull::Drop,
                tally: None,
            };
            match self.engine.submit(delivery) {
                Ok(_) => {
                    self.counters.delivered_submitted.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    debug!(subscription = %sub.arn, error = %e, "delivery not accepted by the engine");
                }
            }
        }
    }

    /// Sends the SubscriptionConfirmation of a new HTTP/S subscription (through the engine, to the
    /// subscription's own ARN; retried like a notification).
    pub(crate) fn send_confirmation(&self, sub: &Subscription, signature_version: &str) {
        let Ok(arn) = sub.arn.parse::<Arn>() else { return };
        let message_id = crate::uuid();
        let timestamp = lb_core::clock::iso8601_millis(self.now());
        let text = format!(
            "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
            sub.topic_arn
        );
        let subscribe_url = format!(
            "{}/?Action=ConfirmSubscription&TopicArn={}&Token={}",
            self.config.endpoint, sub.topic_arn, sub.token
        );
        let c = envelope::Confirmation {
            kind: "SubscriptionConfirmation",
            message_id: &message_id,
            token: &sub.token,
            topic_arn: &sub.topic_arn,
            message: &text,
            subscribe_url: &subscribe_url,
            timestamp: &timestamp,
            signature_version,
        };
        let body = envelope::confirmation(&c, &self.signer, &self.signing_cert_url());
        let mut message = Message::new(body);
        message
            .attributes
            .insert(ATTR_TYPE.into(), MessageAttribute::string("SubscriptionConfirmation"));
        message
            .attributes
            .insert(ATTR_MESSAGE_ID.into(), MessageAttribute::string(&message_id));
        let mut delivery = Delivery::new(
            Arc::new(arn),
            Arc::new(message),
            Producer::new(Arc::clone(&sub.topic_arn), Some(sub.arn.to_string())),
        );
        delivery.event_id = Some(message_id.into());
        delivery.retry = http_retry(sub.http_retry.unwrap_or_default());
        if let Err(e) = self.engine.submit(delivery) {
            debug!(subscription = %sub.arn, error = %e, "confirmation not accepted by the engine");
        }
    }
}

/// AWS-managed endpoints (SQS, Lambda): SNS retries for a long time ("100,015 times, over 23
/// days", SNS Developer Guide, "Amazon SNS message delivery retries"), first quickly, then
/// every 20 seconds; only failures the target reports retryable are retried.
fn managed_retry() -> RetryPolicy {
    RetryPolicy::exponential(100_015, 23 * 86_400_000, 1_000, 20_000)
}

/// An HTTP/S delivery policy as the engine applies it: `numRetries` retries after the first
/// attempt, from `minDelayTarget` doubling up to `maxDelayTarget` (AWS's default, 3 retries 20
/// seconds apart, exactly; its other backoff functions are approximated by doubling), within
/// the hour AWS allows a policy.
fn http_retry(r: HttpRetry) -> RetryPolicy {
    RetryPolicy {
        max_attempts: r.num_retries + 1,
        max_age_millis: 3_600_000 + 60_000,
        base_backoff_millis: r.min_delay_secs * 1000,
        max_backoff_millis: r.max_delay_secs * 1000,
        jitter: false,
    }
}
