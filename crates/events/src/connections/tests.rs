//! The operations through [`Destinations::handle`] (exact answers, AWS's recorded ones where they
//! exist), and [`Destinations::invoke`] against a loopback HTTP server bound to 127.0.0.1:0.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use lb_core::deliver::FailureKind;
use lb_core::{Arn, AwsError, ManualClock, RequestContext};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{Destinations, HttpParameters};

const T0: u64 = 1_700_000_000_000;

fn manual() -> (Arc<ManualClock>, Destinations) {
    let clock = Arc::new(ManualClock::new(T0));
    let d = Destinations::new(clock.clone());
    (clock, d)
}

fn call(d: &Destinations, op: &str, input: Value) -> Result<Value, AwsError> {
    d.handle(&RequestContext::default(), op, input)
}

#[track_caller]
fn ok(d: &Destinations, op: &str, input: Value) -> Value {
    match call(d, op, input) {
        Ok(v) => v,
        Err(e) => panic!("{op}: {e}"),
    }
}

#[track_caller]
fn err(d: &Destinations, op: &str, input: Value) -> (String, u16, String) {
    match call(d, op, input) {
        Ok(v) => panic!("{op} succeeded: {v}"),
        Err(e) => (e.code.to_string(), e.status, e.message),
    }
}

fn basic_connection(d: &Destinations, name: &str) -> String {
    let v = ok(
        d,
        "CreateConnection",
        json!({
            "Name": name,
            "AuthorizationType": "BASIC",
            "AuthParameters": { "BasicAuthParameters": { "Username": "user", "Password": "pa ss" } },
        }),
    );
    v["ConnectionArn"].as_str().unwrap().to_owned()
}

fn api_key_connection(d: &Destinations, name: &str, extra: Value) -> String {
    let mut params = json!({ "ApiKeyAuthParameters": { "ApiKeyName": "x-api-key", "ApiKeyValue": "secret" } });
    if !extra.is_null() {
        params["InvocationHttpParameters"] = extra;
    }
    let v = ok(
        d,
        "CreateConnection",
        json!({ "Name": name, "AuthorizationType": "API_KEY", "AuthParameters": params }),
    );
    v["ConnectionArn"].as_str().unwrap().to_owned()
}

fn destination(d: &Destinations, name: &str, connection: &str, endpoint: &str, method: &str, rate: Option<u32>) -> Arn {
    let mut input = json!({
        "Name": name, "ConnectionArn": connection, "InvocationEndpoint": endpoint, "HttpMethod": method,
    });
    if let Some(r) = rate {
        input["InvocationRateLimitPerSecond"] = r.into();
    }
    let v = ok(d, "CreateApiDestination", input);
    v["ApiDestinationArn"].as_str().unwrap().parse().unwrap()
}

fn state(d: &Destinations, name: &str) -> String {
    let v = ok(d, "DescribeConnection", json!({ "Name": name }));
    v["ConnectionState"].as_str().unwrap().to_owned()
}

fn destination_state(d: &Destinations, name: &str) -> String {
    let v = ok(d, "DescribeApiDestination", json!({ "Name": name }));
    v["ApiDestinationState"].as_str().unwrap().to_owned()
}

// ---- operations -------------------------------------------------------------------------------

