//! EventBridge connections and API destinations (botocore `events` 2015-10-07: CreateConnection,
//! DescribeConnection, ListConnections, UpdateConnection, DeleteConnection, DeauthorizeConnection,
//! CreateApiDestination, DescribeApiDestination, ListApiDestinations, UpdateApiDestination,
//! DeleteApiDestination) and the HTTP invocation of an API destination target.
//!
//! [`Destinations`] keeps both per region and account and answers the operations from parsed JSON
//! ([`Destinations::handle`]); the wire edge and the delivery path call it. Shapes, limits and
//! patterns are botocore's model; the words of the answers are AWS's where they are known
//! (recorded AWS responses: `ResourceNotFoundException` "Failed to describe the connection(s).
//! Connection 'x' does not exist.", the enum orders of the validation messages).
//!
//! States (eb-target-connection-states, and AWS's recorded answers):
//! - CreateConnection answers AUTHORIZED for BASIC and API_KEY, AUTHORIZING for
//!   OAUTH_CLIENT_CREDENTIALS; an OAuth connection becomes AUTHORIZED when a token is fetched from its
//!   AuthorizationEndpoint (in the background when there is a runtime, else at the first invocation),
//!   DEAUTHORIZED when the endpoint refuses. Describe never returns a secret: passwords, API key
//!   values, client secrets and parameters marked `IsValueSecret` are left out.
//! - DeleteConnection answers DELETING, DeauthorizeConnection DEAUTHORIZING (then DEAUTHORIZED,
//!   credentials and secret gone, until UpdateConnection gives new ones).
//! - An API destination is ACTIVE while its connection is AUTHORIZED, INACTIVE otherwise (an OAuth
//!   connection not yet authorized, deauthorized or deleted). Deleting a connection still in use
//!   is allowed: DeleteConnection has no "in use" error in the model.
//!
//! Invocation ([`Destinations::invoke`], eb-api-destinations): the target's HttpParameters merged
//! with the connection's InvocationHttpParameters (the connection wins a conflict), `*` in the
//! endpoint replaced by the path parameters in order, the documented headers (`User-Agent:
//! Amazon/EventBridge/ApiDestinations`, `Content-Type: application/json; charset=utf-8`,
//! `Range: bytes=0-1048575`, ...), the connection's authorization, at most
//! InvocationRateLimitPerSecond requests in any second (later ones wait on the [`Clock`]), a
//! 5-second timeout. Statuses 401, 407, 409, 429 and 5xx are retryable; 1xx, 3xx and the other 4xx
//! are not ("API destination error codes"). OAuth tokens are refreshed after a 401 or 407 (the
//! retry uses the new one); a 401 or 407 to BASIC or API_KEY credentials deauthorizes the
//! connection (eb-target-connection-deauthorize).
//!
//! **Plain HTTP only.** localbridge runs offline and is built without TLS: endpoints may be
//! `http://` (AWS accepts only `https://`; both are accepted here), and invoking an `https://`
//! endpoint fails, terminally, saying so.
//!
//! Not served: private APIs (InvocationConnectivityParameters: NotImplemented), the `Retry-After`
//! header (the delivery engine's retry policy decides the waits), KMS encryption (the key id is
//! kept and returned).

mod invoke;
mod model;
mod ops;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lb_core::clock::BoxFuture;
use lb_core::deliver::DeliveryError;
use lb_core::{Arn, AwsError, Clock, RequestContext};
use serde_json::Value;

use model::{ApiDestination, Connection};

/// The HttpParameters of a target (PutTargets), used when the target is an API destination.
/// "These are merged with any InvocationParameters specified on the Connection, with any values
/// from the Connection taking precedence."
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct HttpParameters {
    /// Values for the `*` wildcards of the endpoint, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path_parameter_values: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub header_parameters: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub query_string_parameters: BTreeMap<String, String>,
}

/// Connections and API destinations of every region and account, and the state of their
/// invocations (OAuth tokens, rate windows).
pub struct Destinations {
    inner: Arc<Inner>,
}

/// One region and account's connections and API destinations, by name.
#[derive(Default)]
struct Scope {
    connections: BTreeMap<String, Connection>,
    destinations: BTreeMap<String, ApiDestination>,
}

