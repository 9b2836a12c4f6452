//! Event source mappings for SQS (Lambda Developer Guide, "Using Lambda with Amazon SQS"): a
//! poller per mapping long-polls the queue through `lb_core::source::QueueSource`, gathers up to
//! `BatchSize` messages (waiting up to `MaximumBatchingWindowInSeconds` on the clock for more),
//! drops (deletes) those no `FilterCriteria` pattern matches, and invokes the function
//! synchronously with `{"Records": [...]}` in AWS's record shape. On success the batch is deleted
//! (all of it, or all but the `batchItemFailures` the function reports when the mapping has
//! `ReportBatchItemFailures`); on a function error nothing is deleted: the messages come back
//! after the queue's visibility timeout and reach its dead-letter queue through its redrive
//! policy. Batches of one mapping run one at a time, so a FIFO queue's order holds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use lb_core::arn::Arn;
use lb_core::source::{QueueSource, SourceMessage};
use lb_core::{AwsError, RequestContext};
use lb_rules::pattern::Pattern;
use serde_json::{json, Value};

use super::{invalid, parse_function_ref, validation, Lambda};
use crate::runtime::Outcome;

/// A mapping's settings and state.
pub(crate) struct Mapping {
    pub uuid: String,
    pub region: String,
    pub account: String,
    pub function_name: String,
    pub qualifier: Option<String>,
    pub source_arn: String,
    pub batch_size: u32,
    pub window_seconds: u32,
    pub enabled: bool,
    pub filters: Vec<(String, Pattern)>,
    pub response_types: Vec<String>,
    pub max_concurrency: Option<u32>,
    pub last_modified: u64,
    pub deleted: bool,
    /// Stream sources (Kinesis): the stream-only settings; `None` for queues.
    pub stream: Option<super::esm_stream::StreamSettings>,
    /// `LastProcessingResult` (reported for stream sources).
    pub last_result: String,
}

pub(crate) struct MappingHandle {
    pub mapping: Mutex<Mapping>,
    /// Wakes the poller when the mapping changes (enabled, deleted).
    pub changed: tokio::sync::Notify,
}

/// CreateEventSourceMapping / UpdateEventSourceMapping input.
#[derive(Debug, Clone, Default)]
pub struct MappingInput {
    pub event_source_arn: Option<String>,
    pub function_name: Option<String>,
    pub enabled: Option<bool>,
    pub batch_size: Option<i64>,
    pub maximum_batching_window_seconds: Option<i64>,
    /// `FilterCriteria.Filters[].Pattern`; `Some(vec![])` clears them.
    pub filters: Option<Vec<String>>,
    pub function_response_types: Option<Vec<String>>,
    pub maximum_concurrency: Option<i64>,
    pub starting_position: Option<String>,
    /// `StartingPositionTimestamp`, epoch seconds.
    pub starting_position_timestamp: Option<f64>,
    pub parallelization_factor: Option<i64>,
    pub maximum_record_age_seconds: Option<i64>,
    pub maximum_retry_attempts: Option<i64>,
    pub bisect_batch_on_function_error: Option<bool>,
    /// `DestinationConfig.OnFailure.Destination`; `Some(None)` when `OnFailure` is given without one
    /// (which clears it).
    pub on_failure: Option<Option<String>>,
    /// `DestinationConfig.OnSuccess` was given (no event source mapping takes it).
    pub on_success: bool,
    pub tumbling_window_seconds: Option<i64>,
}

