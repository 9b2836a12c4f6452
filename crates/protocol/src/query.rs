//! The AWS query protocol: `Action=<Op>&Version=...&<params>` in a form body or the query string,
//! XML responses.
//!
//! Parameters are parsed once ([`Params::parse`]) and read through the model's flattenings:
//! `Name.N` ([`Params::list`]), `Name.member.N` ([`Params::member_list`]), `Name.N.Key` /
//! `Name.N.Value` ([`Params::pairs`]) and `Name.entry.N.key` / `.value` ([`Params::entry_map`]).
//!
//! A response is `<{Action}Response xmlns=...><{Action}Result>...</{Action}Result>
//! <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></{Action}Response>`
//! ([`QueryWriter`]); an error is `<ErrorResponse><Error><Type>Sender|Receiver</Type><Code>
//! <Message></Error><RequestId></ErrorResponse>` ([`error_body`]).

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use http::Response;
use lb_core::AwsError;

use crate::xml::{XmlWriter, DECLARATION};

/// The content type of query-protocol responses.
pub const CONTENT_TYPE: &str = "text/xml";

/// A request's parameters: the query string's, then the form body's (the body wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    map: HashMap<String, String>,
}

/// An integer parameter that is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnInteger {
    pub key: String,
    pub value: String,
}

impl Params {
    /// Parses the query string (without `?`) and a form body.
    pub fn parse(query: Option<&str>, form: &[u8]) -> Self {
        let mut map = HashMap::new();
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            map.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        if !form.is_empty() {
            map.extend(form_urlencoded::parse(form).into_owned());
        }
        Self { map }
    }

    /// Parameters from explicit pairs (tests, internal callers).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            map: pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        }
    }

    /// `Action`, when present and not empty.
    pub fn action(&self) -> Option<&str> {
        self.get("Action").filter(|a| !a.is_empty())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    pub fn string(&self, key: &str) -> Option<String> {
        self.map.get(key).cloned()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// An integer parameter (surrounding whitespace allowed).
    pub fn int(&self, key: &str) -> Result<Option<i64>, NotAnInteger> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| NotAnInteger {
                key: key.to_owned(),
                value: v.to_owned(),
            }),
        }
    }

    /// The `N`s of `{prefix}.N` and `{prefix}.N.*` keys, in order.
    pub fn indices(&self, prefix: &str) -> BTreeSet<u32> {
        self.map
            .keys()
            .filter_map(|k| {
                let rest = k.strip_prefix(prefix)?.strip_prefix('.')?;
                rest.split('.').next()?.parse::<u32>().ok()
            })
            .collect()
    }

    /// `{prefix}.1`, `{prefix}.2`, ... in index order (a flattened list).
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.indices(prefix)
            .into_iter()
            .filter_map(|n| self.string(&format!("{prefix}.{n}")))
            .collect()
    }

    /// `{prefix}.member.1`, `{prefix}.member.2`, ... (a wrapped list).
    pub fn member_list(&self, prefix: &str) -> Vec<String> {
        self.list(&format!("{prefix}.member"))
    }

    /// `{prefix}.N.{key}` / `{prefix}.N.{value}` pairs in index order (a flattened map, or a
    /// flattened list of key/value structures). Entries without a key are skipped; a missing
    /// value is empty.
    pub fn pairs(&self, prefix: &str, key: &str, value: &str) -> Vec<(String, String)> {
        self.indices(prefix)
            .into_iter()
            .filter_map(|n| {
                let k = self.string(&format!("{prefix}.{n}.{key}"))?;
                let v = self.string(&format!("{prefix}.{n}.{value}")).unwrap_or_default();
                Some((k, v))
            })
            .collect()
    }

    /// `{prefix}.entry.N.key` / `{prefix}.entry.N.value` (a wrapped map, e.g. SNS `Attributes`).
    pub fn entry_map(&self, prefix: &str) -> Vec<(String, String)> {
        self.pairs(&format!("{prefix}.entry"), "key", "value")
    }
}

