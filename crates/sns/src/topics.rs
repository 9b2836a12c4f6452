//! Topics: CreateTopic, DeleteTopic, ListTopics, Get/SetTopicAttributes, tags.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use lb_core::arn::Arn;
use lb_core::AwsError;
use serde_json::Value;

use crate::errors::{self, invalid};
use crate::model::{HttpRetry, Topic, DEFAULT_EFFECTIVE_DELIVERY_POLICY};
use crate::Sns;

/// Topics per ListTopics page (SNS API Reference, ListTopics: "up to 100").
pub const PAGE: usize = 100;
/// Tags per topic (SNS Developer Guide, "Amazon SNS tags": 50).
pub const MAX_TAGS: usize = 50;

/// The attributes SetTopicAttributes and CreateTopic accept (botocore's documentation of
/// `TopicAttributesMap`).
const SETTABLE: &[&str] = &[
    "ApplicationFailureFeedbackRoleArn",
    "ApplicationSuccessFeedbackRoleArn",
    "ApplicationSuccessFeedbackSampleRate",
    "ArchivePolicy",
    "ContentBasedDeduplication",
    "DeliveryPolicy",
    "DisplayName",
    "FifoThroughputScope",
    "FirehoseFailureFeedbackRoleArn",
    "FirehoseSuccessFeedbackRoleArn",
    "FirehoseSuccessFeedbackSampleRate",
    "HTTPFailureFeedbackRoleArn",
    "HTTPSuccessFeedbackRoleArn",
    "HTTPSuccessFeedbackSampleRate",
    "KmsMasterKeyId",
    "LambdaFailureFeedbackRoleArn",
    "LambdaSuccessFeedbackRoleArn",
    "LambdaSuccessFeedbackSampleRate",
    "MaximumMessageSize",
    "Policy",
    "SignatureVersion",
    "SQSFailureFeedbackRoleArn",
    "SQSSuccessFeedbackRoleArn",
    "SQSSuccessFeedbackSampleRate",
    "TracingConfig",
];

/// AWS's default topic policy (what GetTopicAttributes shows for a new topic).
pub fn default_policy(arn: &str, account: &str) -> String {
    format!(
        r#"{{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission","SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","SNS:ListSubscriptionsByTopic","SNS:Publish"],"Resource":"{arn}","Condition":{{"StringEquals":{{"AWS:SourceOwner":"{account}"}}}}}}]}}"#
    )
}

/// Whether `name` is a valid topic name (letters, digits, `_`, `-`, 1 to 256 characters; a
/// FIFO topic's ends with `.fifo`, counted in the 256).
fn valid_name(name: &str, fifo: bool) -> bool {
    let base = if fifo {
        match name.strip_suffix(".fifo") {
            Some(b) => b,
            None => return false,
        }
    } else {
        name
    };
    !base.is_empty()
        && name.len() <= 256
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn bool_attr(name: &str, value: &str) -> Result<bool, AwsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(&format!("Attributes Reason: {name}: Invalid value [{value}]"))),
    }
}

/// Parses a topic's `DeliveryPolicy` (the HTTP part localbridge applies).
pub(crate) fn parse_topic_delivery_policy(text: &str) -> Result<HttpRetry, AwsError> {
    let v: Value = serde_json::from_str(text).map_err(|_| invalid("DeliveryPolicy: failed to parse JSON"))?;
    let retry = v
        .get("http")
        .and_then(|h| h.get("defaultHealthyRetryPolicy"))
        .cloned()
        .unwrap_or(Value::Null);
    parse_retry(&retry)
}

