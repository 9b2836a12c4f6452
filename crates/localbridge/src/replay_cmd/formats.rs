//! The inputs `localbridge replay` reads, recognised per JSON value (one per line, or a JSON
//! document spread over several lines), and what each becomes: PutEvents entries.
//!
//! | input | recognised by | becomes |
//! | --- | --- | --- |
//! | EventBridge event (what `localbridge tail` writes, a rule's target receives, an archive holds) | `source` and `detail-type` | Source, DetailType, Detail (as written), Resources, Time = `time` |
//! | PutEvents entries: `{"Entries": [...]}` (`aws events put-events --entries file://...`), a JSON array of entries, or one entry per line | `Entries`, or `Source`/`DetailType`/`Detail` | the entry as given (EventBusName kept unless `--bus`; Time as ISO 8601 or epoch seconds) |
//! | CloudTrail: a log file `{"Records": [...]}`, one record per line (CloudTrail Lake, CloudWatch Logs exports), `aws cloudtrail lookup-events` output (`{"Events": [{"CloudTrailEvent": "..."}]}`) | `eventSource` + `eventName` | the event CloudTrail sends to EventBridge: source `aws.<service>` (from `eventSource` `<service>.amazonaws.com`), detail-type by `eventType` (`AWS API Call via CloudTrail`, `AWS Console Sign In via CloudTrail`, `AWS Console Action via CloudTrail`, `AWS Service Event via CloudTrail`, `AWS Insight via CloudTrail`), detail = the record, no resources, Time = `eventTime` |
//! | S3 event notifications: `{"Records": [...]}` as S3 sends them to a queue, topic or function, or one record per line | `eventSource` `aws:s3` | the `aws.s3` event S3 sends to EventBridge for it (Object Created, Object Deleted, Object Tags Added / Deleted, Object ACL Updated), as `lb_s3::notify::eventbridge` builds it; Time = `eventTime` |
//! | wrappers: CloudWatch Logs output (`{"events": [{"message": "..."}]}` or one `{"message": ...}` per line), SQS ReceiveMessage output (`{"Messages": [{"Body": "..."}]}`), the records of SQS and SNS events as Lambda receives them, SNS notifications (`{"Type": "Notification", "Message": "..."}`), a JSON string holding JSON | the wrapper's keys | whatever the message inside is |
//!
//! Anything else is reported (`line N: ...`) and counted as failed (`InvalidInput`); an S3
//! `s3:TestEvent` message is skipped (S3 never sends it to EventBridge).
//!
//! An S3 record does not say who the requester was (`userIdentity.principalId` is not an
//! account): `requester` is the account the replay sends as (`--account`, else
//! `000000000000`), as the S3 stub writes the caller's account.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use lb_s3::notify::eventbridge;
use serde_json::value::RawValue;

/// How deep wrappers (a message holding a message...) are unwrapped.
const MAX_DEPTH: usize = 6;
/// The largest JSON document read across lines.
const MAX_DOCUMENT: usize = 256 * 1024 * 1024;

/// One PutEvents entry. Empty strings are absent fields (the server says which is required).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub source: String,
    pub detail_type: String,
    /// JSON text, as written in the input.
    pub detail: String,
    pub resources: Vec<String>,
    /// Epoch milliseconds.
    pub time_millis: Option<u64>,
    pub bus: Option<String>,
    pub trace_header: Option<String>,
}

impl Entry {
    /// The entry's size as EventBridge counts it against the 256 KB of a PutEvents call: 14 bytes
    /// for a `Time`, then the UTF-8 bytes of Source, DetailType, Detail and each resource.
    pub fn size(&self, with_time: bool) -> usize {
        usize::from(with_time && self.time_millis.is_some()) * 14
            + self.source.len()
            + self.detail_type.len()
            + self.detail.len()
            + self.resources.iter().map(String::len).sum::<usize>()
    }