#[test]
fn create_and_describe_never_return_secrets() {
    let (_, d) = manual();
    let created = ok(
        &d,
        "CreateConnection",
        json!({
            "Name": "key",
            "Description": "d",
            "AuthorizationType": "API_KEY",
            "AuthParameters": {
                "ApiKeyAuthParameters": { "ApiKeyName": "ApiKey", "ApiKeyValue": "secret" },
                "InvocationHttpParameters": {
                    "HeaderParameters": [
                        { "Key": "x-plain", "Value": "visible" },
                        { "Key": "x-hidden", "Value": "token", "IsValueSecret": true },
                    ],
                    "BodyParameters": [{ "Key": "b", "Value": "v", "IsValueSecret": false }],
                },
            },
            "KmsKeyIdentifier": "alias/mine",
        }),
    );
    let arn = created["ConnectionArn"].as_str().unwrap().to_owned();
    assert!(
        arn.starts_with("arn:aws:events:us-east-1:000000000000:connection/key/"),
        "{arn}"
    );
    assert_eq!(arn.rsplit('/').next().unwrap().len(), 36, "a UUID: {arn}");
    assert_eq!(
        created,
        json!({ "ConnectionArn": arn, "ConnectionState": "AUTHORIZED", "CreationTime": 1_700_000_000.0,
                "LastModifiedTime": 1_700_000_000.0 })
    );
    let mut described = ok(&d, "DescribeConnection", json!({ "Name": "key" }));
    let secret = described.as_object_mut().unwrap().remove("SecretArn").unwrap();
    let secret = secret.as_str().unwrap();
    let prefix = "arn:aws:secretsmanager:us-east-1:000000000000:secret:events!connection/key/";
    let suffix = secret.strip_prefix(prefix).unwrap_or_else(|| panic!("{secret}"));
    let (uuid, random) = suffix.rsplit_once('-').unwrap();
    assert_eq!((uuid.len(), random.len()), (36, 6), "{secret}");
    assert!(!arn.ends_with(uuid), "the secret has its own UUID");
    assert_eq!(
        described,
        json!({
            "ConnectionArn": arn,
            "Name": "key",
            "Description": "d",
            "ConnectionState": "AUTHORIZED",
            "AuthorizationType": "API_KEY",
            "KmsKeyIdentifier": "alias/mine",
            "AuthParameters": {
                "ApiKeyAuthParameters": { "ApiKeyName": "ApiKey" },
                "InvocationHttpParameters": {
                    "HeaderParameters": [
                        { "Key": "x-plain", "Value": "visible", "IsValueSecret": false },
                        { "Key": "x-hidden", "IsValueSecret": true },
                    ],
                    "BodyParameters": [{ "Key": "b", "Value": "v", "IsValueSecret": false }],
                },
            },
            "CreationTime": 1_700_000_000.0,
            "LastModifiedTime": 1_700_000_000.0,
            "LastAuthorizedTime": 1_700_000_000.0,
        })
    );

    basic_connection(&d, "basic");
    let v = ok(&d, "DescribeConnection", json!({ "Name": "basic" }));
    assert_eq!(
        v["AuthParameters"],
        json!({ "BasicAuthParameters": { "Username": "user" } })
    );

    // OAuth: AUTHORIZING until a token is fetched (no runtime here, so not yet).
    let created = ok(
        &d,
        "CreateConnection",
        json!({
            "Name": "oauth",
            "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
            "AuthParameters": { "OAuthParameters": {
                "AuthorizationEndpoint": "https://example.com/oauth",
                "ClientParameters": { "ClientID": "client_id", "ClientSecret": "client_secret" },
                "HttpMethod": "POST",
                "OAuthHttpParameters": { "BodyParameters": [{ "Key": "grant_type", "Value": "client_credentials" }] },
            } },
        }),
    );
    assert_eq!(created["ConnectionState"], "AUTHORIZING");
    let v = ok(&d, "DescribeConnection", json!({ "Name": "oauth" }));
    assert_eq!(
        v["AuthParameters"],
        json!({ "OAuthParameters": {
            "AuthorizationEndpoint": "https://example.com/oauth",
            "ClientParameters": { "ClientID": "client_id" },
            "HttpMethod": "POST",
            "OAuthHttpParameters": {
                "BodyParameters": [{ "Key": "grant_type", "Value": "client_credentials", "IsValueSecret": false }],
            },
        } })
    );
    assert!(!v.to_string().contains("client_secret") && !v.to_string().contains("\"secret\""));
}

