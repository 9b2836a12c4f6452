//! CreateArchive, DescribeArchive, ListArchives, UpdateArchive, DeleteArchive, and the managed
//! rule each archive has on its bus (see [`crate::archive`]).
//!
//! AWS's answers, where known (recorded against AWS by other emulators' test suites):
//! `ResourceAlreadyExistsException` "Archive <name> already exists.", `ResourceNotFoundException`
//! "Archive <name> does not exist." (DescribeArchive, DeleteArchive) and "Event bus <name> does not
//! exist." (CreateArchive, ListArchives with an unknown EventSourceArn), UpdateArchive of an unknown
//! archive answering `InternalException` (500) "Service encountered unexpected problem. Please try
//! again.", CreateArchive answering `ENABLED` at once, and the managed rule refusing changes with
//! `ManagedRuleException` "<rule> is a managed rule. Set 'force' parameter to true to override."

use std::collections::BTreeMap;
use std::sync::Arc;

use lb_core::{AwsError, RequestContext};
use lb_rules::pattern::Pattern;

use super::{
    bus_name, check_length, check_limit, check_name, constraint, limit_exceeded, not_found, parse_pattern, required,
    sync_route, validation, Events, RuleEntry,
};
use crate::archive::{
    managed_rule_pattern, Archive, ArchiveDef, ArchiveState, CreateArchiveInput, ListArchivesInput, UpdateArchiveInput,
    ARCHIVE_RULE_MANAGED_BY, ARCHIVE_RULE_PREFIX,
};
use crate::model::{Page, Rule, RuleState};
use crate::service::put_events::parse_bus_arn;

/// botocore's `EventBusArn` and `ArchiveArn` pattern.
const ARN_PATTERN: &str = r"^arn:aws([a-z]|\-)*:events:([a-z]|\d|\-)*:([0-9]{12})?:.+\/.+$";

/// Whether `s` matches [`ARN_PATTERN`].
pub(super) fn is_events_arn(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:aws") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(':') else {
        return false;
    };
    if !partition.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
        return false;
    }
    let Some(rest) = rest.strip_prefix("events:") else {
        return false;
    };
    let Some((region, rest)) = rest.split_once(':') else {
        return false;
    };
    if !region
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return false;
    }
    let Some((account, resource)) = rest.split_once(':') else {
        return false;
    };
    if !(account.is_empty() || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))) {
        return false;
    }
    resource
        .char_indices()
        .any(|(i, c)| c == '/' && i > 0 && i + 1 < resource.len())
}

/// Checks an ARN member against botocore's events ARN shape.
pub(super) fn check_events_arn(value: &str, field: &str) -> Result<(), AwsError> {
    check_length(value, field, 1, 1600)?;
    if !is_events_arn(value) {
        return Err(constraint(
            Some(value),
            field,
            &format!("Member must satisfy regular expression pattern: {ARN_PATTERN}"),
        ));
    }
    Ok(())
}

fn check_description(d: Option<&str>) -> Result<(), AwsError> {
    match d {
        Some(d) => check_length(d, "description", 0, 512),
        None => Ok(()),
    }
}

fn check_retention(days: Option<i64>) -> Result<Option<u64>, AwsError> {
    match days {
        Some(d) if d < 0 => Err(constraint(
            Some(&d.to_string()),
            "retentionDays",
            "Member must have value greater than or equal to 0",
        )),
        Some(d) => Ok(Some(d as u64)),
        None => Ok(None),
    }
}

fn check_kms(key: Option<&str>) -> Result<(), AwsError> {
    let Some(k) = key else {
        return Ok(());
    };
    check_length(k, "kmsKeyIdentifier", 0, 2048)?;
    if !k
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b':'))
    {
        return Err(constraint(
            Some(k),
            "kmsKeyIdentifier",
            r"Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\-/:]*$",
        ));
    }
    Ok(())
}

