//! The operations, as plain Rust over [`crate::model`] types. Validation and messages follow
//! botocore's model (lengths, patterns, `LimitMax100`) and AWS's answers.
//!
//! The control plane (buses, rules, targets, policies, tags) lives under one mutex per service;
//! every change to a rule is mirrored into its bus's [`BusHandle`] router, which is all the data
//! plane (PutEvents, events arriving from S3 or another bus) reads.

mod access;
mod archives;
mod put_events;
mod replays;
mod targets;

pub(crate) use access::allows_put_events;
pub use access::PutPermissionInput;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use dashmap::DashMap;
use lb_core::deliver::Engine;

use lb_core::{AwsError, Clock, RequestContext};
use lb_rules::pattern::{Pattern, MAX_PATTERN_LENGTH};

use crate::journal::Journal;
use crate::model::{CreateEventBusInput, EventBus, ListInput, Page, PutRuleInput, Rule, RuleState};
use crate::route::{BusHandle, RouteRule, RouteTarget, RuleCounters};
use crate::schedule::Schedules;

/// The bus every region and account has.
pub const DEFAULT_BUS: &str = "default";

/// The fields TestEventPattern requires of its event (the API reference also lists
/// `resources`, which EventBridge does not enforce).
pub const REQUIRED_EVENT_FIELDS: [&str; 6] = ["id", "account", "source", "time", "region", "detail-type"];

pub(crate) fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationException", 400, message)
}

pub(crate) fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new("ResourceNotFoundException", 400, message)
}

pub(crate) fn constraint(value: Option<&str>, field: &str, what: &str) -> AwsError {
    AwsError::constraint(value, field, what)
}

/// A required member (`Member must not be null`).
pub(crate) fn required<'a>(value: Option<&'a str>, field: &str) -> Result<&'a str, AwsError> {
    value.ok_or_else(|| constraint(None, field, "Member must not be null"))
}

