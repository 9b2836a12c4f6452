//! The eleven operations: each parses its request (a JSON value), validates it as AWS's front end
//! does ([`super::validate`]), applies it to the caller's scope and renders the response body.

use std::collections::BTreeMap;
use std::sync::Arc;

use lb_core::{ids, Arn, AwsError, RequestContext};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::model::{ApiDestination, Auth, AuthType, Connection, ConnectionState, HttpParams, OAuth, Param};
use super::validate::{self, validation, Errors, Str};
use super::{Inner, Scope};

/// Connections per account and Region (eb-quota: "Connections — Default: 3,000").
pub(crate) const MAX_CONNECTIONS: usize = 3000;
/// API destinations per account and Region (eb-quota: "API destinations — Default: 3,000").
pub(crate) const MAX_API_DESTINATIONS: usize = 3000;
/// InvocationRateLimitPerSecond when not given, and the most it may be (eb-quota: "Rate of
/// invocations per API destination — Default: 300 TPS").
pub(crate) const DEFAULT_RATE: u32 = 300;
/// `ApiDestinationHttpMethod`, in the order AWS prints it in its validation message.
const METHODS: &str = "[HEAD, POST, PATCH, DELETE, PUT, GET, OPTIONS]";
/// `ConnectionOAuthHttpMethod`.
const OAUTH_METHODS: &str = "[GET, POST, PUT]";
/// Where DeauthorizeConnection leaves a connection.
const DEAUTHORIZED_REASON: &str =
    "The authorization parameters were removed from this connection by a DeauthorizeConnection operation.";

fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new("ResourceNotFoundException", 400, message)
}

/// AWS's answer for a connection that does not exist (the same words for every operation).
fn connection_missing(name: &str) -> AwsError {
    not_found(format!(
        "Failed to describe the connection(s). Connection '{name}' does not exist."
    ))
}

fn destination_missing(action: &str, name: &str) -> AwsError {
    not_found(format!(
        "Failed to {action} the api-destination(s). An api-destination '{name}' does not exist."
    ))
}

/// JSON 1.1 timestamps: epoch seconds.
fn seconds(millis: u64) -> f64 {
    millis as f64 / 1000.0
}

/// Parses a request body (`null` for an empty one).
pub(crate) fn input<T: DeserializeOwned + Default>(v: Value) -> Result<T, AwsError> {
    if v.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(v).map_err(|e| AwsError::new("SerializationException", 400, e.to_string()))
}

// ---- request shapes ---------------------------------------------------------------------------

/// CreateConnection and UpdateConnection (the same members; Create requires more of them).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ConnectionIn {
    name: Option<String>,
    description: Option<String>,
    authorization_type: Option<String>,
    auth_parameters: Option<AuthParamsIn>,
    invocation_connectivity_parameters: Option<Value>,
    kms_key_identifier: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct AuthParamsIn {
    basic_auth_parameters: Option<BasicIn>,
    #[serde(rename = "OAuthParameters")]
    oauth_parameters: Option<OAuthIn>,
    api_key_auth_parameters: Option<ApiKeyIn>,
    invocation_http_parameters: Option<HttpParamsIn>,
    connectivity_parameters: Option<Value>,
}