/// The archive's pattern, validated, and its managed rule's pattern; `None` for "all events".
fn check_pattern(p: Option<&str>) -> Result<Option<(String, String)>, AwsError> {
    let Some(p) = p.filter(|p| !p.trim().is_empty()) else {
        return Ok(None);
    };
    parse_pattern(p)?;
    let managed = managed_rule_pattern(Some(p));
    Pattern::parse(&managed).map_err(|e| AwsError::new("InvalidEventPatternException", 400, e.to_string()))?;
    Ok(Some((p.to_owned(), managed)))
}

fn archive_name(name: Option<&str>) -> Result<&str, AwsError> {
    let name = required(name, "archiveName")?;
    check_name(name, "archiveName", 48, false)?;
    Ok(name)
}

fn archive_missing(name: &str) -> AwsError {
    not_found(format!("Archive {name} does not exist."))
}

pub(super) fn managed_rule_error(rule: &str) -> AwsError {
    AwsError::new(
        "ManagedRuleException",
        400,
        format!("{rule} is a managed rule. Set 'force' parameter to true to override."),
    )
}

/// The at-most-one-filter rule of ListArchives and ListReplays.
pub(super) fn one_filter(op: &str, input: &ListArchivesInput) -> Result<(), AwsError> {
    let given = [
        input.name_prefix.is_some(),
        input.event_source_arn.is_some(),
        input.state.is_some(),
    ];
    if given.into_iter().filter(|g| *g).count() > 1 {
        return Err(validation(format!(
            "At most one filter is allowed for {op}. Use either : State, EventSourceArn, or NamePrefix."
        )));
    }
    Ok(())
}

/// Paging over a name-ordered map with a filter: the items from `token` on.
pub(super) fn page_filtered<V, T>(
    map: &BTreeMap<String, V>,
    token: Option<&str>,
    limit: Option<i64>,
    keep: impl Fn(&V) -> bool,
    f: impl Fn(&V) -> T,
) -> Result<Page<T>, AwsError> {
    let limit = check_limit(limit)?;
    let start = match token {
        Some(t) => {
            check_length(t, "nextToken", 1, 2048)?;
            t
        }
        None => "",
    };
    let mut names = map
        .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
        .filter(|(_, v)| keep(v));
    let items: Vec<T> = names.by_ref().take(limit).map(|(_, v)| f(v)).collect();
    let next_token = names.next().map(|(name, _)| name.clone());
    Ok(Page { items, next_token })
}

impl Events {
    fn scope_key(ctx: &RequestContext) -> (String, String) {
        (ctx.region.clone(), ctx.account.clone())
    }

    /// The archive as the operations show it: counts and retention as of now.
    fn archive_view(&self, d: &ArchiveDef) -> Archive {
        let stats = self.archives.store.stats(d.id, self.clock.now_millis());
        let state_reason = (stats.dropped > 0).then(|| {
            format!(
                "localbridge dropped {} of this archive's events, the oldest first, to keep all archives within --events-archive-max-events {} and --events-archive-max-bytes {}.",
                stats.dropped,
                self.archives.store.max_events(),
                self.archives.store.max_bytes()
            )
        });
        Archive {
            name: d.name.clone(),
            arn: d.arn.clone(),
            event_source_arn: d.source_arn.clone(),
            description: d.description.clone(),
            event_pattern: d.pattern.clone(),
            state: ArchiveState::Enabled,
            state_reason,
            kms_key_identifier: d.kms_key_identifier.clone(),
            retention_days: d.retention_days,
            size_bytes: stats.bytes,
            event_count: stats.events,
            created_millis: d.created_millis,
        }
    }