    /// Appends the entry's PutEvents JSON (AWS JSON 1.1: `Time` in epoch seconds).
    pub fn write_json(&self, out: &mut Vec<u8>, with_time: bool, bus: Option<&str>) {
        use std::io::Write as _;
        // Writing into a Vec cannot fail.
        let mut sep = b'{';
        let mut field = |out: &mut Vec<u8>, name: &str| {
            out.push(sep);
            sep = b',';
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
        };
        for (name, value) in [
            ("Source", &self.source),
            ("DetailType", &self.detail_type),
            ("Detail", &self.detail),
        ] {
            if !value.is_empty() {
                field(out, name);
                let _ = serde_json::to_writer(&mut *out, value);
            }
        }
        if !self.resources.is_empty() {
            field(out, "Resources");
            let _ = serde_json::to_writer(&mut *out, &self.resources);
        }
        if let Some(t) = self.time_millis.filter(|_| with_time) {
            field(out, "Time");
            let _ = if t % 1000 == 0 {
                write!(out, "{}", t / 1000)
            } else {
                write!(out, "{}.{:03}", t / 1000, t % 1000)
            };
        }
        if let Some(b) = bus.or(self.bus.as_deref()) {
            field(out, "EventBusName");
            let _ = serde_json::to_writer(&mut *out, b);
        }
        if let Some(t) = &self.trace_header {
            field(out, "TraceHeader");
            let _ = serde_json::to_writer(&mut *out, t);
        }
        if sep == b'{' {
            out.push(b'{');
        }
        out.push(b'}');
    }
}

/// Where an item came from: the line its JSON value starts on, and its place in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: u64,
    /// 1-based index within the document's list (records, entries), if it came from one.
    pub index: Option<usize>,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "line {} #{i}", self.line),
            None => write!(f, "line {}", self.line),
        }
    }
}

/// What one input value became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Entry(Box<Entry>),
    /// Not replayable; why.
    Invalid(String),
    /// Deliberately not replayed; why.
    Skipped(String),
}

/// Conversion settings.
#[derive(Debug, Clone)]
pub struct Convert {
    /// `requester` of S3 events.
    pub account: String,
}

type Obj<'a> = HashMap<String, &'a RawValue>;

/// The fields of an EventBridge event that replay reads (any other JSON object reads as one
/// without `source` and `detail-type`).
#[derive(serde::Deserialize)]
struct FastEvent<'a> {
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
    #[serde(rename = "detail-type", borrow, default)]
    detail_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    detail: Option<&'a RawValue>,
    #[serde(borrow, default)]
    resources: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
}

