//! `localbridge test-pattern`: EventBridge pattern testing with no server.
//!
//! Modes (exactly one):
//! - `--pattern P --event E`: prints `true` or `false` on stdout; exit 0 when the event matches,
//!   1 when it does not, 2 when the pattern or the event is invalid (the message on stderr; for a
//!   pattern it is AWS's `Event pattern is not valid. Reason: ...`).
//! - `--pattern P --events FILE` (`-` for stdin): JSON Lines in, the matching lines out,
//!   byte for byte, one per line (grep for events). Exit 0 when some line matched, 1 when none,
//!   2 when the pattern is invalid or some line was not a JSON object (each such line is
//!   reported on stderr as `line N: ...` and skipped; the others are still answered).
//!   Blank lines are skipped.
//! - `--explain`, with `--event` or `--events`: also say why an event does not match
//!   (`Pattern::explain`: the first field of the pattern that failed, and why). With `--event`,
//!   `false` is followed on stdout by one line `<field>: <reason>`, e.g.
//!   `detail.object.key: "cat.png" does not end with ".jpg"`. With `--events`, each non-matching
//!   line is reported on stderr as `line N: <field>: <reason>` (beside the `line N: ...` errors;
//!   a line the matcher answered but that is not a whole JSON object is reported as
//!   `line N: cannot explain: ...`); stdout is unchanged. Exit codes are unchanged.
//! - `--batch`: stdin lines `{"pattern": P, "event": E}` (P and E as JSON, or as strings holding
//!   JSON, as TestEventPattern takes them); each non-blank line is answered with one line:
//!   `true`, `false`, or the error message. Exit 0 (2 only on an I/O error).
//!
//! `--transform T` (`{"InputPathsMap": {...}, "InputTemplate": "..."}`) or `--input-path P`,
//! with `--event` or `--events`: a matching event is printed as the target input it becomes
//! (one line per matching event) instead of `true` / the event itself. An invalid transformer
//! is exit 2 with AWS's message. The reserved variables take `--rule-arn`, `--rule-name`, and
//! `--ingestion-time` (default: the event's `time`, else now).
//!
//! P, E and T are JSON text or `@file`. Output is buffered; a closed stdout (`| head`) ends the
//! run quietly.
//!
//! Engine: `--events` runs the compiled matcher (`lb_rules::compiled::Machine`) over the raw
//! bytes of each line (only the parts of an event that the pattern reads are decoded, so a line
//! that is broken elsewhere may still be answered); `--event` and `--batch` use the reference
//! evaluator (`Pattern::matches`) on the fully parsed event (one pattern per event: nothing to
//! compile for). `--explain` parses each non-matching line in full and asks the reference
//! evaluator (`Pattern::explain`), whose explanations never disagree with its own matching.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};

use lb_rules::compiled::Machine;
use lb_rules::pattern::Pattern;
use lb_rules::transform::{InputPath, InputTransformer, TransformContext};
use serde_json::Value;

/// Exit status: the event matched (or some event matched).
pub const EXIT_MATCH: i32 = 0;
/// Exit status: no match.
pub const EXIT_NO_MATCH: i32 = 1;
/// Exit status: invalid pattern, event, transformer or arguments, or an I/O error.
pub const EXIT_ERROR: i32 = 2;

#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["event", "events", "batch"])))]
pub struct TestPatternArgs {
    /// The event pattern: JSON text or @file.
    #[arg(long, required_unless_present = "batch", conflicts_with = "batch")]
    pub pattern: Option<String>,
    /// One event: JSON text or @file.
    #[arg(long)]
    pub event: Option<String>,
    /// A JSON Lines file of events (`-` for stdin); prints the matching ones.
    #[arg(long)]
    pub events: Option<String>,
    /// Read `{"pattern": ..., "event": ...}` lines from stdin; answer each with one line.
    #[arg(long, conflicts_with_all = ["transform", "input_path"])]
    pub batch: bool,
    /// Say why an event does not match: `<field>: <reason>` after `false` (--event), or
    /// `line N: <field>: <reason>` on stderr (--events).
    #[arg(long, conflicts_with = "batch")]
    pub explain: bool,
    /// An input transformer applied to matching events: JSON text or @file.
    #[arg(long, conflicts_with = "input_path")]
    pub transform: Option<String>,
    /// An InputPath applied to matching events.
    #[arg(long = "input-path")]
    pub input_path: Option<String>,
    /// `<aws.events.rule-arn>` for --transform.
    #[arg(long, default_value = "arn:aws:events:us-east-1:000000000000:rule/test-pattern")]
    pub rule_arn: String,
    /// `<aws.events.rule-name>` for --transform.
    #[arg(long, default_value = "test-pattern")]
    pub rule_name: String,
    /// `<aws.events.event.ingestion-time>` for --transform (default: the event's `time`, else now).
    #[arg(long)]
    pub ingestion_time: Option<String>,
}

