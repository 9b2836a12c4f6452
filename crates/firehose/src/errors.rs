//! Firehose's errors (botocore `firehose` 2015-08-04: every one 400), worded as AWS words them
//! where the wording is known (see each function).

use lb_core::AwsError;

pub fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidArgumentException", 400, message)
}

/// A configuration member localbridge does not emulate: refused rather than accepted and ignored.
pub fn unsupported(what: &str) -> AwsError {
    invalid(format!("localbridge does not support {what} for Firehose streams"))
}

/// `Firehose <name> under account <account> not found.` (AWS's text, as SDK users report it:
/// turbot/steampipe-plugin-aws#759).
pub fn not_found(name: &str, account: &str) -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        400,
        format!("Firehose {name} under account {account} not found."),
    )
}

/// `Firehose <name> under accountId <account> already exists.` (wording not verified against AWS).
pub fn in_use(name: &str, account: &str) -> AwsError {
    AwsError::new(
        "ResourceInUseException",
        400,
        format!("Firehose {name} under accountId {account} already exists."),
    )
}

pub fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::new("LimitExceededException", 400, message)
}

/// `1 validation error detected: Value '<v>' at '<member>' failed to satisfy constraint: <c>`.
pub fn constraint(value: &str, member: &str, constraint: &str) -> AwsError {
    AwsError::constraint(Some(value), member, constraint)
}

/// A required member that is missing.
pub fn missing(member: &str) -> AwsError {
    AwsError::constraint(None, member, "Member must not be null")
}

pub fn range(v: Option<i64>, member: &str, min: i64, max: i64) -> Result<(), AwsError> {
    match v {
        Some(v) if v < min => Err(constraint(
            &v.to_string(),
            member,
            &format!("Member must have value greater than or equal to {min}"),
        )),
        Some(v) if v > max => Err(constraint(
            &v.to_string(),
            member,
            &format!("Member must have value less than or equal to {max}"),
        )),
        _ => Ok(()),
    }
}

/// `[a-zA-Z0-9_.-]+`, 1 to 64 characters.
pub fn check_name(name: &str, member: &str) -> Result<(), AwsError> {
    if name.is_empty() {
        return Err(constraint(
            name,
            member,
            "Member must have length greater than or equal to 1",
        ));
    }
    if name.len() > 64 {
        return Err(constraint(
            name,
            member,
            "Member must have length less than or equal to 64",
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(constraint(
            name,
            member,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}
