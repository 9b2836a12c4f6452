//! The service table: what identifies each service's requests, and the classification of a
//! request against it — decided once per request, from (in order) localbridge's own path prefix,
//! `X-Amz-Target`, the SigV4 credential scope's service, the query `Action`, rest paths, and
//! finally the fallback service (S3), which owns everything nobody else claims.
//!
//! A service localbridge does not serve yet but whose requests are recognisable is in
//! [`UNSERVED`]: it is answered `NotImplemented` in its own protocol's envelope.

use std::borrow::Cow;

use bytes::Bytes;
use http::request::Parts;
use http::Response;
use lb_core::clock::BoxFuture;
use lb_core::{AwsError, RequestContext};

use crate::json::{JsonError, JsonVersion};
use crate::query::{ErrorStyle, Params};

/// The wire protocol a request speaks: how its input is read and its errors are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// AWS JSON 1.0 / 1.1 (`X-Amz-Target`).
    Json(JsonVersion),
    /// AWS query (`Action=`), XML responses.
    Query,
    /// REST with JSON bodies.
    RestJson,
    /// REST with XML bodies (S3).
    RestXml,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Json(JsonVersion::V1_0) => "json-1.0",
            Protocol::Json(JsonVersion::V1_1) => "json-1.1",
            Protocol::Query => "query",
            Protocol::RestJson => "rest-json",
            Protocol::RestXml => "rest-xml",
        }
    }
}

/// What identifies a service's requests, and how its errors are written.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSpec {
    /// The name the health endpoint and metrics use (`sqs`).
    pub name: &'static str,
    /// The SigV4 signing name (the credential scope's service).
    pub signing_name: &'static str,
    /// The AWS JSON version it speaks, if any.
    pub json: Option<JsonVersion>,
    /// `X-Amz-Target` prefixes, with their trailing dot (`AmazonSQS.`).
    pub target_prefixes: &'static [&'static str],
    /// Every operation name (JSON targets and query actions alike). Names outside it reach the
    /// service too (it answers them in its own words), but metrics count them as `unknown`.
    pub operations: &'static [&'static str],
    /// Whether it speaks the query protocol (its actions are [`Self::operations`]).
    pub query: bool,
    /// Paths that belong to it under the query protocol (an SQS queue URL's path), used when an
    /// unsigned `Action` is claimed by several services or by none.
    pub query_path: Option<fn(&str) -> bool>,
    /// Path prefixes of its rest protocol.
    pub rest_paths: &'static [&'static str],
    /// The rest protocol it speaks under [`Self::rest_paths`] (or as the fallback).
    pub rest: Option<Protocol>,
    /// The namespace of its query responses and how it writes query errors.
    pub xmlns: &'static str,
    pub query_errors: ErrorStyle,
    /// `awsQueryCompatible`: JSON errors carry `x-amzn-query-error`.
    pub query_compatible: bool,
    /// The largest request body the gateway reads for it.
    pub max_body: usize,
}

