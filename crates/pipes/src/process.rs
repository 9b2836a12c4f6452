//! One batch through a pipe: filter, enrichment, target template, target. The answer says, per
//! source record, whether the pipe is done with it (delivered, or filtered out) — the source
//! then deletes (SQS) or checkpoints (Kinesis) it — or it failed and must come back.
//!
//! User Guide, "batching and concurrency": input templates apply to each event of a batch on
//! its own; Lambda (enrichment or target) receives the whole batch as one JSON array; an
//! enrichment's answer (an array: that many events; anything else: one) goes to the target; a
//! target that takes batches gets them through its batch API, and a partial failure fails only
//! the items that failed (without an enrichment: the source records they came from; with one,
//! the mapping is lost and the whole batch fails). A Lambda target reports failed items with
//! `{"batchItemFailures": [{"itemIdentifier": ...}]}` (the SQS message id, the Kinesis sequence
//! number).

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use lb_core::arn::Arn;
use lb_core::deliver::{DeliveryError, Message};
use lb_core::logs::LogEvent;
use lb_core::policy::PolicyRequest;
use lb_rules::transform::JsonPath;
use serde_json::{json, Value};

use crate::spec::{Spec, TargetKind};
use crate::template::decoded;
use crate::Shared;

/// A source record as the pipe sees it.
#[derive(Debug, Clone)]
pub(crate) struct SourceItem {
    /// The SQS message id or the Kinesis sequence number (`itemIdentifier`).
    pub id: String,
    /// The record, in AWS's shape for the source.
    pub record: Value,
}

/// An event on its way to the target: its text (what a queue or stream receives) and its JSON
/// value (what a Lambda function receives in its array).
#[derive(Debug, Clone)]
struct Out {
    text: String,
    value: Value,
}

impl Out {
    fn from_value(v: Value) -> Self {
        let text = match &v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Self { text, value: v }
    }

    fn from_text(text: String) -> Self {
        let value = serde_json::from_str::<Value>(&text).unwrap_or_else(|_| Value::String(text.clone()));
        Self { text, value }
    }
}

/// ISO 8601 at second precision, as EventBridge writes event times.
pub(crate) fn event_time(millis: u64) -> String {
    lb_core::clock::iso8601_millis(millis - millis % 1000).replace(".000Z", "Z")
}

/// A dynamic parameter: a `$.path` into the event, else the text itself.
fn dynamic(param: &str, event: &Value) -> Option<String> {
    if !param.starts_with("$.") {
        return Some(param.to_owned());
    }
    let path = JsonPath::parse(param).ok()?;
    let v = path.select(event).or_else(|| path.select(&decoded(event)))?;
    Some(match v {
        Value::String(s) => s,
        other => other.to_string(),
    })
}

