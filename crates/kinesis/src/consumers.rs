//! Enhanced fan-out consumers: RegisterStreamConsumer, DescribeStreamConsumer,
//! ListStreamConsumers, DeregisterStreamConsumer.
//!
//! - A consumer's ARN is `<stream ARN>/consumer/<name>:<creation epoch seconds>`, as AWS forms
//!   it; it is `CREATING` for the configured delay on the clock (`create_delay_millis`, 0 by
//!   default), then `ACTIVE`. Deregistering removes it at once (AWS shows `DELETING` for a while).
//! - At most 20 consumers per stream (AWS's limit for provisioned and on-demand standard
//!   streams); a name is unique within its stream.
//! - Texts: "Consumer <name>, account <account> not found." as moto words it; the limit and
//!   duplicate texts are ours (unverified).

use std::sync::Arc;

use lb_core::AwsError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::errors::{self, constraint, invalid, missing};
use crate::store::Stream;
use crate::Kinesis;

/// Consumers one stream may have.
pub const MAX_CONSUMERS: usize = 20;

/// A registered consumer.
#[derive(Debug, Clone)]
pub struct Consumer {
    pub name: String,
    pub arn: String,
    pub created_millis: u64,
    pub active_at_millis: u64,
    /// The tags given at registration (kept with the consumer; localbridge has no
    /// ListTagsForResource yet to read them back).
    pub tags: std::collections::BTreeMap<String, String>,
}