impl ServiceSpec {
    /// A spec with nothing claimed (fill in what the service speaks).
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            signing_name: name,
            json: None,
            target_prefixes: &[],
            operations: &[],
            query: false,
            query_path: None,
            rest_paths: &[],
            rest: None,
            xmlns: "",
            query_errors: ErrorStyle {
                xmlns: None,
                detail: false,
            },
            query_compatible: false,
            max_body: 16 * 1024 * 1024,
        }
    }

    /// The operation name as the spec spells it (`'static`), if it is one of the service's.
    pub fn operation(&self, name: &str) -> Option<&'static str> {
        self.operations.iter().copied().find(|op| *op == name)
    }

    /// The protocol of a request signed for this service that no other signal placed.
    fn scoped_protocol(&self, has_action: bool, path: &str) -> Protocol {
        let rest = self.rest_paths.iter().any(|p| path.starts_with(p));
        if self.query && (has_action || !rest) {
            return Protocol::Query;
        }
        match (self.rest, self.json) {
            (Some(p), _) => p,
            (None, Some(v)) => Protocol::Json(v),
            (None, None) => Protocol::Query,
        }
    }

    /// `err` in this service's envelope for `protocol` (for errors raised before the service
    /// sees the request: body too large, unreadable, ...).
    pub fn error_response(&self, protocol: Protocol, err: &AwsError, request_id: &str) -> Response<Bytes> {
        match protocol {
            Protocol::Json(v) => crate::json::error_response(
                v,
                &JsonError {
                    status: err.status,
                    type_name: &err.code,
                    message: &err.message,
                    query_error: self.query_compatible.then_some((&*err.code, err.sender_fault)),
                },
                request_id,
            ),
            Protocol::Query => crate::query::error_response(err, &err.message, request_id, self.query_errors),
            Protocol::RestJson => crate::restjson::error_response(err.status, &err.code, &err.message, request_id),
            Protocol::RestXml => {
                let mut w = crate::xml::XmlWriter::with_declaration(crate::xml::DECLARATION_UTF8);
                w.open("Error")
                    .leaf("Code", &err.code)
                    .leaf("Message", &err.message)
                    .leaf("RequestId", request_id)
                    .close("Error");
                crate::respond(err.status, "application/xml", Bytes::from(w.finish()), request_id)
            }
        }
    }
}

/// A request classified for a service: who, which protocol, which operation, and the request
/// itself, parsed as far as classification needed (query parameters are parsed once, here).
#[derive(Debug)]
pub struct ApiRequest {
    pub service: &'static str,
    pub protocol: Protocol,
    /// The `X-Amz-Target` suffix or the query `Action` (empty when the request named none).
    pub operation: Cow<'static, str>,
    /// Method, URI, headers (moved from the connection, never cloned).
    pub parts: Parts,
    pub body: Bytes,
    /// Query protocol: the parameters of the query string and form body.
    pub params: Option<Params>,
    pub ctx: RequestContext,
}

impl ApiRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the client asked for JSON (`Accept: application/json`).
    pub fn accepts_json(&self) -> bool {
        self.header("accept").is_some_and(|a| a.contains("application/json"))
    }
}

/// A service's wire edge: it declares what identifies its requests and answers them.
pub trait Service: Send + Sync + 'static {
    fn spec(&self) -> &ServiceSpec;

    /// Answers one request, in `req.protocol`'s envelope. Never panics.
    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>>;

    /// A refusal decided from the head alone, before the body is read (S3: a declared object
    /// over 5 GiB).
    fn check_head(&self, _parts: &Parts) -> Option<Response<Bytes>> {
        None
    }

    /// An error raised before the service saw the request (body too large, unreadable), in the
    /// service's envelope.
    fn error_response(&self, protocol: Protocol, err: &AwsError, request_id: &str) -> Response<Bytes> {
        self.spec().error_response(protocol, err, request_id)
    }

    /// The service's own metrics, in the Prometheus text format, appended to
    /// `/_localbridge/metrics` (EventBridge: per rule).
    fn metrics(&self, _out: &mut String) {}

    /// Answers a `GET /_localbridge/<path>` the service owns (EventBridge: `events/<id>`);
    /// `None` when `path` is not the service's.
    fn admin(&self, _path: &str, _query: Option<&str>) -> Option<Response<Bytes>> {
        None
    }

    /// Answers a `POST /_localbridge/<path>` the service owns, with its body (S3:
    /// `s3/lose-object`); `None` when `path` is not the service's.
    fn admin_post(&self, _path: &str, _body: &Bytes) -> Option<Response<Bytes>> {
        None
    }

    /// Like [`Service::admin`], for an endpoint whose answer waits (a long poll: EventBridge's
    /// `events/tail`); the future owns what it needs of `path` and `query`.
    fn admin_wait(&self, _path: &str, _query: Option<&str>) -> Option<BoxFuture<'_, Response<Bytes>>> {
        None
    }
}

