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
    /// The function's reserved concurrency, when set: invocations over it are throttled
    /// rather than queued.
    reserved: Option<usize>,
    closed: std::sync::atomic::AtomicBool,
}

/// Why an invocation could not run.
#[derive(Debug)]
pub(crate) enum PoolError {
    /// The process could not be started.
    Start(std::io::Error),
    /// The pool was replaced (new code or configuration) or its function deleted.
    Closed,
    /// Every slot of the function's reserved concurrency is busy (or it is 0).
    Throttled,
}

impl Pool {
    pub fn new(max_environments: usize) -> Self {
        Self::with_limit(max_environments, None)
    }

    /// A pool of at most `max_environments`, or of the function's reserved concurrency.
    pub fn with_limit(max_environments: usize, reserved: Option<usize>) -> Self {
        let slots = reserved.unwrap_or(max_environments.max(1));
        Self {
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(slots),
            reserved,
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Runs `invocation` on a warm environment, or on a new one started with `launch`.
    pub async fn invoke(
        &self,
        launch: impl FnOnce() -> Launch,
        invocation: Invocation,
    ) -> Result<(Invoked, bool), PoolError> {
        let _slot = if self.reserved.is_some() {
            match self.slots.try_acquire() {
                Ok(p) => p,
                Err(tokio::sync::TryAcquireError::Closed) => return Err(PoolError::Closed),
                Err(tokio::sync::TryAcquireError::NoPermits) => return Err(PoolError::Throttled),
            }
        } else {
            self.slots.acquire().await.map_err(|_| PoolError::Closed)?
        };
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