impl MappingInput {
    /// The stream-only parameters given, by their API names (refused for queue sources).
    fn stream_parameters(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let given: [(&'static str, bool); 8] = [
            ("StartingPosition", self.starting_position.is_some()),
            ("StartingPositionTimestamp", self.starting_position_timestamp.is_some()),
            ("ParallelizationFactor", self.parallelization_factor.is_some()),
            ("MaximumRecordAgeInSeconds", self.maximum_record_age_seconds.is_some()),
            ("MaximumRetryAttempts", self.maximum_retry_attempts.is_some()),
            (
                "BisectBatchOnFunctionError",
                self.bisect_batch_on_function_error.is_some(),
            ),
            ("DestinationConfig", self.on_failure.is_some() || self.on_success),
            ("TumblingWindowInSeconds", self.tumbling_window_seconds.is_some()),
        ];
        for (name, set) in given {
            if set {
                out.push(name);
            }
        }
        out
    }
}

fn mapping_json(m: &Mapping, state: &str) -> Value {
    let function_arn = match &m.qualifier {
        Some(q) => format!("{}:{q}", Lambda::function_arn(&m.region, &m.account, &m.function_name)),
        None => Lambda::function_arn(&m.region, &m.account, &m.function_name),
    };
    let mut out = json!({
        "UUID": m.uuid,
        "BatchSize": m.batch_size,
        "MaximumBatchingWindowInSeconds": m.window_seconds,
        "EventSourceArn": m.source_arn,
        "FunctionArn": function_arn,
        "LastModified": m.last_modified as f64 / 1000.0,
        "State": state,
        "StateTransitionReason": if m.stream.is_some() { "User action" } else { "USER_INITIATED" },
        "FunctionResponseTypes": m.response_types,
        "EventSourceMappingArn": format!("arn:aws:lambda:{}:{}:event-source-mapping:{}", m.region, m.account, m.uuid),
    });
    if !m.filters.is_empty() {
        out["FilterCriteria"] = json!({
            "Filters": m.filters.iter().map(|(p, _)| json!({ "Pattern": p })).collect::<Vec<_>>()
        });
    }
    if let Some(c) = m.max_concurrency {
        out["ScalingConfig"] = json!({ "MaximumConcurrency": c });
    }
    if let Some(s) = &m.stream {
        s.describe(&mut out);
        out["LastProcessingResult"] = json!(m.last_result);
    }
    out
}

fn steady_state(m: &Mapping) -> &'static str {
    if m.enabled {
        "Enabled"
    } else {
        "Disabled"
    }
}

fn parse_filters(filters: &[String]) -> Result<Vec<(String, Pattern)>, AwsError> {
    if filters.len() > 5 {
        return Err(validation(
            &format!("[{} filters]", filters.len()),
            "filterCriteria.filters",
            "Member must have length less than or equal to 5",
        ));
    }
    filters
        .iter()
        .map(|p| {
            Pattern::parse(p)
                .map(|pat| (p.clone(), pat))
                .map_err(|e| invalid(format!("Invalid filter pattern definition. {e}")))
        })
        .collect()
}

/// The record as filter patterns see it: a JSON body is matched as JSON.
fn filter_view(record: &Value) -> Value {
    let mut v = record.clone();
    if let Some(parsed) = record["body"]
        .as_str()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
    {
        if parsed.is_object() {
            v["body"] = parsed;
        }
    }
    v
}

impl Lambda {
    fn source(&self) -> Result<&Arc<dyn QueueSource>, AwsError> {
        self.source
            .as_ref()
            .ok_or_else(|| invalid("localbridge has no queue service to poll"))
    }

    fn mapping(&self, uuid: &str) -> Result<Arc<MappingHandle>, AwsError> {
        self.mappings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(uuid)
            .cloned()
            .ok_or_else(|| {
                AwsError::new(
                    "ResourceNotFoundException",
                    404,
                    format!("The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})"),
                )
            })
    }

    fn check_mapping(&self, m: &Mapping, function_timeout: u32) -> Result<(), AwsError> {
        let arn: Arn = m
            .source_arn
            .parse()
            .map_err(|_| invalid(format!("Invalid event source ARN: {}", m.source_arn)))?;
        if arn.service == "kinesis" {
            return self.check_stream_mapping(m, &arn);
        }
        if arn.service != "sqs" {
            return Err(invalid(format!(
                "localbridge's event source mappings read SQS queues; {} is not one yet",
                m.source_arn
            )));
        }
        let info = self.source()?.describe(&arn).map_err(|_| {
            invalid("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist or you do not have access to it.")
        })?;
        let max_batch = if info.fifo { 10 } else { 10_000 };
        if m.batch_size < 1 || m.batch_size > max_batch {
            return Err(invalid(format!(
                "BatchSize must be between 1 and {max_batch} for {} queues.",
                if info.fifo { "FIFO" } else { "standard" }
            )));
        }
        if m.batch_size > 10 && m.window_seconds == 0 {
            return Err(invalid(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
            ));
        }
        if m.window_seconds > 300 {
            return Err(validation(
                &m.window_seconds.to_string(),
                "maximumBatchingWindowInSeconds",
                "Member must have value less than or equal to 300",
            ));
        }
        if info.visibility_timeout_seconds < function_timeout {
            return Err(invalid(format!(
                "Queue visibility timeout: {} seconds is less than Function timeout: {function_timeout} seconds",
                info.visibility_timeout_seconds
            )));
        }
        if let Some(t) = m.response_types.iter().find(|t| *t != "ReportBatchItemFailures") {
            return Err(validation(
                t,
                "functionResponseTypes",
                "Member must satisfy enum value set: [ReportBatchItemFailures]",
            ));
        }
        Ok(())
    }

