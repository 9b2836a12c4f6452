//! The model types: what the operations take and return, independent of the wire.

use std::borrow::Cow;

/// A rule's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleState {
    Enabled,
    Disabled,
    EnabledWithAllCloudtrailManagementEvents,
}

impl RuleState {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleState::Enabled => "ENABLED",
            RuleState::Disabled => "DISABLED",
            RuleState::EnabledWithAllCloudtrailManagementEvents => "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ENABLED" => Some(RuleState::Enabled),
            "DISABLED" => Some(RuleState::Disabled),
            "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" => {
                Some(RuleState::EnabledWithAllCloudtrailManagementEvents)
            }
            _ => None,
        }
    }
}

/// An event bus.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBus {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    /// `DeadLetterConfig`, `KmsKeyIdentifier`, `LogConfig` as UpdateEventBus or CreateEventBus
    /// set them (JSON objects / text, returned by DescribeEventBus).
    pub dead_letter_config: Option<serde_json::Value>,
    pub kms_key_identifier: Option<String>,
    pub log_config: Option<serde_json::Value>,
    /// Milliseconds since the epoch.
    pub created_millis: u64,
    pub last_modified_millis: u64,
}

/// A rule on a bus.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub arn: String,
    pub event_bus_name: String,
    /// The pattern as given (validated).
    pub event_pattern: Option<String>,
    pub schedule_expression: Option<String>,
    pub state: RuleState,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    /// The account that created it (`CreatedBy`).
    pub created_by: String,
    /// `ManagedBy`: the service that manages the rule (an archive's rule), else `None`.
    pub managed_by: Option<String>,
}

/// CreateEventBus's input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateEventBusInput {
    pub name: Option<String>,
    pub event_source_name: Option<String>,
    pub description: Option<String>,
}

/// PutRule's input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutRuleInput {
    pub name: Option<String>,
    pub event_bus_name: Option<String>,
    pub event_pattern: Option<String>,
    pub schedule_expression: Option<String>,
    pub state: Option<String>,
    pub description: Option<String>,
    pub role_arn: Option<String>,
}

/// A page of a listing: the items and the token of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// The paging and filter parameters of ListEventBuses and ListRules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListInput {
    pub name_prefix: Option<String>,
    pub event_bus_name: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

/// A target PutTargets did not save, or an id RemoveTargets did not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFailure {
    pub target_id: String,
    pub error_code: String,
    pub error_message: String,
}

impl TargetFailure {
    pub fn new(target_id: &str, error_code: &str, error_message: String) -> Self {
        Self {
            target_id: target_id.to_owned(),
            error_code: error_code.to_owned(),
            error_message,
        }
    }
}

/// One PutEvents entry. The texts borrow from the request where they can (a string without
/// escapes in the request's JSON is read in place).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutEventsEntry<'a> {
    /// `Time`, in epoch milliseconds.
    pub time_millis: Option<u64>,
    pub source: Option<Cow<'a, str>>,
    pub resources: Option<Vec<Cow<'a, str>>>,
    pub detail_type: Option<Cow<'a, str>>,
    pub detail: Option<Cow<'a, str>>,
    pub event_bus_name: Option<Cow<'a, str>>,
    pub trace_header: Option<Cow<'a, str>>,
}

/// What became of one PutEvents entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutEventsResult {
    Accepted { event_id: std::sync::Arc<str> },
    Failed { code: String, message: String },
}

/// UpdateEventBus's input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateEventBusInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub kms_key_identifier: Option<String>,
    pub dead_letter_config: Option<serde_json::Value>,
    pub log_config: Option<serde_json::Value>,
}
