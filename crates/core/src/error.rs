//! One error type at the edge: AWS's error code, message and HTTP status. Each wire protocol
//! renders it in its own envelope (JSON `__type`, XML `<Error>`, query `<ErrorResponse>`).

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// AWS's error code, e.g. `QueueDoesNotExist` or `AWS.SimpleQueueService.NonExistentQueue`.
    pub code: Cow<'static, str>,
    pub message: String,
    pub status: u16,
    /// `Sender` (client fault) or `Receiver` (server fault) in query-protocol envelopes.
    pub sender_fault: bool,
}

impl AwsError {
    pub fn new(code: impl Into<Cow<'static, str>>, status: u16, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            status,
            sender_fault: status < 500,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("InternalFailure", 500, message)
    }

    /// A `ValidationException` (400) for a model constraint, in AWS's front-end wording (see
    /// [`constraint_message`]).
    pub fn constraint(value: Option<&str>, member: &str, constraint: &str) -> Self {
        Self::new(
            "ValidationException",
            400,
            constraint_message(value, member, constraint),
        )
    }
}

/// How AWS's service front ends word a failed model constraint: `1 validation error detected:
/// Value '<v>' at '<member>' failed to satisfy constraint: <c>` (`Value null` for a missing
/// member, whose constraint is `Member must not be null`).
pub fn constraint_message(value: Option<&str>, member: &str, constraint: &str) -> String {
    match value {
        Some(v) => {
            format!("1 validation error detected: Value '{v}' at '{member}' failed to satisfy constraint: {constraint}")
        }
        None => {
            format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: {constraint}")
        }
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AwsError {}

/// `aws_error!(400, "InvalidParameterValue", "Value {} for parameter {} is invalid.", v, p)`
#[macro_export]
macro_rules! aws_error {
    ($status:expr, $code:expr, $($fmt:tt)+) => {
        $crate::AwsError::new($code, $status, format!($($fmt)+))
    };
}