fn object(raw: &RawValue) -> Option<Obj<'_>> {
    if !raw.get().starts_with('{') {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

fn array<'a>(raw: Option<&&'a RawValue>) -> Option<Vec<&'a RawValue>> {
    let raw = raw?;
    if !raw.get().starts_with('[') {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

fn string(o: &Obj<'_>, key: &str) -> Option<String> {
    o.get(key).and_then(|r| serde_json::from_str::<String>(r.get()).ok())
}

fn strings(o: &Obj<'_>, key: &str) -> Vec<String> {
    o.get(key)
        .and_then(|r| serde_json::from_str::<Vec<String>>(r.get()).ok())
        .unwrap_or_default()
}

/// RFC 3339 (`2024-01-01T00:00:00Z`, fractions allowed; without a zone read as UTC) to epoch
/// milliseconds.
pub fn parse_time(s: &str) -> Option<u64> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
        .ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A `Time` of a PutEvents entry: ISO 8601 text or epoch seconds.
fn entry_time(raw: &RawValue) -> Option<u64> {
    if let Ok(s) = serde_json::from_str::<String>(raw.get()) {
        return parse_time(&s).or_else(|| s.parse::<f64>().ok().and_then(seconds_to_millis));
    }
    serde_json::from_str::<f64>(raw.get()).ok().and_then(seconds_to_millis)
}

fn seconds_to_millis(s: f64) -> Option<u64> {
    // Epoch seconds in the range of years 1970 to 10000: the product fits a u64.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (s.is_finite() && (0.0..253_402_300_800.0).contains(&s)).then(|| (s * 1000.0).round() as u64)
}

impl Convert {
    /// Converts one JSON value (and what it wraps) into items, appended to `out`.
    pub fn value(&self, raw: &RawValue, at: Position, out: &mut Vec<(Position, Item)>) {
        self.convert(raw, at, 0, out);
        // The placeholders of wrappers whose contents went into `out` themselves.
        out.retain(|(_, i)| !matches!(i, Item::Skipped(r) if r.is_empty()));
    }

    fn convert(&self, raw: &RawValue, at: Position, depth: usize, out: &mut Vec<(Position, Item)>) {
        if let Some(item) = eventbridge_event(raw.get()) {
            out.push((at, item));
            return;
        }
        if depth > MAX_DEPTH {
            out.push((at, Item::Invalid("messages nested too deeply".into())));
            return;
        }
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'{') => {}
            Some(b'[') => {
                let list: Vec<&RawValue> = serde_json::from_str(text).unwrap_or_default();
                self.list(&list, at, depth, out);
                return;
            }
            Some(b'"') => {
                // A string holding JSON (a message body, a double-encoded line).
                match serde_json::from_str::<String>(text) {
                    Ok(s) => self.text(&s, at, depth, out),
                    Err(e) => out.push((at, Item::Invalid(format!("invalid JSON: {e}")))),
                }
                return;
            }
            _ => {
                out.push((at, Item::Invalid(unrecognised())));
                return;
            }
        }
        let Some(o) = object(raw) else {
            out.push((at, Item::Invalid("invalid JSON object".into())));
            return;
        };
        // Lists first: a document wrapping many.
        for key in ["Entries", "Records"] {
            if let Some(list) = array(o.get(key)) {
                self.list(&list, at, depth, out);
                return;
            }
        }
        // `aws cloudtrail lookup-events`: {"Events": [{"CloudTrailEvent": "<record JSON>"}]}.
        if let Some(list) = array(o.get("Events")) {
            for (i, e) in list.iter().enumerate() {
                let at = Position {
                    index: Some(i + 1),
                    ..at
                };
                match object(e).and_then(|e| string(&e, "CloudTrailEvent")) {
                    Some(s) => self.text(&s, at, depth, out),
                    None => out.push((at, Item::Invalid(unrecognised()))),
                }
            }
            return;
        }
        // Wrappers whose messages are JSON text.
        for (list_key, message_key) in [("events", "message"), ("Messages", "Body")] {
            if let Some(list) = array(o.get(list_key)) {
                for (i, e) in list.iter().enumerate() {
                    let at = Position {
                        index: Some(i + 1),
                        ..at
                    };
                    match object(e).and_then(|e| string(&e, message_key)) {
                        Some(s) => self.text(&s, at, depth, out),
                        None => out.push((at, Item::Invalid(unrecognised()))),
                    }
                }
                return;
            }
        }
        let item = self.one(raw, &o, at, depth, out);
        out.push((at, item));
    }

    fn list(&self, list: &[&RawValue], at: Position, depth: usize, out: &mut Vec<(Position, Item)>) {
        for (i, e) in list.iter().enumerate() {
            let at = Position {
                index: Some(i + 1),
                ..at
            };
            self.convert(e, at, depth + 1, out);
        }
    }

    fn text(&self, text: &str, at: Position, depth: usize, out: &mut Vec<(Position, Item)>) {
        match serde_json::from_str::<&RawValue>(text) {
            Ok(raw) => self.convert(raw, at, depth + 1, out),
            Err(e) => out.push((at, Item::Invalid(format!("a message that is not JSON: {e}")))),
        }
    }

    /// One object: an event, an entry, a record or a single wrapped message. A wrapped message
    /// is converted into `out` directly (the returned item then says nothing new: `Skipped`
    /// items with an empty reason are dropped by the caller).
    fn one(&self, raw: &RawValue, o: &Obj<'_>, at: Position, depth: usize, out: &mut Vec<(Position, Item)>) -> Item {
        if o.contains_key("detail-type") && o.contains_key("source") {
            return event(o);
        }
        if ["Source", "DetailType", "Detail"].iter().any(|k| o.contains_key(*k)) {
            return put_events_entry(o);
        }
        let event_source = string(o, "eventSource").or_else(|| string(o, "EventSource"));
        match event_source.as_deref() {
            Some("aws:s3") if o.contains_key("s3") => return self.s3(o),
            Some("aws:sqs") => {
                if let Some(body) = string(o, "body") {
                    self.text(&body, at, depth, out);
                    return Item::Skipped(String::new());
                }
            }
            Some("aws:sns") => {
                if let Some(message) = o.get("Sns").and_then(|s| object(s)).and_then(|s| string(&s, "Message")) {
                    self.text(&message, at, depth, out);
                    return Item::Skipped(String::new());
                }
            }
            Some(_) if o.contains_key("eventName") && o.contains_key("eventVersion") => return cloudtrail(raw, o),
            _ => {}
        }
        if string(o, "Type").as_deref() == Some("Notification") {
            if let Some(message) = string(o, "Message") {
                self.text(&message, at, depth, out);
                return Item::Skipped(String::new());
            }
        }
        if string(o, "Event").as_deref() == Some("s3:TestEvent") {
            return Item::Skipped("s3:TestEvent (S3 does not send it to EventBridge)".into());
        }
        if let Some(message) = string(o, "message") {
            self.text(&message, at, depth, out);
            return Item::Skipped(String::new());
        }
        Item::Invalid(unrecognised())
    }
}

