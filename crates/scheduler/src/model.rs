//! The shapes of botocore's `scheduler` model (2021-06-30) that requests carry and answers
//! return, declared once: the wire edge deserializes them, the service validates and stores
//! them, and answers serialize them back under AWS's member names.
//!
//! Numbers arrive as JSON numbers of any kind: they are read as [`serde_json::Number`] so a
//! value out of range is answered with AWS's constraint message, not a serialization error.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `Target`: what a schedule invokes. Stored as accepted (with the retry policy's defaults
/// filled in, as GetSchedule reports them) and returned by GetSchedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicySpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Stored and returned; localbridge runs no ECS tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecs_parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_bridge_parameters: Option<EventBridgeParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_bridge_put_events_v2_parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_bridge_put_raw_events_parameters: Option<Value>,
    /// `PartitionKey` for a Kinesis `PutRecord` target (checked in `invoke::Plan::compile`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kinesis_parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sage_maker_pipeline_parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqs_parameters: Option<SqsParameters>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicySpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<serde_json::Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<serde_json::Number>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventBridgeParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SqsParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlexibleTimeWindow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_window_in_minutes: Option<serde_json::Number>,
}

/// `Tag`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// The body of CreateSchedule and UpdateSchedule (the name comes from the path).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleInput {
    #[serde(skip)]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// Epoch seconds (rest-json's timestamp format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression_timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flexible_time_window: Option<FlexibleTimeWindow>,
    /// Not part of what the request asks for: left out of its fingerprint.
    #[serde(skip_serializing)]
    pub client_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_after_completion: Option<String>,
}

/// The body of CreateScheduleGroup.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupInput {
    #[serde(skip)]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    #[serde(skip_serializing)]
    pub client_token: Option<String>,
}

/// ListSchedules' filters and page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListSchedulesInput {
    pub group_name: Option<String>,
    pub name_prefix: Option<String>,
    pub state: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<String>,
}

/// ListScheduleGroups' filter and page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListGroupsInput {
    pub name_prefix: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<String>,
}
