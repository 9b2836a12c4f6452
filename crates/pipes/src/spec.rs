//! A pipe's parameters: the request shapes (kept as sent, for DescribePipe) and their compiled
//! form (validated once with botocore's constraints: what the runner reads).

use std::collections::BTreeMap;

use lb_core::arn::Arn;
use lb_rules::pattern::Pattern;
use lb_rules::transform::JsonPath;
use serde::Deserialize;
use serde_json::Value;

use crate::template::{Template, TemplateContext};
use crate::PipesError;

/// CreatePipe / UpdatePipe input (the body; the name comes from the path).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PipeInput {
    #[serde(skip)]
    pub name: String,
    pub description: Option<String>,
    pub desired_state: Option<String>,
    pub source: Option<String>,
    pub source_parameters: Option<Value>,
    pub enrichment: Option<String>,
    pub enrichment_parameters: Option<Value>,
    pub target: Option<String>,
    pub target_parameters: Option<Value>,
    pub role_arn: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub log_configuration: Option<Value>,
    pub kms_key_identifier: Option<String>,
}

/// What DescribePipe echoes (the parameters as accepted).
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub description: Option<String>,
    pub source: String,
    pub source_parameters: Option<Value>,
    pub enrichment: Option<String>,
    pub enrichment_parameters: Option<Value>,
    pub target: String,
    pub target_parameters: Option<Value>,
    pub role_arn: String,
    pub kms_key_identifier: Option<String>,
}

/// SQS source settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqsSource {
    pub batch_size: usize,
    pub window_seconds: u32,
}

/// Kinesis source settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisSource {
    pub batch_size: usize,
    pub window_seconds: u32,
    pub starting_position: lb_core::stream::StartingPosition,
    /// `None`: retried until the record expires (-1).
    pub max_retries: Option<u32>,
    /// `None`: no age limit (-1).
    pub max_record_age_seconds: Option<u64>,
    pub bisect: bool,
    pub dead_letter: Option<Arn>,
    pub parallelization: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    Sqs(SqsSource),
    Kinesis(KinesisSource),
}

/// The target's service and its parameters.
#[derive(Debug, Clone)]
pub enum TargetKind {
    Sqs {
        group_id: Option<String>,
        dedup_id: Option<String>,
    },
    Sns,
    Lambda {
        asynchronous: bool,
    },
    EventBus {
        source: Option<String>,
        detail_type: Option<String>,
        resources: Vec<String>,
        time: Option<Box<JsonPath>>,
    },
    Kinesis {
        partition_key: String,
    },
    Firehose,
    Logs {
        stream: Option<String>,
        timestamp: Option<Box<JsonPath>>,
    },
}

impl TargetKind {
    /// The most events one call to the target takes (User Guide, "batching and concurrency").
    pub fn max_batch(&self) -> usize {
        match self {
            TargetKind::Sqs { .. } | TargetKind::Sns | TargetKind::EventBus { .. } => 10,
            TargetKind::Kinesis { .. } | TargetKind::Firehose => 500,
            TargetKind::Logs { .. } => 10_000,
            TargetKind::Lambda { .. } => usize::MAX,
        }
    }
}

/// A pipe, compiled.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub arn: String,
    pub region: String,
    pub account: String,
    pub stored: Stored,
    pub source_arn: Arn,
    pub source: SourceKind,
    pub filters: Vec<Pattern>,
    pub enrichment: Option<Arn>,
    pub enrichment_template: Option<Template>,
    pub target_arn: Arn,
    pub target: TargetKind,
    pub target_template: Option<Template>,
    pub ctx: TemplateContext,
    /// The pipe's own counters (kept across updates).
    pub counters: std::sync::Arc<crate::PipeCounters>,
}

const NAME_CONSTRAINT: &str = "Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+";

pub fn check_name(name: &str) -> Result<(), PipesError> {
    let len = name.chars().count();
    if len == 0 {
        return Err(PipesError::field(
            "name",
            Some(name),
            "Member must have length greater than or equal to 1",
        ));
    }
    if len > 64 {
        return Err(PipesError::field(
            "name",
            Some(name),
            "Member must have length less than or equal to 64",
        ));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b)) {
        return Err(PipesError::field("name", Some(name), NAME_CONSTRAINT));
    }
    Ok(())
}

