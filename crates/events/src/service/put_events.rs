//! PutEvents, and routing: an event on a bus is matched against the bus's enabled rules at once
//! and handed to the delivery engine, one delivery per matched target. The caller never waits
//! for a target; a failing target never fails the call.

use std::borrow::Cow;
use std::sync::Arc;

use lb_core::deliver::SubmitError;
use lb_core::{AwsError, RequestContext};
use serde::Deserialize;

use super::{constraint, validation, Events, DEFAULT_BUS};
use crate::journal::{JournalEntry, JournalMatch};
use crate::model::{PutEventsEntry, PutEventsResult};
use crate::route::{delivery, BusHandle, RoutedEvent};

/// The most entries in one PutEvents (botocore `PutEventsRequestEntryList.max`).
pub const MAX_ENTRIES: usize = 10;
/// The most bytes the entries of one PutEvents may total, counted as AWS counts them
/// (EventBridge User Guide, "Calculating PutEvents event entry size").
pub const MAX_ENTRIES_SIZE: usize = 256 * 1024;

/// An entry's size as AWS computes it: 14 bytes for a `Time`, then the UTF-8 bytes of
/// `Source`, `DetailType`, `Detail` and each of `Resources`.
pub fn entry_size(e: &PutEventsEntry<'_>) -> usize {
    let len = |s: &Option<Cow<'_, str>>| s.as_ref().map_or(0, |s| s.len());
    usize::from(e.time_millis.is_some()) * 14
        + len(&e.source)
        + len(&e.detail_type)
        + len(&e.detail)
        + e.resources.iter().flatten().map(|r| r.len()).sum::<usize>()
}

/// Formats epoch milliseconds as an event's `time`: RFC 3339, UTC, whole seconds.
pub fn event_time(millis: u64) -> String {
    let s = lb_core::clock::iso8601_millis(millis);
    format!("{}Z", &s[..19])
}

fn push_json_string(out: &mut String, s: &str) {
    // Writing JSON into a String cannot fail.
    if let Ok(j) = serde_json::to_string(s) {
        out.push_str(&j);
    }
}

fn entry_error(code: &str, message: impl Into<String>) -> PutEventsResult {
    PutEventsResult::Failed {
        code: code.to_owned(),
        message: message.into(),
    }
}

/// Why routing an event did not hand all its deliveries to the engine.
#[derive(Debug)]
pub(crate) struct Throttled;

#[derive(Deserialize)]
struct EventId {
    id: String,
}

/// What the entries of one PutEvents share.
struct Call<'a> {
    ctx: &'a RequestContext,
    now: u64,
    now_text: String,
    account: Arc<str>,
    trace_header: Option<Arc<str>>,
    /// `localbridge replay`'s mark (see `api::REPLAY_HEADER`).
    replay: Option<&'a str>,
}

impl Events {
    /// Sends events to buses; one result per entry, in order.
    pub fn put_events(
        &self,
        ctx: &RequestContext,
        entries: Option<Vec<PutEventsEntry<'_>>>,
    ) -> Result<Vec<PutEventsResult>, AwsError> {
        self.put_events_marked(ctx, entries, None)
    }

    /// PutEvents from `localbridge replay` when `replay` is its mark: `aws.` sources are
    /// allowed, and each event gets a top-level `replay-name` (the mark), as EventBridge marks
    /// the events an archive replays, so rules can tell them apart.
    pub fn put_events_marked(
        &self,
        ctx: &RequestContext,
        entries: Option<Vec<PutEventsEntry<'_>>>,
        replay: Option<&str>,
    ) -> Result<Vec<PutEventsResult>, AwsError> {
        let entries = entries.ok_or_else(|| constraint(None, "entries", "Member must not be null"))?;
        if entries.is_empty() {
            return Err(constraint(
                Some("[]"),
                "entries",
                "Member must have length greater than or equal to 1",
            ));
        }
        if entries.len() > MAX_ENTRIES {
            return Err(constraint(
                Some(&format!("[{} entries]", entries.len())),
                "entries",
                "Member must have length less than or equal to 10",
            ));
        }
        if entries.iter().map(entry_size).sum::<usize>() > MAX_ENTRIES_SIZE {
            return Err(validation(
                "Total size of the entries in the request is over the limit.",
            ));
        }
        for e in &entries {
            if let Some(b) = &e.event_bus_name {
                super::check_length(b, "entries.member.eventBusName", 1, 1600)?;
            }
            if let Some(t) = &e.trace_header {
                super::check_length(t, "entries.member.traceHeader", 1, 500)?;
            }
        }
        let now = self.clock.now_millis();
        let call = Call {
            ctx,
            now,
            now_text: event_time(now),
            account: Arc::from(ctx.account.as_str()),
            trace_header: ctx.trace_header.as_deref().map(Arc::from),
            replay,
        };
        // The buses named, each looked up once per call.
        let mut buses: Vec<(Option<String>, Option<Arc<BusHandle>>)> = Vec::with_capacity(1);
        Ok(entries
            .into_iter()
            .map(|e| self.put_entry(&call, e, &mut buses))
            .collect())
    }

