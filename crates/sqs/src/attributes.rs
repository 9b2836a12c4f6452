//! Queue attributes: their names, defaults, ranges and the validation AWS applies when they are
//! set by CreateQueue or SetQueueAttributes.

use std::sync::Arc;

use lb_core::{Arn, AwsError};
use serde_json::Value;

use crate::errors;

pub const MAX_MESSAGE_SIZE: u32 = 1_048_576;
pub const MAX_DELAY_SECONDS: i64 = 900;
pub const MAX_VISIBILITY_TIMEOUT: i64 = 43_200;
pub const MAX_WAIT_TIME_SECONDS: i64 = 20;

/// Every queue attribute name of the model, in the order `All` lists them (alphabetical, the
/// order AWS's responses are usually shown in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueAttr {
    All,
    ApproximateNumberOfMessages,
    ApproximateNumberOfMessagesDelayed,
    ApproximateNumberOfMessagesNotVisible,
    ContentBasedDeduplication,
    CreatedTimestamp,
    DeduplicationScope,
    DelaySeconds,
    FifoQueue,
    FifoThroughputLimit,
    KmsDataKeyReusePeriodSeconds,
    KmsMasterKeyId,
    LastModifiedTimestamp,
    MaximumMessageSize,
    MessageRetentionPeriod,
    Policy,
    QueueArn,
    ReceiveMessageWaitTimeSeconds,
    RedriveAllowPolicy,
    RedrivePolicy,
    SqsManagedSseEnabled,
    VisibilityTimeout,
}

impl QueueAttr {
    pub const EVERY: [QueueAttr; 21] = [
        Self::ApproximateNumberOfMessages,
        Self::ApproximateNumberOfMessagesDelayed,
        Self::ApproximateNumberOfMessagesNotVisible,
        Self::ContentBasedDeduplication,
        Self::CreatedTimestamp,
        Self::DeduplicationScope,
        Self::DelaySeconds,
        Self::FifoQueue,
        Self::FifoThroughputLimit,
        Self::KmsDataKeyReusePeriodSeconds,
        Self::KmsMasterKeyId,
        Self::LastModifiedTimestamp,
        Self::MaximumMessageSize,
        Self::MessageRetentionPeriod,
        Self::Policy,
        Self::QueueArn,
        Self::ReceiveMessageWaitTimeSeconds,
        Self::RedriveAllowPolicy,
        Self::RedrivePolicy,
        Self::SqsManagedSseEnabled,
        Self::VisibilityTimeout,
    ];

    pub fn parse(name: &str) -> Option<Self> {
        if name == "All" {
            return Some(Self::All);
        }
        Self::EVERY.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::All => "All",
            Self::ApproximateNumberOfMessages => "ApproximateNumberOfMessages",
            Self::ApproximateNumberOfMessagesDelayed => "ApproximateNumberOfMessagesDelayed",
            Self::ApproximateNumberOfMessagesNotVisible => "ApproximateNumberOfMessagesNotVisible",
            Self::ContentBasedDeduplication => "ContentBasedDeduplication",
            Self::CreatedTimestamp => "CreatedTimestamp",
            Self::DeduplicationScope => "DeduplicationScope",
            Self::DelaySeconds => "DelaySeconds",
            Self::FifoQueue => "FifoQueue",
            Self::FifoThroughputLimit => "FifoThroughputLimit",
            Self::KmsDataKeyReusePeriodSeconds => "KmsDataKeyReusePeriodSeconds",
            Self::KmsMasterKeyId => "KmsMasterKeyId",
            Self::LastModifiedTimestamp => "LastModifiedTimestamp",
            Self::MaximumMessageSize => "MaximumMessageSize",
            Self::MessageRetentionPeriod => "MessageRetentionPeriod",
            Self::Policy => "Policy",
            Self::QueueArn => "QueueArn",
            Self::ReceiveMessageWaitTimeSeconds => "ReceiveMessageWaitTimeSeconds",
            Self::RedriveAllowPolicy => "RedriveAllowPolicy",
            Self::RedrivePolicy => "RedrivePolicy",
            Self::SqsManagedSseEnabled => "SqsManagedSseEnabled",
            Self::VisibilityTimeout => "VisibilityTimeout",
        }
    }

    /// Attributes that exist only on FIFO queues (GetQueueAttributes leaves them out elsewhere).
    pub fn fifo_only(self) -> bool {
        matches!(
            self,
            Self::FifoQueue | Self::ContentBasedDeduplication | Self::DeduplicationScope | Self::FifoThroughputLimit
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeduplicationScope {
    Queue,
    MessageGroup,
}

impl DeduplicationScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::MessageGroup => "messageGroup",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FifoThroughputLimit {
    PerQueue,
    PerMessageGroupId,
}

impl FifoThroughputLimit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerQueue => "perQueue",
            Self::PerMessageGroupId => "perMessageGroupId",
        }
    }
}