#[test]
fn validation_messages_are_aws_words() {
    let (_, d) = manual();
    // Recorded from AWS.
    let e = err(
        &d,
        "CreateConnection",
        json!({ "Name": "c", "AuthorizationType": "INVALID_AUTH_TYPE", "AuthParameters": {} }),
    );
    assert_eq!(
        e,
        (
            "ValidationException".to_owned(),
            400,
            "1 validation error detected: Value 'INVALID_AUTH_TYPE' at 'authorizationType' failed to satisfy \
             constraint: Member must satisfy enum value set: [BASIC, OAUTH_CLIENT_CREDENTIALS, API_KEY]"
                .to_owned()
        )
    );
    let e = err(
        &d,
        "CreateConnection",
        json!({ "Name": "Invalid Name With Spaces!", "AuthorizationType": "API_KEY",
                "AuthParameters": { "ApiKeyAuthParameters": { "ApiKeyName": "ApiKey", "ApiKeyValue": "secret" } } }),
    );
    assert_eq!(
        e.2,
        r"1 validation error detected: Value 'Invalid Name With Spaces!' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+"
    );
    let e = err(
        &d,
        "CreateApiDestination",
        json!({ "Name": "dest", "ConnectionArn": "invalid-connection-arn", "HttpMethod": "INVALID_METHOD",
                "InvocationEndpoint": "invalid-endpoint" }),
    );
    assert_eq!(
        e.2,
        r"2 validation errors detected: Value 'invalid-connection-arn' at 'connectionArn' failed to satisfy constraint: Member must satisfy regular expression pattern: ^arn:aws([a-z]|\-)*:events:([a-z]|\d|\-)*:([0-9]{12})?:connection\/[\.\-_A-Za-z0-9]+\/[\-A-Za-z0-9]+$; Value 'INVALID_METHOD' at 'httpMethod' failed to satisfy constraint: Member must satisfy enum value set: [HEAD, POST, PATCH, DELETE, PUT, GET, OPTIONS]"
    );
    // The model's constraints, AWS's form.
    let e = err(&d, "CreateConnection", json!({}));
    assert_eq!(
        e.2,
        "3 validation errors detected: Value null at 'name' failed to satisfy constraint: Member must not be null; \
         Value null at 'authorizationType' failed to satisfy constraint: Member must not be null; Value null at \
         'authParameters' failed to satisfy constraint: Member must not be null"
    );
    let e = err(
        &d,
        "CreateConnection",
        json!({ "Name": "c", "AuthorizationType": "BASIC",
                "AuthParameters": { "BasicAuthParameters": { "Username": "u:x" } } }),
    );
    assert_eq!(
        e.2,
        r"2 validation errors detected: Value 'u:x' at 'authParameters.basicAuthParameters.username' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[ \t]*[^\x00-\x1F:\x7F]+([ \t]+[^\x00-\x1F:\x7F]+)*[ \t]*$; Value null at 'authParameters.basicAuthParameters.password' failed to satisfy constraint: Member must not be null"
    );
    let e = err(
        &d,
        "CreateConnection",
        json!({ "Name": "c", "AuthorizationType": "API_KEY", "AuthParameters": {
            "ApiKeyAuthParameters": { "ApiKeyName": "k", "ApiKeyValue": "" },
            "InvocationHttpParameters": { "HeaderParameters": [{ "Key": "bad key", "Value": "v" }] } } }),
    );
    assert_eq!(
        e.2,
        "3 validation errors detected: Value at 'authParameters.apiKeyAuthParameters.apiKeyValue' failed to satisfy \
         constraint: Member must have length greater than or equal to 1; Value at \
         'authParameters.apiKeyAuthParameters.apiKeyValue' failed to satisfy constraint: Member must satisfy regular \
         expression pattern: ^[ \\t]*[^\\x00-\\x1F:\\x7F]+([ \\t]+[^\\x00-\\x1F:\\x7F]+)*[ \\t]*$; Value 'bad key' at \
         'authParameters.invocationHttpParameters.headerParameters.1.member.key' failed to satisfy constraint: Member \
         must satisfy regular expression pattern: ^[!#$%&'*+-.^_`|~0-9a-zA-Z]+$"
    );
    let e = err(
        &d,
        "ListConnections",
        json!({ "Limit": 101, "ConnectionState": "NOPE" }),
    );
    assert_eq!(
        e.2,
        "2 validation errors detected: Value 'NOPE' at 'connectionState' failed to satisfy constraint: Member must \
         satisfy enum value set: [CREATING, UPDATING, DELETING, AUTHORIZED, DEAUTHORIZED, AUTHORIZING, \
         DEAUTHORIZING, ACTIVE, FAILED_CONNECTIVITY]; Value '101' at 'limit' failed to satisfy constraint: Member \
         must have value less than or equal to 100"
    );
    let conn = basic_connection(&d, "c");
    let e = err(
        &d,
        "CreateApiDestination",
        json!({ "Name": "d", "ConnectionArn": conn, "InvocationEndpoint": "http://h/x", "HttpMethod": "POST",
                "InvocationRateLimitPerSecond": 0 }),
    );
    assert_eq!(
        e.2,
        "1 validation error detected: Value '0' at 'invocationRateLimitPerSecond' failed to satisfy constraint: \
         Member must have value greater than or equal to 1"
    );
    let (code, status, _) = err(&d, "ListConnections", json!({ "Limit": "ten" }));
    assert_eq!((code.as_str(), status), ("SerializationException", 400));
    let (code, _, _) = err(&d, "PutTargets", json!({}));
    assert_eq!(code, "UnknownOperationException");
}

