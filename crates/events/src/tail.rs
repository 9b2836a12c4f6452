//! `GET /_localbridge/events/tail`: the events flowing on a bus, read live by cursor (what
//! `localbridge tail` prints, and what a web console can poll).
//!
//! Query parameters:
//! - `bus`: a bus name or ARN (default `default`); `region`, `account` place a name (default
//!   `us-east-1`, `000000000000`; an ARN says both).
//! - `pattern`: only events this EventBridge pattern matches (invalid: 400 with PutRule's
//!   `InvalidEventPatternException` message); or `rule`: only events that rule's pattern matches
//!   (the rule as it is at each poll; a rule without a pattern matches nothing).
//! - `after`: the cursor (`next` of the previous answer). Absent: from now on (only events
//!   recorded after this request arrived); `0`: from the oldest event the journal still holds.
//! - `wait`: seconds to wait for a first matching event when there is none yet (0 to 20,
//!   default 20). `limit`: the most events in one answer (1 to 10,000, default 1,000).
//!
//! The answer: `{"events": [...], "next": N, "missed": M}` — the events as routed, byte for
//! byte, oldest first; the cursor to pass next; and how many events (of all buses: an upper
//! bound for this filter) left the journal before this reader saw them.
//!
//! **Why a long poll over the journal, not a stream.** The journal already keeps every routed
//! event in a bounded ring (`serve --event-journal-capacity`), so a reader holding a cursor into
//! it loses nothing between two polls unless it falls a whole ring behind, and then it is told
//! how much it lost (`missed`) instead of silently skipping. A reader reconnects with the same
//! cursor after any hiccup, several readers share one ring, and each answer is an ordinary
//! bounded response (the gateway answers with whole bodies; a browser's `fetch` reads it). A
//! chunked stream would need a buffer per reader, lose what its socket buffer held when the
//! connection drops, and hold a connection the graceful shutdown has to cut.
//!
//! **Tailing costs nothing when nobody tails.** Routing records into the journal as it always
//! did; the ring's sequence numbers are implied by positions, and waking readers is skipped
//! unless some are waiting (one relaxed atomic load per event). Matching happens here, in the
//! reader's request, against the raw event bytes (`lb_rules`' compiled matcher).
//!
//! The wait is wall-clock time (tokio's), not the emulated clock: it bounds an HTTP request, and
//! a server on `--clock manual` must still answer its tail readers.

use std::sync::Arc;
use std::time::Duration;

use lb_core::RequestContext;
use lb_rules::compiled::Machine;

use crate::journal::JournalEntry;
use crate::service::{parse_pattern, DEFAULT_BUS};
use crate::Events;

/// The longest a tail request waits for a first event.
pub const MAX_WAIT_SECONDS: u64 = 20;
/// Events one answer may carry by default, and at most.
pub const DEFAULT_LIMIT: usize = 1_000;
pub const MAX_LIMIT: usize = 10_000;
/// Journal entries looked at per pass (matching happens outside the journal's lock).
const SCAN: usize = 4_096;

/// A parsed tail request.
#[derive(Debug, Clone, PartialEq)]
pub struct TailRequest {
    pub region: String,
    pub account: String,
    pub bus: String,
    pub filter: TailFilter,
    pub after: Option<u64>,
    pub wait: Duration,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailFilter {
    All,
    /// Pattern text (validated when the request was parsed).
    Pattern(String),
    Rule(String),
}

/// Why a tail request is refused: HTTP status, error code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl TailError {
    fn bad(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "InvalidParameterValue",
            message: message.into(),
        }
    }
}

