//! A function's execution environments: warm ones are reused (most recently used first, as
//! Lambda does), new ones start when all are busy, up to the function's concurrency; an
//! environment that timed out, crashed or failed to initialize is not reused.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::runtime::{Environment, Invocation, Invoked, Launch};

pub(crate) struct Pool {
    idle: Mutex<Vec<(Arc<Environment>, Instant)>>,
    slots: Semaphore,
    closed: std::sync::atomic::AtomicBool,
}

/// Why an invocation could not run.
#[derive(Debug)]
pub(crate) enum PoolError {
    /// The process could not be started.
    Start(std::io::Error),
    /// The pool was replaced (new code or configuration) or its function deleted.
    Closed,
}

impl Pool {
    pub fn new(max_environments: usize) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(max_environments.max(1)),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Runs `invocation` on a warm environment, or on a new one started with `launch`.
    pub async fn invoke(
        &self,
        launch: impl FnOnce() -> Launch,
        invocation: Invocation,
    ) -> Result<(Invoked, bool), PoolError> {
        let _slot = self.slots.acquire().await.map_err(|_| PoolError::Closed)?;
        let warm = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let mut found = None;
            while let Some((env, _)) = idle.pop() {
                if env.is_alive() {
                    found = Some(env);
                    break;
                }
            }
            found
        };
        let (env, cold) = match warm {
            Some(env) => (env, false),
            None => (
                Arc::new(Environment::start(launch()).await.map_err(PoolError::Start)?),
                true,
            ),
        };
        let invoked = env.invoke(invocation).await;
        if env.is_alive() && !self.closed.load(std::sync::atomic::Ordering::Acquire) {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((env, Instant::now()));
        }
        Ok((invoked, cold))
    }

    /// Stops the idle environments; busy ones stop when their invocation ends.
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::Release);
        self.slots.close();
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        drop(idle);
    }

    /// Stops environments idle for longer than `keep`.
    pub fn reap(&self, keep: Duration) {
        let stale: Vec<_> = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let (stale, warm): (Vec<_>, Vec<_>) = idle.drain(..).partition(|(_, t)| t.elapsed() > keep);
            *idle = warm;
            stale
        };
        drop(stale);
    }
}