impl Shared {
    /// Runs one batch; `true` per record the pipe is done with.
    pub(crate) async fn process(&self, spec: &Spec, items: &[SourceItem]) -> Vec<bool> {
        self.count(spec, |c| &c.received, items.len());
        self.count(spec, |c| &c.batches, 1);
        let mut done = vec![true; items.len()];
        let kept: Vec<usize> = if spec.filters.is_empty() {
            (0..items.len()).collect()
        } else {
            (0..items.len())
                .filter(|&i| {
                    let view = decoded(&items[i].record);
                    spec.filters.iter().any(|p| p.matches(&view))
                })
                .collect()
        };
        self.count(spec, |c| &c.filtered, items.len() - kept.len());
        if kept.is_empty() {
            return done;
        }
        let now = self.clock.now_millis();
        let ingestion = event_time(now);
        let events: Vec<Value> = kept.iter().map(|&i| items[i].record.clone()).collect();
        let (events, enriched) = match &spec.enrichment {
            None => (events, false),
            Some(function) => match self.enrich(spec, function, &events, &ingestion).await {
                Ok(out) => (out, true),
                Err(reason) => {
                    self.count(spec, |c| &c.enrichment_failures, 1);
                    self.count(spec, |c| &c.failed, kept.len());
                    tracing::warn!(pipe = %spec.arn, enrichment = %function, reason = %reason, "the enrichment failed; the batch will be retried");
                    for &i in &kept {
                        done[i] = false;
                    }
                    return done;
                }
            },
        };
        let outs: Vec<Out> = events
            .iter()
            .map(|e| match &spec.target_template {
                Some(t) => Out::from_text(t.render(e, &spec.ctx, &ingestion)),
                None => Out::from_value(e.clone()),
            })
            .collect();
        // Dynamic parameters (`$.path`) read the event before the target's template, as on
        // AWS (User Guide, "dynamic path parameters").
        let sources: Vec<&Value> = events.iter().collect();
        let ids: Vec<Option<&str>> = if enriched {
            vec![None; outs.len()]
        } else {
            kept.iter().map(|&i| Some(items[i].id.as_str())).collect()
        };
        let results = if outs.is_empty() {
            Vec::new()
        } else {
            self.deliver(spec, &outs, &sources, &ids, now).await
        };
        let delivered = results.iter().filter(|r| r.is_ok()).count();
        self.count(spec, |c| &c.delivered, delivered);
        let failures: Vec<&DeliveryError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        if let Some(first) = failures.first() {
            tracing::warn!(pipe = %spec.arn, target = %spec.target_arn, failed = failures.len(), code = %first.code, message = %first.message, "target delivery failed");
        }
        if enriched {
            if !failures.is_empty() {
                self.count(spec, |c| &c.failed, kept.len());
                for &i in &kept {
                    done[i] = false;
                }
            }
        } else {
            for (n, r) in results.iter().enumerate() {
                if r.is_err() {
                    self.count(spec, |c| &c.failed, 1);
                    done[kept[n]] = false;
                }
            }
        }
        done
    }

    /// Invokes the enrichment with the batch; its answer as events.
    async fn enrich(
        &self,
        spec: &Spec,
        function: &Arn,
        events: &[Value],
        ingestion: &str,
    ) -> Result<Vec<Value>, String> {
        let Some(invoker) = &self.deps.invoker else {
            return Err("localbridge has no function service".into());
        };
        let payload: Vec<Value> = events
            .iter()
            .map(|e| match &spec.enrichment_template {
                Some(t) => Out::from_text(t.render(e, &spec.ctx, ingestion)).value,
                None => e.clone(),
            })
            .collect();
        let body = Bytes::from(Value::Array(payload).to_string());
        let r = invoker
            .invoke_function(function, body)
            .await
            .map_err(|e| format!("{}: {}", e.code, e.message))?;
        if let Some(kind) = r.function_error {
            return Err(format!(
                "function error ({kind}): {}",
                String::from_utf8_lossy(&r.payload)
            ));
        }
        if r.payload.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        match serde_json::from_slice::<Value>(&r.payload) {
            Ok(Value::Array(a)) => Ok(a),
            Ok(Value::Null) => Ok(Vec::new()),
            Ok(v) => Ok(vec![v]),
            // Not JSON: one event, the text as returned.
            Err(_) => Ok(vec![Value::String(String::from_utf8_lossy(&r.payload).into_owned())]),
        }
    }

    fn message(spec: &Spec, body: String) -> Message {
        let mut m = Message::new(body);
        m.source_arn = Some(Arc::from(spec.arn.as_str()));
        m.source_account = Some(Arc::from(spec.account.as_str()));
        m
    }