/// Runs the command on the process's stdin/stdout/stderr; returns the exit status.
pub fn run(args: &TestPatternArgs) -> i32 {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let code = run_with(args, &mut stdin.lock(), &mut out, &mut stderr.lock());
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => EXIT_ERROR,
        _ => code,
    }
}

/// `text` itself, or the contents of the file when it is `@path`.
fn load(text: &str) -> Result<String, String> {
    match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}")),
        None => Ok(text.to_owned()),
    }
}

/// What happens to a matching event.
enum Output {
    Verdict,
    Transform(InputTransformer),
    InputPath(InputPath),
}

impl Output {
    fn from_args(args: &TestPatternArgs) -> Result<Self, String> {
        if let Some(t) = &args.transform {
            let text = load(t)?;
            let spec: Value = serde_json::from_str(&text).map_err(|e| format!("invalid --transform JSON: {e}"))?;
            let template = spec
                .get("InputTemplate")
                .and_then(Value::as_str)
                .ok_or("--transform needs a string \"InputTemplate\"")?;
            let mut paths = BTreeMap::new();
            match spec.get("InputPathsMap") {
                None | Some(Value::Null) => {}
                Some(Value::Object(map)) => {
                    for (k, v) in map {
                        let v = v
                            .as_str()
                            .ok_or_else(|| format!("InputPathsMap value of {k} is not a string"))?;
                        paths.insert(k.clone(), v.to_owned());
                    }
                }
                Some(_) => return Err("\"InputPathsMap\" must be an object".into()),
            }
            return InputTransformer::new(&paths, template)
                .map(Output::Transform)
                .map_err(|e| e.to_string());
        }
        if let Some(p) = &args.input_path {
            return InputPath::new(p).map(Output::InputPath).map_err(|e| e.to_string());
        }
        Ok(Output::Verdict)
    }

    /// Writes what a matching event becomes.
    fn write_match(&self, args: &TestPatternArgs, event: &Value, raw: &[u8], out: &mut dyn Write) -> io::Result<()> {
        match self {
            Output::Verdict => out.write_all(raw)?,
            Output::InputPath(p) => serde_json::to_writer(&mut *out, &p.apply(event))?,
            Output::Transform(t) => {
                let now;
                let ingestion_time = match (&args.ingestion_time, event.get("time").and_then(Value::as_str)) {
                    (Some(t), _) => t.as_str(),
                    (None, Some(t)) => t,
                    (None, None) => {
                        now = now_iso8601();
                        now.as_str()
                    }
                };
                let ctx = TransformContext {
                    rule_arn: &args.rule_arn,
                    rule_name: &args.rule_name,
                    ingestion_time,
                };
                match t.apply(event, &ctx) {
                    Ok(s) => out.write_all(s.as_bytes())?,
                    Err(e) => out.write_all(e.to_string().as_bytes())?,
                }
            }
        }
        out.write_all(b"\n")
    }
}

fn now_iso8601() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn parse_event(bytes: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("the event is not a JSON object".into()),
        Err(e) => Err(format!("invalid event JSON: {e}")),
    }
}

/// The command over any streams (tests drive it in memory).
pub fn run_with(args: &TestPatternArgs, stdin: &mut dyn BufRead, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let result = if args.batch {
        batch(stdin, out)
    } else {
        single_or_stream(args, stdin, out, err)
    };
    match result {
        Ok(code) => code,
        Err(Failure::Message(m)) => {
            let _ = writeln!(err, "{m}");
            EXIT_ERROR
        }
        Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_MATCH,
        Err(Failure::Io(e)) => {
            let _ = writeln!(err, "{e}");
            EXIT_ERROR
        }
    }
}

