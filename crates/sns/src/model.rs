//! The stored entities: topics and subscriptions, with their attributes parsed once when set.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use lb_core::arn::Arn;
use lb_rules::sns::FilterPolicy;
use serde_json::Value;

/// AWS's default delivery policy for HTTP/S endpoints, as `EffectiveDeliveryPolicy` shows it
/// (SNS Developer Guide, "Amazon SNS message delivery retries": "up to three retries with a
/// delay between failed attempts set at 20 seconds").
pub const DEFAULT_EFFECTIVE_DELIVERY_POLICY: &str = r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#;

/// The subscription-level form of the default (GetSubscriptionAttributes on an HTTP/S
/// subscription).
pub const DEFAULT_SUBSCRIPTION_DELIVERY_POLICY: &str = r#"{"healthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"sicklyRetryPolicy":null,"throttlePolicy":null,"requestPolicy":{"headerContentType":"text/plain; charset=UTF-8"},"guaranteed":false}"#;

/// The retry schedule of HTTP/S deliveries, from a delivery policy's `healthyRetryPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRetry {
    pub num_retries: u32,
    pub min_delay_secs: u64,
    pub max_delay_secs: u64,
}

impl Default for HttpRetry {
    fn default() -> Self {
        Self {
            num_retries: 3,
            min_delay_secs: 20,
            max_delay_secs: 20,
        }
    }
}

/// The content type an HTTP/S delivery is posted with (`requestPolicy.headerContentType`).
pub const DEFAULT_CONTENT_TYPE: &str = "text/plain; charset=UTF-8";

/// A topic.
#[derive(Debug)]
pub struct Topic {
    pub arn: Arc<str>,
    pub name: String,
    pub region: String,
    pub account: String,
    pub fifo: bool,
    pub content_based_dedup: bool,
    /// Attributes as set (CreateTopic / SetTopicAttributes), by name.
    pub attributes: BTreeMap<String, String>,
    /// `Policy`, parsed.
    pub policy: Arc<Value>,
    pub tags: BTreeMap<String, String>,
    /// Subscription ARNs, in creation order.
    pub subscriptions: Vec<Arc<str>>,
    pub deleted: u64,
    /// FIFO deduplication ids seen in the last five minutes: id -> expiry (clock millis).
    pub dedup: HashMap<String, u64>,
    pub dedup_order: VecDeque<(u64, String)>,
    pub sequence: u128,
    /// The topic's HTTP delivery policy (from `DeliveryPolicy`'s `http.defaultHealthyRetryPolicy`).
    pub http_retry: HttpRetry,
}

impl Topic {
    pub fn signature_version(&self) -> &str {
        self.attributes.get("SignatureVersion").map_or("1", String::as_str)
    }
}

/// A subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub arn: Arc<str>,
    pub topic_arn: Arc<str>,
    pub protocol: String,
    pub endpoint: String,
    pub owner: String,
    pub confirmed: bool,
    pub token: String,
    /// Attributes as set, by name.
    pub attributes: BTreeMap<String, String>,
    pub filter: Option<Arc<FilterPolicy>>,
    pub raw: bool,
    pub dead_letter: Option<Arc<Arn>>,
    /// The endpoint as an ARN (sqs, lambda).
    pub endpoint_arn: Option<Arc<Arn>>,
    pub http_retry: Option<HttpRetry>,
    pub content_type: Option<String>,
}

impl Subscription {
    /// The ARN as listings show it (`PendingConfirmation` until confirmed).
    pub fn listed_arn(&self) -> &str {
        if self.confirmed {
            &self.arn
        } else {
            "PendingConfirmation"
        }
    }

    /// Whether messages to it are delivered (as opposed to recorded only).
    pub fn is_http(&self) -> bool {
        matches!(self.protocol.as_str(), "http" | "https")
    }
}

/// A message published to a protocol localbridge does not send (email, email-json, sms,
/// application): recorded, visible under `/_localbridge/sns/messages`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    pub subscription_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub message_id: String,
    pub subject: Option<String>,
    pub message: String,
    pub timestamp: String,
}