/// A query-protocol success response under construction.
pub struct QueryWriter<'a> {
    w: XmlWriter,
    action: &'a str,
}

impl<'a> QueryWriter<'a> {
    /// Starts `<{action}Response xmlns="{xmlns}">`.
    pub fn start(action: &'a str, xmlns: &str) -> Self {
        let mut w = XmlWriter::with_declaration(DECLARATION);
        w.open2_ns(action, "Response", xmlns);
        Self { w, action }
    }

    /// `<{action}Result>`
    pub fn open_result(&mut self) -> &mut XmlWriter {
        self.w.open2(self.action, "Result");
        &mut self.w
    }

    /// `</{action}Result>`
    pub fn close_result(&mut self) {
        self.w.close2(self.action, "Result");
    }

    /// `<{action}Result/>`
    pub fn empty_result(&mut self) {
        self.w.empty2(self.action, "Result");
    }

    /// The writer, for content between [`Self::open_result`] and [`Self::close_result`].
    pub fn writer(&mut self) -> &mut XmlWriter {
        &mut self.w
    }

    /// Ends the response with its `ResponseMetadata`.
    pub fn finish(mut self, request_id: &str) -> String {
        self.w.open("ResponseMetadata");
        self.w.leaf("RequestId", request_id);
        self.w.close("ResponseMetadata");
        self.w.close2(self.action, "Response");
        self.w.finish()
    }
}

/// How a service writes its query error envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorStyle {
    /// The namespace on `<ErrorResponse>`, if the service writes one.
    pub xmlns: Option<&'static str>,
    /// Whether `<Error>` ends with an empty `<Detail/>` (SQS writes it).
    pub detail: bool,
}

/// `<ErrorResponse><Error><Type>..</Type><Code>..</Code><Message>..</Message></Error>
/// <RequestId>..</RequestId></ErrorResponse>`. `message` may differ from `err.message` where a
/// service words an error differently in this protocol.
pub fn error_body(err: &AwsError, message: &str, request_id: &str, style: ErrorStyle) -> String {
    let mut w = XmlWriter::with_declaration(DECLARATION);
    match style.xmlns {
        Some(ns) => w.open_ns("ErrorResponse", ns),
        None => w.open("ErrorResponse"),
    };
    w.open("Error");
    w.leaf("Type", if err.sender_fault { "Sender" } else { "Receiver" });
    w.leaf("Code", &err.code);
    w.leaf("Message", message);
    if style.detail {
        w.empty("Detail");
    }
    w.close("Error");
    w.leaf("RequestId", request_id);
    w.close("ErrorResponse");
    w.finish()
}

/// A success response: status 200, [`CONTENT_TYPE`], the request id header.
pub fn response(body: String, request_id: &str) -> Response<Bytes> {
    crate::respond(200, CONTENT_TYPE, Bytes::from(body), request_id)
}

/// An error in the query envelope with its status.
pub fn error_response(err: &AwsError, message: &str, request_id: &str, style: ErrorStyle) -> Response<Bytes> {
    crate::respond(
        err.status,
        CONTENT_TYPE,
        Bytes::from(error_body(err, message, request_id, style)),
        request_id,
    )
}