/// `RedrivePolicy`: where messages go after `maxReceiveCount` receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

impl RedrivePolicy {
    /// The form GetQueueAttributes returns.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "deadLetterTargetArn": self.dead_letter_target_arn,
            "maxReceiveCount": self.max_receive_count,
        })
        .to_string()
    }

    pub fn parse(raw: &str) -> Result<Self, AwsError> {
        let invalid = |reason: &str| errors::invalid_value(raw, "RedrivePolicy", reason);
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(raw) else {
            return Err(invalid("Redrive policy is not a valid JSON map."));
        };
        let arn = match map.get("deadLetterTargetArn") {
            None => {
                return Err(invalid(
                    "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.",
                ))
            }
            Some(Value::String(s)) if s.parse::<Arn>().is_ok_and(|a| a.service == "sqs") => s.clone(),
            Some(_) => return Err(invalid("Invalid value for deadLetterTargetArn.")),
        };
        let count = match map.get("maxReceiveCount") {
            None => {
                return Err(invalid(
                    "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
                ))
            }
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(_) => None,
        };
        let count = match count {
            Some(n @ 1..=1000) => u32::try_from(n).unwrap_or(1000),
            _ => {
                let shown = map.get("maxReceiveCount").map(value_text).unwrap_or_default();
                return Err(invalid(&format!(
                    "Invalid value for maxReceiveCount: {shown}, valid values are from 1 to 1000 both inclusive."
                )));
            }
        };
        Ok(Self {
            dead_letter_target_arn: arn,
            max_receive_count: count,
        })
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedrivePermission {
    AllowAll,
    DenyAll,
    ByQueue,
}

/// `RedriveAllowPolicy`: which source queues may use this queue as their dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveAllowPolicy {
    pub permission: RedrivePermission,
    pub source_queue_arns: Vec<String>,
}

impl RedriveAllowPolicy {
    pub fn to_json(&self) -> String {
        let permission = match self.permission {
            RedrivePermission::AllowAll => "allowAll",
            RedrivePermission::DenyAll => "denyAll",
            RedrivePermission::ByQueue => "byQueue",
        };
        if self.permission == RedrivePermission::ByQueue {
            serde_json::json!({"redrivePermission": permission, "sourceQueueArns": self.source_queue_arns}).to_string()
        } else {
            serde_json::json!({ "redrivePermission": permission }).to_string()
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AwsError> {
        let invalid = |reason: &str| errors::invalid_value(raw, "RedriveAllowPolicy", reason);
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(raw) else {
            return Err(invalid("Redrive allow policy is not a valid JSON map."));
        };
        let permission = match map.get("redrivePermission").and_then(Value::as_str) {
            Some("allowAll") => RedrivePermission::AllowAll,
            Some("denyAll") => RedrivePermission::DenyAll,
            Some("byQueue") => RedrivePermission::ByQueue,
            _ => return Err(invalid("Invalid value for redrivePermission.")),
        };
        let arns = map.get("sourceQueueArns");
        let source_queue_arns =
            match (permission, arns) {
                (RedrivePermission::ByQueue, Some(Value::Array(list))) => {
                    let arns: Option<Vec<String>> = list
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .filter(|s| s.parse::<Arn>().is_ok_and(|a| a.service == "sqs"))
                                .map(str::to_owned)
                        })
                        .collect();
                    match arns {
                        Some(a) if (1..=10).contains(&a.len()) => a,
                        _ => return Err(invalid(
                            "sourceQueueArns must contain 1 to 10 source queue ARNs when redrivePermission is byQueue.",
                        )),
                    }
                }
                (RedrivePermission::ByQueue, _) => {
                    return Err(invalid(
                        "sourceQueueArns must contain 1 to 10 source queue ARNs when redrivePermission is byQueue.",
                    ))
                }
                (_, Some(_)) => {
                    return Err(invalid(
                        "sourceQueueArns can be specified only when redrivePermission is byQueue.",
                    ))
                }
                (_, None) => Vec::new(),
            };
        Ok(Self {
            permission,
            source_queue_arns,
        })
    }

