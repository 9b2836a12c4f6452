//! The wire shapes of the archive and replay operations (botocore `events` 2015-10-07).

use std::sync::Arc;

use lb_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{input, page_json, to_value};
use crate::archive::{
    Archive, CreateArchiveInput, ListArchivesInput, Replay, ReplayDestination, StartReplayInput, UpdateArchiveInput,
};
use crate::Events;

/// The operations answered here.
pub const OPERATIONS: [&str; 9] = [
    "CancelReplay",
    "CreateArchive",
    "DeleteArchive",
    "DescribeArchive",
    "DescribeReplay",
    "ListArchives",
    "ListReplays",
    "StartReplay",
    "UpdateArchive",
];

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ArchiveJson {
    archive_name: Option<String>,
    event_source_arn: Option<String>,
    description: Option<String>,
    event_pattern: Option<String>,
    retention_days: Option<i64>,
    kms_key_identifier: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ListJson {
    name_prefix: Option<String>,
    event_source_arn: Option<String>,
    state: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct StartReplayJson {
    replay_name: Option<String>,
    description: Option<String>,
    event_source_arn: Option<String>,
    event_start_time: Option<f64>,
    event_end_time: Option<f64>,
    destination: Option<DestinationJson>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct DestinationJson {
    arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter_arns: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ReplayNameJson {
    replay_name: Option<String>,
}

/// JSON 1.1 timestamps are epoch seconds.
fn seconds(millis: u64) -> f64 {
    millis as f64 / 1000.0
}

fn millis(seconds: Option<f64>) -> Option<u64> {
    seconds
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s * 1000.0).round() as u64)
}

/// DescribeArchive's shape (`full`), or the `Archive` of ListArchives.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    archive_arn: Option<&'a str>,
    archive_name: &'a str,
    event_source_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_pattern: Option<&'a str>,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_identifier: Option<&'a str>,
    retention_days: u64,
    size_bytes: u64,
    event_count: u64,
    creation_time: f64,
}

fn archive_out(a: &Archive, full: bool) -> ArchiveOut<'_> {
    ArchiveOut {
        archive_arn: full.then_some(a.arn.as_str()),
        archive_name: &a.name,
        event_source_arn: &a.event_source_arn,
        description: a.description.as_deref().filter(|_| full),
        event_pattern: a.event_pattern.as_deref().filter(|_| full),
        state: a.state.as_str(),
        state_reason: a.state_reason.as_deref(),
        kms_key_identifier: a.kms_key_identifier.as_deref().filter(|_| full),
        retention_days: a.retention_days,
        size_bytes: a.size_bytes,
        event_count: a.event_count,
        creation_time: seconds(a.created_millis),
    }
}

/// DescribeReplay's shape (`full`), or the `Replay` of ListReplays.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReplayOut<'a> {
    replay_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay_arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_reason: Option<&'a str>,
    event_source_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<DestinationJson>,
    event_start_time: f64,
    event_end_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_last_replayed_time: Option<f64>,
    replay_start_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay_end_time: Option<f64>,
}

fn replay_out(r: &Replay, full: bool) -> ReplayOut<'_> {
    ReplayOut {
        replay_name: &r.name,
        replay_arn: full.then_some(r.arn.as_str()),
        description: r.description.as_deref().filter(|_| full),
        state: r.state.as_str(),
        state_reason: r.state_reason.as_deref(),
        event_source_arn: &r.event_source_arn,
        destination: full.then(|| DestinationJson {
            arn: Some(r.destination_arn.clone()),
            filter_arns: r.filter_arns.clone(),
        }),
        event_start_time: seconds(r.event_start_time),
        event_end_time: seconds(r.event_end_time),
        event_last_replayed_time: r.event_last_replayed_time.map(seconds),
        replay_start_time: seconds(r.replay_start_time),
        replay_end_time: r.replay_end_time.map(seconds),
    }
}

