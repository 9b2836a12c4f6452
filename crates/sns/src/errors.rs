//! SNS's errors: codes and statuses from botocore's model (`InvalidParameter` 400,
//! `ParameterValueInvalid` 400, `NotFound` 404, `ResourceNotFound` 404, `AuthorizationError`
//! 403, the batch errors 400, `TagLimitExceeded` 400), messages as AWS words them.

use lb_core::AwsError;

pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameter", 400, message)
}

/// `Invalid parameter: {what}`.
pub fn invalid(what: &str) -> AwsError {
    invalid_parameter(format!("Invalid parameter: {what}"))
}

pub fn parameter_value_invalid(message: impl Into<String>) -> AwsError {
    AwsError::new("ParameterValueInvalid", 400, message)
}

pub fn topic_not_found() -> AwsError {
    AwsError::new("NotFound", 404, "Topic does not exist")
}

pub fn subscription_not_found() -> AwsError {
    AwsError::new("NotFound", 404, "Subscription does not exist")
}

pub fn resource_not_found() -> AwsError {
    AwsError::new("ResourceNotFound", 404, "Resource does not exist")
}

pub fn authorization(message: impl Into<String>) -> AwsError {
    AwsError::new("AuthorizationError", 403, message)
}

pub fn missing(member: &str) -> AwsError {
    AwsError::new(
        "ValidationError",
        400,
        format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"),
    )
}

pub fn too_many_entries() -> AwsError {
    AwsError::new(
        "TooManyEntriesInBatchRequest",
        400,
        "The batch request contains more entries than permissible.",
    )
}

pub fn empty_batch() -> AwsError {
    AwsError::new(
        "EmptyBatchRequest",
        400,
        "The batch request doesn't contain any entries.",
    )
}

pub fn ids_not_distinct() -> AwsError {
    AwsError::new(
        "BatchEntryIdsNotDistinct",
        400,
        "Two or more batch entries in the request have the same Id.",
    )
}

pub fn invalid_batch_id() -> AwsError {
    AwsError::new(
        "InvalidBatchEntryId",
        400,
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
    )
}

pub fn batch_too_long() -> AwsError {
    AwsError::new(
        "BatchRequestTooLong",
        400,
        "The length of all the messages put together is more than the limit.",
    )
}

pub fn tag_limit() -> AwsError {
    AwsError::new(
        "TagLimitExceeded",
        400,
        "Could not complete request: tag quota of per resource exceeded",
    )
}

pub fn invalid_action(action: &str) -> AwsError {
    AwsError::new(
        "InvalidAction",
        400,
        format!("The action {action} is not valid for this web service."),
    )
}

/// An action of botocore's model that localbridge does not serve.
pub fn not_implemented(action: &str) -> AwsError {
    AwsError::new(
        "NotImplemented",
        501,
        format!("localbridge does not implement SNS {action} yet"),
    )
}

/// The fan-out stage is full (`ThrottledException`; the SDKs retry it).
pub fn throttled() -> AwsError {
    AwsError::new("Throttled", 429, "Rate exceeded")
}