    /// CreateArchive: the archive, and its managed rule on the source bus.
    pub fn create_archive(&self, ctx: &RequestContext, input: CreateArchiveInput) -> Result<Archive, AwsError> {
        let name = archive_name(input.archive_name.as_deref())?;
        let source = required(input.event_source_arn.as_deref(), "eventSourceArn")?;
        check_events_arn(source, "eventSourceArn")?;
        check_description(input.description.as_deref())?;
        let patterns = check_pattern(input.event_pattern.as_deref())?;
        let retention = check_retention(input.retention_days)?.unwrap_or(0);
        check_kms(input.kms_key_identifier.as_deref())?;
        let bus = match parse_bus_arn(source) {
            Some((region, account, bus)) if region == ctx.region && account == ctx.account => bus.to_owned(),
            Some((_, _, bus)) => return Err(Self::bus_missing(bus)),
            None => {
                return Err(validation(format!(
                    "Parameter EventSourceArn is not valid. Reason: {source} is not the ARN of an event bus."
                )))
            }
        };
        let (pattern, managed) = match patterns {
            Some((p, m)) => (Some(p), m),
            None => (None, managed_rule_pattern(None)),
        };
        let now = self.clock.now_millis();
        let mut defs = self.archives.defs();
        let scope_defs = defs.entry(Self::scope_key(ctx)).or_default();
        if scope_defs.contains_key(name) {
            return Err(AwsError::new(
                "ResourceAlreadyExistsException",
                400,
                format!("Archive {name} already exists."),
            ));
        }
        let id = self.archives.next_id();
        let arn = format!("arn:aws:events:{}:{}:archive/{name}", ctx.region, ctx.account);
        let rule_name = format!("{ARCHIVE_RULE_PREFIX}{name}");
        let rule_arn = Self::rule_arn(ctx, &bus, &rule_name);
        // The store knows the archive before its rule routes anything to it.
        self.archives.store.add(id, &arn, &rule_arn, retention);
        let max_rules = self.config.max_rules_per_bus;
        let added = self.with_scope(ctx, |scope| {
            let b = scope.buses.get_mut(&bus).ok_or_else(|| Self::bus_missing(&bus))?;
            if b.rules.contains_key(&rule_name) {
                return Err(AwsError::new(
                    "ResourceAlreadyExistsException",
                    400,
                    format!("Rule {rule_name} already exists on EventBus {bus}: it is the name of the archive's managed rule."),
                ));
            }
            if b.rules.len() >= max_rules {
                return Err(limit_exceeded());
            }
            let entry = RuleEntry {
                rule: Rule {
                    name: rule_name.clone(),
                    arn: rule_arn.clone(),
                    event_bus_name: bus.clone(),
                    event_pattern: Some(managed),
                    schedule_expression: None,
                    state: RuleState::Enabled,
                    description: None,
                    role_arn: None,
                    created_by: ctx.account.clone(),
                    managed_by: Some(ARCHIVE_RULE_MANAGED_BY.to_owned()),
                },
                targets: BTreeMap::new(),
                counters: Arc::default(),
            };
            sync_route(&b.handle, &rule_name, Some(&entry));
            b.rules.insert(rule_name.clone(), entry);
            Ok(())
        });
        if let Err(e) = added {
            self.archives.store.remove(id, &rule_arn);
            return Err(e);
        }
        let def = ArchiveDef {
            id,
            name: name.to_owned(),
            arn,
            source_arn: source.to_owned(),
            bus_name: bus,
            rule_name,
            rule_arn,
            description: input.description.filter(|d| !d.is_empty()),
            pattern,
            retention_days: retention,
            kms_key_identifier: input.kms_key_identifier.filter(|k| !k.is_empty()),
            created_millis: now,
        };
        let view = self.archive_view(&def);
        scope_defs.insert(name.to_owned(), def);
        Ok(view)
    }

    pub fn describe_archive(&self, ctx: &RequestContext, name: Option<&str>) -> Result<Archive, AwsError> {
        let name = archive_name(name)?;
        let def = self
            .archives
            .defs()
            .get(&Self::scope_key(ctx))
            .and_then(|s| s.get(name))
            .cloned()
            .ok_or_else(|| archive_missing(name))?;
        Ok(self.archive_view(&def))
    }

