//! Invoke: the function's environment pool runs the invocation; the runtime is chosen from the
//! function's `Runtime` (Python through `awslambdaric` when its interpreter can import it, else
//! the shipped client; Node.js through the shipped client; `provided.*` through the package's own
//! `bootstrap`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use lb_core::{AwsError, RequestContext};

use super::{invalid, Function, Lambda};
use crate::pool::PoolError;
use crate::runtime::{Invocation, Launch, LogFn, LogLine, Outcome, NODE_BOOTSTRAP, PYTHON_BOOTSTRAP};

/// The tag that binds a function to an HTTP endpoint instead of its code: invocations are POSTed
/// there (the developer's own server, or `cargo lambda watch`'s
/// `http://127.0.0.1:9000/2015-03-31/functions/<name>/invocations`).
pub const HTTP_INVOKER_TAG: &str = "localbridge:http-invoker";

/// The largest synchronous payload (6 MB).
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// The largest asynchronous payload (1 MB since 2025).
pub const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;
/// `X-Amz-Log-Result` carries the last 4 KB of the invocation's log.
const LOG_TAIL: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

#[derive(Debug, Clone)]
pub struct InvokeInput {
    pub function_name: String,
    pub qualifier: Option<String>,
    pub invocation_type: InvocationType,
    pub log_tail: bool,
    /// Base64 client context (`X-Amz-Client-Context`).
    pub client_context: Option<String>,
    pub payload: Bytes,
}

/// Invoke's answer: status, payload and the `X-Amz-*` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeOutput {
    pub status: u16,
    pub payload: Bytes,
    pub function_error: Option<&'static str>,
    pub log_result: Option<String>,
    pub executed_version: Option<String>,
}

/// What an invocation needs of its function, read under the function's lock.
pub(crate) struct Snapshot {
    pub pool: Arc<crate::pool::Pool>,
    pub launch: LaunchSpec,
    /// The function's unqualified ARN.
    pub function_arn: String,
    /// `$LATEST` or the version's number.
    pub version: String,
    pub timeout: Duration,
    /// The function's HTTP invoker (the `localbridge:http-invoker` tag), if it has one.
    pub http_invoker: Option<String>,
}

/// Everything needed to start an environment (called only when no warm one is free).
pub(crate) struct LaunchSpec {
    version: String,
    /// The ARN of what runs (with the version, for a published one).
    arn: String,
    name: String,
    region: String,
    account: String,
    runtime: String,
    handler: String,
    code_dir: PathBuf,
    /// The function's layers, unpacked, in their configured order.
    layer_dirs: Vec<PathBuf>,
    memory_mb: u32,
    group: String,
    environment: Vec<(String, String)>,
    log_format: String,
    log_level: Option<String>,
}

/// What an interpreter was found to be (asked once per interpreter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// It does not run (a version-manager shim for a version not installed, say).
    Broken,
    /// It runs; for Python, whether it can import `awslambdaric`.
    Works { ric: bool },
}

#[derive(Default)]
pub(crate) struct Interpreters {
    probed: Mutex<HashMap<PathBuf, Probe>>,
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

impl Lambda {
    fn write_bootstrap(&self, file: &str, text: &str) -> Result<PathBuf, AwsError> {
        let dir = self.config.root.join("runtime");
        let path = dir.join(file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
            std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(&path, text))
                .map_err(|e| {
                    AwsError::new(
                        "ServiceException",
                        500,
                        format!("could not write the runtime client: {e}"),
                    )
                })?;
        }
        Ok(path)
    }

    /// Runs `program` once to learn whether it works (and, for Python, has `awslambdaric`).
    async fn probe(&self, program: &Path, python: bool) -> Probe {
        if let Some(p) = self
            .interpreters
            .probed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(program)
        {
            return *p;
        }
        let args: &[&str] = if python {
            &[
                "-c",
                "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('awslambdaric') else 3)",
            ]
        } else {
            &["-e", ""]
        };
        let status = tokio::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await;
        let probe = match status.ok().and_then(|s| s.code()) {
            Some(0) => Probe::Works { ric: python },
            Some(3) if python => Probe::Works { ric: false },
            _ => Probe::Broken,
        };
        self.interpreters
            .probed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(program.to_owned(), probe);
        probe
    }

