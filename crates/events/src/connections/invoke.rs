//! Invoking an API destination: the request EventBridge sends (eb-api-destinations: "Headers
//! included in requests to API destinations", "Headers EventBridge removes", "API destination
//! error codes"), the connection's authorization (OAuth tokens fetched, cached and refreshed), the
//! invocation rate limit, and what each outcome means to the delivery engine.
//!
//! The failures are reported as EventBridge reports them in a dead-letter message's ERROR_CODE and
//! ERROR_MESSAGE where that is known from AWS: an endpoint that cannot be reached is
//! `SDK_CLIENT_ERROR` "Unable to invoke ApiDestination endpoint: API destination endpoint cannot
//! be reached.", a timeout `UNKNOWN` "... Timeout calling endpoint for API Destination: socket
//! closed.". Error statuses are reported as `SDK_CLIENT_ERROR` with the status (AWS's exact
//! message for them is not documented).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use lb_core::deliver::{DeliveryError, FailureKind};
use lb_core::Arn;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use tracing::debug;

use super::model::{Auth, ConnectionState, HttpParams, OAuth, Param};
use super::ops::endpoint_url;
use super::{lock, HttpParameters, Inner};

/// "EventBridge requests to an API destination endpoint must have a maximum client execution
/// timeout of 5 seconds." (eb-api-destinations)
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);
const USER_AGENT: &str = "Amazon/EventBridge/ApiDestinations";
const RANGE: &str = "bytes=0-1048575";
const JSON: &str = "application/json; charset=utf-8";
/// Headers EventBridge removes from the target's and the connection's parameters (it sets some of
/// them itself: User-Agent, Range, Accept-Encoding, Connection).
const REMOVED_HEADERS: [&str; 33] = [
    "A-IM",
    "Accept-Charset",
    "Accept-Datetime",
    "Accept-Encoding",
    "Cache-Control",
    "Connection",
    "Content-Encoding",
    "Content-Length",
    "Content-MD5",
    "Date",
    "Expect",
    "Forwarded",
    "From",
    "Host",
    "HTTP2-Settings",
    "If-Match",
    "If-Modified-Since",
    "If-None-Match",
    "If-Range",
    "If-Unmodified-Since",
    "Max-Forwards",
    "Origin",
    "Pragma",
    "Proxy-Authorization",
    "Range",
    "Referer",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "User-Agent",
    "Upgrade",
    "Via",
    "Warning",
];
const PREFIX: &str = "Unable to invoke ApiDestination endpoint: ";
const PLAIN_HTTP_ONLY: &str =
    "localbridge sends plain HTTP only (it runs offline, without TLS); use an http:// endpoint.";
/// Query strings and path parameters: everything but the unreserved characters is escaped.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// An OAuth access token of a connection.
pub(crate) struct Token {
    /// The connection's credentials generation it was fetched with.
    generation: u64,
    access_token: String,
    /// When to fetch a new one before using it (a minute, or half the lifetime, before it expires).
    refresh_at: Option<u64>,
}

/// The recent invocation times of one API destination.
#[derive(Default)]
pub(crate) struct Window {
    /// The last `rate` send times, in order.
    sends: VecDeque<u64>,
}

impl Window {
    /// When the next request may go so that at most `rate` go in any 1000 ms; reserves that time.
    fn reserve(&mut self, rate: usize, now: u64) -> u64 {
        let rate = rate.max(1);
        let at = match self.sends.len().checked_sub(rate) {
            Some(i) => now.max(self.sends[i].saturating_add(1000)),
            None => now,
        };
        self.sends.push_back(at);
        while self.sends.len() > rate {
            self.sends.pop_front();
        }
        at
    }
}

/// The name in `arn:aws:events:REGION:ACCOUNT:api-destination/NAME/UUID`.
pub(crate) fn destination_name(arn: &Arn) -> Option<&str> {
    if arn.service != "events" {
        return None;
    }
    arn.resource
        .strip_prefix("api-destination/")?
        .split_once('/')
        .map(|(name, _)| name)
}

