//! The rules-engine benchmark of issue 3 (see `benches/kit/README.md` for the kit and
//! `scripts/bench-rules`, which generates the data and runs this).
//!
//! Per category: all 5 patterns compiled into one `Machine`, events pre-loaded as raw JSON
//! text, single thread, `--passes` passes (3) over the 213,068 events, the per-pattern match
//! counts of every pass checked against the kit (a mismatch fails the run). Then the SCALING
//! sets (1, 100, 10,000 rules, and a 1-rule control reading the same fields as 10,000).
//!
//! The measurement runs in `--processes` separate processes (5), one after another: a
//! process's speed depends on where its stack, heap and code land, so the report gives, per
//! category, the median over processes of each process's median pass, the min, the max and
//! the spread ((max - min) / median), and the load average before each process. `--exe PATH`
//! (repeatable) alternates processes of several builds for A/B comparisons; `--child` runs
//! the sets in this process only and prints one tab-separated line per set.
//!
//! Data: `$LB_BENCH_DATA` or `target/bench-data` (made by `scripts/bench-rules`). Other
//! arguments (after `--`) select categories by name, e.g. `cargo bench -p localbridge-rules
//! -- EXACT`, and numbers select SCALING sizes (`-- SCALING-prefix 1 10000`; 0 is the same-fields control).

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

/// Separate processes per run (`--processes N`): one process's figures depend on where its
/// heap, stack and code happen to land, so a single process is one sample, not the answer.
const PROCESSES: usize = 5;
/// Passes over the events per process (`--passes N`); each is timed and its counts checked.
const PASSES: usize = 3;

struct Opts {
    /// Run the categories in this process and print one machine-readable line per set.
    child: bool,
    processes: usize,
    passes: usize,
    /// Executables whose children alternate (`--exe PATH`, repeatable): A/B comparisons in
    /// one run, each process of one build followed by one of the other.
    exes: Vec<PathBuf>,
    /// Category names and SCALING sizes, passed on to the children.
    selectors: Vec<String>,
}

impl Opts {
    fn parse() -> Opts {
        let mut o = Opts {
            child: false,
            processes: PROCESSES,
            passes: PASSES,
            exes: Vec::new(),
            selectors: Vec::new(),
        };
        let mut args = std::env::args().skip(1);
        let number = |flag: &str, v: Option<String>| -> usize {
            v.and_then(|v| v.parse().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(|| panic!("{flag} takes a positive number"))
        };
        while let Some(a) = args.next() {
            match a.as_str() {
                "--child" => o.child = true,
                "--processes" => o.processes = number("--processes", args.next()),
                "--passes" => o.passes = number("--passes", args.next()),
                "--exe" => o.exes.push(PathBuf::from(args.next().expect("--exe takes a path"))),
                // `cargo bench` passes `--bench`; other flags are not ours either.
                _ if a.starts_with('-') => {}
                _ => o.selectors.push(a),
            }
        }
        o
    }
}

fn main() {
    let opts = Opts::parse();
    if opts.child {
        child(&opts);
    } else {
        parent(&opts);
    }
}

/// One measured set as a child reports it: `R <label> <N> <rate,rate,...> <compile ms> <ok>`
/// (tab-separated; N is 0 for the categories and for the SCALING same-fields control is
/// reported as `1s`).
struct Sample {
    label: String,
    n: String,
    /// events/s of each pass.
    rates: Vec<f64>,
    /// `probe()` around the passes (median), M iterations/s.
    probe: f64,
    compile_ms: f64,
    ok: bool,
}

impl Sample {
    fn line(&self) -> String {
        format!(
            "R\t{}\t{}\t{}\t{:.1}\t{:.3}\t{}",
            self.label,
            self.n,
            self.rates
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(","),
            self.probe,
            self.compile_ms,
            if self.ok { "ok" } else { "MISMATCH" }
        )
    }

