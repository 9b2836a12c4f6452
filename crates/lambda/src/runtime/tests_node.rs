//! Real processes: Node.js handlers through the shipped bootstrap (`bootstrap/node.mjs`), and, in
//! the second section, `provided.*` custom runtimes (a `bootstrap` executable of the function's
//! own, here a Python script speaking the Runtime API).
//!
//! Each test returns early, with a note, when the interpreter it needs is not on `PATH`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;

use super::test_support::{invocation, launch, Lines};
use super::*;

/// A task root's files: (path, contents).
type Files<'a> = &'a [(&'a str, &'a str)];

const LONG: Duration = Duration::from_secs(60);

fn on_path(program: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipped: `{program}` is not on PATH");
    }
    found
}

/// A fresh directory under the system's temp dir.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lb-lambda-test-{}-{name}-{}",
        std::process::id(),
        lb_core::ids::random_u64()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_files(root: &Path, files: Files) {
    for (path, text) in files {
        let p = root.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, text).unwrap();
    }
}

fn base_env(name: &str, task_root: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("LAMBDA_TASK_ROOT".into(), task_root.display().to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), name.into()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "128".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME".into(),
            "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef".into(),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
        ("TZ".into(), ":UTC".into()),
    ];
    if let Ok(path) = std::env::var("PATH") {
        env.push(("PATH".into(), path));
    }
    env
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

/// The lines from `START RequestId: <id>` to its `END` (both excluded).
fn between(lines: &Lines, id: &str) -> Vec<String> {
    let lines = lines.lock().unwrap().clone();
    let start = lines
        .iter()
        .position(|l| *l == format!("START RequestId: {id} Version: $LATEST"))
        .unwrap_or_else(|| panic!("no START for {id}: {lines:#?}"));
    let end = lines
        .iter()
        .position(|l| *l == format!("END RequestId: {id}"))
        .unwrap_or_else(|| panic!("no END for {id}: {lines:#?}"));
    lines[start + 1..end].to_vec()
}

// ---------------------------------------------------------------------------------------------
// Node.js

