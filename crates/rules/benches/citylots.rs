//! The rules-engine benchmark of issue 3 (see `benches/kit/README.md` for the kit and
//! `scripts/bench-rules`, which generates the data and runs this).
//!
//! Per category: all 5 patterns compiled into one `Machine`, events pre-loaded as raw JSON
//! text, single thread, 3 passes over the 213,068 events, best of 3 reported with the three
//! figures, compile time, and the per-pattern match counts checked against the kit (a mismatch
//! fails the run). Then the SCALING sets (1, 100, 10,000 rules).
//!
//! Data: `$LB_BENCH_DATA` or `target/bench-data` (made by `scripts/bench-rules`). Arguments
//! (after `--`) select categories by name, e.g. `cargo bench -p localbridge-rules -- EXACT`,
//! and numbers select SCALING sizes (`-- SCALING-prefix 10000`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use lb_rules::compiled::Machine;
use lb_rules::pattern::Pattern;

/// (file, category, format, expected (pattern, matches)) — the kit README, section 3.
/// Expected matches per pattern name.
type Counts = &'static [(&'static str, usize)];

const CATEGORIES: &[(&str, &str, Counts)] = &[
    (
        "exact",
        "EXACT",
        &[
            ("street-market", 1758),
            ("street-17th-odd", 456),
            ("lot-one", 1),
            ("st-type-blvd-or-null", 26725),
            ("feature-multipolygon", 108),
        ],
    ),
    (
        "prefix",
        "PREFIX",
        &[
            ("blklot-block-06", 2803),
            ("street-cl", 5347),
            ("street-san-or-val", 7141),
            ("from-st-39", 2962),
            ("ave-block-7", 3137),
        ],
    ),
    (
        "suffix",
        "SUFFIX",
        &[
            ("blklot-a", 26878),
            ("street-ero", 3631),
            ("lot-99", 1416),
            ("way-odd", 3265),
            ("to-st-50", 16280),
        ],
    ),
    (
        "equals-ignore-case",
        "EQUALS-IGNORE-CASE",
        &[
            ("street-mission", 1782),
            ("street-van-ness", 1770),
            ("st-type-ave", 40050),
            ("geary-odd", 464),
            ("multipolygon", 108),
        ],
    ),
    (
        "anything-but",
        "ANYTHING-BUT",
        &[
            ("st-type-not-st-ave", 119907),
            ("odd-side", 53154),
            ("dr-not-unknown", 13074),
            ("not-polygon", 108),
            ("not-mission-district", 204288),
        ],
    ),
    (
        "numeric",
        "NUMERIC",
        &[
            ("x-band", 14541),
            ("y-band", 11367),
            ("west-edge", 7323),
            ("south-edge", 4799),
            ("market-z-zero", 1758),
        ],
    ),
    (
        "wildcard",
        "WILDCARD",
        &[
            ("street-1x-th", 15753),
            ("blklot-06-a", 376),
            ("street-contains-an", 21252),
            ("mapblklot-1-0", 16647),
            ("st-type-a-odd", 13450),
        ],
    ),
    (
        "exists",
        "EXISTS",
        &[
            ("st-type-exists", 213068),
            ("no-owner-market", 1758),
            ("coords-exist-odd", 53154),
            ("multipolygon-has-blklot", 108),
            ("no-owner-no-tax-ter-odd", 3263),
        ],
    ),
    (
        "complex-arrays",
        "COMPLEX-ARRAYS",
        &[
            ("ring-point-lookup", 10),
            ("market-mission-z0", 3540),
            ("multipolygon-x-exists", 108),
            ("first-point-in-ring", 5),
            ("odd-no-w-in-ring", 53154),
        ],
    ),
    ("mixed", "MIXED", MIXED),
    ("mixed-common", "MIXED-COMMON", MIXED),
];

const MIXED: Counts = &[
    ("san-not-st-lot-a", 329),
    ("market-even-z0", 1320),
    ("block0-a-no-owner", 3562),
    ("ave-lot0-numbered", 1500),
    ("geary-clement-to1", 730),
];

/// (kind, [(N, total matches)]) — the kit README, section 4.
const SCALING: &[(&str, [(usize, usize); 3])] = &[
    ("exact", [(1, 1), (100, 17657), (10000, 117969)]),
    ("prefix", [(1, 25), (100, 2820), (10000, 278176)]),
    ("mixed", [(1, 1), (100, 11153), (10000, 254326)]),
];