fn check_arn(field: &str, value: &str) -> Result<Arn, PipesError> {
    let arn: Arn = value.parse().map_err(|_| {
        PipesError::field(
            field,
            Some(value),
            "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-]+):([a-z]{2,4}((-gov)|(-de)|(-iso([a-z]?)))?-[a-z]+(-\\d{1})?)?:(\\d{12})?:(.+)",
        )
    })?;
    if value.len() > 1600 {
        return Err(PipesError::field(
            field,
            Some(value),
            "Member must have length less than or equal to 1600",
        ));
    }
    Ok(arn)
}

pub fn check_role(value: &str) -> Result<(), PipesError> {
    let ok = value.split_once(":iam::").is_some_and(|(head, rest)| {
        head.starts_with("arn:aws")
            && rest.len() > 13
            && rest[..12].bytes().all(|b| b.is_ascii_digit())
            && rest[12..].starts_with(":role")
            && rest[17..]
                .trim_start_matches('/')
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@-_/".contains(&b))
            && !rest[17..].trim_start_matches('/').is_empty()
    });
    if ok {
        Ok(())
    } else {
        Err(PipesError::field(
            "roleArn",
            Some(value),
            "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z0-9+=,.@\\-_/]+",
        ))
    }
}

pub fn check_tags(tags: &BTreeMap<String, String>, field: &str) -> Result<(), PipesError> {
    if tags.is_empty() || tags.len() > 50 {
        return Err(PipesError::field(
            field,
            None,
            if tags.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 50"
            },
        ));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(PipesError::field(
                field,
                None,
                "Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]",
            ));
        }
        if v.chars().count() > 256 {
            return Err(PipesError::field(
                field,
                None,
                "Map value must satisfy constraint: [Member must have length less than or equal to 256]",
            ));
        }
    }
    Ok(())
}

fn int(v: &Value, field: &str, min: i64, max: i64) -> Result<Option<i64>, PipesError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            let i = n
                .as_i64()
                .ok_or_else(|| PipesError::field(field, Some(&n.to_string()), "Member must be an integer"))?;
            if i < min {
                return Err(PipesError::field(
                    field,
                    Some(&i.to_string()),
                    &format!("Member must have value greater than or equal to {min}"),
                ));
            }
            if i > max {
                return Err(PipesError::field(
                    field,
                    Some(&i.to_string()),
                    &format!("Member must have value less than or equal to {max}"),
                ));
            }
            Ok(Some(i))
        }
        _ => Err(AwsSerialization::error(field)),
    }
}

struct AwsSerialization;

impl AwsSerialization {
    fn error(field: &str) -> PipesError {
        lb_core::AwsError::new(
            "SerializationException",
            400,
            format!("Unexpected value type for {field}"),
        )
        .into()
    }
}

fn string<'a>(v: &'a Value, field: &str) -> Result<Option<&'a str>, PipesError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(AwsSerialization::error(field)),
    }
}

fn object<'a>(v: Option<&'a Value>, field: &str) -> Result<Option<&'a serde_json::Map<String, Value>>, PipesError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(AwsSerialization::error(field)),
    }
}

/// Refuses members of a parameters object this emulator does not implement (another source's
/// or target's parameters), so no accepted setting is ignored.
fn only(map: &serde_json::Map<String, Value>, field: &str, allowed: &[&str], why: &str) -> Result<(), PipesError> {
    for (k, v) in map {
        if !v.is_null() && !allowed.contains(&k.as_str()) {
            return Err(PipesError::invalid(
                &format!("{field}.{k}"),
                format!("{k} is not supported {why}."),
            ));
        }
    }
    Ok(())
}