fn list_input(j: ListJson) -> ListArchivesInput {
    ListArchivesInput {
        name_prefix: j.name_prefix,
        event_source_arn: j.event_source_arn,
        state: j.state,
        next_token: j.next_token,
        limit: j.limit,
    }
}

/// CreateArchive's and UpdateArchive's answer.
fn archive_state_json(a: &Archive) -> Value {
    let mut out = serde_json::json!({
        "ArchiveArn": a.arn,
        "State": a.state.as_str(),
        "CreationTime": seconds(a.created_millis),
    });
    if let Some(r) = &a.state_reason {
        out["StateReason"] = Value::String(r.clone());
    }
    out
}

/// Runs one of [`OPERATIONS`].
pub(super) fn execute(
    events: &Arc<Events>,
    ctx: &RequestContext,
    operation: &str,
    body: &[u8],
) -> Result<Value, AwsError> {
    Ok(match operation {
        "CreateArchive" => {
            let j: ArchiveJson = input(body)?;
            let a = events.create_archive(
                ctx,
                CreateArchiveInput {
                    archive_name: j.archive_name,
                    event_source_arn: j.event_source_arn,
                    description: j.description,
                    event_pattern: j.event_pattern,
                    retention_days: j.retention_days,
                    kms_key_identifier: j.kms_key_identifier,
                },
            )?;
            archive_state_json(&a)
        }
        "UpdateArchive" => {
            let j: ArchiveJson = input(body)?;
            let a = events.update_archive(
                ctx,
                UpdateArchiveInput {
                    archive_name: j.archive_name,
                    description: j.description,
                    event_pattern: j.event_pattern,
                    retention_days: j.retention_days,
                    kms_key_identifier: j.kms_key_identifier,
                },
            )?;
            archive_state_json(&a)
        }
        "DescribeArchive" => {
            let j: ArchiveJson = input(body)?;
            let a = events.describe_archive(ctx, j.archive_name.as_deref())?;
            to_value(archive_out(&a, true))?
        }
        "ListArchives" => {
            let page = events.list_archives(ctx, &list_input(input(body)?))?;
            let items: Vec<ArchiveOut<'_>> = page.items.iter().map(|a| archive_out(a, false)).collect();
            page_json("Archives", to_value(items)?, page.next_token)
        }
        "DeleteArchive" => {
            let j: ArchiveJson = input(body)?;
            events.delete_archive(ctx, j.archive_name.as_deref())?;
            Value::Object(serde_json::Map::new())
        }
        "StartReplay" => {
            let j: StartReplayJson = input(body)?;
            let r = events.start_replay(
                ctx,
                StartReplayInput {
                    replay_name: j.replay_name,
                    description: j.description,
                    event_source_arn: j.event_source_arn,
                    event_start_time: millis(j.event_start_time),
                    event_end_time: millis(j.event_end_time),
                    destination: j.destination.map(|d| ReplayDestination {
                        arn: d.arn,
                        filter_arns: d.filter_arns,
                    }),
                },
            )?;
            serde_json::json!({
                "ReplayArn": r.arn,
                "State": r.state.as_str(),
                "ReplayStartTime": seconds(r.replay_start_time),
            })
        }
        "DescribeReplay" => {
            let j: ReplayNameJson = input(body)?;
            let r = events.describe_replay(ctx, j.replay_name.as_deref())?;
            to_value(replay_out(&r, true))?
        }
        "ListReplays" => {
            let page = events.list_replays(ctx, &list_input(input(body)?))?;
            let items: Vec<ReplayOut<'_>> = page.items.iter().map(|r| replay_out(r, false)).collect();
            page_json("Replays", to_value(items)?, page.next_token)
        }
        "CancelReplay" => {
            let j: ReplayNameJson = input(body)?;
            let r = events.cancel_replay(ctx, j.replay_name.as_deref())?;
            serde_json::json!({ "ReplayArn": r.arn, "State": r.state.as_str() })
        }
        op => return Err(AwsError::internal(format!("{op} is not an archive operation"))),
    })
}
