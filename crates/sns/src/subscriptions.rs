//! Subscriptions: Subscribe, ConfirmSubscription, Unsubscribe, the listings, and
//! Get/SetSubscriptionAttributes.
//!
//! `sqs` and `lambda` subscriptions (same account) are confirmed at once; `http`/`https` ones
//! wait for ConfirmSubscription with the token of the SubscriptionConfirmation message (or a GET
//! on its `SubscribeURL`); `email`, `email-json`, `sms` and `application` ones are recorded and
//! confirmed at once (localbridge sends nothing to them; their messages are kept for
//! `/_localbridge/sns/messages`).

use std::collections::BTreeMap;
use std::sync::Arc;

use lb_core::arn::Arn;
use lb_core::AwsError;
use lb_rules::sns::{FilterPolicy, FilterPolicyScope};
use serde_json::Value;

use crate::errors::{self, invalid};
use crate::model::{Subscription, DEFAULT_SUBSCRIPTION_DELIVERY_POLICY};
use crate::topics::{decode_token, encode_token, parse_retry, parse_topic_arn, PAGE};
use crate::Sns;

/// The protocols Subscribe accepts.
const PROTOCOLS: &[&str] = &[
    "http",
    "https",
    "email",
    "email-json",
    "sms",
    "sqs",
    "application",
    "lambda",
    "firehose",
];

/// The subscription attributes Subscribe and SetSubscriptionAttributes accept.
const SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

/// What Subscribe answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    pub arn: String,
    pub pending: bool,
}

fn endpoint_arn(protocol: &str, endpoint: &str) -> Result<Option<Arc<Arn>>, AwsError> {
    let service = match protocol {
        "sqs" => "sqs",
        "lambda" => "lambda",
        "firehose" => "firehose",
        "application" => "sns",
        _ => return Ok(None),
    };
    let what = match protocol {
        "sqs" => "SQS endpoint ARN",
        "lambda" => "Lambda endpoint ARN",
        "firehose" => "Firehose endpoint ARN",
        _ => "Endpoint",
    };
    let arn: Arn = endpoint.parse().map_err(|_| invalid(what))?;
    if arn.service != service || arn.resource.is_empty() {
        return Err(invalid(what));
    }
    Ok(Some(Arc::new(arn)))
}