/// Starts `node <runtime dir>/node.mjs` on a task root holding `files`.
async fn start_node(
    name: &str,
    files: Files<'_>,
    handler: &str,
    extra_env: &[(&str, &str)],
) -> Option<(Environment, Lines, PathBuf)> {
    if !on_path("node") {
        return None;
    }
    let dir = fresh_dir(name);
    let runtime_dir = dir.join("runtime");
    let task_root = dir.join("task");
    std::fs::create_dir_all(&runtime_dir).unwrap();
    std::fs::create_dir_all(&task_root).unwrap();
    let bootstrap = runtime_dir.join("node.mjs");
    std::fs::write(&bootstrap, NODE_BOOTSTRAP).unwrap();
    write_files(&task_root, files);
    let mut env = base_env(name, &task_root);
    env.push(("_HANDLER".into(), handler.into()));
    env.push(("AWS_EXECUTION_ENV".into(), "AWS_Lambda_nodejs20.x".into()));
    env.extend(extra_env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let (environment, lines) = launch(
        "node".into(),
        vec![bootstrap.display().to_string()],
        task_root.clone(),
        env,
        "INIT_START Runtime Version: localbridge",
    )
    .await;
    Some((environment, lines, task_root))
}

/// A console record in the runtime's text format: `<ISO time>\t<request id>\t<LEVEL>\t<message>`;
/// the request id, level and message.
fn record(line: &str) -> (String, String, String) {
    let parts: Vec<&str> = line.splitn(4, '\t').collect();
    assert_eq!(parts.len(), 4, "not a console record: {line:?}");
    let ts = parts[0].as_bytes();
    assert!(
        ts.len() == 24 && ts[4] == b'-' && ts[10] == b'T' && ts[19] == b'.' && ts[23] == b'Z',
        "not an ISO time: {line:?}"
    );
    (parts[1].to_owned(), parts[2].to_owned(), parts[3].to_owned())
}

fn records(lines: &[String]) -> Vec<(String, String, String)> {
    lines.iter().map(|l| record(l)).collect()
}

fn rec(id: &str, level: &str, message: &str) -> (String, String, String) {
    (id.to_owned(), level.to_owned(), message.to_owned())
}

#[tokio::test]
async fn an_async_es_module_handler_answers_and_its_console_is_framed() {
    let Some((env, lines, _)) = start_node(
        "esm",
        &[(
            "index.mjs",
            "console.log('cold start');\n\
             export const handler = async (event, context) => {\n\
             \x20 console.log('hello', { x: 1 }, 42);\n\
             \x20 console.info('two\\nlines');\n\
             \x20 console.warn('careful %s', 'now');\n\
             \x20 console.error('bad');\n\
             \x20 console.debug('dbg');\n\
             \x20 process.stdout.write('raw stdout\\n');\n\
             \x20 return { got: event, fn: context.functionName, unicode: 'héllo' };\n\
             };\n",
        )],
        "index.handler",
        &[],
    )
    .await
    else {
        return;
    };
    let first = env.invoke(invocation("r1", r#"{"a":1}"#, LONG)).await;
    assert_eq!(
        first.outcome,
        Outcome::Response(Bytes::from(r#"{"got":{"a":1},"fn":"esm","unicode":"héllo"}"#))
    );
    assert!(first.init_duration.is_some());
    let second = env.invoke(invocation("r2", "[1,2]", LONG)).await;
    assert_eq!(
        second.outcome,
        Outcome::Response(Bytes::from(r#"{"got":[1,2],"fn":"esm","unicode":"héllo"}"#))
    );
    let all = lines.lock().unwrap().clone();
    assert_eq!(all[0], "INIT_START Runtime Version: localbridge");
    // Before the first invocation the request id is `undefined`, as the managed runtimes log it.
    // (Init output may be read after the first START: the environment reads the pipes then.)
    let init = all.iter().find(|l| l.ends_with("\tcold start")).unwrap();
    assert_eq!(record(init), rec("undefined", "INFO", "cold start"));
    let inside: Vec<String> = between(&lines, "r1").into_iter().filter(|l| l != init).collect();
    assert_eq!(inside.len(), 6, "{inside:#?}");
    assert_eq!(
        records(&inside[..5]),
        vec![
            rec("r1", "INFO", "hello { x: 1 } 42"),
            rec("r1", "INFO", "two\rlines"),
            rec("r1", "WARN", "careful now"),
            rec("r1", "ERROR", "bad"),
            rec("r1", "DEBUG", "dbg"),
        ]
    );
    assert_eq!(inside[5], "raw stdout");
    assert_eq!(between(&lines, "r2")[0].split('\t').nth(1), Some("r2"));
    assert!(all.last().unwrap().starts_with("REPORT RequestId: r2\t"));
}

#[tokio::test]
async fn a_common_js_callback_handler_answers_when_the_event_loop_is_empty() {
    let Some((env, lines, _)) = start_node(
        "cjs",
        &[(
            "app.js",
            "exports.handler = function (event, context, callback) {\n\
             \x20 if (event.noWait) context.callbackWaitsForEmptyEventLoop = false;\n\
             \x20 if (event.succeed) return context.succeed({ via: 'succeed' });\n\
             \x20 setTimeout(() => console.log('later', event.n), 150);\n\
             \x20 callback(null, { n: event.n, waits: context.callbackWaitsForEmptyEventLoop });\n\
             };\n",
        )],
        "app.handler",
        &[],
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", r#"{"n":1}"#, LONG)).await;
    assert_eq!(got.outcome, Outcome::Response(Bytes::from(r#"{"n":1,"waits":true}"#)));
    // The timer the handler left behind ran before the answer (callbackWaitsForEmptyEventLoop).
    let inside = records(&between(&lines, "r1"));
    assert_eq!(inside, vec![rec("r1", "INFO", "later 1")]);
    let got = env.invoke(invocation("r2", r#"{"succeed":true}"#, LONG)).await;
    assert_eq!(got.outcome, Outcome::Response(Bytes::from(r#"{"via":"succeed"}"#)));
    let got = env.invoke(invocation("r3", r#"{"n":3,"noWait":true}"#, LONG)).await;
    assert_eq!(got.outcome, Outcome::Response(Bytes::from(r#"{"n":3,"waits":false}"#)));
    assert!(env.is_alive());
}

#[tokio::test]
async fn a_package_json_of_type_module_makes_index_js_an_es_module() {
    let Some((env, _, _)) = start_node(
        "pkgmod",
        &[
            ("package.json", r#"{"type":"module"}"#),
            (
                "index.js",
                "import { basename } from 'node:path';\n\
                 export const nested = { deeper: { handler: async (e) => ({ esm: typeof require === 'undefined', base: basename('/a/b.txt'), e }) } };\n",
            ),
        ],
        "index.nested.deeper.handler",
        &[],
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", "7", LONG)).await;
    assert_eq!(
        got.outcome,
        Outcome::Response(Bytes::from(r#"{"esm":true,"base":"b.txt","e":7}"#))
    );
}

#[tokio::test]
async fn handlers_in_subdirectories_cjs_files_and_default_exports_are_found() {
    let Some((env, _, _)) = start_node(
        "paths",
        &[
            ("src/handlers/app.cjs", "module.exports.handler = async () => 'cjs';\n"),
            ("other.mjs", "export default { handler: async () => 'default' };\n"),
        ],
        "src/handlers/app.handler",
        &[],
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    assert_eq!(got.outcome, Outcome::Response(Bytes::from_static(br#""cjs""#)));
    let Some((env, _, _)) = start_node(
        "default",
        &[("other.mjs", "export default { handler: async () => undefined };\n")],
        "other.handler",
        &[],
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    // `undefined` is posted as `null`.
    assert_eq!(got.outcome, Outcome::Response(Bytes::from_static(b"null")));
}

#[tokio::test]
async fn a_thrown_error_is_a_function_error_with_its_trace_and_log_record() {
    let Some((env, lines, task_root)) = start_node(
        "throw",
        &[(
            "index.mjs",
            "function inner() { throw new Error('boom'); }\n\
             export const handler = async (event) => {\n\
             \x20 if (event.string) throw 'plain string';\n\
             \x20 if (event.callback) return new Promise(() => { throw new TypeError('typed'); });\n\
             \x20 inner();\n\
             };\n",
        )],
        "index.handler",
        &[],
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    let Outcome::FunctionError(body) = &got.outcome else {
        panic!("{:?}", got.outcome)
    };
    let v = json(body);
    assert_eq!(v["errorType"], "Error");
    assert_eq!(v["errorMessage"], "boom");
    let trace: Vec<&str> = v["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(trace[0], "Error: boom");
    let file_url = format!("file://{}/index.mjs:1:", task_root.display());
    assert!(
        trace[1].starts_with("    at inner (") && trace[1].contains(&file_url),
        "{trace:#?}"
    );
    assert!(
        body.starts_with(br#"{"errorType":"Error","errorMessage":"boom","trace":["Error: boom","    at inner ("#),
        "{v}"
    );
    assert_eq!(got.outcome.error_type().as_deref(), Some("Error"));
    let inside = between(&lines, "r1");
    assert_eq!(inside.len(), 1, "{inside:#?}");
    let (id, level, message) = record(&inside[0]);
    assert_eq!((id.as_str(), level.as_str()), ("r1", "ERROR"));
    let logged = message
        .strip_prefix("Invoke Error \t")
        .unwrap_or_else(|| panic!("{message:?}"));
    let logged = json(logged.as_bytes());
    assert_eq!(logged["errorType"], "Error");
    assert_eq!(logged["errorMessage"], "boom");
    assert_eq!(logged["stack"][0], "Error: boom");
    assert!(logged.get("trace").is_none());

    let got = env.invoke(invocation("r2", r#"{"string":true}"#, LONG)).await;
    assert_eq!(
        got.outcome,
        Outcome::FunctionError(Bytes::from_static(
            br#"{"errorType":"string","errorMessage":"plain string","trace":[]}"#
        ))
    );
    // The log shows it as an Error, as the managed runtime does.
    let (_, _, message) = record(&between(&lines, "r2")[0]);
    assert!(
        message.starts_with(
            r#"Invoke Error 	{"errorType":"Error","errorMessage":"plain string","stack":["Error: plain string","#
        ),
        "{message:?}"
    );
    let got = env.invoke(invocation("r3", r#"{"callback":true}"#, LONG)).await;
    let Outcome::FunctionError(body) = &got.outcome else {
        panic!("{:?}", got.outcome)
    };
    assert_eq!(json(body)["errorType"], "TypeError");
    assert!(env.is_alive(), "a function error keeps the environment");
}

#[tokio::test]
async fn an_uncaught_exception_or_unhandled_rejection_is_posted_then_the_process_exits() {
    let cases = [
        (
            "uncaught",
            "export const handler = async () => { setTimeout(() => { throw new Error('in a timer'); }, 10); await new Promise((r) => setTimeout(r, 5000)); };\n",
            "Error",
            "in a timer",
            "Uncaught Exception \t",
            "exit status 129",
        ),
        (
            "unhandled",
            "export const handler = async () => { Promise.reject(new Error('nobody catches')); await new Promise((r) => setTimeout(r, 5000)); };\n",
            "Runtime.UnhandledPromiseRejection",
            "Error: nobody catches",
            "Unhandled Promise Rejection \t",
            "exit status 128",
        ),
    ];
    for (name, code, want_type, want_message, label, status) in cases {
        let Some((env, lines, _)) = start_node(name, &[("index.mjs", code)], "index.handler", &[]).await else {
            return;
        };
        let got = env.invoke(invocation("r1", "{}", LONG)).await;
        let Outcome::FunctionError(body) = &got.outcome else {
            panic!("{name}: {:?}", got.outcome)
        };
        let v = json(body);
        assert_eq!(v["errorType"], want_type, "{name}");
        assert_eq!(v["errorMessage"], want_message, "{name}");
        let (id, level, message) = record(&between(&lines, "r1")[0]);
        assert_eq!((id.as_str(), level.as_str()), ("r1", "ERROR"));
        assert!(message.starts_with(label), "{name}: {message:?}");
        let mut exited = env.exited.clone();
        assert_eq!(wait_exited(&mut exited).await, status, "{name}");
    }
}

#[tokio::test]
async fn a_missing_export_is_an_init_error_handler_not_found() {
    let Some((env, lines, _)) = start_node(
        "noexport",
        &[("index.mjs", "export const handler = async () => 1;\n")],
        "index.nothere",
        &[],
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    let Outcome::InitError { error_type, body } = &got.outcome else {
        panic!("{:?}", got.outcome)
    };
    assert_eq!(error_type, "Runtime.HandlerNotFound");
    let v = json(body);
    assert_eq!(v["errorType"], "Runtime.HandlerNotFound");
    assert_eq!(v["errorMessage"], "index.nothere is undefined or not exported");
    assert_eq!(
        v["trace"][0],
        "Runtime.HandlerNotFound: index.nothere is undefined or not exported"
    );
    let all = lines.lock().unwrap().clone();
    let logged = all
        .iter()
        .find(|l| l.contains("\tUncaught Exception \t"))
        .unwrap_or_else(|| panic!("{all:#?}"));
    let (id, level, message) = record(logged);
    assert_eq!((id.as_str(), level.as_str()), ("undefined", "ERROR"));
    assert!(
        message.starts_with(r#"Uncaught Exception 	{"errorType":"Runtime.HandlerNotFound","errorMessage":"index.nothere is undefined or not exported","stack":["Runtime.HandlerNotFound: index.nothere is undefined or not exported","#),
        "{message:?}"
    );
    assert!(
        all.last()
            .unwrap()
            .ends_with("Status: error\tError Type: Runtime.HandlerNotFound"),
        "{all:#?}"
    );
    let mut exited = env.exited.clone();
    assert_eq!(wait_exited(&mut exited).await, "exit status 129");
}

#[tokio::test]
async fn a_missing_required_module_is_an_init_error_import_module_error() {
    let Some((env, _, task_root)) = start_node(
        "import",
        &[(
            "index.js",
            "const x = require('nonexistent-module-xyz');\nexports.handler = async () => x;\n",
        )],
        "index.handler",
        &[],
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    let Outcome::InitError { error_type, body } = &got.outcome else {
        panic!("{:?}", got.outcome)
    };
    assert_eq!(error_type, "Runtime.ImportModuleError");
    let v = json(body);
    let message = v["errorMessage"].as_str().unwrap();
    let expected = format!(
        "Error: Cannot find module 'nonexistent-module-xyz'\nRequire stack:\n- {}/index.js\n- ",
        task_root.display()
    );
    assert!(message.starts_with(&expected), "{message:?}");
    assert_eq!(
        v["trace"][0],
        "Runtime.ImportModuleError: Error: Cannot find module 'nonexistent-module-xyz'"
    );
}

#[tokio::test]
async fn a_missing_handler_module_is_an_import_module_error_and_other_init_failures_have_their_types() {
    // (function name, files, handler, error type, start of the error message)
    type Case<'a> = (&'a str, Files<'a>, &'a str, &'a str, &'a str);
    let cases: [Case; 5] = [
        (
            "nomodule",
            &[],
            "app.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'app'\nRequire stack:\n- ",
        ),
        (
            "syntax",
            &[("index.mjs", "export const handler = async () => {\n")],
            "index.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: ",
        ),
        (
            "malformed",
            &[("index.mjs", "export const handler = async () => 1;\n")],
            "index",
            "Runtime.MalformedHandlerName",
            "Bad handler",
        ),
        (
            "dotdot",
            &[("index.mjs", "export const handler = async () => 1;\n")],
            "../index.handler",
            "Runtime.MalformedHandlerName",
            "'../index.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names.",
        ),
        (
            // Thrown by the module's own code: its own type.
            "throws",
            &[("index.mjs", "throw new RangeError('no config');\n")],
            "index.handler",
            "RangeError",
            "no config",
        ),
    ];
    for (name, files, handler, want_type, want_message) in cases {
        let Some((env, _, _)) = start_node(name, files, handler, &[]).await else {
            return;
        };
        let got = env.invoke(invocation("r1", "{}", LONG)).await;
        let Outcome::InitError { error_type, body } = &got.outcome else {
            panic!("{name}: {:?}", got.outcome)
        };
        assert_eq!(error_type, want_type, "{name}");
        let v = json(body);
        assert_eq!(v["errorType"], want_type, "{name}");
        let message = v["errorMessage"].as_str().unwrap();
        assert!(message.starts_with(want_message), "{name}: {message:?}");
    }
}

#[tokio::test]
async fn the_context_carries_the_function_and_the_invocation() {
    let Some((env, _, _)) = start_node(
        "ctx",
        &[(
            "index.mjs",
            "export const handler = async (event, context) => ({\n\
             \x20 functionName: context.functionName,\n\
             \x20 functionVersion: context.functionVersion,\n\
             \x20 invokedFunctionArn: context.invokedFunctionArn,\n\
             \x20 memoryLimitInMB: context.memoryLimitInMB,\n\
             \x20 awsRequestId: context.awsRequestId,\n\
             \x20 logGroupName: context.logGroupName,\n\
             \x20 logStreamName: context.logStreamName,\n\
             \x20 identity: context.identity,\n\
             \x20 clientContext: context.clientContext,\n\
             \x20 waits: context.callbackWaitsForEmptyEventLoop,\n\
             \x20 remaining: context.getRemainingTimeInMillis(),\n\
             \x20 trace: process.env._X_AMZN_TRACE_ID ?? null,\n\
             \x20 hasDone: typeof context.done,\n\
             });\n",
        )],
        "index.handler",
        &[],
    )
    .await
    else {
        return;
    };
    let mut inv = invocation("req-1", "{}", Duration::from_secs(30));
    inv.invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:ctx:live".into();
    inv.trace_id = Some("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".into());
    inv.client_context = Some(r#"{"client":{"app_title":"T"},"custom":{"a":"b"}}"#.into());
    inv.cognito_identity = Some(r#"{"cognitoIdentityId":"cid","cognitoIdentityPoolId":"pool"}"#.into());
    let got = env.invoke(inv).await;
    let Outcome::Response(body) = &got.outcome else {
        panic!("{:?}", got.outcome)
    };
    let v = json(body);
    assert_eq!(v["functionName"], "ctx");
    assert_eq!(v["functionVersion"], "$LATEST");
    assert_eq!(
        v["invokedFunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:ctx:live"
    );
    assert_eq!(v["memoryLimitInMB"], "128", "a string, as the managed runtime has it");
    assert_eq!(v["awsRequestId"], "req-1");
    assert_eq!(v["logGroupName"], "/aws/lambda/ctx");
    assert_eq!(
        v["logStreamName"],
        "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
    );
    assert_eq!(v["identity"]["cognitoIdentityPoolId"], "pool");
    assert_eq!(v["clientContext"]["client"]["app_title"], "T");
    assert_eq!(v["clientContext"]["custom"]["a"], "b");
    assert_eq!(v["waits"], true);
    let remaining = v["remaining"].as_i64().unwrap();
    assert!(remaining > 20_000 && remaining <= 30_000, "{remaining}");
    assert_eq!(
        v["trace"],
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
    );
    assert_eq!(v["hasDone"], "function");
    // Without the optional headers: no identity, no client context, no trace id.
    let got = env.invoke(invocation("req-2", "{}", LONG)).await;
    let Outcome::Response(body) = &got.outcome else {
        panic!("{:?}", got.outcome)
    };
    let v = json(body);
    assert!(v.get("identity").is_none() && v.get("clientContext").is_none(), "{v}");
    assert_eq!(v["trace"], serde_json::Value::Null);
}

#[tokio::test]
async fn large_output_is_all_in_the_log_before_the_answer() {
    // Node's own stdout stream makes the pipe non-blocking; the console records must still get
    // through whole and in order.
    let Some((env, lines, _)) = start_node(
        "bulk",
        &[(
            "index.mjs",
            "export const handler = async () => {\n\
             \x20 process.stdout.write('y'.repeat(100000) + '\\n');\n\
             \x20 for (let i = 0; i < 300; i++) console.log(String(i).padStart(4, '0') + 'x'.repeat(2000));\n\
             \x20 return 'done';\n\
             };\n",
        )],
        "index.handler",
        &[],
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    assert_eq!(got.outcome, Outcome::Response(Bytes::from_static(br#""done""#)));
    let inside = between(&lines, "r1");
    let raw: Vec<&String> = inside.iter().filter(|l| l.starts_with('y')).collect();
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].len(), 100_000);
    let console: Vec<String> = inside
        .iter()
        .filter(|l| !l.starts_with('y'))
        .map(|l| record(l).2)
        .collect();
    assert_eq!(console.len(), 300);
    for (i, m) in console.iter().enumerate() {
        assert!(m.starts_with(&format!("{i:04}x")) && m.len() == 2004, "{i}");
    }
}

#[tokio::test]
async fn a_slow_handler_times_out() {
    let Some((env, lines, _)) = start_node(
        "slow",
        &[(
            "index.mjs",
            "export const handler = async () => { console.log('waiting'); await new Promise((r) => setTimeout(r, 60000)); };\n",
        )],
        "index.handler",
        &[],
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", "{}", Duration::from_millis(1500))).await;
    assert_eq!(got.outcome, Outcome::Timeout);
    assert_eq!(record(&between(&lines, "r1")[0]), rec("r1", "INFO", "waiting"));
    let report = lines.lock().unwrap().last().cloned().unwrap();
    assert!(report.ends_with("Status: timeout"), "{report}");
    let mut exited = env.exited.clone();
    assert_eq!(wait_exited(&mut exited).await, "signal: killed");
}

#[tokio::test]
async fn a_promise_that_never_settles_is_runtime_node_js_exit() {
    let Some((env, _, _)) = start_node(
        "unsettled",
        &[(
            "index.mjs",
            "export const handler = async (event) => { if (event.sync) return; await new Promise(() => {}); };\n",
        )],
        "index.handler",
        &[],
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    let Outcome::FunctionError(body) = &got.outcome else {
        panic!("{:?}", got.outcome)
    };
    let v = json(body);
    assert_eq!(v["errorType"], "Runtime.NodeJsExit");
    assert!(
        v["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("The Lambda runtime client detected an unexpected Node.js exit code."),
        "{v}"
    );
    // The environment goes on.
    let got = env.invoke(invocation("r2", r#"{"sync":true}"#, LONG)).await;
    assert_eq!(got.outcome, Outcome::Response(Bytes::from_static(b"null")));
}

#[tokio::test]
async fn json_log_format_and_log_level() {
    let Some((env, lines, _)) = start_node(
        "jsonlog",
        &[(
            "index.mjs",
            "export const handler = async () => {\n\
             \x20 console.info('dropped');\n\
             \x20 console.warn('kept', 1);\n\
             \x20 console.error({ a: 'x\\ny' });\n\
             \x20 throw new Error('boom');\n\
             };\n",
        )],
        "index.handler",
        &[("AWS_LAMBDA_LOG_FORMAT", "JSON"), ("AWS_LAMBDA_LOG_LEVEL", "WARN")],
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    assert!(matches!(got.outcome, Outcome::FunctionError(_)));
    let inside = between(&lines, "r1");
    assert_eq!(inside.len(), 3, "{inside:#?}");
    let objects: Vec<serde_json::Value> = inside.iter().map(|l| json(l.as_bytes())).collect();
    for o in &objects {
        let ts = o["timestamp"].as_str().unwrap();
        assert!(ts.len() == 24 && ts.ends_with('Z'), "{o}");
        assert_eq!(o["requestId"], "r1");
    }
    assert_eq!(objects[0]["level"], "WARN");
    assert_eq!(objects[0]["message"], "kept 1");
    // The managed runtime's key order.
    assert!(inside[0].starts_with(r#"{"timestamp":""#), "{}", inside[0]);
    assert!(
        inside[0].ends_with(r#"Z","level":"WARN","requestId":"r1","message":"kept 1"}"#),
        "{}",
        inside[0]
    );
    assert_eq!(objects[1]["level"], "ERROR");
    assert_eq!(objects[1]["message"]["a"], "x\ny");
    assert_eq!(objects[2]["level"], "ERROR");
    assert_eq!(objects[2]["message"]["errorType"], "Error");
    assert_eq!(objects[2]["message"]["errorMessage"], "boom");
    assert_eq!(objects[2]["message"]["stackTrace"][0], "Error: boom");
}

#[tokio::test]
async fn a_streamified_handler_is_answered_buffered() {
    let Some((env, _, _)) = start_node(
        "stream",
        &[(
            "index.mjs",
            "export const handler = awslambda.streamifyResponse(async (event, stream, context) => {\n\
             \x20 stream.write('a-');\n\
             \x20 stream.write(context.awsRequestId);\n\
             \x20 stream.end();\n\
             });\n",
        )],
        "index.handler",
        &[],
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    assert_eq!(got.outcome, Outcome::Response(Bytes::from_static(b"a-r1")));
}

// ---------------------------------------------------------------------------------------------
// provided.al2023 / provided.al2: the function's own `bootstrap` executable

/// A custom runtime in Python: echoes the event with a field added; `{"fail": true}` posts a
/// `Function.MyError`; `{"exit": n}` exits.
const PYTHON_CUSTOM_BOOTSTRAP: &str = r#"#!/usr/bin/env python3
import http.client, json, os, sys

api = os.environ["AWS_LAMBDA_RUNTIME_API"]
conn = http.client.HTTPConnection(api)
print("custom runtime up, handler", os.environ.get("_HANDLER"), flush=True)
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    res = conn.getresponse()
    body = res.read()
    request_id = res.getheader("Lambda-Runtime-Aws-Request-Id")
    event = json.loads(body)
    print("got event", json.dumps(event, sort_keys=True), flush=True)
    print("to stderr", file=sys.stderr, flush=True)
    if "exit" in event:
        sys.exit(event["exit"])
    if event.get("fail"):
        error = b'{"errorType":"Function.MyError","errorMessage":"custom failure","extra":[1,2]}'
        conn.request(
            "POST",
            f"/2018-06-01/runtime/invocation/{request_id}/error",
            error,
            {"Lambda-Runtime-Function-Error-Type": "Function.MyError", "Content-Type": "application/json"},
        )
    else:
        event["handled_by"] = "bootstrap"
        event["deadline_set"] = int(res.getheader("Lambda-Runtime-Deadline-Ms")) > 0
        conn.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", json.dumps(event, separators=(",", ":")))
    conn.getresponse().read()
"#;

/// Starts `<task root>/bootstrap` (mode 755) directly, as `provided.*` runtimes do.
async fn start_provided(name: &str, bootstrap: &str) -> Option<(Environment, Lines)> {
    if !on_path("python3") {
        return None;
    }
    use std::os::unix::fs::PermissionsExt as _;
    let task_root = fresh_dir(name);
    let program = task_root.join("bootstrap");
    std::fs::write(&program, bootstrap).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut env = base_env(name, &task_root);
    env.push(("_HANDLER".into(), "function.handler".into()));
    Some(
        launch(
            program,
            Vec::new(),
            task_root,
            env,
            "INIT_START Runtime Version: localbridge",
        )
        .await,
    )
}

#[tokio::test]
async fn a_provided_bootstrap_runs_end_to_end() {
    let Some((env, lines)) = start_provided("provided", PYTHON_CUSTOM_BOOTSTRAP).await else {
        return;
    };
    let got = env.invoke(invocation("r1", r#"{"a":1}"#, LONG)).await;
    assert_eq!(
        got.outcome,
        Outcome::Response(Bytes::from_static(
            br#"{"a":1,"handled_by":"bootstrap","deadline_set":true}"#
        ))
    );
    assert!(got.init_duration.is_some());
    let all = lines.lock().unwrap().clone();
    assert_eq!(all[0], "INIT_START Runtime Version: localbridge");
    let init = "custom runtime up, handler function.handler";
    assert!(all.iter().any(|l| l == init), "{all:#?}");
    let mut inside: Vec<String> = between(&lines, "r1").into_iter().filter(|l| l != init).collect();
    // stdout and stderr are separate pipes: their relative order is not fixed.
    inside.sort();
    assert_eq!(inside, [r#"got event {"a": 1}"#, "to stderr"]);
    assert!(
        got.log.starts_with("START RequestId: r1 Version: $LATEST\n"),
        "{}",
        got.log
    );

    let got = env.invoke(invocation("r2", r#"{"fail":true}"#, LONG)).await;
    // The error body passes through verbatim.
    assert_eq!(
        got.outcome,
        Outcome::FunctionError(Bytes::from_static(
            br#"{"errorType":"Function.MyError","errorMessage":"custom failure","extra":[1,2]}"#
        ))
    );
    assert_eq!(got.outcome.error_type().as_deref(), Some("Function.MyError"));
    let report = lines.lock().unwrap().last().cloned().unwrap();
    assert!(
        report.starts_with("REPORT RequestId: r2\t") && !report.contains("Init Duration"),
        "{report}"
    );
    assert!(env.is_alive());

    let got = env.invoke(invocation("r3", r#"{"exit":2}"#, LONG)).await;
    assert_eq!(got.outcome, Outcome::ExitError("exit status 2".into()));
    assert!(!env.is_alive());
}

#[tokio::test]
async fn a_provided_bootstrap_that_fails_to_start_is_an_init_error() {
    let Some((env, lines)) = start_provided(
        "provided-init",
        "#!/usr/bin/env python3\nimport sys\nprint('cannot start', flush=True)\nsys.exit(4)\n",
    )
    .await
    else {
        return;
    };
    let got = env.invoke(invocation("r1", "{}", LONG)).await;
    let Outcome::InitError { error_type, body } = &got.outcome else {
        panic!("{:?}", got.outcome)
    };
    assert_eq!(error_type, "Runtime.ExitError");
    assert_eq!(
        json(body)["errorMessage"],
        "RequestId: Error: Runtime exited with error: exit status 4"
    );
    assert!(lines.lock().unwrap().iter().any(|l| l == "cannot start"));
}
