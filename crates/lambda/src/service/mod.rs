//! The control plane: functions per region and account (configuration, code, state, resource
//! policy) and the operations on them, as plain Rust; the wire edge is in `crate::api`.
//!
//! States as AWS reports them: CreateFunction answers `State: Pending` (`Creating`) and the
//! function is `Active` as soon as its package is unpacked (before the call returns), so
//! `function_active_v2` waiters succeed on their first poll; UpdateFunctionCode and
//! UpdateFunctionConfiguration answer `LastUpdateStatus: InProgress` and are `Successful` at once.

mod asynchronous;
mod esm;
mod esm_stream;
mod event_config;
mod extras;
mod invoke;
mod layers;
mod permissions;
mod target;
mod versions;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use lb_core::{AwsError, Clock, RequestContext};
use serde_json::{json, Value};

use crate::code::{self, Code, CodeError};
use crate::pool::Pool;

pub use asynchronous::EventInvokeConfig;
pub use esm::MappingInput;
pub use event_config::EventInvokeConfigInput;
pub use invoke::{InvocationType, InvokeInput, InvokeOutput};
pub use layers::{LayerInput, LayerRef};
pub use permissions::AddPermissionInput;
pub use versions::AliasInput;

/// Where execution environments' log lines go (CloudWatch Logs, wired by the binary).
pub use lb_core::logs::LogSink;

/// Settings of the Lambda service.
#[derive(Clone)]
pub struct LambdaConfig {
    /// Where packages are unpacked and the shipped runtime clients written.
    pub root: PathBuf,
    /// What functions' own SDK calls are pointed at (`AWS_ENDPOINT_URL`).
    pub endpoint_url: String,
    /// Interpreters by runtime (`python3.12` → `/usr/bin/python3.12`), overriding the lookup.
    pub interpreters: BTreeMap<String, String>,
    /// Execution environments one function may have at once (its concurrency).
    pub max_environments: usize,
    /// How long an idle environment is kept warm.
    pub keep_warm: std::time::Duration,
    /// Whether Python functions run through `awslambdaric` when their interpreter has it.
    pub python_client: PythonClient,
    /// Asynchronous events held at once (queued, running or waiting for a retry), over all
    /// functions; beyond it Invoke answers `TooManyRequestsException` and delivering services
    /// retry.
    pub max_async_events: usize,
}

/// The runtime client Python functions run through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PythonClient {
    /// `awslambdaric` when the interpreter can import it, else the shipped client.
    #[default]
    Auto,
    /// Always the shipped client.
    Shipped,
}

impl Default for LambdaConfig {
    fn default() -> Self {
        Self {
            root: std::env::temp_dir()
                .join(format!("localbridge-{}", std::process::id()))
                .join("lambda"),
            endpoint_url: "http://127.0.0.1:4566".to_owned(),
            interpreters: BTreeMap::new(),
            max_environments: 10,
            keep_warm: std::time::Duration::from_secs(600),
            python_client: PythonClient::Auto,
            max_async_events: 100_000,
        }
    }
}

/// Runtimes AWS no longer accepts for new functions (CreateFunction / UpdateFunctionConfiguration
/// refuse them with InvalidParameterValueException).
const DEPRECATED_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "java8",
    "dotnet6",
    "provided",
];

/// Botocore's `Runtime` enum.
const RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java8",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "dotnet10",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "ruby4.0",
    "provided",
    "provided.al2",
    "provided.al2023",
    "nodejs26.x",
    "python3.15",
    "java8.al2023",
    "java11.al2023",
    "java17.al2023",
    "custom",
];

/// Environment variables a function may not set (Lambda User Guide, "Defined runtime environment
/// variables").
pub const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// A function's configuration, as set by CreateFunction and UpdateFunctionConfiguration.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    pub runtime: Option<String>,
    pub role: String,
    pub handler: Option<String>,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub environment: Option<BTreeMap<String, String>>,
    pub dead_letter_target: Option<String>,
    pub log_format: String,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: Option<String>,
    pub layers: Vec<LayerRef>,
    pub tracing_mode: String,
    pub ephemeral_storage: u32,
    pub architectures: Vec<String>,
}

/// CreateFunction's input (the wire edge has checked types; values are checked here).
#[derive(Debug, Clone, Default)]
pub struct CreateFunctionInput {
    pub function_name: Option<String>,
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<BTreeMap<String, String>>,
    pub dead_letter_target: Option<String>,
    pub logging: Option<LoggingInput>,
    pub layers: Option<Vec<String>>,
    pub zip_file: Option<Vec<u8>>,
    pub s3_bucket: Option<String>,
    pub s3_key: Option<String>,
    pub s3_object_version: Option<String>,
    pub image_uri: Option<String>,
    pub package_type: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub tracing_mode: Option<String>,
    pub ephemeral_storage: Option<i64>,
    pub architectures: Option<Vec<String>>,
    pub publish: bool,
}