fn parse_filters(params: Option<&serde_json::Map<String, Value>>) -> Result<Vec<Pattern>, PipesError> {
    let Some(fc) = object(params.and_then(|p| p.get("FilterCriteria")), "FilterCriteria")? else {
        return Ok(Vec::new());
    };
    let filters = match fc.get("Filters") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(AwsSerialization::error("Filters")),
    };
    if filters.len() > 5 {
        return Err(PipesError::field(
            "sourceParameters.filterCriteria.filters",
            None,
            "Member must have length less than or equal to 5",
        ));
    }
    let mut out = Vec::new();
    for f in filters {
        let Some(text) = f.get("Pattern").and_then(Value::as_str) else {
            continue;
        };
        if text.chars().count() > 4096 {
            return Err(PipesError::field(
                "sourceParameters.filterCriteria.filters.member.pattern",
                None,
                "Member must have length less than or equal to 4096",
            ));
        }
        let p = Pattern::parse(text).map_err(|e| {
            PipesError::invalid(
                "sourceParameters.filterCriteria.filters.member.pattern",
                format!("Invalid filter pattern definition. {e}"),
            )
        })?;
        out.push(p);
    }
    Ok(out)
}

fn sqs_source(params: Option<&serde_json::Map<String, Value>>) -> Result<SqsSource, PipesError> {
    let p = object(params.and_then(|p| p.get("SqsQueueParameters")), "SqsQueueParameters")?;
    let get = |k: &str| p.and_then(|p| p.get(k)).unwrap_or(&Value::Null);
    let batch = int(
        get("BatchSize"),
        "sourceParameters.sqsQueueParameters.batchSize",
        1,
        10_000,
    )?
    .unwrap_or(10);
    let window = int(
        get("MaximumBatchingWindowInSeconds"),
        "sourceParameters.sqsQueueParameters.maximumBatchingWindowInSeconds",
        0,
        300,
    )?
    .unwrap_or(0);
    Ok(SqsSource {
        batch_size: batch as usize,
        window_seconds: window as u32,
    })
}

fn kinesis_source(params: Option<&serde_json::Map<String, Value>>) -> Result<KinesisSource, PipesError> {
    use lb_core::stream::StartingPosition;
    let p = object(
        params.and_then(|p| p.get("KinesisStreamParameters")),
        "KinesisStreamParameters",
    )?;
    let Some(p) = p else {
        return Err(PipesError::invalid(
            "sourceParameters.kinesisStreamParameters",
            "KinesisStreamParameters is required for a Kinesis stream source.",
        ));
    };
    let get = |k: &str| p.get(k).unwrap_or(&Value::Null);
    let f = |k: &str| {
        format!(
            "sourceParameters.kinesisStreamParameters.{}{}",
            k[..1].to_lowercase(),
            &k[1..]
        )
    };
    let batch = int(get("BatchSize"), &f("BatchSize"), 1, 10_000)?.unwrap_or(100);
    let window = int(
        get("MaximumBatchingWindowInSeconds"),
        &f("MaximumBatchingWindowInSeconds"),
        0,
        300,
    )?
    .unwrap_or(0);
    let retries = int(get("MaximumRetryAttempts"), &f("MaximumRetryAttempts"), -1, 10_000)?.unwrap_or(-1);
    let age = int(
        get("MaximumRecordAgeInSeconds"),
        &f("MaximumRecordAgeInSeconds"),
        -1,
        604_800,
    )?
    .unwrap_or(-1);
    if (0..60).contains(&age) {
        return Err(PipesError::field(
            &f("MaximumRecordAgeInSeconds"),
            Some(&age.to_string()),
            "Member must have value greater than or equal to 60, or -1",
        ));
    }
    let parallel = int(get("ParallelizationFactor"), &f("ParallelizationFactor"), 1, 10)?.unwrap_or(1);
    let bisect = match string(get("OnPartialBatchItemFailure"), "OnPartialBatchItemFailure")? {
        None => false,
        Some("AUTOMATIC_BISECT") => true,
        Some(other) => {
            return Err(PipesError::field(
                &f("OnPartialBatchItemFailure"),
                Some(other),
                "Member must satisfy enum value set: [AUTOMATIC_BISECT]",
            ))
        }
    };
    let dead_letter = match object(p.get("DeadLetterConfig"), "DeadLetterConfig")?
        .and_then(|d| d.get("Arn"))
        .and_then(Value::as_str)
    {
        None => None,
        Some(a) => {
            let arn = check_arn(&format!("{}.arn", f("DeadLetterConfig")), a)?;
            if arn.service != "sqs" && arn.service != "sns" {
                return Err(PipesError::invalid(
                    &f("DeadLetterConfig"),
                    "The dead-letter queue of a Kinesis stream source must be an Amazon SQS queue or an Amazon SNS topic.",
                ));
            }
            Some(arn)
        }
    };
    let position = match string(get("StartingPosition"), "StartingPosition")? {
        Some("TRIM_HORIZON") => StartingPosition::TrimHorizon,
        Some("LATEST") => StartingPosition::Latest,
        Some("AT_TIMESTAMP") => {
            let ts = get("StartingPositionTimestamp").as_f64().ok_or_else(|| {
                PipesError::invalid(
                    &f("StartingPositionTimestamp"),
                    "StartingPositionTimestamp is required when StartingPosition is AT_TIMESTAMP.",
                )
            })?;
            StartingPosition::AtTimestamp((ts * 1000.0) as u64)
        }
        Some(other) => {
            return Err(PipesError::field(
                &f("StartingPosition"),
                Some(other),
                "Member must satisfy enum value set: [TRIM_HORIZON, AT_TIMESTAMP, LATEST]",
            ))
        }
        None => {
            return Err(PipesError::field(
                &f("StartingPosition"),
                None,
                "Member must not be null",
            ))
        }
    };
    Ok(KinesisSource {
        batch_size: batch as usize,
        window_seconds: window as u32,
        starting_position: position,
        max_retries: u32::try_from(retries).ok(),
        max_record_age_seconds: u64::try_from(age).ok(),
        bisect,
        dead_letter,
        parallelization: parallel as u32,
    })
}

