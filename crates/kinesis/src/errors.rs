//! Kinesis Data Streams' errors (botocore `kinesis` 2013-12-02; all 400), worded as AWS words
//! them where the wording is known (see each function).

use lb_core::AwsError;

pub fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidArgumentException", 400, message)
}

/// `Stream <name> under account <account> not found.` (AWS's wording, as SDK users report it.)
pub fn stream_not_found(name: &str, account: &str) -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        400,
        format!("Stream {name} under account {account} not found."),
    )
}

/// `Stream <name> under account <account> already exists.`
pub fn stream_exists(name: &str, account: &str) -> AwsError {
    AwsError::new(
        "ResourceInUseException",
        400,
        format!("Stream {name} under account {account} already exists."),
    )
}

pub fn shard_not_found(shard: &str, name: &str, account: &str) -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        400,
        format!("Shard {shard} in stream {name} under account {account} does not exist"),
    )
}

/// AWS's text: `Iterator expired. The iterator was created at time <Java Date> while right now
/// it is <Java Date> which is further in the future than the tolerated delay of 300000
/// milliseconds.` (quoted verbatim in many SDK users' logs).
pub fn iterator_expired(created_millis: u64, now_millis: u64, ttl_millis: u64) -> AwsError {
    AwsError::new(
        "ExpiredIteratorException",
        400,
        format!(
            "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ttl_millis} milliseconds.",
            java_date(created_millis),
            java_date(now_millis)
        ),
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

/// `java.util.Date#toString` in UTC: `Wed Mar 04 01:02:40 UTC 2020`.
pub fn java_date(millis: u64) -> String {
    use time::macros::format_description;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let weekday = &t.weekday().to_string()[..3];
    let fmt = format_description!("[month repr:short] [day] [hour]:[minute]:[second] UTC [year]");
    format!("{weekday} {}", t.format(&fmt).unwrap_or_default())
}

/// `Rate exceeded for shard <shard> in stream <name> under account <account>.` (the API
/// reference says the message names the account, the stream and the shard; the wording is
/// its PutRecords example's).
pub fn throughput_exceeded_message(shard: &str, name: &str, account: &str) -> String {
    format!("Rate exceeded for shard {shard} in stream {name} under account {account}.")
}

pub fn throughput_exceeded(shard: &str, name: &str, account: &str) -> AwsError {
    AwsError::new(
        "ProvisionedThroughputExceededException",
        400,
        throughput_exceeded_message(shard, name, account),
    )
}
