//! In-process gateway tests: the whole request path without a socket ([`Gateway::call`]), and the
//! server itself on a loopback socket for what only a connection shows (request targets, header
//! timeouts).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use lb_core::deliver::{Engine, EngineConfig, Registry};
use lb_core::{Clock, ManualClock, SystemClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn gateway_with(clock: Arc<dyn Clock>, config: GatewayConfig) -> Gateway {
    let registry = Arc::new(Registry::new());
    let engine = Engine::new(Arc::clone(&registry), Arc::clone(&clock), EngineConfig::default());
    let sqs = Arc::new(lb_sqs::Sqs::new(Arc::clone(&clock)));
    Gateway::builder(engine, clock)
        .config(config)
        .service(lb_sqs::api::SqsApi::new(sqs))
        .build()
}

fn gateway() -> Gateway {
    gateway_with(Arc::new(SystemClock), GatewayConfig::default())
}

async fn call(gw: &Gateway, req: Request<Full<Bytes>>) -> Response<Bytes> {
    gw.call(None, req).await
}

fn req(method: &str, uri: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(body.into())).unwrap()
}

fn text(r: &Response<Bytes>) -> &str {
    std::str::from_utf8(r.body()).unwrap()
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

#[tokio::test]
async fn sqs_json_and_query_through_the_table() {
    let gw = gateway();
    let r = call(
        &gw,
        req(
            "POST",
            "/",
            &[("x-amz-target", "AmazonSQS.CreateQueue"), ("host", "h:1")],
            r#"{"QueueName":"q"}"#,
        ),
    )
    .await;
    assert_eq!(
        (r.status().as_u16(), text(&r)),
        (200, r#"{"QueueUrl":"http://h:1/000000000000/q"}"#)
    );
    let r = call(
        &gw,
        req("POST", "/000000000000/q", &[FORM], "Action=SendMessage&MessageBody=hi"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(text(&r).contains("<SendMessageResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">"));
    // The account follows a 12-digit access key.
    let auth =
        "AWS4-HMAC-SHA256 Credential=111122223333/20260101/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=0";
    let r = call(
        &gw,
        req(
            "POST",
            "/",
            &[("authorization", auth), FORM, ("host", "h:1")],
            "Action=CreateQueue&QueueName=q2",
        ),
    )
    .await;
    assert!(text(&r).contains("/111122223333/q2</QueueUrl>"), "{}", text(&r));
}

#[tokio::test]
async fn an_oversized_query_request_gets_the_query_envelope() {
    let gw = gateway();
    let big = vec![b'a'; MAX_API_BODY + 1];
    let r = call(&gw, req("POST", "/", &[FORM], big.clone())).await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "text/xml");
    let body = text(&r);
    assert!(body.contains("<ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><Error><Type>Sender</Type><Code>RequestEntityTooLarge</Code>"), "{body}");
    let rid = r.headers()["x-amzn-requestid"].to_str().unwrap();
    assert!(body.contains(&format!("<RequestId>{rid}</RequestId>")) && !rid.is_empty());
    // Signed for sqs (classified first): the same envelope.
    let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0";
    let r = call(&gw, req("POST", "/", &[FORM, ("authorization", auth)], big)).await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "text/xml");
    // JSON 1.0 requests get the JSON envelope with the query code.
    let r = call(
        &gw,
        req(
            "POST",
            "/",
            &[
                ("x-amz-target", "AmazonSQS.SendMessage"),
                ("content-length", "99999999"),
            ],
            "{}",
        ),
    )
    .await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.0");
    assert_eq!(r.headers()["x-amzn-query-error"], "RequestEntityTooLarge;Sender");
}

#[tokio::test]
async fn query_over_get_and_queue_urls() {
    let gw = gateway();
    let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0";
    let r = call(&gw, req("GET", "/000000000000/q", &[("authorization", auth)], "")).await;
    assert_eq!(r.status(), 404);
    assert!(text(&r).contains("<Code>UnknownOperationException</Code>"));
    let r = call(
        &gw,
        req("GET", "/000000000000/q?Action=CreateQueue&QueueName=x", &[], ""),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(text(&r).contains("<Code>InvalidAction</Code>"), "{}", text(&r));
    let r = call(&gw, req("GET", "/000000000000/q?Action=ListQueues", &[], "")).await;
    assert!(text(&r).contains("<Code>InvalidAction</Code>"));
    let r = call(&gw, req("GET", "/?Action=ListQueues", &[], "")).await;
    assert_eq!(r.status(), 200);
    // Accept: application/json: the JSON 1.0 answer of the awsQueryCompatible service.
    let r = call(
        &gw,
        req(
            "GET",
            "/?Action=CreateQueue&QueueName=j",
            &[("accept", "application/json"), ("host", "h")],
            "",
        ),
    )
    .await;
    assert_eq!(
        (r.status().as_u16(), text(&r)),
        (200, r#"{"QueueUrl":"http://h/000000000000/j"}"#)
    );
    assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.0");
    let r = call(
        &gw,
        req(
            "GET",
            "/?Action=GetQueueUrl&QueueName=nope",
            &[("accept", "application/json")],
            "",
        ),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()["x-amzn-query-error"],
        "AWS.SimpleQueueService.NonExistentQueue;Sender"
    );
}

#[tokio::test]
async fn unserved_services_and_fallback() {
    let gw = gateway();
    let r = call(
        &gw,
        req(
            "POST",
            "/",
            &[("x-amz-target", "Firehose_20150804.ListDeliveryStreams")],
            "{}",
        ),
    )
    .await;
    assert_eq!(r.status(), 501);
    assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.1");
    let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0";
    let r = call(
        &gw,
        req("POST", "/", &[("authorization", auth), FORM], "Action=ListTopics"),
    )
    .await;
    assert_eq!(r.status(), 501);
    assert!(text(&r).contains("<Type>Receiver</Type><Code>NotImplemented</Code>"));
    // No fallback registered: NotImplemented in S3's (rest-xml) shape.
    let r = call(&gw, req("GET", "/bucket/key", &[], "")).await;
    assert_eq!(r.status(), 501);
}

#[tokio::test]
async fn internal_endpoints() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let gw = gateway_with(clock.clone(), GatewayConfig::default());
    let r = call(&gw, req("GET", "/_localbridge/health", &[], "")).await;
    let doc: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(
        doc["services"],
        serde_json::json!({"sqs": "running", "none": "running"})
    );
    assert_eq!(doc["delivery"]["submitted"], 0);
    assert_eq!(doc["clock"], "manual");

    let r = call(&gw, req("GET", "/_localbridge/clock", &[], "")).await;
    assert_eq!(text(&r), r#"{"mode":"manual","now":"2023-11-14T22:13:20Z"}"#);
    let r = call(
        &gw,
        req("POST", "/_localbridge/clock", &[], r#"{"advanceSeconds": 90}"#),
    )
    .await;
    assert_eq!(text(&r), r#"{"mode":"manual","now":"2023-11-14T22:14:50Z"}"#);
    assert_eq!(clock.now_millis(), 1_700_000_090_000);
    for bad in [r#"{"advanceSeconds": -1}"#, "{}", "nope", r#"{"advanceSeconds": "1"}"#] {
        let r = call(&gw, req("POST", "/_localbridge/clock", &[], bad)).await;
        assert_eq!(r.status(), 400, "{bad}");
    }

    let r = call(&gw, req("GET", "/_localbridge/ledger?fate=delivered&limit=5", &[], "")).await;
    assert_eq!((r.status().as_u16(), text(&r)), (200, r#"{"records":[]}"#));
    let r = call(&gw, req("GET", "/_localbridge/ledger?fate=lost", &[], "")).await;
    assert_eq!(r.status(), 400);

    let _ = call(&gw, req("POST", "/", &[("x-amz-target", "AmazonSQS.ListQueues")], "{}")).await;
    let r = call(&gw, req("GET", "/_localbridge/metrics", &[], "")).await;
    assert_eq!(r.headers()["content-type"], "text/plain; version=0.0.4");
    let m = text(&r);
    assert!(
        m.contains("localbridge_requests_total{service=\"sqs\",operation=\"ListQueues\",status=\"200\"} 1"),
        "{m}"
    );
    assert!(m.contains("# TYPE localbridge_request_duration_seconds histogram"));
    assert!(m.contains("localbridge_requests_in_flight 1\n"), "the scrape itself");
    assert!(m.contains("localbridge_request_duration_seconds_bucket{service=\"sqs\",le=\"+Inf\"} 1"));
    assert!(m.contains("localbridge_request_duration_seconds_count{service=\"sqs\"} 1"));

    let r = call(&gw, req("GET", "/_localbridge/nope", &[], "")).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_system_clock_refuses_to_move() {
    let gw = gateway();
    let r = call(&gw, req("POST", "/_localbridge/clock", &[], r#"{"advanceSeconds": 1}"#)).await;
    assert_eq!(r.status(), 400);
    assert!(text(&r).contains("--clock manual"));
    let r = call(&gw, req("GET", "/_localbridge/clock", &[], "")).await;
    assert!(text(&r).contains(r#""mode":"system""#));
}

async fn start(config: GatewayConfig) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gw = Arc::new(gateway_with(Arc::new(SystemClock), config));
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(serve(listener, gw, async move {
        let _ = rx.await;
    }));
    (addr, tx)
}

async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Until the head of the response has arrived (or the server closes).
    while !out.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn authority_form_and_odd_targets_get_400() {
    let (addr, _stop) = start(GatewayConfig::default()).await;
    for request in [
        &b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n"[..],
        b"GET example.com:443 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ] {
        let resp = raw(addr, request).await;
        assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    }
    // The server still answers.
    let resp = raw(
        addr,
        b"GET /_localbridge/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

#[tokio::test]
async fn idle_and_slow_header_reads_time_out() {
    let (addr, _stop) = start(GatewayConfig {
        header_read_timeout: Duration::from_millis(300),
        ..GatewayConfig::default()
    })
    .await;
    // Idle: connected, nothing sent.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "an idle connection is closed");
    // Slow: headers a byte at a time, never finished.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        for b in b"GET /_localbridge/health HTTP/1.1\r\nHost: x\r\n".iter().cycle() {
            if slow.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "a slow header read is cut off");
}

#[tokio::test]
async fn bodies_give_their_budget_back() {
    let gw = gateway_with(
        Arc::new(SystemClock),
        GatewayConfig {
            max_body_in_flight: 64 * 1024 * 1024,
            ..GatewayConfig::default()
        },
    );
    let r = call(
        &gw,
        req(
            "PUT",
            "/bucket/key",
            &[("content-length", "5368709120")],
            vec![0u8; 128 * 1024],
        ),
    )
    .await;
    assert_eq!(
        r.status(),
        400,
        "over the fallback's limit (EntityTooLarge), refused before reading"
    );
    let r = call(&gw, req("POST", "/000000000000/q", &[FORM], "Action=ListQueues")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(gw.budget.available(), 64 * 1024 * 1024);
}
