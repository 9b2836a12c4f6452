//! The Runtime API (`2018-06-01`) an environment's runtime client speaks, on the environment's
//! own listener: `GET /runtime/invocation/next`, `POST /runtime/invocation/{id}/response`,
//! `POST /runtime/invocation/{id}/error`, `POST /runtime/init/error`. Answers and errors as the
//! Runtime Interface Emulator gives them (`202 {"status":"OK"}`; `400 InvalidRequestID`;
//! `403 InvalidStateTransition`; `413 RequestEntityTooLarge`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{Answer, Shared, MAX_RESPONSE_BYTES};

const PREFIX: &str = "/2018-06-01/runtime";

pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(&shared, req).await) }
            });
            // The runtime clients keep one connection alive; `/next` waits as long as it must.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn accepted() -> Response<Full<Bytes>> {
    reply(StatusCode::ACCEPTED, serde_json::json!({ "status": "OK" }))
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    reply(
        status,
        serde_json::json!({ "errorMessage": message, "errorType": error_type }),
    )
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return error(StatusCode::NOT_FOUND, "NotFound", "Not found");
    };
    let method = req.method().clone();
    match (method, rest) {
        (Method::GET, "/invocation/next") => next(shared).await,
        (Method::POST, "/init/error") => {
            let error_type = req
                .headers()
                .get("Lambda-Runtime-Function-Error-Type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("Runtime.Unknown")
                .to_owned();
            let body = match read_body(req).await {
                Ok(b) => b,
                Err(n) => return too_large(n),
            };
            shared.lock().init_error = Some((error_type, body));
            accepted()
        }
        (Method::POST, r) => {
            let Some((id, kind)) = r
                .strip_prefix("/invocation/")
                .and_then(|s| s.rsplit_once('/'))
                .map(|(id, kind)| (id.to_owned(), kind.to_owned()))
            else {
                return error(StatusCode::NOT_FOUND, "NotFound", "Not found");
            };
            if kind != "response" && kind != "error" {
                return error(StatusCode::NOT_FOUND, "NotFound", "Not found");
            }
            let body = read_body(req).await;
            let answer_to = {
                let mut st = shared.lock();
                match &st.current {
                    Some((current, _)) if *current == id => st.current.take().map(|(_, tx)| tx),
                    _ => None,
                }
            };
            let Some(tx) = answer_to else {
                return error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID");
            };
            match (kind.as_str(), body) {
                (_, Err(n)) => {
                    let _ = tx.send(Answer::TooLarge(n));
                    too_large(n)
                }
                ("response", Ok(b)) => {
                    let _ = tx.send(Answer::Response(b));
                    accepted()
                }
                (_, Ok(b)) => {
                    let _ = tx.send(Answer::Error(b));
                    accepted()
                }
            }
        }
        _ => error(StatusCode::NOT_FOUND, "NotFound", "Not found"),
    }
}

fn too_large(n: usize) -> Response<Full<Bytes>> {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes), got {n}"),
    )
}

/// The request body, or `Err(size)` when it is over the Runtime API's limit.
async fn read_body(req: Request<Incoming>) -> Result<Bytes, usize> {
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = declared.filter(|n| *n > MAX_RESPONSE_BYTES) {
        return Err(n);
    }
    match Limited::new(req.into_body(), MAX_RESPONSE_BYTES).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(_) => Err(declared.unwrap_or(MAX_RESPONSE_BYTES + 1)),
    }
}

/// Waits for the next invocation and hands it to the runtime with the headers the runtime
/// clients require.
async fn next(shared: &Shared) -> Response<Full<Bytes>> {
    if shared.lock().current.is_some() {
        return error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "State transition from Invoking to Ready failed for runtime. Error: the invocation was not answered",
        );
    }
    {
        let mut st = shared.lock();
        if st.first_next.is_none() {
            st.first_next = Some(Instant::now());
            shared.ready.notify_waiters();
        }
    }
    let pending = {
        let mut rx = shared.pending_rx.lock().await;
        rx.recv().await
    };
    let Some(p) = pending else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "The environment is stopping",
        );
    };
    let inv = p.invocation;
    {
        let mut st = shared.lock();
        st.current = Some((inv.request_id.clone(), p.answer));
        st.taken = Some(Instant::now());
    }
    let mut r = Response::new(Full::new(inv.payload));
    let h = r.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set("Content-Type", "application/json");
    set("Lambda-Runtime-Aws-Request-Id", &inv.request_id);
    set("Lambda-Runtime-Deadline-Ms", &p.deadline_epoch_ms.to_string());
    set("Lambda-Runtime-Invoked-Function-Arn", &inv.invoked_function_arn);
    if let Some(t) = &inv.trace_id {
        set("Lambda-Runtime-Trace-Id", t);
    }
    if let Some(c) = &inv.client_context {
        set("Lambda-Runtime-Client-Context", c);
    }
    if let Some(c) = &inv.cognito_identity {
        set("Lambda-Runtime-Cognito-Identity", c);
    }
    r
}