/// UpdateFunctionConfiguration's input: only what is given changes.
#[derive(Debug, Clone, Default)]
pub struct UpdateConfigInput {
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<BTreeMap<String, String>>,
    pub dead_letter_target: Option<String>,
    pub logging: Option<LoggingInput>,
    pub layers: Option<Vec<String>>,
    pub tracing_mode: Option<String>,
    pub ephemeral_storage: Option<i64>,
    pub revision_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LoggingInput {
    pub log_format: Option<String>,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: Option<String>,
}

/// A function (its `$LATEST`).
pub(crate) struct Function {
    pub name: String,
    pub region: String,
    pub account: String,
    pub arn: String,
    pub config: FunctionConfig,
    pub code: Arc<Code>,
    pub revision_id: String,
    pub last_modified: u64,
    pub tags: BTreeMap<String, String>,
    /// Resource-based policy statements, in the order added.
    pub statements: Vec<Value>,
    pub policy_revision: String,
    /// Warm environments of the current code and configuration (replaced when either changes).
    pub pool: Arc<Pool>,
    pub event_invoke: Option<EventInvokeConfig>,
    /// Published versions, by number.
    pub versions: BTreeMap<u32, versions::Published>,
    pub aliases: BTreeMap<String, versions::Alias>,
    /// The number the next published version gets.
    pub next_version: u32,
    pub reserved_concurrency: Option<u32>,
}

type Key = (String, String, String);

/// The Lambda service.
pub struct Lambda {
    me: Weak<Lambda>,
    pub(crate) engine: Option<lb_core::deliver::Engine>,
    pub(crate) config: LambdaConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) logs: Option<Arc<dyn LogSink>>,
    pub(crate) interpreters: invoke::Interpreters,
    functions: Mutex<HashMap<Key, Arc<Mutex<Function>>>>,
    /// Event source mappings by UUID.
    pub(crate) mappings: Mutex<BTreeMap<String, Arc<esm::MappingHandle>>>,
    /// The queue service event source mappings read (SQS, wired by the binary).
    pub(crate) source: Option<Arc<dyn lb_core::source::QueueSource>>,
    /// The stream service Kinesis event source mappings read (wired by the binary).
    pub(crate) streams: Option<Arc<dyn lb_core::stream::StreamSource>>,
    /// Kinesis mappings' record outcomes.
    pub(crate) stream_counters: esm_stream::StreamCounters,
    /// The HTTP invoker's client.
    pub(crate) http: reqwest::Client,
    /// Layers by (region, account, name).
    pub(crate) layers: Mutex<HashMap<Key, layers::Layer>>,
    /// Asynchronous events held now, and those refused for want of room.
    pub(crate) async_events: std::sync::atomic::AtomicUsize,
    pub(crate) async_refused: std::sync::atomic::AtomicU64,
}

pub(crate) fn not_found(arn: &str) -> AwsError {
    AwsError::new("ResourceNotFoundException", 404, format!("Function not found: {arn}"))
}

pub(crate) fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameterValueException", 400, message)
}

/// One constraint failure, in the ValidationException form AWS uses for model constraints.
pub(crate) fn validation(value: &str, member: &str, constraint: &str) -> AwsError {
    AwsError::new(
        "ValidationException",
        400,
        format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ),
    )
}

/// An EventBridge event's `time`: RFC 3339, UTC, whole seconds.
pub(crate) fn event_time(millis: u64) -> String {
    let s = lb_core::clock::iso8601_millis(millis);
    format!("{}Z", &s[..19])
}

