//! S3's daily background work: lifecycle rules (expiration, transitions, noncurrent versions,
//! incomplete multipart uploads) and Intelligent-Tiering archive moves, run by ONE task for
//! every bucket at each midnight UTC of the platform clock.
//!
//! The task is started by the first configuration stored. It sleeps until the next midnight
//! ([`lb_core::Clock::sleep_until_held`]: on a manual clock the step waits while a run is under
//! way) or until a configuration changes (the change takes [`lb_core::Clock::hold`] first, so a
//! test that stores a configuration and at once moves the clock sees the run). A run snapshots
//! each configured bucket's versions under a read lock, plans with [`crate::lifecycle`], and
//! applies each action under the bucket's write lock only if the version is still the one
//! planned on (a write in between wins), then emits the action's event. Runs on the same day
//! happen once; a clock that jumps several days runs once per midnight on the manual clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use lb_core::clock::{BoxFuture, ClockHold};
use lb_core::{Clock, RequestContext};
use tokio::sync::Notify;
use tracing::debug;

use crate::lifecycle::{self, Action, VersionView, DAY};
use crate::notify::{EventData, Notifier, ObjectEvent};
use crate::store::{self, Bucket, Store};
use crate::tiering;

pub(crate) struct Daily {
    pub(crate) store: Arc<Store>,
    notifier: Arc<Notifier>,
    clock: Arc<dyn Clock>,
    /// Bucket -> its lifecycle configuration. Held only to clone or swap an `Arc`.
    lifecycle: RwLock<HashMap<String, Arc<lifecycle::Config>>>,
    /// Bucket -> its Intelligent-Tiering configurations, by id.
    pub(crate) tiering: RwLock<HashMap<String, Arc<tiering::Configs>>>,
    /// Bucket -> its replication configuration (applied per write, not daily: `api/replication.rs`).
    replication: RwLock<HashMap<String, Arc<crate::replication::Config>>>,
    wake: Arc<Notify>,
    woken: Mutex<Option<ClockHold>>,
    started: AtomicBool,
    #[cfg(test)]
    pub(crate) tap: Arc<Mutex<Vec<ObjectEvent>>>,
}

impl Daily {
    pub(crate) fn new(
        store: Arc<Store>,
        notifier: Arc<Notifier>,
        clock: Arc<dyn Clock>,
        #[cfg(test)] tap: Arc<Mutex<Vec<ObjectEvent>>>,
    ) -> Self {
        Self {
            store,
            notifier,
            clock,
            lifecycle: RwLock::default(),
            tiering: RwLock::default(),
            replication: RwLock::default(),
            wake: Arc::new(Notify::new()),
            woken: Mutex::new(None),
            started: AtomicBool::new(false),
            #[cfg(test)]
            tap,
        }
    }

    pub(crate) fn lifecycle(&self, bucket: &str) -> Option<Arc<lifecycle::Config>> {
        self.lifecycle
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(bucket)
            .cloned()
    }

    /// Stores (or, with `None`, removes) a bucket's lifecycle configuration.
    pub(crate) fn set_lifecycle(self: &Arc<Self>, bucket: &str, config: Option<lifecycle::Config>) {
        {
            let mut map = self.lifecycle.write().unwrap_or_else(PoisonError::into_inner);
            match config {
                Some(c) => map.insert(bucket.to_owned(), Arc::new(c)),
                None => map.remove(bucket),
            };
        }
        self.changed();
    }

    pub(crate) fn tiering_of(&self, bucket: &str) -> Option<Arc<tiering::Configs>> {
        self.tiering
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(bucket)
            .cloned()
    }

    /// Replaces a bucket's Intelligent-Tiering configurations.
    pub(crate) fn set_tiering(self: &Arc<Self>, bucket: &str, configs: tiering::Configs) {
        {
            let mut map = self.tiering.write().unwrap_or_else(PoisonError::into_inner);
            if configs.is_empty() {
                map.remove(bucket);
            } else {
                map.insert(bucket.to_owned(), Arc::new(configs));
            }
        }
        self.changed();
    }

    pub(crate) fn replication_of(&self, bucket: &str) -> Option<Arc<crate::replication::Config>> {
        self.replication
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(bucket)
            .cloned()
    }

    pub(crate) fn set_replication(&self, bucket: &str, config: Option<crate::replication::Config>) {
        let mut map = self.replication.write().unwrap_or_else(PoisonError::into_inner);
        match config {
            Some(c) => map.insert(bucket.to_owned(), Arc::new(c)),
            None => map.remove(bucket),
        };
    }

    /// A deleted bucket takes its configurations with it.
    pub(crate) fn forget(&self, bucket: &str) {
        self.replication
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(bucket);
        self.lifecycle
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(bucket);
        self.tiering
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(bucket);
    }