impl TailRequest {
    /// Parses the query string.
    pub fn parse(query: Option<&str>) -> Result<Self, TailError> {
        let mut req = TailRequest {
            region: lb_core::DEFAULT_REGION.to_owned(),
            account: lb_core::DEFAULT_ACCOUNT.to_owned(),
            bus: DEFAULT_BUS.to_owned(),
            filter: TailFilter::All,
            after: None,
            wait: Duration::from_secs(MAX_WAIT_SECONDS),
            limit: DEFAULT_LIMIT,
        };
        let mut bus_arn = None;
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*k {
                "bus" => match parse_bus_arn(&v) {
                    Some((region, account, name)) => bus_arn = Some((region.into(), account.into(), name.into())),
                    None if v.is_empty() || v.starts_with("arn:") => {
                        return Err(TailError::bad(format!("bus must be a bus name or ARN (got {v:?})")))
                    }
                    None => req.bus = v.into_owned(),
                },
                "region" => req.region = v.into_owned(),
                "account" => req.account = v.into_owned(),
                "pattern" | "rule" if req.filter != TailFilter::All => {
                    return Err(TailError::bad("give one of pattern and rule"))
                }
                "pattern" => {
                    Matcher::pattern(&v)?;
                    req.filter = TailFilter::Pattern(v.into_owned());
                }
                "rule" => req.filter = TailFilter::Rule(v.into_owned()),
                "after" => {
                    req.after = Some(v.parse().map_err(|_| {
                        TailError::bad(format!("after must be a cursor from a previous answer (got {v:?})"))
                    })?)
                }
                "wait" => {
                    let w: f64 = v
                        .parse()
                        .ok()
                        .filter(|w: &f64| w.is_finite() && (0.0..=MAX_WAIT_SECONDS as f64).contains(w))
                        .ok_or_else(|| {
                            TailError::bad(format!("wait must be 0 to {MAX_WAIT_SECONDS} seconds (got {v:?})"))
                        })?;
                    req.wait = Duration::from_secs_f64(w);
                }
                "limit" => {
                    req.limit = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| TailError::bad(format!("limit must be 1 to {MAX_LIMIT} (got {v:?})")))?;
                }
                _ => {}
            }
        }
        if let Some((region, account, name)) = bus_arn {
            (req.region, req.account, req.bus) = (region, account, name);
        }
        Ok(req)
    }

    fn bus_arn(&self) -> String {
        format!("arn:aws:events:{}:{}:event-bus/{}", self.region, self.account, self.bus)
    }
}

/// `(region, account, name)` of an event bus ARN.
fn parse_bus_arn(s: &str) -> Option<(&str, &str, &str)> {
    let mut parts = s.strip_prefix("arn:")?.splitn(5, ':');
    let (_partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let name = resource.strip_prefix("event-bus/")?;
    (service == "events" && !name.is_empty()).then_some((region, account, name))
}

/// What filters events.
enum Matcher {
    All,
    Pattern(Box<Machine<u8>>),
    /// A rule without a pattern (schedule only) matches no event on its bus.
    Nothing,
}

impl Matcher {
    fn pattern(text: &str) -> Result<Self, TailError> {
        let pattern = parse_pattern(text).map_err(|e| TailError {
            status: 400,
            code: "InvalidEventPatternException",
            message: e.message,
        })?;
        let mut m = Machine::new();
        m.add(0u8, &pattern);
        Ok(Self::Pattern(Box::new(m)))
    }

    fn matches(&self, event: &[u8], hits: &mut Vec<u8>) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Pattern(m) => m.matches_into(event, hits).is_ok() && !hits.is_empty(),
            Matcher::Nothing => false,
        }
    }
}

/// One answer: the matching entries, the cursor after them, what was missed.
#[derive(Debug, Default)]
pub struct TailBatch {
    pub events: Vec<Arc<JournalEntry>>,
    pub next: u64,
    pub missed: u64,
}

impl TailBatch {
    /// The answer's JSON: the events' texts are copied in as they are.
    pub fn to_json(&self) -> String {
        let size: usize = self.events.iter().map(|e| e.event.len() + 1).sum();
        let mut out = String::with_capacity(size + 64);
        out.push_str("{\"events\":[");
        for (i, e) in self.events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&e.event);
        }
        out.push_str("],\"next\":");
        out.push_str(&self.next.to_string());
        out.push_str(",\"missed\":");
        out.push_str(&self.missed.to_string());
        out.push('}');
        out
    }
}

