//! SNS as a delivery target, for the `sns` ARN namespace:
//! - a topic ARN: a producer (S3, EventBridge, Lambda destinations) publishes to the topic. The
//!   topic's `Policy` must allow the producer's principal `sns:Publish` for its source, checked
//!   at every delivery (and by [`Target::authorize`] when S3 validates a configuration). The
//!   message then goes through the same fan-out as the Publish API.
//! - a subscription ARN (`topic:<id>`): an HTTP/S delivery this crate submitted itself — the
//!   POST to the endpoint with AWS's headers. 2xx is delivered; 429, 5xx and network errors are
//!   retried per the delivery policy; other statuses fail for good (dead-letter queue, if any).

use std::sync::Arc;

use lb_core::arn::Arn;
use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Message, Target};
use lb_core::policy::{self, Decision, PolicyRequest};
use serde_json::Value;

use crate::model::DEFAULT_CONTENT_TYPE;
use crate::publish::{PublishInput, ATTR_MESSAGE_ID, ATTR_RAW, ATTR_TYPE};
use crate::Sns;

const PUBLISH_ACTION: &str = "sns:Publish";

impl Sns {
    fn topic_policy(&self, arn: &str) -> Option<Arc<Value>> {
        self.state().topics.get(arn).map(|t| Arc::clone(&t.policy))
    }

    /// A producer's message to the topic `arn`.
    fn deliver_to_topic(&self, arn: &Arn, msg: &Message) -> Result<(), DeliveryError> {
        let text = arn.to_string();
        let Some(document) = self.topic_policy(&text) else {
            return Err(DeliveryError::not_found(format!("The topic {text} does not exist.")));
        };
        if let Some(principal) = msg.principal.as_deref() {
            let req = PolicyRequest {
                principal_service: principal,
                action: PUBLISH_ACTION,
                resource: &text,
                source_arn: msg.source_arn.as_deref(),
                source_account: msg.source_account.as_deref(),
            };
            let source = msg.source_arn.as_deref().unwrap_or("(none)");
            match policy::evaluate(&document, &req) {
                Decision::Allow => {}
                Decision::ExplicitDeny => {
                    return Err(DeliveryError::access_denied(format!(
                    "The Policy of topic {text} explicitly denies {PUBLISH_ACTION} to {principal} for source {source}."
                )))
                }
                Decision::ImplicitDeny => {
                    return Err(DeliveryError::access_denied(format!(
                        "The Policy of topic {text} does not allow {PUBLISH_ACTION} to {principal} for source {source}."
                    )))
                }
            }
        }
        let input = PublishInput {
            message: msg.body.to_string(),
            subject: msg.subject.clone(),
            structure: None,
            attributes: msg.attributes.clone(),
            group_id: msg.group_id.clone(),
            dedup_id: msg.dedup_id.clone(),
        };
        self.publish_as(&text, input, Some(msg))
            .map(|_| ())
            .map_err(|e| match e.code.as_ref() {
                "NotFound" => DeliveryError::not_found(e.message),
                "Throttled" => DeliveryError::retryable("Throttled", e.message),
                code => DeliveryError::terminal(code.to_owned(), e.message),
            })
    }

    /// An HTTP/S POST of a notification or confirmation to the subscription `arn`'s endpoint.
    async fn deliver_http(&self, arn: &Arn, msg: &Message) -> Result<(), DeliveryError> {
        let text = arn.to_string();
        let Some(sub) = self.subscription(&text) else {
            return Err(DeliveryError::not_found(format!(
                "The subscription {text} does not exist."
            )));
        };
        let attr = |k: &str| msg.attributes.get(k).and_then(|a| a.string_value.clone());
        let kind = attr(ATTR_TYPE).unwrap_or_else(|| "Notification".to_owned());
        let message_id = attr(ATTR_MESSAGE_ID).unwrap_or_default();
        if kind == "Notification" && !sub.confirmed {
            return Err(DeliveryError::terminal(
                "SubscriptionNotConfirmed",
                format!("The subscription {text} is pending confirmation."),
            ));
        }
        let url = reqwest::Url::parse(&sub.endpoint)
            .map_err(|e| DeliveryError::terminal("InvalidEndpoint", format!("{}: {e}", sub.endpoint)))?;
        if url.scheme() != "http" {
            // No TLS stack here: localbridge works offline, where HTTPS endpoints are rare.
            return Err(DeliveryError::terminal(
                "UnsupportedEndpoint",
                format!("localbridge delivers to http:// endpoints only, not {}", sub.endpoint),
            ));
        }
        let content_type = sub
            .content_type
            .clone()
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
        let mut req = self
            .http
            .post(url)
            .header("x-amz-sns-message-type", &kind)
            .header("x-amz-sns-message-id", &message_id)
            .header("x-amz-sns-topic-arn", &*sub.topic_arn)
            .header("Content-Type", content_type)
            .header("User-Agent", "Amazon Simple Notification Service Agent");
        if kind == "Notification" {
            req = req.header("x-amz-sns-subscription-arn", text.as_str());
        }
        if attr(ATTR_RAW).is_some() {
            req = req.header("x-amz-sns-rawdelivery", "true");
        }
        let resp = req.body(msg.body.to_string()).send().await.map_err(|e| {
            let code = if e.is_timeout() { "Timeout" } else { "ConnectionError" };
            DeliveryError::retryable(code, format!("{}: {e}", sub.endpoint))
        })?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => Ok(()),
            429 | 500..=599 => Err(DeliveryError::retryable(
                format!("HTTP{status}"),
                format!("{} answered {status}", sub.endpoint),
            )),
            _ => Err(DeliveryError::terminal(
                format!("HTTP{status}"),
                format!("{} answered {status}", sub.endpoint),
            )),
        }
    }
}

/// A topic ARN's resource is the topic name; a subscription's is `name:<id>`.
fn is_subscription(arn: &Arn) -> bool {
    arn.resource.contains(':')
}

impl Target for Sns {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        if is_subscription(arn) {
            Box::pin(self.deliver_http(arn, msg))
        } else {
            Box::pin(std::future::ready(self.deliver_to_topic(arn, msg)))
        }
    }

    /// The topic must exist and its `Policy` must allow the request.
    fn authorize(&self, arn: &Arn, req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        if is_subscription(arn) {
            return Err(DestinationError::NotFound);
        }
        let document = self.topic_policy(&arn.to_string()).ok_or(DestinationError::NotFound)?;
        match policy::evaluate(&document, req) {
            Decision::Allow => Ok(()),
            Decision::ExplicitDeny | Decision::ImplicitDeny => Err(DestinationError::AccessDenied),
        }
    }
}
