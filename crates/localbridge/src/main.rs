//! The `localbridge` binary: command line, wiring of the services into the delivery registry,
//! and the server's lifecycle (start, graceful shutdown on SIGINT/SIGTERM).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use lb_core::deliver::{Engine, EngineConfig, Registry};
use lb_core::{Clock, ManualClock, SystemClock};
use tracing::info;

mod logs_cmd;
mod remote;
mod replay_cmd;
mod tail_cmd;
mod test_pattern;

/// jemalloc instead of glibc's malloc, with its background threads purging freed pages (after
/// its default 10 s decay): a long-running server returns to near its idle footprint once its
/// queues and buckets are deleted, even while idle. glibc kept most of a freed heap; mimalloc
/// (measured too) returns it only once the threads that own it allocate again. Figures in the
/// README.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Starts jemalloc's background purging threads.
fn allocator_setup() {
    #[cfg(feature = "jemalloc")]
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "jemalloc background threads could not be started");
    }
}

#[derive(Parser)]
#[command(
    name = "localbridge",
    version,
    about = "Local, offline emulator of the AWS event plumbing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every emulated service on one port (in memory).
    Serve(ServeArgs),
    /// Test an EventBridge event pattern against events, with no server (exit 0 match, 1 no match, 2 invalid).
    TestPattern(test_pattern::TestPatternArgs),
    /// Print a Lambda function's CloudWatch Logs events from a running server (`--follow` for new ones).
    Logs(logs_cmd::LogsArgs),
    /// Print the events flowing on a bus of a running server, live, one JSON line each.
    Tail(tail_cmd::TailArgs),
    /// Send captured events (tail output, PutEvents entries, CloudTrail or S3 records) to a running server.
    Replay(replay_cmd::ReplayArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one; the chosen port is logged).
    #[arg(long, default_value_t = 4566)]
    port: u16,
    /// Base domains for S3 virtual-hosted-style requests (`bucket.<domain>`).
    #[arg(long = "s3-domain", default_values_t = ["localhost".to_owned(), "s3.localhost".to_owned(), "localhost.localstack.cloud".to_owned(), "s3.localhost.localstack.cloud".to_owned()])]
    s3_domains: Vec<String>,
    /// Seconds (on the platform clock) an S3 RestoreObject of a GLACIER or DEEP_ARCHIVE object
    /// takes before `ObjectRestore:Completed` (AWS: minutes to hours, by retrieval tier).
    #[arg(long, default_value_t = lb_s3::DEFAULT_RESTORE_SECONDS)]
    s3_restore_seconds: u64,
    /// Seconds (on the platform clock) S3 Replication takes to copy an object version; over
    /// 900, rules with Replication Time Control miss their 15-minute threshold.
    #[arg(long, default_value_t = lb_s3::DEFAULT_REPLICATION_SECONDS)]
    s3_replication_seconds: u64,
    /// `system` follows the wall clock; `manual` starts at the current time and holds it until
    /// `POST /_localbridge/clock {"advanceSeconds": N}` moves it.
    #[arg(long, value_enum, default_value_t = ClockArg::System)]
    clock: ClockArg,
    /// With `--clock manual`: the time it starts at (RFC 3339, `2026-03-01T00:00:00Z`) instead of
    /// the current time, to replay a calendar (daylight-saving changes, month ends) in tests.
    #[arg(long, value_parser = parse_clock_start)]
    clock_start: Option<u64>,
    /// Records the delivery ledger keeps (the oldest leave first).
    #[arg(long, default_value_t = 10_000)]
    ledger_capacity: usize,
    /// Targets an EventBridge rule may have (AWS: 5).
    #[arg(long, default_value_t = 5)]
    events_max_targets_per_rule: usize,
    /// Rules an event bus may have (AWS: 300 by default).
    #[arg(long, default_value_t = 300)]
    events_max_rules_per_bus: usize,
    /// Recent events kept for `GET /_localbridge/events/<id>` (the oldest leave first).
    #[arg(long, default_value_t = 10_000)]
    event_journal_capacity: usize,
    /// Events all EventBridge archives keep together (the oldest archived are dropped first,
    /// counted in `localbridge_events_archive_dropped_total` and each archive's StateReason).
    #[arg(long, default_value_t = 100_000)]
    events_archive_max_events: usize,
    /// Bytes of the events all EventBridge archives keep together (same policy).
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    events_archive_max_bytes: u64,
    /// Where Lambda unpacks function packages and writes its runtime clients (default: a
    /// directory under the system's temporary directory, removed at exit).
    #[arg(long)]
    lambda_dir: Option<std::path::PathBuf>,
    /// The interpreter of a Lambda runtime, `RUNTIME=PROGRAM` (repeatable), e.g.
    /// `--lambda-runtime python3.12=/usr/bin/python3.12`. Default: `python3.X` or `python3`,
    /// and `node`, from PATH.
    #[arg(long = "lambda-runtime", value_parser = parse_runtime)]
    lambda_runtimes: Vec<(String, String)>,
    /// Execution environments one function may run at once (its concurrency).
    #[arg(long, default_value_t = 10)]
    lambda_max_environments: usize,
    /// Seconds an idle execution environment is kept warm.
    #[arg(long, default_value_t = 600)]
    lambda_keep_warm_seconds: u64,
    /// Asynchronous invocations held at once over all functions (queued, running, waiting for a
    /// retry); beyond it Invoke answers TooManyRequestsException and delivering services retry.
    #[arg(long, default_value_t = 100_000)]
    lambda_max_async_events: usize,
    /// The runtime client of Python functions: `auto` uses `awslambdaric` when the function's
    /// interpreter can import it (else the shipped one), `shipped` always the shipped one.
    #[arg(long, value_enum, default_value_t = PythonClientArg::Auto)]
    lambda_python_client: PythonClientArg,
    /// CloudWatch Logs events stored in all log groups together (the oldest ingested are dropped
    /// first, counted in `localbridge_logs_events_dropped_total`).
    #[arg(long, default_value_t = 1_000_000)]
    logs_max_events: usize,
    /// Kinesis records stored in all streams together (the oldest are dropped first, counted in
    /// `localbridge_kinesis_records_dropped_total`).
    #[arg(long, default_value_t = 1_000_000)]
    kinesis_max_records: usize,
    /// Milliseconds (on the clock) a new Kinesis stream stays CREATING, and a resharded one
    /// UPDATING, before it is ACTIVE.
    #[arg(long, default_value_t = 0)]
    kinesis_create_delay_ms: u64,
    /// Provisioned Kinesis shards enforce AWS's write limits (1,000 records and 1 MiB per second
    /// each): records past them fail with ProvisionedThroughputExceededException.
    #[arg(long)]
    kinesis_shard_limits: bool,
    /// Milliseconds (on the clock) a new Firehose stream stays CREATING before it is ACTIVE.
    #[arg(long, default_value_t = 0)]
    firehose_create_delay_ms: u64,
    /// Milliseconds (platform clock) a pipe's state change takes (CREATING, STARTING, STOPPING,
    /// UPDATING, DELETING).
    #[arg(long, default_value_t = 1_000)]
    pipes_transition_ms: u64,
    /// Seconds a connection may take to send a request's headers (idle keep-alive connections
    /// are closed after it too).
    #[arg(long, default_value_t = 20.0)]
    header_read_timeout: f64,
}