/// `healthyRetryPolicy` fields (SNS Developer Guide, "Creating an HTTP/S delivery policy":
/// numRetries 0..=100, delays 1..=3600 seconds, minDelayTarget <= maxDelayTarget).
pub(crate) fn parse_retry(v: &Value) -> Result<HttpRetry, AwsError> {
    let d = HttpRetry::default();
    if v.is_null() {
        return Ok(d);
    }
    let get = |k: &str, default: u64| -> Result<u64, AwsError> {
        match v.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(x) => x
                .as_u64()
                .ok_or_else(|| invalid(&format!("DeliveryPolicy: {k} must be a non-negative integer"))),
        }
    };
    let num_retries = get("numRetries", u64::from(d.num_retries))?;
    let min = get("minDelayTarget", d.min_delay_secs)?;
    let max = get("maxDelayTarget", d.max_delay_secs)?;
    if num_retries > 100 {
        return Err(invalid("DeliveryPolicy: numRetries must be between 0 and 100"));
    }
    if min == 0 || max > 3600 || min > max {
        return Err(invalid(
            "DeliveryPolicy: minDelayTarget must be between 1 and maxDelayTarget",
        ));
    }
    Ok(HttpRetry {
        num_retries: u32::try_from(num_retries).unwrap_or(3),
        min_delay_secs: min,
        max_delay_secs: max,
    })
}

/// A topic ARN as the API takes it: `Invalid parameter: {member}` when it is not one.
pub(crate) fn parse_topic_arn(text: &str, member: &str) -> Result<Arn, AwsError> {
    let arn: Arn = text.parse().map_err(|_| invalid(member))?;
    if arn.service != "sns" || arn.resource.is_empty() || arn.resource.contains(':') {
        return Err(invalid(member));
    }
    Ok(arn)
}

/// Applies one attribute to a topic (validated first).
fn apply(topic: &mut Topic, name: &str, value: &str) -> Result<(), AwsError> {
    match name {
        "Policy" => {
            let doc: Value = serde_json::from_str(value).map_err(|_| invalid("Policy: failed to parse JSON"))?;
            if !doc.is_object() {
                return Err(invalid("Policy: failed to parse JSON"));
            }
            topic.policy = Arc::new(doc);
        }
        "DeliveryPolicy" => {
            topic.http_retry = if value.is_empty() {
                HttpRetry::default()
            } else {
                parse_topic_delivery_policy(value)?
            };
        }
        "SignatureVersion" => {
            if value != "1" && value != "2" {
                return Err(invalid("SignatureVersion"));
            }
        }
        "ContentBasedDeduplication" => {
            if !topic.fifo {
                return Err(invalid(
                    "ContentBasedDeduplication Reason: Content based deduplication can only be set for FIFO topics",
                ));
            }
            topic.content_based_dedup = bool_attr(name, value)?;
        }
        "FifoThroughputScope" | "ArchivePolicy" if !topic.fifo => {
            return Err(invalid(&format!(
                "Attributes Reason: {name} can only be set for FIFO topics"
            )));
        }
        "MaximumMessageSize" => {
            let n: u64 = value.parse().map_err(|_| invalid("MaximumMessageSize"))?;
            if !(1024..=1_048_576).contains(&n) {
                return Err(invalid("MaximumMessageSize"));
            }
        }
        "DisplayName" if value.len() > 100 => return Err(invalid("DisplayName")),
        "TracingConfig" if value != "PassThrough" && value != "Active" => return Err(invalid("TracingConfig")),
        _ if SETTABLE.contains(&name) => {}
        _ => return Err(invalid("AttributeName")),
    }
    if name != "ContentBasedDeduplication" {
        topic.attributes.insert(name.to_owned(), value.to_owned());
    }
    Ok(())
}