/// The common case, read in one pass without a map of fields: `text` is a whole JSON object
/// with `source` and `detail-type` (`None`: it is not).
fn eventbridge_event(text: &str) -> Option<Item> {
    if !text.starts_with('{') {
        return None;
    }
    let e = serde_json::from_str::<FastEvent<'_>>(text).ok()?;
    let (source, detail_type) = (e.source?, e.detail_type?);
    Some(match e.detail {
        None => Item::Invalid("the event has no detail".into()),
        Some(detail) => Item::Entry(Box::new(Entry {
            source: source.into_owned(),
            detail_type: detail_type.into_owned(),
            detail: detail.get().to_owned(),
            resources: e
                .resources
                .map(|r| r.into_iter().map(Cow::into_owned).collect())
                .unwrap_or_default(),
            time_millis: e.time.and_then(|t| parse_time(&t)),
            bus: None,
            trace_header: None,
        })),
    })
}

fn unrecognised() -> String {
    "not an EventBridge event, a PutEvents entry, a CloudTrail or S3 record, or a message holding one".into()
}

/// An EventBridge event.
fn event(o: &Obj<'_>) -> Item {
    let Some(detail) = o.get("detail") else {
        return Item::Invalid("the event has no detail".into());
    };
    Item::Entry(Box::new(Entry {
        source: string(o, "source").unwrap_or_default(),
        detail_type: string(o, "detail-type").unwrap_or_default(),
        detail: detail.get().to_owned(),
        resources: strings(o, "resources"),
        time_millis: string(o, "time").and_then(|t| parse_time(&t)),
        bus: None,
        trace_header: None,
    }))
}

/// A PutEvents request entry.
fn put_events_entry(o: &Obj<'_>) -> Item {
    let detail = match o.get("Detail") {
        None => String::new(),
        // As the API takes it, a string of JSON; an object written in place is taken as well.
        Some(raw) => serde_json::from_str::<String>(raw.get()).unwrap_or_else(|_| raw.get().to_owned()),
    };
    Item::Entry(Box::new(Entry {
        source: string(o, "Source").unwrap_or_default(),
        detail_type: string(o, "DetailType").unwrap_or_default(),
        detail,
        resources: strings(o, "Resources"),
        time_millis: o.get("Time").and_then(|t| entry_time(t)),
        bus: string(o, "EventBusName"),
        trace_header: string(o, "TraceHeader"),
    }))
}

/// A CloudTrail record, as CloudTrail sends it to EventBridge: the record, as written, is the
/// detail.
fn cloudtrail(raw: &RawValue, o: &Obj<'_>) -> Item {
    let event_source = string(o, "eventSource").unwrap_or_default();
    let service = event_source
        .strip_suffix(".amazonaws.com")
        .unwrap_or_else(|| event_source.split('.').next().unwrap_or_default());
    if service.is_empty() {
        return Item::Invalid("a CloudTrail record without eventSource".into());
    }
    let detail_type = match string(o, "eventType").as_deref() {
        Some("AwsConsoleSignIn") => "AWS Console Sign In via CloudTrail",
        Some("AwsConsoleAction") => "AWS Console Action via CloudTrail",
        Some("AwsServiceEvent") => "AWS Service Event via CloudTrail",
        Some("AwsCloudTrailInsight") => "AWS Insight via CloudTrail",
        _ => "AWS API Call via CloudTrail",
    };
    Item::Entry(Box::new(Entry {
        source: format!("aws.{service}"),
        detail_type: detail_type.into(),
        detail: raw.get().to_owned(),
        resources: Vec::new(),
        time_millis: string(o, "eventTime").and_then(|t| parse_time(&t)),
        bus: None,
        trace_header: None,
    }))
}