struct Inner {
    clock: Arc<dyn Clock>,
    /// A std mutex: every critical section is a few map operations and never spans an await.
    scopes: Mutex<HashMap<(String, String), Scope>>,
    /// OAuth access tokens, by connection ARN.
    tokens: Mutex<HashMap<String, invoke::Token>>,
    /// Recent invocation times, by API destination ARN.
    windows: Mutex<HashMap<String, invoke::Window>>,
    http: reqwest::Client,
    timeout: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    fn with_scope<T>(&self, region: &str, account: &str, f: impl FnOnce(&mut Scope) -> T) -> T {
        let mut scopes = lock(&self.scopes);
        f(scopes.entry((region.to_owned(), account.to_owned())).or_default())
    }

    fn forget_token(&self, connection_arn: &str) {
        lock(&self.tokens).remove(connection_arn);
    }

    fn forget_window(&self, destination_arn: &str) {
        lock(&self.windows).remove(destination_arn);
    }
}

impl Destinations {
    /// The operations served here (botocore names).
    pub const OPERATIONS: [&'static str; 11] = [
        "CreateConnection",
        "DescribeConnection",
        "ListConnections",
        "UpdateConnection",
        "DeleteConnection",
        "DeauthorizeConnection",
        "CreateApiDestination",
        "DescribeApiDestination",
        "ListApiDestinations",
        "UpdateApiDestination",
        "DeleteApiDestination",
    ];

    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_timeout(clock, invoke::TIMEOUT)
    }

    /// With another invocation timeout than AWS's 5 seconds (tests).
    pub fn with_timeout(clock: Arc<dyn Clock>, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            inner: Arc::new(Inner {
                clock,
                scopes: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
                windows: Mutex::new(HashMap::new()),
                http,
                timeout,
            }),
        }
    }

    /// Serves one of [`Self::OPERATIONS`]: `input` is the parsed JSON request body (`null` when
    /// empty); `Ok` is the JSON response body.
    pub fn handle(&self, ctx: &RequestContext, operation: &str, input: Value) -> Result<Value, AwsError> {
        let inner = &self.inner;
        match operation {
            "CreateConnection" => ops::create_connection(inner, ctx, ops::input(input)?),
            "DescribeConnection" => ops::describe_connection(inner, ctx, ops::input(input)?),
            "ListConnections" => ops::list_connections(inner, ctx, ops::input(input)?),
            "UpdateConnection" => ops::update_connection(inner, ctx, ops::input(input)?),
            "DeleteConnection" => ops::delete_connection(inner, ctx, ops::input(input)?),
            "DeauthorizeConnection" => ops::deauthorize_connection(inner, ctx, ops::input(input)?),
            "CreateApiDestination" => ops::create_api_destination(inner, ctx, ops::input(input)?),
            "DescribeApiDestination" => ops::describe_api_destination(inner, ctx, ops::input(input)?),
            "ListApiDestinations" => ops::list_api_destinations(inner, ctx, ops::input(input)?),
            "UpdateApiDestination" => ops::update_api_destination(inner, ctx, ops::input(input)?),
            "DeleteApiDestination" => ops::delete_api_destination(inner, ctx, ops::input(input)?),
            op => Err(AwsError::new(
                "UnknownOperationException",
                400,
                format!("Operation {op} is not supported."),
            )),
        }
    }

    /// Whether an API destination ARN exists (PutTargets checks it).
    pub fn exists(&self, arn: &Arn) -> bool {
        let Some(name) = invoke::destination_name(arn) else {
            return false;
        };
        self.inner.with_scope(&arn.region, &arn.account, |s| {
            s.destinations.get(name).is_some_and(|d| d.arn == arn.to_string())
        })
    }

    /// Sends one event (already transformed: `body`) to the API destination `arn`, with the
    /// target's HttpParameters, the connection's authorization and the destination's invocation
    /// rate limit.
    pub fn invoke<'a>(
        &'a self,
        arn: &'a Arn,
        body: &'a str,
        params: &'a HttpParameters,
    ) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(self.inner.invoke(arn, body, params))
    }
}
