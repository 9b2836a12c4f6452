//! The operations, over plain inputs and outputs shaped as botocore's `logs` model names them
//! (the wire edge only decodes and encodes them).

use std::collections::BTreeMap;

use lb_core::AwsError;
use serde::{Deserialize, Serialize};

use crate::errors::{self, constraint, invalid, missing};
use crate::pattern::{self, FilterPattern};
use crate::store::{Group, Key, ResourcePolicy, Scope, Store};
use crate::Logs;

/// PutRetentionPolicy's valid values (botocore documents them on `Days`; AWS answers any other
/// with this enum set).
pub const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];
/// PutLogEvents: the largest batch (sum of UTF-8 message bytes plus 26 per event).
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// PutLogEvents: the most events in a batch.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// The bytes PutLogEvents counts per event on top of its message.
pub const EVENT_OVERHEAD: usize = 26;
/// The largest event (message plus overhead): 256 KB.
pub const MAX_EVENT_BYTES: usize = 262_144;
/// Events older than this (or than the group's retention) are rejected as too old.
pub const MAX_AGE_MILLIS: u64 = 14 * 86_400_000;
/// Events further in the future than this are rejected as too new.
pub const MAX_FUTURE_MILLIS: u64 = 2 * 3_600_000;
/// A batch may not span more than this.
pub const MAX_SPAN_MILLIS: u64 = 24 * 3_600_000;
/// The largest GetLogEvents / FilterLogEvents answer (1 MB).
pub const MAX_RESPONSE_BYTES: usize = 1_048_576;
/// Account resource policies per region (AWS: 10).
pub const MAX_RESOURCE_POLICIES: usize = 10;
/// Tags per log group (AWS: 50).
pub const MAX_TAGS: usize = 50;

fn ms(days: u32) -> u64 {
    u64::from(days) * 86_400_000
}