/// A connection as one invocation sees it (copied out of the store).
#[derive(Clone)]
struct ConnRef {
    region: String,
    account: String,
    name: String,
    arn: String,
    generation: u64,
    state: ConnectionState,
    auth: Option<Auth>,
    invocation: Option<HttpParams>,
}

impl ConnRef {
    fn of(region: &str, account: &str, c: &super::Connection) -> Self {
        Self {
            region: region.to_owned(),
            account: account.to_owned(),
            name: c.name.clone(),
            arn: c.arn.clone(),
            generation: c.generation,
            state: c.state,
            auth: c.auth.clone(),
            invocation: c.invocation.clone(),
        }
    }
}

/// An API destination and its connection, as one invocation sees them.
struct Target {
    endpoint: String,
    method: String,
    rate: u32,
    conn: ConnRef,
}

/// Why no OAuth token was obtained.
enum TokenError {
    /// No answer: try again later.
    Unreachable(String),
    /// 429 or 5xx: try again later.
    Transient(String),
    /// The endpoint refused the credentials (or answered nonsense): the connection is deauthorized.
    Rejected(String),
}

fn sdk_error(kind: FailureKind, message: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::new(kind, "SDK_CLIENT_ERROR", format!("{PREFIX}{message}"))
}

fn network_error(e: &reqwest::Error) -> DeliveryError {
    if e.is_timeout() {
        DeliveryError::retryable(
            "UNKNOWN",
            format!("{PREFIX}Timeout calling endpoint for API Destination: socket closed."),
        )
    } else if e.is_builder() {
        sdk_error(FailureKind::Terminal, format!("The request is not valid: {e}."))
    } else {
        sdk_error(FailureKind::Retryable, "API destination endpoint cannot be reached.")
    }
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// Appends `pairs` to the URL's query, escaped.
fn append_query<'a>(url: &mut Url, pairs: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut query = url.query().unwrap_or_default().to_owned();
    for (k, v) in pairs {
        if !query.is_empty() {
            query.push('&');
        }
        query.extend(utf8_percent_encode(k, COMPONENT));
        query.push('=');
        query.extend(utf8_percent_encode(v, COMPONENT));
    }
    if !query.is_empty() {
        url.set_query(Some(&query));
    }
}

/// The endpoint with its `*` replaced by the path parameters in order, and the query string of
/// the target merged with the connection's (the connection wins a key both set).
fn invocation_url(endpoint: &str, params: &HttpParameters, conn: Option<&HttpParams>) -> Result<Url, DeliveryError> {
    let mut values = params.path_parameter_values.iter();
    let mut filled = String::with_capacity(endpoint.len());
    for ch in endpoint.chars() {
        if ch == '*' {
            if let Some(v) = values.next() {
                filled.extend(utf8_percent_encode(v, COMPONENT));
                continue;
            }
        }
        filled.push(ch);
    }
    let Some(mut url) = endpoint_url(&filled) else {
        return Err(sdk_error(
            FailureKind::Terminal,
            format!("The endpoint '{filled}' is not a valid URL."),
        ));
    };
    if url.scheme() == "https" {
        return Err(sdk_error(FailureKind::Terminal, PLAIN_HTTP_ONLY));
    }
    let conn_query = conn.map_or(&[][..], |h| &h.query[..]);
    let target = params
        .query_string_parameters
        .iter()
        .filter(|(k, _)| !conn_query.iter().any(|p| p.key == **k))
        .map(|(k, v)| (k.as_str(), v.as_str()));
    append_query(
        &mut url,
        target.chain(conn_query.iter().map(|p| (p.key.as_str(), p.value.as_str()))),
    );
    Ok(url)
}

fn removed(name: &str) -> bool {
    REMOVED_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

fn header_map(headers: Vec<(String, String)>) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| format!("The header name '{k}' is not valid."))?;
        let value =
            HeaderValue::from_bytes(v.as_bytes()).map_err(|_| format!("The value of header '{k}' is not valid."))?;
        map.append(name, value);
    }
    Ok(map)
}