    /// CreateEventSourceMapping: the poller starts at once.
    pub fn create_event_source_mapping(&self, ctx: &RequestContext, input: MappingInput) -> Result<Value, AwsError> {
        let source_arn = input
            .event_source_arn
            .clone()
            .ok_or_else(|| invalid("Event source ARN is required for this operation."))?;
        let function = input
            .function_name
            .clone()
            .ok_or_else(|| validation("null", "functionName", "Member must not be null"))?;
        let (f, qualifier) = self.lookup(ctx, &function)?;
        let (region, account, name, timeout) = {
            let f = f.lock().unwrap_or_else(PoisonError::into_inner);
            super::versions::select(&f, qualifier.as_deref())?;
            (f.region.clone(), f.account.clone(), f.name.clone(), f.config.timeout)
        };
        let is_stream = source_arn.parse::<Arn>().is_ok_and(|a| a.service == "kinesis");
        if !is_stream {
            if let Some(p) = input.stream_parameters().first() {
                return Err(invalid(format!(
                    "Unsupported {p} parameter for given event source mapping type."
                )));
            }
        }
        let stream = if is_stream {
            Some(super::esm_stream::StreamSettings::create(&input)?)
        } else {
            None
        };
        let mapping = Mapping {
            uuid: lb_core::ids::uuid(),
            region,
            account,
            function_name: name,
            qualifier,
            source_arn,
            batch_size: input
                .batch_size
                .map_or(if is_stream { 100 } else { 10 }, |b| b.max(0) as u32),
            window_seconds: input.maximum_batching_window_seconds.map_or(0, |w| w.max(0) as u32),
            enabled: input.enabled.unwrap_or(true),
            filters: parse_filters(&input.filters.unwrap_or_default())?,
            response_types: input.function_response_types.unwrap_or_default(),
            max_concurrency: input.maximum_concurrency.map(|c| c.max(2) as u32),
            last_modified: self.clock.now_millis(),
            deleted: false,
            stream,
            last_result: "No records processed".to_owned(),
        };
        self.check_mapping(&mapping, timeout)?;
        let initial = if is_stream {
            self.initial_positions(&mapping)
        } else {
            Vec::new()
        };
        let out = mapping_json(&mapping, "Creating");
        let handle = Arc::new(MappingHandle {
            mapping: Mutex::new(mapping),
            changed: tokio::sync::Notify::new(),
        });
        let uuid = out["UUID"].as_str().unwrap_or_default().to_owned();
        self.mappings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(uuid, Arc::clone(&handle));
        if let Some(me) = self.me.upgrade() {
            if is_stream {
                tokio::spawn(async move { me.poll_stream(handle, initial).await });
            } else {
                tokio::spawn(async move { me.poll(handle).await });
            }
        }
        Ok(out)
    }

    pub fn get_event_source_mapping(&self, uuid: &str) -> Result<Value, AwsError> {
        let h = self.mapping(uuid)?;
        let m = h.mapping.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(mapping_json(&m, steady_state(&m)))
    }

    pub fn list_event_source_mappings(
        &self,
        ctx: &RequestContext,
        source_arn: Option<&str>,
        function: Option<&str>,
    ) -> Result<Value, AwsError> {
        let wanted = match function {
            Some(f) => {
                let (region, account, name, _) = parse_function_ref(ctx, f)?;
                Some((region.to_owned(), account.to_owned(), name.to_owned()))
            }
            None => None,
        };
        let handles: Vec<_> = self
            .mappings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        let list: Vec<Value> = handles
            .iter()
            .filter_map(|h| {
                let m = h.mapping.lock().unwrap_or_else(PoisonError::into_inner);
                let ok = m.region == ctx.region
                    && m.account == ctx.account
                    && source_arn.is_none_or(|a| a == m.source_arn)
                    && wanted
                        .as_ref()
                        .is_none_or(|(r, a, n)| *r == m.region && *a == m.account && *n == m.function_name);
                ok.then(|| mapping_json(&m, steady_state(&m)))
            })
            .collect();
        Ok(json!({ "EventSourceMappings": list }))
    }

