//! S3 Lifecycle in plain Rust: the validated form of a PutBucketLifecycleConfiguration, the day
//! arithmetic S3 applies, rule filters, and [`Config::plan`], which lists the actions due on a bucket's
//! versions at one daily run. No I/O: the runner (`api::daily`) applies the plan to the store
//! and emits the events.
//!
//! Timing, as the User Guide words it ("Lifecycle configuration elements", and the Knowledge
//! Center's "lifecycle rule delay"): S3 adds the rule's days to the object's creation time (for
//! noncurrent versions: to the time the next version was created) and rounds the result up to
//! the next midnight UTC; S3 Lifecycle runs once a day. An object created 2026-01-15 10:00 with
//! `Days=1` expires at 2026-01-17 00:00 UTC. `Date` actions apply at that midnight to every
//! object the rule matches. The runner runs at each midnight UTC of the platform clock.
//!
//! Validation texts, as AWS returns them (confirmed in several independent public records of
//! AWS responses): `'Days' for Expiration action must be a positive integer`, `'Date' must be at
//! midnight GMT`, `Rule ID must be unique. Found same ID for more than one rule`, `'Days' in
//! Transition action must be greater than or equal to 30 for storageClass 'STANDARD_IA'`,
//! `'StorageClass' must be different for 'Transition' actions in same 'Rule'`, `At least one
//! action needs to be specified in a rule` (InvalidRequest). The `NoncurrentDays` and
//! `DaysAfterInitiation` messages follow the same wording (unverified against AWS).

use s3s::dto::{BucketLifecycleConfiguration, LifecycleRule, LifecycleRuleFilter};

use crate::error::Fault;

/// One day in milliseconds.
pub const DAY: u64 = 86_400_000;
/// At most this many rules in one configuration.
pub const MAX_RULES: usize = 1000;
/// The default minimum size of an object that transitions (`all_storage_classes_128K`).
pub const MIN_TRANSITION_SIZE: u64 = 128 * 1024;

/// When an action is due for something that started at `start` (epoch ms): `days` later,
/// rounded up to the next midnight UTC.
pub fn due_after(start: u64, days: u32) -> u64 {
    (start.saturating_add(u64::from(days) * DAY) / DAY + 1) * DAY
}

/// The first midnight UTC strictly after `now`.
pub fn next_midnight(now: u64) -> u64 {
    (now / DAY + 1) * DAY
}

/// A lifecycle action's time: days after a start, or a date (a midnight UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Days(u32),
    Date(u64),
}

impl When {
    pub fn due(self, start: u64) -> u64 {
        match self {
            Self::Days(d) => due_after(start, d),
            Self::Date(at) => at,
        }
    }
}

/// What a rule applies to: every condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub prefix: String,
    pub tags: Vec<(String, String)>,
    /// Object size strictly greater than this.
    pub size_greater_than: Option<u64>,
    /// Object size strictly less than this.
    pub size_less_than: Option<u64>,
}

impl Filter {
    /// Whether an object (`size` and `tags`; `None` for a delete marker) matches.
    pub fn matches(&self, key: &str, object: Option<(u64, &[(String, String)])>) -> bool {
        if !key.starts_with(&self.prefix) {
            return false;
        }
        let needs_object = !self.tags.is_empty() || self.size_greater_than.is_some() || self.size_less_than.is_some();
        let Some((size, tags)) = object else {
            return !needs_object;
        };
        self.tags.iter().all(|t| tags.contains(t))
            && self.size_greater_than.is_none_or(|n| size > n)
            && self.size_less_than.is_none_or(|n| size < n)
    }