/// The request's headers: EventBridge's, the target's, the connection's (which win a conflict),
/// the authorization, and the two EventBridge does not let anyone override.
fn invocation_headers(
    params: &HttpParameters,
    conn: Option<&HttpParams>,
    authorization: (String, String),
) -> Result<HeaderMap, DeliveryError> {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: &str| {
        headers.retain(|(old, _)| !old.eq_ignore_ascii_case(k));
        headers.push((k.to_owned(), v.to_owned()));
    };
    set("Content-Type", JSON);
    set("Accept-Encoding", "gzip,deflate");
    set("Connection", "close");
    for (k, v) in &params.header_parameters {
        if !removed(k) {
            set(k, v);
        }
    }
    for p in conn.map_or(&[][..], |h| &h.headers[..]) {
        if !removed(&p.key) {
            set(&p.key, &p.value);
        }
    }
    set(&authorization.0, &authorization.1);
    set("User-Agent", USER_AGENT);
    set("Range", RANGE);
    header_map(headers).map_err(|m| sdk_error(FailureKind::Terminal, m))
}

/// The event with the connection's body parameters added, when it is a JSON object (the
/// connection wins a key both have). Other bodies are sent as they are.
fn with_body_params(body: &str, params: &[Param]) -> String {
    if params.is_empty() {
        return body.to_owned();
    }
    let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(body) else {
        return body.to_owned();
    };
    let clash = params
        .iter()
        .enumerate()
        .any(|(i, p)| object.contains_key(&p.key) || params[..i].iter().any(|q| q.key == p.key));
    if clash {
        for p in params {
            object.insert(p.key.clone(), Value::String(p.value.clone()));
        }
        return Value::Object(object).to_string();
    }
    // Append, leaving the event's own text (and key order) as it was.
    let Some(open) = body.trim_end().strip_suffix('}') else {
        return body.to_owned();
    };
    let mut out = open.trim_end().to_owned();
    let mut first = out.ends_with('{');
    for p in params {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&Value::String(p.key.clone()).to_string());
        out.push(':');
        out.push_str(&Value::String(p.value.clone()).to_string());
    }
    out.push('}');
    out
}

/// The OAuth token request body: the OAuthHttpParameters body parameters, form-encoded (or a JSON
/// object when the parameters set a JSON Content-Type).
fn token_body(params: &[Param], json: bool) -> String {
    if params.is_empty() {
        String::new()
    } else if json {
        let object: serde_json::Map<String, Value> = params
            .iter()
            .map(|p| (p.key.clone(), Value::String(p.value.clone())))
            .collect();
        Value::Object(object).to_string()
    } else {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|p| (&p.key, &p.value)))
            .finish()
    }
}

impl Inner {
    /// Copies the API destination `arn` and its connection out of the store.
    fn target(&self, arn: &Arn) -> Result<Target, DeliveryError> {
        let text = arn.to_string();
        let missing = || DeliveryError::not_found(format!("API destination {text} does not exist."));
        let name = destination_name(arn).ok_or_else(missing)?;
        self.with_scope(&arn.region, &arn.account, |s| {
            let d = s.destinations.get(name).filter(|d| d.arn == text).ok_or_else(missing)?;
            let conn_name = d
                .connection_arn
                .split_once(":connection/")
                .and_then(|(_, rest)| rest.split_once('/'))
                .map_or("", |(n, _)| n);
            let c = s
                .connections
                .get(conn_name)
                .filter(|c| c.arn == d.connection_arn)
                .ok_or_else(|| {
                    DeliveryError::not_found(format!(
                        "Connection {} of API destination {} does not exist.",
                        d.connection_arn, d.name
                    ))
                })?;
            Ok(Target {
                endpoint: d.endpoint.clone(),
                method: d.method.clone(),
                rate: d.rate_per_second,
                conn: ConnRef::of(&arn.region, &arn.account, c),
            })
        })
    }