pub(crate) fn check_length(value: &str, field: &str, min: usize, max: usize) -> Result<(), AwsError> {
    let n = value.chars().count();
    if n < min {
        return Err(constraint(
            Some(value),
            field,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(constraint(
            Some(value),
            field,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// A name of `[.\-_A-Za-z0-9]+` (plus `/` when `slash`), `min..=max` long.
pub(crate) fn check_name(value: &str, field: &str, max: usize, slash: bool) -> Result<(), AwsError> {
    check_length(value, field, 1, max)?;
    let ok = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') || (slash && b == b'/'));
    if !ok {
        let pattern = if slash {
            r"[/\.\-_A-Za-z0-9]+"
        } else {
            r"[\.\-_A-Za-z0-9]+"
        };
        return Err(constraint(
            Some(value),
            field,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ));
    }
    Ok(())
}

pub(crate) fn check_limit(limit: Option<i64>) -> Result<usize, AwsError> {
    match limit {
        None => Ok(100),
        Some(n) if n < 1 => Err(constraint(
            Some(&n.to_string()),
            "limit",
            "Member must have value greater than or equal to 1",
        )),
        Some(n) if n > 100 => Err(constraint(
            Some(&n.to_string()),
            "limit",
            "Member must have value less than or equal to 100",
        )),
        Some(n) => Ok(n as usize),
    }
}

/// Validates an event pattern as PutRule and TestEventPattern do.
pub fn parse_pattern(text: &str) -> Result<Pattern, AwsError> {
    if text.chars().count() > MAX_PATTERN_LENGTH {
        return Err(constraint(
            Some(text),
            "eventPattern",
            &format!("Member must have length less than or equal to {MAX_PATTERN_LENGTH}"),
        ));
    }
    Pattern::parse(text).map_err(|e| AwsError::new("InvalidEventPatternException", 400, e.to_string()))
}

/// The bus name an `EventBusNameOrArn` names (`default` when absent).
pub(crate) fn bus_name(name_or_arn: Option<&str>) -> Result<String, AwsError> {
    let Some(value) = name_or_arn else {
        return Ok(DEFAULT_BUS.to_owned());
    };
    check_length(value, "eventBusName", 1, 1600)?;
    let name = match value.strip_prefix("arn:") {
        Some(_) => match value.split_once(":event-bus/") {
            Some((_, name)) => name,
            None => {
                return Err(constraint(
                    Some(value),
                    "eventBusName",
                    r"Member must satisfy regular expression pattern: (arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+",
                ))
            }
        },
        None => value,
    };
    check_name(name, "eventBusName", 1600, true)?;
    Ok(name.to_owned())
}

/// Paging over a sorted map: the items after `token` whose names start with `prefix`.
pub(crate) fn page<V, T>(
    map: &BTreeMap<String, V>,
    input: &ListInput,
    f: impl Fn(&V) -> T,
) -> Result<Page<T>, AwsError> {
    let limit = check_limit(input.limit)?;
    let prefix = input.name_prefix.as_deref().unwrap_or("");
    let start = match input.next_token.as_deref() {
        Some(t) => {
            check_length(t, "nextToken", 1, 2048)?;
            t
        }
        None => "",
    };
    let mut names = map
        .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
        .filter(|(name, _)| name.starts_with(prefix));
    let items: Vec<T> = names.by_ref().take(limit).map(|(_, v)| f(v)).collect();
    let next_token = names.next().map(|(name, _)| name.clone());
    Ok(Page { items, next_token })
}

/// Limits that AWS applies per account and that a user may want to raise locally.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// Targets per rule (AWS: 5).
    pub max_targets_per_rule: usize,
    /// Rules per event bus (AWS: 300 by default, raisable).
    pub max_rules_per_bus: usize,
    /// Events the journal keeps for `/_localbridge/events/<id>` (the oldest leave first).
    pub journal_capacity: usize,
    /// Events all archives keep together (the oldest archived leave first).
    pub archive_max_events: usize,
    /// Bytes of the events all archives keep together.
    pub archive_max_bytes: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            max_targets_per_rule: 5,
            max_rules_per_bus: 300,
            journal_capacity: 10_000,
            archive_max_events: 100_000,
            archive_max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// One region and account's buses.
struct Scope {
    buses: BTreeMap<String, BusState>,
    /// Tags by resource ARN (buses and rules).
    tags: HashMap<String, BTreeMap<String, String>>,
}

struct BusState {
    bus: EventBus,
    rules: BTreeMap<String, RuleEntry>,
    /// The bus's resource policy, as PutPermission builds it.
    policy: Option<serde_json::Value>,
    handle: Arc<BusHandle>,
}

/// A rule and its targets.
struct RuleEntry {
    rule: Rule,
    /// By target id: the target as PutTargets took it (returned by ListTargetsByRule) and
    /// compiled.
    targets: BTreeMap<String, (serde_json::Value, Arc<RouteTarget>)>,
    counters: Arc<RuleCounters>,
}

impl RuleEntry {
    /// The rule as routing sees it, when it routes (enabled, with a pattern).
    fn route(&self) -> Option<RouteRule> {
        if self.rule.state == RuleState::Disabled {
            return None;
        }
        let pattern = Pattern::parse(self.rule.event_pattern.as_deref()?).ok()?;
        Some(RouteRule {
            name: self.rule.name.as_str().into(),
            arn: self.rule.arn.as_str().into(),
            pattern,
            targets: self.targets.values().map(|(_, t)| Arc::clone(t)).collect(),
            counters: Arc::clone(&self.counters),
        })
    }
}

/// Mirrors a rule's current state into its bus's router.
fn sync_route(handle: &BusHandle, name: &str, entry: Option<&RuleEntry>) {
    let route = entry.and_then(RuleEntry::route);
    let mut router = handle.router_mut();
    match route {
        Some(r) => router.upsert(r),
        None => router.remove(name),
    }
    drop(router);
    if let Some(schedules) = &handle.schedules {
        let scheduled = entry.and_then(|e| {
            let text = e.rule.schedule_expression.as_deref()?;
            (e.rule.state != RuleState::Disabled).then(|| {
                let targets = e.targets.values().map(|(_, t)| Arc::clone(t)).collect();
                crate::schedule::Scheduling {
                    expression: text,
                    targets,
                    counters: Arc::clone(&e.counters),
                }
            })
        });
        schedules.sync(handle, name, scheduled);
    }
}

/// The EventBridge service: buses, rules and targets per region and account, and the routing of
/// events through the delivery engine.
pub struct Events {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) engine: Engine,
    config: EventsConfig,
    scopes: Mutex<HashMap<(String, String), Scope>>,
    /// Every bus by ARN: the data plane's index.
    buses: DashMap<String, Arc<BusHandle>>,
    journal: Journal,
    destinations: crate::connections::Destinations,
    /// The scheduled rules' next firings (see [`Events::start_schedules`]).
    pub(crate) schedules: Arc<Schedules>,
    archives: crate::archive::Archives,
}

impl Events {
    pub fn new(clock: Arc<dyn Clock>, engine: Engine, config: EventsConfig) -> Self {
        Self {
            destinations: crate::connections::Destinations::new(Arc::clone(&clock)),
            journal: Journal::new(config.journal_capacity),
            schedules: Arc::new(Schedules::new(Arc::clone(&clock))),
            archives: crate::archive::Archives::new(config.archive_max_events, config.archive_max_bytes),
            clock,
            engine,
            config,
            scopes: Mutex::new(HashMap::new()),
            buses: DashMap::new(),
        }
    }

    pub(crate) fn destinations(&self) -> &crate::connections::Destinations {
        &self.destinations
    }

    pub(crate) fn journal(&self) -> &Journal {
        &self.journal
    }

    fn bus_arn_of(region: &str, account: &str, name: &str) -> String {
        format!("arn:aws:events:{region}:{account}:event-bus/{name}")
    }

    fn rule_arn(ctx: &RequestContext, bus: &str, name: &str) -> String {
        if bus == DEFAULT_BUS {
            format!("arn:aws:events:{}:{}:rule/{name}", ctx.region, ctx.account)
        } else {
            format!("arn:aws:events:{}:{}:rule/{bus}/{name}", ctx.region, ctx.account)
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), Scope>> {
        self.scopes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_bus(&self, region: &str, account: &str, name: &str, description: Option<String>) -> BusState {
        let now = self.clock.now_millis();
        let arn = Self::bus_arn_of(region, account, name);
        let mut handle = BusHandle::new(&arn, region, account);
        if name == DEFAULT_BUS {
            handle.schedules = Some(Arc::clone(&self.schedules));
        }
        let handle = Arc::new(handle);
        self.buses.insert(arn.clone(), Arc::clone(&handle));
        BusState {
            bus: EventBus {
                name: name.to_owned(),
                arn,
                description,
                dead_letter_config: None,
                kms_key_identifier: None,
                log_config: None,
                created_millis: now,
                last_modified_millis: now,
            },
            rules: BTreeMap::new(),
            policy: None,
            handle,
        }
    }

    /// Runs `f` on a region and account's scope (created with its `default` bus on first use).
    fn with_scope_of<T>(&self, region: &str, account: &str, f: impl FnOnce(&mut Scope) -> T) -> T {
        let mut scopes = self.lock();
        let scope = scopes
            .entry((region.to_owned(), account.to_owned()))
            .or_insert_with(|| Scope {
                buses: BTreeMap::from([(DEFAULT_BUS.to_owned(), self.new_bus(region, account, DEFAULT_BUS, None))]),
                tags: HashMap::new(),
            });
        f(scope)
    }

    /// Runs `f` on the caller's scope.
    fn with_scope<T>(&self, ctx: &RequestContext, f: impl FnOnce(&mut Scope) -> T) -> T {
        self.with_scope_of(&ctx.region, &ctx.account, f)
    }

    /// The bus of that name in that region and account, for routing (the `default` bus exists
    /// everywhere).
    pub(crate) fn bus_handle(&self, region: &str, account: &str, name: &str) -> Option<Arc<BusHandle>> {
        let arn = Self::bus_arn_of(region, account, name);
        if let Some(h) = self.buses.get(&arn) {
            return Some(Arc::clone(h.value()));
        }
        if name == DEFAULT_BUS {
            return self.with_scope_of(region, account, |s| {
                s.buses.get(DEFAULT_BUS).map(|b| Arc::clone(&b.handle))
            });
        }
        None
    }

    /// A bus by ARN, if it exists.
    pub(crate) fn bus_by_arn(&self, arn: &str) -> Option<Arc<BusHandle>> {
        self.buses.get(arn).map(|h| Arc::clone(h.value()))
    }

    fn bus_missing(name: &str) -> AwsError {
        not_found(format!("Event bus {name} does not exist."))
    }

    fn rule_missing(rule: &str, bus: &str) -> AwsError {
        not_found(format!("Rule {rule} does not exist on EventBus {bus}."))
    }

    // ---- buses ------------------------------------------------------------------------------

    pub fn create_event_bus(&self, ctx: &RequestContext, input: CreateEventBusInput) -> Result<EventBus, AwsError> {
        let name = required(input.name.as_deref(), "name")?;
        check_name(name, "name", 256, true)?;
        match input.event_source_name.as_deref() {
            Some(source) => {
                check_length(source, "eventSourceName", 1, 256)?;
                return Err(not_found(format!("Event source {source} does not exist.")));
            }
            None if name.contains('/') => {
                return Err(validation(format!(
                    "Event bus name must not contain '/'. Provided event bus name: {name}."
                )))
            }
            None => {}
        }
        if let Some(d) = &input.description {
            check_length(d, "description", 0, 512)?;
        }
        self.with_scope(ctx, |scope| {
            if scope.buses.contains_key(name) {
                return Err(AwsError::new(
                    "ResourceAlreadyExistsException",
                    400,
                    format!("Event bus {name} already exists."),
                ));
            }
            let state = self.new_bus(&ctx.region, &ctx.account, name, input.description);
            let bus = state.bus.clone();
            scope.buses.insert(name.to_owned(), state);
            Ok(bus)
        })
    }

    /// The bus and its policy (DescribeEventBus).
    pub fn describe_event_bus(
        &self,
        ctx: &RequestContext,
        name: Option<&str>,
    ) -> Result<(EventBus, Option<String>), AwsError> {
        let name = bus_name(name)?;
        self.with_scope(ctx, |scope| {
            scope
                .buses
                .get(&name)
                .map(|b| (b.bus.clone(), b.policy.as_ref().map(ToString::to_string)))
                .ok_or_else(|| Self::bus_missing(&name))
        })
    }

    pub fn list_event_buses(&self, ctx: &RequestContext, input: &ListInput) -> Result<Page<EventBus>, AwsError> {
        if let Some(p) = &input.name_prefix {
            check_name(p, "namePrefix", 256, true)?;
        }
        self.with_scope(ctx, |scope| page(&scope.buses, input, |b| b.bus.clone()))
    }

    /// Deleting a bus that does not exist succeeds, as on AWS; `default` cannot be deleted.
    /// The bus's rules and their targets go with it.
    pub fn delete_event_bus(&self, ctx: &RequestContext, name: Option<&str>) -> Result<(), AwsError> {
        let name = required(name, "name")?;
        check_name(name, "name", 256, true)?;
        if name == DEFAULT_BUS {
            return Err(validation("Cannot delete event bus default."));
        }
        self.with_scope(ctx, |scope| {
            if let Some(b) = scope.buses.remove(name) {
                self.buses.remove(&b.bus.arn);
                scope.tags.remove(&b.bus.arn);
                for r in b.rules.values() {
                    scope.tags.remove(&r.rule.arn);
                }
            }
        });
        Ok(())
    }

    // ---- rules ------------------------------------------------------------------------------

    fn check_rule_name(name: Option<&str>) -> Result<&str, AwsError> {
        let name = required(name, "name")?;
        check_name(name, "name", 64, false)?;
        Ok(name)
    }

    pub fn put_rule(&self, ctx: &RequestContext, input: PutRuleInput) -> Result<String, AwsError> {
        let name = Self::check_rule_name(input.name.as_deref())?;
        let bus = bus_name(input.event_bus_name.as_deref())?;
        if let Some(d) = &input.description {
            check_length(d, "description", 0, 512)?;
        }
        if let Some(r) = &input.role_arn {
            check_length(r, "roleArn", 1, 1600)?;
        }
        let state = match input.state.as_deref() {
            None => None,
            Some(s) => Some(RuleState::parse(s).ok_or_else(|| {
                constraint(
                    Some(s),
                    "state",
                    "Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]",
                )
            })?),
        };
        if let Some(s) = &input.schedule_expression {
            check_length(s, "scheduleExpression", 0, 256)?;
        }
        let pattern = input.event_pattern.as_deref().filter(|p| !p.is_empty());
        let schedule = input.schedule_expression.as_deref().filter(|s| !s.is_empty());
        if pattern.is_none() && schedule.is_none() {
            return Err(validation(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.",
            ));
        }
        if let Some(p) = pattern {
            parse_pattern(p)?;
        }
        if let Some(s) = schedule {
            // Rules take rate() and cron() (UTC); at() is EventBridge Scheduler's alone.
            let valid = matches!(
                lb_schedule::parse(s).map(|e| e.kind()),
                Ok(lb_schedule::Kind::Rate | lb_schedule::Kind::Cron)
            );
            if !valid {
                return Err(validation("Parameter ScheduleExpression is not valid."));
            }
            if bus != DEFAULT_BUS {
                return Err(validation(
                    "ScheduleExpression is supported only on the default event bus.",
                ));
            }
        }
        let arn = Self::rule_arn(ctx, &bus, name);
        let max_rules = self.config.max_rules_per_bus;
        self.with_scope(ctx, |scope| {
            let b = scope.buses.get_mut(&bus).ok_or_else(|| Self::bus_missing(&bus))?;
            let existing = b.rules.get(name);
            if existing.is_none() && b.rules.len() >= max_rules {
                return Err(limit_exceeded());
            }
            // PutRule replaces the rule: what is left out takes its default, not the old value
            // (API reference, PutRule), so a rule put again without State is enabled.
            let state = state.unwrap_or(RuleState::Enabled);
            let rule = Rule {
                name: name.to_owned(),
                arn: arn.clone(),
                event_bus_name: bus.clone(),
                event_pattern: pattern.map(str::to_owned),
                schedule_expression: schedule.map(str::to_owned),
                state,
                description: input.description,
                role_arn: input.role_arn,
                created_by: ctx.account.clone(),
                managed_by: None,
            };
            let entry = b.rules.entry(name.to_owned()).or_insert_with(|| RuleEntry {
                rule: rule.clone(),
                targets: BTreeMap::new(),
                counters: Arc::default(),
            });
            entry.rule = rule;
            sync_route(&b.handle, name, Some(entry));
            Ok(arn)
        })
    }

    /// Runs `f` on a rule of a bus, then mirrors the rule into the router.
    fn with_rule<T>(
        &self,
        ctx: &RequestContext,
        name: Option<&str>,
        bus: Option<&str>,
        f: impl FnOnce(&mut RuleEntry) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let name = Self::check_rule_name(name)?;
        let bus = bus_name(bus)?;
        self.with_scope(ctx, |scope| {
            let b = scope.buses.get_mut(&bus).ok_or_else(|| Self::bus_missing(&bus))?;
            let entry = b.rules.get_mut(name).ok_or_else(|| Self::rule_missing(name, &bus))?;
            let out = f(entry)?;
            sync_route(&b.handle, name, Some(entry));
            Ok(out)
        })
    }

    pub fn describe_rule(&self, ctx: &RequestContext, name: Option<&str>, bus: Option<&str>) -> Result<Rule, AwsError> {
        self.with_rule(ctx, name, bus, |r| Ok(r.rule.clone()))
    }

    pub fn enable_rule(&self, ctx: &RequestContext, name: Option<&str>, bus: Option<&str>) -> Result<(), AwsError> {
        self.with_rule(ctx, name, bus, |r| {
            r.rule.state = RuleState::Enabled;
            Ok(())
        })
    }

    pub fn disable_rule(&self, ctx: &RequestContext, name: Option<&str>, bus: Option<&str>) -> Result<(), AwsError> {
        self.with_rule(ctx, name, bus, |r| {
            r.rule.state = RuleState::Disabled;
            Ok(())
        })
    }

    /// Deleting a rule that does not exist succeeds, as on AWS; its bus must exist. A rule with
    /// targets is refused until they are removed.
    pub fn delete_rule(&self, ctx: &RequestContext, name: Option<&str>, bus: Option<&str>) -> Result<(), AwsError> {
        let name = Self::check_rule_name(name)?;
        let bus = bus_name(bus)?;
        self.with_scope(ctx, |scope| {
            let b = scope.buses.get_mut(&bus).ok_or_else(|| Self::bus_missing(&bus))?;
            if let Some(entry) = b.rules.get(name) {
                if !entry.targets.is_empty() {
                    return Err(validation("Rule can't be deleted since it has targets."));
                }
                let arn = entry.rule.arn.clone();
                b.rules.remove(name);
                sync_route(&b.handle, name, None);
                scope.tags.remove(&arn);
            }
            Ok(())
        })
    }

    pub fn list_rules(&self, ctx: &RequestContext, input: &ListInput) -> Result<Page<Rule>, AwsError> {
        if let Some(p) = &input.name_prefix {
            check_name(p, "namePrefix", 64, false)?;
        }
        let bus = bus_name(input.event_bus_name.as_deref())?;
        self.with_scope(ctx, |scope| {
            let b = scope.buses.get(&bus).ok_or_else(|| Self::bus_missing(&bus))?;
            page(&b.rules, input, |r| r.rule.clone())
        })
    }

    /// Every rule's metrics, by (bus ARN, rule name), for `/_localbridge/metrics`.
    pub fn rule_metrics(&self) -> Vec<(String, String, crate::route::RuleMetrics)> {
        let scopes = self.lock();
        let mut out = Vec::new();
        for scope in scopes.values() {
            for b in scope.buses.values() {
                for (name, r) in &b.rules {
                    out.push((b.bus.arn.clone(), name.clone(), r.counters.snapshot()));
                }
            }
        }
        out.sort();
        out
    }

    // ---- TestEventPattern -------------------------------------------------------------------

    /// Whether `event` matches `pattern`: the pattern is validated first
    /// (`InvalidEventPatternException`), then the event must be a JSON object with
    /// [`REQUIRED_EVENT_FIELDS`] (`ValidationException: Parameter Event is not valid.`).
    pub fn test_event_pattern(&self, pattern: Option<&str>, event: Option<&str>) -> Result<bool, AwsError> {
        let pattern_text = required(pattern, "eventPattern")?;
        let event_text = required(event, "event")?;
        let pattern = parse_pattern(pattern_text)?;
        let invalid = || validation("Parameter Event is not valid.");
        let event: serde_json::Value = serde_json::from_str(event_text).map_err(|_| invalid())?;
        let obj = event.as_object().ok_or_else(invalid)?;
        if !REQUIRED_EVENT_FIELDS.iter().all(|f| obj.contains_key(*f)) {
            return Err(invalid());
        }
        Ok(pattern.matches(&event))
    }
}

fn limit_exceeded() -> AwsError {
    AwsError::new(
        "LimitExceededException",
        400,
        "The requested resource exceeds the maximum number allowed.",
    )
}