    fn sizes_set(&self) -> bool {
        self.size_greater_than.is_some() || self.size_less_than.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub enabled: bool,
    pub filter: Filter,
    pub expiration: Option<When>,
    pub expired_object_delete_marker: bool,
    /// NoncurrentVersionExpiration: (NoncurrentDays, NewerNoncurrentVersions).
    pub noncurrent_expiration: Option<(u32, Option<u32>)>,
    pub transitions: Vec<(When, String)>,
    /// NoncurrentVersionTransitions: (NoncurrentDays, NewerNoncurrentVersions, class).
    pub noncurrent_transitions: Vec<(u32, Option<u32>, String)>,
    pub abort_multipart_days: Option<u32>,
}

/// `TransitionDefaultMinimumObjectSize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinimumSize {
    /// `all_storage_classes_128K` (the default since September 2024).
    All128K,
    /// `varies_by_storage_class`: smaller objects may still go to GLACIER and DEEP_ARCHIVE.
    VariesByStorageClass,
}

impl MinimumSize {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All128K => "all_storage_classes_128K",
            Self::VariesByStorageClass => "varies_by_storage_class",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all_storage_classes_128K" => Some(Self::All128K),
            "varies_by_storage_class" => Some(Self::VariesByStorageClass),
            _ => None,
        }
    }
}

/// A validated lifecycle configuration and the DTO GetBucketLifecycleConfiguration returns.
#[derive(Debug, Clone)]
pub struct Config {
    pub rules: Vec<Rule>,
    pub minimum_size: MinimumSize,
    pub dto: BucketLifecycleConfiguration,
}

/// The storage classes' order: a transition only moves an object down it.
pub fn class_rank(class: &str) -> u8 {
    match class {
        "INTELLIGENT_TIERING" => 1,
        "STANDARD_IA" => 2,
        "ONEZONE_IA" => 3,
        "GLACIER_IR" => 4,
        "GLACIER" => 5,
        "DEEP_ARCHIVE" => 6,
        _ => 0,
    }
}

fn positive(days: Option<i32>, message: &'static str, name: &str) -> Result<Option<u32>, Fault> {
    match days {
        None => Ok(None),
        Some(d) if d >= 1 => Ok(Some(u32::try_from(d).unwrap_or(u32::MAX))),
        Some(d) => Err(Fault::invalid_argument(message, name, &d.to_string())),
    }
}

fn date_millis(d: &s3s::dto::Timestamp) -> Result<u64, Fault> {
    let t = time::OffsetDateTime::from(d.clone());
    let millis = t.unix_timestamp_nanos() / 1_000_000;
    let millis =
        u64::try_from(millis).map_err(|_| Fault::invalid_argument("'Date' must be at midnight GMT", "Date", ""))?;
    if millis % DAY != 0 {
        return Err(Fault::invalid_argument(
            "'Date' must be at midnight GMT",
            "Date",
            &crate::store::http_date(millis),
        ));
    }
    Ok(millis)
}

fn filter_of(rule: &LifecycleRule) -> Result<Filter, Fault> {
    match (&rule.prefix, &rule.filter) {
        (Some(_), Some(_)) | (None, None) => Err(Fault::malformed_xml()),
        (Some(p), None) => Ok(Filter {
            prefix: p.clone(),
            ..Filter::default()
        }),
        (None, Some(f)) => compile_filter(f),
    }
}

fn size(n: Option<i64>) -> Option<u64> {
    n.map(|n| u64::try_from(n).unwrap_or(0))
}

fn compile_filter(f: &LifecycleRuleFilter) -> Result<Filter, Fault> {
    let set = [
        f.prefix.is_some(),
        f.tag.is_some(),
        f.object_size_greater_than.is_some(),
        f.object_size_less_than.is_some(),
        f.and.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    // "A Filter must have exactly one of Prefix, Tag, ObjectSizeGreaterThan,
    // ObjectSizeLessThan, or And specified"; an empty Filter applies to every object.
    if set > 1 {
        return Err(Fault::malformed_xml());
    }
    let mut out = Filter {
        prefix: f.prefix.clone().unwrap_or_default(),
        tags: f
            .tag
            .iter()
            .map(|t| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default()))
            .collect(),
        size_greater_than: size(f.object_size_greater_than),
        size_less_than: size(f.object_size_less_than),
    };
    if let Some(and) = &f.and {
        out.prefix = and.prefix.clone().unwrap_or_default();
        out.tags = and
            .tags
            .iter()
            .flatten()
            .map(|t| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default()))
            .collect();
        out.size_greater_than = size(and.object_size_greater_than);
        out.size_less_than = size(and.object_size_less_than);
    }
    if let (Some(gt), Some(lt)) = (out.size_greater_than, out.size_less_than) {
        if lt <= gt {
            return Err(Fault::invalid_request(
                "ObjectSizeLessThan must be greater than ObjectSizeGreaterThan",
            ));
        }
    }
    Ok(out)
}

