//! SQS's errors: codes and HTTP statuses from the service model (the `awsQueryError` traits of
//! AWS's Smithy model for `com.amazonaws.sqs`), messages from responses recorded against AWS.
//!
//! Every error is an [`AwsError`] whose `code` is the query-protocol code
//! (`AWS.SimpleQueueService.NonExistentQueue`). The JSON protocol renders the same error with the
//! Smithy shape name in `__type` (`com.amazonaws.sqs#QueueDoesNotExist`) and the query code in the
//! `x-amzn-query-error` header, which is how AWS keeps the two protocols compatible:
//! see [`json_type`].

use std::fmt::Display;

use lb_core::{aws_error, AwsError};

pub const NON_EXISTENT_QUEUE: &str = "AWS.SimpleQueueService.NonExistentQueue";
pub const QUEUE_ALREADY_EXISTS: &str = "QueueAlreadyExists";
pub const QUEUE_DELETED_RECENTLY: &str = "AWS.SimpleQueueService.QueueDeletedRecently";
pub const INVALID_PARAMETER_VALUE: &str = "InvalidParameterValue";
pub const MISSING_PARAMETER: &str = "MissingParameter";
pub const INVALID_ATTRIBUTE_NAME: &str = "InvalidAttributeName";
pub const INVALID_ATTRIBUTE_VALUE: &str = "InvalidAttributeValue";
pub const INVALID_MESSAGE_CONTENTS: &str = "InvalidMessageContents";
pub const RECEIPT_HANDLE_IS_INVALID: &str = "ReceiptHandleIsInvalid";
pub const MESSAGE_NOT_INFLIGHT: &str = "AWS.SimpleQueueService.MessageNotInflight";
pub const EMPTY_BATCH_REQUEST: &str = "AWS.SimpleQueueService.EmptyBatchRequest";
pub const TOO_MANY_ENTRIES: &str = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest";
pub const BATCH_ENTRY_IDS_NOT_DISTINCT: &str = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct";
pub const INVALID_BATCH_ENTRY_ID: &str = "AWS.SimpleQueueService.InvalidBatchEntryId";
pub const BATCH_REQUEST_TOO_LONG: &str = "AWS.SimpleQueueService.BatchRequestTooLong";
pub const PURGE_QUEUE_IN_PROGRESS: &str = "AWS.SimpleQueueService.PurgeQueueInProgress";
pub const OVER_LIMIT: &str = "OverLimit";
pub const RESOURCE_NOT_FOUND: &str = "ResourceNotFoundException";
pub const INVALID_ADDRESS: &str = "InvalidAddress";
pub const INVALID_ACTION: &str = "InvalidAction";
pub const MISSING_ACTION: &str = "MissingAction";
pub const UNKNOWN_OPERATION: &str = "UnknownOperationException";
pub const SERIALIZATION: &str = "SerializationException";

/// The message AWS's JSON protocol gives a missing queue; the query protocol says it differently
/// (see [`query_message`]).
const NON_EXISTENT_QUEUE_JSON: &str = "The specified queue does not exist.";
const NON_EXISTENT_QUEUE_QUERY: &str = "The specified queue does not exist for this wsdl version.";

/// The characters a message body and string attribute values may contain.
pub const ALLOWED_CHARACTERS: &str = "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF";

pub fn queue_does_not_exist() -> AwsError {
    AwsError::new(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_JSON)
}

pub fn queue_already_exists(attribute: &str) -> AwsError {
    aws_error!(
        400,
        QUEUE_ALREADY_EXISTS,
        "A queue already exists with the same name and a different value for attribute {attribute}"
    )
}

/// CreateQueue within 60 s of deleting a queue of the same name. Code (query protocol; JSON
/// `__type` `QueueDeletedRecently`), status and message as AWS answers.
pub fn queue_deleted_recently() -> AwsError {
    AwsError::new(
        QUEUE_DELETED_RECENTLY,
        400,
        "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
    )
}