    /// Whether a queue with `source_arn` may name this queue as its dead-letter queue.
    pub fn allows(&self, source_arn: &str) -> bool {
        match self.permission {
            RedrivePermission::AllowAll => true,
            RedrivePermission::DenyAll => false,
            RedrivePermission::ByQueue => self.source_queue_arns.iter().any(|a| a == source_arn),
        }
    }
}

/// The most bytes a queue `Policy` may have (Amazon SQS policy quotas).
pub const MAX_POLICY_BYTES: usize = 8_192;
/// The most statements a queue `Policy` may have.
pub const MAX_POLICY_STATEMENTS: usize = 20;
/// The most actions one statement of a queue `Policy` may name.
pub const MAX_POLICY_ACTIONS: usize = 7;
/// The longest `KmsMasterKeyId` (a KMS key id, ARN, alias or alias ARN: at most 2,048 characters
/// in KMS's `KeyId`).
const MAX_KMS_KEY_ID: usize = 2_048;

/// A queue's resource policy: the text as set (GetQueueAttributes returns it) and the parsed
/// document, parsed once when set and shared with deliveries that evaluate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePolicy {
    pub text: String,
    pub document: Arc<Value>,
}

impl QueuePolicy {
    /// Parses and checks a policy against AWS's limits: 403 `OverLimit` past 8,192 bytes, 20
    /// statements or 7 actions in a statement, with AWS's messages; `InvalidAttributeValue` when
    /// it is not a JSON object.
    pub fn parse(text: &str) -> Result<Self, AwsError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(errors::policy_over_limit("Submitted policy is over max allowed size."));
        }
        let document = match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => v,
            _ => return Err(errors::invalid_attribute_value("Policy", None)),
        };
        let statements: Vec<&Value> = match document.get("Statement") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one) => vec![one],
        };
        if statements.len() > MAX_POLICY_STATEMENTS {
            return Err(errors::policy_over_limit(format!(
                "{} statements were found in the submitted policy, max allowed is {MAX_POLICY_STATEMENTS}",
                statements.len()
            )));
        }
        for st in statements {
            let actions = match st.get("Action").or_else(|| st.get("NotAction")) {
                Some(Value::Array(list)) => list.len(),
                Some(_) => 1,
                None => 0,
            };
            if actions > MAX_POLICY_ACTIONS {
                return Err(errors::policy_over_limit(format!(
                    "{actions} actions were found in a statement from the submitted policy, max allowed is {MAX_POLICY_ACTIONS}"
                )));
            }
        }
        Ok(Self {
            text: text.to_owned(),
            document: Arc::new(document),
        })
    }

    /// A policy built here (AddPermission), checked like one that was set.
    pub fn from_document(document: &Value) -> Result<Self, AwsError> {
        Self::parse(&document.to_string())
    }
}

/// The settable configuration of a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub fifo: bool,
    pub delay_seconds: u32,
    pub maximum_message_size: u32,
    pub message_retention_period: u32,
    pub receive_message_wait_time_seconds: u32,
    pub visibility_timeout: u32,
    pub policy: Option<QueuePolicy>,
    pub redrive_policy: Option<RedrivePolicy>,
    pub redrive_allow_policy: Option<RedriveAllowPolicy>,
    pub content_based_deduplication: bool,
    pub deduplication_scope: DeduplicationScope,
    pub fifo_throughput_limit: FifoThroughputLimit,
    pub kms_master_key_id: Option<String>,
    pub kms_data_key_reuse_period_seconds: u32,
    pub sqs_managed_sse_enabled: bool,
}

