//! The operations. Pipes live per region and account in one map behind a short-held mutex; each
//! pipe's state sits in its own handle (a mutex held for a few lines, and a `watch` generation
//! its runner waits on). State changes take `PipesConfig::transition_millis` on the platform
//! clock: a pipe is `CREATING` (or `STARTING`, `STOPPING`, `UPDATING`, `DELETING`) until then,
//! and settles when read or when its runner wakes at the due time. A pipe whose source does not
//! exist when it settles fails (`CREATE_FAILED`, `UPDATE_FAILED`, `START_FAILED`) with the
//! reason in `StateReason`, as a pipe whose role cannot read its source does on AWS.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use lb_core::arn::Arn;
use lb_core::{Clock, RequestContext};
use serde_json::{json, Map, Value};

use crate::spec::{self, PipeInput, Spec, Stored};
use crate::{PipeCounters, PipesConfig, PipesDeps, PipesError, Shared};

/// A pipe's state.
pub(crate) struct PipeState {
    pub spec: Arc<Spec>,
    pub desired: &'static str,
    pub current: &'static str,
    pub reason: Option<String>,
    /// The state the pipe reaches at the due time (`None` for DELETING: it goes away).
    pub pending: Option<(u64, Option<&'static str>)>,
    pub created: u64,
    pub modified: u64,
    pub tags: BTreeMap<String, String>,
    pub deleted: bool,
}

impl PipeState {
    fn transitional(&self) -> bool {
        self.pending.is_some()
    }
}

pub(crate) struct PipeHandle {
    pub state: Mutex<PipeState>,
    /// Bumped on every change; the runner and its shard readers wait on it.
    pub generation: tokio::sync::watch::Sender<u64>,
    /// Kinesis checkpoints by shard id (kept across stop and start).
    pub checkpoints: Mutex<BTreeMap<String, lb_core::stream::StreamPosition>>,
}

impl PipeHandle {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, PipeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn bump(&self) {
        self.generation.send_modify(|g| *g += 1);
    }
}

type Key = (String, String, String);

/// EventBridge Pipes.
pub struct Pipes {
    pub(crate) shared: Arc<Shared>,
    pipes: Mutex<BTreeMap<Key, Arc<PipeHandle>>>,
}

/// ListPipes' filters.
#[derive(Debug, Clone, Default)]
pub struct ListInput {
    pub name_prefix: Option<String>,
    pub desired_state: Option<String>,
    pub current_state: Option<String>,
    pub source_prefix: Option<String>,
    pub target_prefix: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<String>,
}

const STATES: &[&str] = &[
    "RUNNING",
    "STOPPED",
    "CREATING",
    "UPDATING",
    "DELETING",
    "STARTING",
    "STOPPING",
    "CREATE_FAILED",
    "UPDATE_FAILED",
    "START_FAILED",
    "STOP_FAILED",
    "DELETE_FAILED",
    "CREATE_ROLLBACK_FAILED",
    "DELETE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_FAILED",
];

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

fn desired_state(v: Option<&str>) -> Result<Option<&'static str>, PipesError> {
    match v {
        None => Ok(None),
        Some("RUNNING") => Ok(Some("RUNNING")),
        Some("STOPPED") => Ok(Some("STOPPED")),
        Some(other) => Err(PipesError::field(
            "desiredState",
            Some(other),
            "Member must satisfy enum value set: [RUNNING, STOPPED]",
        )),
    }
}

