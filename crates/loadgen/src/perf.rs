//! The server's hot spots from a `perf record` file, read through `perf script`: the functions
//! with the most samples of their own and, when call graphs were recorded
//! (`--perf-call-graph dwarf`), each sample charged to the innermost localbridge component on
//! its stack, and the generic leaves (memmove, malloc, the kernel) charged to the nearest
//! localbridge frame that called them. Samples are cpu-clock where the machine has no PMU, so
//! percentages are of the server's CPU time, kernel included.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use anyhow::{ensure, Context as _};

/// A sample's component: the first of these found walking its stack from the leaf.
const COMPONENTS: &[(&str, &str)] = &[
    (
        "lb_events::journal",
        "events: Journal::record (the journal of recent events)",
    ),
    (
        "lb_rules::transform::minify",
        "events: minify the detail (lb_rules::transform::minify)",
    ),
    ("lb_rules::", "rules: matching (Router::route → Machine::run)"),
    (
        "lb_events::route::delivery",
        "events: route::delivery (build each Delivery)",
    ),
    (
        "lb_core::policy",
        "sqs: the queue policy evaluated per message (check_policy → lb_core::policy)",
    ),
    (
        "lb_sqs::target::check_policy",
        "sqs: the queue policy evaluated per message (check_policy → lb_core::policy)",
    ),
    ("lb_sqs::digest", "sqs: MD5 of the body"),
    ("lb_sqs::", "sqs: other (prepare, enqueue, store)"),
    (
        "lb_core::deliver::engine::Inner::enqueue",
        "engine: submit (Inner::enqueue, ledger record)",
    ),
    ("lb_core::deliver", "engine: lane, attempt, finish, ledger"),
    (
        "lb_events::service::Events::bus_handle",
        "events: bus lookup (bus_handle)",
    ),
    ("lb_protocol::json::decode", "events: PutEvents JSON decode"),
    (
        "lb_events::service",
        "events: put_entry / route, own code (event text, id, journal entry)",
    ),
    ("lb_events::", "events: API glue (input, response encode)"),
    ("lb_sqs", "sqs: API"),
    ("lb_gateway", "gateway"),
    ("hyper", "hyper (HTTP/1 parse and encode)"),
];

struct Frame {
    sym: String,
    dso: String,
    kernel: bool,
}