impl QueueConfig {
    /// AWS's defaults (SSE-SQS is on by default for new queues since 2023; 1 MiB messages since 2025).
    pub fn new(fifo: bool) -> Self {
        Self {
            fifo,
            delay_seconds: 0,
            maximum_message_size: MAX_MESSAGE_SIZE,
            message_retention_period: 345_600,
            receive_message_wait_time_seconds: 0,
            visibility_timeout: 30,
            policy: None,
            redrive_policy: None,
            redrive_allow_policy: None,
            content_based_deduplication: false,
            deduplication_scope: DeduplicationScope::Queue,
            fifo_throughput_limit: FifoThroughputLimit::PerQueue,
            kms_master_key_id: None,
            kms_data_key_reuse_period_seconds: 300,
            sqs_managed_sse_enabled: true,
        }
    }

    /// The current value of a settable attribute, as GetQueueAttributes shows it; `None` when the
    /// queue does not show the attribute (unset, or FIFO-only on a standard queue). Counters,
    /// timestamps and the ARN are filled in by the caller.
    pub fn value(&self, attr: QueueAttr) -> Option<String> {
        if attr.fifo_only() && !self.fifo {
            return None;
        }
        Some(match attr {
            QueueAttr::DelaySeconds => self.delay_seconds.to_string(),
            QueueAttr::MaximumMessageSize => self.maximum_message_size.to_string(),
            QueueAttr::MessageRetentionPeriod => self.message_retention_period.to_string(),
            QueueAttr::ReceiveMessageWaitTimeSeconds => self.receive_message_wait_time_seconds.to_string(),
            QueueAttr::VisibilityTimeout => self.visibility_timeout.to_string(),
            QueueAttr::Policy => self.policy.as_ref()?.text.clone(),
            QueueAttr::RedrivePolicy => self.redrive_policy.as_ref()?.to_json(),
            QueueAttr::RedriveAllowPolicy => self.redrive_allow_policy.as_ref()?.to_json(),
            QueueAttr::FifoQueue => "true".to_owned(),
            QueueAttr::ContentBasedDeduplication => self.content_based_deduplication.to_string(),
            QueueAttr::DeduplicationScope => self.deduplication_scope.as_str().to_owned(),
            QueueAttr::FifoThroughputLimit => self.fifo_throughput_limit.as_str().to_owned(),
            QueueAttr::KmsMasterKeyId => self.kms_master_key_id.clone()?,
            QueueAttr::KmsDataKeyReusePeriodSeconds => {
                self.kms_master_key_id.as_ref()?;
                self.kms_data_key_reuse_period_seconds.to_string()
            }
            QueueAttr::SqsManagedSseEnabled => self.sqs_managed_sse_enabled.to_string(),
            _ => return None,
        })
    }