/// A service recognised but not served: answered `NotImplemented` in its protocol.
#[derive(Debug, Clone, Copy)]
pub struct UnservedSpec {
    pub name: &'static str,
    pub signing_name: &'static str,
    pub protocol: Protocol,
    pub target_prefix: Option<&'static str>,
    /// Rest paths recognised even without a signature.
    pub rest_paths: &'static [&'static str],
    pub xmlns: &'static str,
}

const fn unserved(name: &'static str, protocol: Protocol, target_prefix: Option<&'static str>) -> UnservedSpec {
    UnservedSpec {
        name,
        signing_name: name,
        protocol,
        target_prefix,
        rest_paths: &[],
        xmlns: "",
    }
}

/// The services localbridge recognises but does not serve yet (protocols and target prefixes
/// from botocore's service models).
pub const UNSERVED: &[UnservedSpec] = &[unserved(
    "dynamodb",
    Protocol::Json(JsonVersion::V1_0),
    Some("DynamoDB_20120810."),
)];

impl UnservedSpec {
    /// `NotImplemented` (501) in this service's envelope.
    pub fn not_implemented(name: &str, protocol: Protocol, request_id: &str) -> Response<Bytes> {
        let err = AwsError::new(
            "NotImplemented",
            501,
            format!("localbridge does not implement the {name} service yet"),
        );
        let mut spec = ServiceSpec::new("unserved");
        spec.query_errors.xmlns = UNSERVED
            .iter()
            .find(|u| u.name == name)
            .map(|u| u.xmlns)
            .filter(|x| !x.is_empty());
        spec.error_response(protocol, &err, request_id)
    }
}

/// The prefix under which localbridge serves its own endpoints.
pub const INTERNAL_PREFIX: &str = "/_localbridge/";

/// What classification reads from a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signals<'a> {
    pub path: &'a str,
    /// `X-Amz-Target`.
    pub target: Option<&'a str>,
    /// The credential scope's service, when the request is signed (SigV4).
    pub signing_name: Option<&'a str>,
    /// The query `Action` (query string or form body), when one was looked for.
    pub action: Option<&'a str>,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/_localbridge/...`.
    Internal,
    /// A registered service (index into the table), the protocol and operation.
    Service {
        index: usize,
        protocol: Protocol,
        operation: Cow<'static, str>,
    },
    /// The fallback service (S3).
    Fallback,
    /// Recognised, not served.
    Unserved {
        name: Cow<'static, str>,
        protocol: Protocol,
    },
}

/// The registered services, the fallback, and how a request is matched to them.
pub struct ServiceTable<S: ?Sized = dyn Service> {
    services: Vec<std::sync::Arc<S>>,
    fallback_signing_name: &'static str,
}

impl<S: Service + ?Sized> ServiceTable<S> {
    pub fn new(services: Vec<std::sync::Arc<S>>, fallback_signing_name: &'static str) -> Self {
        Self {
            services,
            fallback_signing_name,
        }
    }

    pub fn services(&self) -> &[std::sync::Arc<S>] {
        &self.services
    }

    pub fn get(&self, index: usize) -> Option<&std::sync::Arc<S>> {
        self.services.get(index)
    }