    fn conn_ref(&self, region: &str, account: &str, name: &str) -> Option<ConnRef> {
        self.with_scope(region, account, |s| {
            s.connections.get(name).map(|c| ConnRef::of(region, account, c))
        })
    }

    /// Sets the state of the connection `c` was copied from, unless its credentials changed since.
    fn set_state(&self, c: &ConnRef, state: ConnectionState, reason: Option<String>) {
        let now = self.clock.now_millis();
        self.with_scope(&c.region, &c.account, |s| {
            let Some(conn) = s.connections.get_mut(&c.name) else {
                return;
            };
            if conn.arn != c.arn || conn.generation != c.generation || conn.auth.is_none() {
                return;
            }
            if state == ConnectionState::Authorized {
                conn.authorized_millis = now;
            }
            conn.state = state;
            conn.state_reason = reason;
        });
    }

    /// Waits until the destination's rate limit lets one more request go.
    async fn throttle(&self, arn: &str, rate: u32) {
        let (now, at) = {
            let mut windows = lock(&self.windows);
            let now = self.clock.now_millis();
            let at = windows.entry(arn.to_owned()).or_default().reserve(rate as usize, now);
            (now, at)
        };
        if at > now {
            self.clock.sleep_until(at).await;
        }
    }

    /// Authorizes a new or updated OAuth connection now (when there is a runtime to do it on), as
    /// EventBridge does after CreateConnection / UpdateConnection answer AUTHORIZING.
    pub(crate) fn authorize_in_background(self: &Arc<Self>, region: &str, account: &str, name: &str) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(c) = self.conn_ref(region, account, name) else {
            return;
        };
        let inner = Arc::clone(self);
        runtime.spawn(async move {
            if let Some(Auth::OAuth(o)) = &c.auth {
                // The outcome is recorded in the connection's state.
                let _ = inner.oauth_token(&c, o, true).await;
            }
        });
    }

    /// The `Authorization` (or API key) header of a request through `c`.
    async fn authorization(&self, c: &ConnRef) -> Result<(String, String), DeliveryError> {
        let usable = matches!(
            c.state,
            ConnectionState::Authorized | ConnectionState::Authorizing | ConnectionState::Active
        );
        let auth = match &c.auth {
            Some(a) if usable => a,
            _ => {
                return Err(sdk_error(
                    FailureKind::Terminal,
                    format!("Connection '{}' is {}.", c.name, c.state.as_str()),
                ))
            }
        };
        Ok(match auth {
            Auth::Basic { username, password } => ("Authorization".to_owned(), basic(username, password)),
            Auth::ApiKey { name, value } => (name.clone(), value.clone()),
            Auth::OAuth(o) => {
                let token = self.oauth_token(c, o, false).await?;
                ("Authorization".to_owned(), format!("Bearer {token}"))
            }
        })
    }

    /// The connection's access token: the cached one unless `force` or it is about to expire,
    /// else a new one from the authorization endpoint (which authorizes or deauthorizes the
    /// connection).
    async fn oauth_token(&self, c: &ConnRef, o: &OAuth, force: bool) -> Result<String, DeliveryError> {
        if !force {
            let now = self.clock.now_millis();
            let tokens = lock(&self.tokens);
            if let Some(t) = tokens.get(&c.arn) {
                if t.generation == c.generation && t.refresh_at.is_none_or(|at| now < at) {
                    return Ok(t.access_token.clone());
                }
            }
        }
        match self.fetch_token(o).await {
            Ok((token, expires_in)) => {
                let now = self.clock.now_millis();
                let refresh_at = expires_in.map(|secs| {
                    let life = secs.saturating_mul(1000);
                    now.saturating_add(life - life.min(60_000).min(life / 2))
                });
                let t = Token {
                    generation: c.generation,
                    access_token: token.clone(),
                    refresh_at,
                };
                lock(&self.tokens).insert(c.arn.clone(), t);
                self.set_state(c, ConnectionState::Authorized, None);
                Ok(token)
            }
            Err(TokenError::Unreachable(m) | TokenError::Transient(m)) => Err(sdk_error(FailureKind::Retryable, m)),
            Err(TokenError::Rejected(m)) => {
                debug!(connection = %c.arn, reason = %m, "connection deauthorized");
                self.set_state(c, ConnectionState::Deauthorized, Some(m.clone()));
                Err(sdk_error(FailureKind::Terminal, m))
            }
        }
    }

    /// Asks the authorization endpoint for a token: the connection's method, OAuthHttpParameters
    /// (headers, query string, body), and the client id and secret as HTTP Basic credentials
    /// (RFC 6749 section 2.3.1).
    async fn fetch_token(&self, o: &OAuth) -> Result<(String, Option<u64>), TokenError> {
        let Some(mut url) = endpoint_url(&o.endpoint) else {
            return Err(TokenError::Rejected(format!(
                "The authorization endpoint '{}' is not a valid URL.",
                o.endpoint
            )));
        };
        if url.scheme() == "https" {
            return Err(TokenError::Rejected(PLAIN_HTTP_ONLY.to_owned()));
        }
        let params = o.http.clone().unwrap_or_default();
        append_query(
            &mut url,
            params.query.iter().map(|p| (p.key.as_str(), p.value.as_str())),
        );
        let headers = params
            .headers
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        let mut headers = header_map(headers).map_err(TokenError::Rejected)?;
        let json = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !params.body.is_empty() && !headers.contains_key(CONTENT_TYPE) {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        }
        let credentials = HeaderValue::from_bytes(basic(&o.client_id, &o.client_secret).as_bytes())
            .map_err(|_| TokenError::Rejected("The client credentials are not valid.".to_owned()))?;
        headers.insert(AUTHORIZATION, credentials);
        let method = Method::from_bytes(o.method.as_bytes()).unwrap_or(Method::POST);
        let sent = self
            .http
            .request(method, url)
            .headers(headers)
            .body(token_body(&params.body, json))
            .timeout(self.timeout)
            .send()
            .await;
        let unreachable = || TokenError::Unreachable("The authorization endpoint cannot be reached.".to_owned());
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_builder() => {
                return Err(TokenError::Rejected(format!("The token request is not valid: {e}.")))
            }
            Err(_) => return Err(unreachable()),
        };
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(TokenError::Transient(format!(
                "The authorization endpoint responded with {status}."
            )));
        }
        if !status.is_success() {
            return Err(TokenError::Rejected(format!(
                "Failed to authorize: the authorization endpoint responded with {status}."
            )));
        }
        let body = response.bytes().await.map_err(|_| unreachable())?;
        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let Some(token) = parsed["access_token"].as_str().filter(|t| !t.is_empty()) else {
            return Err(TokenError::Rejected(
                "Failed to authorize: the authorization endpoint's response has no access_token.".to_owned(),
            ));
        };
        let expires_in = match &parsed["expires_in"] {
            Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        Ok((token.to_owned(), expires_in))
    }

    /// After a 401 or 407: an OAuth token is refreshed at the next attempt; BASIC and API_KEY
    /// credentials were refused, so the connection is deauthorized (eb-target-connection-deauthorize).
    fn after_unauthorized(&self, c: &ConnRef, status: StatusCode) {
        match &c.auth {
            Some(Auth::OAuth(_)) => {
                let mut tokens = lock(&self.tokens);
                if tokens.get(&c.arn).is_some_and(|t| t.generation == c.generation) {
                    tokens.remove(&c.arn);
                }
            }
            Some(Auth::Basic { .. } | Auth::ApiKey { .. }) => {
                let reason =
                    format!("The API destination endpoint responded with {status} to the connection's credentials.");
                debug!(connection = %c.arn, reason = %reason, "connection deauthorized");
                self.set_state(c, ConnectionState::Deauthorized, Some(reason));
            }
            None => {}
        }
    }

    pub(crate) async fn invoke(&self, arn: &Arn, body: &str, params: &HttpParameters) -> Result<(), DeliveryError> {
        let target = self.target(arn)?;
        let conn_params = target.conn.invocation.as_ref();
        let url = invocation_url(&target.endpoint, params, conn_params)?;
        let method = Method::from_bytes(target.method.as_bytes()).map_err(|_| {
            sdk_error(
                FailureKind::Terminal,
                format!("HTTP method {} is not valid.", target.method),
            )
        })?;
        let destination = arn.to_string();
        self.throttle(&destination, target.rate).await;
        let authorization = self.authorization(&target.conn).await?;
        let headers = invocation_headers(params, conn_params, authorization)?;
        let body = with_body_params(body, conn_params.map_or(&[][..], |h| &h.body[..]));
        let sent = self
            .http
            .request(method, url)
            .headers(headers)
            .body(body)
            .timeout(self.timeout)
            .send()
            .await;
        let status = match sent {
            Ok(response) => response.status(),
            Err(e) => {
                debug!(api_destination = %destination, error = %e, "api destination not reached");
                return Err(network_error(&e));
            }
        };
        if status.is_success() {
            return Ok(());
        }
        debug!(api_destination = %destination, status = status.as_u16(), "api destination refused the event");
        if matches!(status.as_u16(), 401 | 407) {
            self.after_unauthorized(&target.conn, status);
        }
        // "Retries events associated with error codes 401, 407, 409, 429, and 5xx. Doesn't retry
        // events associated with error codes 1xx, 2xx, 3xx, and 4xx that aren't listed above."
        let kind = if matches!(status.as_u16(), 401 | 407 | 409 | 429) || status.is_server_error() {
            FailureKind::Retryable
        } else {
            FailureKind::Terminal
        };
        Err(sdk_error(
            kind,
            format!("The API destination endpoint responded with {status}."),
        ))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn window_allows_rate_per_second() {
        let mut w = Window::default();
        let at: Vec<u64> = (0..5).map(|_| w.reserve(2, 10_000)).collect();
        assert_eq!(at, [10_000, 10_000, 11_000, 11_000, 12_000]);
        assert_eq!(w.reserve(2, 20_000), 20_000);
    }

    #[test]
    fn url_fills_wildcards_and_merges_queries() {
        let params = HttpParameters {
            path_parameter_values: vec!["a b".to_owned(), "x/y".to_owned()],
            query_string_parameters: [("k", "target"), ("t", "1")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ..HttpParameters::default()
        };
        let conn = HttpParams {
            query: vec![Param {
                key: "k".to_owned(),
                value: "conn&more".to_owned(),
                secret: false,
            }],
            ..HttpParams::default()
        };
        let url = invocation_url("http://h:1/v1/*/items/*/?z=0", &params, Some(&conn)).unwrap();
        assert_eq!(url.as_str(), "http://h:1/v1/a%20b/items/x%2Fy/?z=0&t=1&k=conn%26more");
        let e = invocation_url("https://h/x", &params, None).unwrap_err();
        assert_eq!(e.kind, FailureKind::Terminal);
    }

    #[test]
    fn body_params_join_json_objects() {
        let p = |k: &str, v: &str| Param {
            key: k.to_owned(),
            value: v.to_owned(),
            secret: true,
        };
        assert_eq!(
            with_body_params(r#"{"b":1,"a":2}"#, &[p("c", "x")]),
            r#"{"b":1,"a":2,"c":"x"}"#
        );
        assert_eq!(with_body_params("{ }", &[p("c", "x")]), r#"{"c":"x"}"#);
        assert_eq!(with_body_params(r#"{"c":1}"#, &[p("c", "x")]), r#"{"c":"x"}"#);
        assert_eq!(with_body_params("\"text\"", &[p("c", "x")]), "\"text\"");
    }
}
