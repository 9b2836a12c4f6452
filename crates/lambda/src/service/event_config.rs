//! Put/Get/Update/Delete/ListFunctionEventInvokeConfig: retries, event age and destinations of a
//! function's asynchronous invocations. `Put` replaces the whole configuration, `Update` changes
//! what it is given.

use std::sync::PoisonError;

use lb_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use super::asynchronous::EventInvokeConfig;
use super::{invalid, validation, Function, Lambda};

/// An event invoke configuration as the caller gives it; `None` is "not given". A destination of
/// `Some(None)` is one given without an ARN (cleared).
#[derive(Debug, Clone, Default)]
pub struct EventInvokeConfigInput {
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_seconds: Option<i64>,
    pub on_success: Option<Option<String>>,
    pub on_failure: Option<Option<String>>,
}

fn check(input: &EventInvokeConfigInput) -> Result<(), AwsError> {
    if let Some(r) = input.maximum_retry_attempts.filter(|r| !(0..=2).contains(r)) {
        return Err(validation(
            &r.to_string(),
            "maximumRetryAttempts",
            if r < 0 {
                "Member must have value greater than or equal to 0"
            } else {
                "Member must have value less than or equal to 2"
            },
        ));
    }
    if let Some(a) = input.maximum_event_age_seconds.filter(|a| !(60..=21_600).contains(a)) {
        return Err(validation(
            &a.to_string(),
            "maximumEventAgeInSeconds",
            if a < 60 {
                "Member must have value greater than or equal to 60"
            } else {
                "Member must have value less than or equal to 21600"
            },
        ));
    }
    for d in [&input.on_success, &input.on_failure].into_iter().flatten().flatten() {
        let service = d.split(':').nth(2).unwrap_or_default();
        if !d.starts_with("arn:") || !matches!(service, "sqs" | "sns" | "lambda" | "events" | "s3") {
            return Err(invalid(format!("The destination ARN {d} is invalid.")));
        }
    }
    Ok(())
}

fn output(f: &Function, c: &EventInvokeConfig) -> Value {
    let dest = |d: &Option<String>| d.as_ref().map_or_else(|| json!({}), |a| json!({ "Destination": a }));
    let mut out = json!({
        "LastModified": c.last_modified as f64 / 1000.0,
        "FunctionArn": format!("{}:$LATEST", f.arn),
        "DestinationConfig": { "OnSuccess": dest(&c.on_success), "OnFailure": dest(&c.on_failure) },
    });
    if let Some(r) = c.maximum_retry_attempts {
        out["MaximumRetryAttempts"] = json!(r);
    }
    if let Some(a) = c.maximum_event_age_seconds {
        out["MaximumEventAgeInSeconds"] = json!(a);
    }
    out
}

fn missing(f: &Function) -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        404,
        format!("The function {}:$LATEST doesn't have an EventInvokeConfig", f.arn),
    )
}

impl Lambda {
    /// PutFunctionEventInvokeConfig (replaces) or UpdateFunctionEventInvokeConfig (merges).
    pub fn put_event_invoke_config(
        &self,
        ctx: &RequestContext,
        name: &str,
        input: EventInvokeConfigInput,
        merge: bool,
    ) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        check(&input)?;
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        let now = self.clock.now_millis();
        let base = if merge {
            f.event_invoke.clone().unwrap_or(EventInvokeConfig {
                maximum_retry_attempts: None,
                maximum_event_age_seconds: None,
                on_success: None,
                on_failure: None,
                last_modified: now,
            })
        } else {
            EventInvokeConfig {
                maximum_retry_attempts: None,
                maximum_event_age_seconds: None,
                on_success: None,
                on_failure: None,
                last_modified: now,
            }
        };
        let config = EventInvokeConfig {
            maximum_retry_attempts: input
                .maximum_retry_attempts
                .map(|r| r as u32)
                .or(base.maximum_retry_attempts),
            maximum_event_age_seconds: input
                .maximum_event_age_seconds
                .map(|a| a as u64)
                .or(base.maximum_event_age_seconds),
            on_success: input.on_success.unwrap_or(base.on_success),
            on_failure: input.on_failure.unwrap_or(base.on_failure),
            last_modified: now,
        };
        let out = output(&f, &config);
        f.event_invoke = Some(config);
        Ok(out)
    }

    pub fn get_event_invoke_config(&self, ctx: &RequestContext, name: &str) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let f = f.lock().unwrap_or_else(PoisonError::into_inner);
        match &f.event_invoke {
            Some(c) => Ok(output(&f, c)),
            None => Err(missing(&f)),
        }
    }

    pub fn delete_event_invoke_config(&self, ctx: &RequestContext, name: &str) -> Result<(), AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        if f.event_invoke.take().is_none() {
            return Err(missing(&f));
        }
        Ok(())
    }

    pub fn list_event_invoke_configs(&self, ctx: &RequestContext, name: &str) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let f = f.lock().unwrap_or_else(PoisonError::into_inner);
        let list: Vec<Value> = f.event_invoke.iter().map(|c| output(&f, c)).collect();
        Ok(json!({ "FunctionEventInvokeConfigs": list }))
    }
}