    fn parse(line: &str) -> Option<Sample> {
        let f: Vec<&str> = line.strip_prefix("R\t")?.split('\t').collect();
        let [label, n, rates, probe, compile, ok] = f[..] else {
            return None;
        };
        Some(Sample {
            label: label.to_string(),
            n: n.to_string(),
            rates: rates.split(',').map(|r| r.parse().ok()).collect::<Option<_>>()?,
            probe: probe.parse().ok()?,
            compile_ms: compile.parse().ok()?,
            ok: ok == "ok",
        })
    }
}

/// (executable, set label, N), each process's (median pass, probe), compile ms.
type Row = ((usize, String, String), Vec<(f64, f64)>, f64);

/// Runs `processes` children one after another (alternating executables when several are
/// given) and prints, per category and executable, the median over processes of each
/// process's median pass, with min, max and spread ((max - min) / median).
fn parent(opts: &Opts) {
    let me = std::env::current_exe().expect("current exe");
    let exes = if opts.exes.is_empty() {
        vec![me]
    } else {
        opts.exes.clone()
    };
    println!(
        "rules benchmark: {} processes{}, {} passes each (every pass's match counts checked)",
        opts.processes,
        if exes.len() > 1 {
            " per executable, alternating"
        } else {
            ""
        },
        opts.passes
    );
    println!("nproc {}, cpu {}", nproc(), cpu_model());
    // (exe, label, n) -> the medians of each process's passes and its probe, in run order.
    let mut table: Vec<Row> = Vec::new();
    let mut loads = Vec::new();
    let mut failed = false;
    for round in 0..opts.processes {
        for (e, exe) in exes.iter().enumerate() {
            loads.push(loadavg());
            let out = std::process::Command::new(exe)
                .arg("--child")
                .args(["--passes", &opts.passes.to_string()])
                .args(&opts.selectors)
                .stderr(std::process::Stdio::inherit())
                .output()
                .unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
            if !out.status.success() {
                eprintln!("process {round} of {} failed: {}", exe.display(), out.status);
                failed = true;
            }
            for s in String::from_utf8_lossy(&out.stdout).lines().filter_map(Sample::parse) {
                failed |= !s.ok;
                let key = (e, s.label.clone(), s.n.clone());
                let m = (median(&s.rates), s.probe);
                match table.iter_mut().find(|r| r.0 == key) {
                    Some(r) => r.1.push(m),
                    None => table.push((key, vec![m], s.compile_ms)),
                }
            }
        }
    }
    println!("load average (1 min) before each process: {}", loads.join(" "));
    println!("load at the end: {}", loadavg());
    for (e, exe) in exes.iter().enumerate() {
        println!();
        if exes.len() > 1 {
            println!("{}", exe.display());
            println!();
        }
        println!(
            "| set | N | median events/s | min | max | spread | per process (median of its passes) | probe per process (M/s) | compile |"
        );
        println!("|---|---:|---:|---:|---:|---:|---|---|---:|");
        for ((x, label, n), procs, compile) in &table {
            if *x != e {
                continue;
            }
            let meds: Vec<f64> = procs.iter().map(|p| p.0).collect();
            let (med, lo, hi) = (median(&meds), min(&meds), max(&meds));
            let n = match n.as_str() {
                "0" => "",
                "1s" => "1 (same fields as 10000)",
                n => n,
            };
            println!(
                "| {label} | {n} | {} | {} | {} | {:.1} % | {} | {} | {compile:.2} ms |",
                fmt_rate(med),
                fmt_rate(lo),
                fmt_rate(hi),
                (hi - lo) / med * 100.0,
                meds.iter().map(|&r| fmt_rate(r)).collect::<Vec<_>>().join(" / "),
                procs
                    .iter()
                    .map(|p| format!("{:.0}", p.1))
                    .collect::<Vec<_>>()
                    .join(" / "),
            );
        }
        // Time per event at 10,000 rules against 1 rule (and 1 rule on the same fields),
        // from the medians.
        for &(kind, _) in SCALING {
            let at = |n: &str| {
                table
                    .iter()
                    .find(|((x, l, m), _, _)| *x == e && l == &format!("SCALING-{kind}") && m == n)
                    .map(|r| median(&r.1.iter().map(|p| p.0).collect::<Vec<_>>()))
            };
            if let (Some(one), Some(hundred), Some(big)) = (at("1"), at("100"), at("10000")) {
                let same = at("1s").map_or(String::new(), |s| {
                    format!(" ({:.2}× vs 1 rule on the same fields)", s / big)
                });
                println!(
                    "SCALING {kind}: {} / {} / {} events/s at 1 / 100 / 10,000 rules; time per event at 10,000 vs 1: {:.2}×{same}",
                    fmt_rate(one),
                    fmt_rate(hundred),
                    fmt_rate(big),
                    one / big
                );
            }
        }
    }
    if failed {
        eprintln!("MATCH COUNT MISMATCH or a failed process (see above)");
        std::process::exit(1);
    }
}

fn child(opts: &Opts) {
    let args = &opts.selectors;
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
    let passes = opts.passes;

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
        let want: Vec<usize> = patterns
            .iter()
            .map(|(name, _)| expected.iter().find(|(n, _)| n == name).map_or(usize::MAX, |&(_, c)| c))
            .collect();
        if patterns.len() != expected.len() {
            failures.push(format!(
                "{category}: {} patterns, expected {}",
                patterns.len(),
                expected.len()
            ));
        }
        let r = run(&patterns, events, passes, |counts| counts == want.as_slice());
        if !r.ok {
            failures.push(format!("{category}: counts {:?}, expected {want:?}", r.bad));
        }
        println!("{}", r.sample(category, "0").line());
    }

