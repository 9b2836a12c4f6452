//! PutBucketNotificationConfiguration: validation and the compiled form that `emit` reads.
//!
//! Validation order (each step only runs when the previous ones passed, so a rejected request
//! never stores anything):
//! 1. each configuration, in wire order (Topic, Queue, CloudFunction, as the SDKs serialize the
//!    model's members): destination ARN (`The ARN could not be parsed`, with `ArgumentName` the
//!    XML element — `Topic`, `Queue`, `CloudFunction` — and `ArgumentValue` the ARN), its region,
//!    event names, key filter rules;
//! 2. overlaps between configurations (any destination types): a common event type (wildcards
//!    included) with overlapping key filters;
//! 3. destinations, unless validation is skipped: every destination is asked, and all failures
//!    are listed in one error (`ArgumentName1`/`ArgumentValue1`, `ArgumentName2`, ...).

use std::collections::HashSet;

use base64::Engine as _;
use lb_core::deliver::{DestinationError, Registry};
use lb_core::policy::PolicyRequest;
use lb_core::Arn;
use lb_rules::s3_key::{KeyFilter, KeyFilterError, RuleName};
use s3s::dto::{FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter};

use super::error::NotificationError;
use super::record::bucket_arn;

/// Every event type a notification configuration may name: botocore's `Event` enum for
/// s3 2006-03-01 (botocore 1.44), which is the User Guide's "Supported event types" list plus
/// the newer `s3:ObjectAnnotation:*` and `s3:ObjectRetention:Put`.
pub const SUPPORTED_EVENTS: &[&str] = &[
    "s3:ReducedRedundancyLostObject",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:ObjectRestore:Delete",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAnnotation:*",
    "s3:ObjectAnnotation:Put",
    "s3:ObjectAnnotation:Delete",
    "s3:ObjectRetention:Put",
];

const DESTINATIONS_FAILED: &str = "Unable to validate the following destination configurations";
const ARN_NOT_PARSED: &str = "The ARN could not be parsed";
const WRONG_REGION: &str =
    "The notification destination service region is not valid for the bucket location constraint";
const EVENT_NOT_SUPPORTED: &str = "The event is not supported for notifications";
const OVERLAP: &str = "Configurations overlap. Configurations on the same bucket cannot share a common event type.";

/// The three ARN-addressed destination types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationKind {
    Topic,
    Queue,
    Lambda,
}

impl DestinationKind {
    /// The configuration's ARN element in S3's XML (`ArgumentName` of ARN errors).
    pub fn element(self) -> &'static str {
        match self {
            Self::Topic => "Topic",
            Self::Queue => "Queue",
            Self::Lambda => "CloudFunction",
        }
    }

    pub fn service(self) -> &'static str {
        match self {
            Self::Topic => "sns",
            Self::Queue => "sqs",
            Self::Lambda => "lambda",
        }
    }

    /// The action S3's service principal needs on the destination.
    pub fn action(self) -> &'static str {
        match self {
            Self::Topic => "sns:Publish",
            Self::Queue => "sqs:SendMessage",
            Self::Lambda => "lambda:InvokeFunction",
        }
    }

    /// `(ArgumentName, ArgumentValue)` of a destination that failed validation, as AWS words
    /// them. Lambda cannot tell a missing function from a denied one: both read "Not authorized".
    fn failure(self, arn: &str, err: &DestinationError) -> (String, String) {
        match (self, err) {
            (Self::Queue, DestinationError::NotFound) => {
                (arn.to_owned(), "The destination queue does not exist".into())
            }
            (Self::Queue, DestinationError::AccessDenied) => (
                arn.to_owned(),
                "Permissions on the destination queue do not allow S3 to publish notifications from this bucket".into(),
            ),
            (Self::Topic, DestinationError::NotFound) => {
                (arn.to_owned(), "The destination topic does not exist".into())
            }
            (Self::Topic, DestinationError::AccessDenied) => (
                arn.to_owned(),
                "Permissions on the destination topic do not allow S3 to publish notifications from this bucket".into(),
            ),
            (Self::Lambda, _) => (
                format!("{arn}, null"),
                format!("Not authorized to invoke function [{arn}]"),
            ),
        }
    }
}

/// One validated configuration (a queue, topic or function and what it wants to hear about).
#[derive(Debug, Clone)]
pub struct Rule {
    /// The configuration's `Id` (generated when the request had none).
    pub id: String,
    pub kind: DestinationKind,
    pub arn: Arn,
    /// Event patterns without the `s3:` prefix (`ObjectCreated:*`, `ObjectRemoved:Delete`).
    pub events: Vec<String>,
    pub filter: KeyFilter,
}