/// Answers one query-protocol request: its `Action` (or the classified operation) is handed to
/// `handler` with the parameters and the writer of `<{Action}Result>`; actions in `no_output`
/// answer with the response metadata only. Errors come back in `spec`'s envelope.
pub fn answer(
    spec: &crate::ServiceSpec,
    req: &crate::ApiRequest,
    no_output: &[&str],
    handler: impl FnOnce(&str, &Params, &mut XmlWriter) -> Result<(), AwsError>,
) -> Response<Bytes> {
    let rid = &req.ctx.request_id;
    let empty = Params::default();
    let params = req.params.as_ref().unwrap_or(&empty);
    let action = params.action().unwrap_or(&req.operation);
    let result = if action.is_empty() {
        Err(AwsError::new("MissingAction", 400, "Missing Action"))
    } else {
        let mut q = QueryWriter::start(action, spec.xmlns);
        if no_output.contains(&action) {
            // Nothing but the response metadata: the handler's writer is scratch.
            handler(action, params, &mut XmlWriter::new()).map(|()| q.finish(rid))
        } else {
            handler(action, params, q.open_result()).map(|()| {
                q.close_result();
                q.finish(rid)
            })
        }
    };
    match result {
        Ok(body) => response(body, rid),
        Err(e) => {
            tracing::debug!(service = spec.name, op = action, code = %e.code, message = %e.message, "error");
            error_response(&e, &e.message, rid, spec.query_errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattenings() {
        let p = Params::parse(
            Some("Action=X&AttributeName.2=b&AttributeName.1=a"),
            b"Tag.1.Key=k&Tag.1.Value=v&Tag.2.Value=orphan&Ids.member.1=m1&Ids.member.2=m2\
              &Attributes.entry.1.key=Policy&Attributes.entry.1.value=p&Action=Y&N=%2042%20&Bad=x",
        );
        assert_eq!(p.action(), Some("Y"), "the body wins");
        assert_eq!(p.list("AttributeName"), ["a", "b"]);
        assert_eq!(p.pairs("Tag", "Key", "Value"), [("k".to_owned(), "v".to_owned())]);
        assert_eq!(p.member_list("Ids"), ["m1", "m2"]);
        assert_eq!(p.entry_map("Attributes"), [("Policy".to_owned(), "p".to_owned())]);
        assert_eq!(p.int("N"), Ok(Some(42)));
        assert_eq!(p.int("Missing"), Ok(None));
        assert_eq!(
            p.int("Bad"),
            Err(NotAnInteger {
                key: "Bad".into(),
                value: "x".into()
            })
        );
        assert_eq!(Params::parse(None, b"Action=").action(), None);
    }

    #[test]
    fn response_envelope() {
        let mut q = QueryWriter::start("GetQueueUrl", "http://queue.amazonaws.com/doc/2012-11-05/");
        q.open_result().leaf("QueueUrl", "http://h/1/q");
        q.close_result();
        assert_eq!(
            q.finish("rid"),
            "<?xml version=\"1.0\"?><GetQueueUrlResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">\
             <GetQueueUrlResult><QueueUrl>http://h/1/q</QueueUrl></GetQueueUrlResult>\
             <ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetQueueUrlResponse>"
        );
        let mut q = QueryWriter::start("ListQueues", "ns");
        q.empty_result();
        assert!(q.finish("r").contains("<ListQueuesResult/><ResponseMetadata>"));
    }

    #[test]
    fn error_envelope() {
        let err = AwsError::new("InvalidAction", 400, "The action X is not valid for this endpoint.");
        let sqs = ErrorStyle {
            xmlns: Some("http://queue.amazonaws.com/doc/2012-11-05/"),
            detail: true,
        };
        assert_eq!(
            error_body(&err, &err.message, "rid", sqs),
            "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">\
             <Error><Type>Sender</Type><Code>InvalidAction</Code><Message>The action X is not valid for this endpoint.</Message><Detail/></Error>\
             <RequestId>rid</RequestId></ErrorResponse>"
        );
        let e = AwsError::new("NotImplemented", 501, "a<b");
        let r = error_response(&e, &e.message, "R", ErrorStyle::default());
        assert_eq!(r.status(), 501);
        assert_eq!(r.headers()["content-type"], CONTENT_TYPE);
        assert_eq!(r.headers()["x-amzn-requestid"], "R");
        let body = std::str::from_utf8(r.body()).unwrap();
        assert!(body.ends_with(
            "<ErrorResponse><Error><Type>Receiver</Type><Code>NotImplemented</Code><Message>a&lt;b</Message></Error><RequestId>R</RequestId></ErrorResponse>"
        ));
    }
}
