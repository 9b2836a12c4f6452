//! The progress line `localbridge replay` draws on stderr when stderr is a terminal: a bar over
//! the bytes of the input file read (none for stdin), the events sent and failed, the rate, and
//! the server time a paced replay waits for.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the replay has done so far, shared with the progress line.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    /// Server time (epoch ms) being waited for; 0 when not waiting.
    pub waiting_for: AtomicU64,
}

pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const WIDTH: usize = 24;

/// The line for these figures (no terminal codes).
pub fn line(read: u64, total: Option<u64>, sent: u64, failed: u64, elapsed: Duration, waiting_for: u64) -> String {
    let mut s = String::new();
    if let Some(total) = total.filter(|t| *t > 0) {
        let done = read.min(total);
        let filled = usize::try_from(done * WIDTH as u64 / total).unwrap_or(WIDTH);
        s.push('[');
        s.push_str(&"#".repeat(filled));
        s.push_str(&"-".repeat(WIDTH - filled));
        s.push_str(&format!("] {:3}% ", done * 100 / total));
    }
    let rate = sent as f64 / elapsed.as_secs_f64().max(0.001);
    s.push_str(&format!("{sent} sent, {failed} failed, {rate:.0} events/s"));
    if waiting_for > 0 {
        s.push_str(", waiting for server time ");
        s.push_str(&lb_core::clock::rfc3339(waiting_for));
    }
    s
}

impl Progress {
    /// Starts drawing if stderr is a terminal and `enabled`.
    pub fn start(enabled: bool, total: Option<u64>, read: Arc<AtomicU64>, counters: Arc<Counters>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        if !enabled || !std::io::stderr().is_terminal() {
            return Self { stop, thread: None };
        }
        let started = Instant::now();
        let flag = Arc::clone(&stop);
        // A thread of its own: drawing never waits for the runtime, which may be busy sending.
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let text = line(
                    read.load(Ordering::Relaxed),
                    total,
                    counters.sent.load(Ordering::Relaxed),
                    counters.failed.load(Ordering::Relaxed),
                    started.elapsed(),
                    counters.waiting_for.load(Ordering::Relaxed),
                );
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{text}");
                let _ = err.flush();
                drop(err);
                std::thread::sleep(Duration::from_millis(150));
            }
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops drawing and clears the line.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            line(50, Some(100), 10, 1, Duration::from_secs(2), 0),
            "[############------------]  50% 10 sent, 1 failed, 5 events/s"
        );
        assert_eq!(
            line(7, None, 0, 0, Duration::from_secs(1), 1_700_000_000_000),
            "0 sent, 0 failed, 0 events/s, waiting for server time 2023-11-14T22:13:20Z"
        );
        assert!(line(200, Some(100), 0, 0, Duration::ZERO, 0).starts_with("[########################] 100% "));
    }
}