// ---- inputs ------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GroupInput {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub kms_key_id: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub log_group_class: Option<String>,
    pub retention_in_days: Option<i64>,
    pub log_stream_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DescribeInput {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub log_group_name_prefix: Option<String>,
    pub log_stream_name_prefix: Option<String>,
    pub order_by: Option<String>,
    pub descending: Option<bool>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InputLogEvent {
    pub timestamp: Option<i64>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PutLogEventsInput {
    pub log_group_name: Option<String>,
    pub log_stream_name: Option<String>,
    pub log_events: Option<Vec<InputLogEvent>>,
    pub sequence_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GetLogEventsInput {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub log_stream_name: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
    pub start_from_head: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FilterLogEventsInput {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub log_stream_names: Option<Vec<String>>,
    pub log_stream_name_prefix: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub filter_pattern: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourcePolicyInput {
    pub policy_name: Option<String>,
    pub policy_document: Option<String>,
    pub resource_arn: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TagsInput {
    pub resource_arn: Option<String>,
    pub log_group_name: Option<String>,
    pub tags: Option<serde_json::Value>,
    pub tag_keys: Option<Vec<String>>,
}

// ---- outputs -----------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LogGroupView {
    pub log_group_name: String,
    pub creation_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<u32>,
    pub metric_filter_count: u32,
    pub arn: String,
    pub stored_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    pub log_group_class: String,
    pub log_group_arn: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LogStreamView {
    pub log_stream_name: String,
    pub creation_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_event_timestamp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_timestamp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ingestion_time: Option<u64>,
    pub upload_sequence_token: String,
    pub arn: String,
    pub stored_bytes: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RejectedLogEventsInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_new_log_event_start_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_old_log_event_end_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_log_event_end_index: Option<usize>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PutLogEventsOutput {
    pub next_sequence_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_log_events_info: Option<RejectedLogEventsInfo>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OutputLogEvent {
    pub timestamp: u64,
    pub message: String,
    pub ingestion_time: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GetLogEventsOutput {
    pub events: Vec<OutputLogEvent>,
    pub next_forward_token: String,
    pub next_backward_token: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FilteredLogEvent {
    pub log_stream_name: String,
    pub timestamp: u64,
    pub message: String,
    pub ingestion_time: u64,
    pub event_id: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FilterLogEventsOutput {
    pub events: Vec<FilteredLogEvent>,
    /// Deprecated by AWS (May 2020): always empty.
    pub searched_log_streams: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ResourcePolicyView {
    pub policy_name: String,
    pub policy_document: String,
    pub last_updated_time: u64,
    pub policy_scope: &'static str,
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

// ---- validation --------------------------------------------------------------------------------

fn group_name_ok(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c))
}

/// `LogGroupName`: 1-512 of `[\.\-_/#A-Za-z0-9]+`.
pub fn validate_group_name(name: &str, member: &str) -> Result<(), AwsError> {
    if name.is_empty() {
        return Err(constraint(
            name,
            member,
            "Member must have length greater than or equal to 1",
        ));
    }
    if name.chars().count() > 512 {
        return Err(constraint(
            name,
            member,
            "Member must have length less than or equal to 512",
        ));
    }
    if !group_name_ok(name) {
        return Err(constraint(
            name,
            member,
            r"Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+",
        ));
    }
    Ok(())
}

/// `LogStreamName`: 1-512 of `[^:*]*`.
pub fn validate_stream_name(name: &str, member: &str) -> Result<(), AwsError> {
    if name.is_empty() {
        return Err(constraint(
            name,
            member,
            "Member must have length greater than or equal to 1",
        ));
    }
    if name.chars().count() > 512 {
        return Err(constraint(
            name,
            member,
            "Member must have length less than or equal to 512",
        ));
    }
    if name.contains([':', '*']) {
        return Err(constraint(
            name,
            member,
            "Member must satisfy regular expression pattern: [^:*]*",
        ));
    }
    Ok(())
}

fn limit(value: Option<i64>, max: i64, default: usize) -> Result<usize, AwsError> {
    match value {
        None => Ok(default),
        Some(n) if n < 1 => Err(constraint(
            &n.to_string(),
            "limit",
            "Member must have value greater than or equal to 1",
        )),
        Some(n) if n > max => Err(constraint(
            &n.to_string(),
            "limit",
            &format!("Member must have value less than or equal to {max}"),
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(default)),
    }
}

/// The group a request names by `logGroupName` or `logGroupIdentifier` (a name or an ARN).
fn group_ref(name: Option<&str>, identifier: Option<&str>) -> Result<String, AwsError> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(n), None) => {
            validate_group_name(n, "logGroupName")?;
            Ok(n.to_owned())
        }
        (None, Some(id)) => {
            let name = match id.split_once(":log-group:") {
                Some((_, rest)) => rest.strip_suffix(":*").unwrap_or(rest),
                None => id,
            };
            validate_group_name(name, "logGroupIdentifier")?;
            Ok(name.to_owned())
        }
        (None, None) => Err(missing("logGroupName")),
    }
}

/// `f/`, `b/` and event ids: 56 digits, the key's timestamp and sequence zero-padded.
fn encode_key(key: Key) -> String {
    format!("{:020}{:020}{:016}", key.0, key.1, 0)
}

fn decode_key(digits: &str) -> Option<Key> {
    if digits.len() != 56 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits[..20].parse().ok()?, digits[20..40].parse().ok()?))
}

fn bad_token() -> AwsError {
    invalid("The specified nextToken is invalid.")
}

impl Group {
    fn view(&self, region: &str, account: &str, store: &Store) -> LogGroupView {
        let log_group_arn = format!("arn:aws:logs:{region}:{account}:log-group:{}", self.name);
        LogGroupView {
            log_group_name: self.name.clone(),
            creation_time: self.creation_time,
            retention_in_days: self.retention_days,
            metric_filter_count: 0,
            arn: format!("{log_group_arn}:*"),
            stored_bytes: self
                .streams
                .values()
                .filter_map(|id| store.streams.get(id))
                .map(|s| s.bytes)
                .sum(),
            kms_key_id: self.kms_key_id.clone(),
            log_group_class: self.class.clone(),
            log_group_arn,
        }
    }
}

/// Runs `f` on a group that must exist, after applying its retention.
fn with_group<T>(
    store: &mut Store,
    region: &str,
    account: &str,
    name: &str,
    now: u64,
    f: impl FnOnce(&mut Store, &Group) -> Result<T, AwsError>,
) -> Result<T, AwsError> {
    let group = store
        .scope(region, account)
        .groups
        .get(name)
        .cloned()
        .ok_or_else(errors::group_not_found)?;
    if let Some(days) = group.retention_days {
        let ids: Vec<u64> = group.streams.values().copied().collect();
        store.expire(&ids, now.saturating_sub(ms(days)));
    }
    f(store, &group)
}

impl Logs {
    pub fn create_log_group(&self, region: &str, account: &str, input: GroupInput) -> Result<(), AwsError> {
        let name = input.log_group_name.ok_or_else(|| missing("logGroupName"))?;
        validate_group_name(&name, "logGroupName")?;
        let class = input.log_group_class.unwrap_or_else(|| "STANDARD".to_owned());
        if !["STANDARD", "INFREQUENT_ACCESS", "DELIVERY"].contains(&class.as_str()) {
            return Err(constraint(
                &class,
                "logGroupClass",
                "Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]",
            ));
        }
        let tags = input.tags.unwrap_or_default();
        validate_tags(&tags)?;
        let now = self.now();
        let mut store = self.store();
        let scope = store.scope(region, account);
        if scope.groups.contains_key(&name) {
            return Err(errors::group_exists());
        }
        scope.groups.insert(
            name.clone(),
            Group {
                name,
                creation_time: now,
                retention_days: None,
                kms_key_id: input.kms_key_id,
                class,
                tags,
                streams: BTreeMap::new(),
            },
        );
        Ok(())
    }

    pub fn delete_log_group(&self, region: &str, account: &str, name: Option<&str>) -> Result<(), AwsError> {
        let name = name.ok_or_else(|| missing("logGroupName"))?;
        validate_group_name(name, "logGroupName")?;
        let mut store = self.store();
        let group = store
            .scope(region, account)
            .groups
            .remove(name)
            .ok_or_else(errors::group_not_found)?;
        store.remove_streams(group.streams.into_values());
        Ok(())
    }

    pub fn describe_log_groups(
        &self,
        region: &str,
        account: &str,
        input: &DescribeInput,
    ) -> Result<Page<LogGroupView>, AwsError> {
        let prefix = input.log_group_name_prefix.as_deref().unwrap_or("");
        if !prefix.is_empty() {
            validate_group_name(prefix, "logGroupNamePrefix")?;
        }
        let max = limit(input.limit, 50, 50)?;
        let now = self.now();
        let mut store = self.store();
        let names: Vec<String> = store
            .scope(region, account)
            .groups
            .keys()
            .filter(|n| n.starts_with(prefix))
            .filter(|n| input.next_token.as_deref().is_none_or(|t| n.as_str() >= t))
            .take(max + 1)
            .cloned()
            .collect();
        let mut items = Vec::new();
        let mut next_token = None;
        for name in names {
            if items.len() == max {
                next_token = Some(name);
                break;
            }
            let view = with_group(&mut store, region, account, &name, now, |store, g| {
                Ok(g.view(region, account, store))
            })?;
            items.push(view);
        }
        Ok(Page { items, next_token })
    }

    pub fn put_retention_policy(&self, region: &str, account: &str, input: GroupInput) -> Result<(), AwsError> {
        let name = input.log_group_name.ok_or_else(|| missing("logGroupName"))?;
        validate_group_name(&name, "logGroupName")?;
        let days = input.retention_in_days.ok_or_else(|| missing("retentionInDays"))?;
        let Some(days) = u32::try_from(days).ok().filter(|d| RETENTION_DAYS.contains(d)) else {
            let set = RETENTION_DAYS.map(|d| d.to_string()).join(", ");
            return Err(constraint(
                &days.to_string(),
                "retentionInDays",
                &format!("Member must satisfy enum value set: [{set}]"),
            ));
        };
        let now = self.now();
        let mut store = self.store();
        let group = store
            .scope(region, account)
            .groups
            .get_mut(&name)
            .ok_or_else(errors::group_not_found)?;
        group.retention_days = Some(days);
        let ids: Vec<u64> = group.streams.values().copied().collect();
        store.expire(&ids, now.saturating_sub(ms(days)));
        Ok(())
    }

    pub fn delete_retention_policy(&self, region: &str, account: &str, name: Option<&str>) -> Result<(), AwsError> {
        let name = name.ok_or_else(|| missing("logGroupName"))?;
        validate_group_name(name, "logGroupName")?;
        let mut store = self.store();
        let group = store
            .scope(region, account)
            .groups
            .get_mut(name)
            .ok_or_else(errors::group_not_found)?;
        group.retention_days = None;
        Ok(())
    }

    pub fn create_log_stream(
        &self,
        region: &str,
        account: &str,
        group: Option<&str>,
        stream: Option<&str>,
    ) -> Result<(), AwsError> {
        let group = group.ok_or_else(|| missing("logGroupName"))?;
        let stream = stream.ok_or_else(|| missing("logStreamName"))?;
        validate_group_name(group, "logGroupName")?;
        validate_stream_name(stream, "logStreamName")?;
        let now = self.now();
        let mut store = self.store();
        let exists = match store.scope(region, account).groups.get(group) {
            None => return Err(errors::group_not_found()),
            Some(g) => g.streams.contains_key(stream),
        };
        if exists {
            return Err(errors::stream_exists());
        }
        let id = store.new_stream(stream, now);
        if let Some(g) = store.scope(region, account).groups.get_mut(group) {
            g.streams.insert(stream.to_owned(), id);
        }
        Ok(())
    }

    pub fn delete_log_stream(
        &self,
        region: &str,
        account: &str,
        group: Option<&str>,
        stream: Option<&str>,
    ) -> Result<(), AwsError> {
        let group = group.ok_or_else(|| missing("logGroupName"))?;
        let stream = stream.ok_or_else(|| missing("logStreamName"))?;
        validate_group_name(group, "logGroupName")?;
        validate_stream_name(stream, "logStreamName")?;
        let mut store = self.store();
        let g = store
            .scope(region, account)
            .groups
            .get_mut(group)
            .ok_or_else(errors::group_not_found)?;
        let id = g.streams.remove(stream).ok_or_else(errors::stream_not_found)?;
        store.remove_streams([id]);
        Ok(())
    }

    pub fn describe_log_streams(
        &self,
        region: &str,
        account: &str,
        input: &DescribeInput,
    ) -> Result<Page<LogStreamView>, AwsError> {
        let name = group_ref(input.log_group_name.as_deref(), input.log_group_identifier.as_deref())?;
        let by_time = match input.order_by.as_deref() {
            None | Some("LogStreamName") => false,
            Some("LastEventTime") => true,
            Some(o) => {
                return Err(constraint(
                    o,
                    "orderBy",
                    "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
                ))
            }
        };
        let prefix = input.log_stream_name_prefix.as_deref();
        if by_time && prefix.is_some() {
            return Err(invalid("Cannot order by LastEventTime with a logStreamNamePrefix."));
        }
        let max = limit(input.limit, 50, 50)?;
        let start = match input.next_token.as_deref() {
            None => 0,
            Some(t) => t.parse::<usize>().map_err(|_| bad_token())?,
        };
        let now = self.now();
        let mut store = self.store();
        with_group(&mut store, region, account, &name, now, |store, g| {
            let mut views: Vec<LogStreamView> = g
                .streams
                .iter()
                .filter(|(n, _)| prefix.is_none_or(|p| n.starts_with(p)))
                .filter_map(|(n, id)| {
                    let s = store.streams.get(id)?;
                    Some(LogStreamView {
                        log_stream_name: n.clone(),
                        creation_time: s.creation_time,
                        first_event_timestamp: s.events.keys().next().map(|k| k.0),
                        last_event_timestamp: s.events.keys().next_back().map(|k| k.0),
                        last_ingestion_time: s.last_ingestion_time,
                        upload_sequence_token: sequence_token(s.events.len()),
                        arn: format!("arn:aws:logs:{region}:{account}:log-group:{}:log-stream:{n}", g.name),
                        stored_bytes: 0,
                    })
                })
                .collect();
            if by_time {
                views.sort_by_key(|v| v.last_event_timestamp.unwrap_or(0));
            }
            if input.descending == Some(true) {
                views.reverse();
            }
            let next_token = (views.len() > start + max).then(|| (start + max).to_string());
            let items = views.into_iter().skip(start).take(max).collect();
            Ok(Page { items, next_token })
        })
    }

    pub fn put_log_events(
        &self,
        region: &str,
        account: &str,
        input: PutLogEventsInput,
    ) -> Result<PutLogEventsOutput, AwsError> {
        let group = input.log_group_name.ok_or_else(|| missing("logGroupName"))?;
        let stream = input.log_stream_name.ok_or_else(|| missing("logStreamName"))?;
        validate_group_name(&group, "logGroupName")?;
        validate_stream_name(&stream, "logStreamName")?;
        let events = input.log_events.ok_or_else(|| missing("logEvents"))?;
        if events.is_empty() {
            return Err(constraint(
                "[]",
                "logEvents",
                "Member must have length greater than or equal to 1",
            ));
        }
        if events.len() > MAX_BATCH_EVENTS {
            return Err(constraint(
                "[...]",
                "logEvents",
                &format!("Member must have length less than or equal to {MAX_BATCH_EVENTS}"),
            ));
        }
        let mut batch = Vec::with_capacity(events.len());
        let mut bytes = 0usize;
        for (i, e) in events.into_iter().enumerate() {
            let n = i + 1;
            let ts = e
                .timestamp
                .ok_or_else(|| missing(&format!("logEvents.{n}.member.timestamp")))?;
            let message = e
                .message
                .ok_or_else(|| missing(&format!("logEvents.{n}.member.message")))?;
            if message.is_empty() {
                return Err(constraint(
                    "",
                    &format!("logEvents.{n}.member.message"),
                    "Member must have length greater than or equal to 1",
                ));
            }
            let size = message.len() + EVENT_OVERHEAD;
            if size > MAX_EVENT_BYTES {
                return Err(invalid(format!(
                    "Log event too large: {size} bytes exceeds limit of {MAX_EVENT_BYTES}"
                )));
            }
            bytes += size;
            batch.push((u64::try_from(ts).unwrap_or(0), message));
        }
        if bytes > MAX_BATCH_BYTES {
            return Err(invalid(format!(
                "Upload too large: {bytes} bytes exceeds limit of {MAX_BATCH_BYTES}"
            )));
        }
        if batch.windows(2).any(|w| w[1].0 < w[0].0) {
            return Err(invalid(
                "Log events in a single PutLogEvents request must be in chronological order.",
            ));
        }
        if let (Some(first), Some(last)) = (batch.first(), batch.last()) {
            if last.0 - first.0 > MAX_SPAN_MILLIS {
                return Err(invalid(
                    "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
                ));
            }
        }
        let now = self.now();
        let mut store = self.store();
        let (id, retention) = {
            let scope = store.scope(region, account);
            let g = scope.groups.get(&group).ok_or_else(errors::group_not_found)?;
            let id = *g.streams.get(&stream).ok_or_else(errors::stream_not_found)?;
            (id, g.retention_days)
        };
        let (accepted, rejected) = classify(&batch, now, retention);
        let count = accepted.len();
        let total = store.streams.get(&id).map_or(0, |s| s.events.len()) + count;
        store.append(id, batch.drain(accepted), now, self.config.max_events);
        Ok(PutLogEventsOutput {
            next_sequence_token: sequence_token(total),
            rejected_log_events_info: rejected,
        })
    }

    pub fn get_log_events(
        &self,
        region: &str,
        account: &str,
        input: &GetLogEventsInput,
    ) -> Result<GetLogEventsOutput, AwsError> {
        let name = group_ref(input.log_group_name.as_deref(), input.log_group_identifier.as_deref())?;
        let stream = input
            .log_stream_name
            .as_deref()
            .ok_or_else(|| missing("logStreamName"))?;
        validate_stream_name(stream, "logStreamName")?;
        let max = limit(input.limit, 10_000, 10_000)?;
        let token = match input.next_token.as_deref() {
            None => None,
            Some(t) => {
                let (dir, digits) = t.split_once('/').ok_or_else(bad_token)?;
                let key = decode_key(digits).ok_or_else(bad_token)?;
                match dir {
                    "f" => Some((true, key)),
                    "b" => Some((false, key)),
                    _ => return Err(bad_token()),
                }
            }
        };
        let (start, end) = time_range(input.start_time, input.end_time);
        let now = self.now();
        let mut store = self.store();
        with_group(&mut store, region, account, &name, now, |store, g| {
            let id = g.streams.get(stream).ok_or_else(errors::stream_not_found)?;
            let s = store.streams.get(id).ok_or_else(errors::stream_not_found)?;
            let in_range = |k: &&Key| k.0 >= start && k.0 < end;
            let forward = match token {
                Some((f, _)) => f,
                None => input.start_from_head == Some(true),
            };
            let picked: Vec<(&Key, &crate::store::StoredEvent)> = match (token, forward) {
                (Some((_, k)), true) => take_bounded(
                    s.events
                        .range((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                        .filter(|(key, _)| in_range(key)),
                    max,
                ),
                (Some((_, k)), false) => {
                    let mut v = take_bounded(s.events.range(..k).rev().filter(|(key, _)| in_range(key)), max);
                    v.reverse();
                    v
                }
                (None, true) => take_bounded(s.events.iter().filter(|(key, _)| in_range(key)), max),
                (None, false) => {
                    let mut v = take_bounded(s.events.iter().rev().filter(|(key, _)| in_range(key)), max);
                    v.reverse();
                    v
                }
            };
            let (fwd, bwd) = match (picked.first(), picked.last()) {
                (Some(first), Some(last)) => (encode_key(*last.0), encode_key(*first.0)),
                _ => {
                    let k = token.map_or((0, 0), |(_, k)| k);
                    (encode_key(k), encode_key(k))
                }
            };
            Ok(GetLogEventsOutput {
                events: picked
                    .into_iter()
                    .map(|(k, e)| OutputLogEvent {
                        timestamp: k.0,
                        message: e.message.clone(),
                        ingestion_time: e.ingestion_time,
                    })
                    .collect(),
                next_forward_token: format!("f/{fwd}"),
                next_backward_token: format!("b/{bwd}"),
            })
        })
    }

    pub fn filter_log_events(
        &self,
        region: &str,
        account: &str,
        input: &FilterLogEventsInput,
    ) -> Result<FilterLogEventsOutput, AwsError> {
        let name = group_ref(input.log_group_name.as_deref(), input.log_group_identifier.as_deref())?;
        if input.log_stream_names.is_some() && input.log_stream_name_prefix.is_some() {
            return Err(invalid(
                "You cannot specify both logStreamNames and logStreamNamePrefix.",
            ));
        }
        if let Some(names) = &input.log_stream_names {
            if names.is_empty() || names.len() > 100 {
                return Err(constraint(
                    "[...]",
                    "logStreamNames",
                    "Member must have length between 1 and 100",
                ));
            }
        }
        let max = limit(input.limit, 10_000, 10_000)?;
        let filter = match input.filter_pattern.as_deref() {
            None => FilterPattern::All,
            Some(p) => pattern::parse(p).map_err(|e| invalid(e.0))?,
        };
        let after = match input.next_token.as_deref() {
            None => None,
            Some(t) => Some(decode_key(t).ok_or_else(bad_token)?),
        };
        let (start, end) = time_range(input.start_time, input.end_time);
        let now = self.now();
        let mut store = self.store();
        with_group(&mut store, region, account, &name, now, |store, g| {
            let mut found: Vec<(Key, &str, &crate::store::StoredEvent)> = Vec::new();
            for (sname, id) in &g.streams {
                let wanted = match (&input.log_stream_names, &input.log_stream_name_prefix) {
                    (Some(names), _) => names.iter().any(|n| n == sname),
                    (None, Some(p)) => sname.starts_with(p.as_str()),
                    (None, None) => true,
                };
                let Some(s) = store.streams.get(id).filter(|_| wanted) else {
                    continue;
                };
                let lower = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
                for (k, e) in s.events.range((lower, std::ops::Bound::Unbounded)) {
                    if k.0 >= start && k.0 < end && filter.matches(&e.message) {
                        found.push((*k, sname, e));
                    }
                }
            }
            found.sort_by_key(|(k, _, _)| *k);
            let mut bytes = 0;
            let mut events = Vec::new();
            let mut next_token = None;
            for (k, sname, e) in &found {
                bytes += e.message.len() + EVENT_OVERHEAD;
                if events.len() == max || (bytes > MAX_RESPONSE_BYTES && !events.is_empty()) {
                    next_token = events.last().map(|last: &FilteredLogEvent| last.event_id.clone());
                    break;
                }
                events.push(FilteredLogEvent {
                    log_stream_name: (*sname).to_owned(),
                    timestamp: k.0,
                    message: e.message.clone(),
                    ingestion_time: e.ingestion_time,
                    event_id: encode_key(*k),
                });
            }
            Ok(FilterLogEventsOutput {
                events,
                searched_log_streams: Vec::new(),
                next_token,
            })
        })
    }

    // ---- resource policies and tags -------------------------------------------------------------

    pub fn put_resource_policy(
        &self,
        region: &str,
        account: &str,
        input: ResourcePolicyInput,
    ) -> Result<ResourcePolicyView, AwsError> {
        if input.resource_arn.is_some() {
            return Err(invalid(
                "localbridge supports account-level resource policies only (no resourceArn)",
            ));
        }
        let name = input.policy_name.ok_or_else(|| missing("policyName"))?;
        let document = input.policy_document.ok_or_else(|| missing("policyDocument"))?;
        if document.is_empty() || document.len() > 5120 {
            return Err(constraint(
                "...",
                "policyDocument",
                "Member must have length less than or equal to 5120",
            ));
        }
        let parsed: serde_json::Value = serde_json::from_str(&document)
            .ok()
            .filter(serde_json::Value::is_object)
            .ok_or_else(|| invalid("Policy document is not valid JSON"))?;
        let now = self.now();
        let mut store = self.store();
        let scope = store.scope(region, account);
        if !scope.policies.contains_key(&name) && scope.policies.len() >= MAX_RESOURCE_POLICIES {
            return Err(errors::limit_exceeded());
        }
        let policy = ResourcePolicy {
            name: name.clone(),
            document,
            parsed,
            last_updated_time: now,
        };
        let view = policy_view(&policy);
        scope.policies.insert(name, policy);
        Ok(view)
    }

    pub fn describe_resource_policies(&self, region: &str, account: &str) -> Vec<ResourcePolicyView> {
        let store = self.store();
        store
            .scope_ref(region, account)
            .map(|s| s.policies.values().map(policy_view).collect())
            .unwrap_or_default()
    }

    pub fn delete_resource_policy(&self, region: &str, account: &str, name: Option<&str>) -> Result<(), AwsError> {
        let name = name.ok_or_else(|| missing("policyName"))?;
        let mut store = self.store();
        match store.scope(region, account).policies.remove(name) {
            Some(_) => Ok(()),
            None => Err(AwsError::new(
                "ResourceNotFoundException",
                400,
                format!("Policy with name [{name}] does not exist"),
            )),
        }
    }

    /// The group an ARN (`...:log-group:<name>` with or without `:*`) names.
    fn tagged_group<'a>(scope: &'a mut Scope, arn: &str) -> Result<&'a mut Group, AwsError> {
        let name = arn
            .split_once(":log-group:")
            .map(|(_, rest)| rest.strip_suffix(":*").unwrap_or(rest))
            .ok_or_else(|| invalid(format!("Invalid resource ARN: {arn}")))?;
        scope.groups.get_mut(name).ok_or_else(errors::group_not_found)
    }

    pub fn tag(&self, region: &str, account: &str, input: TagsInput) -> Result<(), AwsError> {
        let tags = tags_of(input.tags)?;
        let mut store = self.store();
        let scope = store.scope(region, account);
        let group = match (&input.resource_arn, &input.log_group_name) {
            (Some(arn), _) => Self::tagged_group(scope, arn)?,
            (None, Some(n)) => scope.groups.get_mut(n).ok_or_else(errors::group_not_found)?,
            (None, None) => return Err(missing("resourceArn")),
        };
        let mut merged = group.tags.clone();
        merged.extend(tags);
        if merged.len() > MAX_TAGS {
            return Err(AwsError::new(
                "TooManyTagsException",
                400,
                format!("A resource can have no more than {MAX_TAGS} tags."),
            ));
        }
        group.tags = merged;
        Ok(())
    }

    pub fn untag(&self, region: &str, account: &str, input: TagsInput) -> Result<(), AwsError> {
        let keys: Vec<String> = match (&input.tag_keys, &input.tags) {
            (Some(k), _) => k.clone(),
            // UntagLogGroup names the keys in `tags` (a list).
            (None, Some(serde_json::Value::Array(a))) => {
                a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
            }
            _ => return Err(missing("tagKeys")),
        };
        let mut store = self.store();
        let scope = store.scope(region, account);
        let group = match (&input.resource_arn, &input.log_group_name) {
            (Some(arn), _) => Self::tagged_group(scope, arn)?,
            (None, Some(n)) => scope.groups.get_mut(n).ok_or_else(errors::group_not_found)?,
            (None, None) => return Err(missing("resourceArn")),
        };
        for k in keys {
            group.tags.remove(&k);
        }
        Ok(())
    }

    pub fn list_tags(
        &self,
        region: &str,
        account: &str,
        input: &TagsInput,
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let mut store = self.store();
        let scope = store.scope(region, account);
        let group = match (&input.resource_arn, &input.log_group_name) {
            (Some(arn), _) => Self::tagged_group(scope, arn)?,
            (None, Some(n)) => scope.groups.get_mut(n).ok_or_else(errors::group_not_found)?,
            (None, None) => return Err(missing("resourceArn")),
        };
        Ok(group.tags.clone())
    }

    // ---- for the target and the sink ------------------------------------------------------------

    /// The parsed account resource policies of a region (EventBridge deliveries check them).
    pub(crate) fn resource_policies(&self, region: &str, account: &str) -> Vec<serde_json::Value> {
        let store = self.store();
        store
            .scope_ref(region, account)
            .map(|s| s.policies.values().map(|p| p.parsed.clone()).collect())
            .unwrap_or_default()
    }

    /// Appends events to a stream, creating the stream (and, when `create_group`, the group) if
    /// missing. Events too old or too new are left out as PutLogEvents leaves them out. Returns
    /// `false` when the group does not exist and may not be created.
    pub(crate) fn append(
        &self,
        region: &str,
        account: &str,
        group: &str,
        stream: &str,
        mut events: Vec<(u64, String)>,
        create_group: bool,
    ) -> bool {
        events.sort_by_key(|(ts, _)| *ts);
        let now = self.now();
        let mut store = self.store();
        let exists = store.scope(region, account).groups.contains_key(group);
        if !exists {
            if !create_group {
                return false;
            }
            store.scope(region, account).groups.insert(
                group.to_owned(),
                Group {
                    name: group.to_owned(),
                    creation_time: now,
                    class: "STANDARD".to_owned(),
                    ..Group::default()
                },
            );
        }
        let existing = store
            .scope(region, account)
            .groups
            .get(group)
            .map(|g| (g.streams.get(stream).copied(), g.retention_days));
        let Some((id, retention)) = existing else {
            return false;
        };
        let id = match id {
            Some(id) => id,
            None => {
                let id = store.new_stream(stream, now);
                if let Some(g) = store.scope(region, account).groups.get_mut(group) {
                    g.streams.insert(stream.to_owned(), id);
                }
                id
            }
        };
        let (accepted, _) = classify(&events, now, retention);
        store.append(id, events.drain(accepted), now, self.config.max_events);
        true
    }
}

fn policy_view(p: &ResourcePolicy) -> ResourcePolicyView {
    ResourcePolicyView {
        policy_name: p.name.clone(),
        policy_document: p.document.clone(),
        last_updated_time: p.last_updated_time,
        policy_scope: "ACCOUNT",
    }
}

fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
    if tags.len() > MAX_TAGS {
        return Err(AwsError::new(
            "TooManyTagsException",
            400,
            format!("A resource can have no more than {MAX_TAGS} tags."),
        ));
    }
    for (k, v) in tags {
        let ok = |s: &str| {
            s.chars()
                .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
        };
        if k.is_empty() || k.chars().count() > 128 || !ok(k) {
            return Err(constraint(
                k,
                "tags",
                r"Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$",
            ));
        }
        if v.chars().count() > 256 || !ok(v) {
            return Err(constraint(
                v,
                "tags",
                r"Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$",
            ));
        }
    }
    Ok(())
}

fn tags_of(v: Option<serde_json::Value>) -> Result<BTreeMap<String, String>, AwsError> {
    let tags: BTreeMap<String, String> = match v {
        Some(v) => serde_json::from_value(v).map_err(|_| invalid("tags must be a map of strings"))?,
        None => return Err(missing("tags")),
    };
    validate_tags(&tags)?;
    Ok(tags)
}

/// The deprecated sequence token (accepted and ignored on input, as AWS now does).
fn sequence_token(n: usize) -> String {
    format!("{:056}", n)
}

fn time_range(start: Option<i64>, end: Option<i64>) -> (u64, u64) {
    let start = start.map_or(0, |s| u64::try_from(s).unwrap_or(0));
    let end = end.map_or(u64::MAX, |e| u64::try_from(e).unwrap_or(0));
    (start, end)
}

/// Takes up to `max` events and up to [`MAX_RESPONSE_BYTES`] (always at least one).
fn take_bounded<'a>(
    it: impl Iterator<Item = (&'a Key, &'a crate::store::StoredEvent)>,
    max: usize,
) -> Vec<(&'a Key, &'a crate::store::StoredEvent)> {
    let mut out = Vec::new();
    let mut bytes = 0;
    for (k, e) in it {
        bytes += e.message.len() + EVENT_OVERHEAD;
        if out.len() == max || (bytes > MAX_RESPONSE_BYTES && !out.is_empty()) {
            break;
        }
        out.push((k, e));
    }
    out
}

/// PutLogEvents' time rules for a chronological batch: the range of accepted events and what
/// was rejected (too old: older than 14 days; expired: older than the group's retention; too
/// new: more than 2 hours ahead). The rejected events are a prefix and a suffix.
fn classify(
    batch: &[(u64, String)],
    now: u64,
    retention_days: Option<u32>,
) -> (std::ops::Range<usize>, Option<RejectedLogEventsInfo>) {
    let too_old = batch.iter().take_while(|(ts, _)| *ts + MAX_AGE_MILLIS < now).count();
    let expired = retention_days.map_or(0, |d| batch.iter().take_while(|(ts, _)| *ts + ms(d) < now).count());
    let too_new_start = batch
        .iter()
        .position(|(ts, _)| *ts > now + MAX_FUTURE_MILLIS)
        .unwrap_or(batch.len());
    let start = too_old.max(expired).min(too_new_start);
    let mut info = RejectedLogEventsInfo::default();
    if too_old > 0 {
        info.too_old_log_event_end_index = Some(too_old);
    }
    if expired > 0 {
        info.expired_log_event_end_index = Some(expired);
    }
    if too_new_start < batch.len() {
        info.too_new_log_event_start_index = Some(too_new_start);
    }
    let rejected = (info != RejectedLogEventsInfo::default()).then_some(info);
    (start..too_new_start, rejected)
}