fn parse(text: &str) -> Vec<Vec<Frame>> {
    let mut samples = Vec::new();
    let mut cur: Vec<Frame> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            if !cur.is_empty() {
                samples.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let (ip, rest) = line.split_once(char::is_whitespace).unwrap_or((line, "[unknown]"));
        let rest = rest.trim();
        let (sym, dso) = match rest.rsplit_once(" (") {
            Some((s, d)) if d.ends_with(')') => (s, d.trim_end_matches(')')),
            _ => (rest, ""),
        };
        let dso = dso.rsplit('/').next().unwrap_or(dso);
        cur.push(Frame {
            sym: sym.to_owned(),
            dso: dso.to_owned(),
            kernel: ip.starts_with("ffffffff") && ip != "ffffffffffffffff",
        });
    }
    if !cur.is_empty() {
        samples.push(cur);
    }
    samples
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

fn pct(n: usize, total: usize) -> f64 {
    100.0 * n as f64 / total.max(1) as f64
}

fn sorted<K: Clone>(m: &HashMap<K, usize>) -> Vec<(K, usize)> {
    let mut v: Vec<(K, usize)> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    v
}

/// The report for one `perf.data` file.
pub fn hot_spots(data: &Path) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let out = Command::new("perf")
        .args(["script", "-F", "ip,sym,dso", "--no-inline", "-i"])
        .arg(data)
        .output()
        .context("running perf script")?;
    ensure!(
        out.status.success(),
        "perf script: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples = parse(&String::from_utf8_lossy(&out.stdout));
    let n = samples.len();
    let call_graphs = samples.iter().any(|s| s.len() > 1);

    // Self samples by leaf, and (for the generic leaves) by the nearest localbridge caller.
    let mut leaf: HashMap<(String, String), usize> = HashMap::new();
    let mut owner: HashMap<(String, String), usize> = HashMap::new();
    let mut dso: HashMap<String, usize> = HashMap::new();
    let mut component: HashMap<&str, usize> = HashMap::new();
    let mut component_leaf: HashMap<(&str, String), usize> = HashMap::new();
    for s in &samples {
        let Some(top) = s.first() else { continue };
        *leaf.entry((top.dso.clone(), top.sym.clone())).or_default() += 1;
        *dso.entry(top.dso.clone()).or_default() += 1;
        let leaf_name = if top.kernel {
            "(kernel)".to_owned()
        } else {
            top.sym.clone()
        };
        if !top.sym.starts_with("lb_") {
            let by = s[1..]
                .iter()
                .find(|f| f.sym.contains("lb_"))
                .map_or("(no localbridge frame)".to_owned(), |f| f.sym.clone());
            *owner.entry((leaf_name.clone(), by)).or_default() += 1;
        }
        let c = s
            .iter()
            .find_map(|f| COMPONENTS.iter().find(|(m, _)| f.sym.contains(m)).map(|(_, c)| *c))
            .unwrap_or(if top.kernel {
                "kernel, no server frame (scheduler, wake-ups)"
            } else {
                "tokio, runtime, other"
            });
        let c = if top.kernel && (c.starts_with("hyper") || c == "gateway") {
            "kernel under hyper (socket reads and writes)"
        } else {
            c
        };
        *component.entry(c).or_default() += 1;
        *component_leaf.entry((c, leaf_name)).or_default() += 1;
    }

    let mut r = String::new();
    let _ = writeln!(r, "{n} samples of the server's threads ({})", data.display());
    let by_dso: Vec<String> = sorted(&dso)
        .into_iter()
        .take(4)
        .map(|(d, c)| format!("{d} {:.1} %", pct(c, n)))
        .collect();
    let _ = writeln!(r, "by object: {}", by_dso.join(", "));
    let _ = writeln!(
        r,
        "by function, own samples (≥ 0.7 %){}:",
        if call_graphs {
            "; ← the nearest localbridge callers"
        } else {
            ""
        }
    );
    let owners = sorted(&owner);
    for ((d, sym), c) in sorted(&leaf) {
        if pct(c, n) < 0.7 {
            break;
        }
        let mut line = format!("  {:5.1} %  {:<18} {}", pct(c, n), short(&d, 18), short(&sym, 100));
        if call_graphs && !sym.starts_with("lb_") {
            let callers: Vec<String> = owners
                .iter()
                .filter(|((l, _), _)| *l == sym)
                .take(3)
                .filter(|(_, v)| pct(*v, n) >= 0.2)
                .map(|((_, by), v)| format!("{} {:.1}", short(by, 70), pct(*v, n)))
                .collect();
            if !callers.is_empty() {
                let _ = write!(line, "  ← {}", callers.join("; "));
            }
        }
        let _ = writeln!(r, "{line}");
    }
    if call_graphs {
        let kernel_callers: Vec<String> = owners
            .iter()
            .filter(|((l, _), _)| l == "(kernel)")
            .take(5)
            .map(|((_, by), v)| format!("{} {:.1}", short(by, 70), pct(*v, n)))
            .collect();
        let _ = writeln!(
            r,
            "kernel samples by the nearest localbridge caller: {}",
            kernel_callers.join("; ")
        );
        let _ = writeln!(
            r,
            "by component (the innermost localbridge marker on the sample's stack); [its largest own-sample leaves]:"
        );
        let leaves = sorted(&component_leaf);
        for (c, v) in sorted(&component) {
            let top: Vec<String> = leaves
                .iter()
                .filter(|((cc, _), _)| *cc == c)
                .take(3)
                .map(|((_, l), x)| format!("{} {:.1}", short(l, 60), pct(*x, n)))
                .collect();
            let _ = writeln!(r, "  {:5.1} %  {c}  [{}]", pct(v, n), top.join("; "));
        }
    }
    Ok(r)
}
