//! `POST /_localbridge/clock/wait`: a long poll on the server's clock, so that a client (the
//! `localbridge replay` command) paces itself by the server's time, not its own. On the system
//! clock it is plain waiting; on `--clock manual`, the client moves exactly when a test advances
//! the clock.
//!
//! Body: `{"until": <epoch ms>, "timeout": <seconds, default 20, at most 60>, "session": "<id>"}`.
//! Answer (200): `{"reached": bool, "now": "<RFC 3339>", "nowMillis": <epoch ms>, "mode": ...}`;
//! `reached` is false when `timeout` (wall-clock seconds: it bounds the HTTP request) passed
//! first, and the client asks again.
//!
//! **Sessions keep a manual clock's step at the client's deadline.** `POST /_localbridge/clock`
//! moves a manual clock one due deadline at a time and lets the tasks woken at each deadline run
//! before it moves on ([`lb_core::ManualClock::step`]). A client across HTTP is such a task only
//! if the step waits for its round trip: with a `session`, the wait fired at a deadline holds the
//! step (a [`ClockHold`]) until the same session's next wait is registered, or until it sends
//! `{"session": "<id>", "release": true}` — so everything the client does at time T (its
//! PutEvents) happens at T, before the clock moves on. A session that never comes back is
//! released after [`LEASE`] of wall time (and the step itself stops waiting for a holder after
//! about a second). Without a session nothing is held.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use lb_core::clock::ClockHold;
use serde::Deserialize;

use crate::{json_response, plain_json, Gateway};

/// The longest one wait may last.
const MAX_TIMEOUT_SECONDS: f64 = 60.0;
const DEFAULT_TIMEOUT_SECONDS: f64 = 20.0;
/// How long a session's hold outlives a client that does not come back (wall time).
pub const LEASE: Duration = Duration::from_secs(2);
/// Sessions holding at once; beyond it, waits hold nothing.
const MAX_SESSIONS: usize = 1024;

/// The holds of the sessions, by session id.
#[derive(Default)]
pub(crate) struct Sessions {
    // A std mutex: held to insert or remove one entry, never across an await.
    held: Mutex<HashMap<String, Held>>,
    generation: AtomicU64,
}

struct Held {
    generation: u64,
    _hold: ClockHold,
}

impl Sessions {
    fn release(&self, session: &str) {
        let held = self.lock().remove(session);
        drop(held);
    }

