//! Delivery stream configuration: the S3 destination as CreateDeliveryStream and
//! UpdateDestination accept it (botocore `firehose` 2015-08-04 shapes), validated once, and as
//! DescribeDeliveryStream shows it.
//!
//! Every member is either honoured or refused with `InvalidArgumentException`: a configuration
//! that localbridge would not carry out (KMS-encrypted objects, CloudWatch error logging, S3
//! backup, format conversion, dynamic partitioning, ZIP/Snappy compression, time zones other
//! than UTC) is never accepted and ignored.

use std::collections::BTreeMap;

use lb_core::{Arn, AwsError};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::errors::{constraint, invalid, missing, range, unsupported};
use crate::prefix::Layout;

/// BufferingHints defaults (API reference, BufferingHints).
pub const DEFAULT_SIZE_MB: u32 = 5;
pub const DEFAULT_INTERVAL_SECONDS: u32 = 300;
/// A Lambda processor's defaults and bounds (Developer Guide, "Transform source data"): 3
/// retries; invocation payloads of up to 1 MB by default, 3 MB at most.
pub const DEFAULT_LAMBDA_RETRIES: u32 = 3;
pub const MAX_LAMBDA_RETRIES: u32 = 300;
pub const DEFAULT_LAMBDA_BUFFER_BYTES: usize = 1024 * 1024;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct BufferingHintsIn {
    #[serde(rename = "SizeInMBs")]
    pub size_in_mbs: Option<i64>,
    #[serde(rename = "IntervalInSeconds")]
    pub interval_in_seconds: Option<i64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ParameterIn {
    #[serde(rename = "ParameterName")]
    pub name: Option<String>,
    #[serde(rename = "ParameterValue")]
    pub value: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ProcessorIn {
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    #[serde(rename = "Parameters")]
    pub parameters: Option<Vec<ParameterIn>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ProcessingIn {
    #[serde(rename = "Enabled")]
    pub enabled: Option<bool>,
    #[serde(rename = "Processors")]
    pub processors: Option<Vec<ProcessorIn>>,
}

/// `S3DestinationConfiguration`, `ExtendedS3DestinationConfiguration` and their `*Update`
/// forms (every member optional here; required ones are checked by [`S3Destination::build`]).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct S3DestinationIn {
    #[serde(rename = "RoleARN")]
    pub role_arn: Option<String>,
    #[serde(rename = "BucketARN")]
    pub bucket_arn: Option<String>,
    #[serde(rename = "Prefix")]
    pub prefix: Option<String>,
    #[serde(rename = "ErrorOutputPrefix")]
    pub error_output_prefix: Option<String>,
    #[serde(rename = "BufferingHints")]
    pub buffering_hints: Option<BufferingHintsIn>,
    #[serde(rename = "CompressionFormat")]
    pub compression_format: Option<String>,
    #[serde(rename = "EncryptionConfiguration")]
    pub encryption: Option<Value>,
    #[serde(rename = "CloudWatchLoggingOptions")]
    pub cloudwatch: Option<Value>,
    #[serde(rename = "ProcessingConfiguration")]
    pub processing: Option<Value>,
    #[serde(rename = "S3BackupMode")]
    pub s3_backup_mode: Option<String>,
    #[serde(rename = "FileExtension")]
    pub file_extension: Option<String>,
    #[serde(rename = "CustomTimeZone")]
    pub custom_time_zone: Option<String>,
    #[serde(rename = "DataFormatConversionConfiguration")]
    pub data_format_conversion: Option<Value>,
    #[serde(rename = "DynamicPartitioningConfiguration")]
    pub dynamic_partitioning: Option<Value>,
    /// Anything else (S3BackupConfiguration, ...): refused.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl S3DestinationIn {
    /// `self` with the members `update` sets replaced (UpdateDestination's merge).
    #[must_use]
    pub fn merged(mut self, update: S3DestinationIn) -> S3DestinationIn {
        macro_rules! take {
            ($($f:ident),*) => { $( if update.$f.is_some() { self.$f = update.$f; } )* };
        }
        take!(
            role_arn,
            bucket_arn,
            prefix,
            error_output_prefix,
            compression_format,
            encryption,
            cloudwatch,
            processing,
            s3_backup_mode,
            file_extension,
            custom_time_zone,
            data_format_conversion,
            dynamic_partitioning
        );
        if let Some(h) = update.buffering_hints {
            let mut cur = self.buffering_hints.take().unwrap_or_default();
            if h.size_in_mbs.is_some() {
                cur.size_in_mbs = h.size_in_mbs;
            }
            if h.interval_in_seconds.is_some() {
                cur.interval_in_seconds = h.interval_in_seconds;
            }
            self.buffering_hints = Some(cur);
        }
        self.other.extend(update.other);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Uncompressed,
    Gzip,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Uncompressed => "UNCOMPRESSED",
            Compression::Gzip => "GZIP",
        }
    }
}

/// A record processor that runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processor {
    Lambda {
        function: Arn,
        function_text: String,
        retries: u32,
        /// The most record bytes per invocation (`BufferSizeInMBs`).
        buffer_bytes: usize,
    },
    /// `AppendDelimiterToRecord`: each record followed by the delimiter (`\n` by default).
    AppendDelimiter(Vec<u8>),
}