    /// Starts the task if needed and wakes it, holding a manual clock's step until it has
    /// started its next wait.
    fn changed(self: &Arc<Self>) {
        *self.woken.lock().unwrap_or_else(PoisonError::into_inner) = Some(self.clock.hold());
        if !self.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(run(Arc::downgrade(self)));
        }
        self.wake.notify_one();
    }

    pub(crate) fn dispatch(&self, event: ObjectEvent) {
        #[cfg(test)]
        self.tap
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event.clone());
        self.notifier.emit(event);
    }

    /// The daily run at midnight `at`.
    fn run_day(&self, at: u64) {
        let lifecycles: Vec<(String, Arc<lifecycle::Config>)> = self
            .lifecycle
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        for (name, config) in lifecycles {
            let Ok(bucket) = self.store.bucket(&name) else { continue };
            self.run_lifecycle(&bucket, &config, at);
        }
        let tierings: Vec<(String, Arc<tiering::Configs>)> = self
            .tiering
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        for (name, configs) in tierings {
            let Ok(bucket) = self.store.bucket(&name) else { continue };
            self.run_tiering(&bucket, &configs, at);
        }
    }

    fn run_lifecycle(&self, bucket: &Bucket, config: &lifecycle::Config, at: u64) {
        let (keys, uploads) = bucket.snapshot();
        let mut actions = Vec::new();
        for (key, versions) in &keys {
            let views: Vec<VersionView<'_>> = versions
                .iter()
                .map(|v| VersionView {
                    version_id: &v.version_id,
                    last_modified: v.last_modified,
                    object: v
                        .object
                        .as_ref()
                        .map(|o| (o.size(), o.tags.as_slice(), o.meta.storage_class())),
                })
                .collect();
            config.plan(at, key, &views, &mut actions);
        }
        debug!(bucket = %bucket.name, actions = actions.len(), "lifecycle run");
        for action in actions {
            match action {
                Action::ExpireCurrent { key, version_id } => {
                    let Some(d) = bucket.expire_current(&key, &version_id, at) else {
                        continue;
                    };
                    let name = if d.delete_marker {
                        "LifecycleExpiration:DeleteMarkerCreated"
                    } else {
                        "LifecycleExpiration:Delete"
                    };
                    self.dispatch(s3_event(bucket, name, &key, None, None, d.version_id, at, None));
                }
                Action::Remove { key, version_id } => {
                    let shown = bucket.versioning_status().map(|_| version_id.clone());
                    match bucket.delete(&key, Some(&version_id), at) {
                        Ok(d) if d.changed => self.dispatch(s3_event(
                            bucket,
                            "LifecycleExpiration:Delete",
                            &key,
                            None,
                            None,
                            shown,
                            at,
                            None,
                        )),
                        _ => {}
                    }
                }
                Action::Transition {
                    key, version_id, class, ..
                } => {
                    let Ok(v) = bucket.set_storage_class(&key, &version_id, &class) else {
                        continue;
                    };
                    let Some(obj) = v.object.as_ref() else { continue };
                    self.dispatch(s3_event(
                        bucket,
                        "LifecycleTransition",
                        &key,
                        Some(obj.size()),
                        Some(&obj.etag),
                        bucket.shown_version_id(&v),
                        at,
                        Some(EventData::Transition { storage_class: class }),
                    ));
                }
            }
        }
        for (key, id, initiated) in uploads {
            if config.aborts_upload(at, &key, initiated) {
                let _ = bucket.abort_upload(&id, &key);
            }
        }
    }

    fn run_tiering(&self, bucket: &Bucket, configs: &tiering::Configs, at: u64) {
        let (keys, _) = bucket.snapshot();
        for (key, versions) in &keys {
            for v in versions {
                let Some(obj) = v.object.as_ref() else { continue };
                if obj.meta.storage_class() != "INTELLIGENT_TIERING" {
                    continue;
                }
                let since = obj.accessed.max(v.last_modified);
                let Some(tier) = tiering::due_tier(configs, at, key, &obj.tags, obj.size(), since, obj.archive) else {
                    continue;
                };
                // Moved only if nobody read it (or moved it) since the snapshot; the error is
                // this closure's own signal, never shown to a client.
                let moved = bucket.update_version(key, &v.version_id, |o| {
                    if o.archive == obj.archive && o.accessed == obj.accessed {
                        o.archive = Some(tier);
                        o.restore = None;
                        Ok(())
                    } else {
                        Err(crate::error::Fault::new("Changed", 409, ""))
                    }
                });
                let Ok(v) = moved else { continue };
                let Some(o) = v.object.as_ref() else { continue };
                self.dispatch(s3_event(
                    bucket,
                    "IntelligentTiering",
                    key,
                    Some(o.size()),
                    Some(&o.etag),
                    bucket.shown_version_id(&v),
                    at,
                    Some(EventData::AccessTier {
                        tier: tier.as_str().to_owned(),
                    }),
                ));
            }
        }
    }
}

/// An event S3 itself causes (no request: a fresh request id, `s3.amazonaws.com` as principal).
#[allow(clippy::too_many_arguments)]
pub(crate) fn s3_event(
    bucket: &Bucket,
    name: &'static str,
    key: &str,
    size: Option<u64>,
    etag: Option<&str>,
    version_id: Option<String>,
    at: u64,
    extra: Option<EventData>,
) -> ObjectEvent {
    let mut ctx = RequestContext::new(bucket.region.clone());
    ctx.request_id = lb_core::ids::s3_request_id();
    ObjectEvent {
        event_name: name,
        bucket: bucket.name.clone(),
        key: key.to_owned(),
        size,
        etag: etag.map(str::to_owned),
        version_id: version_id.filter(|id| id != store::NULL_VERSION),
        time_millis: at,
        ctx,
        restore: None,
        extra,
    }
}

async fn run(weak: Weak<Daily>) {
    let mut hold: Option<ClockHold> = None;
    let mut last_run: Option<u64> = None;
    loop {
        let Some(d) = weak.upgrade() else { return };
        let wake = Arc::clone(&d.wake);
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = d.clock.now_millis();
        let today = now - now % DAY;
        match last_run {
            Some(last) if today > last => {
                d.run_day(today);
                last_run = Some(today);
            }
            Some(_) => {}
            None => last_run = Some(today),
        }
        let sleep: BoxFuture<'static, ClockHold> = d.clock.sleep_until_held(lifecycle::next_midnight(now));
        // The wait is registered: a step may go on.
        drop(d.woken.lock().unwrap_or_else(PoisonError::into_inner).take());
        drop(d);
        drop(hold.take());
        tokio::select! {
            h = sleep => hold = Some(h),
            () = &mut notified => {}
        }
    }
}