#[test]
fn errors_of_each_operation() {
    let (_, d) = manual();
    let conn = basic_connection(&d, "c");
    assert_eq!(
        err(
            &d,
            "CreateConnection",
            json!({ "Name": "c", "AuthorizationType": "BASIC",
                    "AuthParameters": { "BasicAuthParameters": { "Username": "u", "Password": "p" } } })
        ),
        (
            "ResourceAlreadyExistsException".to_owned(),
            400,
            "Connection 'c' already exists.".to_owned()
        )
    );
    let missing = (
        "ResourceNotFoundException".to_owned(),
        400,
        "Failed to describe the connection(s). Connection 'nope' does not exist.".to_owned(),
    );
    for op in [
        "DescribeConnection",
        "UpdateConnection",
        "DeleteConnection",
        "DeauthorizeConnection",
    ] {
        assert_eq!(err(&d, op, json!({ "Name": "nope" })), missing, "{op}");
    }
    let e = err(
        &d,
        "CreateConnection",
        json!({ "Name": "x", "AuthorizationType": "BASIC",
                "AuthParameters": { "ApiKeyAuthParameters": { "ApiKeyName": "k", "ApiKeyValue": "v" } } }),
    );
    assert_eq!(
        e.2,
        "Parameter AuthParameters is not valid. Reason: ApiKeyAuthParameters cannot be used with AuthorizationType \
         BASIC."
    );
    let e = err(
        &d,
        "CreateConnection",
        json!({ "Name": "x", "AuthorizationType": "API_KEY", "AuthParameters": {} }),
    );
    assert_eq!(
        e.2,
        "Parameter AuthParameters is not valid. Reason: ApiKeyAuthParameters must include ApiKeyName and \
         ApiKeyValue when AuthorizationType is API_KEY."
    );
    let e = err(
        &d,
        "CreateConnection",
        json!({ "Name": "x", "AuthorizationType": "BASIC", "InvocationConnectivityParameters": {
            "ResourceParameters": { "ResourceConfigurationArn": "" } },
            "AuthParameters": { "BasicAuthParameters": { "Username": "u", "Password": "p" } } }),
    );
    assert_eq!(e.0, "NotImplemented");

    // API destinations.
    let dest = json!({ "Name": "d", "ConnectionArn": conn, "InvocationEndpoint": "http://127.0.0.1:9/x",
                       "HttpMethod": "POST" });
    ok(&d, "CreateApiDestination", dest.clone());
    assert_eq!(
        err(&d, "CreateApiDestination", dest.clone()),
        (
            "ResourceAlreadyExistsException".to_owned(),
            400,
            "Failed to create the api-destination(s). An api-destination with name 'd' already exists.".to_owned()
        )
    );
    for (op, action) in [
        ("DescribeApiDestination", "describe"),
        ("UpdateApiDestination", "update"),
        ("DeleteApiDestination", "delete"),
    ] {
        assert_eq!(
            err(&d, op, json!({ "Name": "nope" })),
            (
                "ResourceNotFoundException".to_owned(),
                400,
                format!("Failed to {action} the api-destination(s). An api-destination 'nope' does not exist.")
            ),
            "{op}"
        );
    }
    let gone = format!("{}0", conn);
    let e = err(
        &d,
        "CreateApiDestination",
        json!({ "Name": "e", "ConnectionArn": gone, "InvocationEndpoint": "http://h/x", "HttpMethod": "GET" }),
    );
    assert_eq!(
        (e.0.as_str(), e.2),
        (
            "ResourceNotFoundException",
            format!("Failed to create the api-destination(s). Connection '{gone}' does not exist.")
        )
    );
    let other_region = conn.replace("us-east-1", "eu-west-1");
    let e = err(
        &d,
        "UpdateApiDestination",
        json!({ "Name": "d", "ConnectionArn": other_region }),
    );
    assert_eq!(e.0, "ResourceNotFoundException");
    let e = err(
        &d,
        "CreateApiDestination",
        json!({ "Name": "e", "ConnectionArn": conn, "InvocationEndpoint": "http://h/x", "HttpMethod": "GET",
                "InvocationRateLimitPerSecond": 301 }),
    );
    assert_eq!(
        (e.0.as_str(), e.2.as_str()),
        (
            "LimitExceededException",
            "Failed to create the api-destination(s). Invalid Invocation Rate Limit: Rate specified '301' for 'e' \
             exceeds maximum allowed of '300'."
        )
    );
    let e = err(
        &d,
        "CreateApiDestination",
        json!({ "Name": "e", "ConnectionArn": conn, "InvocationEndpoint": "ftp://h/x", "HttpMethod": "GET" }),
    );
    assert_eq!(
        e.2,
        "Failed to create the api-destination(s). Parameter InvocationEndpoint is not valid. Reason: Endpoint \
         'ftp://h/x' is invalid, please provide a valid HTTPS endpoint URL."
    );
    let e = err(
        &d,
        "ListApiDestinations",
        json!({ "NamePrefix": "d", "ConnectionArn": conn }),
    );
    assert_eq!(
        e.2,
        "Failed to list the api-destination(s). Request failed because only one filter is supported per request, \
         either ConnectionArn or NamePrefix."
    );
}