fn transition_when(days: Option<i32>, date: Option<&s3s::dto::Timestamp>) -> Result<When, Fault> {
    match (days, date) {
        (Some(d), None) => {
            if d < 0 {
                return Err(Fault::invalid_argument(
                    "'Days' in Transition action must be nonnegative",
                    "Days",
                    &d.to_string(),
                ));
            }
            Ok(When::Days(u32::try_from(d).unwrap_or(0)))
        }
        (None, Some(date)) => Ok(When::Date(date_millis(date)?)),
        _ => Err(Fault::malformed_xml()),
    }
}

fn compile_rule(r: &LifecycleRule, index: usize) -> Result<Rule, Fault> {
    let id = match r.id.as_deref() {
        Some(id) if id.chars().count() > 255 => {
            return Err(Fault::invalid_argument(
                "ID length should not exceed allowed limit of 255",
                "ID",
                id,
            ))
        }
        Some(id) if !id.is_empty() => id.to_owned(),
        // AWS names a rule without an ID with a random one.
        _ => format!("{}{index}", lb_core::ids::url_safe_id().get(..16).unwrap_or("rule")),
    };
    let enabled = match r.status.as_str() {
        "Enabled" => true,
        "Disabled" => false,
        _ => return Err(Fault::malformed_xml()),
    };
    let filter = filter_of(r)?;
    let mut rule = Rule {
        id,
        enabled,
        filter,
        expiration: None,
        expired_object_delete_marker: false,
        noncurrent_expiration: None,
        transitions: Vec::new(),
        noncurrent_transitions: Vec::new(),
        abort_multipart_days: None,
    };
    if let Some(e) = &r.expiration {
        let marker = e.expired_object_delete_marker.unwrap_or(false);
        rule.expiration = match (e.days, &e.date) {
            (Some(_), Some(_)) => return Err(Fault::malformed_xml()),
            (Some(d), None) => Some(When::Days(
                positive(
                    Some(d),
                    "'Days' for Expiration action must be a positive integer",
                    "Days",
                )?
                .unwrap_or(1),
            )),
            (None, Some(date)) => Some(When::Date(date_millis(date)?)),
            (None, None) if e.expired_object_delete_marker.is_some() => None,
            (None, None) => return Err(Fault::malformed_xml()),
        };
        if marker && rule.expiration.is_some() {
            return Err(Fault::malformed_xml());
        }
        if marker && !rule.filter.tags.is_empty() {
            return Err(Fault::invalid_request(
                "ExpiredObjectDeleteMarker cannot be specified with a Tag filter",
            ));
        }
        rule.expired_object_delete_marker = marker;
    }
    if let Some(n) = &r.noncurrent_version_expiration {
        let days = positive(
            n.noncurrent_days,
            "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
            "NoncurrentDays",
        )?
        .ok_or_else(Fault::malformed_xml)?;
        let newer = n.newer_noncurrent_versions.map(|v| u32::try_from(v).unwrap_or(0));
        if n.newer_noncurrent_versions.is_some_and(|v| !(1..=100).contains(&v)) {
            return Err(Fault::invalid_argument(
                "NewerNoncurrentVersions must be a positive integer up to 100",
                "NewerNoncurrentVersions",
                &n.newer_noncurrent_versions.unwrap_or(0).to_string(),
            ));
        }
        rule.noncurrent_expiration = Some((days, newer));
    }
    for t in r.transitions.iter().flatten() {
        let class = t
            .storage_class
            .as_ref()
            .ok_or_else(Fault::malformed_xml)?
            .as_str()
            .to_owned();
        if class_rank(&class) == 0 {
            return Err(Fault::malformed_xml());
        }
        let when = transition_when(t.days, t.date.as_ref())?;
        if let When::Days(d) = when {
            if d < 30 && matches!(class.as_str(), "STANDARD_IA" | "ONEZONE_IA") {
                return Err(Fault::invalid_argument(
                    format!(
                        "'Days' in Transition action must be greater than or equal to 30 for storageClass '{class}'"
                    ),
                    "Days",
                    &d.to_string(),
                ));
            }
        }
        if rule.transitions.iter().any(|(_, c)| *c == class) {
            return Err(Fault::invalid_argument(
                "'StorageClass' must be different for 'Transition' actions in same 'Rule'",
                "StorageClass",
                &class,
            ));
        }
        if rule
            .transitions
            .iter()
            .any(|(w, _)| std::mem::discriminant(w) != std::mem::discriminant(&when))
        {
            return Err(Fault::invalid_request(
                "Found mixed 'Date' and 'Days' based Transition actions in lifecycle rule",
            ));
        }
        rule.transitions.push((when, class));
    }
    for t in r.noncurrent_version_transitions.iter().flatten() {
        let class = t
            .storage_class
            .as_ref()
            .ok_or_else(Fault::malformed_xml)?
            .as_str()
            .to_owned();
        if class_rank(&class) == 0 {
            return Err(Fault::malformed_xml());
        }
        let days = t.noncurrent_days.ok_or_else(Fault::malformed_xml)?;
        if days < 0 {
            return Err(Fault::invalid_argument(
                "'NoncurrentDays' in NoncurrentVersionTransition action must be nonnegative",
                "NoncurrentDays",
                &days.to_string(),
            ));
        }
        let days = u32::try_from(days).unwrap_or(0);
        if days < 30 && matches!(class.as_str(), "STANDARD_IA" | "ONEZONE_IA") {
            return Err(Fault::invalid_argument(
                format!("'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or equal to 30 for storageClass '{class}'"),
                "NoncurrentDays",
                &days.to_string(),
            ));
        }
        let newer = t.newer_noncurrent_versions.map(|v| u32::try_from(v).unwrap_or(0));
        rule.noncurrent_transitions.push((days, newer, class));
    }
    if let Some(a) = &r.abort_incomplete_multipart_upload {
        rule.abort_multipart_days = Some(
            positive(
                a.days_after_initiation,
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
                "DaysAfterInitiation",
            )?
            .ok_or_else(Fault::malformed_xml)?,
        );
        if !rule.filter.tags.is_empty() || rule.filter.sizes_set() {
            return Err(Fault::invalid_request(
                "AbortIncompleteMultipartUpload cannot be specified with Tags.",
            ));
        }
    }
    // Expiration after a transition of the same rule: S3 refuses an expiration that comes first.
    if let (Some(When::Days(exp)), Some(max)) = (
        rule.expiration,
        rule.transitions
            .iter()
            .filter_map(|(w, _)| if let When::Days(d) = w { Some(*d) } else { None })
            .max(),
    ) {
        if exp <= max {
            return Err(Fault::invalid_argument(
                "'Days' in the Expiration action for filter must be greater than 'Days' in the Transition action",
                "Days",
                &exp.to_string(),
            ));
        }
    }
    let has_action = rule.expiration.is_some()
        || rule.expired_object_delete_marker
        || rule.noncurrent_expiration.is_some()
        || !rule.transitions.is_empty()
        || !rule.noncurrent_transitions.is_empty()
        || rule.abort_multipart_days.is_some();
    if !has_action {
        return Err(Fault::invalid_request(
            "At least one action needs to be specified in a rule",
        ));
    }
    Ok(rule)
}

