//! CloudWatch Logs' errors (botocore `logs` 2014-03-28; all 400), worded as AWS words them.
//! Constraint violations are `InvalidParameterException` with the
//! `1 validation error detected: ...` text.

use lb_core::AwsError;

pub fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameterException", 400, message)
}

pub fn group_not_found() -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        400,
        "The specified log group does not exist.",
    )
}

pub fn stream_not_found() -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        400,
        "The specified log stream does not exist.",
    )
}

pub fn group_exists() -> AwsError {
    AwsError::new(
        "ResourceAlreadyExistsException",
        400,
        "The specified log group already exists",
    )
}

pub fn stream_exists() -> AwsError {
    AwsError::new(
        "ResourceAlreadyExistsException",
        400,
        "The specified log stream already exists",
    )
}

pub fn limit_exceeded() -> AwsError {
    AwsError::new("LimitExceededException", 400, "Resource limit exceeded.")
}

/// `1 validation error detected: Value '<v>' at '<member>' failed to satisfy constraint: <c>`.
pub fn constraint(value: &str, member: &str, constraint: &str) -> AwsError {
    invalid(lb_core::error::constraint_message(Some(value), member, constraint))
}

/// A required member that is missing.
pub fn missing(member: &str) -> AwsError {
    invalid(lb_core::error::constraint_message(
        None,
        member,
        "Member must not be null",
    ))
}