    /// Delivers the events; one result per event.
    async fn deliver(
        &self,
        spec: &Spec,
        outs: &[Out],
        sources: &[&Value],
        ids: &[Option<&str>],
        now: u64,
    ) -> Vec<Result<(), DeliveryError>> {
        let arn = &spec.target_arn;
        match &spec.target {
            TargetKind::Lambda { asynchronous: false } => self.invoke_target(spec, outs, ids).await,
            TargetKind::Lambda { asynchronous: true } => {
                let body = Value::Array(outs.iter().map(|o| o.value.clone()).collect()).to_string();
                let msgs = vec![Arc::new(Self::message(spec, body))];
                let r = self.send(arn, &msgs).await.pop().unwrap_or(Ok(()));
                vec![r; outs.len()]
            }
            TargetKind::Logs { stream, timestamp } => {
                self.to_logs(spec, outs, sources, stream.as_deref(), timestamp.as_deref(), now)
            }
            kind => {
                let mut msgs = Vec::with_capacity(outs.len());
                let mut refused: Vec<Option<DeliveryError>> = Vec::with_capacity(outs.len());
                for (o, src) in outs.iter().zip(sources) {
                    let mut m = match kind {
                        TargetKind::EventBus {
                            source,
                            detail_type,
                            resources,
                            time,
                        } => {
                            if !o.value.is_object() {
                                refused.push(Some(DeliveryError::terminal(
                                    "MalformedDetail",
                                    "Detail is malformed: the event is not a JSON object.",
                                )));
                                continue;
                            }
                            let event_source = spec.source_arn.service.as_str();
                            let t = time
                                .as_ref()
                                .and_then(|p| p.select(src))
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_else(|| event_time(now));
                            let envelope = json!({
                                "version": "0",
                                "id": lb_core::ids::uuid(),
                                "detail-type": detail_type.as_deref().and_then(|d| dynamic(d, src)).unwrap_or_else(|| format!("Event from aws:{event_source}")),
                                "source": source.as_deref().and_then(|s| dynamic(s, src)).unwrap_or_else(|| format!("Pipe {}", spec.name)),
                                "account": spec.account,
                                "time": t,
                                "region": spec.region,
                                "resources": resources.iter().filter_map(|r| dynamic(r, src)).collect::<Vec<_>>(),
                                "detail": o.value,
                            });
                            Self::message(spec, envelope.to_string())
                        }
                        _ => Self::message(spec, o.text.clone()),
                    };
                    match kind {
                        TargetKind::Sqs { group_id, dedup_id } => {
                            m.group_id = group_id.as_deref().and_then(|g| dynamic(g, src));
                            m.dedup_id = dedup_id.as_deref().and_then(|d| dynamic(d, src));
                        }
                        TargetKind::Kinesis { partition_key } => {
                            m.group_id = dynamic(partition_key, src);
                        }
                        _ => {}
                    }
                    msgs.push(Arc::new(m));
                    refused.push(None);
                }
                let mut sent = self.send(arn, &msgs).await.into_iter();
                refused
                    .into_iter()
                    .map(|r| match r {
                        Some(e) => Err(e),
                        None => sent.next().unwrap_or(Ok(())),
                    })
                    .collect()
            }
        }
    }

    /// Hands messages to the target service, in its batch size.
    async fn send(&self, arn: &Arn, msgs: &[Arc<Message>]) -> Vec<Result<(), DeliveryError>> {
        let target = self.deps.registry.as_ref().and_then(|r| r.target(arn));
        let Some(target) = target else {
            let e = DeliveryError::not_found(format!("localbridge serves no {} target for {arn}", arn.service));
            return vec![Err(e); msgs.len()];
        };
        let max = target.max_batch(arn).max(1);
        let mut out = Vec::with_capacity(msgs.len());
        for chunk in msgs.chunks(max) {
            if chunk.len() == 1 {
                out.push(target.deliver(arn, &chunk[0]).await);
            } else {
                out.extend(target.deliver_batch(arn, chunk).await);
            }
        }
        out
    }