// ---- S3 records → aws.s3 events (through lb_s3::notify::eventbridge, the stub's own mapping) --

impl Convert {
    fn s3(&self, o: &Obj<'_>) -> Item {
        let name = string(o, "eventName").unwrap_or_default();
        let name = name.strip_prefix("s3:").unwrap_or(&name);
        if eventbridge::detail_type(name).is_none() {
            return Item::Invalid(format!("S3 event {name} has no EventBridge event in localbridge"));
        }
        let Some(s3) = o.get("s3").and_then(|s| object(s)) else {
            return Item::Invalid("an S3 record without s3".into());
        };
        let bucket = s3.get("bucket").and_then(|b| object(b));
        let object_ = s3.get("object").and_then(|b| object(b));
        let (Some(bucket), Some(object_)) = (bucket, object_) else {
            return Item::Invalid("an S3 record without s3.bucket or s3.object".into());
        };
        let bucket_name = string(&bucket, "name").unwrap_or_default();
        let key = string(&object_, "key").unwrap_or_default();
        let etag = string(&object_, "eTag");
        let version_id = string(&object_, "versionId");
        let sequencer = string(&object_, "sequencer");
        let size = object_
            .get("size")
            .and_then(|s| serde_json::from_str::<u64>(s.get()).ok());
        let request_id = o
            .get("responseElements")
            .and_then(|r| object(r))
            .and_then(|r| string(&r, "x-amz-request-id"))
            .unwrap_or_default();
        let source_ip = o
            .get("requestParameters")
            .and_then(|r| object(r))
            .and_then(|r| string(&r, "sourceIPAddress"));
        let sequencer = sequencer.as_deref().map(eventbridge::record_sequencer);
        // `ObjectRestore:Completed` records carry what their EventBridge detail adds.
        let restore = o
            .get("glacierEventData")
            .and_then(|g| object(g))
            .and_then(|g| g.get("restoreEventData").and_then(|r| object(r)));
        let storage_class = restore.as_ref().and_then(|r| string(r, "lifecycleRestoreStorageClass"));
        let expires_at = restore
            .as_ref()
            .and_then(|r| string(r, "lifecycleRestorationExpiryTime"))
            .and_then(|t| parse_time(&t));
        let restore = eventbridge::RestoreFieldValues {
            storage_class: storage_class.as_deref(),
            expires_at,
        };
        let Some((detail_type, detail)) = eventbridge::detail_with_restore(
            &eventbridge::ObjectFields {
                name,
                bucket: &bucket_name,
                // Records and EventBridge events write the key alike (form-encoded, `/` kept).
                key: &key,
                size,
                etag: etag.as_deref(),
                version_id: version_id.as_deref(),
                sequencer: sequencer.as_deref(),
                request_id: &request_id,
                requester: &self.account,
                source_ip: source_ip.as_deref(),
            },
            restore,
        ) else {
            return Item::Invalid(format!("S3 event {name} has no EventBridge event in localbridge"));
        };
        let arn = string(&bucket, "arn").unwrap_or_else(|| format!("arn:aws:s3:::{bucket_name}"));
        Item::Entry(Box::new(Entry {
            source: "aws.s3".into(),
            detail_type: detail_type.into(),
            detail,
            resources: vec![arn],
            time_millis: string(o, "eventTime").and_then(|t| parse_time(&t)),
            bus: None,
            trace_header: None,
        }))
    }
}

// ---- reading ---------------------------------------------------------------------------------

/// How deep in brackets a JSON text is, fed a piece at a time.
#[derive(Debug, Default)]
struct Nesting {
    depth: i64,
    in_string: bool,
    escaped: bool,
}