fn parse_runtime(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((r, p)) if !r.is_empty() && !p.is_empty() => Ok((r.to_owned(), p.to_owned())),
        _ => Err(format!("expected RUNTIME=PROGRAM, got {s}")),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PythonClientArg {
    Auto,
    Shipped,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ClockArg {
    System,
    Manual,
}

fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    allocator_setup();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args, started)),
        Command::TestPattern(args) => std::process::exit(test_pattern::run(&args)),
        Command::Logs(args) => runtime.block_on(logs_cmd::run(args)),
        Command::Tail(args) => runtime.block_on(tail_cmd::run(args)),
        Command::Replay(args) => std::process::exit(runtime.block_on(replay_cmd::run(args))),
    }
}

async fn serve(args: ServeArgs, started: Instant) -> anyhow::Result<()> {
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .or_else(|_| {
            std::net::ToSocketAddrs::to_socket_addrs(&(args.host.as_str(), args.port))
                .ok()
                .and_then(|mut a| a.next())
                .ok_or(())
        })
        .map_err(|()| anyhow::anyhow!("cannot resolve listen address {}:{}", args.host, args.port))?;
    let listener = bind(addr).with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;

    let clock: Arc<dyn Clock> = match args.clock {
        ClockArg::System => Arc::new(SystemClock),
        ClockArg::Manual => Arc::new(ManualClock::new(
            args.clock_start.unwrap_or_else(|| SystemClock.now_millis()),
        )),
    };
    if args.clock_start.is_some() && args.clock != ClockArg::Manual {
        anyhow::bail!("--clock-start needs --clock manual");
    }
    let registry = Arc::new(Registry::new());
    let engine = Engine::new(
        Arc::clone(&registry),
        Arc::clone(&clock),
        EngineConfig {
            ledger_capacity: args.ledger_capacity,
            ..EngineConfig::default()
        },
    );

    let sqs = Arc::new(lb_sqs::Sqs::new(Arc::clone(&clock)));
    registry.register("sqs", sqs.clone());

    let events = Arc::new(lb_events::Events::new(
        Arc::clone(&clock),
        engine.clone(),
        lb_events::EventsConfig {
            max_targets_per_rule: args.events_max_targets_per_rule,
            max_rules_per_bus: args.events_max_rules_per_bus,
            journal_capacity: args.event_journal_capacity,
            archive_max_events: args.events_archive_max_events,
            archive_max_bytes: args.events_archive_max_bytes,
        },
    ));
    registry.register("events", events.clone());
    // Scheduled rules fire from one task on the clock.
    let schedules = events.start_schedules();

    let iam = Arc::new(lb_iam::Iam::new(Arc::clone(&clock)));

    let logs = Arc::new(lb_logs::Logs::new(
        Arc::clone(&clock),
        lb_logs::LogsConfig {
            max_events: args.logs_max_events,
        },
    ));
    registry.register("logs", logs.clone());

    // SubscribeURL, UnsubscribeURL and SigningCertURL point back at this server.
    let public_host = if local.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        local.ip()
    };
    let sns = lb_sns::Sns::new(
        Arc::clone(&clock),
        engine.clone(),
        lb_sns::SnsConfig {
            endpoint: format!("http://{}", SocketAddr::new(public_host, local.port())),
            ..lb_sns::SnsConfig::default()
        },
    );
    registry.register("sns", sns.clone());

    let endpoint_host = if local.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        local.ip().to_string()
    };
    let lambda_root = args.lambda_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir()
            .join(format!("localbridge-{}", std::process::id()))
            .join("lambda")
    });
    let kinesis = Arc::new(lb_kinesis::Kinesis::new(
        Arc::clone(&clock),
        lb_kinesis::KinesisConfig {
            max_records: args.kinesis_max_records,
            create_delay_millis: args.kinesis_create_delay_ms,
            shard_limits: args.kinesis_shard_limits,
        },
    ));
    // Kinesis streams as read by pollers in other services (event source mappings, Pipes,
    // Firehose): handed to each of them here.
    let kinesis_source: Arc<dyn lb_core::stream::StreamSource> = kinesis.clone();
    registry.register("kinesis", kinesis.clone());

    let lambda = lb_lambda::Lambda::new(
        lb_lambda::LambdaConfig {
            root: lambda_root.clone(),
            endpoint_url: format!("http://{endpoint_host}:{}", local.port()),
            interpreters: args.lambda_runtimes.iter().cloned().collect(),
            max_environments: args.lambda_max_environments,
            keep_warm: std::time::Duration::from_secs(args.lambda_keep_warm_seconds),
            max_async_events: args.lambda_max_async_events,
            python_client: match args.lambda_python_client {
                PythonClientArg::Auto => lb_lambda::PythonClient::Auto,
                PythonClientArg::Shipped => lb_lambda::PythonClient::Shipped,
            },
        },
        Arc::clone(&clock),
        Some(engine.clone()),
        Some(logs.clone() as Arc<dyn lb_core::logs::LogSink>),
        Some(sqs.clone() as Arc<dyn lb_core::source::QueueSource>),
        Some(Arc::clone(&kinesis_source)),
    );
    registry.register("lambda", lambda.clone());
    let reaper = {
        let lambda = Arc::clone(&lambda);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
            loop {
                tick.tick().await;
                lambda.reap_idle();
            }
        })
    };

    let scheduler = lb_scheduler::Scheduler::new(
        Arc::clone(&clock),
        engine.clone(),
        lb_scheduler::SchedulerConfig::default(),
    );
    registry.register(lb_scheduler::Scheduler::NAMESPACE, scheduler.clone());

    let pipes = lb_pipes::Pipes::new(
        Arc::clone(&clock),
        lb_pipes::PipesDeps {
            registry: Some(Arc::clone(&registry)),
            queues: Some(sqs.clone() as Arc<dyn lb_core::source::QueueSource>),
            streams: Some(Arc::clone(&kinesis_source)),
            invoker: Some(lambda.clone() as Arc<dyn lb_core::invoke::FunctionInvoker>),
            logs: Some(logs.clone() as Arc<dyn lb_core::logs::LogSink>),
            engine: Some(engine.clone()),
        },
        lb_pipes::PipesConfig {
            transition_millis: args.pipes_transition_ms,
        },
    );

    let notifier = Arc::new(lb_s3::notify::Notifier::new(lb_s3::notify::NotifierDeps {
        registry: Arc::clone(&registry),
        engine: engine.clone(),
        clock: Arc::clone(&clock),
    }));
    let s3_stub = lb_s3::S3Stub::new(notifier, Arc::clone(&clock))
        .with_restore_seconds(args.s3_restore_seconds)
        .with_replication_seconds(args.s3_replication_seconds);
    let s3_admin = s3_stub.admin();

    let firehose = lb_firehose::Firehose::new(
        Arc::clone(&clock),
        lb_firehose::FirehoseDeps {
            objects: Some(Arc::new(s3_stub.object_sink())),
            functions: Some(lambda.clone() as Arc<dyn lb_core::invoke::FunctionInvoker>),
            streams: Some(Arc::clone(&kinesis_source)),
            engine: Some(engine.clone()),
        },
        lb_firehose::FirehoseConfig {
            create_delay_millis: args.firehose_create_delay_ms,
            ..lb_firehose::FirehoseConfig::default()
        },
    );
    registry.register("firehose", firehose.clone());
    let s3 = lb_s3::service(s3_stub, &args.s3_domains);

    let header_read_timeout = std::time::Duration::try_from_secs_f64(args.header_read_timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .context("--header-read-timeout must be a positive number of seconds")?;
    // One registration line per service; S3 owns whatever nobody else claims.
    let gateway = lb_gateway::Gateway::builder(engine.clone(), Arc::clone(&clock))
        .started(started)
        .config(lb_gateway::GatewayConfig {
            header_read_timeout,
            ..lb_gateway::GatewayConfig::default()
        })
        .service(lb_sqs::api::SqsApi::new(sqs))
        .service(lb_events::api::EventsApi::new(events))
        .service(lb_lambda::api::LambdaApi::new(Arc::clone(&lambda)))
        .service(lb_iam::api::IamApi::new(Arc::clone(&iam)))
        .service(lb_iam::api::StsApi::new(iam))
        .service(lb_logs::api::LogsApi::new(Arc::clone(&logs)))
        .service(lb_kinesis::api::KinesisApi::new(Arc::clone(&kinesis)))
        .service(lb_firehose::api::FirehoseApi::new(firehose))
        .service(lb_sns::api::SnsApi::new(sns))
        .service(lb_scheduler::api::SchedulerApi::new(scheduler))
        .service(lb_pipes::api::PipesApi::new(pipes))
        .fallback(lb_gateway::S3Api::new(s3, Arc::clone(&clock)).with_admin(s3_admin))
        .build();
    let gateway = Arc::new(gateway);
    let signal = shutdown_signal();
    info!(
        address = %local,
        startup_ms = started.elapsed().as_secs_f64() * 1000.0,
        clock = if args.clock == ClockArg::Manual { "manual" } else { "system" },
        "localbridge ready"
    );
    // In-flight requests get a grace period after the signal; a long poll (up to 20 s) must not
    // hold the process up for its whole wait.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server = tokio::spawn(lb_gateway::serve(listener, gateway, async move {
        let mut rx = stop_rx;
        let _ = rx.wait_for(|stop| *stop).await;
    }));
    tokio::select! {
        _ = &mut server => {}
        () = signal => {
            let _ = stop_tx.send(true);
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await.is_err() {
                info!(grace_ms = SHUTDOWN_GRACE.as_millis(), "requests still in flight after the grace period, closing them");
                server.abort();
            }
        }
    }
    schedules.abort();
    let report = engine.shutdown(DRAIN_DEADLINE).await;
    reaper.abort();
    lambda.shutdown();
    if args.lambda_dir.is_none() {
        let _ = std::fs::remove_dir_all(lambda_root.parent().unwrap_or(&lambda_root));
    }
    info!(
        drained = report.drained,
        left = report.left,
        deadline_ms = DRAIN_DEADLINE.as_millis(),
        "deliveries drained"
    );
    info!("localbridge stopped");
    Ok(())
}

/// `--clock-start`: an RFC 3339 time as epoch milliseconds.
fn parse_clock_start(s: &str) -> Result<u64, String> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 time such as 2026-03-01T00:00:00Z: {e}"))?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| "the time must be after 1970".to_owned())
}

/// How long in-flight requests may finish after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
/// How long pending deliveries may drain after the server has stopped.
const DRAIN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// Binds with TCP_NODELAY on the listening socket: Linux copies it to every accepted socket, so
/// small responses are not held back by Nagle's algorithm.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Listens for SIGINT/SIGTERM. The handlers are installed when this is called (before the server
/// says it is ready), so a signal sent right after "ready" stops it gracefully too.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let streams = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut term, mut int) = streams;
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            };
            tokio::select! {
                () = term => {},
                () = int => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        info!("shutdown signal received, draining");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listener's TCP_NODELAY must reach accepted sockets (the gateway never sees them).
    #[tokio::test]
    async fn accepted_sockets_inherit_nodelay() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(accepted.nodelay().unwrap());
    }
}
