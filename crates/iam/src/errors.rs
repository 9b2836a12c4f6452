//! IAM's and STS's errors: codes and statuses from botocore's models (`NoSuchEntity` 404,
//! `EntityAlreadyExists` 409, `DeleteConflict` 409, `LimitExceeded` 409, `InvalidInput` 400,
//! `MalformedPolicyDocument` 400), `ValidationError` 400 for constraint violations, messages as
//! AWS words them.

use lb_core::AwsError;

pub fn no_such_role(name: &str) -> AwsError {
    AwsError::new(
        "NoSuchEntity",
        404,
        format!("The role with name {name} cannot be found."),
    )
}

pub fn no_such_role_policy(policy: &str) -> AwsError {
    AwsError::new(
        "NoSuchEntity",
        404,
        format!("The role policy with name {policy} cannot be found."),
    )
}

pub fn policy_not_found(arn: &str) -> AwsError {
    AwsError::new("NoSuchEntity", 404, format!("Policy {arn} was not found."))
}

pub fn policy_not_attachable(arn: &str) -> AwsError {
    AwsError::new(
        "NoSuchEntity",
        404,
        format!("Policy {arn} does not exist or is not attachable."),
    )
}

pub fn entity_exists(message: String) -> AwsError {
    AwsError::new("EntityAlreadyExists", 409, message)
}

pub fn delete_conflict(message: &str) -> AwsError {
    AwsError::new("DeleteConflict", 409, message)
}

pub fn limit_exceeded(message: String) -> AwsError {
    AwsError::new("LimitExceeded", 409, message)
}

/// `Cannot exceed quota for {quota}: {limit}.`
pub fn quota(quota: &str, limit: usize) -> AwsError {
    limit_exceeded(format!("Cannot exceed quota for {quota}: {limit}."))
}

pub fn invalid_input(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidInput", 400, message)
}

pub fn malformed_policy(message: &str) -> AwsError {
    AwsError::new("MalformedPolicyDocument", 400, message)
}

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationError", 400, message)
}

/// An action neither service has (the query front end's words).
pub fn invalid_action(action: &str, version: &str) -> AwsError {
    AwsError::new(
        "InvalidAction",
        400,
        format!("Could not find operation {action} for version {version}"),
    )
}

/// An action in botocore's model that localbridge does not serve.
pub fn not_implemented(service: &str, action: &str) -> AwsError {
    AwsError::new(
        "NotImplemented",
        501,
        format!("localbridge does not implement {service} {action} yet"),
    )
}