/// A `Policy` over AWS's limits (8,192 bytes, 20 statements, 7 actions per statement): 403
/// `OverLimit` with AWS's messages.
pub fn policy_over_limit(message: impl Into<String>) -> AwsError {
    AwsError::new(OVER_LIMIT, 403, message)
}

pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new(INVALID_PARAMETER_VALUE, 400, message)
}

/// `Value {value} for parameter {param} is invalid. Reason: {reason}`, AWS's usual shape.
pub fn invalid_value(value: impl Display, param: &str, reason: &str) -> AwsError {
    aws_error!(
        400,
        INVALID_PARAMETER_VALUE,
        "Value {value} for parameter {param} is invalid. Reason: {reason}"
    )
}

pub fn missing_parameter(param: &str) -> AwsError {
    aws_error!(
        400,
        MISSING_PARAMETER,
        "The request must contain the parameter {param}."
    )
}

pub fn unknown_attribute(name: &str) -> AwsError {
    aws_error!(400, INVALID_ATTRIBUTE_NAME, "Unknown Attribute {name}.")
}

pub fn invalid_attribute_name(message: impl Into<String>) -> AwsError {
    AwsError::new(INVALID_ATTRIBUTE_NAME, 400, message)
}

pub fn invalid_attribute_value(name: &str, reason: Option<&str>) -> AwsError {
    match reason {
        Some(r) => aws_error!(
            400,
            INVALID_ATTRIBUTE_VALUE,
            "Invalid value for the parameter {name}. Reason: {r}"
        ),
        None => aws_error!(400, INVALID_ATTRIBUTE_VALUE, "Invalid value for the parameter {name}."),
    }
}

pub fn invalid_message_contents(bad: char) -> AwsError {
    aws_error!(
        400,
        INVALID_MESSAGE_CONTENTS,
        "Invalid binary character '#x{:X}' was found in the message body, the set of allowed characters is {ALLOWED_CHARACTERS}",
        u32::from(bad)
    )
}

pub fn receipt_handle_is_invalid(handle: &str) -> AwsError {
    aws_error!(
        404,
        RECEIPT_HANDLE_IS_INVALID,
        "The input receipt handle \"{handle}\" is not a valid receipt handle."
    )
}

pub fn receipt_handle_expired(handle: &str) -> AwsError {
    invalid_value(handle, "ReceiptHandle", "The receipt handle has expired.")
}

pub fn message_not_available_for_visibility(handle: &str) -> AwsError {
    invalid_value(
        handle,
        "ReceiptHandle",
        "Message does not exist or is not available for visibility timeout change.",
    )
}

pub fn message_not_inflight() -> AwsError {
    AwsError::new(MESSAGE_NOT_INFLIGHT, 400, "The message referred to is not in flight.")
}

pub fn empty_batch(entry_name: &str) -> AwsError {
    aws_error!(
        400,
        EMPTY_BATCH_REQUEST,
        "There should be at least one {entry_name} in the request."
    )
}

pub fn too_many_entries(sent: usize) -> AwsError {
    aws_error!(
        400,
        TOO_MANY_ENTRIES,
        "Maximum number of entries per request are 10. You have sent {sent}."
    )
}

pub fn invalid_batch_entry_id() -> AwsError {
    AwsError::new(
        INVALID_BATCH_ENTRY_ID,
        400,
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
    )
}

pub fn batch_entry_ids_not_distinct(id: &str) -> AwsError {
    aws_error!(400, BATCH_ENTRY_IDS_NOT_DISTINCT, "Id {id} repeated.")
}

pub fn batch_request_too_long(limit: usize, sent: usize) -> AwsError {
    aws_error!(
        400,
        BATCH_REQUEST_TOO_LONG,
        "Batch requests cannot be longer than {limit} bytes. You have sent {sent} bytes."
    )
}

pub fn purge_in_progress(queue_name: &str) -> AwsError {
    aws_error!(
        403,
        PURGE_QUEUE_IN_PROGRESS,
        "Only one PurgeQueue operation on {queue_name} is allowed every 60 seconds."
    )
}

pub fn over_limit(in_flight: usize) -> AwsError {
    aws_error!(
        403,
        OVER_LIMIT,
        "The maximum number of in flight messages ({in_flight}) has been reached."
    )
}