enum Failure {
    Message(String),
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

impl From<String> for Failure {
    fn from(m: String) -> Self {
        Failure::Message(m)
    }
}

fn single_or_stream(
    args: &TestPatternArgs,
    stdin: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Failure> {
    let pattern_text = load(args.pattern.as_deref().unwrap_or_default())?;
    let pattern = Pattern::parse(&pattern_text).map_err(|e| e.to_string())?;
    let output = Output::from_args(args)?;

    if let Some(e) = &args.event {
        let text = load(e)?;
        let event = parse_event(text.as_bytes())?;
        if !pattern.matches(&event) {
            out.write_all(b"false\n")?;
            if args.explain {
                writeln!(out, "{}", explanation(&pattern, &event))?;
            }
            return Ok(EXIT_NO_MATCH);
        }
        match output {
            Output::Verdict => out.write_all(b"true\n")?,
            _ => output.write_match(args, &event, text.as_bytes(), out)?,
        }
        return Ok(EXIT_MATCH);
    }

    let source = args.events.as_deref().unwrap_or("-");
    let mut file_reader;
    let reader: &mut dyn BufRead = if source == "-" {
        stdin
    } else {
        let file = File::open(source).map_err(|e| format!("cannot read {source}: {e}"))?;
        file_reader = BufReader::with_capacity(256 * 1024, file);
        &mut file_reader
    };
    let mut machine = Machine::new();
    machine.add(0u8, &pattern);
    let mut hits = Vec::with_capacity(1);
    let (mut matched, mut failed) = (false, false);
    let mut line = Vec::with_capacity(4096);
    let mut number = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        number += 1;
        let raw = trim_line(&line);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match machine.matches_into(raw, &mut hits) {
            Ok(()) if hits.is_empty() => {
                if args.explain {
                    match parse_event(raw) {
                        Ok(event) => writeln!(err, "line {number}: {}", explanation(&pattern, &event))?,
                        // Answered from the parts the pattern reads; the rest is broken.
                        Err(m) => writeln!(err, "line {number}: cannot explain: {m}")?,
                    }
                }
            }
            Ok(()) => match &output {
                Output::Verdict => {
                    matched = true;
                    out.write_all(raw)?;
                    out.write_all(b"\n")?;
                }
                // The target input needs the whole event.
                _ => match parse_event(raw) {
                    Ok(event) => {
                        matched = true;
                        output.write_match(args, &event, raw, out)?;
                    }
                    Err(m) => {
                        failed = true;
                        writeln!(err, "line {number}: {m}")?;
                    }
                },
            },
            Err(e) => {
                failed = true;
                writeln!(err, "line {number}: {e}")?;
            }
        }
    }
    Ok(if failed {
        EXIT_ERROR
    } else if matched {
        EXIT_MATCH
    } else {
        EXIT_NO_MATCH
    })
}

/// Why `event` does not match, on one line: `<field>: <reason>`.
fn explanation(pattern: &Pattern, event: &Value) -> String {
    match pattern.explain(event) {
        Some(m) => m.to_string().replace(['\n', '\r'], " "),
        // The compiled matcher (--events) said no, the reference evaluator says yes: a bug.
        None => "no explanation: the reference evaluator matches this event".into(),
    }
}

/// The line without its `\n` / `\r\n`.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A pattern or event given in a batch line: JSON, or a string holding JSON.
fn batch_text(v: Option<&Value>, what: &str) -> Result<String, String> {
    match v {
        None => Err(format!("missing \"{what}\"")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
    }
}

fn batch_answer(line: &[u8]) -> String {
    let v: Value = match serde_json::from_slice(line) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return "invalid input line: not a JSON object".into(),
        Err(e) => return format!("invalid input line: {e}"),
    };
    let pattern = match batch_text(v.get("pattern"), "pattern").map(|t| Pattern::parse(&t)) {
        Err(m) => return format!("invalid input line: {m}"),
        Ok(Err(e)) => return e.to_string(),
        Ok(Ok(p)) => p,
    };
    let event = match batch_text(v.get("event"), "event").and_then(|t| parse_event(t.as_bytes())) {
        Err(m) => return m,
        Ok(e) => e,
    };
    pattern.matches(&event).to_string()
}

fn batch(stdin: &mut dyn BufRead, out: &mut dyn Write) -> Result<i32, Failure> {
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        if stdin.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let raw = trim_line(&line);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // One answer per line: a message never spans lines.
        let answer = batch_answer(raw).replace('\n', " ");
        out.write_all(answer.as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(EXIT_MATCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: TestPatternArgs,
    }

    fn parse(argv: &[&str]) -> Result<TestPatternArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("test-pattern").chain(argv.iter().copied())).map(|c| c.args)
    }