/// Validates a PutBucketLifecycleConfiguration: everything first, so a rejected configuration
/// leaves the stored one in place.
pub fn compile(dto: Option<BucketLifecycleConfiguration>, minimum_size: Option<&str>) -> Result<Config, Fault> {
    let dto = dto.ok_or_else(Fault::malformed_xml)?;
    if dto.rules.is_empty() || dto.rules.len() > MAX_RULES {
        return Err(Fault::malformed_xml());
    }
    let minimum_size = match minimum_size {
        None => MinimumSize::All128K,
        Some(s) => MinimumSize::parse(s).ok_or_else(|| {
            Fault::invalid_argument(
                "Invalid value for x-amz-transition-default-minimum-object-size",
                "x-amz-transition-default-minimum-object-size",
                s,
            )
        })?,
    };
    let mut rules = Vec::with_capacity(dto.rules.len());
    for (i, r) in dto.rules.iter().enumerate() {
        let rule = compile_rule(r, i)?;
        if rules.iter().any(|o: &Rule| o.id == rule.id) {
            return Err(Fault::invalid_argument(
                "Rule ID must be unique. Found same ID for more than one rule",
                "ID",
                &rule.id,
            ));
        }
        rules.push(rule);
    }
    // The stored form names every rule (AWS returns generated IDs).
    let mut dto = dto;
    for (r, compiled) in dto.rules.iter_mut().zip(&rules) {
        r.id = Some(compiled.id.clone());
    }
    Ok(Config {
        rules,
        minimum_size,
        dto,
    })
}