    /// Keeps `hold` for `session` until its next wait, its release or the lease's end.
    fn keep(self: &Arc<Self>, session: String, hold: ClockHold) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let previous = {
            let mut held = self.lock();
            if held.len() >= MAX_SESSIONS && !held.contains_key(&session) {
                return;
            }
            held.insert(
                session.clone(),
                Held {
                    generation,
                    _hold: hold,
                },
            )
        };
        drop(previous);
        let sessions = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(LEASE).await;
            let expired = {
                let mut held = sessions.lock();
                match held.get(&session) {
                    Some(h) if h.generation == generation => held.remove(&session),
                    _ => None,
                }
            };
            drop(expired);
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitRequest {
    until: Option<u64>,
    timeout: Option<f64>,
    session: Option<String>,
    #[serde(default)]
    release: bool,
}

fn answer(gw: &Gateway, reached: bool) -> Response<Bytes> {
    let now = gw.clock.now_millis();
    let body = serde_json::json!({
        "reached": reached,
        "now": lb_core::clock::rfc3339(now),
        "nowMillis": now,
        "mode": gw.clock.mode(),
    });
    json_response(200, body.to_string())
}

pub(crate) async fn wait(gw: &Gateway, body: &Bytes) -> Response<Bytes> {
    let req: WaitRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return plain_json(
                400,
                "InvalidRequest",
                &format!("expected a JSON body {{\"until\": <epoch milliseconds>, \"timeout\": <seconds>, \"session\": \"<id>\"}}: {e}"),
            )
        }
    };
    if let Some(s) = &req.session {
        if s.is_empty() || s.len() > 128 {
            return plain_json(400, "InvalidRequest", "session must be 1 to 128 characters");
        }
    }
    if req.release {
        if let Some(s) = &req.session {
            gw.clock_waits.release(s);
        }
        return answer(gw, gw.clock.now_millis() >= req.until.unwrap_or(0));
    }
    let Some(until) = req.until else {
        return plain_json(400, "InvalidRequest", "until (epoch milliseconds) is required");
    };
    let timeout = req.timeout.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    if !timeout.is_finite() || !(0.0..=MAX_TIMEOUT_SECONDS).contains(&timeout) {
        return plain_json(400, "InvalidRequest", "timeout must be 0 to 60 seconds");
    }
    // Registered before the session's previous hold goes, so a step in progress sees the next
    // deadline before it may move on.
    let sleep = gw.clock.sleep_until_held(until);
    if let Some(s) = &req.session {
        gw.clock_waits.release(s);
    }
    match tokio::time::timeout(Duration::from_secs_f64(timeout), sleep).await {
        Ok(hold) => {
            match req.session {
                Some(s) => gw.clock_waits.keep(s, hold),
                None => drop(hold),
            }
            answer(gw, true)
        }
        Err(_) => answer(gw, false),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use http::Request;
    use http_body_util::Full;
    use lb_core::deliver::{Engine, EngineConfig, Registry};
    use lb_core::{Clock, ManualClock, SystemClock};
    use serde_json::{json, Value};

    use crate::Gateway;

    fn gateway(clock: Arc<dyn Clock>) -> Arc<Gateway> {
        let engine = Engine::new(Arc::new(Registry::new()), Arc::clone(&clock), EngineConfig::default());
        Arc::new(Gateway::builder(engine, clock).build())
    }

    async fn post(gw: &Gateway, path: &str, body: Value) -> (u16, Value) {
        let req = Request::builder()
            .method("POST")
            .uri(path)
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let r = gw.call(None, req).await;
        (r.status().as_u16(), serde_json::from_slice(r.body()).unwrap())
    }

    const T: u64 = 1_700_000_000_000;

    /// A session's client acts at the server time its wait fired, however long it takes: the
    /// step waits for its next wait (or its release) before moving on.
    #[tokio::test]
    async fn a_session_holds_the_step_at_its_deadline() {
        let clock = Arc::new(ManualClock::new(T));
        let gw = gateway(clock.clone());
        let client = {
            let (gw, clock) = (Arc::clone(&gw), Arc::clone(&clock));
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for until in [T + 1_000, T + 2_000] {
                    let (status, a) =
                        post(&gw, "/_localbridge/clock/wait", json!({"until": until, "session": "s"})).await;
                    assert_eq!((status, &a["reached"]), (200, &json!(true)));
                    // Work that takes a while (a PutEvents round trip).
                    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
                    seen.push((a["nowMillis"].as_u64().unwrap(), clock.now_millis()));
                }
                let (status, _) = post(
                    &gw,
                    "/_localbridge/clock/wait",
                    json!({"session": "s", "release": true}),
                )
                .await;
                assert_eq!(status, 200);
                seen
            })
        };
        while clock.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        let (status, a) = post(&gw, "/_localbridge/clock", json!({"advanceSeconds": 5})).await;
        assert_eq!((status, a["now"].as_str()), (200, Some("2023-11-14T22:13:25Z")));
        assert_eq!(
            client.await.unwrap(),
            [(T + 1_000, T + 1_000), (T + 2_000, T + 2_000)],
            "each step of the client saw the clock where its wait fired"
        );
        assert!(gw.clock_waits.lock().is_empty());
    }

    #[tokio::test]
    async fn waits_time_out_and_bad_requests_are_refused() {
        let clock = Arc::new(ManualClock::new(T));
        let gw = gateway(clock);
        let (status, a) = post(
            &gw,
            "/_localbridge/clock/wait",
            json!({"until": T + 1, "timeout": 0.01}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            (&a["reached"], &a["nowMillis"], &a["mode"]),
            (&json!(false), &json!(T), &json!("manual"))
        );
        let (_, a) = post(&gw, "/_localbridge/clock/wait", json!({"until": 0})).await;
        assert_eq!(
            (&a["reached"], a["now"].as_str()),
            (&json!(true), Some("2023-11-14T22:13:20Z"))
        );
        for bad in [
            json!({}),
            json!({"until": 1, "timeout": 61}),
            json!({"until": 1, "session": ""}),
            json!({"until": "x"}),
            json!({"until": 1, "other": 1}),
        ] {
            let (status, _) = post(&gw, "/_localbridge/clock/wait", bad.clone()).await;
            assert_eq!(status, 400, "{bad}");
        }

        // On the system clock: plain waiting.
        let gw = gateway(Arc::new(SystemClock));
        let until = SystemClock.now_millis() + 20;
        let (_, a) = post(&gw, "/_localbridge/clock/wait", json!({"until": until, "session": "s"})).await;
        assert_eq!(a["reached"], true);
        assert!(a["nowMillis"].as_u64().unwrap() >= until);
    }
}
