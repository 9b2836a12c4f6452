//! Asynchronous invocation as Lambda does it (Lambda Developer Guide, "Asynchronous invocation"):
//! the event is accepted (202) into the function's own queue, so a slow function never holds its
//! caller; a function error (an error answer, a timeout, a crash) is retried twice, one minute
//! then two minutes later, on the clock; `MaximumRetryAttempts` (0–2) and
//! `MaximumEventAgeInSeconds` (60–21,600) from the function's event invoke configuration bound
//! that; the outcome goes to the `OnSuccess` / `OnFailure` destination with Lambda's invocation
//! record, and a failure without an `OnFailure` destination to the function's dead-letter queue
//! (the event as it was, with `RequestID`, `ErrorCode`, `ErrorMessage` attributes). Destinations
//! are reached through the delivery engine, so their fate is in the ledger.

use std::sync::{Arc, PoisonError};

use bytes::Bytes;
use lb_core::arn::Arn;
use lb_core::deliver::{Delivery, Message, MessageAttribute, Producer, RetryPolicy, WhenFull};
use serde_json::{json, Value};

use super::{Function, Lambda};
use crate::runtime::{Invocation, Outcome};

/// Lambda's waits before the second and the third attempt.
const RETRY_DELAYS_MS: [u64; 2] = [60_000, 120_000];

/// Defaults of an event invoke configuration.
pub const DEFAULT_MAX_RETRY_ATTEMPTS: u32 = 2;
pub const DEFAULT_MAX_EVENT_AGE_SECONDS: u64 = 21_600;

/// A function's event invoke configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInvokeConfig {
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_seconds: Option<u64>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    pub last_modified: u64,
}

/// An event waiting in a function's queue, or being tried.
#[derive(Debug, Clone)]
pub(crate) struct AsyncEvent {
    pub request_id: String,
    pub payload: Bytes,
    /// When the queue accepted it (clock milliseconds).
    pub received: u64,
    pub trace_id: Option<String>,
    /// The version or alias invoked, if any.
    pub qualifier: Option<String>,
}

/// How an asynchronous invocation ended.
enum Ending {
    Success(Bytes),
    /// The last attempt's outcome and why no more were made.
    Failure {
        outcome: Outcome,
        payload: Bytes,
        condition: &'static str,
    },
}

impl Lambda {
    /// Accepts `event` for `function` and tries it in the background; `false` (nothing
    /// accepted) when the service already holds `max_async_events` asynchronous events.
    pub(crate) fn enqueue_async(&self, function: &Arc<std::sync::Mutex<Function>>, event: AsyncEvent) -> bool {
        let Some(me) = self.me.upgrade() else { return false };
        let held = self.async_events.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if held >= self.config.max_async_events {
            self.async_events.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            self.async_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return false;
        }
        let function = Arc::clone(function);
        tokio::spawn(async move {
            let done = Arc::clone(&me);
            me.run_async(function, event).await;
            done.async_events.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        });
        true
    }

    /// One synchronous invocation for the service's own callers (retries of the asynchronous
    /// queue, event source mappings): its outcome and the timeout it ran under, or `None` when
    /// the qualifier no longer names a version.
    pub(crate) async fn invoke_once(
        &self,
        function: &Arc<std::sync::Mutex<Function>>,
        qualifier: Option<&str>,
        request_id: String,
        payload: Bytes,
        trace_id: Option<String>,
    ) -> Option<(Outcome, std::time::Duration)> {
        let (snap, arn) = {
            let f = function.lock().unwrap_or_else(PoisonError::into_inner);
            let selected = super::versions::select(&f, qualifier).ok()?;
            let snap = self.snapshot_of(&f, &selected);
            let arn = match qualifier {
                Some(q) => format!("{}:{q}", snap.function_arn),
                None => snap.function_arn.clone(),
            };
            (snap, arn)
        };
        if let Some(url) = &snap.http_invoker {
            let outcome = self.http_invoke(url, &request_id, &arn, snap.timeout, payload).await;
            return Some((outcome, snap.timeout));
        }
        let outcome = match self.command(&snap.launch).await {
            Err(e) => Outcome::ExitError(e.message.clone()),
            Ok((program, args)) => {
                let launch = self.make_launch(&snap.launch, program, args);
                let invocation = Invocation {
                    request_id,
                    payload,
                    timeout: snap.timeout,
                    invoked_function_arn: arn,
                    trace_id,
                    client_context: None,
                    cognito_identity: None,
                };
                match snap.pool.invoke(move || launch, invocation).await {
                    Ok((invoked, _)) => invoked.outcome,
                    Err(e) => Outcome::ExitError(format!("{e:?}")),
                }
            }
        };
        Some((outcome, snap.timeout))
    }