/// Per SCALING kind, one pattern that reads the same event fields as that kind's rules and
/// matches nothing: a 1-rule control that separates the cost of more rules from the cost of
/// reading more fields (the 1-rule sets read one field, the 10,000-rule sets three or five).
const SAME_FIELDS: &[(&str, &str)] = &[
    (
        "exact",
        r#"{"properties": {"MAPBLKLOT": ["zz"], "STREET": ["zzz"], "FROM_ST": ["zz"]}}"#,
    ),
    (
        "prefix",
        r#"{"properties": {"BLKLOT": [{"prefix": "zzzz"}], "STREET": [{"prefix": "zzz"}], "BLOCK_NUM": [{"prefix": "zz"}]}}"#,
    ),
    (
        "mixed",
        r#"{"properties": {"MAPBLKLOT": ["zz"], "BLKLOT": [{"prefix": "zzzz"}], "STREET": [{"prefix": "zzz"}], "FROM_ST": ["zz"], "BLOCK_NUM": [{"prefix": "zz"}]}}"#,
    ),
];

const PASSES: usize = 3;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    // Numbers select SCALING sizes, words select categories.
    let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let filters: Vec<&String> = args.iter().filter(|a| a.parse::<usize>().is_err()).collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.eq_ignore_ascii_case(f));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = std::env::var_os("LB_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../target/bench-data"));
    let kit = manifest.join("benches/kit/rules");
    let mut failures = Vec::new();

    println!(
        "rules benchmark: {} passes, best of {PASSES} reported; data {}",
        PASSES,
        data.display()
    );
    println!("nproc {}, cpu {}, load {}", nproc(), cpu_model(), loadavg());
    println!();
    println!("| category | best events/s | passes (events/s) | compile | load avg (1 min) | counts |");
    println!("|---|---:|---|---:|---:|---|");

    let mut loaded: [Option<Events>; 2] = [None, None];
    for &(file, category, expected) in CATEGORIES {
        if !wanted(category) {
            continue;
        }
        let text = std::fs::read_to_string(kit.join(format!("{file}.json"))).expect("rule file");
        let format = if text.contains("\"format\": \"v2\"") { 1 } else { 0 };
        let events = loaded[format].get_or_insert_with(|| {
            Events::load(&data.join(if format == 1 {
                "citylots-v2.jsonl"
            } else {
                "citylots-v1.jsonl"
            }))
        });
        let patterns = rule_bodies(&text);
        let r = run(&patterns, events);
        let mut ok = true;
        for (i, (name, _)) in patterns.iter().enumerate() {
            let want = expected.iter().find(|(n, _)| n == name).map(|&(_, c)| c);
            if want != Some(r.counts[i]) {
                ok = false;
                failures.push(format!("{category} {name}: {} matches, expected {want:?}", r.counts[i]));
            }
        }
        if patterns.len() != expected.len() {
            ok = false;
            failures.push(format!(
                "{category}: {} patterns, expected {}",
                patterns.len(),
                expected.len()
            ));
        }
        println!(
            "| {category} | {} | {} | {:.2} ms | {} | {} |",
            fmt_rate(r.best()),
            r.rates.iter().map(|&x| fmt_rate(x)).collect::<Vec<_>>().join(" / "),
            r.compile_ms,
            r.load,
            if ok {
                "ok".to_string()
            } else {
                format!("MISMATCH {:?}", r.counts)
            }
        );
    }

    let mut scaling_rows = Vec::new();
    for &(kind, sets) in SCALING {
        if !wanted("SCALING") && !wanted(&format!("SCALING-{kind}")) {
            continue;
        }
        let events = loaded[0].get_or_insert_with(|| Events::load(&data.join("citylots-v1.jsonl")));
        let mut row = Vec::new();
        for (n, total) in sets {
            if !sizes.is_empty() && !sizes.contains(&n) {
                continue;
            }
            let path = data.join(format!("scaling-{kind}-{n}.json"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (run scripts/bench-rules --data-only)", path.display()));
            let patterns = rule_bodies(&text);
            assert_eq!(patterns.len(), n, "{}", path.display());
            let r = run(&patterns, events);
            let got: usize = r.counts.iter().sum();
            if got != total {
                failures.push(format!("SCALING {kind} N={n}: {got} matches, expected {total}"));
            }
            row.push((n, r, got == total));
        }
        if sizes.is_empty() || sizes.contains(&1) {
            let control = SAME_FIELDS.iter().find(|(k, _)| *k == kind).expect("control").1;
            let r = run(&[("same-fields".to_string(), control.to_string())], events);
            let ok = r.counts == [0];
            if !ok {
                failures.push(format!("SCALING {kind} same-fields control matched {:?}", r.counts));
            }
            row.push((0, r, ok));
        }
        scaling_rows.push((kind, row));
    }
    if !scaling_rows.is_empty() {
        println!();
        println!("| SCALING | N | best events/s | passes (events/s) | compile | load avg | total | time per event vs 1 rule (vs 1 rule on the same fields) |");
        println!("|---|---:|---:|---|---:|---:|---|---:|");
        for (kind, row) in &scaling_rows {
            let one = row.iter().find(|r| r.0 == 1).map_or(f64::NAN, |r| r.1.best());
            let same = row.iter().find(|r| r.0 == 0).map_or(f64::NAN, |r| r.1.best());
            for (n, r, ok) in row {
                let label = if *n == 0 {
                    "1 (same fields as 10000)".to_string()
                } else {
                    n.to_string()
                };
                println!(
                    "| {kind} | {label} | {} | {} | {:.1} ms | {} | {} | {} |",
                    fmt_rate(r.best()),
                    r.rates.iter().map(|&x| fmt_rate(x)).collect::<Vec<_>>().join(" / "),
                    r.compile_ms,
                    r.load,
                    if *ok { "ok" } else { "MISMATCH" },
                    if *n == 10000 {
                        format!("{:.2}× ({:.2}×)", one / r.best(), same / r.best())
                    } else {
                        String::new()
                    }
                );
            }
        }
    }

    println!();
    println!("load at the end: {}", loadavg());
    if !failures.is_empty() {
        eprintln!("MATCH COUNT MISMATCHES:");
        for f in &failures {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}

struct Events {
    text: Vec<u8>,
    lines: Vec<(usize, usize)>,
}

impl Events {
    fn load(path: &Path) -> Events {
        let text = std::fs::read(path)
            .unwrap_or_else(|e| panic!("{}: {e} (run scripts/bench-rules --data-only)", path.display()));
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, &c) in text.iter().enumerate() {
            if c == b'\n' {
                if i > start {
                    lines.push((start, i));
                }
                start = i + 1;
            }
        }
        if start < text.len() {
            lines.push((start, text.len()));
        }
        assert_eq!(lines.len(), 213_068, "{}: expected 213,068 events", path.display());
        Events { text, lines }
    }
}

struct RunResult {
    rates: Vec<f64>,
    compile_ms: f64,
    counts: Vec<usize>,
    load: String,
}

impl RunResult {
    fn best(&self) -> f64 {
        self.rates.iter().copied().fold(0.0, f64::max)
    }
}

fn run(patterns: &[(String, String)], events: &Events) -> RunResult {
    let parsed: Vec<Pattern> = patterns
        .iter()
        .map(|(name, body)| Pattern::parse(body).unwrap_or_else(|e| panic!("pattern {name}: {e}")))
        .collect();
    // Compile time: the better of two compilations (the first one after a large machine was
    // freed also pays the allocator's clean-up of it).
    let mut compile_ms = f64::INFINITY;
    let mut machine = None;
    for _ in 0..2 {
        drop(machine.take());
        let t = Instant::now();
        let mut m = Machine::new();
        for (i, p) in parsed.iter().enumerate() {
            m.add(i, p);
        }
        compile_ms = compile_ms.min(t.elapsed().as_secs_f64() * 1e3);
        machine = Some(m);
    }
    let m = machine.expect("compiled");
    let mut rates = Vec::new();
    let mut counts = vec![0usize; patterns.len()];
    let mut out = Vec::new();
    for pass in 0..PASSES {
        let mut pass_counts = vec![0usize; patterns.len()];
        let t = Instant::now();
        for &(a, b) in &events.lines {
            m.matches_into(&events.text[a..b], &mut out).expect("valid event");
            for &k in &out {
                pass_counts[k] += 1;
            }
        }
        let secs = t.elapsed().as_secs_f64();
        rates.push(events.lines.len() as f64 / secs);
        if pass == 0 {
            counts = pass_counts;
        } else {
            assert_eq!(counts, pass_counts, "passes disagree");
        }
    }
    RunResult {
        rates,
        compile_ms,
        counts,
        load: loadavg(),
    }
}

/// The `(name, body)` of every pattern of a kit rule file, bodies verbatim (one per line in
/// the kit's files; a parse and reserialise would change the number literals).
fn rule_bodies(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_patterns = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("\"patterns\"") {
            in_patterns = true;
            continue;
        }
        if !in_patterns || !l.starts_with('"') {
            continue;
        }
        let Some(end) = l[1..].find('"') else { continue };
        let name = l[1..1 + end].to_string();
        let body = l[1 + end + 1..].trim_start().trim_start_matches(':').trim();
        let body = body.strip_suffix(',').unwrap_or(body);
        out.push((name, body.to_string()));
    }
    out
}

fn fmt_rate(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else {
        format!("{:.0}k", x / 1e3)
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn nproc() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}