/// An object version's size, tags and storage class, as the planner reads them.
pub type ObjectView<'a> = (u64, &'a [(String, String)], &'a str);

/// One version as [`Config::plan`] sees it.
#[derive(Debug, Clone)]
pub struct VersionView<'a> {
    pub version_id: &'a str,
    pub last_modified: u64,
    /// `None` for a delete marker: (size, tags, storage class).
    pub object: Option<ObjectView<'a>>,
}

/// What the daily run does to one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The current version expires: removed (unversioned) or covered by a delete marker.
    ExpireCurrent { key: String, version_id: String },
    /// A noncurrent version, or an expired object delete marker, is permanently removed.
    Remove { key: String, version_id: String },
    /// The version moves to `class`.
    Transition {
        key: String,
        version_id: String,
        class: String,
        rule_id: String,
    },
}

impl Config {
    fn transition_allowed(&self, rule: &Rule, size: u64, class: &str) -> bool {
        if rule.filter.sizes_set() || size >= MIN_TRANSITION_SIZE {
            return true;
        }
        self.minimum_size == MinimumSize::VariesByStorageClass && matches!(class, "GLACIER" | "DEEP_ARCHIVE")
    }

    /// The deepest transition of the enabled rules matching an object that is due by `now`.
    fn due_transition(
        &self,
        now: u64,
        key: &str,
        size: u64,
        tags: &[(String, String)],
        current_class: &str,
        due: impl Fn(&Rule) -> Vec<(u64, String)>,
    ) -> Option<(String, String)> {
        let mut best: Option<(String, String)> = None;
        for rule in self
            .rules
            .iter()
            .filter(|r| r.enabled && r.filter.matches(key, Some((size, tags))))
        {
            for (at, class) in due(rule) {
                if at <= now
                    && class_rank(&class) > class_rank(current_class)
                    && self.transition_allowed(rule, size, &class)
                    && best.as_ref().is_none_or(|(c, _)| class_rank(&class) > class_rank(c))
                {
                    best = Some((class, rule.id.clone()));
                }
            }
        }
        best
    }