    /// A Lambda target, synchronously: the batch as one array; `batchItemFailures` honoured.
    async fn invoke_target(&self, spec: &Spec, outs: &[Out], ids: &[Option<&str>]) -> Vec<Result<(), DeliveryError>> {
        let Some(invoker) = &self.deps.invoker else {
            return vec![Err(DeliveryError::not_found("localbridge has no function service")); outs.len()];
        };
        let body = Bytes::from(Value::Array(outs.iter().map(|o| o.value.clone()).collect()).to_string());
        let r = match invoker.invoke_function(&spec.target_arn, body).await {
            Ok(r) => r,
            Err(e) => {
                let kind = if e.status == 404 {
                    lb_core::deliver::FailureKind::NotFound
                } else {
                    lb_core::deliver::FailureKind::Retryable
                };
                return vec![Err(DeliveryError::new(kind, e.code.to_string(), e.message)); outs.len()];
            }
        };
        if let Some(kind) = r.function_error {
            let e = DeliveryError::retryable(
                "FunctionError",
                format!("{kind}: {}", String::from_utf8_lossy(&r.payload)),
            );
            return vec![Err(e); outs.len()];
        }
        let failed = batch_item_failures(&r.payload);
        match failed {
            None => vec![Ok(()); outs.len()],
            Some(Err(())) => vec![
                Err(DeliveryError::retryable(
                    "InvalidBatchItemFailures",
                    "The function's batchItemFailures report is malformed."
                ));
                outs.len()
            ],
            Some(Ok(failed)) => ids
                .iter()
                .map(|id| {
                    // Without a mapping to source ids (after an enrichment), any failure fails all.
                    let bad = match id {
                        Some(id) => failed.contains(*id),
                        None => !failed.is_empty(),
                    };
                    if bad {
                        Err(DeliveryError::retryable(
                            "BatchItemFailure",
                            "The function reported the item failed.",
                        ))
                    } else {
                        Ok(())
                    }
                })
                .collect(),
        }
    }

    fn to_logs(
        &self,
        spec: &Spec,
        outs: &[Out],
        sources: &[&Value],
        stream: Option<&str>,
        timestamp: Option<&JsonPath>,
        now: u64,
    ) -> Vec<Result<(), DeliveryError>> {
        let arn = &spec.target_arn;
        let exists = self.deps.registry.as_ref().is_some_and(|r| {
            r.authorize(
                arn,
                &PolicyRequest {
                    principal_service: "pipes.amazonaws.com",
                    action: "logs:PutLogEvents",
                    resource: &arn.to_string(),
                    source_arn: Some(&spec.arn),
                    source_account: Some(&spec.account),
                },
            )
            .is_ok()
        });
        let group = arn
            .resource
            .strip_prefix("log-group:")
            .map(|g| g.strip_suffix(":*").unwrap_or(g))
            .unwrap_or_default();
        let (Some(sink), true) = (&self.deps.logs, exists) else {
            let e = DeliveryError::not_found(format!("The specified log group does not exist: {group}"));
            return vec![Err(e); outs.len()];
        };
        let stream = stream.map_or_else(|| format!("{}-{}", spec.name, lb_core::ids::uuid()), str::to_owned);
        let events = outs
            .iter()
            .zip(sources)
            .map(|(o, src)| LogEvent {
                timestamp_millis: timestamp
                    .and_then(|p| p.select(src))
                    .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
                    .unwrap_or(now),
                message: o.text.clone(),
            })
            .collect();
        sink.append(&spec.region, &spec.account, group, &stream, events);
        vec![Ok(()); outs.len()]
    }
}

/// `None`: no report (all succeeded); `Some(Err)`: malformed (all failed); `Some(Ok(ids))`.
fn batch_item_failures(body: &[u8]) -> Option<Result<BTreeSet<String>, ()>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let list = match v.get("batchItemFailures") {
        None | Some(Value::Null) => return None,
        Some(Value::Array(a)) => a,
        Some(_) => return Some(Err(())),
    };
    let mut out = BTreeSet::new();
    for item in list {
        match item.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => {
                out.insert(id.to_owned());
            }
            _ => return Some(Err(())),
        }
    }
    Some(Ok(out))
}
