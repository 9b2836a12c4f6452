//! The S3 stub: buckets, objects, versions, multipart uploads, tagging, checksums, and the
//! object events every write emits through [`notify::Notifier`].
//!
//! Code map:
//! - [`store`]: the in-memory store in plain Rust (no HTTP, no `s3s` types), unit-tested alone.
//! - `api`: the `s3s::S3` implementation, translating `s3s` DTOs to store calls and back,
//!   validating requests (checksums, Content-MD5, tags, preconditions) and emitting events.
//! - [`checksum`]: S3's checksum algorithms, ETags, composite and full-object checksums.
//! - [`host`]: virtual-hosted-style addressing for the configured base domains.
//! - [`error`]: AWS error codes, messages, XML fields and headers, and [`finish_response`].
//!
//! The gateway removes SigV4 signatures and decodes aws-chunked bodies before `s3s` sees a
//! request, and puts an `lb_core::RequestContext` in the request extensions.
//!
//! **Invariant:** a request that fails validation changes nothing; events are emitted only after
//! the write they describe is committed, and before the response is returned.

mod api;
pub mod checksum;
mod daily;
pub mod error;
pub mod host;
pub mod lifecycle;
pub mod notify;
pub mod replication;
pub mod sink;
pub mod store;
pub mod tiering;

use std::sync::Arc;

use lb_core::Clock;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::S3Result;

pub use error::finish_response;

/// How long a RestoreObject takes by default: seconds, not AWS's hours, so that local runs see
/// `ObjectRestore:Completed` promptly.
pub const DEFAULT_RESTORE_SECONDS: u64 = 5;

/// How long replicating an object version takes by default, on the platform clock.
pub const DEFAULT_REPLICATION_SECONDS: u64 = 1;

/// The in-memory S3 implementation behind [`service`]. Cloning shares everything (the store,
/// the notifier, the daily task): [`sink::S3Sink`] is a clone that writes for other services.
#[derive(Clone)]
pub struct S3Stub {
    store: Arc<store::Store>,
    notifier: Arc<notify::Notifier>,
    /// Lifecycle and Intelligent-Tiering configurations and the daily task that applies them.
    daily: Arc<daily::Daily>,
    clock: Arc<dyn Clock>,
    /// How long a RestoreObject takes to complete, on the platform clock.
    restore_millis: u64,
    /// How long replicating an object version takes, on the platform clock.
    replication_millis: u64,
    /// Every event emitted, for the in-process tests.
    #[cfg(test)]
    tap: Arc<std::sync::Mutex<Vec<notify::ObjectEvent>>>,
}

impl S3Stub {
    pub fn new(notifier: Arc<notify::Notifier>, clock: Arc<dyn Clock>) -> Self {
        let store = Arc::new(store::Store::new());
        #[cfg(test)]
        let tap: Arc<std::sync::Mutex<Vec<notify::ObjectEvent>>> = Arc::default();
        let daily = Arc::new(daily::Daily::new(
            Arc::clone(&store),
            Arc::clone(&notifier),
            Arc::clone(&clock),
            #[cfg(test)]
            Arc::clone(&tap),
        ));
        Self {
            store,
            notifier,
            daily,
            clock,
            restore_millis: DEFAULT_RESTORE_SECONDS * 1000,
            replication_millis: DEFAULT_REPLICATION_SECONDS * 1000,
            #[cfg(test)]
            tap,
        }
    }

    /// How long RestoreObject takes to complete (`--s3-restore-seconds`).
    #[must_use]
    pub fn with_restore_seconds(mut self, seconds: u64) -> Self {
        self.restore_millis = seconds.saturating_mul(1000);
        self
    }

    /// How long replicating an object version takes (`--s3-replication-seconds`); over 900
    /// seconds, rules with S3 RTC miss their 15-minute threshold.
    #[must_use]
    pub fn with_replication_seconds(mut self, seconds: u64) -> Self {
        self.replication_millis = seconds.saturating_mul(1000);
        self
    }

    /// The store, for tests and diagnostics.
    pub fn store(&self) -> &store::Store {
        &self.store
    }
}

/// Builds the `s3s` service: virtual-hosted-style addressing for `domains` (path-style for
/// every other host), an authenticator that knows the secret `test` for any access key (used only
/// to check browser POST upload policy signatures: the gateway strips all other signatures), and
/// an access policy that allows everything.
pub fn service(stub: S3Stub, domains: &[String]) -> S3Service {
    let mut builder = S3ServiceBuilder::new(stub);
    builder.set_host(host::Domains::new(domains));
    builder.set_auth(AnyAccessKey);
    builder.set_access(AllowAll);
    builder.build()
}

/// Every access key has the secret `test` (what local tooling configures).
struct AnyAccessKey;

#[async_trait::async_trait]
impl S3Auth for AnyAccessKey {
    async fn get_secret_key(&self, _access_key: &str) -> S3Result<SecretKey> {
        Ok(SecretKey::from("test"))
    }
}

/// Authorization is not emulated: every (anonymous, after the gateway) request is allowed.
struct AllowAll;

#[async_trait::async_trait]
impl S3Access for AllowAll {
    async fn check(&self, _cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        Ok(())
    }
}

/// localbridge's own S3 operations, served under `/_localbridge/s3/` (see the gateway): things
/// that cannot be caused through the S3 API.
#[derive(Clone)]
pub struct Admin {
    daily: Arc<daily::Daily>,
    clock: Arc<dyn Clock>,
}

/// An admin request refused: HTTP status, code, message.
pub type AdminError = (u16, &'static str, String);

impl S3Stub {
    /// The handle the gateway serves `/_localbridge/s3/*` with (take it before [`service`]).
    pub fn admin(&self) -> Admin {
        Admin {
            daily: Arc::clone(&self.daily),
            clock: Arc::clone(&self.clock),
        }
    }
}

impl Admin {
    /// `POST /_localbridge/s3/lose-object {"bucket", "key", "versionId"?}`: S3 loses a
    /// REDUCED_REDUNDANCY object (which cannot happen on demand on AWS): requests for it answer
    /// 405 from now on, and `s3:ReducedRedundancyLostObject` is sent. Returns the event's
    /// request id.
    pub fn lose_object(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<String, AdminError> {
        let fault = |f: error::Fault| (f.status, "S3Error", format!("{}: {}", f.code, f.message));
        let b = self.daily.store.bucket(bucket).map_err(fault)?;
        let v = b
            .update(key, version_id, |o| {
                if o.meta.storage_class() != "REDUCED_REDUNDANCY" {
                    return Err(error::Fault::invalid_request(
                        "only REDUCED_REDUNDANCY objects can be lost",
                    ));
                }
                if o.lost {
                    return Err(error::Fault::invalid_request("the object is already lost"));
                }
                o.lost = true;
                Ok(())
            })
            .map_err(fault)?;
        let Some(obj) = v.object.as_ref() else {
            return Err((404, "S3Error", "NoSuchKey: the version is a delete marker".to_owned()));
        };
        let event = daily::s3_event(
            &b,
            "ReducedRedundancyLostObject",
            key,
            Some(obj.size()),
            Some(&obj.etag),
            b.shown_version_id(&v),
            self.clock.now_millis(),
            None,
        );
        let request_id = event.ctx.request_id.clone();
        self.daily.dispatch(event);
        Ok(request_id)
    }
}