impl Events {
    /// The request's matcher. The bus must exist; a rule filter must name one of its rules.
    fn tail_matcher(&self, req: &TailRequest) -> Result<Matcher, TailError> {
        if self.bus_handle(&req.region, &req.account, &req.bus).is_none() {
            return Err(TailError {
                status: 404,
                code: "ResourceNotFoundException",
                message: format!("Event bus {} does not exist.", req.bus),
            });
        }
        match &req.filter {
            TailFilter::All => Ok(Matcher::All),
            TailFilter::Pattern(p) => Matcher::pattern(p),
            TailFilter::Rule(name) => {
                let mut ctx = RequestContext::new(req.region.clone());
                ctx.account.clone_from(&req.account);
                let rule = self.describe_rule(&ctx, Some(name), Some(&req.bus)).map_err(|e| {
                    let missing = e.code == "ResourceNotFoundException";
                    TailError {
                        status: if missing { 404 } else { 400 },
                        code: if missing {
                            "ResourceNotFoundException"
                        } else {
                            "ValidationException"
                        },
                        message: e.message,
                    }
                })?;
                match rule.event_pattern {
                    Some(p) => Matcher::pattern(&p),
                    None => Ok(Matcher::Nothing),
                }
            }
        }
    }

    /// Answers a tail request: the events after its cursor on its bus that its filter matches,
    /// waiting up to `req.wait` for the first.
    pub async fn tail(&self, req: &TailRequest) -> Result<TailBatch, TailError> {
        if self.journal().capacity() == 0 {
            return Err(TailError {
                status: 409,
                code: "JournalDisabled",
                message: "the server keeps no events to tail (serve --event-journal-capacity 0)".into(),
            });
        }
        let matcher = self.tail_matcher(req)?;
        let bus = req.bus_arn();
        let journal = self.journal();
        let deadline = tokio::time::Instant::now() + req.wait;
        let last = journal.last();
        let mut cursor = req.after.filter(|a| *a <= last).unwrap_or(last);
        let mut batch = TailBatch::default();
        let mut hits = Vec::with_capacity(1);
        loop {
            let read = journal.read_after(Some(cursor), SCAN);
            batch.missed += read.missed;
            let scanned_all = read.entries.len() < SCAN;
            for (seq, entry) in read.entries {
                cursor = seq;
                if *entry.bus == *bus && matcher.matches(entry.event.as_bytes(), &mut hits) {
                    batch.events.push(entry);
                    if batch.events.len() == req.limit {
                        break;
                    }
                }
            }
            batch.next = cursor;
            if !batch.events.is_empty() {
                return Ok(batch);
            }
            if !scanned_all {
                continue;
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(batch);
            }
            journal.wait_after(cursor, deadline).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_queries() {
        let r = TailRequest::parse(None).unwrap();
        assert_eq!(
            (r.bus.as_str(), r.region.as_str(), r.after, r.limit, &r.filter),
            ("default", "us-east-1", None, DEFAULT_LIMIT, &TailFilter::All)
        );
        assert_eq!(r.bus_arn(), "arn:aws:events:us-east-1:000000000000:event-bus/default");
        let r = TailRequest::parse(Some(
            "bus=arn%3Aaws%3Aevents%3Aeu-west-1%3A111122223333%3Aevent-bus%2Forders&after=7&wait=0.5&limit=3",
        ))
        .unwrap();
        assert_eq!(r.bus_arn(), "arn:aws:events:eu-west-1:111122223333:event-bus/orders");
        assert_eq!((r.after, r.wait, r.limit), (Some(7), Duration::from_millis(500), 3));
        let r = TailRequest::parse(Some("pattern=%7B%22source%22%3A%5B%22a%22%5D%7D")).unwrap();
        assert_eq!(r.filter, TailFilter::Pattern(r#"{"source":["a"]}"#.into()));

        let e = TailRequest::parse(Some("pattern=%7B%22source%22%3A%22a%22%7D")).unwrap_err();
        assert_eq!((e.status, e.code), (400, "InvalidEventPatternException"));
        assert!(
            e.message.starts_with("Event pattern is not valid. Reason: "),
            "{}",
            e.message
        );
        for bad in [
            "wait=21",
            "wait=-1",
            "limit=0",
            "limit=10001",
            "after=x",
            "rule=a&pattern=%7B%7D",
            "bus=",
        ] {
            let e = TailRequest::parse(Some(bad)).unwrap_err();
            assert_eq!((e.status, e.code), (400, "InvalidParameterValue"), "{bad}");
        }
    }

    #[test]
    fn renders_the_events_as_they_are() {
        let entry = |text: &str| {
            Arc::new(JournalEntry {
                id: "i".into(),
                bus: "b".into(),
                event: text.into(),
                at: 0,
                matched: Vec::new(),
            })
        };
        let b = TailBatch {
            events: vec![entry(r#"{"z":1,"a":2}"#), entry("{}")],
            next: 9,
            missed: 2,
        };
        assert_eq!(b.to_json(), r#"{"events":[{"z":1,"a":2},{}],"next":9,"missed":2}"#);
        assert_eq!(TailBatch::default().to_json(), r#"{"events":[],"next":0,"missed":0}"#);
    }

    fn put(e: &Events, source: &str, n: u64, mark: Option<&str>) -> crate::model::PutEventsResult {
        use crate::model::PutEventsEntry;
        let detail = format!("{{\"n\":{n}}}");
        let entry = PutEventsEntry {
            source: Some(source.into()),
            detail_type: Some("thing".into()),
            detail: Some(detail.into()),
            ..PutEventsEntry::default()
        };
        let mut out = e
            .put_events_marked(&RequestContext::default(), Some(vec![entry]), mark)
            .unwrap();
        out.remove(0)
    }

    fn texts(b: &TailBatch) -> Vec<serde_json::Value> {
        b.events
            .iter()
            .map(|e| serde_json::from_str(&e.event).unwrap())
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn tails_a_bus_by_cursor_with_filters() {
        let e = crate::tests::events();
        let req = |q: &str| TailRequest::parse(Some(q)).unwrap();
        put(&e, "my.app", 0, None);
        // No cursor: only what comes after; the cursor answered skips the event before.
        let first = e.tail(&req("wait=0")).await.unwrap();
        assert!(first.events.is_empty());
        assert_eq!(first.next, 1);
        put(&e, "my.app", 1, None);
        put(&e, "other", 2, None);
        let b = e.tail(&req(&format!("after={}", first.next))).await.unwrap();
        assert_eq!(
            texts(&b).iter().map(|v| v["detail"]["n"].clone()).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!((b.next, b.missed), (3, 0));
        // From the oldest kept; a pattern.
        let pattern = form_urlencoded::byte_serialize(br#"{"source":["other"]}"#).collect::<String>();
        let b = e
            .tail(&req(&format!("after=0&wait=0&pattern={pattern}")))
            .await
            .unwrap();
        assert_eq!(texts(&b).len(), 1);
        assert_eq!(texts(&b)[0]["source"], "other");
        assert_eq!(b.next, 3, "the cursor passes the events the pattern skipped");
        // A rule's pattern, as the rule is now.
        let ctx = RequestContext::default();
        e.put_rule(
            &ctx,
            crate::model::PutRuleInput {
                name: Some("r".into()),
                event_pattern: Some(r#"{"detail":{"n":[0]}}"#.into()),
                ..Default::default()
            },
        )
        .unwrap();
        let b = e.tail(&req("after=0&wait=0&rule=r")).await.unwrap();
        assert_eq!(
            texts(&b).iter().map(|v| v["detail"]["n"].clone()).collect::<Vec<_>>(),
            [0]
        );
        let err = e.tail(&req("rule=nope")).await.unwrap_err();
        assert_eq!(
            (err.status, err.code, err.message.as_str()),
            (
                404,
                "ResourceNotFoundException",
                "Rule nope does not exist on EventBus default."
            )
        );
        let err = e.tail(&req("bus=orders")).await.unwrap_err();
        assert_eq!(
            (err.status, err.message.as_str()),
            (404, "Event bus orders does not exist.")
        );
        // Another bus's events are not this bus's.
        let b = e.tail(&req("after=0&wait=0&region=eu-west-1")).await.unwrap();
        assert!(b.events.is_empty());
        // A limit; the cursor stops at the last event answered.
        let b = e.tail(&req("after=0&limit=2")).await.unwrap();
        assert_eq!((b.events.len(), b.next), (2, 2));

        // A waiting reader gets the next event when it is routed.
        let e = Arc::new(e);
        let waiter = {
            let e = Arc::clone(&e);
            tokio::spawn(async move { e.tail(&TailRequest::parse(Some("after=3")).unwrap()).await })
        };
        tokio::task::yield_now().await;
        put(&e, "my.app", 4, None);
        let b = waiter.await.unwrap().unwrap();
        assert_eq!(texts(&b)[0]["detail"]["n"], 4);
        // Nothing comes: the wait ends empty, with the cursor where it was.
        let b = e.tail(&req("after=4&wait=1")).await.unwrap();
        assert_eq!((b.events.len(), b.next), (0, 4));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_fell_behind_is_told_how_much_it_missed() {
        let clock: Arc<dyn lb_core::Clock> = Arc::new(lb_core::ManualClock::new(1_700_000_000_000));
        let registry = Arc::new(lb_core::deliver::Registry::new());
        let engine = lb_core::deliver::Engine::new(registry, Arc::clone(&clock), Default::default());
        let e = Events::new(
            clock,
            engine,
            crate::EventsConfig {
                journal_capacity: 3,
                ..crate::EventsConfig::default()
            },
        );
        for n in 0..5 {
            put(&e, "my.app", n, None);
        }
        let b = e.tail(&TailRequest::parse(Some("after=0")).unwrap()).await.unwrap();
        assert_eq!((b.events.len(), b.missed, b.next), (3, 2, 5));

        let clock: Arc<dyn lb_core::Clock> = Arc::new(lb_core::ManualClock::new(1_700_000_000_000));
        let engine = lb_core::deliver::Engine::new(
            Arc::new(lb_core::deliver::Registry::new()),
            Arc::clone(&clock),
            Default::default(),
        );
        let off = Events::new(
            clock,
            engine,
            crate::EventsConfig {
                journal_capacity: 0,
                ..crate::EventsConfig::default()
            },
        );
        let err = off.tail(&TailRequest::parse(None).unwrap()).await.unwrap_err();
        assert_eq!((err.status, err.code), (409, "JournalDisabled"));
    }

    #[test]
    fn replayed_events_carry_their_mark_and_may_be_aws_events() {
        use crate::model::PutEventsResult;
        let e = crate::tests::events();
        assert_eq!(
            put(&e, "aws.s3", 1, None),
            PutEventsResult::Failed {
                code: "NotAuthorizedForSourceException".into(),
                message: "Not authorized for the source.".into()
            }
        );
        let PutEventsResult::Accepted { event_id } = put(&e, "aws.s3", 2, Some("night-1")) else {
            panic!("a replayed aws.s3 event is accepted");
        };
        let entry = e.journal().get(&event_id).remove(0);
        let v: serde_json::Value = serde_json::from_str(&entry.event).unwrap();
        assert_eq!(
            (v["source"].as_str(), v["replay-name"].as_str()),
            (Some("aws.s3"), Some("night-1"))
        );
        // Where EventBridge's replays put it: right after `region`.
        assert!(
            entry
                .event
                .contains(r#","region":"us-east-1","replay-name":"night-1","resources":["#),
            "{}",
            entry.event
        );
    }
}