    pub fn update_event_source_mapping(
        &self,
        ctx: &RequestContext,
        uuid: &str,
        input: MappingInput,
    ) -> Result<Value, AwsError> {
        let h = self.mapping(uuid)?;
        let current = {
            let m = h.mapping.lock().unwrap_or_else(PoisonError::into_inner);
            (
                m.region.clone(),
                m.account.clone(),
                m.function_name.clone(),
                m.qualifier.clone(),
            )
        };
        let (function, qualifier) = match &input.function_name {
            Some(f) => {
                let (fl, q) = self.lookup(ctx, f)?;
                let name = fl.lock().unwrap_or_else(PoisonError::into_inner).name.clone();
                (name, q)
            }
            None => (current.2.clone(), current.3.clone()),
        };
        let (fl, _) = self.lookup(ctx, &Lambda::function_arn(&current.0, &current.1, &function))?;
        // The guard ends with this statement.
        let timeout = fl.lock().unwrap_or_else(PoisonError::into_inner).config.timeout;
        let mut m = h.mapping.lock().unwrap_or_else(PoisonError::into_inner);
        let stream = match &m.stream {
            Some(s) => Some(s.update(&input)?),
            None => {
                if let Some(p) = input.stream_parameters().first() {
                    return Err(invalid(format!(
                        "Unsupported {p} parameter for given event source mapping type."
                    )));
                }
                None
            }
        };
        let mut next = Mapping {
            uuid: m.uuid.clone(),
            region: m.region.clone(),
            account: m.account.clone(),
            function_name: function,
            qualifier,
            source_arn: m.source_arn.clone(),
            batch_size: input.batch_size.map_or(m.batch_size, |b| b.max(0) as u32),
            window_seconds: input
                .maximum_batching_window_seconds
                .map_or(m.window_seconds, |w| w.max(0) as u32),
            enabled: input.enabled.unwrap_or(m.enabled),
            filters: match &input.filters {
                Some(f) => parse_filters(f)?,
                None => m.filters.clone(),
            },
            response_types: input
                .function_response_types
                .clone()
                .unwrap_or_else(|| m.response_types.clone()),
            max_concurrency: input.maximum_concurrency.map(|c| c as u32).or(m.max_concurrency),
            last_modified: self.clock.now_millis(),
            deleted: false,
            stream,
            last_result: m.last_result.clone(),
        };
        self.check_mapping(&next, timeout)?;
        std::mem::swap(&mut *m, &mut next);
        let out = mapping_json(&m, "Updating");
        drop(m);
        h.changed.notify_waiters();
        Ok(out)
    }

    pub fn delete_event_source_mapping(&self, uuid: &str) -> Result<Value, AwsError> {
        let h = self.mapping(uuid)?;
        self.mappings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(uuid);
        let mut m = h.mapping.lock().unwrap_or_else(PoisonError::into_inner);
        m.deleted = true;
        let out = mapping_json(&m, "Deleting");
        drop(m);
        h.changed.notify_waiters();
        Ok(out)
    }