    /// [`Lambda::invoke_once`]'s outcome alone.
    pub(crate) async fn invoke_internal(
        &self,
        function: &Arc<std::sync::Mutex<Function>>,
        qualifier: Option<&str>,
        request_id: String,
        payload: Bytes,
        trace_id: Option<String>,
    ) -> Option<Outcome> {
        self.invoke_once(function, qualifier, request_id, payload, trace_id)
            .await
            .map(|(o, _)| o)
    }

    async fn run_async(self: Arc<Self>, function: Arc<std::sync::Mutex<Function>>, event: AsyncEvent) {
        let mut attempts: u32 = 0;
        let ending = loop {
            attempts += 1;
            let config = function
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .event_invoke
                .clone();
            let max_retries = config
                .as_ref()
                .and_then(|c| c.maximum_retry_attempts)
                .unwrap_or(DEFAULT_MAX_RETRY_ATTEMPTS);
            let max_age_ms = config
                .as_ref()
                .and_then(|c| c.maximum_event_age_seconds)
                .unwrap_or(DEFAULT_MAX_EVENT_AGE_SECONDS)
                * 1000;
            let Some((outcome, timeout)) = self
                .invoke_once(
                    &function,
                    event.qualifier.as_deref(),
                    event.request_id.clone(),
                    event.payload.clone(),
                    event.trace_id.clone(),
                )
                .await
            else {
                // The version or alias went away meanwhile.
                return;
            };
            let payload = outcome.payload(&event.request_id, timeout);
            if let Outcome::Response(b) = outcome {
                break Ending::Success(b);
            }
            if attempts > max_retries {
                break Ending::Failure {
                    outcome,
                    payload,
                    condition: "RetriesExhausted",
                };
            }
            let delay = RETRY_DELAYS_MS[(attempts as usize - 1).min(RETRY_DELAYS_MS.len() - 1)];
            let due = self.clock.now_millis() + delay;
            if due.saturating_sub(event.received) > max_age_ms {
                break Ending::Failure {
                    outcome,
                    payload,
                    condition: "EventAgeExceeded",
                };
            }
            self.clock.sleep_until(due).await;
            if !self.exists(&function) {
                return;
            }
        };
        self.finish_async(&function, &event, attempts, ending);
    }

    fn exists(&self, function: &Arc<std::sync::Mutex<Function>>) -> bool {
        let f = function.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (f.region.clone(), f.account.clone(), f.name.clone());
        drop(f);
        self.functions().get(&key).is_some_and(|g| Arc::ptr_eq(g, function))
    }