impl Pipes {
    pub fn new(clock: Arc<dyn Clock>, deps: PipesDeps, config: PipesConfig) -> Arc<Self> {
        Arc::new(Self {
            shared: Arc::new(Shared {
                clock,
                deps,
                config,
                counters: PipeCounters::default(),
            }),
            pipes: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn counters(&self) -> &PipeCounters {
        &self.shared.counters
    }

    /// Each pipe's ARN and counters.
    pub fn pipe_counters(&self) -> Vec<(String, Arc<PipeCounters>)> {
        let handles: Vec<Arc<PipeHandle>> = self
            .pipes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        handles
            .iter()
            .map(|h| {
                let st = h.lock();
                (st.spec.arn.clone(), Arc::clone(&st.spec.counters))
            })
            .collect()
    }

    /// How many pipes exist (all regions and accounts).
    pub fn len(&self) -> usize {
        self.pipes.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn handle(&self, ctx: &RequestContext, name: &str) -> Result<Arc<PipeHandle>, PipesError> {
        self.handle_at(&ctx.region, &ctx.account, name)
    }

    fn handle_at(&self, region: &str, account: &str, name: &str) -> Result<Arc<PipeHandle>, PipesError> {
        let key = (region.to_owned(), account.to_owned(), name.to_owned());
        let h = self
            .pipes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        let Some(h) = h else {
            return Err(PipesError::not_found(format!("Pipe {name} does not exist.")));
        };
        let gone = {
            let mut st = h.lock();
            self.shared.settle(&mut st);
            st.deleted
        };
        if gone {
            self.forget(&key, &h);
            return Err(PipesError::not_found(format!("Pipe {name} does not exist.")));
        }
        Ok(h)
    }

    fn forget(&self, key: &Key, h: &Arc<PipeHandle>) {
        let mut map = self.pipes.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(key).is_some_and(|x| Arc::ptr_eq(x, h)) {
            map.remove(key);
        }
    }

    fn summary(st: &PipeState) -> Value {
        json!({
            "Arn": st.spec.arn,
            "Name": st.spec.name,
            "DesiredState": st.desired,
            "CurrentState": st.current,
            "CreationTime": secs(st.created),
            "LastModifiedTime": secs(st.modified),
        })
    }

    pub fn create_pipe(&self, ctx: &RequestContext, input: PipeInput) -> Result<Value, PipesError> {
        spec::check_name(&input.name)?;
        let Some(source) = input.source.clone() else {
            return Err(PipesError::field("source", None, "Member must not be null"));
        };
        let Some(target) = input.target.clone() else {
            return Err(PipesError::field("target", None, "Member must not be null"));
        };
        let Some(role) = input.role_arn.clone() else {
            return Err(PipesError::field("roleArn", None, "Member must not be null"));
        };
        let desired = desired_state(input.desired_state.as_deref())?.unwrap_or("RUNNING");
        if let Some(tags) = &input.tags {
            spec::check_tags(tags, "tags")?;
        }
        if input.log_configuration.as_ref().is_some_and(|v| !v.is_null()) {
            return Err(PipesError::invalid(
                "logConfiguration",
                "localbridge does not implement pipe logging (LogConfiguration).",
            ));
        }
        let stored = Stored {
            description: input.description.clone(),
            source,
            source_parameters: input.source_parameters.clone().filter(|v| !v.is_null()),
            enrichment: input.enrichment.clone().filter(|e| !e.is_empty()),
            enrichment_parameters: input.enrichment_parameters.clone().filter(|v| !v.is_null()),
            target,
            target_parameters: input.target_parameters.clone().filter(|v| !v.is_null()),
            role_arn: role,
            kms_key_identifier: input.kms_key_identifier.clone(),
        };
        let spec = spec::compile(&input.name, &ctx.region, &ctx.account, stored)?;
        let now = self.shared.clock.now_millis();
        let key = (ctx.region.clone(), ctx.account.clone(), input.name.clone());
        let handle = {
            let mut map = self.pipes.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(existing) = map.get(&key) {
                let gone = {
                    let mut st = existing.lock();
                    self.shared.settle(&mut st);
                    st.deleted
                };
                if !gone {
                    return Err(PipesError::conflict(
                        format!("Pipe {} already exists.", input.name),
                        &input.name,
                    ));
                }
            }
            let handle = Arc::new(PipeHandle {
                state: Mutex::new(PipeState {
                    spec: Arc::new(spec),
                    desired,
                    current: "CREATING",
                    reason: None,
                    pending: Some((now + self.shared.config.transition_millis, Some(desired))),
                    created: now,
                    modified: now,
                    tags: input.tags.clone().unwrap_or_default(),
                    deleted: false,
                }),
                generation: tokio::sync::watch::channel(0).0,
                checkpoints: Mutex::new(BTreeMap::new()),
            });
            map.insert(key, Arc::clone(&handle));
            handle
        };
        let out = Self::summary(&handle.lock());
        crate::runner::spawn(Arc::clone(&self.shared), handle);
        Ok(out)
    }

    pub fn describe_pipe(&self, ctx: &RequestContext, name: &str) -> Result<Value, PipesError> {
        spec::check_name(name)?;
        let h = self.handle(ctx, name)?;
        let st = h.lock();
        let s = &st.spec.stored;
        let mut out = Map::new();
        out.insert("Arn".into(), json!(st.spec.arn));
        out.insert("Name".into(), json!(st.spec.name));
        if let Some(d) = &s.description {
            out.insert("Description".into(), json!(d));
        }
        out.insert("DesiredState".into(), json!(st.desired));
        out.insert("CurrentState".into(), json!(st.current));
        if let Some(r) = &st.reason {
            out.insert("StateReason".into(), json!(r));
        }
        out.insert("Source".into(), json!(s.source));
        out.insert(
            "SourceParameters".into(),
            s.source_parameters.clone().unwrap_or_else(|| json!({})),
        );
        if let Some(e) = &s.enrichment {
            out.insert("Enrichment".into(), json!(e));
        }
        out.insert(
            "EnrichmentParameters".into(),
            s.enrichment_parameters.clone().unwrap_or_else(|| json!({})),
        );
        out.insert("Target".into(), json!(s.target));
        out.insert(
            "TargetParameters".into(),
            s.target_parameters.clone().unwrap_or_else(|| json!({})),
        );
        out.insert("RoleArn".into(), json!(s.role_arn));
        out.insert("Tags".into(), json!(st.tags));
        out.insert("CreationTime".into(), json!(secs(st.created)));
        out.insert("LastModifiedTime".into(), json!(secs(st.modified)));
        if let Some(k) = &s.kms_key_identifier {
            out.insert("KmsKeyIdentifier".into(), json!(k));
        }
        Ok(Value::Object(out))
    }

    pub fn update_pipe(&self, ctx: &RequestContext, input: PipeInput) -> Result<Value, PipesError> {
        spec::check_name(&input.name)?;
        let Some(role) = input.role_arn.clone() else {
            return Err(PipesError::field("roleArn", None, "Member must not be null"));
        };
        let desired = desired_state(input.desired_state.as_deref())?;
        if input.log_configuration.as_ref().is_some_and(|v| !v.is_null()) {
            return Err(PipesError::invalid(
                "logConfiguration",
                "localbridge does not implement pipe logging (LogConfiguration).",
            ));
        }
        let h = self.handle(ctx, &input.name)?;
        let out = {
            let mut st = h.lock();
            if st.transitional() {
                return Err(PipesError::conflict(
                    format!(
                        "Pipe {} cannot be updated while it is in state {}.",
                        input.name, st.current
                    ),
                    &input.name,
                ));
            }
            let old = &st.spec.stored;
            let stored = Stored {
                description: input.description.clone().or_else(|| old.description.clone()),
                source: old.source.clone(),
                source_parameters: spec::merge_source(old.source_parameters.as_ref(), input.source_parameters.clone()),
                enrichment: match &input.enrichment {
                    Some(e) if e.is_empty() => None,
                    Some(e) => Some(e.clone()),
                    None => old.enrichment.clone(),
                },
                enrichment_parameters: spec::merge_source(
                    old.enrichment_parameters.as_ref(),
                    input.enrichment_parameters.clone(),
                ),
                target: input.target.clone().unwrap_or_else(|| old.target.clone()),
                target_parameters: spec::merge_source(old.target_parameters.as_ref(), input.target_parameters.clone()),
                role_arn: role,
                kms_key_identifier: input
                    .kms_key_identifier
                    .clone()
                    .or_else(|| old.kms_key_identifier.clone()),
            };
            let mut spec = spec::compile(&input.name, &ctx.region, &ctx.account, stored)?;
            spec.counters = Arc::clone(&st.spec.counters);
            let now = self.shared.clock.now_millis();
            if let Some(d) = desired {
                st.desired = d;
            }
            st.spec = Arc::new(spec);
            st.current = "UPDATING";
            st.reason = None;
            st.pending = Some((now + self.shared.config.transition_millis, Some(st.desired)));
            st.modified = now;
            Self::summary(&st)
        };
        h.bump();
        Ok(out)
    }

    pub fn delete_pipe(&self, ctx: &RequestContext, name: &str) -> Result<Value, PipesError> {
        spec::check_name(name)?;
        let h = self.handle(ctx, name)?;
        let out = {
            let mut st = h.lock();
            if st.current == "DELETING" {
                return Err(PipesError::conflict(
                    format!("Pipe {name} is already being deleted."),
                    name,
                ));
            }
            let now = self.shared.clock.now_millis();
            st.desired = "DELETED";
            st.current = "DELETING";
            st.reason = None;
            st.pending = Some((now + self.shared.config.transition_millis, None));
            st.modified = now;
            Self::summary(&st)
        };
        h.bump();
        Ok(out)
    }

    fn start_stop(&self, ctx: &RequestContext, name: &str, to: &'static str) -> Result<Value, PipesError> {
        spec::check_name(name)?;
        let h = self.handle(ctx, name)?;
        let out = {
            let mut st = h.lock();
            if st.transitional() {
                return Err(PipesError::conflict(
                    format!(
                        "Pipe {name} cannot be {} while it is in state {}.",
                        if to == "RUNNING" { "started" } else { "stopped" },
                        st.current
                    ),
                    name,
                ));
            }
            if st.current != to || st.desired != to {
                let now = self.shared.clock.now_millis();
                st.desired = to;
                st.current = if to == "RUNNING" { "STARTING" } else { "STOPPING" };
                st.reason = None;
                st.pending = Some((now + self.shared.config.transition_millis, Some(to)));
                st.modified = now;
            }
            Self::summary(&st)
        };
        h.bump();
        Ok(out)
    }

    pub fn start_pipe(&self, ctx: &RequestContext, name: &str) -> Result<Value, PipesError> {
        self.start_stop(ctx, name, "RUNNING")
    }

    pub fn stop_pipe(&self, ctx: &RequestContext, name: &str) -> Result<Value, PipesError> {
        self.start_stop(ctx, name, "STOPPED")
    }

    pub fn list_pipes(&self, ctx: &RequestContext, input: &ListInput) -> Result<Value, PipesError> {
        let limit = match input.limit.as_deref() {
            None => 100,
            Some(l) => {
                let n: i64 = l
                    .parse()
                    .map_err(|_| PipesError::field("limit", Some(l), "Member must be an integer"))?;
                if !(1..=100).contains(&n) {
                    return Err(PipesError::field(
                        "limit",
                        Some(l),
                        if n < 1 {
                            "Member must have value greater than or equal to 1"
                        } else {
                            "Member must have value less than or equal to 100"
                        },
                    ));
                }
                n as usize
            }
        };
        desired_state(input.desired_state.as_deref())?;
        if let Some(c) = input.current_state.as_deref() {
            if !STATES.contains(&c) {
                return Err(PipesError::field(
                    "currentState",
                    Some(c),
                    &format!("Member must satisfy enum value set: [{}]", STATES.join(", ")),
                ));
            }
        }
        if let Some(p) = &input.name_prefix {
            if !p.is_empty() {
                spec::check_name(p).map_err(|mut e| {
                    for f in &mut e.field_list {
                        f.name = "namePrefix".into();
                    }
                    e.aws.message = e.aws.message.replace("at 'name'", "at 'namePrefix'");
                    e
                })?;
            }
        }
        let handles: Vec<(Key, Arc<PipeHandle>)> = {
            let map = self.pipes.lock().unwrap_or_else(PoisonError::into_inner);
            map.iter()
                .filter(|((r, a, _), _)| *r == ctx.region && *a == ctx.account)
                .filter(|((_, _, n), _)| input.next_token.as_deref().is_none_or(|t| n.as_str() >= t))
                .map(|(k, h)| (k.clone(), Arc::clone(h)))
                .collect()
        };
        let mut out = Vec::new();
        let mut next = None;
        for (key, h) in handles {
            let item = {
                let mut st = h.lock();
                self.shared.settle(&mut st);
                if st.deleted {
                    None
                } else {
                    let s = &st.spec;
                    let keep = input.name_prefix.as_deref().is_none_or(|p| s.name.starts_with(p))
                        && input
                            .source_prefix
                            .as_deref()
                            .is_none_or(|p| s.stored.source.starts_with(p))
                        && input
                            .target_prefix
                            .as_deref()
                            .is_none_or(|p| s.stored.target.starts_with(p))
                        && input.desired_state.as_deref().is_none_or(|d| d == st.desired)
                        && input.current_state.as_deref().is_none_or(|c| c == st.current);
                    keep.then(|| {
                        let mut v = json!({
                            "Name": s.name,
                            "Arn": s.arn,
                            "DesiredState": st.desired,
                            "CurrentState": st.current,
                            "CreationTime": secs(st.created),
                            "LastModifiedTime": secs(st.modified),
                            "Source": s.stored.source,
                            "Target": s.stored.target,
                        });
                        if let Some(r) = &st.reason {
                            v["StateReason"] = json!(r);
                        }
                        if let Some(e) = &s.stored.enrichment {
                            v["Enrichment"] = json!(e);
                        }
                        v
                    })
                }
            };
            let gone = item.is_none() && h.lock().deleted;
            if gone {
                self.forget(&key, &h);
                continue;
            }
            if let Some(item) = item {
                if out.len() == limit {
                    next = Some(key.2.clone());
                    break;
                }
                out.push(item);
            }
        }
        let mut v = json!({ "Pipes": out });
        if let Some(n) = next {
            v["NextToken"] = json!(n);
        }
        Ok(v)
    }

    fn by_arn(&self, arn: &str) -> Result<Arc<PipeHandle>, PipesError> {
        let parsed: Arn = arn.parse().map_err(|_| {
            PipesError::field(
                "resourceArn",
                Some(arn),
                "Member must satisfy regular expression pattern: arn:aws([a-z]|\\-)*:([a-zA-Z0-9\\-]+):([a-z]|\\d|\\-)*:([0-9]{12})?:(.+)",
            )
        })?;
        let name = parsed
            .resource
            .strip_prefix("pipe/")
            .filter(|_| parsed.service == "pipes")
            .ok_or_else(|| PipesError::not_found(format!("Resource {arn} does not exist.")))?;
        self.handle_at(&parsed.region, &parsed.account, name)
            .map_err(|_| PipesError::not_found(format!("Resource {arn} does not exist.")))
    }

    pub fn tag_resource(&self, arn: &str, tags: Option<BTreeMap<String, String>>) -> Result<Value, PipesError> {
        let Some(tags) = tags else {
            return Err(PipesError::field("tags", None, "Member must not be null"));
        };
        spec::check_tags(&tags, "tags")?;
        let h = self.by_arn(arn)?;
        let mut st = h.lock();
        let mut merged = st.tags.clone();
        merged.extend(tags);
        if merged.len() > 50 {
            return Err(PipesError::invalid("tags", "A pipe can have at most 50 tags."));
        }
        st.tags = merged;
        Ok(json!({}))
    }

    pub fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<Value, PipesError> {
        if keys.is_empty() {
            return Err(PipesError::field("tagKeys", None, "Member must not be null"));
        }
        let h = self.by_arn(arn)?;
        let mut st = h.lock();
        for k in keys {
            st.tags.remove(k);
        }
        Ok(json!({}))
    }

    pub fn list_tags_for_resource(&self, arn: &str) -> Result<Value, PipesError> {
        let h = self.by_arn(arn)?;
        let st = h.lock();
        Ok(json!({ "tags": st.tags }))
    }
}

impl Shared {
    /// Applies a due state change (and, leaving CREATING/UPDATING/STARTING, checks the source).
    pub(crate) fn settle(&self, st: &mut PipeState) {
        let Some((due, next)) = st.pending else {
            return;
        };
        if self.clock.now_millis() < due {
            return;
        }
        st.pending = None;
        let Some(next) = next else {
            st.deleted = true;
            return;
        };
        let failed = match st.current {
            "CREATING" => "CREATE_FAILED",
            "UPDATING" => "UPDATE_FAILED",
            "STARTING" => "START_FAILED",
            _ => "",
        };
        if !failed.is_empty() {
            if let Err(reason) = self.check_source(&st.spec) {
                st.current = failed;
                st.reason = Some(reason);
                return;
            }
        }
        st.current = next;
    }

    fn check_source(&self, spec: &Spec) -> Result<(), String> {
        match &spec.source {
            crate::spec::SourceKind::Sqs(_) => match &self.deps.queues {
                None => Err("localbridge has no queue service to poll.".into()),
                Some(q) => q.describe(&spec.source_arn).map(|_| ()).map_err(|e| e.message),
            },
            crate::spec::SourceKind::Kinesis(_) => match &self.deps.streams {
                None => Err("localbridge has no stream service to read.".into()),
                Some(s) => s.shards(&spec.source_arn).map(|_| ()).map_err(|e| e.message),
            },
        }
    }
}