/// Lambda's timestamps: `2024-01-31T12:00:00.000+0000`.
pub(crate) fn timestamp(millis: u64) -> String {
    let s = lb_core::clock::iso8601_millis(millis);
    format!("{}+0000", s.trim_end_matches('Z'))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_role(role: &str) -> bool {
    let Some(rest) = role.strip_prefix("arn:") else {
        return false;
    };
    let mut parts = rest.splitn(5, ':');
    let (partition, service, region, account, resource) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next());
    partition.is_some_and(|p| p.starts_with("aws"))
        && service == Some("iam")
        && region == Some("")
        && account.is_some_and(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        && resource.is_some_and(|r| {
            r.strip_prefix("role/")
                .or_else(|| r.strip_prefix("role"))
                .is_some_and(|n| {
                    !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@-_/".contains(&b))
                })
        })
}

/// `FunctionName` as a name, a partial ARN (`123456789012:function:name`) or a full ARN, with an
/// optional qualifier: `(region, account, name, qualifier)`.
pub(crate) fn parse_function_ref<'a>(
    ctx: &'a RequestContext,
    given: &'a str,
) -> Result<(&'a str, &'a str, &'a str, Option<&'a str>), AwsError> {
    let bad = || {
        validation(
            given,
            "functionName",
            "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
        )
    };
    let parts: Vec<&str> = given.split(':').collect();
    let (region, account, rest): (&str, &str, &[&str]) = match parts.as_slice() {
        ["arn", _partition, "lambda", region, account, "function", rest @ ..] => (region, account, rest),
        [account, "function", rest @ ..] => (ctx.region.as_str(), account, rest),
        rest => (ctx.region.as_str(), ctx.account.as_str(), rest),
    };
    let (name, qualifier) = match rest {
        [name] => (*name, None),
        [name, q] => (*name, Some(*q)),
        _ => return Err(bad()),
    };
    if name.is_empty() || name.len() > 140 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(bad());
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok((region, account, name, qualifier))
}

impl Lambda {
    /// The service; `engine` reaches asynchronous invocations' destinations and dead-letter
    /// queues, `logs` takes the environments' log lines.
    pub fn new(
        config: LambdaConfig,
        clock: Arc<dyn Clock>,
        engine: Option<lb_core::deliver::Engine>,
        logs: Option<Arc<dyn LogSink>>,
        source: Option<Arc<dyn lb_core::source::QueueSource>>,
        streams: Option<Arc<dyn lb_core::stream::StreamSource>>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            engine,
            config,
            clock,
            logs,
            interpreters: invoke::Interpreters::default(),
            functions: Mutex::new(HashMap::new()),
            mappings: Mutex::new(BTreeMap::new()),
            source,
            streams,
            stream_counters: esm_stream::StreamCounters::default(),
            http: reqwest::Client::new(),
            layers: Mutex::new(HashMap::new()),
            async_events: std::sync::atomic::AtomicUsize::new(0),
            async_refused: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub(crate) fn functions(&self) -> MutexGuard<'_, HashMap<Key, Arc<Mutex<Function>>>> {
        self.functions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn function_arn(region: &str, account: &str, name: &str) -> String {
        format!("arn:aws:lambda:{region}:{account}:function:{name}")
    }

    /// The function `given` names (any form), with its qualifier.
    pub(crate) fn lookup(
        &self,
        ctx: &RequestContext,
        given: &str,
    ) -> Result<(Arc<Mutex<Function>>, Option<String>), AwsError> {
        let (region, account, name, qualifier) = parse_function_ref(ctx, given)?;
        let key = (region.to_owned(), account.to_owned(), name.to_owned());
        let f = self.functions().get(&key).cloned();
        match f {
            Some(f) => Ok((f, qualifier.map(str::to_owned))),
            None => Err(not_found(&Self::function_arn(region, account, name))),
        }
    }

    fn check_runtime(runtime: &str) -> Result<(), AwsError> {
        if !RUNTIMES.contains(&runtime) {
            return Err(validation(
                runtime,
                "runtime",
                &format!("Member must satisfy enum value set: [{}]", RUNTIMES.join(", ")),
            ));
        }
        if DEPRECATED_RUNTIMES.contains(&runtime) {
            let newer = if runtime.starts_with("python") {
                "python3.13"
            } else if runtime.starts_with("nodejs") {
                "nodejs22.x"
            } else if runtime.starts_with("provided") || runtime == "go1.x" {
                "provided.al2023"
            } else {
                "the latest runtime"
            };
            return Err(invalid(format!(
                "The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions. We recommend you use the new runtime ({newer}) while creating or updating functions."
            )));
        }
        Ok(())
    }

    fn check_environment(vars: &BTreeMap<String, String>) -> Result<(), AwsError> {
        let reserved: Vec<&str> = vars
            .keys()
            .map(String::as_str)
            .filter(|k| RESERVED_ENV.contains(k))
            .collect();
        if !reserved.is_empty() {
            return Err(invalid(format!(
                "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
                reserved.join(", ")
            )));
        }
        for k in vars.keys() {
            let ok = k.len() >= 2
                && k.as_bytes()[0].is_ascii_alphabetic()
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return Err(validation(
                    k,
                    "environment.variables",
                    "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+",
                ));
            }
        }
        // AWS measures the variables as JSON: {"KEY":"value",...}.
        let measured = serde_json::to_string(vars).unwrap_or_default();
        if measured.len() > 4096 {
            return Err(invalid(format!(
                "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
            )));
        }
        Ok(())
    }