#[test]
fn lifecycle_states_and_listing() {
    let (clock, d) = manual();
    let conn = basic_connection(&d, "c1");
    let dest = destination(&d, "orders", &conn, "http://127.0.0.1:9/o", "POST", None);
    assert!(d.exists(&dest));
    let v = ok(&d, "DescribeApiDestination", json!({ "Name": "orders" }));
    assert_eq!(
        v,
        json!({
            "ApiDestinationArn": dest.to_string(), "Name": "orders", "ApiDestinationState": "ACTIVE",
            "ConnectionArn": conn, "InvocationEndpoint": "http://127.0.0.1:9/o", "HttpMethod": "POST",
            "InvocationRateLimitPerSecond": 300, "CreationTime": 1_700_000_000.0,
            "LastModifiedTime": 1_700_000_000.0,
        })
    );

    // Listing: prefix, state filter, pages.
    for n in ["c2", "c3", "other"] {
        basic_connection(&d, n);
    }
    let v = ok(&d, "ListConnections", json!({ "NamePrefix": "c", "Limit": 2 }));
    let names: Vec<&str> = v["Connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Name"].as_str().unwrap())
        .collect();
    assert_eq!((names, v["NextToken"].as_str()), (vec!["c1", "c2"], Some("c3")));
    let v = ok(&d, "ListConnections", json!({ "NamePrefix": "c", "NextToken": "c3" }));
    assert_eq!(v["Connections"].as_array().unwrap().len(), 1);
    assert!(v.get("NextToken").is_none());
    assert_eq!(
        v["Connections"][0],
        json!({ "ConnectionArn": v["Connections"][0]["ConnectionArn"], "Name": "c3", "ConnectionState": "AUTHORIZED",
                "AuthorizationType": "BASIC", "CreationTime": 1_700_000_000.0, "LastModifiedTime": 1_700_000_000.0,
                "LastAuthorizedTime": 1_700_000_000.0 })
    );
    let v = ok(&d, "ListConnections", json!({ "ConnectionState": "DEAUTHORIZED" }));
    assert_eq!(v, json!({ "Connections": [] }));

    // UpdateConnection: new credentials, a time from the clock; the secret value kept when a
    // parameter is re-sent without it.
    clock.advance(5_000);
    let v = ok(
        &d,
        "UpdateConnection",
        json!({ "Name": "c1", "AuthParameters": { "BasicAuthParameters": { "Username": "new_user" } } }),
    );
    assert_eq!(
        v,
        json!({ "ConnectionArn": conn, "ConnectionState": "AUTHORIZED", "CreationTime": 1_700_000_000.0,
                "LastModifiedTime": 1_700_000_005.0, "LastAuthorizedTime": 1_700_000_005.0 })
    );
    let v = ok(&d, "DescribeConnection", json!({ "Name": "c1" }));
    assert_eq!(v["AuthParameters"]["BasicAuthParameters"]["Username"], "new_user");

    // DeauthorizeConnection: DEAUTHORIZING, then DEAUTHORIZED without a secret; the destination
    // is INACTIVE.
    clock.advance(1_000);
    let v = ok(&d, "DeauthorizeConnection", json!({ "Name": "c1" }));
    assert_eq!(
        v,
        json!({ "ConnectionArn": conn, "ConnectionState": "DEAUTHORIZING", "CreationTime": 1_700_000_000.0,
                "LastModifiedTime": 1_700_000_005.0, "LastAuthorizedTime": 1_700_000_005.0 })
    );
    let v = ok(&d, "DescribeConnection", json!({ "Name": "c1" }));
    assert_eq!(v["ConnectionState"], "DEAUTHORIZED");
    assert_eq!(
        v["StateReason"],
        "The authorization parameters were removed from this connection by a DeauthorizeConnection operation."
    );
    assert!(v.get("SecretArn").is_none());
    assert_eq!(v["AuthParameters"], json!({}));
    assert_eq!(destination_state(&d, "orders"), "INACTIVE");
    let v = ok(&d, "ListConnections", json!({ "ConnectionState": "DEAUTHORIZED" }));
    assert_eq!(v["Connections"][0]["Name"], "c1");

    // Credentials again: AUTHORIZED, a new secret, the destination ACTIVE.
    let e = err(
        &d,
        "UpdateConnection",
        json!({ "Name": "c1", "AuthorizationType": "BASIC" }),
    );
    assert_eq!(
        e.2,
        "Parameter AuthParameters is not valid. Reason: BasicAuthParameters must include Username and Password when \
         AuthorizationType is BASIC."
    );
    let v = ok(
        &d,
        "UpdateConnection",
        json!({ "Name": "c1", "AuthorizationType": "API_KEY",
                "AuthParameters": { "ApiKeyAuthParameters": { "ApiKeyName": "k", "ApiKeyValue": "v" } } }),
    );
    assert_eq!(v["ConnectionState"], "AUTHORIZED");
    let v = ok(&d, "DescribeConnection", json!({ "Name": "c1" }));
    assert_eq!(v["AuthorizationType"], "API_KEY");
    assert!(v["SecretArn"].is_string() && v.get("StateReason").is_none());
    assert_eq!(destination_state(&d, "orders"), "ACTIVE");

    // UpdateApiDestination.
    clock.advance(1_000);
    let v = ok(
        &d,
        "UpdateApiDestination",
        json!({ "Name": "orders", "HttpMethod": "PUT", "InvocationRateLimitPerSecond": 10, "Description": "x" }),
    );
    assert_eq!(
        v,
        json!({ "ApiDestinationArn": dest.to_string(), "ApiDestinationState": "ACTIVE",
                "CreationTime": 1_700_000_000.0, "LastModifiedTime": 1_700_000_007.0 })
    );
    let v = ok(&d, "DescribeApiDestination", json!({ "Name": "orders" }));
    assert_eq!(
        (&v["HttpMethod"], &v["InvocationRateLimitPerSecond"], &v["Description"]),
        (&json!("PUT"), &json!(10), &json!("x"))
    );

    // An OAuth connection not yet authorized makes an INACTIVE destination.
    let v = ok(
        &d,
        "CreateConnection",
        json!({ "Name": "o", "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": { "OAuthParameters": {
            "AuthorizationEndpoint": "http://127.0.0.1:9/token", "HttpMethod": "GET",
            "ClientParameters": { "ClientID": "i", "ClientSecret": "s" } } } }),
    );
    let oauth = v["ConnectionArn"].as_str().unwrap().to_owned();
    let v = ok(
        &d,
        "CreateApiDestination",
        json!({ "Name": "later", "ConnectionArn": oauth, "InvocationEndpoint": "http://h/x", "HttpMethod": "GET" }),
    );
    assert_eq!(v["ApiDestinationState"], "INACTIVE");
    let v = ok(&d, "ListApiDestinations", json!({ "ConnectionArn": oauth }));
    assert_eq!(v["ApiDestinations"].as_array().unwrap().len(), 1);
    assert_eq!(v["ApiDestinations"][0]["Name"], "later");
    assert!(v["ApiDestinations"][0].get("Description").is_none());

    // DeleteConnection: DELETING, gone; its destination stays, INACTIVE.
    let v = ok(&d, "DeleteConnection", json!({ "Name": "c1" }));
    assert_eq!(v["ConnectionState"], "DELETING");
    assert_eq!(
        err(&d, "DescribeConnection", json!({ "Name": "c1" })).0,
        "ResourceNotFoundException"
    );
    assert_eq!(destination_state(&d, "orders"), "INACTIVE");
    // A new connection of the same name is another one.
    basic_connection(&d, "c1");
    assert_eq!(destination_state(&d, "orders"), "INACTIVE");

    assert_eq!(ok(&d, "DeleteApiDestination", json!({ "Name": "orders" })), json!({}));
    assert!(!d.exists(&dest));
    let other: Arn = dest.to_string().replace("us-east-1", "eu-west-1").parse().unwrap();
    assert!(!d.exists(&other));
}