    /// ListArchives: at most one of its filters, pages in name order.
    pub fn list_archives(&self, ctx: &RequestContext, input: &ListArchivesInput) -> Result<Page<Archive>, AwsError> {
        if let Some(p) = &input.name_prefix {
            check_name(p, "namePrefix", 48, false)?;
        }
        if let Some(a) = &input.event_source_arn {
            check_events_arn(a, "eventSourceArn")?;
        }
        let state = match input.state.as_deref() {
            None => None,
            Some(s) => Some(ArchiveState::parse(s).ok_or_else(|| {
                constraint(
                    Some(s),
                    "state",
                    "Member must satisfy enum value set: [ENABLED, DISABLED, CREATING, UPDATING, CREATE_FAILED, UPDATE_FAILED]",
                )
            })?),
        };
        one_filter("ListArchives", input)?;
        if let Some(a) = &input.event_source_arn {
            let known = parse_bus_arn(a).is_some_and(|(region, account, bus)| {
                region == ctx.region && account == ctx.account && self.with_scope(ctx, |s| s.buses.contains_key(bus))
            });
            if !known {
                let bus = a.rsplit_once('/').map_or(a.as_str(), |(_, n)| n);
                return Err(Self::bus_missing(bus));
            }
        }
        let defs: BTreeMap<String, ArchiveDef> = self
            .archives
            .defs()
            .get(&Self::scope_key(ctx))
            .cloned()
            .unwrap_or_default();
        let prefix = input.name_prefix.as_deref().unwrap_or("");
        page_filtered(
            &defs,
            input.next_token.as_deref(),
            input.limit,
            |d| {
                d.name.starts_with(prefix)
                    && input.event_source_arn.as_deref().is_none_or(|a| a == d.source_arn)
                    && state.is_none_or(|s| s == ArchiveState::Enabled)
            },
            |d| self.archive_view(d),
        )
    }

    /// UpdateArchive: description, pattern (the managed rule follows), retention, KMS key.
    pub fn update_archive(&self, ctx: &RequestContext, input: UpdateArchiveInput) -> Result<Archive, AwsError> {
        let name = archive_name(input.archive_name.as_deref())?;
        check_description(input.description.as_deref())?;
        let patterns = match input.event_pattern.as_deref() {
            None => None,
            Some(p) => Some(check_pattern(Some(p))?),
        };
        let retention = check_retention(input.retention_days)?;
        check_kms(input.kms_key_identifier.as_deref())?;
        let now = self.clock.now_millis();
        let mut defs = self.archives.defs();
        let Some(def) = defs.get_mut(&Self::scope_key(ctx)).and_then(|s| s.get_mut(name)) else {
            // What AWS answers for an archive that does not exist.
            return Err(AwsError::new(
                "InternalException",
                500,
                "Service encountered unexpected problem. Please try again.",
            ));
        };
        if let Some(d) = input.description {
            def.description = Some(d).filter(|d| !d.is_empty());
        }
        if let Some(k) = input.kms_key_identifier {
            def.kms_key_identifier = Some(k).filter(|k| !k.is_empty());
        }
        if let Some(r) = retention {
            def.retention_days = r;
            self.archives.store.set_retention(def.id, r, now);
        }
        if let Some(patterns) = patterns {
            let (pattern, managed) = match patterns {
                Some((p, m)) => (Some(p), m),
                None => (None, managed_rule_pattern(None)),
            };
            def.pattern = pattern;
            let (bus, rule) = (def.bus_name.clone(), def.rule_name.clone());
            self.with_scope(ctx, |scope| {
                if let Some(b) = scope.buses.get_mut(&bus) {
                    if let Some(entry) = b.rules.get_mut(&rule).filter(|e| e.rule.managed_by.is_some()) {
                        entry.rule.event_pattern = Some(managed);
                        sync_route(&b.handle, &rule, Some(entry));
                    }
                }
            });
        }
        Ok(self.archive_view(def))
    }