    for &(kind, sets) in SCALING {
        let label = format!("SCALING-{kind}");
        if !wanted("SCALING") && !wanted(&label) {
            continue;
        }
        let events = loaded[0].get_or_insert_with(|| Events::load(&data.join("citylots-v1.jsonl")));
        for (n, total) in sets {
            if !sizes.is_empty() && !sizes.contains(&n) {
                continue;
            }
            let path = data.join(format!("scaling-{kind}-{n}.json"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (run scripts/bench-rules --data-only)", path.display()));
            let patterns = rule_bodies(&text);
            assert_eq!(patterns.len(), n, "{}", path.display());
            let r = run(&patterns, events, passes, |counts| {
                counts.iter().sum::<usize>() == total
            });
            if !r.ok {
                failures.push(format!("SCALING {kind} N={n}: {:?} matches, expected {total}", r.bad));
            }
            println!("{}", r.sample(&label, &n.to_string()).line());
        }
        if sizes.is_empty() || sizes.contains(&0) {
            let control = SAME_FIELDS.iter().find(|(k, _)| *k == kind).expect("control").1;
            let r = run(
                &[("same-fields".to_string(), control.to_string())],
                events,
                passes,
                |c| c == [0],
            );
            if !r.ok {
                failures.push(format!("SCALING {kind} same-fields control matched {:?}", r.bad));
            }
            println!("{}", r.sample(&label, "1s").line());
        }
    }

    if !failures.is_empty() {
        eprintln!("MATCH COUNT MISMATCHES:");
        for f in &failures {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
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
        for i in memchr::memchr_iter(b'\n', &text) {
            if i > start {
                lines.push((start, i));
            }
            start = i + 1;
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
    /// The median of the passes' `probe()`.
    probe: f64,
    compile_ms: f64,
    ok: bool,
    /// The first pass's counts that failed the check.
    bad: Vec<usize>,
}

impl RunResult {
    fn sample(&self, label: &str, n: &str) -> Sample {
        Sample {
            label: label.to_string(),
            n: n.to_string(),
            rates: self.rates.clone(),
            probe: self.probe,
            compile_ms: self.compile_ms,
            ok: self.ok,
        }
    }
}

/// Compiles `patterns` into one machine and times `passes` passes over the events, checking
/// every pass's per-pattern counts with `check`.
fn run(patterns: &[(String, String)], events: &Events, passes: usize, check: impl Fn(&[usize]) -> bool) -> RunResult {
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
    let mut ok = true;
    let mut bad = Vec::new();
    let mut out = Vec::new();
    let mut counts = vec![0usize; patterns.len()];
    let mut probes = Vec::new();
    for _ in 0..passes {
        counts.iter_mut().for_each(|c| *c = 0);
        let before = probe();
        let t = Instant::now();
        for &(a, b) in &events.lines {
            m.matches_into(&events.text[a..b], &mut out).expect("valid event");
            for &k in &out {
                counts[k] += 1;
            }
        }
        let secs = t.elapsed().as_secs_f64();
        rates.push(events.lines.len() as f64 / secs);
        probes.push((before + probe()) / 2.0);
        if ok && !check(&counts) {
            ok = false;
            bad = counts.clone();
        }
    }
    RunResult {
        rates,
        probe: median(&probes),
        compile_ms,
        ok,
        bad,
    }
}

/// Millions of iterations per second of a fixed loop of register arithmetic (8 independent
/// multiply-add chains, no memory): how fast the CPU ran for this process just then, apart
/// from the matcher's code and data. Timed before and after every pass; when it moves with the
/// events/s, the machine (host contention, a sibling hyperthread) moved, not the matcher.
fn probe() -> f64 {
    const N: u64 = 400_000;
    let mut v = [1u64, 2, 3, 4, 5, 6, 7, 8];
    let t = Instant::now();
    for i in 0..N {
        for x in &mut v {
            *x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i);
        }
    }
    std::hint::black_box(v);
    N as f64 / t.elapsed().as_secs_f64() / 1e6
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
