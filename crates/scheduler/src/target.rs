//! The scheduler as a delivery target: how an invocation reaches its target through the engine.
//!
//! Each firing is an *execution*: a delivery to the lane
//! `arn:aws:scheduler:<region>:<account>:invocation/<target>` whose message names the execution.
//! The engine gives it AWS's treatment — retries with back-off on the clock, up to the
//! schedule's `RetryPolicy`, then the dead-letter queue with AWS's attributes — and each
//! attempt lands here: the Input is rendered for that attempt (so
//! `<aws.scheduler.attempt-number>` counts attempts), turned into the target service's message
//! ([`crate::invoke::Plan::messages`]) and handed to that service through the registry, as the
//! schedule's execution role would call the API (no resource policy is consulted).
//!
//! A target that does not exist (a deleted queue, an unknown function) is retried, as the
//! Scheduler User Guide's dead-letter example shows for a missing queue
//! (`AWS.SimpleQueueService.NonExistentQueue` with `EXHAUSTED_RETRY_CONDITION`); a request the
//! target rejects for good (a malformed universal target Input, a message too large) is not.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use lb_core::arn::Arn;
use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, FailureKind, Message, Target};
use lb_core::policy::PolicyRequest;

use crate::invoke::{render, Context, Plan};
use crate::Scheduler;

/// One invocation in flight: what each attempt is rendered from.
#[derive(Debug)]
pub(crate) struct Execution {
    pub schedule_arn: Arc<str>,
    pub region: String,
    pub account: String,
    pub plan: Arc<Plan>,
    pub input: Option<String>,
    pub scheduled_text: String,
    pub execution_id: String,
    pub attempts: AtomicU32,
    pub max_attempts: u32,
    /// Past this (clock time) the engine has given up on it for sure: swept.
    pub expires: u64,
}

/// The executions in flight, by the id their delivery carries.
#[derive(Debug, Default)]
pub(crate) struct Executions {
    map: DashMap<u64, Arc<Execution>>,
    next: AtomicU64,
}

impl Executions {
    pub fn insert(&self, e: Execution) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.map.insert(id, Arc::new(e));
        id
    }

    pub fn get(&self, id: u64) -> Option<Arc<Execution>> {
        self.map.get(&id).map(|e| Arc::clone(e.value()))
    }

    pub fn remove(&self, id: u64) {
        self.map.remove(&id);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Forgets executions the engine has finished with without telling (dropped when its
    /// maximum event age passed): bounded by their age.
    pub fn sweep(&self, now: u64) {
        self.map.retain(|_, e| e.expires > now);
    }
}

/// The error Scheduler reports (in `ERROR_CODE` / `ERROR_MESSAGE`) for a target's failure,
/// and whether it is retried.
fn as_scheduler_error(arn: &Arn, e: DeliveryError) -> DeliveryError {
    match e.kind {
        FailureKind::NotFound => {
            let (code, message) = match arn.service.as_str() {
                "sqs" => (
                    "AWS.SimpleQueueService.NonExistentQueue".to_owned(),
                    "The specified queue does not exist for this wsdl version.".to_owned(),
                ),
                "lambda" => (
                    "ResourceNotFoundException".to_owned(),
                    format!("Function not found: {arn}"),
                ),
                "sns" => ("NotFound".to_owned(), "Topic does not exist".to_owned()),
                "events" => (
                    "ResourceNotFoundException".to_owned(),
                    format!(
                        "Event bus {} does not exist.",
                        arn.resource.strip_prefix("event-bus/").unwrap_or(&arn.resource)
                    ),
                ),
                _ => (e.code, e.message),
            };
            DeliveryError::retryable(code, message)
        }
        FailureKind::AccessDenied => DeliveryError::terminal("AccessDeniedException", e.message),
        FailureKind::Retryable | FailureKind::Terminal => e,
    }
}

impl Scheduler {
    async fn attempt(&self, msg: &Message) -> Result<(), DeliveryError> {
        let internal = || {
            DeliveryError::terminal(
                "AWS.Scheduler.InternalServerError",
                "Unexpected error occurred while processing the request",
            )
        };
        let id: u64 = msg.body.parse().map_err(|_| internal())?;
        let exec = self.executions.get(id).ok_or_else(internal)?;
        let attempt = exec.attempts.fetch_add(1, Ordering::Relaxed) + 1;
        let result = self.attempt_execution(&exec, attempt).await;
        let done = match &result {
            Ok(()) => true,
            Err(e) => e.kind != FailureKind::Retryable || attempt >= exec.max_attempts,
        };
        if done {
            self.executions.remove(id);
        }
        result
    }

    async fn attempt_execution(&self, exec: &Execution, attempt: u32) -> Result<(), DeliveryError> {
        let ctx = Context {
            schedule_arn: &exec.schedule_arn,
            scheduled_time: &exec.scheduled_text,
            execution_id: &exec.execution_id,
            attempt,
            region: &exec.region,
            account: &exec.account,
            now_millis: self.clock.now_millis(),
        };
        let input = exec.input.as_deref().map(|i| render(i, &ctx));
        let outgoing = exec.plan.messages(input.as_deref(), &ctx)?;
        let registry = self.engine.registry();
        for (arn, msg) in outgoing {
            let Some(target) = registry.target(&arn) else {
                return Err(as_scheduler_error(
                    &arn,
                    DeliveryError::not_found(format!("no service handles {arn}")),
                ));
            };
            target
                .deliver(&arn, &msg)
                .await
                .map_err(|e| as_scheduler_error(&arn, e))?;
        }
        Ok(())
    }
}

impl Target for Scheduler {
    fn deliver<'a>(&'a self, _arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(self.attempt(msg))
    }

    /// Nothing is configured to deliver to a schedule.
    fn authorize(&self, _arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        Err(DestinationError::NotFound)
    }
}
