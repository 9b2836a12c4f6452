//! CreateSchedule, UpdateSchedule (a full replacement), GetSchedule, DeleteSchedule and
//! ListSchedules. A schedule is validated against botocore's constraints, compiled once (its
//! expression, its target's plan, its retry policy and dead-letter queue) and placed in the
//! timer.

use std::sync::Arc;

use lb_core::arn::Arn;
use lb_core::deliver::RetryPolicy;
use lb_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use super::groups::{account, decode_token, encode_token, group_not_found, max_results};
use super::{timestamp, Entry, ScheduleKey, Scheduler, Spec, State, TimerEntry, DEFAULT_GROUP};
use crate::expression;
use crate::invoke::{Plan, UNIVERSAL_PREFIX};
use crate::model::{ListSchedulesInput, RetryPolicySpec, ScheduleInput};
use crate::validate::{self, conflict, not_found, validation, Violations, NAME_PATTERN};

/// AWS's defaults, reported back by GetSchedule when the request set none.
pub const DEFAULT_MAX_EVENT_AGE_SECONDS: u64 = 86_400;
pub const DEFAULT_MAX_RETRY_ATTEMPTS: u32 = 185;
/// The first retry's wait; doubled for each further one, up to the longest. EventBridge's
/// figures (AWS does not publish Scheduler's): 185 retries fit within 24 hours.
const BASE_BACKOFF_MILLIS: u64 = 1_000;
const MAX_BACKOFF_MILLIS: u64 = 300_000;
/// How far in the past a recurring schedule's StartDate may be.
const START_DATE_SLACK_MILLIS: u64 = 5 * 60_000;

pub(crate) fn schedule_not_found(name: &str) -> AwsError {
    not_found(format!("Schedule {name} does not exist."))
}

fn schedule_arn(k: &ScheduleKey) -> String {
    format!(
        "arn:aws:scheduler:{}:{}:schedule/{}/{}",
        k.region, k.account, k.group, k.name
    )
}

