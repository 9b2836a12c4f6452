//! S3 Replication configuration in plain Rust: validation of PutBucketReplication and the rule
//! a new object version follows. The copying itself (`api/replication.rs`) runs on the clock.
//!
//! Texts, as AWS returns them (each seen in several independent public records of AWS
//! responses): `Versioning must be 'Enabled' on the bucket to apply a replication configuration`,
//! `Destination bucket must have versioning enabled.`, `DeleteMarkerReplication must be
//! specified for this version of Cross Region Replication configuration schema.`, `Priority must
//! be specified for this version of Cross Region Replication configuration schema.` (all
//! InvalidRequest). `Destination bucket must exist.` and `Invalid bucket ARN.` follow OpenStack
//! Swift's S3 emulation (unverified against AWS).

use s3s::dto::{ReplicationConfiguration, ReplicationRule};

use crate::error::Fault;
use crate::lifecycle::Filter;

/// S3 RTC's threshold: 15 minutes.
pub const RTC_THRESHOLD_MILLIS: u64 = 15 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub priority: i32,
    pub enabled: bool,
    pub filter: Filter,
    /// The destination bucket's name and ARN.
    pub destination: String,
    pub destination_arn: String,
    pub storage_class: Option<String>,
    /// S3 Replication Time Control (threshold events).
    pub rtc: bool,
    /// Replication metrics (failure events).
    pub metrics: bool,
    pub delete_markers: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub rules: Vec<Rule>,
    pub dto: ReplicationConfiguration,
}

fn invalid(message: &str) -> Fault {
    Fault::invalid_request(message.to_owned())
}

fn filter_of(r: &ReplicationRule) -> Result<(Filter, bool), Fault> {
    let tag = |t: &s3s::dto::Tag| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default());
    match (&r.prefix, &r.filter) {
        (Some(_), Some(_)) => Err(Fault::malformed_xml()),
        (Some(p), None) => Ok((
            Filter {
                prefix: p.clone(),
                ..Filter::default()
            },
            false,
        )),
        (None, None) => Err(Fault::malformed_xml()),
        (None, Some(f)) => {
            let mut out = Filter {
                prefix: f.prefix.clone().unwrap_or_default(),
                tags: f.tag.iter().map(tag).collect(),
                ..Filter::default()
            };
            if let Some(and) = &f.and {
                out.prefix = and.prefix.clone().unwrap_or_default();
                out.tags = and.tags.iter().flatten().map(tag).collect();
            }
            for (i, (k, _)) in out.tags.iter().enumerate() {
                if out.tags[..i].iter().any(|(o, _)| o == k) {
                    return Err(invalid("Duplicate Tag Keys are not allowed."));
                }
            }
            Ok((out, true))
        }
    }
}

/// Validates a configuration; `destination_versioning` tells, for a bucket name, whether it
/// exists (`Some`) and has versioning enabled (`Some(true)`).
pub fn compile(
    dto: ReplicationConfiguration,
    source_versioning_enabled: bool,
    destination_versioning: impl Fn(&str) -> Option<bool>,
) -> Result<Config, Fault> {
    if !source_versioning_enabled {
        return Err(invalid(
            "Versioning must be 'Enabled' on the bucket to apply a replication configuration",
        ));
    }
    if dto.role.is_empty() || dto.rules.is_empty() || dto.rules.len() > 1000 {
        return Err(Fault::malformed_xml());
    }
    let mut rules: Vec<Rule> = Vec::with_capacity(dto.rules.len());
    for (i, r) in dto.rules.iter().enumerate() {
        let (filter, new_schema) = filter_of(r)?;
        let id = match r.id.as_deref() {
            Some(id) if id.chars().count() > 255 => {
                return Err(Fault::invalid_argument(
                    "ID length should not exceed allowed limit of 255",
                    "ID",
                    id,
                ))
            }
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => format!("{}{i}", lb_core::ids::url_safe_id().get(..16).unwrap_or("rule")),
        };
        if rules.iter().any(|o| o.id == id) {
            return Err(Fault::invalid_argument("Rule Id must be unique", "ID", &id));
        }
        let priority = match (r.priority, new_schema) {
            (Some(p), _) if p < 0 => {
                return Err(Fault::invalid_argument(
                    "Priority must be between 0 and 2147483647.",
                    "Priority",
                    &p.to_string(),
                ))
            }
            (Some(p), _) => p,
            (None, true) => {
                return Err(invalid(
                    "Priority must be specified for this version of Cross Region Replication configuration schema.",
                ))
            }
            (None, false) => 0,
        };
        let delete_markers = match (&r.delete_marker_replication, new_schema) {
            (Some(d), _) => d.status.as_ref().is_some_and(|s| s.as_str() == "Enabled"),
            (None, true) => {
                return Err(invalid(
                    "DeleteMarkerReplication must be specified for this version of Cross Region Replication configuration schema.",
                ))
            }
            (None, false) => false,
        };
        if delete_markers && !filter.tags.is_empty() {
            return Err(invalid(
                "Delete marker replication is not supported if any Tag filter is specified.",
            ));
        }
        let enabled = match r.status.as_str() {
            "Enabled" => true,
            "Disabled" => false,
            _ => return Err(Fault::malformed_xml()),
        };
        let dest = &r.destination;
        let Some(name) = dest
            .bucket
            .strip_prefix("arn:aws:s3:::")
            .filter(|n| !n.is_empty() && !n.contains('/'))
        else {
            return Err(invalid("Invalid bucket ARN."));
        };
        match destination_versioning(name) {
            None => return Err(invalid("Destination bucket must exist.")),
            Some(false) => return Err(invalid("Destination bucket must have versioning enabled.")),
            Some(true) => {}
        }
        let storage_class = dest.storage_class.as_ref().map(|s| s.as_str().to_owned());
        if let Some(sc) = &storage_class {
            if !crate::api::STORAGE_CLASSES.contains(&sc.as_str()) {
                return Err(Fault::malformed_xml());
            }
        }
        let rtc = dest
            .replication_time
            .as_ref()
            .is_some_and(|t| t.status.as_str() == "Enabled");
        let metrics = dest.metrics.as_ref().is_some_and(|m| m.status.as_str() == "Enabled");
        if let Some(t) = &dest.replication_time {
            if t.time.minutes != Some(15) {
                return Err(Fault::malformed_xml());
            }
        }
        if rtc && !metrics {
            return Err(invalid(
                "Replication Time Control must be used in conjunction with Replication Metrics.",
            ));
        }
        rules.push(Rule {
            id,
            priority,
            enabled,
            filter,
            destination: name.to_owned(),
            destination_arn: dest.bucket.clone(),
            storage_class,
            rtc,
            metrics,
            delete_markers,
        });
    }
    let mut dto = dto;
    for (r, c) in dto.rules.iter_mut().zip(&rules) {
        r.id = Some(c.id.clone());
    }
    Ok(Config { rules, dto })
}