impl Rule {
    /// Whether an event named `event_name` (no `s3:` prefix) on `key` goes to this destination.
    pub fn matches(&self, event_name: &str, key: &str) -> bool {
        self.events.iter().any(|p| event_matches(p, event_name)) && self.filter.matches(key)
    }
}

/// `ObjectCreated:*` matches `ObjectCreated:Put`; anything else matches itself only.
pub fn event_matches(pattern: &str, event_name: &str) -> bool {
    match pattern.strip_suffix(":*") {
        Some(family) => event_name
            .strip_prefix(family)
            .is_some_and(|rest| rest.starts_with(':')),
        None => pattern == event_name,
    }
}

/// Whether two event patterns share an event type.
fn events_overlap(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.strip_suffix(":*"), b.strip_suffix(":*")) {
        (Some(_), _) if event_matches(a, b) => true,
        (_, Some(_)) if event_matches(b, a) => true,
        _ => false,
    }
}

/// A bucket's validated notification configuration.
#[derive(Debug, Clone)]
pub struct BucketNotifications {
    region: String,
    owner_account: String,
    rules: Vec<Rule>,
    event_bridge: bool,
    /// What GetBucketNotificationConfiguration returns: the request with Ids filled in and filter
    /// rule names in S3's spelling (`Prefix`, `Suffix`).
    configuration: NotificationConfiguration,
}

impl BucketNotifications {
    /// Validates `config` (everything but the destinations themselves) and compiles it.
    pub fn compile(
        bucket_region: &str,
        owner_account: &str,
        config: NotificationConfiguration,
    ) -> Result<Self, NotificationError> {
        let mut rules = Vec::new();
        let mut normalized = NotificationConfiguration::default();

        // The three destination lists differ only in their DTO type and ARN field.
        macro_rules! compile_list {
            ($list:expr, $kind:expr, $arn:ident) => {
                match $list.filter(|l| !l.is_empty()) {
                    None => None,
                    Some(list) => {
                        let mut out = Vec::with_capacity(list.len());
                        for mut c in list {
                            let rule = compile_one(
                                $kind,
                                &c.$arn,
                                &c.events,
                                c.filter.as_ref(),
                                c.id.take(),
                                bucket_region,
                            )?;
                            c.id = Some(rule.id.clone());
                            normalize_filter(&mut c.filter);
                            rules.push(rule);
                            out.push(c);
                        }
                        Some(out)
                    }
                }
            };
        }
        normalized.topic_configurations = compile_list!(config.topic_configurations, DestinationKind::Topic, topic_arn);
        normalized.queue_configurations = compile_list!(config.queue_configurations, DestinationKind::Queue, queue_arn);
        normalized.lambda_function_configurations = compile_list!(
            config.lambda_function_configurations,
            DestinationKind::Lambda,
            lambda_function_arn
        );

        for (i, a) in rules.iter().enumerate() {
            for b in &rules[i + 1..] {
                let common_event = a.events.iter().any(|x| b.events.iter().any(|y| events_overlap(x, y)));
                if common_event && a.filter.overlaps(&b.filter) {
                    return Err(NotificationError::invalid_argument(OVERLAP));
                }
            }
        }

        let event_bridge = config.event_bridge_configuration.is_some();
        normalized.event_bridge_configuration = config.event_bridge_configuration;
        Ok(Self {
            region: bucket_region.to_owned(),
            owner_account: owner_account.to_owned(),
            rules,
            event_bridge,
            configuration: normalized,
        })
    }

    /// Asks each destination's service whether it exists and lets `s3.amazonaws.com` deliver
    /// for this bucket. Every failing destination is listed in the one error, in order.
    pub fn validate_destinations(
        &self,
        registry: &Registry,
        bucket: &str,
        account: &str,
    ) -> Result<(), NotificationError> {
        let source_arn = bucket_arn(bucket);
        let mut seen = HashSet::new();
        let mut failures = Vec::new();
        for rule in &self.rules {
            let arn_text = rule.arn.to_string();
            if !seen.insert(arn_text.clone()) {
                continue;
            }
            let req = PolicyRequest {
                principal_service: "s3.amazonaws.com",
                action: rule.kind.action(),
                resource: &arn_text,
                source_arn: Some(&source_arn),
                source_account: Some(account),
            };
            if let Err(e) = registry.authorize(&rule.arn, &req) {
                failures.push(rule.kind.failure(&arn_text, &e));
            }
        }
        if failures.is_empty() {
            return Ok(());
        }
        let mut err = NotificationError::invalid_argument(DESTINATIONS_FAILED);
        for (n, (name, value)) in failures.into_iter().enumerate() {
            err = err.numbered_argument(n + 1, name, value);
        }
        Err(err)
    }

