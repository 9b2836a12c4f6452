//! Real processes: the shipped Python bootstrap running handlers written here.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

use super::test_support::{invocation, launch, Lines};
use super::*;

/// A directory with the bootstrap and `app.py` holding `code`.
fn function_dir(name: &str, code: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lb-lambda-test-{}-{name}-{}",
        std::process::id(),
        lb_core::ids::random_u64()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bootstrap.py"), PYTHON_BOOTSTRAP).unwrap();
    std::fs::write(dir.join("app.py"), code).unwrap();
    dir
}

async fn start(name: &str, code: &str) -> (Environment, Lines) {
    let dir = function_dir(name, code);
    let mut env: Vec<(String, String)> = vec![
        ("_HANDLER".into(), "app.handler".into()),
        ("LAMBDA_TASK_ROOT".into(), dir.display().to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), name.into()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "128".into()),
        ("AWS_EXECUTION_ENV".into(), "AWS_Lambda_python3.12".into()),
    ];
    if let Ok(path) = std::env::var("PATH") {
        env.push(("PATH".into(), path));
    }
    // LB_TEST_RIC_PYTHON=<python with awslambdaric> runs the same tests against the official
    // runtime client, which the shipped bootstrap imitates.
    let (program, args) = match std::env::var("LB_TEST_RIC_PYTHON") {
        Ok(python) => (
            python,
            vec!["-m".to_owned(), "awslambdaric".to_owned(), "app.handler".to_owned()],
        ),
        Err(_) => (
            "python3".to_owned(),
            vec![dir.join("bootstrap.py").display().to_string(), "app.handler".into()],
        ),
    };
    launch(
        program.into(),
        args,
        dir,
        env,
        "INIT_START Runtime Version: python:3.localbridge",
    )
    .await
}

