//! Request metrics, recorded per request on the hot path with atomics (one sharded-map lookup,
//! no lock held, no allocation once a series exists), and their Prometheus text rendering with
//! the delivery engine's counters.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use lb_core::deliver::Engine;

/// Upper bounds (seconds) of the request duration histogram's buckets.
pub const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// Per-request counters and durations.
#[derive(Default)]
pub struct Metrics {
    requests: DashMap<(&'static str, &'static str, u16), AtomicU64>,
    durations: DashMap<&'static str, Histogram>,
    in_flight: AtomicU64,
}

/// Counts a request as in flight until dropped (answered, or abandoned by its connection).
pub struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Marks a request in flight (a test can wait until a long poll is being served).
    pub fn start(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts one request. `service` and `operation` are static names (never request text), so
    /// the number of series is bounded.
    pub fn record(&self, service: &'static str, operation: &'static str, status: u16, elapsed: Duration) {
        let key = (service, operation, status);
        match self.requests.get(&key) {
            Some(c) => {
                c.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.requests.entry(key).or_default().fetch_add(1, Ordering::Relaxed);
            }
        }
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let observe = |h: &Histogram| {
            h.buckets[slot].fetch_add(1, Ordering::Relaxed);
            h.count.fetch_add(1, Ordering::Relaxed);
            h.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        };
        match self.durations.get(service) {
            Some(h) => observe(&h),
            None => observe(&self.durations.entry(service).or_default()),
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, engine: &Engine) -> String {
        let mut out = String::with_capacity(4096);
        let targets = engine.target_stats();
        out.push_str("# HELP localbridge_deliveries_total Deliveries that reached a fate, per target.\n");
        out.push_str("# TYPE localbridge_deliveries_total counter\n");
        for t in &targets {
            for (fate, n) in [
                ("delivered", t.delivered),
                ("dead-lettered", t.dead_lettered),
                ("dropped", t.dropped),
            ] {
                let _ = writeln!(
                    out,
                    "localbridge_deliveries_total{{target=\"{}\",fate=\"{fate}\"}} {n}",
                    label(&t.target)
                );
            }
        }
        out.push_str("# HELP localbridge_deliveries_pending Deliveries not yet at a fate, per target.\n");
        out.push_str("# TYPE localbridge_deliveries_pending gauge\n");
        for t in &targets {
            let _ = writeln!(
                out,
                "localbridge_deliveries_pending{{target=\"{}\"}} {}",
                label(&t.target),
                t.pending
            );
        }
        out.push_str("# HELP localbridge_delivery_retries_total Delivery attempts that failed and were scheduled again, per target.\n");
        out.push_str("# TYPE localbridge_delivery_retries_total counter\n");
        for t in &targets {
            let _ = writeln!(
                out,
                "localbridge_delivery_retries_total{{target=\"{}\"}} {}",
                label(&t.target),
                t.retried
            );
        }
        out.push_str(
            "# HELP localbridge_requests_in_flight Requests received and not yet answered (this scrape included).\n",
        );
        out.push_str("# TYPE localbridge_requests_in_flight gauge\n");
        let _ = writeln!(out, "localbridge_requests_in_flight {}", self.in_flight());
        out.push_str("# HELP localbridge_requests_total API requests, per service, operation and HTTP status.\n");
        out.push_str("# TYPE localbridge_requests_total counter\n");
        let mut rows: Vec<_> = self
            .requests
            .iter()
            .map(|e| (*e.key(), e.value().load(Ordering::Relaxed)))
            .collect();
        rows.sort_unstable();
        for ((service, operation, status), n) in rows {
            let _ = writeln!(
                out,
                "localbridge_requests_total{{service=\"{service}\",operation=\"{operation}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP localbridge_request_duration_seconds Time from a request's headers to its response, per service.\n",
        );
        out.push_str("# TYPE localbridge_request_duration_seconds histogram\n");
        let mut services: Vec<&'static str> = self.durations.iter().map(|e| *e.key()).collect();
        services.sort_unstable();
        for service in services {
            let Some(h) = self.durations.get(service) else { continue };
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "localbridge_request_duration_seconds_bucket{{service=\"{service}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += h.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "localbridge_request_duration_seconds_bucket{{service=\"{service}\",le=\"+Inf\"}} {cumulative}"
            );
            let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "localbridge_request_duration_seconds_sum{{service=\"{service}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "localbridge_request_duration_seconds_count{{service=\"{service}\"}} {}",
                h.count.load(Ordering::Relaxed)
            );
        }
        out
    }
}

/// A label value escaped as the text format requires (`\`, `"`, newline).
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_labels() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