    /// The queues and topics that get `s3:TestEvent` when the configuration is saved (each once).
    pub fn test_event_destinations(&self) -> Vec<&Arn> {
        let mut seen = HashSet::new();
        self.rules
            .iter()
            .filter(|r| matches!(r.kind, DestinationKind::Queue | DestinationKind::Topic))
            .map(|r| &r.arn)
            .filter(|arn| seen.insert(*arn))
            .collect()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn event_bridge(&self) -> bool {
        self.event_bridge
    }

    /// The bucket's region (`awsRegion` of records, the EventBridge bus's region).
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The bucket owner's account.
    pub fn owner_account(&self) -> &str {
        &self.owner_account
    }

    pub fn configuration(&self) -> &NotificationConfiguration {
        &self.configuration
    }

    /// No destination at all: storing it means "notifications off".
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && !self.event_bridge
    }
}

fn compile_one(
    kind: DestinationKind,
    arn_text: &str,
    events: &[s3s::dto::Event],
    filter: Option<&NotificationConfigurationFilter>,
    id: Option<String>,
    bucket_region: &str,
) -> Result<Rule, NotificationError> {
    let arn = parse_destination(kind, arn_text)
        .ok_or_else(|| NotificationError::invalid_argument(ARN_NOT_PARSED).argument(kind.element(), arn_text))?;
    if !bucket_region.is_empty() && arn.region != bucket_region {
        return Err(NotificationError::invalid_argument(WRONG_REGION));
    }
    if events.is_empty() {
        return Err(NotificationError::malformed_xml());
    }
    let mut patterns = Vec::with_capacity(events.len());
    for event in events {
        let name: &str = event.as_ref();
        if !SUPPORTED_EVENTS.contains(&name) {
            // No ArgumentName/ArgumentValue: no recorded AWS response shows any for this error.
            return Err(NotificationError::invalid_argument(EVENT_NOT_SUPPORTED));
        }
        patterns.push(name.trim_start_matches("s3:").to_owned());
    }
    let filter = compile_filter(filter)?;
    let id = id.filter(|s| !s.is_empty()).unwrap_or_else(generated_id);
    Ok(Rule {
        id,
        kind,
        arn,
        events: patterns,
        filter,
    })
}

/// A destination ARN of the right service, with a region, an account and a resource.
fn parse_destination(kind: DestinationKind, text: &str) -> Option<Arn> {
    let arn = text.parse::<Arn>().ok()?;
    let ok = arn.service == kind.service()
        && !arn.region.is_empty()
        && !arn.account.is_empty()
        && (kind != DestinationKind::Lambda || arn.resource.strip_prefix("function:").is_some_and(|f| !f.is_empty()));
    ok.then_some(arn)
}

fn filter_rules(filter: Option<&NotificationConfigurationFilter>) -> impl Iterator<Item = &FilterRule> {
    filter
        .and_then(|f| f.key.as_ref())
        .and_then(|k| k.filter_rules.as_ref())
        .into_iter()
        .flatten()
}

fn compile_filter(filter: Option<&NotificationConfigurationFilter>) -> Result<KeyFilter, NotificationError> {
    let rules = filter_rules(filter).map(|r| {
        (
            r.name.as_ref().map_or("", FilterRuleName::as_str),
            r.value.as_deref().unwrap_or(""),
        )
    });
    KeyFilter::from_rules(rules).map_err(|e| {
        let err = NotificationError::invalid_argument(e.to_string());
        match e {
            KeyFilterError::InvalidName(name) => err.argument("FilterRule.Name", name),
            KeyFilterError::Duplicate(_) | KeyFilterError::ValueTooLong(_) => err,
        }
    })
}

/// Filter rule names as S3 returns them: `Prefix`, `Suffix`.
fn normalize_filter(filter: &mut Option<NotificationConfigurationFilter>) {
    let rules = filter
        .as_mut()
        .and_then(|f| f.key.as_mut())
        .and_then(|k| k.filter_rules.as_mut());
    for rule in rules.into_iter().flatten() {
        if let Some(name) = rule.name.as_ref().and_then(|n| RuleName::parse(n.as_str())) {
            rule.name = Some(FilterRuleName::from_static(name.canonical()));
        }
    }
}

/// S3 names an unnamed configuration with the base64 of a random UUID
/// (`MDQ2OGQ4NDEtOTBmNi00YTM4LTk0NzYtZDIwN2I3NWQ1NjIx`, as in botocore's examples).
pub fn generated_id() -> String {
    base64::engine::general_purpose::STANDARD.encode(lb_core::ids::uuid())
}