    fn op(spec: &ServiceSpec, name: &str) -> Cow<'static, str> {
        spec.operation(name)
            .map_or_else(|| Cow::Owned(name.to_owned()), Cow::Borrowed)
    }

    /// Whether an unsigned request may need its form body read for `Action` before it can be
    /// classified (some registered service speaks query).
    pub fn wants_action(&self) -> bool {
        self.services.iter().any(|s| s.spec().query)
    }

    /// Classifies a request (see the module documentation for the order).
    pub fn classify(&self, s: &Signals<'_>) -> Route {
        if s.path.starts_with(INTERNAL_PREFIX) {
            return Route::Internal;
        }
        if let Some(target) = s.target {
            for (index, svc) in self.services.iter().enumerate() {
                let spec = svc.spec();
                if let Some(op) = spec.target_prefixes.iter().find_map(|p| target.strip_prefix(p)) {
                    return Route::Service {
                        index,
                        protocol: Protocol::Json(spec.json.unwrap_or(JsonVersion::V1_1)),
                        operation: Self::op(spec, op),
                    };
                }
            }
            if let Some(u) = UNSERVED
                .iter()
                .find(|u| u.target_prefix.is_some_and(|p| target.starts_with(p)))
            {
                let protocol = match u.protocol {
                    p @ Protocol::Json(_) => p,
                    _ => Protocol::Json(JsonVersion::V1_1),
                };
                return Route::Unserved {
                    name: Cow::Borrowed(u.name),
                    protocol,
                };
            }
            let name = target.split('.').next().unwrap_or(target);
            return Route::Unserved {
                name: Cow::Owned(name.to_owned()),
                protocol: Protocol::Json(JsonVersion::V1_1),
            };
        }
        if let Some(scope) = s.signing_name.filter(|n| !n.is_empty()) {
            if scope == self.fallback_signing_name {
                return Route::Fallback;
            }
            if let Some((index, svc)) = self
                .services
                .iter()
                .enumerate()
                .find(|(_, svc)| svc.spec().signing_name == scope)
            {
                let spec = svc.spec();
                let protocol = spec.scoped_protocol(s.action.is_some(), s.path);
                let operation = match protocol {
                    Protocol::Query => Self::op(spec, s.action.unwrap_or("")),
                    _ => Cow::Borrowed(""),
                };
                return Route::Service {
                    index,
                    protocol,
                    operation,
                };
            }
            if let Some(u) = UNSERVED.iter().find(|u| u.signing_name == scope) {
                return Route::Unserved {
                    name: Cow::Borrowed(u.name),
                    protocol: u.protocol,
                };
            }
            return Route::Unserved {
                name: Cow::Owned(scope.to_owned()),
                protocol: Protocol::Query,
            };
        }
        if let Some(action) = s.action {
            if let Some(route) = self.by_action(action, s.path) {
                return route;
            }
        }
        for (index, svc) in self.services.iter().enumerate() {
            let spec = svc.spec();
            if spec.rest_paths.iter().any(|p| s.path.starts_with(p)) {
                return Route::Service {
                    index,
                    protocol: spec.rest.unwrap_or(Protocol::RestJson),
                    operation: Cow::Borrowed(""),
                };
            }
        }
        if let Some(u) = UNSERVED
            .iter()
            .find(|u| u.rest_paths.iter().any(|p| s.path.starts_with(p)))
        {
            return Route::Unserved {
                name: Cow::Borrowed(u.name),
                protocol: u.protocol,
            };
        }
        Route::Fallback
    }

    /// An unsigned query request: the service that has the action (by path when several do);
    /// an unknown action at a service's query path or at `/` goes to that (first) query service,
    /// which answers it in its own words.
    fn by_action(&self, action: &str, path: &str) -> Option<Route> {
        let query = |index: usize, spec: &ServiceSpec| Route::Service {
            index,
            protocol: Protocol::Query,
            operation: Self::op(spec, action),
        };
        let at_path = |spec: &ServiceSpec| spec.query_path.is_some_and(|f| f(path));
        let mut first = None;
        let mut count = 0;
        for (index, svc) in self.services.iter().enumerate() {
            let spec = svc.spec();
            if spec.query && spec.operation(action).is_some() {
                if at_path(spec) {
                    return Some(query(index, spec));
                }
                count += 1;
                first.get_or_insert(index);
            }
        }
        if let Some(index) = first {
            let _ = count;
            return Some(query(index, self.services[index].spec()));
        }
        for (index, svc) in self.services.iter().enumerate() {
            let spec = svc.spec();
            if spec.query && (at_path(spec) || path == "/") {
                return Some(query(index, spec));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    struct Fake(ServiceSpec);

    impl Service for Fake {
        fn spec(&self) -> &ServiceSpec {
            &self.0
        }
        fn handle(&self, _req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
            Box::pin(async { Response::new(Bytes::new()) })
        }
    }

    fn queue_path(p: &str) -> bool {
        p.starts_with("/000000000000/")
    }

    fn table() -> ServiceTable {
        let sqs = ServiceSpec {
            json: Some(JsonVersion::V1_0),
            target_prefixes: &["AmazonSQS."],
            operations: &["SendMessage", "CreateQueue", "AddPermission"],
            query: true,
            query_path: Some(queue_path),
            ..ServiceSpec::new("sqs")
        };
        let sns = ServiceSpec {
            operations: &["Publish", "AddPermission"],
            query: true,
            ..ServiceSpec::new("sns")
        };
        let lambda = ServiceSpec {
            rest_paths: &["/2015-03-31/functions"],
            rest: Some(Protocol::RestJson),
            ..ServiceSpec::new("lambda")
        };
        ServiceTable::new(
            vec![
                Arc::new(Fake(sqs)) as Arc<dyn Service>,
                Arc::new(Fake(sns)),
                Arc::new(Fake(lambda)),
            ],
            "s3",
        )
    }

    fn svc(index: usize, protocol: Protocol, op: &str) -> Route {
        Route::Service {
            index,
            protocol,
            operation: Cow::Owned(op.to_owned()),
        }
    }

    #[test]
    fn target_header_wins() {
        let t = table();
        let s = Signals {
            path: "/",
            target: Some("AmazonSQS.SendMessage"),
            signing_name: Some("s3"),
            action: None,
        };
        assert_eq!(t.classify(&s), svc(0, Protocol::Json(JsonVersion::V1_0), "SendMessage"));
        assert!(matches!(
            t.classify(&s),
            Route::Service {
                operation: Cow::Borrowed(_),
                ..
            }
        ));
        let s = Signals {
            target: Some("DynamoDB_20120810.ListTables"),
            ..s
        };
        assert_eq!(
            t.classify(&s),
            Route::Unserved {
                name: "dynamodb".into(),
                protocol: Protocol::Json(JsonVersion::V1_0)
            }
        );
        let s = Signals {
            target: Some("Mystery.Op"),
            ..s
        };
        assert_eq!(
            t.classify(&s),
            Route::Unserved {
                name: "Mystery".into(),
                protocol: Protocol::Json(JsonVersion::V1_1)
            }
        );
    }

    #[test]
    fn scope_then_action_then_paths_then_fallback() {
        let t = table();
        let signed = |scope, action| Signals {
            path: "/",
            target: None,
            signing_name: Some(scope),
            action,
        };
        assert_eq!(
            t.classify(&signed("sqs", Some("CreateQueue"))),
            svc(0, Protocol::Query, "CreateQueue")
        );
        assert_eq!(t.classify(&signed("sqs", None)), svc(0, Protocol::Query, ""));
        assert_eq!(t.classify(&signed("s3", Some("CreateQueue"))), Route::Fallback);
        assert_eq!(
            t.classify(&signed("sts", Some("GetCallerIdentity"))),
            Route::Unserved {
                name: "sts".into(),
                protocol: Protocol::Query
            }
        );
        assert_eq!(
            t.classify(&signed("dynamodb", None)),
            Route::Unserved {
                name: "dynamodb".into(),
                protocol: Protocol::Json(JsonVersion::V1_0)
            }
        );
        assert_eq!(
            t.classify(&signed("mystery", None)),
            Route::Unserved {
                name: "mystery".into(),
                protocol: Protocol::Query
            }
        );
        let lambda = Signals {
            path: "/2015-03-31/functions/f",
            ..signed("lambda", None)
        };
        assert_eq!(t.classify(&lambda), svc(2, Protocol::RestJson, ""));

        let unsigned = |path, action| Signals {
            path,
            target: None,
            signing_name: None,
            action,
        };
        assert_eq!(
            t.classify(&unsigned("/", Some("Publish"))),
            svc(1, Protocol::Query, "Publish")
        );
        assert_eq!(
            t.classify(&unsigned("/000000000000/q", Some("SendMessage"))),
            svc(0, Protocol::Query, "SendMessage")
        );
        // Ambiguous action: by path, else the first registered.
        assert_eq!(
            t.classify(&unsigned("/000000000000/q", Some("AddPermission"))),
            svc(0, Protocol::Query, "AddPermission")
        );
        assert_eq!(
            t.classify(&unsigned("/", Some("AddPermission"))),
            svc(0, Protocol::Query, "AddPermission")
        );
        // Unknown action at a queue path or `/`: the query service answers it.
        assert_eq!(
            t.classify(&unsigned("/", Some("Nope"))),
            svc(0, Protocol::Query, "Nope")
        );
        assert_eq!(t.classify(&unsigned("/bucket/key", Some("Nope"))), Route::Fallback);
        assert_eq!(
            t.classify(&unsigned("/2015-03-31/functions", None)),
            svc(2, Protocol::RestJson, "")
        );
        assert_eq!(t.classify(&unsigned("/photos/a.jpg", None)), Route::Fallback);
        assert_eq!(t.classify(&unsigned("/_localbridge/health", None)), Route::Internal);
    }

    #[test]
    fn unserved_envelopes() {
        let r = UnservedSpec::not_implemented("ses", Protocol::Query, "rid");
        assert_eq!(r.status(), 501);
        let body = std::str::from_utf8(r.body()).unwrap();
        assert!(body.contains("<ErrorResponse><Error><Type>Receiver</Type><Code>NotImplemented</Code>"));
        assert!(body.contains("<RequestId>rid</RequestId>"));
        let r = UnservedSpec::not_implemented("dynamodb", Protocol::Json(JsonVersion::V1_1), "rid");
        assert_eq!(
            r.body().as_ref(),
            br#"{"__type":"NotImplemented","message":"localbridge does not implement the dynamodb service yet"}"#
        );
        assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.1");
        let r = UnservedSpec::not_implemented("lambda", Protocol::RestJson, "rid");
        assert_eq!(r.headers()["x-amzn-errortype"], "NotImplemented");
    }

    #[test]
    fn gateway_errors_in_each_envelope() {
        let spec = ServiceSpec {
            query_compatible: true,
            query_errors: ErrorStyle {
                xmlns: Some("http://queue.amazonaws.com/doc/2012-11-05/"),
                detail: true,
            },
            ..ServiceSpec::new("sqs")
        };
        let err = AwsError::new("RequestEntityTooLarge", 413, "Request entity too large");
        let q = spec.error_response(Protocol::Query, &err, "rid");
        assert_eq!(
            (q.status().as_u16(), q.headers()["content-type"].to_str().unwrap()),
            (413, "text/xml")
        );
        let body = std::str::from_utf8(q.body()).unwrap();
        assert!(body.contains("<Code>RequestEntityTooLarge</Code>") && body.contains("<RequestId>rid</RequestId>"));
        let j = spec.error_response(Protocol::Json(JsonVersion::V1_0), &err, "rid");
        assert_eq!(j.headers()["x-amzn-query-error"], "RequestEntityTooLarge;Sender");
        assert_eq!(j.headers()["x-amzn-requestid"], "rid");
        let x = spec.error_response(Protocol::RestXml, &err, "rid");
        assert!(std::str::from_utf8(x.body())
            .unwrap()
            .contains("<Error><Code>RequestEntityTooLarge</Code>"));
    }
}
