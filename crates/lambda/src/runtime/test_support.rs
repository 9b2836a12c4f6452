//! What the runtime tests share: an environment started with a recording log, and an
//! invocation.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use lb_core::SystemClock;

use super::{Environment, Invocation, Launch, LogLine};

/// The log lines an environment wrote, in order.
pub(super) type Lines = Arc<Mutex<Vec<String>>>;

/// Starts `program` with `args` in `cwd` and `env`, its log recorded; `init_start` is its first
/// log line.
pub(super) async fn launch(
    program: PathBuf,
    args: Vec<String>,
    cwd: PathBuf,
    env: Vec<(String, String)>,
    init_start: &str,
) -> (Environment, Lines) {
    let lines: Lines = Arc::default();
    let sink = Arc::clone(&lines);
    let launch = Launch {
        program,
        args,
        cwd,
        env,
        version: "$LATEST".into(),
        memory_mb: 128,
        init_start: Some(init_start.to_owned()),
        logs: Arc::new(move |l: LogLine| sink.lock().unwrap().push(l.message)),
        clock: Arc::new(SystemClock),
        json_platform: false,
        function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
    };
    (Environment::start(launch).await.unwrap(), lines)
}

pub(super) fn invocation(id: &str, payload: &str, timeout: Duration) -> Invocation {
    Invocation {
        request_id: id.into(),
        payload: Bytes::from(payload.to_owned()),
        timeout,
        invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        trace_id: None,
        client_context: None,
        cognito_identity: None,
    }
}