impl AuthParamsIn {
    /// The credential members present, as (member name, type).
    fn credentials(&self) -> Vec<(&'static str, AuthType)> {
        let mut out = Vec::new();
        if self.basic_auth_parameters.is_some() {
            out.push(("BasicAuthParameters", AuthType::Basic));
        }
        if self.oauth_parameters.is_some() {
            out.push(("OAuthParameters", AuthType::OAuthClientCredentials));
        }
        if self.api_key_auth_parameters.is_some() {
            out.push(("ApiKeyAuthParameters", AuthType::ApiKey));
        }
        out
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct BasicIn {
    username: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct OAuthIn {
    client_parameters: Option<ClientIn>,
    authorization_endpoint: Option<String>,
    http_method: Option<String>,
    #[serde(rename = "OAuthHttpParameters")]
    oauth_http_parameters: Option<HttpParamsIn>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ClientIn {
    #[serde(rename = "ClientID")]
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ApiKeyIn {
    api_key_name: Option<String>,
    api_key_value: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct HttpParamsIn {
    header_parameters: Option<Vec<ParamIn>>,
    query_string_parameters: Option<Vec<ParamIn>>,
    body_parameters: Option<Vec<ParamIn>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ParamIn {
    key: Option<String>,
    value: Option<String>,
    is_value_secret: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct NameIn {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ListConnectionsIn {
    name_prefix: Option<String>,
    connection_state: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

/// CreateApiDestination and UpdateApiDestination.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ApiDestinationIn {
    name: Option<String>,
    description: Option<String>,
    connection_arn: Option<String>,
    invocation_endpoint: Option<String>,
    http_method: Option<String>,
    invocation_rate_limit_per_second: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ListApiDestinationsIn {
    name_prefix: Option<String>,
    connection_arn: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

// ---- validation -------------------------------------------------------------------------------

fn optional(e: &mut Errors, value: Option<&str>, required: bool, shape: Str, field: &str) {
    match value {
        Some(v) => e.string(v, shape, field),
        None if required => e.null(field),
        None => {}
    }
}

fn check_name(e: &mut Errors, name: Option<&str>) {
    if let Some(n) = e.required(name, "name") {
        e.string(n, validate::NAME, "name");
    }
}

fn check_http_params(e: &mut Errors, h: &HttpParamsIn, prefix: &str) {
    let lists = [
        (
            "headerParameters",
            &h.header_parameters,
            Some((validate::HEADER_KEY, validate::HEADER_VALUE)),
        ),
        (
            "queryStringParameters",
            &h.query_string_parameters,
            Some((validate::QUERY_KEY, validate::QUERY_VALUE)),
        ),
        ("bodyParameters", &h.body_parameters, None),
    ];
    for (member, list, shapes) in lists {
        let Some(list) = list else { continue };
        e.list_max(list.len(), &format!("{prefix}.{member}"), 100);
        let Some((key_shape, value_shape)) = shapes else {
            continue;
        };
        for (i, p) in list.iter().enumerate() {
            let at = format!("{prefix}.{member}.{}.member", i + 1);
            optional(e, p.key.as_deref(), false, key_shape, &format!("{at}.key"));
            optional(e, p.value.as_deref(), false, value_shape, &format!("{at}.value"));
        }
    }
}

fn check_auth_params(e: &mut Errors, p: &AuthParamsIn, create: bool) {
    const AT: &str = "authParameters";
    if let Some(b) = &p.basic_auth_parameters {
        let at = format!("{AT}.basicAuthParameters");
        optional(
            e,
            b.username.as_deref(),
            create,
            validate::AUTH_HEADER,
            &format!("{at}.username"),
        );
        let password = b.password.as_deref();
        optional(
            e,
            password,
            create,
            validate::AUTH_HEADER_SENSITIVE,
            &format!("{at}.password"),
        );
    }
    if let Some(o) = &p.oauth_parameters {
        let at = format!("{AT}.oAuthParameters");
        match &o.client_parameters {
            Some(c) => {
                let client = format!("{at}.clientParameters");
                let id = c.client_id.as_deref();
                optional(e, id, create, validate::AUTH_HEADER, &format!("{client}.clientID"));
                let secret = c.client_secret.as_deref();
                optional(
                    e,
                    secret,
                    create,
                    validate::AUTH_HEADER_SENSITIVE,
                    &format!("{client}.clientSecret"),
                );
            }
            None if create => e.null(&format!("{at}.clientParameters")),
            None => {}
        }
        let endpoint = o.authorization_endpoint.as_deref();
        optional(
            e,
            endpoint,
            create,
            validate::HTTPS_ENDPOINT,
            &format!("{at}.authorizationEndpoint"),
        );
        match o.http_method.as_deref() {
            Some(m) => e.one_of(
                m,
                &format!("{at}.httpMethod"),
                matches!(m, "GET" | "POST" | "PUT"),
                OAUTH_METHODS,
            ),
            None if create => e.null(&format!("{at}.httpMethod")),
            None => {}
        }
        if let Some(h) = &o.oauth_http_parameters {
            check_http_params(e, h, &format!("{at}.oAuthHttpParameters"));
        }
    }
    if let Some(a) = &p.api_key_auth_parameters {
        let at = format!("{AT}.apiKeyAuthParameters");
        optional(
            e,
            a.api_key_name.as_deref(),
            create,
            validate::AUTH_HEADER,
            &format!("{at}.apiKeyName"),
        );
        let value = a.api_key_value.as_deref();
        optional(
            e,
            value,
            create,
            validate::AUTH_HEADER_SENSITIVE,
            &format!("{at}.apiKeyValue"),
        );
    }
    if let Some(h) = &p.invocation_http_parameters {
        check_http_params(e, h, &format!("{AT}.invocationHttpParameters"));
    }
}

fn check_connection(j: &ConnectionIn, create: bool) -> Result<(), AwsError> {
    let mut e = Errors::default();
    check_name(&mut e, j.name.as_deref());
    if let Some(d) = &j.description {
        e.string(d, validate::DESCRIPTION, "description");
    }
    match j.authorization_type.as_deref() {
        Some(t) => e.one_of(t, "authorizationType", AuthType::parse(t).is_some(), AuthType::ENUM),
        None if create => e.null("authorizationType"),
        None => {}
    }
    match &j.auth_parameters {
        Some(p) => check_auth_params(&mut e, p, create),
        None if create => e.null("authParameters"),
        None => {}
    }
    if let Some(k) = &j.kms_key_identifier {
        e.string(k, validate::KMS_KEY, "kmsKeyIdentifier");
    }
    e.finish()?;
    let private = j.invocation_connectivity_parameters.is_some()
        || j.auth_parameters
            .as_ref()
            .is_some_and(|p| p.connectivity_parameters.is_some());
    if private {
        return Err(AwsError::new(
            "NotImplemented",
            501,
            "localbridge does not implement connections to private APIs (InvocationConnectivityParameters, \
             ConnectivityParameters).",
        ));
    }
    Ok(())
}

/// Whether `endpoint` is an http(s) URL with a host (an endpoint without a scheme is https, as on
/// AWS). AWS accepts only https; localbridge, which speaks plain HTTP, accepts http too.
pub(crate) fn endpoint_url(endpoint: &str) -> Option<reqwest::Url> {
    let text = if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("https://{endpoint}")
    };
    let url = reqwest::Url::parse(&text).ok()?;
    let host = url.host_str().unwrap_or_default();
    let ok = matches!(url.scheme(), "http" | "https")
        && !host.is_empty()
        && !host.contains('*')
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none();
    ok.then_some(url)
}

fn invalid_endpoint(prefix: &str, parameter: &str, endpoint: &str) -> AwsError {
    validation(format!(
        "{prefix}Parameter {parameter} is not valid. Reason: Endpoint '{endpoint}' is invalid, please provide a valid \
         HTTPS endpoint URL."
    ))
}

// ---- connection parameters --------------------------------------------------------------------

/// Builds parameter lists from a request; a list given replaces the stored one, and a parameter
/// given without its Value keeps the stored value of that key (Describe never shows secret values,
/// so a caller re-sending what it read must not erase them).
fn http_params(h: &HttpParamsIn, prior: Option<&HttpParams>, member: &str) -> Result<HttpParams, AwsError> {
    let mut out = prior.cloned().unwrap_or_default();
    let lists: [(&Option<Vec<ParamIn>>, &mut Vec<Param>); 3] = [
        (&h.header_parameters, &mut out.headers),
        (&h.query_string_parameters, &mut out.query),
        (&h.body_parameters, &mut out.body),
    ];
    for (given, stored) in lists {
        let Some(given) = given else { continue };
        let mut list = Vec::with_capacity(given.len());
        for p in given {
            let Some(key) = p.key.clone() else {
                return Err(validation(format!(
                    "Parameter {member} is not valid. Reason: Every parameter must have a Key."
                )));
            };
            let value = match &p.value {
                Some(v) => v.clone(),
                None => stored
                    .iter()
                    .find(|old| old.key == key)
                    .map(|old| old.value.clone())
                    .unwrap_or_default(),
            };
            list.push(Param {
                key,
                value,
                secret: p.is_value_secret.unwrap_or(false),
            });
        }
        *stored = list;
    }
    Ok(out)
}

fn missing_credentials(auth_type: AuthType, missing: &[&str]) -> AwsError {
    validation(format!(
        "Parameter AuthParameters is not valid. Reason: {} must include {} when AuthorizationType is {}.",
        auth_type.member(),
        missing.join(" and "),
        auth_type.as_str()
    ))
}

/// The credentials of `auth_type` from a request, merged member by member over `prior` (the
/// stored credentials of the same type, on update).
fn resolve_auth(
    auth_type: AuthType,
    params: Option<&AuthParamsIn>,
    prior: Option<&Auth>,
    prefix: &str,
) -> Result<Auth, AwsError> {
    let empty = AuthParamsIn::default();
    let p = params.unwrap_or(&empty);
    if let Some((member, _)) = p.credentials().into_iter().find(|(_, t)| *t != auth_type) {
        return Err(validation(format!(
            "Parameter AuthParameters is not valid. Reason: {member} cannot be used with AuthorizationType {}.",
            auth_type.as_str()
        )));
    }
    let pick = |given: &Option<String>, old: Option<&String>| given.clone().or_else(|| old.cloned());
    match auth_type {
        AuthType::Basic => {
            let (old_user, old_password) = match prior {
                Some(Auth::Basic { username, password }) => (Some(username), Some(password)),
                _ => (None, None),
            };
            let b = p.basic_auth_parameters.as_ref();
            let username = pick(&b.and_then(|b| b.username.clone()), old_user);
            let password = pick(&b.and_then(|b| b.password.clone()), old_password);
            match (username, password) {
                (Some(username), Some(password)) => Ok(Auth::Basic { username, password }),
                (u, _) => Err(missing_credentials(
                    auth_type,
                    if u.is_none() {
                        &["Username", "Password"]
                    } else {
                        &["Password"]
                    },
                )),
            }
        }
        AuthType::ApiKey => {
            let (old_name, old_value) = match prior {
                Some(Auth::ApiKey { name, value }) => (Some(name), Some(value)),
                _ => (None, None),
            };
            let a = p.api_key_auth_parameters.as_ref();
            let name = pick(&a.and_then(|a| a.api_key_name.clone()), old_name);
            let value = pick(&a.and_then(|a| a.api_key_value.clone()), old_value);
            match (name, value) {
                (Some(name), Some(value)) => Ok(Auth::ApiKey { name, value }),
                (n, _) => Err(missing_credentials(
                    auth_type,
                    if n.is_none() {
                        &["ApiKeyName", "ApiKeyValue"]
                    } else {
                        &["ApiKeyValue"]
                    },
                )),
            }
        }
        AuthType::OAuthClientCredentials => {
            let old = match prior {
                Some(Auth::OAuth(o)) => Some(o),
                _ => None,
            };
            let o = p.oauth_parameters.as_ref();
            let client = o.and_then(|o| o.client_parameters.as_ref());
            let client_id = pick(&client.and_then(|c| c.client_id.clone()), old.map(|o| &o.client_id));
            let client_secret = pick(
                &client.and_then(|c| c.client_secret.clone()),
                old.map(|o| &o.client_secret),
            );
            let endpoint = pick(
                &o.and_then(|o| o.authorization_endpoint.clone()),
                old.map(|o| &o.endpoint),
            );
            let method = pick(&o.and_then(|o| o.http_method.clone()), old.map(|o| &o.method));
            let http = match o.and_then(|o| o.oauth_http_parameters.as_ref()) {
                Some(h) => Some(http_params(
                    h,
                    old.and_then(|o| o.http.as_ref()),
                    "OAuthHttpParameters",
                )?),
                None => old.and_then(|o| o.http.clone()),
            };
            let (Some(client_id), Some(client_secret), Some(endpoint), Some(method)) =
                (client_id, client_secret, endpoint, method)
            else {
                return Err(missing_credentials(
                    auth_type,
                    &["ClientParameters", "AuthorizationEndpoint", "HttpMethod"],
                ));
            };
            if endpoint_url(&endpoint).is_none() {
                return Err(invalid_endpoint(prefix, "AuthorizationEndpoint", &endpoint));
            }
            Ok(Auth::OAuth(OAuth {
                client_id,
                client_secret,
                endpoint,
                method,
                http,
            }))
        }
    }
}

/// `arn:aws:secretsmanager:REGION:ACCOUNT:secret:events!connection/NAME/UUID-xxxxxx`: the secret
/// AWS keeps a connection's credentials in (a new UUID, and Secrets Manager's six-character suffix).
fn secret_arn(ctx: &RequestContext, name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = ids::random_u64();
    let mut suffix = String::with_capacity(6);
    for _ in 0..6 {
        suffix.push(char::from(ALPHABET[(r % 62) as usize]));
        r /= 62;
    }
    format!(
        "arn:aws:secretsmanager:{}:{}:secret:events!connection/{name}/{}-{suffix}",
        ctx.region,
        ctx.account,
        ids::uuid()
    )
}

// ---- rendering --------------------------------------------------------------------------------

fn param_json(p: &Param) -> Value {
    let mut m = Map::new();
    m.insert("Key".to_owned(), Value::String(p.key.clone()));
    if !p.secret {
        m.insert("Value".to_owned(), Value::String(p.value.clone()));
    }
    m.insert("IsValueSecret".to_owned(), Value::Bool(p.secret));
    Value::Object(m)
}

fn http_json(h: &HttpParams) -> Value {
    let mut m = Map::new();
    for (member, list) in [
        ("HeaderParameters", &h.headers),
        ("QueryStringParameters", &h.query),
        ("BodyParameters", &h.body),
    ] {
        if !list.is_empty() {
            m.insert(member.to_owned(), list.iter().map(param_json).collect());
        }
    }
    Value::Object(m)
}

/// `ConnectionAuthResponseParameters`: everything but the secrets.
fn auth_json(c: &Connection) -> Value {
    let mut m = Map::new();
    match &c.auth {
        Some(Auth::Basic { username, .. }) => {
            m.insert("BasicAuthParameters".to_owned(), json!({ "Username": username }));
        }
        Some(Auth::ApiKey { name, .. }) => {
            m.insert("ApiKeyAuthParameters".to_owned(), json!({ "ApiKeyName": name }));
        }
        Some(Auth::OAuth(o)) => {
            let mut p = json!({
                "AuthorizationEndpoint": o.endpoint,
                "ClientParameters": { "ClientID": o.client_id },
                "HttpMethod": o.method,
            });
            if let Some(h) = &o.http {
                p["OAuthHttpParameters"] = http_json(h);
            }
            m.insert("OAuthParameters".to_owned(), p);
        }
        None => {}
    }
    if let Some(h) = &c.invocation {
        m.insert("InvocationHttpParameters".to_owned(), http_json(h));
    }
    Value::Object(m)
}

fn insert_opt(m: &mut Map<String, Value>, key: &str, value: Option<&String>) {
    if let Some(v) = value {
        m.insert(key.to_owned(), Value::String(v.clone()));
    }
}

/// The `Connection` of ListConnections.
fn connection_summary(c: &Connection) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("ConnectionArn".to_owned(), Value::String(c.arn.clone()));
    m.insert("Name".to_owned(), Value::String(c.name.clone()));
    m.insert("ConnectionState".to_owned(), c.state.as_str().into());
    insert_opt(&mut m, "StateReason", c.state_reason.as_ref());
    m.insert("AuthorizationType".to_owned(), c.auth_type.as_str().into());
    m.insert("CreationTime".to_owned(), seconds(c.created_millis).into());
    m.insert("LastModifiedTime".to_owned(), seconds(c.modified_millis).into());
    m.insert("LastAuthorizedTime".to_owned(), seconds(c.authorized_millis).into());
    m
}

/// The response of DescribeConnection.
fn connection_json(c: &Connection) -> Value {
    let mut m = connection_summary(c);
    insert_opt(&mut m, "Description", c.description.as_ref());
    insert_opt(&mut m, "SecretArn", c.secret_arn.as_ref());
    insert_opt(&mut m, "KmsKeyIdentifier", c.kms_key_identifier.as_ref());
    m.insert("AuthParameters".to_owned(), auth_json(c));
    Value::Object(m)
}

/// The response of UpdateConnection, DeleteConnection and DeauthorizeConnection.
fn connection_change(c: &Connection, state: ConnectionState, modified_millis: u64) -> Value {
    json!({
        "ConnectionArn": c.arn,
        "ConnectionState": state.as_str(),
        "CreationTime": seconds(c.created_millis),
        "LastModifiedTime": seconds(modified_millis),
        "LastAuthorizedTime": seconds(c.authorized_millis),
    })
}

/// The connection an API destination names, if it exists in the caller's scope (the same
/// incarnation: a connection re-created under the same name has another ARN).
fn find_connection<'a>(scope: &'a Scope, ctx: &RequestContext, arn: &str) -> Option<&'a Connection> {
    let parsed: Arn = arn.parse().ok()?;
    if parsed.region != ctx.region || parsed.account != ctx.account {
        return None;
    }
    let name = parsed.resource.strip_prefix("connection/")?.split_once('/')?.0;
    scope.connections.get(name).filter(|c| c.arn == arn)
}

/// ACTIVE while its connection exists and is authorized, INACTIVE otherwise.
fn destination_state(scope: &Scope, ctx: &RequestContext, d: &ApiDestination) -> &'static str {
    match find_connection(scope, ctx, &d.connection_arn) {
        Some(c) if c.state.usable() => "ACTIVE",
        _ => "INACTIVE",
    }
}

fn destination_summary(scope: &Scope, ctx: &RequestContext, d: &ApiDestination) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("ApiDestinationArn".to_owned(), Value::String(d.arn.clone()));
    m.insert("Name".to_owned(), Value::String(d.name.clone()));
    m.insert(
        "ApiDestinationState".to_owned(),
        destination_state(scope, ctx, d).into(),
    );
    m.insert("ConnectionArn".to_owned(), Value::String(d.connection_arn.clone()));
    m.insert("InvocationEndpoint".to_owned(), Value::String(d.endpoint.clone()));
    m.insert("HttpMethod".to_owned(), Value::String(d.method.clone()));
    m.insert("InvocationRateLimitPerSecond".to_owned(), d.rate_per_second.into());
    m.insert("CreationTime".to_owned(), seconds(d.created_millis).into());
    m.insert("LastModifiedTime".to_owned(), seconds(d.modified_millis).into());
    m
}

fn destination_change(scope: &Scope, ctx: &RequestContext, d: &ApiDestination) -> Value {
    json!({
        "ApiDestinationArn": d.arn,
        "ApiDestinationState": destination_state(scope, ctx, d),
        "CreationTime": seconds(d.created_millis),
        "LastModifiedTime": seconds(d.modified_millis),
    })
}

// ---- paging -----------------------------------------------------------------------------------

fn check_page(e: &mut Errors, next_token: Option<&str>, limit: Option<i64>) {
    if let Some(t) = next_token {
        e.string(t, validate::NEXT_TOKEN, "nextToken");
    }
    if let Some(n) = limit {
        e.min_value(n, "limit", 1);
        e.max_value(n, "limit", 100);
    }
}

/// Items after `token` (the name to start at) that `keep` keeps, at most `limit`.
fn page<'a, T>(
    map: &'a BTreeMap<String, T>,
    token: Option<&str>,
    limit: Option<i64>,
    keep: impl Fn(&T) -> bool,
) -> (Vec<&'a T>, Option<String>) {
    let limit = limit.map_or(100, |n| n.clamp(1, 100) as usize);
    let start = token.unwrap_or("");
    let mut items = map
        .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
        .filter(|(_, v)| keep(v));
    let out: Vec<&T> = items.by_ref().take(limit).map(|(_, v)| v).collect();
    let next = items.next().map(|(name, _)| name.clone());
    (out, next)
}

fn page_json(key: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut m = Map::new();
    m.insert(key.to_owned(), Value::Array(items));
    if let Some(t) = next {
        m.insert("NextToken".to_owned(), Value::String(t));
    }
    Value::Object(m)
}

// ---- connections ------------------------------------------------------------------------------

pub(crate) fn create_connection(inner: &Arc<Inner>, ctx: &RequestContext, j: ConnectionIn) -> Result<Value, AwsError> {
    check_connection(&j, true)?;
    let name = j.name.unwrap_or_default();
    let auth_type = j
        .authorization_type
        .as_deref()
        .and_then(AuthType::parse)
        .unwrap_or(AuthType::Basic);
    let prefix = "Failed to create the connection(s). ";
    let auth = resolve_auth(auth_type, j.auth_parameters.as_ref(), None, prefix)?;
    let invocation = match j
        .auth_parameters
        .as_ref()
        .and_then(|p| p.invocation_http_parameters.as_ref())
    {
        Some(h) => Some(http_params(h, None, "InvocationHttpParameters")?),
        None => None,
    };
    let now = inner.clock.now_millis();
    let state = match auth_type {
        AuthType::OAuthClientCredentials => ConnectionState::Authorizing,
        AuthType::Basic | AuthType::ApiKey => ConnectionState::Authorized,
    };
    let conn = Connection {
        arn: format!(
            "arn:aws:events:{}:{}:connection/{name}/{}",
            ctx.region,
            ctx.account,
            ids::uuid()
        ),
        secret_arn: Some(secret_arn(ctx, &name)),
        name: name.clone(),
        description: j.description,
        auth_type,
        auth: Some(auth),
        invocation,
        state,
        state_reason: None,
        kms_key_identifier: j.kms_key_identifier,
        created_millis: now,
        modified_millis: now,
        authorized_millis: now,
        generation: 0,
    };
    let out = json!({
        "ConnectionArn": conn.arn,
        "ConnectionState": state.as_str(),
        "CreationTime": seconds(now),
        "LastModifiedTime": seconds(now),
    });
    inner.with_scope(&ctx.region, &ctx.account, |s| {
        if s.connections.contains_key(&name) {
            return Err(AwsError::new(
                "ResourceAlreadyExistsException",
                400,
                format!("Connection '{name}' already exists."),
            ));
        }
        if s.connections.len() >= MAX_CONNECTIONS {
            return Err(AwsError::new(
                "LimitExceededException",
                400,
                format!("{prefix}The maximum number of connections ({MAX_CONNECTIONS}) has been reached."),
            ));
        }
        s.connections.insert(name.clone(), conn);
        Ok(())
    })?;
    if auth_type == AuthType::OAuthClientCredentials {
        inner.authorize_in_background(&ctx.region, &ctx.account, &name);
    }
    Ok(out)
}

pub(crate) fn describe_connection(inner: &Inner, ctx: &RequestContext, j: NameIn) -> Result<Value, AwsError> {
    let mut e = Errors::default();
    check_name(&mut e, j.name.as_deref());
    e.finish()?;
    let name = j.name.unwrap_or_default();
    inner.with_scope(&ctx.region, &ctx.account, |s| {
        s.connections
            .get(&name)
            .map(connection_json)
            .ok_or_else(|| connection_missing(&name))
    })
}

pub(crate) fn list_connections(inner: &Inner, ctx: &RequestContext, j: ListConnectionsIn) -> Result<Value, AwsError> {
    let mut e = Errors::default();
    if let Some(p) = &j.name_prefix {
        e.string(p, validate::NAME, "namePrefix");
    }
    if let Some(s) = &j.connection_state {
        e.one_of(
            s,
            "connectionState",
            ConnectionState::parse(s).is_some(),
            ConnectionState::ENUM,
        );
    }
    check_page(&mut e, j.next_token.as_deref(), j.limit);
    e.finish()?;
    let prefix = j.name_prefix.unwrap_or_default();
    let state = j.connection_state.as_deref().and_then(ConnectionState::parse);
    inner.with_scope(&ctx.region, &ctx.account, |s| {
        let keep = |c: &Connection| c.name.starts_with(&prefix) && state.is_none_or(|st| st == c.state);
        let (items, next) = page(&s.connections, j.next_token.as_deref(), j.limit, keep);
        let items = items
            .into_iter()
            .map(|c| Value::Object(connection_summary(c)))
            .collect();
        Ok(page_json("Connections", items, next))
    })
}

pub(crate) fn update_connection(inner: &Arc<Inner>, ctx: &RequestContext, j: ConnectionIn) -> Result<Value, AwsError> {
    check_connection(&j, false)?;
    let name = j.name.clone().unwrap_or_default();
    let now = inner.clock.now_millis();
    let (out, authorize) = inner.with_scope(&ctx.region, &ctx.account, |s| {
        let c = s.connections.get_mut(&name).ok_or_else(|| connection_missing(&name))?;
        let auth_type = j
            .authorization_type
            .as_deref()
            .and_then(AuthType::parse)
            .unwrap_or(c.auth_type);
        let credentials_given = j.auth_parameters.as_ref().is_some_and(|p| !p.credentials().is_empty());
        let type_changed = auth_type != c.auth_type;
        let prefix = "Failed to update the connection(s). ";
        // Everything that can fail, before anything changes.
        // Naming the type (or giving credentials) authorizes anew: with the stored credentials of
        // that type merged under the given ones.
        let auth = if credentials_given || type_changed || j.authorization_type.is_some() {
            let prior = if type_changed { None } else { c.auth.as_ref() };
            Some(resolve_auth(auth_type, j.auth_parameters.as_ref(), prior, prefix)?)
        } else {
            None
        };
        let invocation = match j
            .auth_parameters
            .as_ref()
            .and_then(|p| p.invocation_http_parameters.as_ref())
        {
            Some(h) => Some(http_params(h, c.invocation.as_ref(), "InvocationHttpParameters")?),
            None => None,
        };
        if let Some(d) = &j.description {
            c.description = Some(d.clone());
        }
        if let Some(k) = &j.kms_key_identifier {
            c.kms_key_identifier = Some(k.clone());
        }
        if let Some(h) = invocation {
            c.invocation = Some(h);
        }
        let reauthorized = auth.is_some();
        if let Some(a) = auth {
            c.auth_type = auth_type;
            c.auth = Some(a);
            c.generation += 1;
            c.state_reason = None;
            if c.secret_arn.is_none() {
                c.secret_arn = Some(secret_arn(ctx, &name));
            }
            c.state = match auth_type {
                AuthType::OAuthClientCredentials => ConnectionState::Authorizing,
                AuthType::Basic | AuthType::ApiKey => {
                    c.authorized_millis = now;
                    ConnectionState::Authorized
                }
            };
        }
        c.modified_millis = now;
        let authorize = reauthorized && auth_type == AuthType::OAuthClientCredentials;
        Ok::<_, AwsError>((connection_change(c, c.state, now), authorize))
    })?;
    if authorize {
        inner.forget_token(out["ConnectionArn"].as_str().unwrap_or_default());
        inner.authorize_in_background(&ctx.region, &ctx.account, &name);
    }
    Ok(out)
}

/// Deleting a connection that API destinations still use succeeds: DeleteConnection has no
/// "in use" error in AWS's model, and recorded emulations of AWS allow it. The destinations turn
/// INACTIVE and their invocations fail (not found) until they are pointed at another connection.
pub(crate) fn delete_connection(inner: &Inner, ctx: &RequestContext, j: NameIn) -> Result<Value, AwsError> {
    let mut e = Errors::default();
    check_name(&mut e, j.name.as_deref());
    e.finish()?;
    let name = j.name.unwrap_or_default();
    let out = inner.with_scope(&ctx.region, &ctx.account, |s| {
        let c = s.connections.remove(&name).ok_or_else(|| connection_missing(&name))?;
        Ok::<_, AwsError>(connection_change(&c, ConnectionState::Deleting, c.modified_millis))
    })?;
    inner.forget_token(out["ConnectionArn"].as_str().unwrap_or_default());
    Ok(out)
}

/// Removes the credentials (and the secret): DEAUTHORIZING in the answer, DEAUTHORIZED after.
pub(crate) fn deauthorize_connection(inner: &Inner, ctx: &RequestContext, j: NameIn) -> Result<Value, AwsError> {
    let mut e = Errors::default();
    check_name(&mut e, j.name.as_deref());
    e.finish()?;
    let name = j.name.unwrap_or_default();
    let now = inner.clock.now_millis();
    let out = inner.with_scope(&ctx.region, &ctx.account, |s| {
        let c = s.connections.get_mut(&name).ok_or_else(|| connection_missing(&name))?;
        if c.auth.is_none() && c.secret_arn.is_none() {
            return Ok::<_, AwsError>(connection_change(c, c.state, c.modified_millis));
        }
        let before = c.modified_millis;
        c.auth = None;
        c.invocation = None;
        c.secret_arn = None;
        c.generation += 1;
        c.state = ConnectionState::Deauthorized;
        c.state_reason = Some(DEAUTHORIZED_REASON.to_owned());
        c.modified_millis = now;
        Ok(connection_change(c, ConnectionState::Deauthorizing, before))
    })?;
    inner.forget_token(out["ConnectionArn"].as_str().unwrap_or_default());
    Ok(out)
}

// ---- API destinations -------------------------------------------------------------------------

fn check_destination(j: &ApiDestinationIn, create: bool) -> Result<(), AwsError> {
    let mut e = Errors::default();
    check_name(&mut e, j.name.as_deref());
    if let Some(d) = &j.description {
        e.string(d, validate::DESCRIPTION, "description");
    }
    optional(
        &mut e,
        j.connection_arn.as_deref(),
        create,
        validate::CONNECTION_ARN,
        "connectionArn",
    );
    optional(
        &mut e,
        j.invocation_endpoint.as_deref(),
        create,
        validate::HTTPS_ENDPOINT,
        "invocationEndpoint",
    );
    match j.http_method.as_deref() {
        Some(m) => {
            let ok = matches!(m, "POST" | "GET" | "HEAD" | "OPTIONS" | "PUT" | "PATCH" | "DELETE");
            e.one_of(m, "httpMethod", ok, METHODS);
        }
        None if create => e.null("httpMethod"),
        None => {}
    }
    if let Some(r) = j.invocation_rate_limit_per_second {
        e.min_value(r, "invocationRateLimitPerSecond", 1);
    }
    e.finish()
}

/// The checks after the model's: a usable endpoint and a rate within the quota.
fn check_destination_values(j: &ApiDestinationIn, action: &str, name: &str) -> Result<(), AwsError> {
    let prefix = format!("Failed to {action} the api-destination(s). ");
    if let Some(endpoint) = &j.invocation_endpoint {
        if endpoint_url(endpoint).is_none() {
            return Err(invalid_endpoint(&prefix, "InvocationEndpoint", endpoint));
        }
    }
    match j.invocation_rate_limit_per_second {
        Some(r) if r > i64::from(DEFAULT_RATE) => Err(AwsError::new(
            "LimitExceededException",
            400,
            format!(
                "{prefix}Invalid Invocation Rate Limit: Rate specified '{r}' for '{name}' exceeds maximum allowed of \
                 '{DEFAULT_RATE}'."
            ),
        )),
        _ => Ok(()),
    }
}

fn connection_not_found(action: &str, arn: &str) -> AwsError {
    not_found(format!(
        "Failed to {action} the api-destination(s). Connection '{arn}' does not exist."
    ))
}

pub(crate) fn create_api_destination(
    inner: &Inner,
    ctx: &RequestContext,
    j: ApiDestinationIn,
) -> Result<Value, AwsError> {
    check_destination(&j, true)?;
    let name = j.name.clone().unwrap_or_default();
    check_destination_values(&j, "create", &name)?;
    let now = inner.clock.now_millis();
    inner.with_scope(&ctx.region, &ctx.account, |s| {
        if s.destinations.contains_key(&name) {
            return Err(AwsError::new(
                "ResourceAlreadyExistsException",
                400,
                format!(
                    "Failed to create the api-destination(s). An api-destination with name '{name}' already exists."
                ),
            ));
        }
        if s.destinations.len() >= MAX_API_DESTINATIONS {
            return Err(AwsError::new(
                "LimitExceededException",
                400,
                format!(
                    "Failed to create the api-destination(s). The maximum number of api-destinations \
                     ({MAX_API_DESTINATIONS}) has been reached."
                ),
            ));
        }
        let connection_arn = j.connection_arn.clone().unwrap_or_default();
        if find_connection(s, ctx, &connection_arn).is_none() {
            return Err(connection_not_found("create", &connection_arn));
        }
        let d = ApiDestination {
            arn: format!(
                "arn:aws:events:{}:{}:api-destination/{name}/{}",
                ctx.region,
                ctx.account,
                ids::uuid()
            ),
            name: name.clone(),
            description: j.description.clone(),
            connection_arn,
            endpoint: j.invocation_endpoint.clone().unwrap_or_default(),
            method: j.http_method.clone().unwrap_or_default(),
            rate_per_second: j
                .invocation_rate_limit_per_second
                .map_or(DEFAULT_RATE, |r| u32::try_from(r).unwrap_or(DEFAULT_RATE)),
            created_millis: now,
            modified_millis: now,
        };
        let out = destination_change(s, ctx, &d);
        s.destinations.insert(name.clone(), d);
        Ok(out)
    })
}

pub(crate) fn describe_api_destination(inner: &Inner, ctx: &RequestContext, j: NameIn) -> Result<Value, AwsError> {
    let mut e = Errors::default();
    check_name(&mut e, j.name.as_deref());
    e.finish()?;
    let name = j.name.unwrap_or_default();
    inner.with_scope(&ctx.region, &ctx.account, |s| {
        let d = s
            .destinations
            .get(&name)
            .ok_or_else(|| destination_missing("describe", &name))?;
        let mut m = destination_summary(s, ctx, d);
        insert_opt(&mut m, "Description", d.description.as_ref());
        Ok(Value::Object(m))
    })
}

pub(crate) fn list_api_destinations(
    inner: &Inner,
    ctx: &RequestContext,
    j: ListApiDestinationsIn,
) -> Result<Value, AwsError> {
    let mut e = Errors::default();
    if let Some(p) = &j.name_prefix {
        e.string(p, validate::NAME, "namePrefix");
    }
    if let Some(a) = &j.connection_arn {
        e.string(a, validate::CONNECTION_ARN, "connectionArn");
    }
    check_page(&mut e, j.next_token.as_deref(), j.limit);
    e.finish()?;
    if j.name_prefix.is_some() && j.connection_arn.is_some() {
        return Err(validation(
            "Failed to list the api-destination(s). Request failed because only one filter is supported per request, \
             either ConnectionArn or NamePrefix.",
        ));
    }
    let prefix = j.name_prefix.unwrap_or_default();
    inner.with_scope(&ctx.region, &ctx.account, |s| {
        let keep = |d: &ApiDestination| {
            d.name.starts_with(&prefix) && j.connection_arn.as_ref().is_none_or(|a| *a == d.connection_arn)
        };
        let (items, next) = page(&s.destinations, j.next_token.as_deref(), j.limit, keep);
        let items = items
            .into_iter()
            .map(|d| Value::Object(destination_summary(s, ctx, d)))
            .collect();
        Ok(page_json("ApiDestinations", items, next))
    })
}

pub(crate) fn update_api_destination(
    inner: &Inner,
    ctx: &RequestContext,
    j: ApiDestinationIn,
) -> Result<Value, AwsError> {
    check_destination(&j, false)?;
    let name = j.name.clone().unwrap_or_default();
    check_destination_values(&j, "update", &name)?;
    let now = inner.clock.now_millis();
    inner.with_scope(&ctx.region, &ctx.account, |s| {
        if !s.destinations.contains_key(&name) {
            return Err(destination_missing("update", &name));
        }
        if let Some(arn) = &j.connection_arn {
            if find_connection(s, ctx, arn).is_none() {
                return Err(connection_not_found("update", arn));
            }
        }
        let Some(d) = s.destinations.get_mut(&name) else {
            return Err(destination_missing("update", &name));
        };
        if let Some(v) = &j.description {
            d.description = Some(v.clone());
        }
        if let Some(v) = &j.connection_arn {
            d.connection_arn = v.clone();
        }
        if let Some(v) = &j.invocation_endpoint {
            d.endpoint = v.clone();
        }
        if let Some(v) = &j.http_method {
            d.method = v.clone();
        }
        if let Some(r) = j.invocation_rate_limit_per_second.and_then(|r| u32::try_from(r).ok()) {
            d.rate_per_second = r;
        }
        d.modified_millis = now;
        let d = d.clone();
        Ok(destination_change(s, ctx, &d))
    })
}

pub(crate) fn delete_api_destination(inner: &Inner, ctx: &RequestContext, j: NameIn) -> Result<Value, AwsError> {
    let mut e = Errors::default();
    check_name(&mut e, j.name.as_deref());
    e.finish()?;
    let name = j.name.unwrap_or_default();
    let arn = inner.with_scope(&ctx.region, &ctx.account, |s| {
        s.destinations
            .remove(&name)
            .map(|d| d.arn)
            .ok_or_else(|| destination_missing("delete", &name))
    })?;
    inner.forget_window(&arn);
    Ok(json!({}))
}