    /// DeleteArchive: the archive, its events and its managed rule.
    pub fn delete_archive(&self, ctx: &RequestContext, name: Option<&str>) -> Result<(), AwsError> {
        let name = archive_name(name)?;
        let def = self
            .archives
            .defs()
            .get_mut(&Self::scope_key(ctx))
            .and_then(|s| s.remove(name))
            .ok_or_else(|| archive_missing(name))?;
        self.with_scope(ctx, |scope| {
            if let Some(b) = scope.buses.get_mut(&def.bus_name) {
                if b.rules.get(&def.rule_name).is_some_and(|e| e.rule.managed_by.is_some()) {
                    b.rules.remove(&def.rule_name);
                    sync_route(&b.handle, &def.rule_name, None);
                }
            }
            scope.tags.remove(&def.rule_arn);
        });
        self.archives.store.remove(def.id, &def.rule_arn);
        Ok(())
    }

    /// `ManagedRuleException` when the rule named is a managed rule (an archive's): what
    /// PutRule, EnableRule, DisableRule, PutTargets, and DeleteRule and RemoveTargets without
    /// `Force`, answer a caller. A rule or bus that does not exist passes: the operation itself
    /// reports it.
    pub fn refuse_managed_rule(
        &self,
        ctx: &RequestContext,
        rule: Option<&str>,
        bus: Option<&str>,
    ) -> Result<(), AwsError> {
        let (Some(rule), Ok(bus)) = (rule, bus_name(bus)) else {
            return Ok(());
        };
        let managed = self.with_scope(ctx, |scope| {
            scope
                .buses
                .get(&bus)
                .and_then(|b| b.rules.get(rule))
                .is_some_and(|e| e.rule.managed_by.is_some())
        });
        if managed {
            return Err(managed_rule_error(rule));
        }
        Ok(())
    }

    /// Like [`Events::refuse_managed_rule`], for TagResource and UntagResource (by ARN).
    pub fn refuse_managed_arn(&self, ctx: &RequestContext, arn: Option<&str>) -> Result<(), AwsError> {
        let Some(arn) = arn else {
            return Ok(());
        };
        let managed = self.with_scope(ctx, |scope| {
            scope.buses.values().find_map(|b| {
                b.rules
                    .values()
                    .find(|e| e.rule.arn == arn && e.rule.managed_by.is_some())
                    .map(|e| e.rule.name.clone())
            })
        });
        match managed {
            Some(rule) => Err(managed_rule_error(&rule)),
            None => Ok(()),
        }
    }

    /// The archives' series for `/_localbridge/metrics`.
    pub fn archive_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let (events, bytes, dropped, expired) = self.archives.store.totals();
        let series: [(&str, &str, &str, u64); 6] = [
            ("events", "gauge", "Events kept in all archives.", events as u64),
            ("bytes", "gauge", "Bytes of the events kept in all archives.", bytes),
            (
                "max_events",
                "gauge",
                "The bound on archived events (--events-archive-max-events).",
                self.archives.store.max_events() as u64,
            ),
            (
                "max_bytes",
                "gauge",
                "The bound on archived bytes (--events-archive-max-bytes).",
                self.archives.store.max_bytes(),
            ),
            (
                "dropped_total",
                "counter",
                "Archived events dropped, the oldest first, to keep within the bounds.",
                dropped,
            ),
            (
                "expired_total",
                "counter",
                "Archived events removed by their archive's retention.",
                expired,
            ),
        ];
        for (name, kind, help, value) in series {
            let _ = writeln!(out, "# HELP localbridge_events_archive_{name} {help}");
            let _ = writeln!(out, "# TYPE localbridge_events_archive_{name} {kind}");
            let _ = writeln!(out, "localbridge_events_archive_{name} {value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_arn_shape() {
        for ok in [
            "arn:aws:events:us-east-1:000000000000:event-bus/default",
            "arn:aws-cn:events:cn-north-1::archive/a",
            "arn:aws:events:us-east-1:000000000000:event-bus/a/b",
        ] {
            assert!(is_events_arn(ok), "{ok}");
        }
        for bad in [
            "default",
            "arn:aws:sqs:us-east-1:000000000000:q/x",
            "arn:aws:events:us-east-1:123:event-bus/x",
            "arn:aws:events:us-east-1:000000000000:event-bus/",
            "arn:aws:events:US:000000000000:event-bus/x",
        ] {
            assert!(!is_events_arn(bad), "{bad}");
        }
    }
}