fn template(params: Option<&serde_json::Map<String, Value>>, field: &str) -> Result<Option<Template>, PipesError> {
    let Some(text) = string(
        params.and_then(|p| p.get("InputTemplate")).unwrap_or(&Value::Null),
        "InputTemplate",
    )?
    else {
        return Ok(None);
    };
    if text.chars().count() > 8192 {
        return Err(PipesError::field(
            field,
            None,
            "Member must have length less than or equal to 8192",
        ));
    }
    Template::parse(text)
        .map(Some)
        .map_err(|e| PipesError::invalid(field, e))
}

fn target(arn: &Arn, params: Option<&serde_json::Map<String, Value>>) -> Result<TargetKind, PipesError> {
    let sub = |k: &str| object(params.and_then(|p| p.get(k)), k);
    let allowed: &[&str] = match arn.service.as_str() {
        "sqs" => &["InputTemplate", "SqsQueueParameters"],
        "lambda" => &["InputTemplate", "LambdaFunctionParameters"],
        "events" => &["InputTemplate", "EventBridgeEventBusParameters"],
        "kinesis" => &["InputTemplate", "KinesisStreamParameters"],
        "logs" => &["InputTemplate", "CloudWatchLogsParameters"],
        "sns" | "firehose" => &["InputTemplate"],
        other => {
            return Err(PipesError::invalid(
                "target",
                format!(
                    "localbridge does not implement {other} pipe targets (served: Amazon SQS, Amazon SNS, AWS Lambda, EventBridge event buses, Kinesis streams, Firehose streams, CloudWatch Logs)."
                ),
            ))
        }
    };
    if let Some(p) = params {
        only(
            p,
            "targetParameters",
            allowed,
            &format!("for a target of service {}", arn.service),
        )?;
    }
    let s = |m: Option<&serde_json::Map<String, Value>>, k: &str| -> Result<Option<String>, PipesError> {
        Ok(string(m.and_then(|m| m.get(k)).unwrap_or(&Value::Null), k)?.map(str::to_owned))
    };
    Ok(match arn.service.as_str() {
        "sqs" => {
            let p = sub("SqsQueueParameters")?;
            TargetKind::Sqs {
                group_id: s(p, "MessageGroupId")?,
                dedup_id: s(p, "MessageDeduplicationId")?,
            }
        }
        "sns" => TargetKind::Sns,
        "firehose" => TargetKind::Firehose,
        "lambda" => {
            let p = sub("LambdaFunctionParameters")?;
            let asynchronous = match s(p, "InvocationType")?.as_deref() {
                None | Some("REQUEST_RESPONSE") => false,
                Some("FIRE_AND_FORGET") => true,
                Some(other) => {
                    return Err(PipesError::field(
                        "targetParameters.lambdaFunctionParameters.invocationType",
                        Some(other),
                        "Member must satisfy enum value set: [REQUEST_RESPONSE, FIRE_AND_FORGET]",
                    ))
                }
            };
            TargetKind::Lambda { asynchronous }
        }
        "events" => {
            if !arn.resource.starts_with("event-bus/") {
                return Err(PipesError::invalid(
                    "target",
                    "localbridge serves EventBridge event buses as pipe targets (not API destinations).",
                ));
            }
            let p = sub("EventBridgeEventBusParameters")?;
            if let Some(p) = p {
                if p.get("EndpointId").is_some_and(|v| !v.is_null()) {
                    return Err(PipesError::invalid(
                        "targetParameters.eventBridgeEventBusParameters.endpointId",
                        "localbridge does not implement global endpoints.",
                    ));
                }
            }
            let resources = match p.and_then(|p| p.get("Resources")) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => {
                    if a.len() > 10 {
                        return Err(PipesError::field(
                            "targetParameters.eventBridgeEventBusParameters.resources",
                            None,
                            "Member must have length less than or equal to 10",
                        ));
                    }
                    a.iter().filter_map(Value::as_str).map(str::to_owned).collect()
                }
                Some(_) => return Err(AwsSerialization::error("Resources")),
            };
            let time = match s(p, "Time")? {
                None => None,
                Some(t) => Some(Box::new(JsonPath::parse(&t).map_err(|e| {
                    PipesError::invalid("targetParameters.eventBridgeEventBusParameters.time", e.to_string())
                })?)),
            };
            let source = s(p, "Source")?;
            if source.as_deref().is_some_and(|s| s.starts_with("aws.")) {
                return Err(PipesError::field(
                    "targetParameters.eventBridgeEventBusParameters.source",
                    source.as_deref(),
                    "Member must satisfy regular expression pattern: .*(?=[/\\.\\-_A-Za-z0-9]+)((?!aws\\.).*)|(\\$(\\.[\\w/_-]+(\\[(\\d+|\\*)\\])*)*).*",
                ));
            }
            TargetKind::EventBus {
                source,
                detail_type: s(p, "DetailType")?,
                resources,
                time,
            }
        }
        "kinesis" => {
            let p = sub("KinesisStreamParameters")?;
            let Some(key) = s(p, "PartitionKey")? else {
                return Err(PipesError::invalid(
                    "targetParameters.kinesisStreamParameters.partitionKey",
                    "KinesisStreamParameters.PartitionKey is required for a Kinesis stream target.",
                ));
            };
            TargetKind::Kinesis { partition_key: key }
        }
        "logs" => {
            let p = sub("CloudWatchLogsParameters")?;
            let timestamp = match s(p, "Timestamp")? {
                None => None,
                Some(t) => Some(Box::new(JsonPath::parse(&t).map_err(|e| {
                    PipesError::invalid("targetParameters.cloudWatchLogsParameters.timestamp", e.to_string())
                })?)),
            };
            TargetKind::Logs {
                stream: s(p, "LogStreamName")?,
                timestamp,
            }
        }
        _ => unreachable!("services checked above"),
    })
}