impl Config {
    /// The enabled rule of the highest priority matching an object (`None` for a delete marker).
    pub fn rule_for(&self, key: &str, object: Option<(u64, &[(String, String)])>) -> Option<&Rule> {
        self.rules
            .iter()
            .filter(|r| r.enabled && r.filter.matches(key, object))
            .filter(|r| object.is_some() || r.delete_markers)
            .max_by_key(|r| r.priority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::dto::{DeleteMarkerReplication, Destination, ReplicationRuleFilter, ReplicationRuleStatus};

    fn rule(id: &str, priority: Option<i32>, prefix: &str, dest: &str) -> ReplicationRule {
        ReplicationRule {
            delete_marker_replication: Some(DeleteMarkerReplication {
                status: Some(s3s::dto::DeleteMarkerReplicationStatus::from_static("Disabled")),
            }),
            destination: Destination {
                access_control_translation: None,
                account: None,
                bucket: dest.into(),
                encryption_configuration: None,
                metrics: None,
                replication_time: None,
                storage_class: None,
            },
            existing_object_replication: None,
            filter: Some(ReplicationRuleFilter {
                and: None,
                prefix: Some(prefix.into()),
                tag: None,
            }),
            id: Some(id.into()),
            prefix: None,
            priority,
            source_selection_criteria: None,
            status: ReplicationRuleStatus::from_static("Enabled"),
        }
    }

    fn config(rules: Vec<ReplicationRule>) -> ReplicationConfiguration {
        ReplicationConfiguration {
            role: "arn:aws:iam::000000000000:role/r".into(),
            rules,
        }
    }

    #[test]
    fn validation_and_priority() {
        let exists = |n: &str| (n == "dest").then_some(true);
        let e = compile(config(vec![rule("a", Some(1), "", "arn:aws:s3:::dest")]), false, exists).unwrap_err();
        assert_eq!(
            e.message,
            "Versioning must be 'Enabled' on the bucket to apply a replication configuration"
        );
        let e = compile(config(vec![rule("a", None, "", "arn:aws:s3:::dest")]), true, exists).unwrap_err();
        assert!(e.message.starts_with("Priority must be specified"));
        let e = compile(config(vec![rule("a", Some(1), "", "arn:aws:s3:::nope")]), true, exists).unwrap_err();
        assert_eq!(e.message, "Destination bucket must exist.");
        let e = compile(config(vec![rule("a", Some(1), "", "arn:aws:s3:::dest")]), true, |_| {
            Some(false)
        })
        .unwrap_err();
        assert_eq!(e.message, "Destination bucket must have versioning enabled.");
        let c = compile(
            config(vec![
                rule("low", Some(1), "", "arn:aws:s3:::dest"),
                rule("high", Some(5), "docs/", "arn:aws:s3:::dest"),
            ]),
            true,
            exists,
        )
        .unwrap();
        assert_eq!(c.rule_for("docs/a", Some((1, &[]))).unwrap().id, "high");
        assert_eq!(c.rule_for("other", Some((1, &[]))).unwrap().id, "low");
        assert!(
            c.rule_for("docs/a", None).is_none(),
            "delete marker replication is disabled"
        );
    }
}