impl Sns {
    /// CreateTopic: idempotent with the same attributes.
    pub fn create_topic(
        &self,
        region: &str,
        account: &str,
        name: &str,
        attributes: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<String, AwsError> {
        let mut attrs: BTreeMap<String, String> = attributes.iter().cloned().collect();
        let fifo = match attrs.remove("FifoTopic") {
            Some(v) => bool_attr("FifoTopic", &v)?,
            None => false,
        };
        if fifo && !name.ends_with(".fifo") || !fifo && name.ends_with(".fifo") {
            if fifo {
                return Err(invalid(
                    "Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.",
                ));
            }
            return Err(invalid("Topic Name"));
        }
        if !valid_name(name, fifo) {
            return Err(invalid("Topic Name"));
        }
        validate_tags(tags)?;
        let arn: Arc<str> = Arn::new("sns", region, account, name).to_string().into();
        let mut topic = Topic {
            arn: Arc::clone(&arn),
            name: name.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            fifo,
            content_based_dedup: false,
            attributes: BTreeMap::new(),
            policy: Arc::new(Value::Null),
            tags: BTreeMap::new(),
            subscriptions: Vec::new(),
            deleted: 0,
            dedup: HashMap::new(),
            dedup_order: VecDeque::new(),
            sequence: 0,
            http_retry: HttpRetry::default(),
        };
        let default = default_policy(&arn, account);
        topic.policy = Arc::new(serde_json::from_str(&default).unwrap_or(Value::Null));
        for (k, v) in &attrs {
            apply(&mut topic, k, v)?;
        }
        let mut st = self.state();
        if let Some(existing) = st.topics.get_mut(&arn) {
            let same = attrs.iter().all(|(k, v)| match k.as_str() {
                "ContentBasedDeduplication" => bool_attr(k, v).ok() == Some(existing.content_based_dedup),
                _ => existing.attributes.get(k) == Some(v),
            });
            if !same {
                return Err(invalid(
                    "Attributes Reason: Topic already exists with different attributes",
                ));
            }
            for (k, v) in tags {
                existing.tags.insert(k.clone(), v.clone());
            }
            return Ok(arn.to_string());
        }
        let owned = st
            .topics
            .values()
            .filter(|t| t.account == account && t.region == region)
            .count();
        if owned >= self.config.max_topics {
            return Err(AwsError::new(
                "TopicLimitExceeded",
                403,
                "Topic already exists or the number of topics has reached the limit",
            ));
        }
        topic.tags = tags.iter().cloned().collect();
        st.topics.insert(Arc::clone(&arn), topic);
        Ok(arn.to_string())
    }

    /// DeleteTopic: its subscriptions go with it. Deleting a topic that does not exist succeeds,
    /// as on AWS.
    pub fn delete_topic(&self, topic_arn: &str) -> Result<(), AwsError> {
        parse_topic_arn(topic_arn, "TopicArn")?;
        let mut st = self.state();
        if let Some(topic) = st.topics.remove(topic_arn) {
            for sub in topic.subscriptions {
                if let Some(s) = st.subscriptions.remove(&sub) {
                    st.tokens.remove(&s.token);
                }
            }
        }
        Ok(())
    }

    /// ListTopics: 100 per page, in ARN order; the token is the last ARN of the page.
    pub fn list_topics(
        &self,
        region: &str,
        account: &str,
        next: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), AwsError> {
        let after = match next {
            Some(t) => Some(decode_token(t).ok_or_else(|| invalid("NextToken"))?),
            None => None,
        };
        let st = self.state();
        let mut out = Vec::new();
        let mut more = false;
        for t in st.topics.values() {
            if t.region != region || t.account != account {
                continue;
            }
            if after.as_deref().is_some_and(|a| &*t.arn <= a) {
                continue;
            }
            if out.len() == PAGE {
                more = true;
                break;
            }
            out.push(t.arn.to_string());
        }
        let token = if more {
            out.last().map(|l| encode_token(l))
        } else {
            None
        };
        Ok((out, token))
    }

    /// GetTopicAttributes.
    pub fn get_topic_attributes(&self, topic_arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        parse_topic_arn(topic_arn, "TopicArn")?;
        let st = self.state();
        let topic = st.topics.get(topic_arn).ok_or_else(errors::topic_not_found)?;
        let (mut confirmed, mut pending) = (0u64, 0u64);
        for s in &topic.subscriptions {
            if let Some(sub) = st.subscriptions.get(s) {
                if sub.confirmed {
                    confirmed += 1;
                } else {
                    pending += 1;
                }
            }
        }
        let mut out: BTreeMap<String, String> = topic.attributes.clone();
        out.entry("Policy".into())
            .or_insert_with(|| default_policy(&topic.arn, &topic.account));
        out.insert("Owner".into(), topic.account.clone());
        out.insert("TopicArn".into(), topic.arn.to_string());
        out.entry("DisplayName".into()).or_default();
        out.insert("SubscriptionsConfirmed".into(), confirmed.to_string());
        out.insert("SubscriptionsPending".into(), pending.to_string());
        out.insert("SubscriptionsDeleted".into(), topic.deleted.to_string());
        out.insert(
            "EffectiveDeliveryPolicy".into(),
            effective_delivery_policy(topic.attributes.get("DeliveryPolicy")),
        );
        if topic.fifo {
            out.insert("FifoTopic".into(), "true".into());
            out.insert(
                "ContentBasedDeduplication".into(),
                topic.content_based_dedup.to_string(),
            );
        }
        Ok(out.into_iter().collect())
    }

    /// SetTopicAttributes.
    pub fn set_topic_attribute(&self, topic_arn: &str, name: &str, value: &str) -> Result<(), AwsError> {
        parse_topic_arn(topic_arn, "TopicArn")?;
        if name == "FifoTopic" {
            return Err(invalid("AttributeName"));
        }
        let mut st = self.state();
        let topic = st.topics.get_mut(topic_arn).ok_or_else(errors::topic_not_found)?;
        apply(topic, name, value)
    }

    /// The topic a tagging call names (`ResourceNotFound` when there is none).
    fn tagged<T>(&self, arn: &str, f: impl FnOnce(&mut Topic) -> Result<T, AwsError>) -> Result<T, AwsError> {
        let parsed: Arn = arn.parse().map_err(|_| invalid("ResourceArn"))?;
        if parsed.service != "sns" {
            return Err(invalid("ResourceArn"));
        }
        let mut st = self.state();
        let topic = st.topics.get_mut(arn).ok_or_else(errors::resource_not_found)?;
        f(topic)
    }

    pub fn tag_resource(&self, arn: &str, tags: &[(String, String)]) -> Result<(), AwsError> {
        validate_tags(tags)?;
        self.tagged(arn, |t| {
            let mut next = t.tags.clone();
            for (k, v) in tags {
                next.insert(k.clone(), v.clone());
            }
            if next.len() > MAX_TAGS {
                return Err(errors::tag_limit());
            }
            t.tags = next;
            Ok(())
        })
    }

    pub fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        self.tagged(arn, |t| {
            for k in keys {
                t.tags.remove(k);
            }
            Ok(())
        })
    }

