//! The fan-out stage: where a published message's deliveries are built, off the caller's path.
//!
//! Building a notification means signing it (RSA, about 2 ms for a 2048-bit key in pure Rust),
//! far more than the rest of Publish. So Publish validates, deduplicates and assigns the message
//! id, hands the fan-out to this stage and answers; the stage's worker threads (one per core by
//! default) apply filter policies, sign and submit the deliveries to the engine.
//!
//! - **Order.** A topic's messages always go to the same worker (by a hash of the topic ARN),
//!   which runs them in the order they were published, so a FIFO topic's subscribers see its
//!   order, and a standard topic's too.
//! - **Bounds.** Each worker holds at most `capacity` messages waiting; beyond that Publish
//!   answers `Throttled` (AWS's "Rate exceeded", which the SDKs retry) and a producer
//!   delivering through the engine is told to retry: nothing accepted is dropped.
//! - **Inline.** With no workers, fan-out runs in the caller (tests that want it synchronous).

use std::hash::{Hash as _, Hasher as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

/// One message's fan-out.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// The stage's workers, or none (inline).
pub(crate) struct Stage {
    workers: Vec<SyncSender<Job>>,
    pending: Arc<AtomicU64>,
}

/// The stage had no room for a message.
#[derive(Debug)]
pub(crate) struct Full;

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage")
            .field("workers", &self.workers.len())
            .field("pending", &self.pending())
            .finish()
    }
}

impl Stage {
    /// `workers` threads, each holding up to `capacity` waiting messages; `0` workers: inline.
    /// Made inside a tokio runtime, the workers run in its context (the engine spawns tasks).
    pub(crate) fn new(workers: usize, capacity: usize) -> Self {
        let pending = Arc::new(AtomicU64::new(0));
        let runtime = tokio::runtime::Handle::try_current().ok();
        let mut senders = Vec::with_capacity(workers);
        for i in 0..workers {
            let (tx, rx) = sync_channel::<Job>(capacity.max(1));
            let count = Arc::clone(&pending);
            let runtime = runtime.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("sns-fan-out-{i}"))
                .spawn(move || {
                    let _context = runtime.as_ref().map(tokio::runtime::Handle::enter);
                    // Ends when the service (every sender) is gone.
                    while let Ok(job) = rx.recv() {
                        // A bug in one message's fan-out must not stop the worker.
                        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                            tracing::error!("an SNS fan-out panicked; the worker goes on");
                        }
                        count.fetch_sub(1, Ordering::Relaxed);
                    }
                });
            match spawned {
                Ok(_) => senders.push(tx),
                Err(e) => tracing::warn!(error = %e, "an SNS fan-out worker could not start"),
            }
        }
        Self {
            workers: senders,
            pending,
        }
    }

    /// Runs `job` on the worker of `key` (a topic ARN), or here when there are no workers.
    pub(crate) fn run(&self, key: &str, job: Job) -> Result<(), Full> {
        if self.workers.is_empty() {
            job();
            return Ok(());
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let worker = &self.workers[(h.finish() % self.workers.len() as u64) as usize];
        self.pending.fetch_add(1, Ordering::Relaxed);
        match worker.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.pending.fetch_sub(1, Ordering::Relaxed);
                Err(Full)
            }
        }
    }

    /// Messages handed to the stage whose fan-out has not finished.
    pub(crate) fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn one_key_runs_in_order_and_a_full_worker_refuses() {
        let stage = Stage::new(2, 1000);
        let seen = Arc::new(Mutex::new(Vec::new()));
        for i in 0..500 {
            let seen = Arc::clone(&seen);
            stage
                .run(
                    "arn:aws:sns:us-east-1:000000000000:t",
                    Box::new(move || seen.lock().unwrap().push(i)),
                )
                .unwrap();
        }
        let (tx, rx) = std::sync::mpsc::channel();
        stage
            .run(
                "arn:aws:sns:us-east-1:000000000000:t",
                Box::new(move || tx.send(()).unwrap()),
            )
            .unwrap();
        rx.recv().unwrap();
        assert_eq!(*seen.lock().unwrap(), (0..500).collect::<Vec<_>>());

        // A worker blocked on its first job, with room for one more: the third is refused.
        let stage = Stage::new(1, 1);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel();
        stage
            .run(
                "k",
                Box::new(move || {
                    started_tx.send(()).unwrap();
                    wait.recv().unwrap();
                }),
            )
            .unwrap();
        started.recv().unwrap();
        stage.run("k", Box::new(|| {})).unwrap();
        assert!(stage.run("k", Box::new(|| {})).is_err());
        assert_eq!(stage.pending(), 2);
        release.send(()).unwrap();
    }

    #[test]
    fn without_workers_jobs_run_inline() {
        let stage = Stage::new(0, 0);
        let ran = Arc::new(AtomicU64::new(0));
        let r = Arc::clone(&ran);
        stage
            .run("k", Box::new(move || _ = r.fetch_add(1, Ordering::Relaxed)))
            .unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), 1);
    }
}