    /// Applies `attrs` (CreateQueue or SetQueueAttributes) with AWS's validation. On error the
    /// configuration is unchanged. Whether a `RedrivePolicy` target exists is checked by the
    /// caller, which can see the other queues.
    pub fn apply(&mut self, attrs: &[(String, String)]) -> Result<(), AwsError> {
        let mut next = self.clone();
        let mut kms_set = false;
        let mut sse_set = None;
        for (name, value) in attrs {
            let Some(attr) = QueueAttr::parse(name) else {
                return Err(errors::unknown_attribute(name));
            };
            match attr {
                QueueAttr::DelaySeconds => next.delay_seconds = int_in(name, value, 0, MAX_DELAY_SECONDS)?,
                QueueAttr::MaximumMessageSize => {
                    next.maximum_message_size = int_in(name, value, 1024, i64::from(MAX_MESSAGE_SIZE))?;
                }
                QueueAttr::MessageRetentionPeriod => {
                    next.message_retention_period = int_in(name, value, 60, 1_209_600)?;
                }
                QueueAttr::ReceiveMessageWaitTimeSeconds => {
                    next.receive_message_wait_time_seconds = int_in(name, value, 0, MAX_WAIT_TIME_SECONDS)?;
                }
                QueueAttr::VisibilityTimeout => {
                    next.visibility_timeout = int_in(name, value, 0, MAX_VISIBILITY_TIMEOUT)?;
                }
                QueueAttr::Policy => {
                    next.policy = if value.is_empty() {
                        None
                    } else {
                        Some(QueuePolicy::parse(value)?)
                    };
                }
                QueueAttr::RedrivePolicy => {
                    next.redrive_policy = if value.is_empty() || value == "{}" {
                        None
                    } else {
                        Some(RedrivePolicy::parse(value)?)
                    };
                }
                QueueAttr::RedriveAllowPolicy => {
                    next.redrive_allow_policy = if value.is_empty() {
                        None
                    } else {
                        Some(RedriveAllowPolicy::parse(value)?)
                    };
                }
                QueueAttr::FifoQueue => {
                    if !self.fifo {
                        return Err(errors::unknown_attribute(name));
                    }
                    if !value.eq_ignore_ascii_case("true") {
                        return Err(errors::invalid_attribute_value(
                            name,
                            Some("Modifying queue type is not supported."),
                        ));
                    }
                }
                QueueAttr::ContentBasedDeduplication => {
                    if !self.fifo {
                        return Err(errors::unknown_attribute(name));
                    }
                    next.content_based_deduplication = boolean(name, value)?;
                }
                QueueAttr::DeduplicationScope => {
                    if !self.fifo {
                        return Err(errors::invalid_attribute_name(
                            "You can specify the DeduplicationScope only when FifoQueue is set to true.",
                        ));
                    }
                    next.deduplication_scope = match value.as_str() {
                        "queue" => DeduplicationScope::Queue,
                        "messageGroup" => DeduplicationScope::MessageGroup,
                        _ => return Err(errors::invalid_attribute_value(name, None)),
                    };
                }
                QueueAttr::FifoThroughputLimit => {
                    if !self.fifo {
                        return Err(errors::invalid_attribute_name(
                            "You can specify the FifoThroughputLimit only when FifoQueue is set to true.",
                        ));
                    }
                    next.fifo_throughput_limit = match value.as_str() {
                        "perQueue" => FifoThroughputLimit::PerQueue,
                        "perMessageGroupId" => FifoThroughputLimit::PerMessageGroupId,
                        _ => return Err(errors::invalid_attribute_value(name, None)),
                    };
                }
                QueueAttr::KmsMasterKeyId => {
                    if value.len() > MAX_KMS_KEY_ID {
                        return Err(errors::invalid_attribute_value(name, None));
                    }
                    next.kms_master_key_id = (!value.is_empty()).then(|| value.clone());
                    kms_set = true;
                }
                QueueAttr::KmsDataKeyReusePeriodSeconds => {
                    next.kms_data_key_reuse_period_seconds = int_in(name, value, 60, 86_400)?;
                }
                QueueAttr::SqsManagedSseEnabled => sse_set = Some(boolean(name, value)?),
                QueueAttr::All
                | QueueAttr::ApproximateNumberOfMessages
                | QueueAttr::ApproximateNumberOfMessagesDelayed
                | QueueAttr::ApproximateNumberOfMessagesNotVisible
                | QueueAttr::CreatedTimestamp
                | QueueAttr::LastModifiedTimestamp
                | QueueAttr::QueueArn => return Err(errors::unknown_attribute(name)),
            }
        }
        // One kind of server-side encryption at a time: SSE-KMS or SSE-SQS.
        if kms_set && next.kms_master_key_id.is_some() && sse_set == Some(true) {
            return Err(errors::invalid_attribute_name(
                "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.",
            ));
        }
        if let Some(sse) = sse_set {
            next.sqs_managed_sse_enabled = sse;
            if sse {
                next.kms_master_key_id = None;
            }
        }
        if kms_set && next.kms_master_key_id.is_some() {
            next.sqs_managed_sse_enabled = false;
        }
        if next.fifo_throughput_limit == FifoThroughputLimit::PerMessageGroupId
            && next.deduplication_scope != DeduplicationScope::MessageGroup
        {
            return Err(errors::invalid_attribute_value(
                "FifoThroughputLimit",
                Some("The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup."),
            ));
        }
        *self = next;
        Ok(())
    }