    /// Sends the invocation record to the destination, or the event to the dead-letter queue.
    fn finish_async(
        &self,
        function: &Arc<std::sync::Mutex<Function>>,
        event: &AsyncEvent,
        attempts: u32,
        ending: Ending,
    ) {
        let (arn, region, account, config, dlq) = {
            let f = function.lock().unwrap_or_else(PoisonError::into_inner);
            (
                f.arn.clone(),
                f.region.clone(),
                f.account.clone(),
                f.event_invoke.clone(),
                f.config.dead_letter_target.clone(),
            )
        };
        let qualified = format!("{arn}:$LATEST");
        let request_payload: Value = serde_json::from_slice(&event.payload).unwrap_or(Value::Null);
        let now = self.clock.now_millis();
        match ending {
            Ending::Success(result) => {
                let Some(dest) = config.and_then(|c| c.on_success) else {
                    return;
                };
                let record = json!({
                    "version": "1.0",
                    "timestamp": lb_core::clock::iso8601_millis(now),
                    "requestContext": {
                        "requestId": event.request_id,
                        "functionArn": qualified,
                        "condition": "Success",
                        "approximateInvokeCount": attempts,
                    },
                    "requestPayload": request_payload,
                    "responseContext": { "statusCode": 200, "executedVersion": "$LATEST" },
                    "responsePayload": serde_json::from_slice::<Value>(&result).unwrap_or(Value::Null),
                });
                self.to_destination(&dest, &arn, &region, &account, &record, true, &event.request_id);
            }
            Ending::Failure {
                outcome,
                payload,
                condition,
            } => {
                let record = json!({
                    "version": "1.0",
                    "timestamp": lb_core::clock::iso8601_millis(now),
                    "requestContext": {
                        "requestId": event.request_id,
                        "functionArn": qualified,
                        "condition": condition,
                        "approximateInvokeCount": attempts,
                    },
                    "requestPayload": request_payload,
                    "responseContext": {
                        "statusCode": 200,
                        "executedVersion": "$LATEST",
                        "functionError": "Unhandled",
                    },
                    "responsePayload": serde_json::from_slice::<Value>(&payload).unwrap_or(Value::Null),
                });
                if let Some(dest) = config.and_then(|c| c.on_failure) {
                    self.to_destination(&dest, &arn, &region, &account, &record, false, &event.request_id);
                } else if let Some(dlq) = dlq {
                    let message = serde_json::from_slice::<Value>(&payload)
                        .ok()
                        .and_then(|v| v.get("errorMessage").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or_else(|| outcome.error_type().unwrap_or_default());
                    let mut m = Message::new(String::from_utf8_lossy(&event.payload).into_owned());
                    m.attributes
                        .insert("RequestID".into(), MessageAttribute::string(&event.request_id));
                    m.attributes.insert("ErrorCode".into(), MessageAttribute::number(200));
                    m.attributes.insert(
                        "ErrorMessage".into(),
                        MessageAttribute::string(truncate(&message, 1024)),
                    );
                    self.submit(&dlq, &arn, m, &event.request_id);
                } else {
                    tracing::warn!(function = %arn, request_id = %event.request_id, condition, "asynchronous invocation failed; no OnFailure destination or dead-letter queue");
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn to_destination(
        &self,
        dest: &str,
        function_arn: &str,
        region: &str,
        account: &str,
        record: &Value,
        success: bool,
        request_id: &str,
    ) {
        let body = if dest.contains(":events:") {
            // EventBridge: the record is the event's detail.
            json!({
                "version": "0",
                "id": lb_core::ids::uuid(),
                "detail-type": if success {
                    "Lambda Function Invocation Result - Success"
                } else {
                    "Lambda Function Invocation Result - Failure"
                },
                "source": "lambda",
                "account": account,
                "time": crate::service::event_time(self.clock.now_millis()),
                "region": region,
                "resources": [function_arn, dest],
                "detail": record,
            })
            .to_string()
        } else {
            record.to_string()
        };
        self.submit(dest, function_arn, Message::new(body), request_id);
    }

    /// Hands `message` to the delivery engine for `target` (a destination or the dead-letter
    /// queue), as the function (its execution role sends it: no service principal).
    fn submit(&self, target: &str, function_arn: &str, mut message: Message, request_id: &str) {
        let Some(engine) = &self.engine else {
            tracing::warn!(target, "no delivery engine: the destination is not reached");
            return;
        };
        let Ok(arn) = target.parse::<Arn>() else {
            tracing::warn!(target, "destination is not an ARN");
            return;
        };
        message.source_arn = Some(function_arn.into());
        let mut d = Delivery::new(arn, Arc::new(message), Producer::new(function_arn, None));
        d.event_id = Some(request_id.into());
        d.retry = RetryPolicy::exponential(5, 60_000, 100, 5_000);
        d.when_full = WhenFull::Drop;
        let _ = engine.submit(d);
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