    pub fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        self.tagged(arn, |t| {
            Ok(t.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        })
    }
}

fn validate_tags(tags: &[(String, String)]) -> Result<(), AwsError> {
    if tags.len() > MAX_TAGS {
        return Err(errors::tag_limit());
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(invalid("Tags"));
        }
        if k.starts_with("aws:") {
            return Err(invalid("Tags Reason: Keys can't start with aws:"));
        }
    }
    Ok(())
}

/// The topic's effective delivery policy: AWS's default with the topic's HTTP part applied.
fn effective_delivery_policy(set: Option<&String>) -> String {
    let Some(set) = set.filter(|s| !s.is_empty()) else {
        return DEFAULT_EFFECTIVE_DELIVERY_POLICY.to_owned();
    };
    let mut base: Value = serde_json::from_str(DEFAULT_EFFECTIVE_DELIVERY_POLICY).unwrap_or(Value::Null);
    if let (Ok(Value::Object(set)), Some(Value::Object(http))) =
        (serde_json::from_str::<Value>(set), base.get_mut("http"))
    {
        if let Some(Value::Object(h)) = set.get("http") {
            for (k, v) in h {
                if let (Some(Value::Object(dst)), Value::Object(src)) = (http.get_mut(k), v) {
                    for (kk, vv) in src {
                        dst.insert(kk.clone(), vv.clone());
                    }
                } else {
                    http.insert(k.clone(), v.clone());
                }
            }
        }
    }
    base.to_string()
}

/// Pagination tokens: the last ARN of the page, base64 (opaque to callers).
pub(crate) fn encode_token(last: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)
}

pub(crate) fn decode_token(token: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(bytes).ok()
}