    /// The first working interpreter: the configured one for `runtime`, else `candidates` on
    /// PATH in order.
    async fn interpreter(&self, runtime: &str, candidates: &[&str], python: bool) -> Option<(PathBuf, Probe)> {
        let configured = self.config.interpreters.get(runtime).map(String::as_str);
        let list: Vec<&str> = configured.map_or_else(|| candidates.to_vec(), |c| vec![c]);
        for c in list {
            if let Some(path) = find_on_path(c) {
                let probe = self.probe(&path, python).await;
                if probe != Probe::Broken {
                    return Some((path, probe));
                }
            }
        }
        None
    }

    /// The program and arguments that run `spec`'s runtime.
    pub(crate) async fn command(&self, spec: &LaunchSpec) -> Result<(PathBuf, Vec<String>), AwsError> {
        let unavailable = |what: String| {
            AwsError::new(
                "InvalidRuntimeException",
                502,
                format!("localbridge cannot run {} functions here: {what}", spec.runtime),
            )
        };
        let r = spec.runtime.as_str();
        if r.starts_with("python3") {
            let (python, probe) = self.interpreter(r, &[r, "python3"], true).await.ok_or_else(|| {
                unavailable(format!(
                    "no working {r} or python3 on PATH (set --lambda-runtime {r}=/path/to/python)"
                ))
            })?;
            if probe == (Probe::Works { ric: true }) && self.config.python_client == super::PythonClient::Auto {
                return Ok((python, vec!["-m".into(), "awslambdaric".into(), spec.handler.clone()]));
            }
            let boot = self.write_bootstrap("bootstrap.py", PYTHON_BOOTSTRAP)?;
            return Ok((python, vec![boot.display().to_string(), spec.handler.clone()]));
        }
        if r.starts_with("nodejs") {
            let (node, _) = self.interpreter(r, &["node"], false).await.ok_or_else(|| {
                unavailable(format!(
                    "no working node on PATH (set --lambda-runtime {r}=/path/to/node)"
                ))
            })?;
            let boot = self.write_bootstrap("bootstrap.mjs", NODE_BOOTSTRAP)?;
            return Ok((node, vec![boot.display().to_string()]));
        }
        if r.starts_with("provided") {
            let boot = spec.code_dir.join("bootstrap");
            return Ok((boot, Vec::new()));
        }
        Err(unavailable(
            "localbridge runs Python, Node.js and provided.* (bootstrap) functions".to_owned(),
        ))
    }

    /// What an invocation of `$LATEST` or a version needs.
    pub(crate) fn snapshot_of(&self, f: &Function, selected: &super::versions::Selected<'_>) -> Snapshot {
        let (c, code, pool) = match selected {
            super::versions::Selected::Latest => (&f.config, &f.code, &f.pool),
            super::versions::Selected::Version(v) => (&v.config, &v.code, &v.pool),
        };
        Snapshot {
            pool: Arc::clone(pool),
            function_arn: f.arn.clone(),
            version: selected.label(),
            timeout: Duration::from_secs(u64::from(c.timeout)),
            http_invoker: f.tags.get(HTTP_INVOKER_TAG).cloned(),
            launch: LaunchSpec {
                version: selected.label(),
                arn: match selected {
                    super::versions::Selected::Latest => f.arn.clone(),
                    super::versions::Selected::Version(v) => format!("{}:{}", f.arn, v.version),
                },
                name: f.name.clone(),
                region: f.region.clone(),
                account: f.account.clone(),
                runtime: c.runtime.clone().unwrap_or_default(),
                handler: c.handler.clone().unwrap_or_default(),
                code_dir: code.dir.clone(),
                layer_dirs: c.layers.iter().map(|l| l.dir().clone()).collect(),
                memory_mb: c.memory_size,
                group: c.log_group.clone().unwrap_or_else(|| format!("/aws/lambda/{}", f.name)),
                environment: c
                    .environment
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                log_format: c.log_format.clone(),
                log_level: c.application_log_level.clone(),
            },
        }
    }

