//! botocore's constraints on IAM's and STS's inputs, with AWS's validation texts
//! (`1 validation error detected: Value '<v>' at '<member>' failed to satisfy constraint: ...`).

use lb_core::AwsError;
use serde_json::Value;

use crate::errors;

fn failed(value: &str, member: &str, constraint: &str) -> AwsError {
    errors::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

/// A required member that is missing.
pub fn required<'a>(value: Option<&'a str>, member: &str) -> Result<&'a str, AwsError> {
    value.ok_or_else(|| {
        errors::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// Length in characters between `min` and `max`.
pub fn length(value: &str, member: &str, min: usize, max: usize) -> Result<(), AwsError> {
    let n = value.chars().count();
    if n < min {
        return Err(failed(
            value,
            member,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(failed(
            value,
            member,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn pattern(value: &str, member: &str, ok: bool, pattern: &str) -> Result<(), AwsError> {
    if ok {
        Ok(())
    } else {
        Err(failed(
            value,
            member,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ))
    }
}

/// `[\w+=,.@-]+` (Java's `\w`: ASCII letters, digits, `_`).
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// `roleNameType` (1-64) and `policyNameType` (1-128).
pub fn name(value: &str, member: &str, max: usize) -> Result<(), AwsError> {
    length(value, member, 1, max)?;
    pattern(value, member, value.chars().all(name_char), r"[\w+=,.@-]+")
}

/// `pathType`: `/`, or `/` + printable ASCII + `/`.
pub fn role_path(value: &str, member: &str) -> Result<(), AwsError> {
    length(value, member, 1, 512)?;
    let ok = value == "/"
        || (value.len() >= 3
            && value.starts_with('/')
            && value.ends_with('/')
            && value.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    pattern(value, member, ok, r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)")
}

/// `pathPrefixType`: `/` followed by printable ASCII.
pub fn path_prefix(value: &str, member: &str) -> Result<(), AwsError> {
    length(value, member, 1, 512)?;
    let ok = value.starts_with('/') && value.bytes().all(|b| (0x21..=0x7f).contains(&b));
    pattern(value, member, ok, r"\u002F[\u0021-\u007F]*")
}

/// `policyPathType`: `((/[A-Za-z0-9\.,\+@=_-]+)*)/`.
pub fn policy_path(value: &str, member: &str) -> Result<(), AwsError> {
    length(value, member, 1, 512)?;
    let ok = value.ends_with('/')
        && value.starts_with('/')
        && value[..value.len() - 1]
            .split('/')
            .skip(1)
            .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || ".,+@=_-".contains(c)));
    pattern(value, member, ok, r"((/[A-Za-z0-9\.,\+@=_-]+)*)/")
}

/// `maxItemsType`: 1-1000.
pub fn max_items(value: Option<i64>) -> Result<usize, AwsError> {
    match value {
        None => Ok(100),
        Some(n) if n < 1 => Err(failed(
            &n.to_string(),
            "maxItems",
            "Member must have value greater than or equal to 1",
        )),
        Some(n) if n > 1000 => Err(failed(
            &n.to_string(),
            "maxItems",
            "Member must have value less than or equal to 1000",
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(100)),
    }
}

/// An integer between `min` and `max`.
pub fn range(value: i64, member: &str, min: i64, max: i64) -> Result<(), AwsError> {
    if value < min {
        return Err(failed(
            &value.to_string(),
            member,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(failed(
            &value.to_string(),
            member,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// `policyDocumentType` (1-131072 characters of `[\u0009\u000A\u000D\u0020-\u00FF]`), then a
/// JSON object: AWS answers `MalformedPolicyDocument` "This policy contains invalid Json"
/// otherwise. Returns the parsed document.
pub fn policy_document(value: &str, member: &str) -> Result<Value, AwsError> {
    length(value, member, 1, 131_072)?;
    let ok = value
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r') || ('\u{20}'..='\u{ff}').contains(&c));
    pattern(value, member, ok, r"[\u0009\u000A\u000D\u0020-\u00FF]+")?;
    match serde_json::from_str::<Value>(value) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(errors::malformed_policy("This policy contains invalid Json")),
    }
}

/// `arnType` (20-2048).
pub fn arn(value: &str, member: &str) -> Result<(), AwsError> {
    length(value, member, 20, 2048)
}

/// Tags: keys 1-128 and values 0-256 of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, at most 50, no key twice
/// (without regard to case).
pub fn tags(tags: &[(String, String)]) -> Result<(), AwsError> {
    let tag_char = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    for (i, (k, v)) in tags.iter().enumerate() {
        let n = i + 1;
        length(k, &format!("tags.{n}.member.key"), 1, 128)?;
        pattern(
            k,
            &format!("tags.{n}.member.key"),
            k.chars().all(tag_char),
            r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+",
        )?;
        length(v, &format!("tags.{n}.member.value"), 0, 256)?;
        pattern(
            v,
            &format!("tags.{n}.member.value"),
            v.chars().all(tag_char),
            r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*",
        )?;
    }
    for (i, (k, _)) in tags.iter().enumerate() {
        if tags[..i].iter().any(|(o, _)| o.eq_ignore_ascii_case(k)) {
            return Err(errors::invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

/// The most tags an IAM resource may carry.
pub const MAX_TAGS: usize = 50;

/// Merges `new` into `existing` (a key already there, in any case, has its value replaced),
/// refusing to go past [`MAX_TAGS`].
pub fn merge_tags(existing: &mut Vec<(String, String)>, new: Vec<(String, String)>) -> Result<(), AwsError> {
    let mut merged = existing.clone();
    for (k, v) in new {
        match merged.iter_mut().find(|(o, _)| o.eq_ignore_ascii_case(&k)) {
            Some(slot) => slot.1 = v,
            None => merged.push((k, v)),
        }
    }
    if merged.len() > MAX_TAGS {
        return Err(errors::limit_exceeded(format!(
            "The number of tags has reached the maximum limit of {MAX_TAGS}."
        )));
    }
    *existing = merged;
    Ok(())
}
