//! localbridge's own endpoints under `/_localbridge/`:
//! - `GET /health`: status, the registered services, the delivery engine's totals.
//! - `GET|POST /clock`: the time and the clock's mode; POST `{"advanceSeconds": N}` moves a
//!   manual clock forward (everything due fires, in order).
//! - `GET /ledger?target=&producer=&fate=&limit=`: the delivery ledger, newest first.
//! - `GET /metrics`: Prometheus text format.
//! - `POST /clock/wait`: answers when the clock reaches a time (see [`crate::clock_wait`]).
//! - anything else: a service's own endpoint ([`lb_protocol::Service::admin`] for GET,
//!   `admin_post` for POST; S3: `POST /s3/lose-object`).

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, Response};
use lb_core::clock::ClockMode;
use lb_core::deliver::{Fate, LedgerQuery};
use serde::Deserialize;

use crate::{json_response, plain_json, Gateway};

/// The Prometheus text format's content type.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

pub(crate) async fn handle(gw: &Gateway, parts: &Parts, body: &Bytes) -> (Response<Bytes>, &'static str) {
    let path = parts.uri.path().trim_start_matches(crate::classify::INTERNAL_PREFIX);
    let m = &parts.method;
    match path {
        "health" if matches!(*m, Method::GET | Method::HEAD) => (health(gw), "health"),
        "clock" if *m == Method::GET => (clock_now(gw), "clock"),
        "clock" if *m == Method::POST => (advance(gw, body).await, "clock"),
        "clock/wait" if *m == Method::POST => (crate::clock_wait::wait(gw, body).await, "clock-wait"),
        "ledger" if *m == Method::GET => (ledger(gw, parts.uri.query()), "ledger"),
        "metrics" if *m == Method::GET => {
            let mut text = gw.metrics.render(&gw.engine);
            for s in gw.table.services() {
                s.metrics(&mut text);
            }
            let mut resp = Response::new(Bytes::from(text));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(METRICS_CONTENT_TYPE),
            );
            (resp, "metrics")
        }
        "health" | "clock" | "clock/wait" | "ledger" | "metrics" => (
            plain_json(405, "MethodNotAllowed", "method not allowed on this endpoint"),
            "unknown",
        ),
        _ => {
            let owned = (*m == Method::GET)
                .then(|| {
                    gw.table
                        .services()
                        .iter()
                        .find_map(|s| s.admin(path, parts.uri.query()))
                })
                .flatten();
            let waiting = || {
                (*m == Method::GET)
                    .then(|| {
                        gw.table
                            .services()
                            .iter()
                            .find_map(|s| s.admin_wait(path, parts.uri.query()))
                    })
                    .flatten()
            };
            let owned = owned.or_else(|| {
                (*m == Method::POST)
                    .then(|| {
                        gw.table
                            .services()
                            .iter()
                            .chain(std::iter::once(&gw.fallback))
                            .find_map(|s| s.admin_post(path, body))
                    })
                    .flatten()
            });
            match owned {
                Some(resp) => (resp, "service"),
                None => match waiting() {
                    Some(answer) => (answer.await, "service"),
                    None => (plain_json(404, "NotFound", "no such localbridge endpoint"), "unknown"),
                },
            }
        }
    }
}

fn health(gw: &Gateway) -> Response<Bytes> {
    let services: serde_json::Map<String, serde_json::Value> = gw
        .service_names()
        .into_iter()
        .map(|n| (n.to_owned(), "running".into()))
        .collect();
    let body = serde_json::json!({
        "status": "running",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": gw.started.elapsed().as_secs_f64(),
        "services": services,
        "clock": gw.clock.mode(),
        "delivery": gw.engine.stats(),
    });
    json_response(200, body.to_string())
}

fn clock_body(mode: ClockMode, now_millis: u64) -> Response<Bytes> {
    let body = serde_json::json!({
        "now": lb_core::clock::rfc3339(now_millis),
        "mode": mode,
    });
    json_response(200, body.to_string())
}

fn clock_now(gw: &Gateway) -> Response<Bytes> {
    clock_body(gw.clock.mode(), gw.clock.now_millis())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    #[serde(rename = "advanceSeconds")]
    advance_seconds: f64,
}

/// The most a single POST may move the clock: 10 years.
const MAX_ADVANCE_SECONDS: f64 = 10.0 * 366.0 * 24.0 * 3600.0;

async fn advance(gw: &Gateway, body: &Bytes) -> Response<Bytes> {
    let Some(manual) = gw.clock.as_manual() else {
        return plain_json(
            400,
            "ClockNotManual",
            "the clock follows the system time; start the server with `--clock manual` to move it",
        );
    };
    let req: Advance = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return plain_json(
                400,
                "InvalidRequest",
                &format!("expected a JSON body {{\"advanceSeconds\": N}}: {e}"),
            )
        }
    };
    if !req.advance_seconds.is_finite() || !(0.0..=MAX_ADVANCE_SECONDS).contains(&req.advance_seconds) {
        return plain_json(
            400,
            "InvalidRequest",
            "advanceSeconds must be a number from 0 to 316224000 (10 years)",
        );
    }
    // Whole milliseconds; the bound above keeps the product far inside u64.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let millis = (req.advance_seconds * 1000.0).round() as u64;
    let now = manual.step(millis).await;
    clock_body(ClockMode::Manual, now)
}

fn ledger(gw: &Gateway, query: Option<&str>) -> Response<Bytes> {
    let mut q = LedgerQuery::default();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "target" => q.target = Some(v.into_owned()),
            "producer" => q.producer = Some(v.into_owned()),
            "fate" => match Fate::parse(&v) {
                Some(f) => q.fate = Some(f),
                None => {
                    return plain_json(
                        400,
                        "InvalidParameterValue",
                        &format!("fate must be one of pending, delivered, dead-lettered, dropped (got {v:?})"),
                    )
                }
            },
            "limit" => match v.parse::<usize>() {
                Ok(n) => q.limit = Some(n),
                Err(_) => {
                    return plain_json(
                        400,
                        "InvalidParameterValue",
                        &format!("limit must be a non-negative integer (got {v:?})"),
                    )
                }
            },
            _ => {}
        }
    }
    let records = gw.engine.ledger().query(&q);
    json_response(200, serde_json::json!({ "records": records }).to_string())
}