    /// The process environment Lambda defines (Lambda User Guide, "Defined runtime environment
    /// variables"), the function's own variables (never overriding those), and
    /// `AWS_ENDPOINT_URL` so the function's SDK calls come back here.
    fn process_env(&self, spec: &LaunchSpec, stream: &str) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = spec.environment.clone();
        let host = |k: &str| std::env::var(k).ok();
        let mut set = |k: &str, v: String| {
            env.retain(|(name, _)| name != k);
            env.push((k.to_owned(), v));
        };
        let python_path = spec.code_dir.display().to_string();
        set("_HANDLER", spec.handler.clone());
        set("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", spec.runtime));
        set("LAMBDA_TASK_ROOT", spec.code_dir.display().to_string());
        set(
            "LAMBDA_RUNTIME_DIR",
            self.config.root.join("runtime").display().to_string(),
        );
        set("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone());
        set("AWS_LAMBDA_FUNCTION_VERSION", spec.version.clone());
        set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory_mb.to_string());
        set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into());
        set("AWS_LAMBDA_LOG_GROUP_NAME", spec.group.clone());
        set("AWS_LAMBDA_LOG_STREAM_NAME", stream.to_owned());
        set("AWS_REGION", spec.region.clone());
        set("AWS_DEFAULT_REGION", spec.region.clone());
        // The account as the access key: localbridge reads a 12-digit access key as the
        // caller's account, so the function's calls act in its own account.
        set("AWS_ACCESS_KEY_ID", spec.account.clone());
        set("AWS_SECRET_ACCESS_KEY", "localbridge".into());
        set("AWS_SESSION_TOKEN", "localbridge".into());
        set("AWS_ENDPOINT_URL", self.config.endpoint_url.clone());
        set("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into());
        set("TZ", ":UTC".into());
        set("LANG", "en_US.UTF-8".into());
        // Layers: a later layer takes precedence over an earlier one, as its files would
        // overwrite theirs in /opt.
        let layers: Vec<&PathBuf> = spec.layer_dirs.iter().rev().collect();
        let bins: Vec<String> = layers.iter().map(|d| d.join("bin").display().to_string()).collect();
        let path = bins.into_iter().chain(host("PATH")).collect::<Vec<_>>().join(":");
        if !path.is_empty() {
            set("PATH", path);
        }
        if !layers.is_empty() {
            let libs: Vec<String> = layers.iter().map(|d| d.join("lib").display().to_string()).collect();
            set("LD_LIBRARY_PATH", libs.join(":"));
        }
        if let Some(h) = host("HOME") {
            set("HOME", h);
        }
        if spec.runtime.starts_with("python") {
            // /opt/python/lib/pythonX.Y/site-packages and /opt/python, per layer.
            let version = spec.runtime.trim_start_matches("python");
            let mut paths = vec![python_path];
            for d in &layers {
                paths.push(
                    d.join("python")
                        .join("lib")
                        .join(format!("python{version}"))
                        .join("site-packages")
                        .display()
                        .to_string(),
                );
                paths.push(d.join("python").display().to_string());
            }
            set("PYTHONPATH", paths.join(":"));
        }
        if spec.runtime.starts_with("nodejs") {
            // /opt/nodejs/node_modules (and the runtime-specific /opt/nodejs/nodeNN/node_modules).
            let major = spec.runtime.trim_start_matches("nodejs").trim_end_matches(".x");
            let mut paths = Vec::new();
            for d in &layers {
                paths.push(
                    d.join("nodejs")
                        .join(format!("node{major}"))
                        .join("node_modules")
                        .display()
                        .to_string(),
                );
                paths.push(d.join("nodejs").join("node_modules").display().to_string());
            }
            paths.push(spec.code_dir.join("node_modules").display().to_string());
            paths.push(spec.code_dir.display().to_string());
            set("NODE_PATH", paths.join(":"));
        }
        if spec.log_format == "JSON" {
            set("AWS_LAMBDA_LOG_FORMAT", "JSON".into());
            if let Some(l) = &spec.log_level {
                set("AWS_LAMBDA_LOG_LEVEL", l.clone());
            }
        }
        env
    }

    /// `YYYY/MM/DD/[$LATEST]<32 hex>`: one stream per execution environment.
    fn stream_name(&self, version: &str) -> String {
        let date = lb_core::clock::iso8601_millis(self.clock.now_millis());
        let id = lb_core::ids::uuid().replace('-', "");
        format!("{}/{}/{}/[{version}]{id}", &date[0..4], &date[5..7], &date[8..10])
    }

    fn log_fn(&self, spec: &LaunchSpec, stream: &str) -> LogFn {
        let sink = self.logs.clone();
        let (region, account, group, stream) = (
            spec.region.clone(),
            spec.account.clone(),
            spec.group.clone(),
            stream.to_owned(),
        );
        Arc::new(move |line: LogLine| {
            if let Some(s) = &sink {
                let event = lb_core::logs::LogEvent {
                    timestamp_millis: line.timestamp_millis,
                    message: line.message,
                };
                s.append(&region, &account, &group, &stream, vec![event]);
            }
        })
    }

    /// Invoke.
    pub async fn invoke(&self, ctx: &RequestContext, input: InvokeInput) -> Result<InvokeOutput, AwsError> {
        let (f, in_name) = self.lookup(ctx, &input.function_name)?;
        let qualifier = match (in_name, input.qualifier.clone().filter(|q| !q.is_empty())) {
            (Some(a), Some(b)) if a != b => {
                return Err(invalid(
                    "The derived qualifier from the function name does not match the specified qualifier.",
                ))
            }
            (a, b) => a.or(b),
        };
        let limit = match input.invocation_type {
            InvocationType::Event => MAX_ASYNC_PAYLOAD,
            _ => MAX_SYNC_PAYLOAD,
        };
        if input.payload.len() > limit {
            return Err(AwsError::new(
                "RequestTooLargeException",
                413,
                format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
            ));
        }
        let payload = if input.payload.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&input.payload) {
                return Err(AwsError::new(
                    "InvalidRequestContentException",
                    400,
                    format!("Could not parse request body into json: Could not parse payload into json: {e}"),
                ));
            }
            input.payload.clone()
        };
        let client_context = match &input.client_context {
            None => None,
            Some(b64) => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .filter(|s| serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok());
                match decoded {
                    Some(s) => Some(s),
                    None => {
                        return Err(AwsError::new(
                            "InvalidRequestContentException",
                            400,
                            "Client context must be a valid Base64-encoded JSON object.",
                        ))
                    }
                }
            }
        };
        let snap = {
            let f = f.lock().unwrap_or_else(PoisonError::into_inner);
            let selected = super::versions::select(&f, qualifier.as_deref())?;
            self.snapshot_of(&f, &selected)
        };
        // The ARN as invoked: with the alias or version the caller named.
        let invoked_arn = match &qualifier {
            Some(q) => format!("{}:{q}", snap.function_arn),
            None => snap.function_arn.clone(),
        };
        let request_id = ctx.request_id.clone();
        match input.invocation_type {
            InvocationType::DryRun => Ok(InvokeOutput {
                status: 204,
                payload: Bytes::new(),
                function_error: None,
                log_result: None,
                executed_version: None,
            }),
            InvocationType::Event => {
                // Checked now, as AWS does: a runtime that cannot run here fails the call.
                if snap.http_invoker.is_none() {
                    self.command(&snap.launch).await?;
                }
                let accepted = self.enqueue_async(
                    &f,
                    super::asynchronous::AsyncEvent {
                        request_id,
                        payload,
                        received: self.clock.now_millis(),
                        trace_id: ctx.trace_header.clone(),
                        qualifier: qualifier.clone(),
                    },
                );
                if !accepted {
                    return Err(AwsError::new("TooManyRequestsException", 429, "Rate Exceeded."));
                }
                Ok(InvokeOutput {
                    status: 202,
                    payload: Bytes::new(),
                    function_error: None,
                    log_result: None,
                    executed_version: None,
                })
            }
            InvocationType::RequestResponse => {
                if let Some(url) = &snap.http_invoker {
                    let outcome = self
                        .http_invoke(url, &request_id, &invoked_arn, snap.timeout, payload)
                        .await;
                    return Ok(InvokeOutput {
                        status: 200,
                        function_error: (!matches!(outcome, Outcome::Response(_))).then_some("Unhandled"),
                        payload: outcome.payload(&request_id, snap.timeout),
                        log_result: None,
                        executed_version: Some(snap.version.clone()),
                    });
                }
                let (program, args) = self.command(&snap.launch).await?;
                let launch = self.make_launch(&snap.launch, program, args);
                let invocation = Invocation {
                    request_id: request_id.clone(),
                    payload,
                    timeout: snap.timeout,
                    invoked_function_arn: invoked_arn.clone(),
                    trace_id: ctx.trace_header.clone(),
                    client_context,
                    cognito_identity: None,
                };
                let (invoked, _cold) = snap
                    .pool
                    .invoke(move || launch, invocation)
                    .await
                    .map_err(|e| match e {
                        PoolError::Start(e) => AwsError::new(
                            "InvalidRuntimeException",
                            502,
                            format!("localbridge could not start the {} runtime: {e}", snap.launch.runtime),
                        ),
                        PoolError::Throttled => AwsError::new("TooManyRequestsException", 429, "Rate Exceeded."),
                        PoolError::Closed => AwsError::new(
                            "ResourceConflictException",
                            409,
                            "The function changed while the invocation waited; invoke it again.",
                        ),
                    })?;
                let function_error = match invoked.outcome {
                    Outcome::Response(_) => None,
                    _ => Some("Unhandled"),
                };
                let log_result = input.log_tail.then(|| {
                    let log = invoked.log.as_bytes();
                    let tail = &log[log.len().saturating_sub(LOG_TAIL)..];
                    base64::engine::general_purpose::STANDARD.encode(tail)
                });
                Ok(InvokeOutput {
                    status: 200,
                    payload: invoked.outcome.payload(&request_id, snap.timeout),
                    function_error,
                    log_result,
                    executed_version: Some(snap.version.clone()),
                })
            }
        }
    }

    /// An invocation through the function's HTTP invoker: the payload POSTed with the Runtime
    /// API's invocation headers; a 2xx answer is the response (an `X-Amz-Function-Error` header
    /// or another status makes it a function error); no answer within the timeout is a timeout.
    pub(crate) async fn http_invoke(
        &self,
        url: &str,
        request_id: &str,
        invoked_arn: &str,
        timeout: Duration,
        payload: Bytes,
    ) -> Outcome {
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            + timeout.as_millis() as u64;
        let sent = self
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .header("Lambda-Runtime-Aws-Request-Id", request_id)
            .header("Lambda-Runtime-Invoked-Function-Arn", invoked_arn)
            .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
            .body(payload)
            .timeout(timeout)
            .send()
            .await;
        match sent {
            Err(e) if e.is_timeout() => Outcome::Timeout,
            Err(e) => Outcome::FunctionError(Bytes::from(
                serde_json::json!({
                    "errorType": "Runtime.HttpInvokerUnreachable",
                    "errorMessage": format!("localbridge could not reach the function's HTTP invoker {url}: {e}"),
                })
                .to_string(),
            )),
            Ok(resp) => {
                let failed = !resp.status().is_success() || resp.headers().contains_key("x-amz-function-error");
                let body = resp.bytes().await.unwrap_or_default();
                if failed {
                    Outcome::FunctionError(body)
                } else {
                    Outcome::Response(body)
                }
            }
        }
    }

    /// A new environment's launch (used by the pool only when it starts one).
    pub(crate) fn make_launch(&self, spec: &LaunchSpec, program: PathBuf, args: Vec<String>) -> Launch {
        let stream = self.stream_name(&spec.version);
        let runtime_version = spec.runtime.replace("python", "python:").replace("nodejs", "nodejs:");
        let json_platform = spec.log_format == "JSON";
        let runtime_version_arn = format!("arn:aws:lambda:{}::runtime:localbridge", spec.region);
        let init_start = if json_platform {
            serde_json::json!({
                "time": lb_core::clock::iso8601_millis(self.clock.now_millis()),
                "type": "platform.initStart",
                "record": {
                    "initializationType": "on-demand",
                    "phase": "init",
                    "runtimeVersion": format!("{runtime_version}.localbridge"),
                    "runtimeVersionArn": runtime_version_arn,
                    "functionName": spec.name,
                    "functionVersion": spec.version,
                    "instanceId": stream,
                    "instanceMaxMemory": u64::from(spec.memory_mb) * 1024 * 1024,
                },
            })
            .to_string()
        } else {
            format!(
                "INIT_START Runtime Version: {runtime_version}.localbridge\tRuntime Version ARN: {runtime_version_arn}"
            )
        };
        Launch {
            program,
            args,
            cwd: spec.code_dir.clone(),
            env: self.process_env(spec, &stream),
            version: spec.version.clone(),
            memory_mb: spec.memory_mb,
            init_start: Some(init_start),
            logs: self.log_fn(spec, &stream),
            clock: Arc::clone(&self.clock),
            json_platform,
            function_arn: spec.arn.clone(),
        }
    }
}