/// A validated S3 destination.
#[derive(Debug, Clone)]
pub struct S3Destination {
    /// Configured through `ExtendedS3DestinationConfiguration` (or the older form).
    pub extended: bool,
    /// The configuration as given, for UpdateDestination's merge.
    pub input: S3DestinationIn,
    pub role_arn: String,
    pub bucket_arn: String,
    pub bucket: Arn,
    pub layout: Layout,
    pub size_mb: u32,
    pub interval_seconds: u32,
    pub compression: Compression,
    pub processors: Vec<Processor>,
    pub file_extension: Option<String>,
}

fn check_role(role: &str, member: &str) -> Result<(), AwsError> {
    let ok = role.starts_with("arn:")
        && role.split(':').nth(2) == Some("iam")
        && role
            .split(':')
            .nth(4)
            .is_some_and(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        && role
            .split(':')
            .nth(5)
            .is_some_and(|r| r.starts_with("role/") && r.len() > 5);
    if ok && role.len() <= 512 {
        Ok(())
    } else {
        Err(constraint(
            role,
            member,
            "Member must satisfy regular expression pattern: arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+",
        ))
    }
}

fn check_bucket(arn: &str, member: &str) -> Result<Arn, AwsError> {
    let parsed = arn.parse::<Arn>().ok().filter(|a| {
        a.service == "s3"
            && a.region.is_empty()
            && a.account.is_empty()
            && !a.resource.is_empty()
            && a.resource.len() <= 255
            && a.resource
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    });
    parsed.ok_or_else(|| {
        constraint(
            arn,
            member,
            "Member must satisfy regular expression pattern: arn:.*:s3:::[\\w\\.\\-]{1,255}",
        )
    })
}

fn enabled(v: Option<&Value>) -> bool {
    v.and_then(|v| v.get("Enabled")).and_then(Value::as_bool) == Some(true)
}

fn processors(v: &Value, member: &str) -> Result<Vec<Processor>, AwsError> {
    let p: ProcessingIn =
        serde_json::from_value(v.clone()).map_err(|e| AwsError::new("SerializationException", 400, e.to_string()))?;
    let list = p.processors.unwrap_or_default();
    // Processors given without `Enabled` run (a list of processors is not a request to skip them).
    if !p.enabled.unwrap_or(!list.is_empty()) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (i, proc) in list.iter().enumerate() {
        let member = format!("{member}.processingConfiguration.processors.{}", i + 1);
        let params: BTreeMap<&str, &str> = proc
            .parameters
            .iter()
            .flatten()
            .filter_map(|p| Some((p.name.as_deref()?, p.value.as_deref()?)))
            .collect();
        match proc.kind.as_deref() {
            None => return Err(missing(&format!("{member}.type"))),
            Some("Lambda") => {
                if out.iter().any(|p| matches!(p, Processor::Lambda { .. })) {
                    return Err(invalid("Only one Lambda processor is allowed"));
                }
                for name in params.keys() {
                    if !matches!(*name, "LambdaArn" | "NumberOfRetries" | "BufferSizeInMBs" | "RoleArn") {
                        if *name == "BufferIntervalInSeconds" {
                            return Err(unsupported(
                                "the Lambda processor parameter BufferIntervalInSeconds (records are transformed when the destination buffer is delivered)",
                            ));
                        }
                        return Err(invalid(format!("Parameter {name} is not valid for processor type Lambda")));
                    }
                }
                let Some(arn_text) = params.get("LambdaArn") else {
                    return Err(invalid("LambdaArn is a required parameter for processor type Lambda"));
                };
                let function = arn_text
                    .parse::<Arn>()
                    .ok()
                    .filter(|a| a.service == "lambda")
                    .ok_or_else(|| invalid(format!("LambdaArn {arn_text} is not a valid Lambda function ARN")))?;
                let retries = match params.get("NumberOfRetries") {
                    None => DEFAULT_LAMBDA_RETRIES,
                    Some(v) => v
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n <= MAX_LAMBDA_RETRIES)
                        .ok_or_else(|| invalid(format!("NumberOfRetries must be an integer from 0 to {MAX_LAMBDA_RETRIES}")))?,
                };
                let buffer_bytes = match params.get("BufferSizeInMBs") {
                    None => DEFAULT_LAMBDA_BUFFER_BYTES,
                    Some(v) => v
                        .parse::<f64>()
                        .ok()
                        .filter(|n| (0.2..=3.0).contains(n))
                        .map(|n| (n * 1024.0 * 1024.0) as usize)
                        .ok_or_else(|| invalid("BufferSizeInMBs must be a number from 0.2 to 3 for processor type Lambda"))?,
                };
                out.push(Processor::Lambda {
                    function,
                    function_text: (*arn_text).to_owned(),
                    retries,
                    buffer_bytes,
                });
            }
            Some("AppendDelimiterToRecord") => {
                let delimiter = match params.get("Delimiter") {
                    None => b"\n".to_vec(),
                    Some(d) => d.replace("\\n", "\n").replace("\\t", "\t").into_bytes(),
                };
                out.push(Processor::AppendDelimiter(delimiter));
            }
            Some(
                t @ ("RecordDeAggregation"
                | "Decompression"
                | "CloudWatchLogProcessing"
                | "MetadataExtraction"),
            ) => return Err(unsupported(&format!("the {t} processor"))),
            Some(t) => {
                return Err(constraint(
                    t,
                    &format!("{member}.type"),
                    "Member must satisfy enum value set: [RecordDeAggregation, Decompression, CloudWatchLogProcessing, Lambda, MetadataExtraction, AppendDelimiterToRecord]",
                ))
            }
        }
    }
    Ok(out)
}