/// Epoch seconds to milliseconds (negative and non-finite values are invalid).
fn millis_of(secs: f64) -> Option<u64> {
    if !secs.is_finite() || !(0.0..=253_402_300_799.0).contains(&secs) {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some((secs * 1000.0).round() as u64)
}

/// Validates a CreateSchedule/UpdateSchedule request's members against the model.
fn check_members(input: &ScheduleInput) -> Result<(), AwsError> {
    let mut v = Violations::new();
    v.required(
        Some(&input.name),
        "name",
        1,
        64,
        Some((NAME_PATTERN, validate::is_name)),
    );
    v.optional(
        input.group_name.as_deref(),
        "groupName",
        1,
        64,
        Some((NAME_PATTERN, validate::is_name)),
    );
    v.required(input.schedule_expression.as_deref(), "scheduleExpression", 1, 256, None);
    v.optional(input.description.as_deref(), "description", 0, 512, None);
    v.optional(
        input.schedule_expression_timezone.as_deref(),
        "scheduleExpressionTimezone",
        1,
        50,
        None,
    );
    v.one_of(input.state.as_deref(), "state", &["ENABLED", "DISABLED"]);
    v.optional(
        input.kms_key_arn.as_deref(),
        "kmsKeyArn",
        1,
        2048,
        Some((validate::KMS_KEY_ARN_PATTERN, validate::is_kms_key_arn)),
    );
    match &input.target {
        None => v.null("target"),
        Some(t) => {
            v.required(t.arn.as_deref(), "target.arn", 1, 1600, None);
            v.required(
                t.role_arn.as_deref(),
                "target.roleArn",
                1,
                1600,
                Some((validate::ROLE_ARN_PATTERN, validate::is_role_arn)),
            );
            if let Some(dl) = &t.dead_letter_config {
                v.optional(
                    dl.arn.as_deref(),
                    "target.deadLetterConfig.arn",
                    1,
                    1600,
                    Some((validate::DEAD_LETTER_ARN_PATTERN, validate::is_dead_letter_arn)),
                );
            }
            if let Some(r) = &t.retry_policy {
                v.integer(
                    r.maximum_event_age_in_seconds.as_ref(),
                    "target.retryPolicy.maximumEventAgeInSeconds",
                    60,
                    86_400,
                );
                v.integer(
                    r.maximum_retry_attempts.as_ref(),
                    "target.retryPolicy.maximumRetryAttempts",
                    0,
                    185,
                );
            }
            if let Some(input) = &t.input {
                v.string(input, "target.input", 1, usize::MAX, None);
                if input.len() > 256 * 1024 {
                    v.push(
                        "...",
                        "target.input",
                        "Member must have length less than or equal to 262144",
                    );
                }
            }
            if let Some(p) = &t.event_bridge_parameters {
                v.required(
                    p.detail_type.as_deref(),
                    "target.eventBridgeParameters.detailType",
                    1,
                    128,
                    None,
                );
                v.required(
                    p.source.as_deref(),
                    "target.eventBridgeParameters.source",
                    1,
                    256,
                    Some((validate::SOURCE_PATTERN, validate::is_source)),
                );
            }
            if let Some(p) = &t.sqs_parameters {
                v.optional(
                    p.message_group_id.as_deref(),
                    "target.sqsParameters.messageGroupId",
                    1,
                    128,
                    None,
                );
            }
        }
    }
    match &input.flexible_time_window {
        None => v.null("flexibleTimeWindow"),
        Some(w) => {
            match w.mode.as_deref() {
                None => v.null("flexibleTimeWindow.mode"),
                m => v.one_of(m, "flexibleTimeWindow.mode", &["OFF", "FLEXIBLE"]),
            }
            v.integer(
                w.maximum_window_in_minutes.as_ref(),
                "flexibleTimeWindow.maximumWindowInMinutes",
                1,
                1440,
            );
        }
    }
    v.optional(
        input.client_token.as_deref(),
        "clientToken",
        1,
        64,
        Some((validate::CLIENT_TOKEN_PATTERN, validate::is_client_token)),
    );
    v.one_of(
        input.action_after_completion.as_deref(),
        "actionAfterCompletion",
        &["NONE", "DELETE"],
    );
    if let Some(d) = input.start_date {
        if millis_of(d).is_none() {
            v.push(&d.to_string(), "startDate", "Member must be a valid timestamp");
        }
    }
    if let Some(d) = input.end_date {
        if millis_of(d).is_none() {
            v.push(&d.to_string(), "endDate", "Member must be a valid timestamp");
        }
    }
    v.finish()
}

impl Scheduler {
    /// Validates and compiles a request into a spec (`created`: the schedule's creation time,
    /// kept by an update).
    fn compile(&self, ctx: &RequestContext, input: &ScheduleInput, created: u64) -> Result<Spec, AwsError> {
        check_members(input)?;
        let now = self.now();
        let expression_text = input.schedule_expression.clone().unwrap_or_default();
        let compiled = expression::compile(&expression_text, input.schedule_expression_timezone.as_deref())?;
        let start = input.start_date.and_then(millis_of);
        let end = input.end_date.and_then(millis_of);
        if !compiled.one_time() {
            if let Some(s) = start {
                if s + START_DATE_SLACK_MILLIS < now {
                    return Err(validation(
                        "The StartDate you specify cannot be earlier than 5 minutes ago.",
                    ));
                }
            }
            if let (Some(s), Some(e)) = (start, end) {
                if e <= s {
                    return Err(validation("The EndDate you specify must be after the StartDate."));
                }
            }
        }
        let window = input.flexible_time_window.clone().unwrap_or_default();
        let window_millis = match window.mode.as_deref() {
            Some("FLEXIBLE") => {
                let Some(minutes) = window
                    .maximum_window_in_minutes
                    .as_ref()
                    .and_then(serde_json::Number::as_u64)
                else {
                    return Err(validation(
                        "MaximumWindowInMinutes must be specified when the FlexibleTimeWindow Mode is FLEXIBLE.",
                    ));
                };
                minutes * 60_000
            }
            _ => {
                if window.maximum_window_in_minutes.is_some() {
                    return Err(validation(
                        "MaximumWindowInMinutes must not be specified when the FlexibleTimeWindow Mode is OFF.",
                    ));
                }
                0
            }
        };
        let mut target = input.target.clone().unwrap_or_default();
        let policy = target.retry_policy.get_or_insert_with(RetryPolicySpec::default);
        let age = policy
            .maximum_event_age_in_seconds
            .get_or_insert_with(|| DEFAULT_MAX_EVENT_AGE_SECONDS.into())
            .as_u64()
            .unwrap_or(DEFAULT_MAX_EVENT_AGE_SECONDS);
        let retries = policy
            .maximum_retry_attempts
            .get_or_insert_with(|| DEFAULT_MAX_RETRY_ATTEMPTS.into())
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(DEFAULT_MAX_RETRY_ATTEMPTS);
        let retry = RetryPolicy::exponential(retries + 1, age * 1000, BASE_BACKOFF_MILLIS, MAX_BACKOFF_MILLIS);
        let plan = Plan::compile(&target)?;
        let dead_letter = target
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.arn.as_deref())
            .and_then(|a| a.parse::<Arn>().ok())
            .map(Arc::new);
        let group = input.group_name.clone().unwrap_or_else(|| DEFAULT_GROUP.to_owned());
        let key = Arc::new(ScheduleKey {
            region: ctx.region.clone(),
            account: ctx.account.clone(),
            group,
            name: input.name.clone(),
        });
        let lane = match &plan {
            Plan::Templated { arn, .. } => Some(lane_arn(&key, &arn.to_string())),
            Plan::Unsupported { arn } => Some(lane_arn(&key, arn)),
            Plan::Universal { .. } => None,
        };
        let action = input
            .action_after_completion
            .clone()
            .unwrap_or_else(|| "NONE".to_owned());
        Ok(Spec {
            arn: schedule_arn(&key).into(),
            key,
            expression: expression_text,
            timezone: input.schedule_expression_timezone.clone(),
            compiled,
            start,
            end,
            description: input.description.clone(),
            enabled: input.state.as_deref() != Some("DISABLED"),
            kms_key_arn: input.kms_key_arn.clone(),
            target,
            plan: Arc::new(plan),
            lane,
            retry,
            dead_letter,
            flexible: window,
            window_millis,
            delete_after_completion: action == "DELETE",
            action_after_completion: action,
            created,
            modified: now,
            // Whole seconds: the scheduled times a rate produces read as AWS prints them.
            anchor: start.unwrap_or(created - created % 1000),
        })
    }

    pub fn create_schedule(&self, ctx: &RequestContext, input: ScheduleInput) -> Result<Value, AwsError> {
        let fingerprint = format!("{}|{}", input.name, serde_json::to_string(&input).unwrap_or_default());
        self.idempotent(
            ctx,
            "CreateSchedule",
            input.client_token.as_deref(),
            &fingerprint,
            || {
                let now = self.now();
                let spec = Arc::new(self.compile(ctx, &input, now)?);
                let mut st = self.state();
                if st.schedules >= self.config.max_schedules {
                    return Err(AwsError::new(
                        "ServiceQuotaExceededException",
                        402,
                        "The number of schedules exceeds the quota.",
                    ));
                }
                let a = account(&mut st, &ctx.region, &ctx.account, now);
                let group = a
                    .groups
                    .get_mut(&spec.key.group)
                    .ok_or_else(|| group_not_found(&spec.key.group))?;
                if group.schedules.contains_key(&spec.key.name) {
                    return Err(conflict(format!("Schedule {} already exists.", spec.key.name)));
                }
                group.schedules.insert(
                    spec.key.name.clone(),
                    Entry {
                        spec: Arc::clone(&spec),
                        timer: None,
                        fired: false,
                        last: None,
                    },
                );
                st.schedules += 1;
                place(&mut st, &spec, now);
                drop(st);
                self.wake_runner();
                Ok(json!({ "ScheduleArn": &*spec.arn }))
            },
        )
    }

    pub fn update_schedule(&self, ctx: &RequestContext, input: ScheduleInput) -> Result<Value, AwsError> {
        let fingerprint = format!("{}|{}", input.name, serde_json::to_string(&input).unwrap_or_default());
        self.idempotent(
            ctx,
            "UpdateSchedule",
            input.client_token.as_deref(),
            &fingerprint,
            || {
                check_members(&input)?;
                let now = self.now();
                let group_name = input.group_name.as_deref().unwrap_or(DEFAULT_GROUP);
                let created = {
                    let mut st = self.state();
                    let a = account(&mut st, &ctx.region, &ctx.account, now);
                    let g = a.groups.get(group_name).ok_or_else(|| group_not_found(group_name))?;
                    g.schedules
                        .get(&input.name)
                        .map(|e| e.spec.created)
                        .ok_or_else(|| schedule_not_found(&input.name))?
                };
                let spec = Arc::new(self.compile(ctx, &input, created)?);
                let mut st = self.state();
                let State { accounts, timer, .. } = &mut *st;
                let entry = accounts
                    .get_mut(&(ctx.region.clone(), ctx.account.clone()))
                    .and_then(|a| a.groups.get_mut(group_name))
                    .and_then(|g| g.schedules.get_mut(&input.name))
                    .ok_or_else(|| schedule_not_found(&input.name))?;
                if let Some(k) = entry.timer.take() {
                    timer.remove(&k);
                }
                if entry.spec.expression != spec.expression || entry.spec.timezone != spec.timezone {
                    entry.fired = false;
                    entry.last = None;
                }
                entry.spec = Arc::clone(&spec);
                place(&mut st, &spec, now);
                drop(st);
                self.wake_runner();
                Ok(json!({ "ScheduleArn": &*spec.arn }))
            },
        )
    }

    pub fn get_schedule(&self, ctx: &RequestContext, name: &str, group: Option<&str>) -> Result<Value, AwsError> {
        check_name_and_group(name, group)?;
        let group = group.unwrap_or(DEFAULT_GROUP);
        let now = self.now();
        let mut st = self.state();
        let a = account(&mut st, &ctx.region, &ctx.account, now);
        let g = a.groups.get(group).ok_or_else(|| group_not_found(group))?;
        let e = g.schedules.get(name).ok_or_else(|| schedule_not_found(name))?;
        Ok(schedule_json(&e.spec))
    }

    pub fn delete_schedule(
        &self,
        ctx: &RequestContext,
        name: &str,
        group: Option<&str>,
        client_token: Option<&str>,
    ) -> Result<Value, AwsError> {
        check_name_and_group(name, group)?;
        let mut v = Violations::new();
        v.optional(
            client_token,
            "clientToken",
            1,
            64,
            Some((validate::CLIENT_TOKEN_PATTERN, validate::is_client_token)),
        );
        v.finish()?;
        let group = group.unwrap_or(DEFAULT_GROUP);
        let fingerprint = format!("{group}/{name}");
        self.idempotent(ctx, "DeleteSchedule", client_token, &fingerprint, || {
            let now = self.now();
            let mut st = self.state();
            let a = account(&mut st, &ctx.region, &ctx.account, now);
            let g = a.groups.get_mut(group).ok_or_else(|| group_not_found(group))?;
            let e = g.schedules.remove(name).ok_or_else(|| schedule_not_found(name))?;
            if let Some(k) = e.timer {
                st.timer.remove(&k);
            }
            st.schedules -= 1;
            Ok(json!({}))
        })
    }

    pub fn list_schedules(&self, ctx: &RequestContext, input: &ListSchedulesInput) -> Result<Value, AwsError> {
        let mut v = Violations::new();
        v.optional(
            input.group_name.as_deref(),
            "groupName",
            1,
            64,
            Some((NAME_PATTERN, validate::is_name)),
        );
        v.optional(
            input.name_prefix.as_deref(),
            "namePrefix",
            1,
            64,
            Some((NAME_PATTERN, validate::is_name)),
        );
        v.one_of(input.state.as_deref(), "state", &["ENABLED", "DISABLED"]);
        v.optional(input.next_token.as_deref(), "nextToken", 1, 2048, None);
        let max = max_results(&mut v, input.max_results.as_deref());
        v.finish()?;
        // The last (group, name) of the previous page.
        let after = match input.next_token.as_deref().map(decode_token).transpose()? {
            None => None,
            Some(t) => Some(
                t.split_once('/')
                    .map(|(g, n)| (g.to_owned(), n.to_owned()))
                    .ok_or_else(|| validation("The NextToken provided is not valid."))?,
            ),
        };
        let now = self.now();
        let mut st = self.state();
        let a = account(&mut st, &ctx.region, &ctx.account, now);
        if let Some(g) = &input.group_name {
            if !a.groups.contains_key(g) {
                return Err(group_not_found(g));
            }
        }
        let prefix = input.name_prefix.as_deref().unwrap_or_default();
        let want_enabled = input.state.as_deref().map(|s| s == "ENABLED");
        let mut page: Vec<Value> = Vec::new();
        let mut last: Option<(String, String)> = None;
        let mut more = false;
        'groups: for (gname, g) in &a.groups {
            if input.group_name.as_ref().is_some_and(|want| want != gname) {
                continue;
            }
            if let Some((ag, _)) = &after {
                if gname < ag {
                    continue;
                }
            }
            for (name, e) in &g.schedules {
                if let Some((ag, an)) = &after {
                    if gname == ag && name <= an {
                        continue;
                    }
                }
                if !name.starts_with(prefix) || want_enabled.is_some_and(|w| w != e.spec.enabled) {
                    continue;
                }
                if page.len() == max {
                    more = true;
                    break 'groups;
                }
                page.push(summary_json(&e.spec));
                last = Some((gname.clone(), name.clone()));
            }
        }
        let mut out = json!({ "Schedules": page });
        if more {
            if let Some((g, n)) = last {
                out["NextToken"] = Value::String(encode_token(&format!("{g}/{n}")));
            }
        }
        Ok(out)
    }
}

