//! StartReplay, DescribeReplay, ListReplays, CancelReplay, and the replay itself.
//!
//! A replay is a task on the platform clock: StartReplay answers `STARTING`; the task turns it
//! `RUNNING`, sends the archived events whose `time` is in `[EventStartTime, EventEndTime)` to
//! the archive's bus in time order, each with `replay-name` added ([`with_replay_name`]), routed
//! through the normal path (rules, engine, retries, dead-letter queues, ledger, journal) but only
//! to the rules of `Destination.FilterArns` when it is given (all the bus's rules otherwise, as the
//! console's "All rules"). A window that ends in the future waits on the clock for its end, then
//! sends what was archived meanwhile; the replay is then `COMPLETED`. CancelReplay answers
//! `CANCELLING` and the task stops at its next event (`CANCELLED`). Replayed events are never
//! archived: the archives' managed rules exclude events with `replay-name`.
//!
//! AWS's answers, where known (recorded against AWS by other emulators' test suites):
//! `ResourceAlreadyExistsException` "Replay <name> already exists.", `ValidationException`
//! "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime." (also
//! for equal times), "Parameter EventSourceArn is not valid. Reason: Archive <name> does not
//! exist.", "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not
//! permitted.", `ResourceNotFoundException` "Event bus <name> does not exist." for a destination
//! bus that does not exist; an EventEndTime in the future is accepted. At most 10 replays of an
//! account and region are active at once (EventBridge User Guide). Ended replays are kept 90 days.

use std::collections::BTreeMap;
use std::sync::Arc;

use lb_core::{AwsError, RequestContext};
use serde::Deserialize;

use super::archives::{check_events_arn, one_filter, page_filtered};
use super::put_events::{event_time, parse_bus_arn};
use super::{check_length, check_name, constraint, limit_exceeded, not_found, required, validation, Events};
use crate::archive::{
    with_replay_name, ArchivedEvent, ListArchivesInput, Replay, ReplayProgress, ReplayRun, ReplayState,
    StartReplayInput,
};
use crate::model::Page;
use crate::route::{BusHandle, RoutedEvent};

/// Active (STARTING, RUNNING, CANCELLING) replays per account and region.
pub const MAX_ACTIVE_REPLAYS: usize = 10;
/// How long an ended replay is kept (AWS: 90 days).
const KEPT_MILLIS: u64 = 90 * 86_400_000;
/// Ended replays kept per account and region at most (the oldest ended leave first).
const MAX_KEPT: usize = 10_000;
/// Events sent between two yields of the replay task.
const BATCH: usize = 64;

fn replay_name(name: Option<&str>) -> Result<&str, AwsError> {
    let name = required(name, "replayName")?;
    check_name(name, "replayName", 64, false)?;
    Ok(name)
}

fn replay_missing(name: &str) -> AwsError {
    not_found(format!("Replay {name} does not exist."))
}

#[derive(Deserialize)]
struct EventId {
    id: String,
}