    /// The poller of one mapping, until it is deleted.
    async fn poll(self: Arc<Self>, handle: Arc<MappingHandle>) {
        loop {
            let changed = handle.changed.notified();
            let (deleted, enabled, source_arn, batch, window) = {
                let m = handle.mapping.lock().unwrap_or_else(PoisonError::into_inner);
                (
                    m.deleted,
                    m.enabled,
                    m.source_arn.clone(),
                    m.batch_size as usize,
                    m.window_seconds,
                )
            };
            if deleted {
                return;
            }
            if !enabled {
                changed.await;
                continue;
            }
            let Ok(arn) = source_arn.parse::<Arn>() else { return };
            let Ok(source) = self.source().cloned() else { return };
            let mut messages: Vec<SourceMessage> = Vec::new();
            let deadline = self.clock.now_millis() + u64::from(window) * 1000;
            loop {
                let want = (batch - messages.len()).min(10);
                let now = self.clock.now_millis();
                let wait = if messages.is_empty() {
                    20
                } else {
                    (deadline.saturating_sub(now) / 1000).min(20) as u32
                };
                let got = tokio::select! {
                    r = source.receive(&arn, want, wait) => r,
                    () = handle.changed.notified() => Ok(Vec::new()),
                };
                match got {
                    Ok(mut got) => {
                        let empty = got.is_empty();
                        messages.append(&mut got);
                        if messages.len() >= batch
                            || (!messages.is_empty() && (window == 0 || empty || self.clock.now_millis() >= deadline))
                        {
                            break;
                        }
                        if messages.is_empty() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(mapping = %handle.mapping.lock().unwrap_or_else(PoisonError::into_inner).uuid, error = %e.message, "event source mapping could not receive");
                        // The queue is gone or failing: wait on the clock before trying again.
                        let due = self.clock.now_millis() + 10_000;
                        tokio::select! {
                            () = self.clock.sleep_until(due) => {}
                            () = handle.changed.notified() => {}
                        }
                        break;
                    }
                }
            }
            if messages.is_empty() {
                continue;
            }
            self.deliver_batch(&handle, &arn, &*source, messages).await;
        }
    }

    async fn deliver_batch(
        &self,
        handle: &MappingHandle,
        arn: &Arn,
        source: &dyn QueueSource,
        messages: Vec<SourceMessage>,
    ) {
        let (region, account, name, qualifier, filters, partial) = {
            let m = handle.mapping.lock().unwrap_or_else(PoisonError::into_inner);
            (
                m.region.clone(),
                m.account.clone(),
                m.function_name.clone(),
                m.qualifier.clone(),
                m.filters.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>(),
                m.response_types.iter().any(|t| t == "ReportBatchItemFailures"),
            )
        };
        let source_arn = arn.to_string();
        let mut records = Vec::new();
        let mut handles: BTreeMap<String, String> = BTreeMap::new();
        let mut dropped = Vec::new();
        for msg in &messages {
            let r = msg.event_record(&source_arn, &region);
            if !filters.is_empty() {
                let view = filter_view(&r);
                if !filters.iter().any(|p| p.matches(&view)) {
                    // Filtered out: Lambda deletes it from the queue.
                    dropped.push(msg.receipt_handle.clone());
                    continue;
                }
            }
            handles.insert(msg.message_id.clone(), msg.receipt_handle.clone());
            records.push(r);
        }
        if !dropped.is_empty() {
            let _ = source.delete(arn, &dropped);
        }
        if records.is_empty() {
            return;
        }
        let function = self
            .functions()
            .get(&(region.clone(), account.clone(), name.clone()))
            .cloned();
        let Some(function) = function else {
            tracing::warn!(function = %name, "event source mapping: the function is gone");
            return;
        };
        let payload = Bytes::from(json!({ "Records": records }).to_string());
        let outcome = self
            .invoke_internal(&function, qualifier.as_deref(), lb_core::ids::uuid(), payload, None)
            .await;
        let delete: Vec<String> = match outcome {
            Some(Outcome::Response(body)) if partial => match batch_item_failures(&body, &handles) {
                Some(failed) => handles
                    .iter()
                    .filter(|(id, _)| !failed.contains(*id))
                    .map(|(_, h)| h.clone())
                    .collect(),
                // A malformed report fails the whole batch.
                None => Vec::new(),
            },
            Some(Outcome::Response(_)) => handles.values().cloned().collect(),
            _ => Vec::new(),
        };
        if !delete.is_empty() {
            let _ = source.delete(arn, &delete);
        }
    }
}

/// The message ids a function reported failed, or `None` when the report is malformed (an
/// unknown, empty or missing `itemIdentifier`): then the whole batch failed.
fn batch_item_failures(body: &[u8], handles: &BTreeMap<String, String>) -> Option<Vec<String>> {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return None,
    };
    let list = match v.get("batchItemFailures") {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return None,
    };
    let mut out = Vec::new();
    for item in list {
        let id = item.get("itemIdentifier").and_then(Value::as_str)?;
        if id.is_empty() || !handles.contains_key(id) {
            return None;
        }
        out.push(id.to_owned());
    }
    Some(out)
}