fn validate_endpoint(protocol: &str, endpoint: &str) -> Result<(), AwsError> {
    let ok = match protocol {
        "http" => endpoint.starts_with("http://") && endpoint.len() > 7,
        "https" => endpoint.starts_with("https://") && endpoint.len() > 8,
        "email" | "email-json" => endpoint.contains('@') && !endpoint.starts_with('@') && !endpoint.ends_with('@'),
        "sms" => {
            let digits = endpoint.strip_prefix('+').unwrap_or(endpoint);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else if protocol.starts_with("email") {
        Err(invalid("Email address"))
    } else {
        Err(invalid("Endpoint"))
    }
}

/// Applies one attribute to a subscription (validated first). `subscribe` words errors as
/// Subscribe does (`Attributes Reason: ...`).
fn apply(sub: &mut Subscription, name: &str, value: &str, subscribe: bool) -> Result<(), AwsError> {
    match name {
        "RawMessageDelivery" => {
            let raw = match value.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(invalid(&format!(
                        "Attributes Reason: RawMessageDelivery: Invalid value [{value}]. Must be true or false."
                    )))
                }
            };
            if raw && !matches!(sub.protocol.as_str(), "sqs" | "http" | "https" | "firehose") {
                return Err(invalid(&format!(
                    "Attributes Reason: Delivery protocol [{}] does not support raw message delivery.",
                    sub.protocol
                )));
            }
            sub.raw = raw;
        }
        "FilterPolicyScope" => {
            let scope = FilterPolicyScope::parse(value).map_err(|e| errors::invalid_parameter(e.to_string()))?;
            if let Some(text) = sub.attributes.get("FilterPolicy").filter(|t| !t.is_empty()) {
                let policy = FilterPolicy::parse(text, scope).map_err(|e| errors::invalid_parameter(e.to_string()))?;
                sub.filter = Some(Arc::new(policy));
            }
        }
        "FilterPolicy" => {
            if value.is_empty() {
                sub.filter = None;
            } else {
                let scope = sub
                    .attributes
                    .get("FilterPolicyScope")
                    .and_then(|s| FilterPolicyScope::parse(s).ok())
                    .unwrap_or_default();
                let policy = FilterPolicy::parse(value, scope).map_err(|e| {
                    errors::invalid_parameter(if subscribe {
                        e.subscribe_message()
                    } else {
                        e.to_string()
                    })
                })?;
                sub.filter = Some(Arc::new(policy));
            }
        }
        "RedrivePolicy" => {
            if value.is_empty() {
                sub.dead_letter = None;
            } else {
                let v: Value =
                    serde_json::from_str(value).map_err(|_| invalid("RedrivePolicy: failed to parse JSON."))?;
                let target = v
                    .get("deadLetterTargetArn")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("RedrivePolicy: deadLetterTargetArn is missing"))?;
                let arn: Arn = target
                    .parse()
                    .map_err(|_| invalid("RedrivePolicy: deadLetterTargetArn is an invalid arn"))?;
                if arn.service != "sqs" {
                    return Err(invalid("RedrivePolicy: deadLetterTargetArn is an invalid arn"));
                }
                sub.dead_letter = Some(Arc::new(arn));
            }
        }
        "DeliveryPolicy" => {
            if !sub.is_http() {
                return Err(invalid(&format!(
                    "DeliveryPolicy: Delivery protocol [{}] does not support delivery policies",
                    sub.protocol
                )));
            }
            if value.is_empty() {
                sub.http_retry = None;
                sub.content_type = None;
            } else {
                let v: Value =
                    serde_json::from_str(value).map_err(|_| invalid("DeliveryPolicy: failed to parse JSON"))?;
                sub.http_retry = Some(parse_retry(v.get("healthyRetryPolicy").unwrap_or(&Value::Null))?);
                sub.content_type = v
                    .get("requestPolicy")
                    .and_then(|r| r.get("headerContentType"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
        }
        _ if SETTABLE.contains(&name) => {}
        _ => return Err(invalid("AttributeName")),
    }
    sub.attributes.insert(name.to_owned(), value.to_owned());
    Ok(())
}

impl Sns {
    /// Subscribe. Subscribing the same endpoint again answers the existing subscription (AWS's
    /// error when its attributes differ).
    #[allow(clippy::too_many_arguments)]
    pub fn subscribe(
        &self,
        account: &str,
        topic_arn: &str,
        protocol: &str,
        endpoint: Option<&str>,
        attributes: &[(String, String)],
        return_arn: bool,
    ) -> Result<Subscribed, AwsError> {
        let topic = parse_topic_arn(topic_arn, "TopicArn")?;
        let protocol = protocol.to_ascii_lowercase();
        if !PROTOCOLS.contains(&protocol.as_str()) {
            return Err(invalid(&format!(
                "Amazon SNS does not support this protocol string: {protocol}"
            )));
        }
        let endpoint = endpoint.filter(|e| !e.is_empty()).ok_or_else(|| invalid("Endpoint"))?;
        validate_endpoint(&protocol, endpoint)?;
        let endpoint_arn = endpoint_arn(&protocol, endpoint)?;
        let sub_id = crate::uuid();
        let arn: Arc<str> = format!("{topic_arn}:{sub_id}").into();
        let mut sub = Subscription {
            arn: Arc::clone(&arn),
            topic_arn: topic_arn.into(),
            protocol: protocol.clone(),
            endpoint: endpoint.to_owned(),
            owner: account.to_owned(),
            confirmed: !matches!(protocol.as_str(), "http" | "https"),
            token: new_token(),
            attributes: BTreeMap::new(),
            filter: None,
            raw: false,
            dead_letter: None,
            endpoint_arn,
            http_retry: None,
            content_type: None,
        };
        // FilterPolicyScope first: the policy is validated against it.
        let mut ordered: Vec<&(String, String)> = attributes.iter().collect();
        ordered.sort_by_key(|(k, _)| k != "FilterPolicyScope");
        for (k, v) in ordered {
            apply(&mut sub, k, v, true)?;
        }
        let fifo_queue = protocol == "sqs" && endpoint.ends_with(".fifo");
        let mut st = self.state();
        let t = st.topics.get(topic_arn).ok_or_else(errors::topic_not_found)?;
        if fifo_queue && !t.fifo {
            return Err(invalid(
                "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics",
            )
            .with_message_fix());
        }
        let existing = t
            .subscriptions
            .iter()
            .filter_map(|a| st.subscriptions.get(a))
            .find(|s| s.protocol == protocol && s.endpoint == endpoint)
            .cloned();
        if let Some(existing) = existing {
            let same = attributes.iter().all(|(k, v)| existing.attributes.get(k) == Some(v));
            if !same {
                return Err(invalid(
                    "Attributes Reason: Subscription already exists with different attributes",
                ));
            }
            return Ok(Subscribed {
                arn: if existing.confirmed || return_arn {
                    existing.arn.to_string()
                } else {
                    "pending confirmation".to_owned()
                },
                pending: !existing.confirmed,
            });
        }
        if t.subscriptions.len() >= self.config.max_subscriptions_per_topic {
            return Err(AwsError::new(
                "SubscriptionLimitExceeded",
                403,
                "Subscription limit exceeded for this topic",
            ));
        }
        let pending = !sub.confirmed;
        let topic_region = topic.region.clone();
        let _ = topic_region;
        st.tokens.insert(sub.token.clone(), Arc::clone(&arn));
        if let Some(t) = st.topics.get_mut(topic_arn) {
            t.subscriptions.push(Arc::clone(&arn));
        }
        let confirmation = pending.then(|| sub.clone());
        st.subscriptions.insert(Arc::clone(&arn), sub);
        let signature_version = st
            .topics
            .get(topic_arn)
            .map_or("1".to_owned(), |t| t.signature_version().to_owned());
        drop(st);
        if let Some(sub) = confirmation {
            self.send_confirmation(&sub, &signature_version);
        }
        Ok(Subscribed {
            arn: if pending && !return_arn {
                "pending confirmation".to_owned()
            } else {
                arn.to_string()
            },
            pending,
        })
    }

    /// ConfirmSubscription (also a GET on `SubscribeURL`).
    pub fn confirm_subscription(&self, topic_arn: &str, token: &str) -> Result<String, AwsError> {
        parse_topic_arn(topic_arn, "TopicArn")?;
        let mut st = self.state();
        if !st.topics.contains_key(topic_arn) {
            return Err(errors::topic_not_found());
        }
        let arn = st.tokens.get(token).cloned().ok_or_else(|| invalid("Token"))?;
        let sub = st.subscriptions.get_mut(&arn).ok_or_else(|| invalid("Token"))?;
        if &*sub.topic_arn != topic_arn {
            return Err(invalid("Token"));
        }
        sub.confirmed = true;
        Ok(arn.to_string())
    }

    /// Unsubscribe (also a GET on `UnsubscribeURL`).
    pub fn unsubscribe(&self, subscription_arn: &str) -> Result<(), AwsError> {
        check_subscription_arn(subscription_arn)?;
        let mut st = self.state();
        let sub = st
            .subscriptions
            .remove(subscription_arn)
            .ok_or_else(errors::subscription_not_found)?;
        st.tokens.remove(&sub.token);
        if let Some(t) = st.topics.get_mut(&sub.topic_arn) {
            t.subscriptions.retain(|a| **a != *subscription_arn);
            t.deleted += 1;
        }
        Ok(())
    }

    /// ListSubscriptions (region and account) or ListSubscriptionsByTopic (`topic`): 100 per
    /// page, in subscription ARN order.
    pub fn list_subscriptions(
        &self,
        region: &str,
        account: &str,
        topic: Option<&str>,
        next: Option<&str>,
    ) -> Result<(Vec<Subscription>, Option<String>), AwsError> {
        let after = match next {
            Some(t) => Some(decode_token(t).ok_or_else(|| invalid("NextToken"))?),
            None => None,
        };
        let st = self.state();
        let mut subs: Vec<&Subscription> = match topic {
            Some(t) => {
                parse_topic_arn(t, "TopicArn")?;
                let topic = st.topics.get(t).ok_or_else(errors::topic_not_found)?;
                topic
                    .subscriptions
                    .iter()
                    .filter_map(|a| st.subscriptions.get(a))
                    .collect()
            }
            None => st
                .subscriptions
                .values()
                .filter(|s| {
                    s.topic_arn
                        .parse::<Arn>()
                        .is_ok_and(|a| a.region == region && a.account == account)
                })
                .collect(),
        };
        subs.sort_by(|a, b| a.arn.cmp(&b.arn));
        let mut out = Vec::new();
        let mut more = false;
        for s in subs {
            if after.as_deref().is_some_and(|a| &*s.arn <= a) {
                continue;
            }
            if out.len() == PAGE {
                more = true;
                break;
            }
            out.push(s.clone());
        }
        let token = if more {
            out.last().map(|s: &Subscription| encode_token(&s.arn))
        } else {
            None
        };
        Ok((out, token))
    }

    /// GetSubscriptionAttributes.
    pub fn get_subscription_attributes(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        check_subscription_arn(arn)?;
        let st = self.state();
        let sub = st.subscriptions.get(arn).ok_or_else(errors::subscription_not_found)?;
        let mut out = sub.attributes.clone();
        out.insert("SubscriptionArn".into(), sub.arn.to_string());
        out.insert("TopicArn".into(), sub.topic_arn.to_string());
        out.insert("Protocol".into(), sub.protocol.clone());
        out.insert("Endpoint".into(), sub.endpoint.clone());
        out.insert("Owner".into(), sub.owner.clone());
        out.insert("PendingConfirmation".into(), (!sub.confirmed).to_string());
        out.insert("ConfirmationWasAuthenticated".into(), sub.confirmed.to_string());
        out.insert("RawMessageDelivery".into(), sub.raw.to_string());
        out.insert(
            "SubscriptionPrincipal".into(),
            format!("arn:aws:iam::{}:root", sub.owner),
        );
        if sub.is_http() {
            out.insert(
                "EffectiveDeliveryPolicy".into(),
                match sub.attributes.get("DeliveryPolicy") {
                    Some(p) if !p.is_empty() => p.clone(),
                    _ => DEFAULT_SUBSCRIPTION_DELIVERY_POLICY.to_owned(),
                },
            );
        }
        if sub.filter.is_some() && !out.contains_key("FilterPolicyScope") {
            out.insert("FilterPolicyScope".into(), "MessageAttributes".into());
        }
        Ok(out.into_iter().collect())
    }

    /// SetSubscriptionAttributes.
    pub fn set_subscription_attribute(&self, arn: &str, name: &str, value: &str) -> Result<(), AwsError> {
        check_subscription_arn(arn)?;
        let mut st = self.state();
        let sub = st
            .subscriptions
            .get_mut(arn)
            .ok_or_else(errors::subscription_not_found)?;
        let mut next = sub.clone();
        apply(&mut next, name, value, false)?;
        *sub = next;
        Ok(())
    }

    /// The subscription `arn`, if it exists.
    pub fn subscription(&self, arn: &str) -> Option<Subscription> {
        self.state().subscriptions.get(arn).cloned()
    }
}

fn check_subscription_arn(arn: &str) -> Result<(), AwsError> {
    let parsed: Arn = arn.parse().map_err(|_| invalid("SubscriptionArn"))?;
    if parsed.service != "sns" || !parsed.resource.contains(':') {
        return Err(invalid("SubscriptionArn"));
    }
    Ok(())
}

/// A confirmation token: random hex, as long as AWS's.
fn new_token() -> String {
    let mut out = String::with_capacity(128);
    for _ in 0..8 {
        out.push_str(&format!("{:016x}", lb_core::ids::random_u64()));
    }
    out
}

trait MessageFix {
    fn with_message_fix(self) -> Self;
}

impl MessageFix for AwsError {
    /// `invalid` prefixes `Invalid parameter: `; a message that already starts with it keeps one.
    fn with_message_fix(mut self) -> Self {
        if let Some(rest) = self.message.strip_prefix("Invalid parameter: Invalid parameter: ") {
            self.message = format!("Invalid parameter: {rest}");
        }
        self
    }
}