const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_handler_answers_and_its_output_is_framed_by_start_end_report() {
    let (env, lines) = start(
        "ok",
        "import json\ndef handler(event, context):\n    print(json.dumps(event))\n    print('second\\nline')\n    return {'statusCode': 200, 'fn': context.function_name, 'left': context.get_remaining_time_in_millis() > 0}\n",
    )
    .await;
    let first = env.invoke(invocation("r1", r#"{"a": 1}"#, LONG)).await;
    assert_eq!(
        first.outcome,
        Outcome::Response(Bytes::from_static(br#"{"statusCode": 200, "fn": "ok", "left": true}"#))
    );
    assert!(first.init_duration.is_some(), "the first invocation reports init");
    let second = env.invoke(invocation("r2", "{}", LONG)).await;
    assert!(matches!(second.outcome, Outcome::Response(_)));
    assert!(second.init_duration.is_none(), "a warm invocation does not");
    let lines = lines.lock().unwrap().clone();
    assert_eq!(lines[0], "INIT_START Runtime Version: python:3.localbridge");
    assert_eq!(lines[1], "START RequestId: r1 Version: $LATEST");
    assert_eq!(lines[2], r#"{"a": 1}"#);
    assert_eq!(lines[3], "second");
    assert_eq!(lines[4], "line");
    assert_eq!(lines[5], "END RequestId: r1");
    assert!(lines[6].starts_with("REPORT RequestId: r1\tDuration: "), "{}", lines[6]);
    assert!(
        lines[6].contains("\tMemory Size: 128 MB\tMax Memory Used: "),
        "{}",
        lines[6]
    );
    assert!(
        lines[6].contains("\tInit Duration: ") && lines[6].ends_with(" ms\t"),
        "{}",
        lines[6]
    );
    assert_eq!(lines[7], "START RequestId: r2 Version: $LATEST");
    assert!(!lines[9].contains("Init Duration"), "{}", lines[9]);
    assert!(first.log.starts_with("START RequestId: r1") && first.log.contains("END RequestId: r1\nREPORT"));
}

#[tokio::test]
async fn an_exception_is_an_unhandled_function_error_with_its_log_record() {
    let (env, lines) = start(
        "err",
        "def inner():\n    raise ValueError('boom')\ndef handler(event, context):\n    inner()\n",
    )
    .await;
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    let Outcome::FunctionError(body) = &got.outcome else {
        panic!("{:?}", got.outcome)
    };
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["errorType"], "ValueError");
    assert_eq!(v["errorMessage"], "boom");
    assert_eq!(v["requestId"], "r1");
    assert!(v["stackTrace"][0].as_str().unwrap().contains("in handler"), "{v}");
    assert_eq!(got.outcome.error_type().as_deref(), Some("ValueError"));
    let lines = lines.lock().unwrap().clone();
    let record = lines.iter().find(|l| l.starts_with("[ERROR]")).unwrap();
    assert!(
        record.starts_with("[ERROR] ValueError: boom\rTraceback (most recent call last):\r\u{a0}\u{a0}File "),
        "{record:?}"
    );
    assert!(env.is_alive(), "a handled exception keeps the environment");
}

#[tokio::test]
async fn an_import_error_is_an_init_error() {
    let (env, lines) = start(
        "imp",
        "import nonexistent_module_xyz\ndef handler(e, c):\n    return 1\n",
    )
    .await;
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    let Outcome::InitError { error_type, body } = &got.outcome else {
        panic!("{:?}", got.outcome)
    };
    assert_eq!(error_type, "Runtime.ImportModuleError");
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        v["errorMessage"],
        "Unable to import module 'app': No module named 'nonexistent_module_xyz'"
    );
    assert_eq!(v["requestId"], "");
    let report = lines.lock().unwrap().last().cloned().unwrap();
    assert!(
        report.ends_with("Status: error\tError Type: Runtime.ImportModuleError"),
        "{report}"
    );
}

#[tokio::test]
async fn a_timeout_kills_the_environment() {
    let (env, lines) = start("slow", "import time\ndef handler(e, c):\n    time.sleep(60)\n").await;
    let got = env.invoke(invocation("r1", "{}", Duration::from_millis(1500))).await;
    assert_eq!(got.outcome, Outcome::Timeout);
    let v: serde_json::Value = serde_json::from_slice(&got.outcome.payload("r1", Duration::from_millis(1500))).unwrap();
    assert_eq!(v["errorType"], "Sandbox.Timedout");
    assert_eq!(
        v["errorMessage"],
        "RequestId: r1 Error: Task timed out after 1.50 seconds"
    );
    let report = lines.lock().unwrap().last().cloned().unwrap();
    assert!(
        report.contains("\tDuration: 1500.00 ms\t") && report.ends_with("Status: timeout"),
        "{report}"
    );
    let mut exited = env.exited.clone();
    assert_eq!(wait_exited(&mut exited).await, "signal: killed");
}

#[tokio::test]
async fn an_exit_during_an_invocation_is_an_exit_error() {
    let (env, _) = start("exit", "import sys\ndef handler(e, c):\n    sys.exit(3)\n").await;
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    assert_eq!(got.outcome, Outcome::ExitError("exit status 3".into()));
    let v: serde_json::Value = serde_json::from_slice(&got.outcome.payload("r1", LONG)).unwrap();
    assert_eq!(v["errorType"], "Runtime.ExitError");
    assert_eq!(
        v["errorMessage"],
        "RequestId: r1 Error: Runtime exited with error: exit status 3"
    );
    assert!(!env.is_alive());
}

#[tokio::test]
async fn output_during_init_comes_before_start() {
    let (env, lines) = start(
        "init",
        "print('loading model')\ndef handler(e, c):\n    print('handling')\n    return 1\n",
    )
    .await;
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    assert_eq!(got.outcome, Outcome::Response(Bytes::from_static(b"1")));
    let lines = lines.lock().unwrap().clone();
    assert_eq!(lines[1], "loading model");
    assert_eq!(lines[2], "START RequestId: r1 Version: $LATEST");
    assert_eq!(lines[3], "handling");
}

#[tokio::test]
async fn max_memory_counts_the_processes_a_function_starts() {
    // A background child touches 64 MB and stays while the handler answers.
    let (env, _) = start(
        "tree",
        "import subprocess, sys, time\ndef handler(e, c):\n    p = subprocess.Popen([sys.executable, '-c', 'import sys, time; b = bytearray(64 * 1024 * 1024); b[::4096] = bytes(len(b[::4096])); print(\"ready\", flush=True); time.sleep(30)'], stdout=subprocess.PIPE)\n    p.stdout.readline()\n    return 1\n",
    )
    .await;
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    assert_eq!(got.outcome, Outcome::Response(Bytes::from_static(b"1")));
    assert!(got.max_memory_mb >= 64, "{} MB", got.max_memory_mb);
    // Dropping the environment kills the whole group, the child included.
}