fn check_name_and_group(name: &str, group: Option<&str>) -> Result<(), AwsError> {
    let mut v = Violations::new();
    v.required(Some(name), "name", 1, 64, Some((NAME_PATTERN, validate::is_name)));
    v.optional(group, "groupName", 1, 64, Some((NAME_PATTERN, validate::is_name)));
    v.finish()
}

/// The delivery lane of a schedule's invocations of `target` (one per target, like any
/// producer's): `arn:aws:scheduler:<region>:<account>:invocation/<target ARN>`.
pub(crate) fn lane_arn(key: &ScheduleKey, target: &str) -> Arc<Arn> {
    let target = target
        .strip_prefix(UNIVERSAL_PREFIX)
        .map_or_else(|| target.to_owned(), |rest| format!("aws-sdk:{rest}"));
    Arc::new(Arn::new(
        Scheduler::NAMESPACE,
        &key.region,
        &key.account,
        &format!("invocation/{target}"),
    ))
}

/// Puts `spec`'s first firing (from `now`) in the timer, if it has one.
///
/// A `rate()` fires first at its anchor (its StartDate, else its creation: "starts invoking its
/// target immediately"), unless the anchor is long past (an update of an older schedule: the
/// next period after now); a `cron()` at its first time from now or its StartDate. Never again
/// for a time it has already fired for.
pub(crate) fn place(st: &mut State, spec: &Arc<Spec>, now: u64) {
    if !spec.enabled {
        return;
    }
    let (fired, last) = st
        .accounts
        .get(&(spec.key.region.clone(), spec.key.account.clone()))
        .and_then(|a| a.groups.get(&spec.key.group))
        .and_then(|g| g.schedules.get(&spec.key.name))
        .map_or((false, None), |e| (e.fired, e.last));
    let scheduled = if spec.compiled.one_time() {
        if fired {
            return;
        }
        // A time already past fires at once.
        spec.compiled.at().map(|t| t.max(now))
    } else {
        let mut after = match spec.start {
            Some(s) if s > now => s - 1,
            _ if spec.anchor + START_DATE_SLACK_MILLIS >= now && !spec.compiled.is_cron() => {
                spec.anchor.saturating_sub(1)
            }
            _ => now,
        };
        if let Some(l) = last {
            after = after.max(l);
        }
        spec.compiled
            .next_after(after, spec.anchor)
            .filter(|t| spec.end.is_none_or(|e| *t <= e))
    };
    if let Some(t) = scheduled {
        insert_timer(st, spec, t);
    }
}