#[test]
fn scopes_are_per_region_and_account() {
    let (_, d) = manual();
    basic_connection(&d, "c");
    let eu = RequestContext::new("eu-west-1");
    assert_eq!(
        d.handle(&eu, "DescribeConnection", json!({ "Name": "c" }))
            .unwrap_err()
            .code,
        "ResourceNotFoundException"
    );
    let v = d.handle(&eu, "ListConnections", Value::Null).unwrap();
    assert_eq!(v, json!({ "Connections": [] }));
}

// ---- a loopback HTTP server -------------------------------------------------------------------

/// One request the server received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct Server {
    addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn next(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(20), self.seen.recv())
            .await
            .expect("a request")
            .expect("the server runs")
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn read_request(sock: &mut TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
    Some(Seen {
        method,
        target,
        headers,
        body,
    })
}

/// A server answering each request with `reply(request)`: (status, JSON body).
async fn server(reply: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, seen) = mpsc::unbounded_channel();
    let reply = Arc::new(reply);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (tx, reply) = (tx.clone(), Arc::clone(&reply));
            tokio::spawn(async move {
                let Some(request) = read_request(&mut sock).await else {
                    return;
                };
                let (status, body) = reply(&request);
                let _ = tx.send(request);
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: \
                     close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Server { addr, seen }
}

/// Waits (bounded) until `f` holds: a state reached by a background task.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..2_000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never: {what}");
}

const EVENT: &str = r#"{"version":"0","id":"e1","detail-type":"t","detail":{"a":1}}"#;

// ---- invocations ------------------------------------------------------------------------------