/// Compiles a pipe from its stored parameters.
pub fn compile(name: &str, region: &str, account: &str, stored: Stored) -> Result<Spec, PipesError> {
    if let Some(d) = &stored.description {
        if d.chars().count() > 512 {
            return Err(PipesError::field(
                "description",
                None,
                "Member must have length less than or equal to 512",
            ));
        }
    }
    check_role(&stored.role_arn)?;
    if stored.source.starts_with("smk://") {
        return Err(PipesError::invalid(
            "source",
            "localbridge does not implement self-managed Apache Kafka pipe sources.",
        ));
    }
    let source_arn = check_arn("source", &stored.source)?;
    let sp = object(stored.source_parameters.as_ref(), "SourceParameters")?;
    let source = match source_arn.service.as_str() {
        "sqs" => {
            if let Some(p) = sp {
                only(
                    p,
                    "sourceParameters",
                    &["FilterCriteria", "SqsQueueParameters"],
                    "for an Amazon SQS source",
                )?;
            }
            SourceKind::Sqs(sqs_source(sp)?)
        }
        "kinesis" => {
            if let Some(p) = sp {
                only(
                    p,
                    "sourceParameters",
                    &["FilterCriteria", "KinesisStreamParameters"],
                    "for a Kinesis stream source",
                )?;
            }
            SourceKind::Kinesis(kinesis_source(sp)?)
        }
        other => {
            return Err(PipesError::invalid(
                "source",
                format!(
                    "localbridge does not implement {other} pipe sources (served: Amazon SQS queues, Kinesis streams)."
                ),
            ))
        }
    };
    let filters = parse_filters(sp)?;
    let enrichment = match stored.enrichment.as_deref().filter(|e| !e.is_empty()) {
        None => None,
        Some(e) => {
            let arn = check_arn("enrichment", e)?;
            if arn.service != "lambda" {
                return Err(PipesError::invalid(
                    "enrichment",
                    format!(
                        "localbridge implements AWS Lambda enrichments only, not {}.",
                        arn.service
                    ),
                ));
            }
            Some(arn)
        }
    };
    let ep = object(stored.enrichment_parameters.as_ref(), "EnrichmentParameters")?;
    if let Some(p) = ep {
        only(
            p,
            "enrichmentParameters",
            &["InputTemplate"],
            "for an AWS Lambda enrichment",
        )?;
    }
    let enrichment_template = template(ep, "enrichmentParameters.inputTemplate")?;
    let target_arn = check_arn("target", &stored.target)?;
    let tp = object(stored.target_parameters.as_ref(), "TargetParameters")?;
    let target_kind = target(&target_arn, tp)?;
    let target_template = template(tp, "targetParameters.inputTemplate")?;
    let batch = match &source {
        SourceKind::Sqs(s) => s.batch_size,
        SourceKind::Kinesis(k) => k.batch_size,
    };
    if enrichment.is_none() && batch > target_kind.max_batch() {
        return Err(PipesError::invalid(
            "sourceParameters",
            format!(
                "The batch size {batch} is larger than the target's maximum batch size {}.",
                target_kind.max_batch()
            ),
        ));
    }
    let arn = format!("arn:aws:pipes:{region}:{account}:pipe/{name}");
    let ctx = TemplateContext {
        pipe_arn: arn.clone(),
        pipe_name: name.to_owned(),
        source_arn: stored.source.clone(),
        enrichment_arn: stored.enrichment.clone().unwrap_or_default(),
        target_arn: stored.target.clone(),
    };
    Ok(Spec {
        name: name.to_owned(),
        arn,
        region: region.to_owned(),
        account: account.to_owned(),
        stored,
        source_arn,
        source,
        filters,
        enrichment,
        enrichment_template,
        target_arn,
        target: target_kind,
        target_template,
        ctx,
        counters: std::sync::Arc::default(),
    })
}

/// UpdatePipe's source, enrichment or target parameters onto the stored ones: the members given
/// replace the old ones, each service's object whole (API Reference, UpdatePipe: "EventBridge
/// updates the fields in these objects atomically as one"); the members not given are kept. The
/// Kinesis starting position cannot change and is kept.
pub fn merge_source(old: Option<&Value>, new: Option<Value>) -> Option<Value> {
    let Some(Value::Object(new)) = new else {
        return old.cloned();
    };
    let mut out = match old {
        Some(Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    for (k, v) in new {
        if k == "KinesisStreamParameters" {
            let mut v = v;
            if let (Some(Value::Object(o)), Value::Object(n)) = (out.get(&k), &mut v) {
                for keep in ["StartingPosition", "StartingPositionTimestamp"] {
                    if let Some(x) = o.get(keep) {
                        n.insert(keep.to_owned(), x.clone());
                    }
                }
            }
            out.insert(k, v);
        } else {
            out.insert(k, v);
        }
    }
    Some(Value::Object(out))
}
