//! SNS: topics (standard and FIFO), subscriptions, and fan-out through the delivery engine.
//!
//! **One delivery path for every publisher.** Publish and PublishBatch (the API), and every
//! producer that reaches a topic by ARN through the engine (S3 notifications, EventBridge
//! targets, Lambda destinations — [`target`]), end in [`Sns::fan_out`]: the topic's
//! subscriptions' filter policies are applied (a filtered-out message is counted, never
//! delivered), then one `Delivery` per subscription is submitted to the engine — to the queue or
//! function ARN for `sqs` and `lambda` (as `sns.amazonaws.com`, source the topic ARN, so the
//! queue's policy must allow it, as on AWS), to the subscription's own ARN for `http`/`https`
//! (this crate's [`target`] posts it, retried per the delivery policy on the clock). `email`,
//! `email-json`, `sms` and `application` subscriptions are recorded, never sent.
//!
//! Messages are AWS's JSON envelope ([`envelope`]) signed with localbridge's key ([`sign`]),
//! whose certificate localbridge serves at `SigningCertURL`
//! (`/_localbridge/sns/SimpleNotificationService-localbridge.pem`); `SubscribeURL` and
//! `UnsubscribeURL` are query requests to localbridge itself, answered as AWS answers them.
//!
//! Layout: [`model`] (entities), [`topics`] (topics, attributes, tags), [`subscriptions`],
//! [`publish`] (validation, FIFO deduplication, fan-out), [`envelope`], [`sign`], [`target`]
//! (the `sns` delivery target and HTTP delivery), [`api`] (the query wire edge).

pub mod api;
pub mod envelope;
pub mod errors;
pub mod model;
pub mod publish;
pub mod sign;
mod stage;
pub mod subscriptions;
pub mod target;
pub mod topics;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use lb_core::deliver::Engine;
use lb_core::Clock;

use crate::model::{Recorded, Subscription, Topic};
use crate::sign::Signer;
use crate::stage::Stage;

/// The service principal SNS delivers as.
pub const PRINCIPAL: &str = "sns.amazonaws.com";

/// Limits and addresses.
#[derive(Debug, Clone)]
pub struct SnsConfig {
    /// Where localbridge is reached (`http://127.0.0.1:4566`): the base of `SubscribeURL`,
    /// `UnsubscribeURL` and `SigningCertURL`.
    pub endpoint: String,
    /// Topics per account (AWS: 100,000 standard).
    pub max_topics: usize,
    /// Subscriptions per topic (AWS: 12,500,000; bounded lower here, all kept in memory).
    pub max_subscriptions_per_topic: usize,
    /// Messages to unsent protocols kept for `/_localbridge/sns/messages` (oldest leave first).
    pub max_recorded: usize,
    /// FIFO deduplication ids remembered per topic (oldest forgotten first).
    pub max_dedup_ids: usize,
    /// Threads that build and sign published messages' deliveries (`0`: in the publisher's
    /// call, synchronously).
    pub fan_out_workers: usize,
    /// Messages waiting for each fan-out thread before Publish answers `Throttled`.
    pub fan_out_capacity: usize,
}

impl Default for SnsConfig {
    fn default() -> Self {
        Self {
            endpoint: "http://127.0.0.1:4566".to_owned(),
            max_topics: 100_000,
            max_subscriptions_per_topic: 100_000,
            max_recorded: 1_000,
            max_dedup_ids: 100_000,
            fan_out_workers: std::thread::available_parallelism().map_or(2, |n| n.get().min(8)),
            fan_out_capacity: 10_000,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// By ARN (so listings are in ARN order).
    pub topics: BTreeMap<Arc<str>, Topic>,
    /// By ARN.
    pub subscriptions: HashMap<Arc<str>, Subscription>,
    /// Confirmation token -> subscription ARN.
    pub tokens: HashMap<String, Arc<str>>,
}

/// Counters of what fan-out did.
#[derive(Debug, Default)]
pub struct Counters {
    pub published: AtomicU64,
    pub delivered_submitted: AtomicU64,
    pub filtered: AtomicU64,
    pub recorded: AtomicU64,
    pub dropped: AtomicU64,
    pub duplicates: AtomicU64,
    /// Publishes refused because the fan-out stage was full.
    pub throttled: AtomicU64,
}

/// SNS for every region and account.
pub struct Sns {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) engine: Engine,
    pub(crate) config: SnsConfig,
    pub(crate) signer: Arc<Signer>,
    /// Topics and subscriptions. One short-held lock (never across an await): publishing takes
    /// it to snapshot the subscriptions, then builds and submits deliveries without it.
    pub(crate) state: Mutex<State>,
    pub(crate) recorded: Mutex<VecDeque<Recorded>>,
    pub(crate) http: reqwest::Client,
    pub counters: Counters,
    /// Where fan-out runs ([`stage`]).
    pub(crate) stage: Stage,
    /// This service, for the fan-out stage's jobs.
    pub(crate) me: Weak<Sns>,
}

impl Sns {
    pub fn new(clock: Arc<dyn Clock>, engine: Engine, config: SnsConfig) -> Arc<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let stage = Stage::new(config.fan_out_workers, config.fan_out_capacity);
        Arc::new_cyclic(|me| Self {
            clock,
            engine,
            config,
            signer: Signer::start(),
            state: Mutex::new(State::default()),
            recorded: Mutex::new(VecDeque::new()),
            http,
            counters: Counters::default(),
            stage,
            me: me.clone(),
        })
    }

    /// Published messages whose fan-out has not finished.
    pub fn fan_out_pending(&self) -> u64 {
        self.stage.pending()
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now_millis()
    }

    /// The signing certificate, PEM (served at `SigningCertURL`).
    pub fn certificate_pem(&self) -> Option<String> {
        self.signer.certificate_pem()
    }

    /// `SigningCertURL`.
    pub fn signing_cert_url(&self) -> String {
        format!("{}/_localbridge/sns/{}", self.config.endpoint, sign::CERT_FILE)
    }

    /// Messages recorded for protocols localbridge does not send, oldest first.
    pub fn recorded(&self) -> Vec<Recorded> {
        lock(&self.recorded).iter().cloned().collect()
    }

    pub(crate) fn record(&self, r: Recorded) {
        let mut q = lock(&self.recorded);
        if q.len() >= self.config.max_recorded {
            q.pop_front();
        }
        q.push_back(r);
        self.counters.recorded.fetch_add(1, Ordering::Relaxed);
    }

    /// Every subscription, for `/_localbridge/sns/subscriptions`.
    pub fn subscriptions_report(&self) -> serde_json::Value {
        let st = self.state();
        let mut subs: Vec<&Subscription> = st.subscriptions.values().collect();
        subs.sort_by(|a, b| a.arn.cmp(&b.arn));
        serde_json::Value::Array(
            subs.into_iter()
                .map(|s| {
                    serde_json::json!({
                        "subscriptionArn": &*s.arn,
                        "topicArn": &*s.topic_arn,
                        "protocol": s.protocol,
                        "endpoint": s.endpoint,
                        "pendingConfirmation": !s.confirmed,
                        "attributes": s.attributes,
                    })
                })
                .collect(),
        )
    }
}

/// A poisoned lock still holds consistent data here (every critical section only inserts or
/// removes whole entries), so it is used as is.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A new random UUID (message ids, subscription ids).
pub(crate) fn uuid() -> String {
    lb_core::ids::uuid()
}