impl S3Destination {
    /// Validates `input`; `member` is its request member in camelCase
    /// (`extendedS3DestinationConfiguration`).
    pub fn build(input: S3DestinationIn, extended: bool, member: &str) -> Result<S3Destination, AwsError> {
        let Some(role) = input.role_arn.clone() else {
            return Err(missing(&format!("{member}.roleARN")));
        };
        check_role(&role, &format!("{member}.roleARN"))?;
        let Some(bucket_arn) = input.bucket_arn.clone() else {
            return Err(missing(&format!("{member}.bucketARN")));
        };
        let bucket = check_bucket(&bucket_arn, &format!("{member}.bucketARN"))?;
        let hints = input.buffering_hints.clone().unwrap_or_default();
        range(hints.size_in_mbs, &format!("{member}.bufferingHints.sizeInMBs"), 1, 128)?;
        range(
            hints.interval_in_seconds,
            &format!("{member}.bufferingHints.intervalInSeconds"),
            0,
            900,
        )?;
        let compression = match input.compression_format.as_deref() {
            None | Some("UNCOMPRESSED") => Compression::Uncompressed,
            Some("GZIP") => Compression::Gzip,
            Some(f @ ("ZIP" | "Snappy" | "HADOOP_SNAPPY")) => {
                return Err(unsupported(&format!(
                    "CompressionFormat {f} (UNCOMPRESSED and GZIP are)"
                )))
            }
            Some(f) => {
                return Err(constraint(
                    f,
                    &format!("{member}.compressionFormat"),
                    "Member must satisfy enum value set: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]",
                ))
            }
        };
        for (name, v) in [
            ("Prefix", &input.prefix),
            ("ErrorOutputPrefix", &input.error_output_prefix),
        ] {
            if v.as_ref().is_some_and(|p| p.len() > 1024) {
                return Err(constraint(
                    v.as_deref().unwrap_or_default(),
                    &format!("{member}.{}", lower_first(name)),
                    "Member must have length less than or equal to 1024",
                ));
            }
        }
        let layout = Layout::new(input.prefix.as_deref(), input.error_output_prefix.as_deref(), member)?;
        if let Some(e) = &input.encryption {
            if e.get("KMSEncryptionConfig").is_some_and(|v| !v.is_null()) {
                return Err(unsupported("KMSEncryptionConfig (SSE-KMS encrypted objects)"));
            }
            match e.get("NoEncryptionConfig").and_then(Value::as_str) {
                None | Some("NoEncryption") => {}
                Some(v) => {
                    return Err(constraint(
                        v,
                        &format!("{member}.encryptionConfiguration.noEncryptionConfig"),
                        "Member must satisfy enum value set: [NoEncryption]",
                    ))
                }
            }
        }
        if enabled(input.cloudwatch.as_ref()) {
            return Err(unsupported("CloudWatchLoggingOptions with Enabled true (delivery errors are logged by the server and counted in its metrics)"));
        }
        match input.s3_backup_mode.as_deref() {
            None | Some("Disabled") => {}
            Some("Enabled") => return Err(unsupported("S3BackupMode Enabled")),
            Some(m) => {
                return Err(constraint(
                    m,
                    &format!("{member}.s3BackupMode"),
                    "Member must satisfy enum value set: [Disabled, Enabled]",
                ))
            }
        }
        if enabled(input.data_format_conversion.as_ref()) {
            return Err(unsupported("DataFormatConversionConfiguration"));
        }
        if enabled(input.dynamic_partitioning.as_ref()) {
            return Err(unsupported("DynamicPartitioningConfiguration"));
        }
        match input.custom_time_zone.as_deref() {
            None | Some("" | "UTC") => {}
            Some(_) => return Err(unsupported("CustomTimeZone other than UTC")),
        }
        if let Some(ext) = input.file_extension.as_deref().filter(|e| !e.is_empty()) {
            let ok = ext.len() <= 128
                && ext.starts_with('.')
                && ext.len() > 1
                && ext[1..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!-_.*'()".contains(&b));
            if !ok {
                return Err(constraint(
                    ext,
                    &format!("{member}.fileExtension"),
                    "Member must satisfy regular expression pattern: ^$|\\.[0-9a-z!\\-_.*'()]+",
                ));
            }
        }
        if let Some(k) = input.other.iter().find(|(_, v)| !v.is_null()).map(|(k, _)| k) {
            return Err(unsupported(k));
        }
        let processors = match &input.processing {
            Some(p) => processors(p, member)?,
            None => Vec::new(),
        };
        if !extended && input.processing.is_some() {
            return Err(invalid(
                "ProcessingConfiguration is only valid in ExtendedS3DestinationConfiguration",
            ));
        }
        Ok(S3Destination {
            extended,
            role_arn: role,
            bucket_arn,
            bucket,
            layout,
            size_mb: hints.size_in_mbs.map_or(DEFAULT_SIZE_MB, |v| v as u32),
            interval_seconds: hints.interval_in_seconds.map_or(DEFAULT_INTERVAL_SECONDS, |v| v as u32),
            compression,
            processors,
            file_extension: input.file_extension.clone().filter(|e| !e.is_empty()),
            input,
        })
    }

    pub fn size_bytes(&self) -> usize {
        self.size_mb as usize * 1024 * 1024
    }

    pub fn interval_millis(&self) -> u64 {
        u64::from(self.interval_seconds) * 1000
    }

    /// The objects' file extension: FileExtension, else `.gz` for GZIP.
    pub fn extension(&self) -> &str {
        match (&self.file_extension, self.compression) {
            (Some(e), _) => e,
            (None, Compression::Gzip) => ".gz",
            (None, Compression::Uncompressed) => "",
        }
    }

    pub fn lambda(&self) -> Option<(&Arn, &str)> {
        self.processors.iter().find_map(|p| match p {
            Processor::Lambda {
                function,
                function_text,
                ..
            } => Some((function, function_text.as_str())),
            Processor::AppendDelimiter(_) => None,
        })
    }

    /// `S3DestinationDescription`: the members both forms share.
    fn basic_description(&self) -> Map<String, Value> {
        let i = &self.input;
        let mut d = Map::new();
        d.insert("RoleARN".into(), json!(self.role_arn));
        d.insert("BucketARN".into(), json!(self.bucket_arn));
        if let Some(p) = &i.prefix {
            d.insert("Prefix".into(), json!(p));
        }
        if let Some(p) = &i.error_output_prefix {
            d.insert("ErrorOutputPrefix".into(), json!(p));
        }
        d.insert(
            "BufferingHints".into(),
            json!({ "SizeInMBs": self.size_mb, "IntervalInSeconds": self.interval_seconds }),
        );
        d.insert("CompressionFormat".into(), json!(self.compression.as_str()));
        d.insert(
            "EncryptionConfiguration".into(),
            i.encryption
                .clone()
                .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
                .unwrap_or_else(|| json!({ "NoEncryptionConfig": "NoEncryption" })),
        );
        d.insert(
            "CloudWatchLoggingOptions".into(),
            i.cloudwatch.clone().unwrap_or_else(|| json!({ "Enabled": false })),
        );
        d
    }

    /// One entry of `Destinations`: `S3DestinationDescription` and, for both forms,
    /// `ExtendedS3DestinationDescription` (AWS describes an S3 destination in both shapes).
    pub fn description(&self, destination_id: &str) -> Value {
        let i = &self.input;
        let basic = self.basic_description();
        let mut ext = basic.clone();
        if let Some(p) = &i.processing {
            ext.insert("ProcessingConfiguration".into(), p.clone());
        }
        ext.insert(
            "S3BackupMode".into(),
            json!(i.s3_backup_mode.as_deref().unwrap_or("Disabled")),
        );
        for (k, v) in [
            ("DataFormatConversionConfiguration", &i.data_format_conversion),
            ("DynamicPartitioningConfiguration", &i.dynamic_partitioning),
        ] {
            if let Some(v) = v {
                ext.insert(k.into(), v.clone());
            }
        }
        if let Some(e) = &i.file_extension {
            ext.insert("FileExtension".into(), json!(e));
        }
        if let Some(z) = &i.custom_time_zone {
            ext.insert("CustomTimeZone".into(), json!(z));
        }
        json!({
            "DestinationId": destination_id,
            "S3DestinationDescription": Value::Object(basic),
            "ExtendedS3DestinationDescription": Value::Object(ext),
        })
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}