impl Consumer {
    pub fn status(&self, now: u64) -> &'static str {
        if now < self.active_at_millis {
            "CREATING"
        } else {
            "ACTIVE"
        }
    }

    fn json(&self, now: u64) -> Value {
        json!({
            "ConsumerName": self.name,
            "ConsumerARN": self.arn,
            "ConsumerStatus": self.status(now),
            "ConsumerCreationTimestamp": self.created_millis as f64 / 1000.0,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ConsumerInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub consumer_name: Option<String>,
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
    pub tags: Option<std::collections::BTreeMap<String, String>>,
    /// Epoch seconds (ListStreamConsumers).
    pub stream_creation_timestamp: Option<f64>,
}

fn check_consumer_name(name: &str) -> Result<(), AwsError> {
    if name.is_empty() || name.len() > 128 {
        return Err(constraint(
            name,
            "consumerName",
            "Member must have length less than or equal to 128",
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(constraint(
            name,
            "consumerName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}

fn not_found(what: &str, account: &str) -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        400,
        format!("Consumer {what}, account {account} not found."),
    )
}

/// `(stream ARN, consumer name)` of a consumer ARN.
pub fn parse_consumer_arn(arn: &str) -> Option<(&str, &str)> {
    let (stream, rest) = arn.split_once("/consumer/")?;
    let (name, secs) = rest.rsplit_once(':')?;
    (!name.is_empty() && !secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit())).then_some((stream, name))
}

impl Kinesis {
    fn stream_of_arn(&self, region: &str, account: &str, arn: &str) -> Result<Arc<Stream>, AwsError> {
        let r = crate::service::StreamRef {
            stream_name: None,
            stream_arn: Some(arn.to_owned()),
        };
        self.stream(region, account, &r)
    }

    /// The consumer a request names (its ARN, or the stream ARN and its name), with its stream.
    pub(crate) fn consumer(
        &self,
        region: &str,
        account: &str,
        i: &ConsumerInput,
    ) -> Result<(Arc<Stream>, Consumer), AwsError> {
        let (stream_arn, name) = match (&i.consumer_arn, &i.stream_arn, &i.consumer_name) {
            (Some(arn), _, _) => {
                let (s, n) = parse_consumer_arn(arn).ok_or_else(|| {
                    constraint(
                        arn,
                        "consumerARN",
                        "Member must satisfy regular expression pattern: ^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+",
                    )
                })?;
                (s.to_owned(), n.to_owned())
            }
            (None, Some(s), Some(n)) => (s.clone(), n.clone()),
            _ => {
                return Err(invalid(
                    "Either ConsumerARN or both StreamARN and ConsumerName must be provided.",
                ))
            }
        };
        let stream = self.stream_of_arn(region, account, &stream_arn)?;
        let found = stream
            .consumers()
            .iter()
            .find(|c| c.name == name && i.consumer_arn.as_ref().is_none_or(|a| *a == c.arn))
            .cloned();
        let consumer = found.ok_or_else(|| not_found(i.consumer_arn.as_deref().unwrap_or(&name), account))?;
        Ok((stream, consumer))
    }

    pub fn register_consumer(&self, region: &str, account: &str, i: &ConsumerInput) -> Result<Value, AwsError> {
        let stream_arn = i.stream_arn.as_deref().ok_or_else(|| missing("streamARN"))?;
        let name = i.consumer_name.as_deref().ok_or_else(|| missing("consumerName"))?;
        check_consumer_name(name)?;
        let stream = self.stream_of_arn(region, account, stream_arn)?;
        let now = self.now();
        let mut consumers = stream.consumers();
        if consumers.iter().any(|c| c.name == name) {
            return Err(AwsError::new(
                "ResourceInUseException",
                400,
                format!(
                    "Consumer {name} under stream {} and account {account} already exists.",
                    stream.name
                ),
            ));
        }
        if consumers.len() >= MAX_CONSUMERS {
            return Err(errors::limit_exceeded(format!(
                "Stream {} under account {account} already has {MAX_CONSUMERS} registered consumers, the most it may have.",
                stream.name
            )));
        }
        let consumer = Consumer {
            name: name.to_owned(),
            arn: format!("{}/consumer/{name}:{}", stream.arn, now / 1000),
            created_millis: now,
            active_at_millis: now.saturating_add(self.config.create_delay_millis),
            tags: i.tags.clone().unwrap_or_default(),
        };
        let out = json!({ "Consumer": consumer.json(now) });
        consumers.push(consumer);
        Ok(out)
    }

    pub fn describe_consumer(&self, region: &str, account: &str, i: &ConsumerInput) -> Result<Value, AwsError> {
        let (stream, c) = self.consumer(region, account, i)?;
        let mut d = c.json(self.now());
        d["StreamARN"] = json!(stream.arn);
        Ok(json!({ "ConsumerDescription": d }))
    }

    pub fn list_consumers(&self, region: &str, account: &str, i: &ConsumerInput) -> Result<Value, AwsError> {
        let stream_arn = i.stream_arn.as_deref().ok_or_else(|| missing("streamARN"))?;
        if let Some(n) = i.max_results {
            if !(1..=10_000).contains(&n) {
                return Err(constraint(
                    &n.to_string(),
                    "maxResults",
                    if n < 1 {
                        "Member must have value greater than or equal to 1"
                    } else {
                        "Member must have value less than or equal to 10000"
                    },
                ));
            }
        }
        let stream = self.stream_of_arn(region, account, stream_arn)?;
        crate::service::check_creation(&stream, i.stream_creation_timestamp, account)?;
        let limit = usize::try_from(i.max_results.unwrap_or(100).min(100)).unwrap_or(100);
        let skip = match &i.next_token {
            Some(t) => t
                .parse::<usize>()
                .map_err(|_| invalid(format!("Invalid NextToken: {t}")))?,
            None => 0,
        };
        let now = self.now();
        let consumers = stream.consumers();
        let page: Vec<Value> = consumers.iter().skip(skip).take(limit).map(|c| c.json(now)).collect();
        let mut out = json!({ "Consumers": page });
        if consumers.len() > skip + limit {
            out["NextToken"] = json!((skip + limit).to_string());
        }
        Ok(out)
    }

    pub fn deregister_consumer(&self, region: &str, account: &str, i: &ConsumerInput) -> Result<(), AwsError> {
        let (stream, c) = self.consumer(region, account, i)?;
        stream.consumers().retain(|x| x.arn != c.arn);
        Ok(())
    }
}