    /// The expiry of the current version (epoch ms) and the rule that sets it, for HeadObject's
    /// `x-amz-expiration`.
    pub fn expiry_of(
        &self,
        key: &str,
        last_modified: u64,
        size: u64,
        tags: &[(String, String)],
    ) -> Option<(u64, &str)> {
        self.rules
            .iter()
            .filter(|r| r.enabled && r.filter.matches(key, Some((size, tags))))
            .filter_map(|r| r.expiration.map(|w| (w.due(last_modified), r.id.as_str())))
            .min_by_key(|(at, _)| *at)
    }

    /// The actions due at `now` (a daily run) on the versions of one key, oldest first (the
    /// last is the current version).
    pub fn plan(&self, now: u64, key: &str, versions: &[VersionView<'_>], out: &mut Vec<Action>) {
        let Some((current, older)) = versions.split_last() else {
            return;
        };
        let enabled = || self.rules.iter().filter(|r| r.enabled);
        match current.object {
            Some((size, tags, class)) => {
                let expires = enabled().any(|r| {
                    r.filter.matches(key, Some((size, tags)))
                        && r.expiration.is_some_and(|w| w.due(current.last_modified) <= now)
                });
                if expires {
                    out.push(Action::ExpireCurrent {
                        key: key.to_owned(),
                        version_id: current.version_id.to_owned(),
                    });
                } else if let Some((class, rule_id)) = self.due_transition(now, key, size, tags, class, |r| {
                    r.transitions
                        .iter()
                        .map(|(w, c)| (w.due(current.last_modified), c.clone()))
                        .collect()
                }) {
                    out.push(Action::Transition {
                        key: key.to_owned(),
                        version_id: current.version_id.to_owned(),
                        class,
                        rule_id,
                    });
                }
            }
            None => {
                // An expired object delete marker: the only version left is a delete marker.
                if older.is_empty() && enabled().any(|r| r.expired_object_delete_marker && r.filter.matches(key, None))
                {
                    out.push(Action::Remove {
                        key: key.to_owned(),
                        version_id: current.version_id.to_owned(),
                    });
                }
            }
        }
        // Noncurrent versions, newest first: `rank` counts the newer noncurrent versions.
        for (rank, i) in (0..older.len()).rev().enumerate() {
            let v = &older[i];
            let since = versions[i + 1].last_modified;
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            let object = v.object.map(|(size, tags, _)| (size, tags));
            let expires = enabled().any(|r| {
                r.filter.matches(key, object)
                    && r.noncurrent_expiration
                        .is_some_and(|(days, newer)| due_after(since, days) <= now && newer.is_none_or(|n| rank >= n))
            });
            if expires {
                out.push(Action::Remove {
                    key: key.to_owned(),
                    version_id: v.version_id.to_owned(),
                });
                continue;
            }
            let Some((size, tags, class)) = v.object else { continue };
            if let Some((class, rule_id)) = self.due_transition(now, key, size, tags, class, |r| {
                r.noncurrent_transitions
                    .iter()
                    .filter(|(_, newer, _)| newer.is_none_or(|n| rank >= n))
                    .map(|(days, _, c)| (due_after(since, *days), c.clone()))
                    .collect()
            }) {
                out.push(Action::Transition {
                    key: key.to_owned(),
                    version_id: v.version_id.to_owned(),
                    class,
                    rule_id,
                });
            }
        }
    }

    /// Whether an incomplete multipart upload of `key` initiated at `initiated` is due to be
    /// aborted at `now`.
    pub fn aborts_upload(&self, now: u64, key: &str, initiated: u64) -> bool {
        self.rules.iter().any(|r| {
            r.enabled
                && r.filter.matches(key, None)
                && r.abort_multipart_days.is_some_and(|d| due_after(initiated, d) <= now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> u64 {
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
        u64::try_from(t.unix_timestamp()).unwrap() * 1000
    }

    #[test]
    fn days_round_up_to_the_next_midnight_utc() {
        // The User Guide's example: created 2026-01-15 10:00, Days=1 -> 2026-01-17 00:00.
        assert_eq!(due_after(at("2026-01-15T10:00:00Z"), 1), at("2026-01-17T00:00:00Z"));
        // The Knowledge Center's: created 1/1/2020 10:30, 3 days -> 1/5/2020 00:00.
        assert_eq!(due_after(at("2020-01-01T10:30:00Z"), 3), at("2020-01-05T00:00:00Z"));
        // A version made noncurrent 2/1/2020 11:30 with NoncurrentDays=1 -> 4/1/2020 00:00.
        assert_eq!(due_after(at("2020-01-02T11:30:00Z"), 1), at("2020-01-04T00:00:00Z"));
        assert_eq!(next_midnight(at("2026-01-15T10:00:00Z")), at("2026-01-16T00:00:00Z"));
        assert_eq!(next_midnight(at("2026-01-16T00:00:00Z")), at("2026-01-17T00:00:00Z"));
        assert_eq!(
            When::Date(at("2026-03-01T00:00:00Z")).due(0),
            at("2026-03-01T00:00:00Z")
        );
    }

    #[test]
    fn filters_match_prefix_tags_and_sizes() {
        let tags = vec![("env".to_owned(), "dev".to_owned()), ("a".to_owned(), "1".to_owned())];
        let f = Filter {
            prefix: "logs/".into(),
            tags: vec![("env".into(), "dev".into())],
            size_greater_than: Some(10),
            size_less_than: Some(100),
        };
        assert!(f.matches("logs/x", Some((50, &tags))));
        assert!(!f.matches("data/x", Some((50, &tags))));
        assert!(!f.matches("logs/x", Some((10, &tags))));
        assert!(!f.matches("logs/x", Some((100, &tags))));
        assert!(!f.matches("logs/x", Some((50, &tags[1..]))));
        assert!(!f.matches("logs/x", None), "a delete marker has no tags or size");
        let prefix_only = Filter {
            prefix: "logs/".into(),
            ..Filter::default()
        };
        assert!(prefix_only.matches("logs/x", None));
        assert!(Filter::default().matches("anything", Some((0, &[]))));
    }

    fn config(xml_rules: Vec<LifecycleRule>) -> Result<Config, Fault> {
        compile(Some(BucketLifecycleConfiguration { rules: xml_rules }), None)
    }

    fn rule(id: &str) -> LifecycleRule {
        LifecycleRule {
            id: Some(id.into()),
            status: s3s::dto::ExpirationStatus::from_static("Enabled"),
            filter: Some(LifecycleRuleFilter::default()),
            abort_incomplete_multipart_upload: None,
            expiration: None,
            noncurrent_version_expiration: None,
            noncurrent_version_transitions: None,
            prefix: None,
            transitions: None,
        }
    }

    fn expire_days(mut r: LifecycleRule, days: i32) -> LifecycleRule {
        r.expiration = Some(s3s::dto::LifecycleExpiration {
            days: Some(days),
            ..Default::default()
        });
        r
    }

    #[test]
    fn validation_follows_aws() {
        let e = config(vec![expire_days(rule("a"), 0)]).unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.message.as_str()),
            (
                "InvalidArgument",
                "'Days' for Expiration action must be a positive integer"
            )
        );
        let e = config(vec![rule("a")]).unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.message.as_str()),
            ("InvalidRequest", "At least one action needs to be specified in a rule")
        );
        let e = config(vec![expire_days(rule("a"), 1), expire_days(rule("a"), 2)]).unwrap_err();
        assert_eq!(
            e.message,
            "Rule ID must be unique. Found same ID for more than one rule"
        );
        let mut ia = rule("ia");
        ia.transitions = Some(vec![s3s::dto::Transition {
            days: Some(10),
            date: None,
            storage_class: Some(s3s::dto::TransitionStorageClass::from_static("STANDARD_IA")),
        }]);
        let e = config(vec![ia]).unwrap_err();
        assert_eq!(
            e.message,
            "'Days' in Transition action must be greater than or equal to 30 for storageClass 'STANDARD_IA'"
        );
        let mut both = expire_days(rule("b"), 1);
        both.prefix = Some("x".into());
        assert_eq!(config(vec![both]).unwrap_err().code, "MalformedXML");
        let mut no_filter = expire_days(rule("c"), 1);
        no_filter.filter = None;
        assert_eq!(config(vec![no_filter]).unwrap_err().code, "MalformedXML");
        let mut legacy = expire_days(rule("d"), 1);
        legacy.filter = None;
        legacy.prefix = Some("logs/".into());
        assert_eq!(config(vec![legacy]).unwrap().rules[0].filter.prefix, "logs/");
        let mut unnamed = expire_days(rule("e"), 1);
        unnamed.id = None;
        let c = config(vec![unnamed]).unwrap();
        assert!(!c.rules[0].id.is_empty());
        assert_eq!(c.dto.rules[0].id.as_deref(), Some(c.rules[0].id.as_str()));
    }

    fn view<'a>(id: &'a str, lm: u64, obj: Option<ObjectView<'a>>) -> VersionView<'a> {
        VersionView {
            version_id: id,
            last_modified: lm,
            object: obj,
        }
    }

    #[test]
    fn plans_expiration_transition_and_noncurrent_actions() {
        let mut r = expire_days(rule("r"), 3);
        r.transitions = Some(vec![s3s::dto::Transition {
            days: Some(1),
            date: None,
            storage_class: Some(s3s::dto::TransitionStorageClass::from_static("GLACIER")),
        }]);
        r.noncurrent_version_expiration = Some(s3s::dto::NoncurrentVersionExpiration {
            noncurrent_days: Some(1),
            newer_noncurrent_versions: Some(1),
        });
        let c = compile(
            Some(BucketLifecycleConfiguration { rules: vec![r] }),
            Some("varies_by_storage_class"),
        )
        .unwrap();
        let created = at("2026-01-15T10:00:00Z");
        let versions = [
            view("v1", created, Some((5, &[], "STANDARD"))),
            view("v2", created + 1000, Some((5, &[], "STANDARD"))),
            view("v3", created + 2000, Some((5, &[], "STANDARD"))),
        ];
        let mut out = Vec::new();
        c.plan(at("2026-01-16T00:00:00Z"), "k", &versions, &mut out);
        assert_eq!(out, [], "nothing is due on the first midnight");
        c.plan(at("2026-01-17T00:00:00Z"), "k", &versions, &mut out);
        // v3 transitions; v1 (with one newer noncurrent version, v2) expires; v2 is kept.
        assert_eq!(
            out,
            [
                Action::Transition {
                    key: "k".into(),
                    version_id: "v3".into(),
                    class: "GLACIER".into(),
                    rule_id: "r".into()
                },
                Action::Remove {
                    key: "k".into(),
                    version_id: "v1".into()
                },
            ]
        );
        out.clear();
        c.plan(at("2026-01-19T00:00:00Z"), "k", &versions, &mut out);
        assert_eq!(
            out[0],
            Action::ExpireCurrent {
                key: "k".into(),
                version_id: "v3".into()
            }
        );
        // Small objects do not transition by default (all_storage_classes_128K) to STANDARD_IA...
        let default_min = compile(Some(c.dto.clone()), None).unwrap();
        out.clear();
        default_min.plan(at("2026-01-17T00:00:00Z"), "k", &versions[2..], &mut out);
        assert_eq!(out, []);
        // ...and a delete marker alone is an expired object delete marker.
        let mut m = rule("m");
        m.expiration = Some(s3s::dto::LifecycleExpiration {
            expired_object_delete_marker: Some(true),
            ..Default::default()
        });
        let c = config(vec![m]).unwrap();
        out.clear();
        c.plan(at("2026-01-17T00:00:00Z"), "k", &[view("dm", created, None)], &mut out);
        assert_eq!(
            out,
            [Action::Remove {
                key: "k".into(),
                version_id: "dm".into()
            }]
        );
    }
}