#[tokio::test]
async fn invocation_request_carries_parameters_and_api_key() {
    let mut srv = server(|_| (200, "{}".to_owned())).await;
    let (_, d) = manual();
    let conn = api_key_connection(
        &d,
        "key",
        json!({
            "HeaderParameters": [
                { "Key": "X-Shared", "Value": "conn" },
                { "Key": "X-Secret", "Value": "s3cr3t", "IsValueSecret": true },
                { "Key": "Host", "Value": "evil" },
            ],
            "QueryStringParameters": [{ "Key": "shared", "Value": "conn value" }],
            "BodyParameters": [{ "Key": "extra", "Value": "v" }],
        }),
    );
    let dest = destination(&d, "d", &conn, &srv.url("/v1/*/orders?fixed=1"), "PUT", None);
    let params = HttpParameters {
        path_parameter_values: vec!["42".to_owned()],
        header_parameters: [
            ("X-Target", "t"),
            ("x-shared", "target"),
            ("User-Agent", "mine"),
            ("Content-Type", "application/vnd.x+json"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        query_string_parameters: [("q", "1"), ("shared", "target")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    };
    d.invoke(&dest, EVENT, &params).await.unwrap();
    let r = srv.next().await;
    assert_eq!(r.method, "PUT");
    assert_eq!(r.target, "/v1/42/orders?fixed=1&q=1&shared=conn%20value");
    assert_eq!(r.header("x-api-key"), Some("secret"));
    assert_eq!(r.header("x-target"), Some("t"));
    assert_eq!(r.header("x-shared"), Some("conn"), "the connection wins");
    assert_eq!(r.header("x-secret"), Some("s3cr3t"));
    assert_eq!(r.header("host"), Some(srv.addr.to_string().as_str()));
    assert_eq!(r.header("user-agent"), Some("Amazon/EventBridge/ApiDestinations"));
    assert_eq!(r.header("range"), Some("bytes=0-1048575"));
    assert_eq!(r.header("content-type"), Some("application/vnd.x+json"));
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(
        r.body,
        r#"{"version":"0","id":"e1","detail-type":"t","detail":{"a":1},"extra":"v"}"#
    );

    // Without target parameters: EventBridge's own Content-Type.
    d.invoke(&dest, "[1]", &HttpParameters::default()).await.unwrap();
    let r = srv.next().await;
    assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(
        (r.target.as_str(), r.body.as_str()),
        ("/v1/*/orders?fixed=1&shared=conn%20value", "[1]")
    );
}

#[tokio::test]
async fn invocation_with_basic_auth() {
    let mut srv = server(|_| (204, String::new())).await;
    let (_, d) = manual();
    let conn = basic_connection(&d, "b");
    let dest = destination(&d, "d", &conn, &srv.url("/hook"), "POST", None);
    d.invoke(&dest, EVENT, &HttpParameters::default()).await.unwrap();
    let r = srv.next().await;
    let expected = base64::engine::general_purpose::STANDARD.encode("user:pa ss");
    assert_eq!(r.header("authorization"), Some(format!("Basic {expected}").as_str()));
    assert_eq!((r.method.as_str(), r.body.as_str()), ("POST", EVENT));
}

#[tokio::test]
async fn oauth_token_is_fetched_cached_and_refreshed_after_401() {
    let tokens = Arc::new(AtomicUsize::new(0));
    let hook_status = Arc::new(AtomicU16::new(200));
    let mut srv = {
        let (tokens, hook_status) = (Arc::clone(&tokens), Arc::clone(&hook_status));
        server(move |r| {
            if r.target.starts_with("/token") {
                let good = base64::engine::general_purpose::STANDARD.encode("id:sec ret");
                if r.header("authorization") != Some(format!("Basic {good}").as_str()) {
                    return (400, r#"{"error":"invalid_client"}"#.to_owned());
                }
                let n = tokens.fetch_add(1, Ordering::SeqCst) + 1;
                (
                    200,
                    format!(r#"{{"access_token":"tok-{n}","token_type":"Bearer","expires_in":3600}}"#),
                )
            } else {
                (hook_status.load(Ordering::SeqCst), "{}".to_owned())
            }
        })
        .await
    };
    let (_, d) = manual();
    let token_url = srv.url("/token");
    let oauth = |name: &str, secret: &str| {
        json!({
            "Name": name,
            "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
            "AuthParameters": { "OAuthParameters": {
                "AuthorizationEndpoint": token_url,
                "HttpMethod": "POST",
                "ClientParameters": { "ClientID": "id", "ClientSecret": secret },
                "OAuthHttpParameters": {
                    "HeaderParameters": [{ "Key": "X-Tenant", "Value": "t" }],
                    "QueryStringParameters": [{ "Key": "audience", "Value": "https://api" }],
                    "BodyParameters": [{ "Key": "grant_type", "Value": "client_credentials" }],
                },
            } },
        })
    };
    let v = ok(&d, "CreateConnection", oauth("o", "sec ret"));
    assert_eq!(v["ConnectionState"], "AUTHORIZING");
    let conn = v["ConnectionArn"].as_str().unwrap().to_owned();

    // Authorized in the background: the token request as documented.
    let r = srv.next().await;
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/token?audience=https%3A%2F%2Fapi");
    assert_eq!(r.header("x-tenant"), Some("t"));
    assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(r.body, "grant_type=client_credentials");
    eventually("authorized", || state(&d, "o") == "AUTHORIZED").await;

    let dest = destination(&d, "d", &conn, &srv.url("/hook"), "POST", None);
    assert_eq!(destination_state(&d, "d"), "ACTIVE");
    d.invoke(&dest, EVENT, &HttpParameters::default()).await.unwrap();
    assert_eq!(srv.next().await.header("authorization"), Some("Bearer tok-1"));
    d.invoke(&dest, EVENT, &HttpParameters::default()).await.unwrap();
    assert_eq!(srv.next().await.header("authorization"), Some("Bearer tok-1"));
    assert_eq!(tokens.load(Ordering::SeqCst), 1, "cached");

    // A 401: retryable, and the retry fetches a new token.
    hook_status.store(401, Ordering::SeqCst);
    let e = d.invoke(&dest, EVENT, &HttpParameters::default()).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Retryable);
    srv.next().await;
    assert_eq!(state(&d, "o"), "AUTHORIZED", "OAuth connections stay authorized");
    hook_status.store(200, Ordering::SeqCst);
    d.invoke(&dest, EVENT, &HttpParameters::default()).await.unwrap();
    assert!(srv.next().await.target.starts_with("/token"));
    assert_eq!(srv.next().await.header("authorization"), Some("Bearer tok-2"));

    // Credentials the endpoint refuses: DEAUTHORIZED, the invocation fails for good.
    let v = ok(&d, "CreateConnection", oauth("bad", "wrong"));
    let bad = v["ConnectionArn"].as_str().unwrap().to_owned();
    srv.next().await;
    eventually("deauthorized", || state(&d, "bad") == "DEAUTHORIZED").await;
    let v = ok(&d, "DescribeConnection", json!({ "Name": "bad" }));
    assert_eq!(
        v["StateReason"],
        "Failed to authorize: the authorization endpoint responded with 400 Bad Request."
    );
    let dest = destination(&d, "bad", &bad, &srv.url("/hook"), "POST", None);
    let e = d.invoke(&dest, EVENT, &HttpParameters::default()).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Terminal);
    assert_eq!(
        e.message,
        "Unable to invoke ApiDestination endpoint: Connection 'bad' is DEAUTHORIZED."
    );
}

#[tokio::test]
async fn statuses_map_to_retryable_or_terminal() {
    let mut srv = server(|r| {
        let code = r.target.rsplit('/').next().unwrap().parse().unwrap();
        (code, "{}".to_owned())
    })
    .await;
    let (_, d) = manual();
    let conn = api_key_connection(&d, "k", Value::Null);
    let dest = destination(&d, "d", &conn, &srv.url("/status/*"), "POST", None);
    let with = |code: u16| HttpParameters {
        path_parameter_values: vec![code.to_string()],
        ..HttpParameters::default()
    };
    for code in [200, 201, 202, 204] {
        d.invoke(&dest, EVENT, &with(code)).await.unwrap();
        srv.next().await;
    }
    for (code, kind) in [
        (302, FailureKind::Terminal),
        (304, FailureKind::Terminal),
        (400, FailureKind::Terminal),
        (403, FailureKind::Terminal),
        (404, FailureKind::Terminal),
        (413, FailureKind::Terminal),
        (409, FailureKind::Retryable),
        (429, FailureKind::Retryable),
        (500, FailureKind::Retryable),
        (502, FailureKind::Retryable),
        (503, FailureKind::Retryable),
        (504, FailureKind::Retryable),
    ] {
        let e = d.invoke(&dest, EVENT, &with(code)).await.unwrap_err();
        srv.next().await;
        assert_eq!((code, e.kind, e.code.as_str()), (code, kind, "SDK_CLIENT_ERROR"));
    }
    let e = d.invoke(&dest, EVENT, &with(404)).await.unwrap_err();
    srv.next().await;
    assert_eq!(
        e.message,
        "Unable to invoke ApiDestination endpoint: The API destination endpoint responded with 404 Not Found."
    );

    // 407 (and 401) to API key credentials: retryable, and the connection is deauthorized.
    let e = d.invoke(&dest, EVENT, &with(407)).await.unwrap_err();
    srv.next().await;
    assert_eq!(e.kind, FailureKind::Retryable);
    assert_eq!(state(&d, "k"), "DEAUTHORIZED");
    assert_eq!(destination_state(&d, "d"), "INACTIVE");
    let e = d.invoke(&dest, EVENT, &with(200)).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Terminal);
    // New credentials authorize it again.
    ok(
        &d,
        "UpdateConnection",
        json!({ "Name": "k", "AuthParameters": { "ApiKeyAuthParameters": { "ApiKeyValue": "new" } } }),
    );
    assert_eq!(state(&d, "k"), "AUTHORIZED");
    d.invoke(&dest, EVENT, &with(200)).await.unwrap();
    assert_eq!(srv.next().await.header("x-api-key"), Some("new"));
}

#[tokio::test]
async fn unreachable_slow_and_missing_targets() {
    let (_, d) = manual();
    let conn = api_key_connection(&d, "k", Value::Null);

    // Nothing listens: retryable, AWS's words.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let dest = destination(&d, "refused", &conn, &format!("http://{addr}/x"), "POST", None);
    let e = d.invoke(&dest, EVENT, &HttpParameters::default()).await.unwrap_err();
    assert_eq!(
        (e.kind, e.code.as_str(), e.message.as_str()),
        (
            FailureKind::Retryable,
            "SDK_CLIENT_ERROR",
            "Unable to invoke ApiDestination endpoint: API destination endpoint cannot be reached."
        )
    );

    // An endpoint that never answers: a timeout, retryable.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let quick = Destinations::with_timeout(Arc::new(ManualClock::new(T0)), Duration::from_millis(200));
    let conn = api_key_connection(&quick, "k", Value::Null);
    let dest = destination(&quick, "slow", &conn, &format!("http://{silent_addr}/x"), "POST", None);
    let e = quick
        .invoke(&dest, EVENT, &HttpParameters::default())
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.code.as_str(), e.message.as_str()),
        (
            FailureKind::Retryable,
            "UNKNOWN",
            "Unable to invoke ApiDestination endpoint: Timeout calling endpoint for API Destination: socket closed."
        )
    );

    // https: not spoken here, for good.
    let conn = api_key_connection(&d, "k2", Value::Null);
    let dest = destination(&d, "tls", &conn, "https://example.com/x", "POST", None);
    let e = d.invoke(&dest, EVENT, &HttpParameters::default()).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Terminal);
    assert!(e.message.contains("plain HTTP only"), "{}", e.message);

    // No such destination; a destination whose connection was deleted.
    let unknown: Arn = "arn:aws:events:us-east-1:000000000000:api-destination/nope/1"
        .parse()
        .unwrap();
    assert_eq!(
        d.invoke(&unknown, EVENT, &HttpParameters::default())
            .await
            .unwrap_err()
            .kind,
        FailureKind::NotFound
    );
    ok(&d, "DeleteConnection", json!({ "Name": "k2" }));
    assert_eq!(
        d.invoke(&dest, EVENT, &HttpParameters::default())
            .await
            .unwrap_err()
            .kind,
        FailureKind::NotFound
    );
}

/// At most InvocationRateLimitPerSecond requests in any second; the others wait on the clock.
#[tokio::test]
async fn rate_limit_waits_on_the_clock() {
    let mut srv = server(|_| (200, "{}".to_owned())).await;
    let clock = Arc::new(ManualClock::new(T0));
    let d = Arc::new(Destinations::new(clock.clone()));
    let conn = api_key_connection(&d, "k", Value::Null);
    let dest = destination(&d, "d", &conn, &srv.url("/x"), "POST", Some(2));
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let (d, dest) = (Arc::clone(&d), dest.clone());
            tokio::spawn(async move { d.invoke(&dest, EVENT, &HttpParameters::default()).await })
        })
        .collect();
    srv.next().await;
    srv.next().await;
    eventually("the third waits on the clock", || clock.waiting() == 1).await;
    assert!(srv.seen.try_recv().is_err(), "only two in the first second");
    clock.advance(999);
    assert_eq!(clock.waiting(), 1);
    clock.advance(1);
    srv.next().await;
    for t in tasks {
        t.await.unwrap().unwrap();
    }
}