/// Adds a firing of `spec` for `scheduled` (its flexible window applied) and records it.
pub(crate) fn insert_timer(st: &mut State, spec: &Arc<Spec>, scheduled: u64) {
    let jitter = if spec.window_millis > 0 {
        lb_core::ids::random_u64() % spec.window_millis
    } else {
        0
    };
    let seq = st.timer_seq;
    st.timer_seq += 1;
    let k = (scheduled + jitter, seq);
    st.timer.insert(
        k,
        TimerEntry {
            key: Arc::clone(&spec.key),
            scheduled,
        },
    );
    if let Some(e) = st
        .accounts
        .get_mut(&(spec.key.region.clone(), spec.key.account.clone()))
        .and_then(|a| a.groups.get_mut(&spec.key.group))
        .and_then(|g| g.schedules.get_mut(&spec.key.name))
    {
        e.timer = Some(k);
    }
}

fn schedule_json(s: &Spec) -> Value {
    let mut out = json!({
        "Arn": &*s.arn,
        "GroupName": s.key.group,
        "Name": s.key.name,
        "ScheduleExpression": s.expression,
        "ScheduleExpressionTimezone": s.timezone.as_deref().unwrap_or("UTC"),
        "State": if s.enabled { "ENABLED" } else { "DISABLED" },
        "CreationDate": timestamp(s.created),
        "LastModificationDate": timestamp(s.modified),
        "Target": s.target,
        "FlexibleTimeWindow": s.flexible,
        "ActionAfterCompletion": s.action_after_completion,
    });
    if let Some(d) = s.start {
        out["StartDate"] = timestamp(d);
    }
    if let Some(d) = s.end {
        out["EndDate"] = timestamp(d);
    }
    if let Some(d) = &s.description {
        out["Description"] = Value::String(d.clone());
    }
    if let Some(k) = &s.kms_key_arn {
        out["KmsKeyArn"] = Value::String(k.clone());
    }
    out
}

fn summary_json(s: &Spec) -> Value {
    json!({
        "Arn": &*s.arn,
        "Name": s.key.name,
        "GroupName": s.key.group,
        "State": if s.enabled { "ENABLED" } else { "DISABLED" },
        "CreationDate": timestamp(s.created),
        "LastModificationDate": timestamp(s.modified),
        "Target": { "Arn": s.target.arn },
    })
}