    fn put_entry(
        &self,
        call: &Call<'_>,
        e: PutEventsEntry<'_>,
        buses: &mut Vec<(Option<String>, Option<Arc<BusHandle>>)>,
    ) -> PutEventsResult {
        let ctx = call.ctx;
        let Some(source) = e.source.as_deref().filter(|s| !s.is_empty()) else {
            return entry_error(
                "InvalidArgument",
                "Parameter Source is not valid. Reason: Source is a required argument.",
            );
        };
        let Some(detail_type) = e.detail_type.as_deref().filter(|s| !s.is_empty()) else {
            return entry_error(
                "InvalidArgument",
                "Parameter DetailType is not valid. Reason: DetailType is a required argument.",
            );
        };
        let Some(detail) = e.detail.as_deref().filter(|s| !s.is_empty()) else {
            return entry_error(
                "InvalidArgument",
                "Parameter Detail is not valid. Reason: Detail is a required argument.",
            );
        };
        let is_object =
            detail.trim_start().starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(detail).is_ok();
        if !is_object {
            return entry_error("MalformedDetail", "Detail is malformed.");
        }
        if source.starts_with("aws.") && call.replay.is_none() {
            return entry_error("NotAuthorizedForSourceException", "Not authorized for the source.");
        }
        let (region, account, name) = match e.event_bus_name.as_deref() {
            None => (ctx.region.as_str(), ctx.account.as_str(), DEFAULT_BUS),
            Some(b) => match parse_bus_arn(b) {
                Some(parts) => parts,
                None => (ctx.region.as_str(), ctx.account.as_str(), b),
            },
        };
        let known = buses
            .iter()
            .find(|(n, _)| n.as_deref() == e.event_bus_name.as_deref())
            .map(|(_, h)| h.clone());
        let handle = known.unwrap_or_else(|| {
            let h = self.bus_handle(region, account, name);
            buses.push((e.event_bus_name.as_deref().map(str::to_owned), h.clone()));
            h
        });
        let Some(bus) = handle else {
            return entry_error("ResourceNotFoundException", format!("Event bus {name} does not exist."));
        };
        if bus.account != ctx.account && !super::access::allows_put_events(bus.policy().as_deref(), &ctx.account) {
            return entry_error(
                "AccessDeniedException",
                format!(
                    "User: arn:aws:iam::{}:root is not authorized to perform: events:PutEvents on resource: {} because no resource-based policy allows the events:PutEvents action",
                    ctx.account, bus.arn
                ),
            );
        }
        let id = lb_core::ids::uuid_shared();
        let entry_time;
        let time = match e.time_millis {
            Some(t) => {
                entry_time = event_time(t);
                &entry_time
            }
            None => &call.now_text,
        };
        let resources_len: usize = e.resources.iter().flatten().map(|r| r.len() + 3).sum();
        let mut text = String::with_capacity(200 + detail.len() + source.len() + detail_type.len() + resources_len);
        text.push_str(r#"{"version":"0","id":""#);
        text.push_str(&id);
        text.push_str(r#"","detail-type":"#);
        push_json_string(&mut text, detail_type);
        text.push_str(r#","source":"#);
        push_json_string(&mut text, source);
        text.push_str(r#","account":""#);
        text.push_str(&ctx.account);
        text.push_str(r#"","time":""#);
        text.push_str(time);
        text.push_str(r#"","region":""#);
        text.push_str(&bus.region);
        text.push('"');
        if let Some(mark) = call.replay {
            // After `region`, where EventBridge's own replays put it (`archive::with_replay_name`).
            text.push_str(r#","replay-name":"#);
            push_json_string(&mut text, mark);
        }
        text.push_str(r#","resources":["#);
        for (i, r) in e.resources.iter().flatten().enumerate() {
            if i > 0 {
                text.push(',');
            }
            push_json_string(&mut text, r);
        }
        text.push_str(r#"],"detail":"#);
        // EventBridge delivers `detail` compact (most details are already).
        if detail.bytes().any(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t')) {
            text.push_str(&lb_rules::transform::minify(detail));
        } else {
            text.push_str(detail);
        }
        text.push('}');
        let mut event = RoutedEvent::new(Arc::clone(&id), text.into(), Arc::clone(&call.account), &call.now_text);
        event.trace_header = match e.trace_header {
            Some(t) => Some(Arc::from(&*t)),
            None => call.trace_header.clone(),
        };
        match self.route(&bus, &mut event, call.now) {
            Ok(()) => PutEventsResult::Accepted { event_id: id },
            Err(Throttled) => entry_error("ThrottlingException", "Rate exceeded."),
        }
    }

    /// An event another producer delivered to a bus (S3's `aws.s3` events, a rule's event-bus
    /// target): routed like a PutEvents entry.
    pub(crate) fn route_delivered(
        &self,
        bus: &BusHandle,
        text: Arc<str>,
        account: &str,
        trace: Option<Arc<str>>,
    ) -> Result<(), Throttled> {
        let id = serde_json::from_str::<EventId>(&text).map(|e| e.id).unwrap_or_default();
        let now = self.clock.now_millis();
        let now_text = event_time(now);
        let mut event = RoutedEvent::new(id.into(), text, account.into(), &now_text);
        event.trace_header = trace;
        self.route(bus, &mut event, now)
    }

    /// Matches `event` against the bus's rules and submits a delivery per matched target (an
    /// archive's managed rule archives it instead); the journal records what happened. `Err`
    /// when the engine had no room for some delivery.
    pub(super) fn route(&self, bus: &BusHandle, event: &mut RoutedEvent<'_>, now: u64) -> Result<(), Throttled> {
        thread_local! {
            // The matched rules' keys, reused from one event to the next.
            static KEYS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let mut keys = KEYS.take();
        // The rules are read under the router's read lock (no await here): routing clones no
        // rule, and a rule changed meanwhile waits for this event, as it would on AWS.
        let router = bus.router();
        if let Err(e) = router.matching(event.text.as_bytes(), &mut keys) {
            tracing::warn!(event = %event.id, error = %e, "the event could not be matched");
        }
        let mut throttled = false;
        let mut record = Vec::with_capacity(keys.len());
        let mut archives = Vec::new();
        let only = event.only_rules;
        let rules = keys
            .iter()
            .filter_map(|k| router.rule(*k))
            .filter(|r| only.is_none_or(|only| only.iter().any(|a| **a == *r.arn)));
        for rule in rules {
            rule.counters.matched.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // An archive's managed rule has no targets; the archive takes the event.
            if rule.targets.is_empty() {
                if let Some(archive) = self.archives.store.archive_of_rule(&rule.arn) {
                    archives.push(archive);
                }
            }
            let mut m = JournalMatch {
                rule: Arc::clone(&rule.name),
                arn: Arc::clone(&rule.arn),
                deliveries: Vec::with_capacity(rule.targets.len()),
                errors: Vec::new(),
            };
            for t in &rule.targets {
                match delivery(event, rule, t) {
                    Ok(d) => match self.engine.submit(d) {
                        Ok(ledger_id) => m.deliveries.push(ledger_id),
                        Err(SubmitError::Full | SubmitError::ShuttingDown) => {
                            rule.counters
                                .throttled
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            m.errors
                                .push(format!("target {}: the delivery engine had no room (throttled)", t.id));
                            throttled = true;
                        }
                    },
                    Err(reason) => {
                        rule.counters
                            .input_failures
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!(rule = %rule.arn, target = %t.id, %reason, "target input could not be built");
                        m.errors
                            .push(format!("target {}: the input could not be built: {reason}", t.id));
                    }
                }
            }
            record.push(m);
        }
        drop(router);
        KEYS.set(keys);
        for archive in archives {
            self.archives.store.record(archive, &event.text, &event.account, now);
        }
        self.journal().record(JournalEntry {
            id: Arc::clone(&event.id),
            bus: Arc::clone(&bus.arn),
            event: Arc::clone(&event.text),
            at: now,
            matched: record,
        });
        if throttled {
            Err(Throttled)
        } else {
            Ok(())
        }
    }
}

/// `(region, account, name)` of an event bus ARN.
pub(crate) fn parse_bus_arn(s: &str) -> Option<(&str, &str, &str)> {
    let rest = s.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (_partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if service != "events" {
        return None;
    }
    Some((region, account, resource.strip_prefix("event-bus/")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_times_and_minified_details() {
        let e = PutEventsEntry {
            time_millis: Some(1),
            source: Some("a".into()),
            detail_type: Some("bc".into()),
            detail: Some("{}".into()),
            resources: Some(vec!["xyz".into()]),
            ..PutEventsEntry::default()
        };
        assert_eq!(entry_size(&e), 14 + 1 + 2 + 2 + 3);
        assert_eq!(event_time(1_700_000_000_999), "2023-11-14T22:13:20Z");
        assert_eq!(
            parse_bus_arn("arn:aws:events:eu-west-1:111122223333:event-bus/orders"),
            Some(("eu-west-1", "111122223333", "orders"))
        );
        assert_eq!(parse_bus_arn("orders"), None);
    }
}