    fn exec(argv: &[&str], stdin: &str) -> (i32, String, String) {
        let args = parse(argv).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_with(&args, &mut stdin.as_bytes(), &mut out, &mut err);
        (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    #[test]
    fn argument_handling() {
        assert!(parse(&["--pattern", "{}", "--event", "{}"]).is_ok());
        assert!(parse(&["--pattern", "{}", "--events", "-"]).is_ok());
        assert!(parse(&["--batch"]).is_ok());
        // A mode is required, and only one.
        assert!(parse(&["--pattern", "{}"]).is_err());
        assert!(parse(&["--pattern", "{}", "--event", "{}", "--events", "-"]).is_err());
        assert!(parse(&["--batch", "--pattern", "{}"]).is_err());
        assert!(parse(&["--batch", "--transform", "{}"]).is_err());
        assert!(parse(&["--event", "{}"]).is_err(), "--pattern is required");
        assert!(parse(&[
            "--pattern",
            "{}",
            "--event",
            "{}",
            "--transform",
            "{}",
            "--input-path",
            "$"
        ])
        .is_err());
        let a = parse(&["--pattern", "@p.json", "--event", "{}", "--rule-name", "r"]).unwrap();
        assert_eq!(a.pattern.as_deref(), Some("@p.json"));
        assert_eq!(a.rule_name, "r");
        assert_eq!(a.rule_arn, "arn:aws:events:us-east-1:000000000000:rule/test-pattern");
    }

    #[test]
    fn files_and_bad_input() {
        let dir = std::env::temp_dir().join(format!("lb-test-pattern-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.json");
        let (code, out, err) = exec(&["--pattern", &format!("@{}", missing.display()), "--event", "{}"], "");
        assert_eq!((code, out.as_str()), (EXIT_ERROR, ""));
        assert!(err.starts_with("cannot read "), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(trim_line(b"a\r\n"), b"a");
        assert!(parse_event(b"[1]").is_err());
        assert!(parse_event(b"{").is_err());
        assert_eq!(
            batch_answer(b"nope"),
            "invalid input line: expected ident at line 1 column 2"
        );
        assert_eq!(
            batch_answer(b"{\"event\": {}}"),
            "invalid input line: missing \"pattern\""
        );
    }

    #[test]
    fn modes() {
        let p = r#"{"source":["aws.ec2"]}"#;
        assert_eq!(
            exec(&["--pattern", p, "--event", r#"{"source":"aws.ec2"}"#], ""),
            (0, "true\n".into(), "".into())
        );
        assert_eq!(
            exec(&["--pattern", p, "--event", r#"{"source":"aws.s3"}"#], ""),
            (1, "false\n".into(), "".into())
        );
        let (code, out, err) = exec(&["--pattern", r#"{"source":"aws.ec2"}"#, "--event", "{}"], "");
        assert_eq!((code, out.as_str()), (2, ""));
        assert!(err.starts_with("Event pattern is not valid. Reason: "), "{err}");
        let (code, _, err) = exec(&["--pattern", p, "--event", "{"], "");
        assert_eq!(code, 2);
        assert!(err.starts_with("invalid event JSON"), "{err}");

        let events =
            "{\"source\":\"aws.ec2\",\"n\":1}\n\n{\"source\":\"aws.s3\"}\n{\"source\": \"aws.ec2\", \"n\":2}\r\n";
        assert_eq!(
            exec(&["--pattern", p, "--events", "-"], events),
            (
                0,
                "{\"source\":\"aws.ec2\",\"n\":1}\n{\"source\": \"aws.ec2\", \"n\":2}\n".into(),
                "".into()
            )
        );
        assert_eq!(
            exec(&["--pattern", p, "--events", "-"], "{\"source\":\"x\"}\n"),
            (1, "".into(), "".into())
        );
        let (code, out, err) = exec(&["--pattern", p, "--events", "-"], "oops\n{\"source\":\"aws.ec2\"}\n");
        assert_eq!((code, out.as_str()), (2, "{\"source\":\"aws.ec2\"}\n"));
        assert!(err.starts_with("line 1: the event is not valid JSON"), "{err}");

        let batch = concat!(
            "{\"pattern\": {\"a\": [1]}, \"event\": {\"a\": 1}}\n",
            "{\"pattern\": \"{\\\"a\\\": [2]}\", \"event\": \"{\\\"a\\\": 1}\"}\n",
            "{\"pattern\": {\"a\": 1}, \"event\": {\"a\": 1}}\n",
            "garbage\n",
        );
        let (code, out, _) = exec(&["--batch"], batch);
        assert_eq!(code, 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(&lines[..2], ["true", "false"]);
        assert!(lines[2].starts_with("Event pattern is not valid. Reason: "));
        assert!(lines[3].starts_with("invalid input line: "));

        let t = r#"{"InputPathsMap":{"s":"$.source"},"InputTemplate":"\"from <s>\""}"#;
        assert_eq!(
            exec(
                &["--pattern", p, "--event", r#"{"source":"aws.ec2"}"#, "--transform", t],
                ""
            ),
            (0, "\"from aws.ec2\"\n".into(), "".into())
        );
        assert_eq!(
            exec(&["--pattern", p, "--events", "-", "--input-path", "$.source"], events),
            (0, "\"aws.ec2\"\n\"aws.ec2\"\n".into(), "".into())
        );
    }

    #[test]
    fn explain() {
        let p = r#"{"source":["aws.s3"],"detail":{"object":{"key":[{"suffix":".jpg"}]}}}"#;
        let png = r#"{"source":"aws.s3","detail":{"object":{"key":"cat.png"}}}"#;
        let jpg = r#"{"source":"aws.s3","detail":{"object":{"key":"cat.jpg"}}}"#;
        assert_eq!(
            exec(&["--pattern", p, "--event", png, "--explain"], ""),
            (
                EXIT_NO_MATCH,
                "false\ndetail.object.key: \"cat.png\" does not end with \".jpg\"\n".into(),
                "".into()
            )
        );
        // A match is answered as without --explain, and so is a transformed one.
        assert_eq!(
            exec(&["--pattern", p, "--event", jpg, "--explain"], ""),
            (EXIT_MATCH, "true\n".into(), "".into())
        );
        assert_eq!(
            exec(
                &["--pattern", p, "--event", jpg, "--explain", "--input-path", "$.source"],
                ""
            ),
            (EXIT_MATCH, "\"aws.s3\"\n".into(), "".into())
        );
        assert_eq!(
            exec(&["--pattern", p, "--event", "{}", "--explain"], ""),
            (
                EXIT_NO_MATCH,
                "false\nsource: absent, but the pattern requires a value\n".into(),
                "".into()
            )
        );

        // --events: matching lines on stdout as before, the others explained on stderr.
        let lines = format!("{png}\n\n{jpg}\n{{\"source\":\"aws.ec2\"}}\n");
        assert_eq!(
            exec(&["--pattern", p, "--events", "-", "--explain"], &lines),
            (
                EXIT_MATCH,
                format!("{jpg}\n"),
                concat!(
                    "line 1: detail.object.key: \"cat.png\" does not end with \".jpg\"\n",
                    "line 4: source: expected one of [\"aws.s3\"]\n"
                )
                .into()
            )
        );
        assert_eq!(
            exec(&["--pattern", p, "--events", "-", "--explain"], &format!("{png}\n")),
            (
                EXIT_NO_MATCH,
                "".into(),
                "line 1: detail.object.key: \"cat.png\" does not end with \".jpg\"\n".into()
            )
        );
        // Errors keep their exit code; a line answered but broken elsewhere cannot be explained.
        let (code, out, err) = exec(
            &["--pattern", p, "--events", "-", "--explain"],
            "oops\n{\"source\":\"aws.ec2\",\"x\":{\"y\":[1,}}\n",
        );
        assert_eq!((code, out.as_str()), (EXIT_ERROR, ""));
        let err: Vec<&str> = err.lines().collect();
        assert_eq!(err.len(), 2, "{err:?}");
        assert!(err[0].starts_with("line 1: the event is not valid JSON"), "{err:?}");
        assert!(
            err[1].starts_with("line 2: cannot explain: invalid event JSON"),
            "{err:?}"
        );
        // Field names with a line break stay on one line.
        let (code, out, _) = exec(&["--pattern", r#"{"a\nb":["x"]}"#, "--event", "{}", "--explain"], "");
        assert_eq!(
            (code, out.as_str()),
            (EXIT_NO_MATCH, "false\na b: absent, but the pattern requires a value\n")
        );

        // Not with --batch.
        assert!(parse(&["--batch", "--explain"]).is_err());
        assert!(!parse(&["--pattern", p, "--event", "{}"]).unwrap().explain);
    }
}