    /// The first attribute in `attrs` whose value differs from this configuration (CreateQueue is
    /// idempotent only when every attribute it names matches the existing queue).
    pub fn first_difference<'a>(&self, attrs: &'a [(String, String)]) -> Option<&'a str> {
        let mut wanted = self.clone();
        for (name, value) in attrs {
            if wanted
                .apply(std::slice::from_ref(&(name.clone(), value.clone())))
                .is_err()
            {
                return Some(name);
            }
            let attr = QueueAttr::parse(name)?;
            if wanted.value(attr) != self.value(attr) {
                return Some(name);
            }
        }
        None
    }
}

fn int_in(name: &str, value: &str, min: i64, max: i64) -> Result<u32, AwsError> {
    match value.trim().parse::<i64>() {
        Ok(v) if (min..=max).contains(&v) => u32::try_from(v).map_err(|_| errors::invalid_attribute_value(name, None)),
        _ => Err(errors::invalid_attribute_value(name, None)),
    }
}

fn boolean(name: &str, value: &str) -> Result<bool, AwsError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(errors::invalid_attribute_value(name, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn ranges_are_enforced_and_errors_leave_the_config_unchanged() {
        let mut c = QueueConfig::new(false);
        c.apply(&attrs(&[
            ("VisibilityTimeout", "60"),
            ("DelaySeconds", "900"),
            ("MaximumMessageSize", "1024"),
            ("MessageRetentionPeriod", "60"),
            ("ReceiveMessageWaitTimeSeconds", "20"),
        ]))
        .unwrap();
        assert_eq!(c.visibility_timeout, 60);
        assert_eq!(c.delay_seconds, 900);
        for (name, bad) in [
            ("VisibilityTimeout", "43201"),
            ("VisibilityTimeout", "-1"),
            ("DelaySeconds", "901"),
            ("MaximumMessageSize", "1023"),
            ("MaximumMessageSize", "1048577"),
            ("MessageRetentionPeriod", "59"),
            ("MessageRetentionPeriod", "1209601"),
            ("ReceiveMessageWaitTimeSeconds", "21"),
            ("KmsDataKeyReusePeriodSeconds", "59"),
            ("DelaySeconds", "ten"),
        ] {
            let before = c.clone();
            let err = c.apply(&attrs(&[("DelaySeconds", "1"), (name, bad)])).unwrap_err();
            assert_eq!(err.code, errors::INVALID_ATTRIBUTE_VALUE, "{name}={bad}");
            assert_eq!(err.message, format!("Invalid value for the parameter {name}."));
            assert_eq!(c, before, "unchanged after a failed apply");
        }
    }

    #[test]
    fn unknown_and_read_only_names() {
        let mut c = QueueConfig::new(false);
        for name in [
            "Foo",
            "QueueArn",
            "ApproximateNumberOfMessages",
            "FifoQueue",
            "ContentBasedDeduplication",
        ] {
            let err = c.apply(&attrs(&[(name, "1")])).unwrap_err();
            assert_eq!(err.code, errors::INVALID_ATTRIBUTE_NAME);
            assert_eq!(err.message, format!("Unknown Attribute {name}."));
        }
        let err = c.apply(&attrs(&[("DeduplicationScope", "queue")])).unwrap_err();
        assert_eq!(
            err.message,
            "You can specify the DeduplicationScope only when FifoQueue is set to true."
        );
        let mut f = QueueConfig::new(true);
        f.apply(&attrs(&[("FifoQueue", "true")])).unwrap();
        let err = f.apply(&attrs(&[("FifoQueue", "false")])).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported."
        );
    }

    #[test]
    fn sse_kinds_are_exclusive() {
        let mut c = QueueConfig::new(false);
        assert!(c.sqs_managed_sse_enabled);
        c.apply(&attrs(&[
            ("KmsMasterKeyId", "testKeyId"),
            ("KmsDataKeyReusePeriodSeconds", "6000"),
        ]))
        .unwrap();
        assert!(!c.sqs_managed_sse_enabled);
        assert_eq!(
            c.value(QueueAttr::KmsDataKeyReusePeriodSeconds).as_deref(),
            Some("6000")
        );
        let err = c
            .apply(&attrs(&[("KmsMasterKeyId", "k"), ("SqsManagedSseEnabled", "true")]))
            .unwrap_err();
        assert_eq!(err.code, errors::INVALID_ATTRIBUTE_NAME);
        c.apply(&attrs(&[("KmsMasterKeyId", "")])).unwrap();
        assert_eq!(c.value(QueueAttr::KmsMasterKeyId), None);
        assert_eq!(c.value(QueueAttr::KmsDataKeyReusePeriodSeconds), None);
        assert_eq!(c.value(QueueAttr::SqsManagedSseEnabled).as_deref(), Some("false"));
    }

    #[test]
    fn redrive_policy_parsing_and_messages() {
        let p = RedrivePolicy::parse(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}"#,
        )
        .unwrap();
        assert_eq!(p.max_receive_count, 3);
        assert_eq!(
            p.to_json(),
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":3}"#
        );
        let raw = r#"{"deadLetterTargetArn": "dummy", "maxReceiveCount": 42}"#;
        assert_eq!(
            RedrivePolicy::parse(raw).unwrap_err().message,
            format!(
                "Value {raw} for parameter RedrivePolicy is invalid. Reason: Invalid value for deadLetterTargetArn."
            )
        );
        let raw = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":0}"#;
        assert!(RedrivePolicy::parse(raw).unwrap_err().message.ends_with(
            "Reason: Invalid value for maxReceiveCount: 0, valid values are from 1 to 1000 both inclusive."
        ));
        let mut c = QueueConfig::new(false);
        c.apply(&attrs(&[("RedrivePolicy", raw.replace(":0}", ":5}").as_str())]))
            .unwrap();
        assert!(c.redrive_policy.is_some());
        c.apply(&attrs(&[("RedrivePolicy", "")])).unwrap();
        assert!(c.redrive_policy.is_none());
    }

    #[test]
    fn redrive_allow_policy() {
        let p = RedriveAllowPolicy::parse(
            r#"{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:us-east-1:000000000000:a"]}"#,
        )
        .unwrap();
        assert!(p.allows("arn:aws:sqs:us-east-1:000000000000:a"));
        assert!(!p.allows("arn:aws:sqs:us-east-1:000000000000:b"));
        assert!(!RedriveAllowPolicy::parse(r#"{"redrivePermission":"denyAll"}"#)
            .unwrap()
            .allows("x"));
        assert!(RedriveAllowPolicy::parse(r#"{"redrivePermission":"byQueue"}"#).is_err());
        assert!(RedriveAllowPolicy::parse(r#"{"redrivePermission":"allowAll","sourceQueueArns":[]}"#).is_err());
    }

    #[test]
    fn first_difference_names_the_conflicting_attribute() {
        let mut c = QueueConfig::new(false);
        c.apply(&attrs(&[("DelaySeconds", "1")])).unwrap();
        assert_eq!(c.first_difference(&attrs(&[("DelaySeconds", "1")])), None);
        assert_eq!(
            c.first_difference(&attrs(&[("VisibilityTimeout", "30"), ("DelaySeconds", "2")])),
            Some("DelaySeconds")
        );
        let mut f = QueueConfig::new(true);
        f.apply(&attrs(&[("ContentBasedDeduplication", "true")])).unwrap();
        assert_eq!(
            f.first_difference(&attrs(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "false")])),
            Some("ContentBasedDeduplication")
        );
    }

    #[test]
    fn throughput_limit_needs_message_group_scope() {
        let mut f = QueueConfig::new(true);
        assert!(f
            .apply(&attrs(&[("FifoThroughputLimit", "perMessageGroupId")]))
            .is_err());
        f.apply(&attrs(&[
            ("DeduplicationScope", "messageGroup"),
            ("FifoThroughputLimit", "perMessageGroupId"),
        ]))
        .unwrap();
        assert_eq!(
            f.value(QueueAttr::FifoThroughputLimit).as_deref(),
            Some("perMessageGroupId")
        );
    }
}