    fn check_numbers(timeout: Option<i64>, memory: Option<i64>, storage: Option<i64>) -> Result<(), AwsError> {
        if let Some(t) = timeout.filter(|t| !(1..=900).contains(t)) {
            return Err(if t < 1 {
                validation(
                    &t.to_string(),
                    "timeout",
                    "Member must have value greater than or equal to 1",
                )
            } else {
                invalid(format!("Value {t} at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900"))
            });
        }
        if let Some(m) = memory.filter(|m| !(128..=10240).contains(m)) {
            return Err(validation(
                &m.to_string(),
                "memorySize",
                if m < 128 {
                    "Member must have value greater than or equal to 128"
                } else {
                    "Member must have value less than or equal to 10240"
                },
            ));
        }
        if let Some(s) = storage.filter(|s| !(512..=10240).contains(s)) {
            return Err(validation(
                &s.to_string(),
                "ephemeralStorage.size",
                if s < 512 {
                    "Member must have value greater than or equal to 512"
                } else {
                    "Member must have value less than or equal to 10240"
                },
            ));
        }
        Ok(())
    }

    fn check_logging(l: &LoggingInput) -> Result<(), AwsError> {
        if let Some(f) = l.log_format.as_deref().filter(|f| !matches!(*f, "JSON" | "Text")) {
            return Err(validation(
                f,
                "loggingConfig.logFormat",
                "Member must satisfy enum value set: [JSON, Text]",
            ));
        }
        let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
        if let Some(v) = l.application_log_level.as_deref().filter(|v| !levels.contains(v)) {
            return Err(validation(
                v,
                "loggingConfig.applicationLogLevel",
                "Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]",
            ));
        }
        if let Some(v) = l
            .system_log_level
            .as_deref()
            .filter(|v| !matches!(*v, "DEBUG" | "INFO" | "WARN"))
        {
            return Err(validation(
                v,
                "loggingConfig.systemLogLevel",
                "Member must satisfy enum value set: [DEBUG, INFO, WARN]",
            ));
        }
        if let Some(g) = &l.log_group {
            let ok = !g.is_empty()
                && g.len() <= 512
                && g.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b));
            if !ok {
                return Err(validation(
                    g,
                    "loggingConfig.logGroup",
                    "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
                ));
            }
        }
        Ok(())
    }

    fn apply_logging(config: &mut FunctionConfig, l: LoggingInput) -> Result<(), AwsError> {
        Self::check_logging(&l)?;
        if let Some(f) = l.log_format {
            config.log_format = f;
        }
        if config.log_format == "JSON" {
            // AWS fills the levels in when the format is JSON.
            config.application_log_level = Some(
                l.application_log_level
                    .or(config.application_log_level.take())
                    .unwrap_or_else(|| "INFO".into()),
            );
            config.system_log_level = Some(
                l.system_log_level
                    .or(config.system_log_level.take())
                    .unwrap_or_else(|| "INFO".into()),
            );
        } else if l.application_log_level.is_some() || l.system_log_level.is_some() {
            return Err(invalid(
                "To set the application or system log level, the LogFormat must be JSON.",
            ));
        } else {
            config.application_log_level = None;
            config.system_log_level = None;
        }
        if let Some(g) = l.log_group {
            config.log_group = Some(g);
        }
        Ok(())
    }

    fn unpack(&self, account: &str, region: &str, name: &str, zip: &[u8]) -> Result<Code, AwsError> {
        self.unpack_into(
            account,
            region,
            "functions",
            &format!("{name}/{}", lb_core::ids::uuid()),
            zip,
        )
    }

    /// Unpacks a package (a function's or a layer's) under `<root>/<kind>/<account>/<region>/<dir>`.
    pub(crate) fn unpack_into(
        &self,
        account: &str,
        region: &str,
        kind: &str,
        dir: &str,
        zip: &[u8],
    ) -> Result<Code, AwsError> {
        if zip.len() > code::MAX_ZIP_BYTES {
            return Err(AwsError::new(
                "RequestEntityTooLargeException",
                413,
                format!(
                    "Request must be smaller than {} bytes for the CreateFunction operation",
                    69_905_067
                ),
            ));
        }
        let dir = self.config.root.join(kind).join(account).join(region).join(dir);
        code::unpack(zip, &dir).map_err(|e| match e {
            CodeError::NotAZip => {
                invalid("Could not unzip uploaded file. Please check your file, then try to upload again.")
            }
            CodeError::TooLarge => invalid(format!(
                "Unzipped size must be smaller than {} bytes",
                code::MAX_UNZIPPED_BYTES
            )),
            CodeError::Io(e) => AwsError::new("ServiceException", 500, format!("could not store the package: {e}")),
        })
    }

    /// CreateFunction (package as ZipFile).
    pub fn create_function(&self, ctx: &RequestContext, input: CreateFunctionInput) -> Result<Value, AwsError> {
        let name = input
            .function_name
            .ok_or_else(|| validation("null", "functionName", "Member must not be null"))?;
        if !valid_name(&name) {
            return Err(validation(
                &name,
                "functionName",
                "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
            ));
        }
        let role = input
            .role
            .ok_or_else(|| validation("null", "role", "Member must not be null"))?;
        if !valid_role(&role) {
            return Err(validation(
                &role,
                "role",
                "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
            ));
        }
        if input.package_type.as_deref() == Some("Image") || input.image_uri.is_some() {
            return Err(invalid(
                "localbridge runs functions from .zip packages only: container images need a container runtime.",
            ));
        }
        let runtime = input.runtime.ok_or_else(|| {
            invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
        })?;
        Self::check_runtime(&runtime)?;
        let handler = input.handler.ok_or_else(|| {
            invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
        })?;
        if handler.len() > 128 || handler.chars().any(char::is_whitespace) {
            return Err(validation(
                &handler,
                "handler",
                "Member must satisfy regular expression pattern: [^\\s]+",
            ));
        }
        if let Some(d) = input.description.as_deref().filter(|d| d.len() > 256) {
            return Err(validation(
                d,
                "description",
                "Member must have length less than or equal to 256",
            ));
        }
        Self::check_numbers(input.timeout, input.memory_size, input.ephemeral_storage)?;
        if let Some(vars) = &input.environment {
            Self::check_environment(vars)?;
        }
        if let Some(a) = input
            .architectures
            .as_ref()
            .and_then(|a| a.iter().find(|a| !matches!(a.as_str(), "x86_64" | "arm64")))
        {
            return Err(validation(
                a,
                "architectures",
                "Member must satisfy enum value set: [x86_64, arm64]",
            ));
        }
        // A package in S3 was fetched by the wire edge into `zip_file`.
        let Some(zip) = input.zip_file else {
            return Err(invalid("Please provide a source for function code."));
        };
        let (region, account) = (ctx.region.clone(), ctx.account.clone());
        let key = (region.clone(), account.clone(), name.clone());
        let arn = Self::function_arn(&region, &account, &name);
        if self.functions().contains_key(&key) {
            return Err(AwsError::new(
                "ResourceConflictException",
                409,
                format!("Function already exist: {name}"),
            ));
        }
        let code = Arc::new(self.unpack(&account, &region, &name, &zip)?);
        let mut config = FunctionConfig {
            runtime: Some(runtime),
            role,
            handler: Some(handler),
            description: input.description.unwrap_or_default(),
            timeout: input.timeout.map_or(3, |t| t as u32),
            memory_size: input.memory_size.map_or(128, |m| m as u32),
            environment: input.environment,
            dead_letter_target: input.dead_letter_target.filter(|t| !t.is_empty()),
            log_format: "Text".to_owned(),
            application_log_level: None,
            system_log_level: None,
            log_group: None,
            layers: self.resolve_layers(ctx, &input.layers.unwrap_or_default())?,
            tracing_mode: input.tracing_mode.unwrap_or_else(|| "PassThrough".to_owned()),
            ephemeral_storage: input.ephemeral_storage.map_or(512, |s| s as u32),
            architectures: input.architectures.unwrap_or_else(|| vec!["x86_64".to_owned()]),
        };
        if let Some(l) = input.logging {
            Self::apply_logging(&mut config, l)?;
        }
        let now = self.clock.now_millis();
        let function = Function {
            name: name.clone(),
            region,
            account,
            arn,
            config,
            code,
            revision_id: lb_core::ids::uuid(),
            last_modified: now,
            tags: input.tags.unwrap_or_default(),
            statements: Vec::new(),
            policy_revision: lb_core::ids::uuid(),
            pool: Arc::new(Pool::new(self.config.max_environments)),
            event_invoke: None,
            versions: BTreeMap::new(),
            aliases: BTreeMap::new(),
            next_version: 1,
            reserved_concurrency: None,
        };
        let mut out = configuration(&function);
        out["State"] = json!("Pending");
        out["StateReason"] = json!("The function is being created.");
        out["StateReasonCode"] = json!("Creating");
        if let Some(o) = out.as_object_mut() {
            o.remove("LastUpdateStatus");
        }
        let mut functions = self.functions();
        if functions.contains_key(&key) {
            drop(functions);
            return Err(AwsError::new(
                "ResourceConflictException",
                409,
                format!("Function already exist: {name}"),
            ));
        }
        functions.insert(key, Arc::new(Mutex::new(function)));
        Ok(out)
    }

    /// GetFunction.
    pub fn get_function(&self, ctx: &RequestContext, name: &str) -> Result<Value, AwsError> {
        let (f, qualifier) = self.lookup(ctx, name)?;
        let f = f.lock().unwrap_or_else(PoisonError::into_inner);
        let selected = versions::select(&f, qualifier.as_deref())?;
        let mut out = json!({
            "Configuration": configuration_of(&f, &selected),
            "Code": {
                "RepositoryType": "S3",
                "Location": format!("{}/_localbridge/lambda/code/{}/{}/{}", self.config.endpoint_url, f.region, f.account, f.name),
            },
        });
        if !f.tags.is_empty() {
            out["Tags"] = json!(f.tags);
        }
        Ok(out)
    }

    /// GetFunctionConfiguration.
    pub fn get_function_configuration(&self, ctx: &RequestContext, name: &str) -> Result<Value, AwsError> {
        let (f, qualifier) = self.lookup(ctx, name)?;
        let f = f.lock().unwrap_or_else(PoisonError::into_inner);
        let selected = versions::select(&f, qualifier.as_deref())?;
        Ok(configuration_of(&f, &selected))
    }

    /// ListFunctions (by name; `Marker` is the last name returned).
    pub fn list_functions(
        &self,
        ctx: &RequestContext,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Value, AwsError> {
        if let Some(m) = max_items.filter(|m| !(1..=10_000).contains(m)) {
            return Err(validation(
                &m.to_string(),
                "maxItems",
                "Member must have value between 1 and 10000",
            ));
        }
        let max = max_items.map_or(50, |m| m as usize);
        let mut list: Vec<Arc<Mutex<Function>>> = self
            .functions()
            .iter()
            .filter(|((r, a, _), _)| *r == ctx.region && *a == ctx.account)
            .map(|(_, f)| Arc::clone(f))
            .collect();
        let mut configs: Vec<(String, Value)> = list
            .drain(..)
            .map(|f| {
                let f = f.lock().unwrap_or_else(PoisonError::into_inner);
                (f.name.clone(), configuration(&f))
            })
            .filter(|(n, _)| marker.is_none_or(|m| n.as_str() > m))
            .collect();
        configs.sort_by(|a, b| a.0.cmp(&b.0));
        let more = configs.len() > max;
        configs.truncate(max);
        let mut out = json!({ "Functions": configs.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>() });
        if more {
            if let Some((n, _)) = configs.last() {
                out["NextMarker"] = json!(n);
            }
        }
        Ok(out)
    }

    /// DeleteFunction: its environments stop, its package is removed.
    pub fn delete_function(&self, ctx: &RequestContext, name: &str) -> Result<(), AwsError> {
        let (region, account, fname, qualifier) = parse_function_ref(ctx, name)?;
        if let Some(q) = qualifier.filter(|q| *q != "$LATEST") {
            let (f, _) = self.lookup(ctx, name)?;
            let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
            return self.delete_version(&mut f, q);
        }
        if qualifier == Some("$LATEST") {
            return Err(invalid(
                "$LATEST version cannot be deleted without deleting the function.",
            ));
        }
        let key = (region.to_owned(), account.to_owned(), fname.to_owned());
        let removed = self.functions().remove(&key);
        let Some(f) = removed else {
            return Err(not_found(&Self::function_arn(region, account, fname)));
        };
        let f = f.lock().unwrap_or_else(PoisonError::into_inner);
        f.pool.close();
        for v in f.versions.values() {
            v.pool.close();
        }
        Ok(())
    }

    /// UpdateFunctionCode (ZipFile): new environments run the new code.
    pub fn update_function_code(
        &self,
        ctx: &RequestContext,
        name: &str,
        zip_file: Option<Vec<u8>>,
        revision_id: Option<&str>,
    ) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let Some(zip) = zip_file else {
            return Err(invalid("Please provide a source for function code."));
        };
        let (region, account, fname) = {
            let f = f.lock().unwrap_or_else(PoisonError::into_inner);
            check_revision(&f, revision_id)?;
            (f.region.clone(), f.account.clone(), f.name.clone())
        };
        let code = self.unpack(&account, &region, &fname, &zip)?;
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        // The old package stays while a published version still runs it.
        f.code = Arc::new(code);
        self.changed(&mut f);
        let mut out = configuration(&f);
        out["LastUpdateStatus"] = json!("InProgress");
        out["LastUpdateStatusReason"] = json!("The function is being created.");
        out["LastUpdateStatusReasonCode"] = json!("Creating");
        Ok(out)
    }

    /// UpdateFunctionConfiguration: only what is given changes.
    pub fn update_function_configuration(
        &self,
        ctx: &RequestContext,
        name: &str,
        input: UpdateConfigInput,
    ) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        if let Some(r) = &input.runtime {
            Self::check_runtime(r)?;
        }
        if let Some(role) = input.role.as_deref().filter(|r| !valid_role(r)) {
            return Err(validation(
                role,
                "role",
                "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
            ));
        }
        Self::check_numbers(input.timeout, input.memory_size, input.ephemeral_storage)?;
        if let Some(vars) = &input.environment {
            Self::check_environment(vars)?;
        }
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        check_revision(&f, input.revision_id.as_deref())?;
        let mut config = f.config.clone();
        if let Some(r) = input.runtime {
            config.runtime = Some(r);
        }
        if let Some(r) = input.role {
            config.role = r;
        }
        if let Some(h) = input.handler {
            config.handler = Some(h);
        }
        if let Some(d) = input.description {
            config.description = d;
        }
        if let Some(t) = input.timeout {
            config.timeout = t as u32;
        }
        if let Some(m) = input.memory_size {
            config.memory_size = m as u32;
        }
        if let Some(vars) = input.environment {
            config.environment = Some(vars);
        }
        if let Some(t) = input.dead_letter_target {
            config.dead_letter_target = (!t.is_empty()).then_some(t);
        }
        if let Some(l) = input.logging {
            Self::apply_logging(&mut config, l)?;
        }
        if let Some(l) = input.layers {
            config.layers = self.resolve_layers(ctx, &l)?;
        }
        if let Some(t) = input.tracing_mode {
            config.tracing_mode = t;
        }
        if let Some(s) = input.ephemeral_storage {
            config.ephemeral_storage = s as u32;
        }
        f.config = config;
        self.changed(&mut f);
        let mut out = configuration(&f);
        out["LastUpdateStatus"] = json!("InProgress");
        out["LastUpdateStatusReason"] = json!("The function is being created.");
        out["LastUpdateStatusReasonCode"] = json!("Creating");
        Ok(out)
    }

    /// After a change of code or configuration: a new revision, and new environments for new
    /// invocations (the running ones finish on the old code, then stop).
    fn changed(&self, f: &mut Function) {
        f.revision_id = lb_core::ids::uuid();
        f.last_modified = self.clock.now_millis();
        let reserved = f.reserved_concurrency.map(|n| n as usize);
        let old = std::mem::replace(
            &mut f.pool,
            Arc::new(Pool::with_limit(self.config.max_environments, reserved)),
        );
        old.close();
    }

    /// A package from the S3 stub (`Code.S3Bucket` / `S3Key` / `S3ObjectVersion`), read through
    /// localbridge's own endpoint as the caller's account, as Lambda reads it from S3.
    pub async fn fetch_package(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Vec<u8>, AwsError> {
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
        let key_path: Vec<String> = key.split('/').map(enc).collect();
        let mut url = format!("{}/{}/{}", self.config.endpoint_url, enc(bucket), key_path.join("/"));
        if let Some(v) = version {
            url.push_str(&format!("?versionId={}", enc(v)));
        }
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/20260101/{}/s3/aws4_request, SignedHeaders=host, Signature=0",
            ctx.account, ctx.region
        );
        let failed = |code: &str, message: &str| {
            invalid(format!(
                "Error occurred while GetObject. S3 Error Code: {code}. S3 Error Message: {message}"
            ))
        };
        let resp = self
            .http
            .get(&url)
            .header("Authorization", auth)
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .send()
            .await
            .map_err(|e| failed("ServiceUnavailable", &e.to_string()))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| failed("ServiceUnavailable", &e.to_string()))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            let tag = |t: &str| {
                text.split(&format!("<{t}>"))
                    .nth(1)
                    .and_then(|r| r.split(&format!("</{t}>")).next())
                    .unwrap_or_default()
                    .to_owned()
            };
            return Err(failed(&tag("Code"), &tag("Message")));
        }
        if body.len() > code::MAX_ZIP_BYTES * 5 {
            return Err(invalid(format!(
                "Unzipped size must be smaller than {} bytes",
                code::MAX_UNZIPPED_BYTES
            )));
        }
        Ok(body.to_vec())
    }

    /// Asynchronous events held now, and refused so far.
    pub fn async_counts(&self) -> (usize, u64) {
        (
            self.async_events.load(std::sync::atomic::Ordering::Acquire),
            self.async_refused.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Stops every execution environment (the server is stopping).
    pub fn shutdown(&self) {
        let functions: Vec<_> = self.functions().drain().map(|(_, f)| f).collect();
        for f in functions {
            let f = f.lock().unwrap_or_else(PoisonError::into_inner);
            f.pool.close();
            for v in f.versions.values() {
                v.pool.close();
            }
        }
    }

    /// Stops every environment kept warm longer than the configured time (called periodically).
    pub fn reap_idle(&self) {
        let functions: Vec<_> = self.functions().values().cloned().collect();
        for f in functions {
            let pools: Vec<Arc<Pool>> = {
                let f = f.lock().unwrap_or_else(PoisonError::into_inner);
                std::iter::once(Arc::clone(&f.pool))
                    .chain(f.versions.values().map(|v| Arc::clone(&v.pool)))
                    .collect()
            };
            for pool in pools {
                pool.reap(self.config.keep_warm);
            }
        }
    }
}

pub(crate) fn check_revision(f: &Function, revision_id: Option<&str>) -> Result<(), AwsError> {
    match revision_id {
        Some(r) if r != f.revision_id => Err(AwsError::new(
            "PreconditionFailedException",
            412,
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

/// `FunctionConfiguration` of `$LATEST`.
pub(crate) fn configuration(f: &Function) -> Value {
    configuration_of(f, &versions::Selected::Latest)
}

/// `FunctionConfiguration` as AWS returns it for a .zip function's `$LATEST` or a version.
pub(crate) fn configuration_of(f: &Function, selected: &versions::Selected<'_>) -> Value {
    let (c, code, revision_id, last_modified, arn, description) = match selected {
        versions::Selected::Latest => (
            &f.config,
            &f.code,
            &f.revision_id,
            f.last_modified,
            f.arn.clone(),
            &f.config.description,
        ),
        versions::Selected::Version(v) => (
            &v.config,
            &v.code,
            &v.revision_id,
            v.last_modified,
            format!("{}:{}", f.arn, v.version),
            &v.description,
        ),
    };
    let group = c.log_group.clone().unwrap_or_else(|| format!("/aws/lambda/{}", f.name));
    let mut logging = json!({ "LogFormat": c.log_format, "LogGroup": group });
    if let Some(l) = &c.application_log_level {
        logging["ApplicationLogLevel"] = json!(l);
    }
    if let Some(l) = &c.system_log_level {
        logging["SystemLogLevel"] = json!(l);
    }
    let mut out = json!({
        "FunctionName": f.name,
        "FunctionArn": arn,
        "Runtime": c.runtime,
        "Role": c.role,
        "Handler": c.handler,
        "CodeSize": code.size,
        "Description": description,
        "Timeout": c.timeout,
        "MemorySize": c.memory_size,
        "LastModified": timestamp(last_modified),
        "CodeSha256": code.sha256,
        "Version": selected.label(),
        "TracingConfig": { "Mode": c.tracing_mode },
        "RevisionId": revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": c.architectures,
        "EphemeralStorage": { "Size": c.ephemeral_storage },
        "SnapStart": { "ApplyOn": "None", "OptimizationStatus": "Off" },
        "RuntimeVersionConfig": {
            "RuntimeVersionArn": format!(
                "arn:aws:lambda:{}::runtime:{}",
                f.region,
                hex::encode(sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(
                    c.runtime.as_deref().unwrap_or_default()
                )))
            ),
        },
        "LoggingConfig": logging,
    });
    if let Some(vars) = &c.environment {
        out["Environment"] = json!({ "Variables": vars });
    }
    if let Some(t) = &c.dead_letter_target {
        out["DeadLetterConfig"] = json!({ "TargetArn": t });
    }
    if !c.layers.is_empty() {
        out["Layers"] = Value::Array(
            c.layers
                .iter()
                .map(|l| json!({ "Arn": l.arn, "CodeSize": l.code_size() }))
                .collect(),
        );
    }
    out
}

#[cfg(test)]
mod tests;
