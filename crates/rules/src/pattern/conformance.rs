//! The pattern conformance suite: every case in `fixtures/patterns/*.json` through
//! [`Pattern::parse`] and the reference evaluator, and a no-panic check over truncated and
//! mutated patterns.
//!
//! A fixture file is a JSON array of cases:
//! - `{"name", "pattern", "event", "matches": true|false}`
//! - `{"name", "pattern", "error": "<reason>", "message": "<full AWS message>"?}`: `error` is
//!   the text after `Reason: ` (without Jackson's location); `message`, when given, is the whole
//!   `Display` text including the location.
//!
//! `pattern` is a JSON object, or a string holding the pattern text (for invalid JSON, duplicate
//! keys, and wherever key order matters: serde_json sorts object keys).
//!
//! [`cases`] is `pub(crate)` so that other matchers of this crate (the compiled one) can run the
//! same table.

use std::path::PathBuf;

use serde_json::Value;

use super::Pattern;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/patterns")
}

/// One fixture case.
pub(crate) struct Case {
    /// The fixture file's name.
    pub file: String,
    pub name: String,
    /// The pattern text.
    pub pattern: String,
    /// The whole case: `event` and `matches`, or `error` (and `message`).
    pub case: Value,
}

/// Every case of every file in `fixtures/patterns/`, in file order.
pub(crate) fn cases() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures/patterns")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut out = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let list: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for case in list {
            let name = case["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{file}: case without name"))
                .to_owned();
            let pattern = match &case["pattern"] {
                Value::String(s) => s.clone(),
                Value::Null => panic!("{file}/{name}: no pattern"),
                other => other.to_string(),
            };
            out.push(Case {
                file: file.clone(),
                name,
                pattern,
                case,
            });
        }
    }
    out
}

#[test]
fn conformance() {
    let mut failures = Vec::new();
    let mut names = std::collections::HashSet::new();
    let all = cases();
    for c in &all {
        let id = format!("{}/{}", c.file, c.name);
        assert!(names.insert(id.clone()), "duplicate case name {id}");
        let parsed = Pattern::parse(&c.pattern);
        if let Some(want) = c.case.get("error") {
            match parsed {
                Ok(_) => failures.push(format!("{id}: parsed, expected error {want}")),
                Err(e) => {
                    if e.reason() != want.as_str().unwrap() {
                        failures.push(format!("{id}: error {:?}, expected {want}", e.reason()));
                    }
                    if let Some(msg) = c.case.get("message") {
                        if e.to_string() != msg.as_str().unwrap() {
                            failures.push(format!("{id}: message {:?}, expected {msg}", e.to_string()));
                        }
                    }
                }
            }
            continue;
        }
        let want = c.case["matches"]
            .as_bool()
            .unwrap_or_else(|| panic!("{id}: no matches/error"));
        match parsed {
            Err(e) => failures.push(format!("{id}: {e}")),
            Ok(p) => {
                if p.matches(&c.case["event"]) != want {
                    failures.push(format!("{id}: matches should be {want}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// What the flattened form promises its consumers (see `ast`).
fn check_invariants(p: &Pattern, text: &str) {
    use super::{AnythingBut, Matcher};
    assert!(!p.alternatives().is_empty(), "{text}");
    for alt in p.alternatives() {
        assert!(!alt.fields.is_empty(), "{text}");
        for (i, f) in alt.fields.iter().enumerate() {
            assert!(!f.path.is_empty() && !f.matchers.is_empty(), "{text}");
            assert!(
                alt.fields[..i].iter().all(|g| g.path != f.path),
                "repeated path in {text}"
            );
            for m in &f.matchers {
                match m {
                    Matcher::Wildcard(w) => assert!(!w.segments.is_empty()),
                    Matcher::AnythingBut(AnythingBut::Values(v)) => assert!(!v.is_empty(), "{text}"),
                    Matcher::Numeric(c) => assert!(!c.is_empty() && c.len() <= 2, "{text}"),
                    _ => {}
                }
            }
        }
    }
}

/// A small deterministic generator (no dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn truncated_and_mutated_patterns_never_panic() {
    let all = cases();
    let mut rng = Lcg(7);
    let alphabet: &[u8] = b"{}[]\",:\\*/-.0123456789eE+ \n\ttfnul$oraxyz";
    for c in &all {
        let event = c.case.get("event").cloned().unwrap_or(Value::Null);
        let bytes = c.pattern.as_bytes();
        for cut in 0..=bytes.len() {
            if let Ok(text) = std::str::from_utf8(&bytes[..cut]) {
                if let Ok(p) = Pattern::parse(text) {
                    check_invariants(&p, text);
                    p.matches(&event);
                }
                let _ = Pattern::parse(text).map_err(|e| e.to_string());
            }
        }
        for _ in 0..200 {
            let mut m = bytes.to_vec();
            for _ in 0..1 + rng.next() % 3 {
                let at = (rng.next() as usize) % (m.len() + 1);
                let b = alphabet[(rng.next() as usize) % alphabet.len()];
                match rng.next() % 3 {
                    0 if at < m.len() => m[at] = b,
                    1 if at < m.len() => {
                        m.remove(at);
                    }
                    _ => m.insert(at, b),
                }
            }
            if let Ok(text) = String::from_utf8(m) {
                match Pattern::parse(&text) {
                    Ok(p) => {
                        check_invariants(&p, &text);
                        p.matches(&event);
                    }
                    Err(e) => {
                        let _ = e.to_string();
                    }
                }
            }
        }
    }
    // Arbitrary bytes too.
    for _ in 0..5000 {
        let len = (rng.next() % 40) as usize;
        let s: String = (0..len)
            .map(|_| alphabet[(rng.next() as usize) % alphabet.len()] as char)
            .collect();
        let _ = Pattern::parse(&s);
    }
}

/// The reference evaluator against the shared benchmark's expected counts
/// (`../shared/bench/README.md` section 3). Needs the generated data in `target/bench-data/`
/// (see that README); slow in debug builds:
/// `cargo test --release -p localbridge-rules bench_counts -- --ignored`.
#[test]
#[ignore]
fn bench_counts_reference() {
    use std::io::BufRead;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bench = root.join("../shared/bench");
    let readme = std::fs::read_to_string(bench.join("README.md")).expect("bench README");
    let mut expected = std::collections::HashMap::new();
    for line in readme.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4 && cells[2].starts_with('`') {
            if let Ok(n) = cells[3].parse::<usize>() {
                expected.insert(cells[2].trim_matches('`').to_owned(), n);
            }
        }
    }
    let mut failures = Vec::new();
    for format in ["v1", "v2"] {
        let data = root.join(format!("target/bench-data/citylots-{format}.jsonl"));
        let Ok(file) = std::fs::File::open(&data) else {
            eprintln!("skipping {format}: no {}", data.display());
            continue;
        };
        let mut patterns = Vec::new();
        for entry in std::fs::read_dir(bench.join("rules")).unwrap() {
            let set: Value = serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
            if set["format"] != format {
                continue;
            }
            for (name, p) in set["patterns"].as_object().unwrap() {
                patterns.push((name.clone(), Pattern::parse(&p.to_string()).unwrap(), 0usize));
            }
        }
        for line in std::io::BufReader::new(file).lines() {
            let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
            for (_, p, n) in patterns.iter_mut() {
                if p.matches(&event) {
                    *n += 1;
                }
            }
        }
        for (name, _, n) in &patterns {
            let want = expected.get(name).copied();
            eprintln!("{format} {name}: {n} (expected {want:?})");
            if want != Some(*n) {
                failures.push(format!("{name}: {n}, expected {want:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