impl Events {
    /// StartReplay. Takes the service by `Arc`: the replay runs in a task of its own.
    pub fn start_replay(self: &Arc<Self>, ctx: &RequestContext, input: StartReplayInput) -> Result<Replay, AwsError> {
        let name = replay_name(input.replay_name.as_deref())?;
        if let Some(d) = &input.description {
            check_length(d, "description", 0, 512)?;
        }
        let source = required(input.event_source_arn.as_deref(), "eventSourceArn")?;
        check_events_arn(source, "eventSourceArn")?;
        let start = input
            .event_start_time
            .ok_or_else(|| constraint(None, "eventStartTime", "Member must not be null"))?;
        let end = input
            .event_end_time
            .ok_or_else(|| constraint(None, "eventEndTime", "Member must not be null"))?;
        let destination = input
            .destination
            .ok_or_else(|| constraint(None, "destination", "Member must not be null"))?;
        let dest = required(destination.arn.as_deref(), "destination.arn")?;
        check_length(dest, "destination.arn", 1, 1600)?;
        for f in destination.filter_arns.iter().flatten() {
            check_length(f, "destination.filterArns.member", 1, 1600)?;
        }
        let key = (ctx.region.clone(), ctx.account.clone());
        if self.archives.replays().get(&key).is_some_and(|r| r.contains_key(name)) {
            return Err(AwsError::new(
                "ResourceAlreadyExistsException",
                400,
                format!("Replay {name} already exists."),
            ));
        }
        if end <= start {
            return Err(validation(
                "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.",
            ));
        }
        let archive_name = source.rsplit_once('/').map_or(source, |(_, n)| n);
        let own_archive = source
            .rsplit_once(":archive/")
            .is_some_and(|(prefix, _)| prefix.ends_with(&format!(":{}:{}", ctx.region, ctx.account)));
        let archive = own_archive
            .then(|| {
                self.archives
                    .defs()
                    .get(&key)
                    .and_then(|s| s.get(archive_name))
                    .cloned()
            })
            .flatten()
            .ok_or_else(|| {
                validation(format!(
                    "Parameter EventSourceArn is not valid. Reason: Archive {archive_name} does not exist."
                ))
            })?;
        let Some((_, _, dest_bus)) = parse_bus_arn(dest) else {
            return Err(validation(
                "Parameter Destination.Arn is not valid. Reason: Must contain an event bus ARN.",
            ));
        };
        let dest_exists = self.bus_by_arn(dest).is_some();
        if !dest_exists {
            return Err(Self::bus_missing(dest_bus));
        }
        if dest != archive.source_arn {
            return Err(validation(
                "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.",
            ));
        }
        let now = self.clock.now_millis();
        let filter_arns = destination.filter_arns.filter(|f| !f.is_empty());
        let run = Arc::new(ReplayRun {
            name: name.to_owned(),
            arn: format!("arn:aws:events:{}:{}:replay/{name}", ctx.region, ctx.account),
            description: input.description.filter(|d| !d.is_empty()),
            archive_arn: source.to_owned(),
            archive_id: archive.id,
            destination_arn: dest.to_owned(),
            filter_arns,
            start,
            end,
            started: now,
            progress: std::sync::Mutex::new(ReplayProgress {
                state: ReplayState::Starting,
                reason: None,
                last_replayed: None,
                ended: None,
                replayed: 0,
                throttled: 0,
            }),
            cancel: tokio::sync::Notify::new(),
        });
        {
            let mut replays = self.archives.replays();
            let scope = replays.entry(key).or_default();
            if scope.contains_key(name) {
                return Err(AwsError::new(
                    "ResourceAlreadyExistsException",
                    400,
                    format!("Replay {name} already exists."),
                ));
            }
            prune(scope, now);
            let active = scope.values().filter(|r| !r.progress().state.is_final()).count();
            if active >= MAX_ACTIVE_REPLAYS {
                return Err(limit_exceeded());
            }
            scope.insert(name.to_owned(), Arc::clone(&run));
        }
        let view = run.view();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(Arc::clone(self).run_replay(run));
            }
            Err(_) => finish(
                &run,
                ReplayState::Failed,
                Some("localbridge had no runtime to run the replay on.".to_owned()),
                now,
            ),
        }
        Ok(view)
    }

    fn replay_run(&self, ctx: &RequestContext, name: &str) -> Result<Arc<ReplayRun>, AwsError> {
        self.archives
            .replays()
            .get(&(ctx.region.clone(), ctx.account.clone()))
            .and_then(|s| s.get(name))
            .cloned()
            .ok_or_else(|| replay_missing(name))
    }

    pub fn describe_replay(&self, ctx: &RequestContext, name: Option<&str>) -> Result<Replay, AwsError> {
        let name = replay_name(name)?;
        Ok(self.replay_run(ctx, name)?.view())
    }

    /// ListReplays: at most one of its filters, pages in name order.
    pub fn list_replays(&self, ctx: &RequestContext, input: &ListArchivesInput) -> Result<Page<Replay>, AwsError> {
        if let Some(p) = &input.name_prefix {
            check_name(p, "namePrefix", 64, false)?;
        }
        if let Some(a) = &input.event_source_arn {
            check_events_arn(a, "eventSourceArn")?;
        }
        let state = match input.state.as_deref() {
            None => None,
            Some(s) => Some(ReplayState::parse(s).ok_or_else(|| {
                constraint(
                    Some(s),
                    "state",
                    "Member must satisfy enum value set: [STARTING, RUNNING, CANCELLING, COMPLETED, CANCELLED, FAILED]",
                )
            })?),
        };
        one_filter("ListReplays", input)?;
        let now = self.clock.now_millis();
        let replays: BTreeMap<String, Arc<ReplayRun>> = {
            let mut all = self.archives.replays();
            let scope = all.entry((ctx.region.clone(), ctx.account.clone())).or_default();
            prune(scope, now);
            scope.clone()
        };
        let prefix = input.name_prefix.as_deref().unwrap_or("");
        page_filtered(
            &replays,
            input.next_token.as_deref(),
            input.limit,
            |r| {
                r.name.starts_with(prefix)
                    && input.event_source_arn.as_deref().is_none_or(|a| a == r.archive_arn)
                    && state.is_none_or(|s| s == r.progress().state)
            },
            |r| r.view(),
        )
    }

    /// CancelReplay: a STARTING or RUNNING replay becomes CANCELLING, then CANCELLED when its
    /// task stops.
    pub fn cancel_replay(&self, ctx: &RequestContext, name: Option<&str>) -> Result<Replay, AwsError> {
        let name = replay_name(name)?;
        let run = self.replay_run(ctx, name)?;
        {
            let mut p = run.progress();
            if !matches!(p.state, ReplayState::Starting | ReplayState::Running) {
                return Err(AwsError::new(
                    "IllegalStatusException",
                    400,
                    format!("Replay {name} is not in a valid state for this operation."),
                ));
            }
            p.state = ReplayState::Cancelling;
        }
        run.cancel.notify_one();
        Ok(run.view())
    }

    /// The replay's task: see the module documentation.
    async fn run_replay(self: Arc<Self>, run: Arc<ReplayRun>) {
        {
            let mut p = run.progress();
            if p.state != ReplayState::Starting {
                drop(p);
                finish(&run, ReplayState::Cancelled, None, self.clock.now_millis());
                return;
            }
            p.state = ReplayState::Running;
        }
        let mut after = 0;
        loop {
            let now = self.clock.now_millis();
            let Some(batch) = self
                .archives
                .store
                .window(run.archive_id, run.start, run.end, after, now)
            else {
                let archive = run.archive_arn.rsplit_once('/').map_or("", |(_, n)| n);
                let reason = format!("Archive {archive} does not exist.");
                finish(&run, ReplayState::Failed, Some(reason), now);
                return;
            };
            let Some(bus) = self.bus_by_arn(&run.destination_arn) else {
                let bus = run.destination_arn.rsplit_once('/').map_or("", |(_, n)| n);
                finish(
                    &run,
                    ReplayState::Failed,
                    Some(format!("Event bus {bus} does not exist.")),
                    now,
                );
                return;
            };
            for (i, e) in batch.iter().enumerate() {
                if i % BATCH == BATCH - 1 {
                    tokio::task::yield_now().await;
                }
                if cancelling(&run) {
                    finish(&run, ReplayState::Cancelled, None, self.clock.now_millis());
                    return;
                }
                after = after.max(e.seq);
                let sent = self.replay_event(&bus, &run, e);
                let mut p = run.progress();
                p.replayed += 1;
                p.throttled += u64::from(!sent);
                p.last_replayed = Some(e.time);
            }
            if cancelling(&run) {
                finish(&run, ReplayState::Cancelled, None, self.clock.now_millis());
                return;
            }
            if self.clock.now_millis() >= run.end {
                break;
            }
            // The window is not over: events may still be archived in it. Wait for its end (or
            // a cancel), then send what came meanwhile.
            let sleep = self.clock.sleep_until(run.end);
            tokio::select! {
                () = sleep => {}
                () = run.cancel.notified() => {}
            }
        }
        let p = run.progress().clone();
        let reason = (p.throttled > 0).then(|| {
            format!(
                "{} of the {} replayed events found the delivery engine full for some target; the event journal (/_localbridge/events/<id>) says which.",
                p.throttled, p.replayed
            )
        });
        finish(&run, ReplayState::Completed, reason, self.clock.now_millis());
    }

    /// Sends one archived event to the bus as the replay's; `false` when the engine had no room
    /// for some of its deliveries.
    fn replay_event(&self, bus: &BusHandle, run: &ReplayRun, e: &ArchivedEvent) -> bool {
        let text: Arc<str> = with_replay_name(&e.text, &run.name).into();
        let id = serde_json::from_str::<EventId>(&text).map(|e| e.id).unwrap_or_default();
        let now = self.clock.now_millis();
        let now_text = event_time(now);
        let mut event = RoutedEvent::new(id.into(), text, Arc::clone(&e.account), &now_text);
        event.only_rules = run.filter_arns.as_deref();
        self.route(bus, &mut event, now).is_ok()
    }
}

fn cancelling(run: &ReplayRun) -> bool {
    run.progress().state == ReplayState::Cancelling
}

fn finish(run: &ReplayRun, state: ReplayState, reason: Option<String>, now: u64) {
    let mut p = run.progress();
    p.state = state;
    p.reason = reason;
    p.ended = Some(now);
}

/// Forgets ended replays older than AWS keeps them, and the oldest ended beyond [`MAX_KEPT`].
fn prune(scope: &mut BTreeMap<String, Arc<ReplayRun>>, now: u64) {
    scope.retain(|_, r| {
        let p = r.progress();
        !(p.state.is_final() && p.ended.is_some_and(|e| e + KEPT_MILLIS < now))
    });
    if scope.len() > MAX_KEPT {
        let mut ended: Vec<(u64, String)> = scope
            .iter()
            .filter_map(|(n, r)| {
                let p = r.progress();
                p.state.is_final().then(|| (p.ended.unwrap_or(0), n.clone()))
            })
            .collect();
        ended.sort();
        for (_, n) in ended.into_iter().take(scope.len() - MAX_KEPT) {
            scope.remove(&n);
        }
    }
}