impl Nesting {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => self.depth -= 1,
                _ => {}
            }
        }
    }

    /// Every bracket opened is closed (or more: the parser will say what is wrong).
    fn closed(&self) -> bool {
        !self.in_string && self.depth <= 0
    }
}

/// Reads items from JSON Lines, or JSON documents spread over several lines, in order.
pub struct Reader<R> {
    input: std::io::BufReader<R>,
    convert: Convert,
    line: u64,
    pending: VecDeque<(Position, Item)>,
    /// Bytes read so far (for a progress display).
    pub bytes: Arc<AtomicU64>,
    buf: Vec<u8>,
    done: bool,
}

impl<R: std::io::Read> Reader<R> {
    pub fn new(input: R, convert: Convert) -> Self {
        Self {
            input: std::io::BufReader::with_capacity(256 * 1024, input),
            convert,
            line: 0,
            pending: VecDeque::new(),
            bytes: Arc::new(AtomicU64::new(0)),
            buf: Vec::with_capacity(4096),
            done: false,
        }
    }

    /// Whether reading the next item may wait for input: nothing converted and nothing
    /// buffered is left (reading stdin from a live producer).
    pub fn may_wait(&self) -> bool {
        self.pending.is_empty() && self.input.buffer().is_empty()
    }

    fn read_line(&mut self) -> std::io::Result<bool> {
        let before = self.buf.len();
        let n = self.input.read_until(b'\n', &mut self.buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        if n > 0 {
            self.line += 1;
        }
        Ok(self.buf.len() > before)
    }

    /// Reads the next JSON value's lines and converts it into `pending`.
    fn fill(&mut self) -> std::io::Result<()> {
        self.buf.clear();
        // Skip blank lines.
        loop {
            if !self.read_line()? {
                self.done = true;
                return Ok(());
            }
            if !self.buf.iter().all(u8::is_ascii_whitespace) {
                break;
            }
            self.buf.clear();
        }
        let start = self.line;
        let at = Position {
            line: start,
            index: None,
        };
        loop {
            let parsed = match std::str::from_utf8(&self.buf) {
                Ok(text) => {
                    // An EventBridge event on its line (what `tail` writes): one pass.
                    if let Some(item) = eventbridge_event(text.trim_end()) {
                        self.pending.push_back((at, item));
                        return Ok(());
                    }
                    serde_json::from_str::<&RawValue>(text.trim_end())
                }
                Err(e) => {
                    self.pending
                        .push_back((at, Item::Invalid(format!("not UTF-8 text: {e}"))));
                    return Ok(());
                }
            };
            match parsed {
                Ok(raw) => {
                    let mut items = Vec::new();
                    self.convert.value(raw, at, &mut items);
                    self.pending.extend(
                        items
                            .into_iter()
                            .filter(|(_, i)| !matches!(i, Item::Skipped(r) if r.is_empty())),
                    );
                    return Ok(());
                }
                // A value that goes on: a document over several lines. Lines are added until
                // its brackets close (counted as they come: parsing again after every line
                // would make a long document quadratic), then it is parsed once more.
                Err(e) if e.is_eof() && self.buf.len() < MAX_DOCUMENT => {
                    let mut nesting = Nesting::default();
                    nesting.feed(&self.buf);
                    loop {
                        let before = self.buf.len();
                        if self.buf.len() >= MAX_DOCUMENT || !self.read_line()? {
                            self.pending.push_back((
                                at,
                                Item::Invalid(format!("invalid JSON (the input ends inside it): {e}")),
                            ));
                            return Ok(());
                        }
                        nesting.feed(&self.buf[before..]);
                        if nesting.closed() {
                            break;
                        }
                    }
                }
                Err(e) => {
                    let e = if self.line > start {
                        format!("invalid JSON (lines {start} to {}): {e}", self.line)
                    } else {
                        format!("invalid JSON: {e}")
                    };
                    self.pending.push_back((at, Item::Invalid(e)));
                    return Ok(());
                }
            }
        }
    }
}

impl<R: std::io::Read> Iterator for Reader<R> {
    type Item = std::io::Result<(Position, Item)>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.pending.is_empty() && !self.done {
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
        }
        self.pending.pop_front().map(Ok)
    }
}

#[cfg(test)]
mod tests;