pub fn resource_not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(RESOURCE_NOT_FOUND, 404, message)
}

pub fn invalid_address(address: &str) -> AwsError {
    aws_error!(
        404,
        INVALID_ADDRESS,
        "The address {address} is not valid for this endpoint."
    )
}

pub fn invalid_action(action: &str) -> AwsError {
    aws_error!(
        400,
        INVALID_ACTION,
        "The action {action} is not valid for this endpoint."
    )
}

pub fn missing_action() -> AwsError {
    AwsError::new(MISSING_ACTION, 400, "The request must contain the parameter Action.")
}

pub fn unknown_operation(target: &str) -> AwsError {
    aws_error!(400, UNKNOWN_OPERATION, "Operation {target} is not supported.")
}

pub fn serialization(message: impl Into<String>) -> AwsError {
    AwsError::new(SERIALIZATION, 400, message)
}

/// The Smithy shape name the JSON protocol puts in `__type` for a query code. Codes without a
/// modelled shape use AWS's generic exception names (`InvalidParameterValueException`).
pub fn json_type(code: &str) -> &str {
    match code {
        NON_EXISTENT_QUEUE => "QueueDoesNotExist",
        QUEUE_ALREADY_EXISTS => "QueueNameExists",
        INVALID_PARAMETER_VALUE => "InvalidParameterValueException",
        MISSING_PARAMETER => "MissingRequiredParameterException",
        other => other.strip_prefix("AWS.SimpleQueueService.").unwrap_or(other),
    }
}

/// The full `__type` of a JSON error: SQS's shapes live in `com.amazonaws.sqs`, protocol-level
/// errors (unknown operation, unparseable body) in the service framework's namespace.
pub fn json_full_type(code: &str) -> String {
    match code {
        UNKNOWN_OPERATION | SERIALIZATION | "InternalFailure" => format!("com.amazon.coral.service#{code}"),
        other => format!("com.amazonaws.sqs#{}", json_type(other)),
    }
}

/// Whether the JSON protocol carries the query code in `x-amzn-query-error` for this error.
pub fn has_query_code(code: &str) -> bool {
    !matches!(code, UNKNOWN_OPERATION | SERIALIZATION)
}

/// The message the query protocol gives `err` (AWS words a few of them differently there).
pub fn query_message(err: &AwsError) -> &str {
    if err.code == NON_EXISTENT_QUEUE && err.message == NON_EXISTENT_QUEUE_JSON {
        NON_EXISTENT_QUEUE_QUERY
    } else {
        &err.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_types_follow_the_model() {
        assert_eq!(
            json_full_type(NON_EXISTENT_QUEUE),
            "com.amazonaws.sqs#QueueDoesNotExist"
        );
        assert_eq!(
            json_full_type(QUEUE_ALREADY_EXISTS),
            "com.amazonaws.sqs#QueueNameExists"
        );
        assert_eq!(
            json_full_type(TOO_MANY_ENTRIES),
            "com.amazonaws.sqs#TooManyEntriesInBatchRequest"
        );
        assert_eq!(
            json_full_type(INVALID_PARAMETER_VALUE),
            "com.amazonaws.sqs#InvalidParameterValueException"
        );
        assert_eq!(
            json_full_type(RECEIPT_HANDLE_IS_INVALID),
            "com.amazonaws.sqs#ReceiptHandleIsInvalid"
        );
        assert_eq!(
            json_full_type(UNKNOWN_OPERATION),
            "com.amazon.coral.service#UnknownOperationException"
        );
        assert_eq!(receipt_handle_is_invalid("x").status, 404);
        assert_eq!(purge_in_progress("q").status, 403);
        assert_eq!(resource_not_found("x").status, 404);
    }

    #[test]
    fn query_wording_of_a_missing_queue() {
        assert_eq!(query_message(&queue_does_not_exist()), NON_EXISTENT_QUEUE_QUERY);
        assert_eq!(
            query_message(&missing_parameter("QueueUrl")),
            "The request must contain the parameter QueueUrl."
        );
    }
}
