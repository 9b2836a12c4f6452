//! The operations, as plain Rust over [`crate::model`] types. Validation and messages follow
//! botocore's model (lengths, patterns, `LimitMax100`) and AWS's answers.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use lb_core::{AwsError, Clock, RequestContext};
use lb_rules::pattern::{Pattern, MAX_PATTERN_LENGTH};

use crate::model::{CreateEventBusInput, EventBus, ListInput, Page, PutRuleInput, Rule, RuleState};

/// The bus every region and account has.
pub const DEFAULT_BUS: &str = "default";

/// The fields TestEventPattern requires of its event (the API reference also lists
/// `resources`, which EventBridge does not enforce).
pub const REQUIRED_EVENT_FIELDS: [&str; 6] = ["id", "account", "source", "time", "region", "detail-type"];

pub(crate) fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationException", 400, message)
}

fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new("ResourceNotFoundException", 400, message)
}

fn constraint(value: Option<&str>, field: &str, what: &str) -> AwsError {
    let value = value.map_or_else(|| "null".to_owned(), |v| format!("'{v}'"));
    validation(format!(
        "1 validation error detected: Value {value} at '{field}' failed to satisfy constraint: {what}"
    ))
}

/// A required member (`Member must not be null`).
fn required<'a>(value: Option<&'a str>, field: &str) -> Result<&'a str, AwsError> {
    value.ok_or_else(|| constraint(None, field, "Member must not be null"))
}

fn check_length(value: &str, field: &str, min: usize, max: usize) -> Result<(), AwsError> {
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
fn check_name(value: &str, field: &str, max: usize, slash: bool) -> Result<(), AwsError> {
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

fn check_limit(limit: Option<i64>) -> Result<usize, AwsError> {
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
fn bus_name(name_or_arn: Option<&str>) -> Result<String, AwsError> {
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

/// Paging over a sorted map: items after `token` whose names start with `prefix`.
fn page<T: Clone>(map: &BTreeMap<String, T>, input: &ListInput) -> Result<Page<T>, AwsError> {
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
    let items: Vec<T> = names.by_ref().take(limit).map(|(_, v)| v.clone()).collect();
    let next_token = names.next().map(|(name, _)| name.clone());
    Ok(Page { items, next_token })
}

/// One region and account's buses and their rules.
struct Scope {
    buses: BTreeMap<String, BusState>,
}

struct BusState {
    bus: EventBus,
    rules: BTreeMap<String, Rule>,
}

/// The EventBridge service: buses and rules per region and account.
pub struct Events {
    clock: Arc<dyn Clock>,
    scopes: Mutex<HashMap<(String, String), Scope>>,
}

impl Events {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            scopes: Mutex::new(HashMap::new()),
        }
    }

    fn bus_arn(ctx: &RequestContext, name: &str) -> String {
        format!("arn:aws:events:{}:{}:event-bus/{name}", ctx.region, ctx.account)
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

    /// Runs `f` on the caller's scope (created with its `default` bus on first use).
    fn with_scope<T>(&self, ctx: &RequestContext, f: impl FnOnce(&mut Scope) -> T) -> T {
        let now = self.clock.now_millis();
        let mut scopes = self.lock();
        let scope = scopes
            .entry((ctx.region.clone(), ctx.account.clone()))
            .or_insert_with(|| {
                let bus = EventBus {
                    name: DEFAULT_BUS.to_owned(),
                    arn: Self::bus_arn(ctx, DEFAULT_BUS),
                    description: None,
                    created_millis: now,
                    last_modified_millis: now,
                };
                Scope {
                    buses: BTreeMap::from([(
                        DEFAULT_BUS.to_owned(),
                        BusState {
                            bus,
                            rules: BTreeMap::new(),
                        },
                    )]),
                }
            });
        f(scope)
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
        let now = self.clock.now_millis();
        self.with_scope(ctx, |scope| {
            if scope.buses.contains_key(name) {
                return Err(AwsError::new(
                    "ResourceAlreadyExistsException",
                    400,
                    format!("Event bus {name} already exists."),
                ));
            }
            let bus = EventBus {
                name: name.to_owned(),
                arn: Self::bus_arn(ctx, name),
                description: input.description,
                created_millis: now,
                last_modified_millis: now,
            };
            scope.buses.insert(
                name.to_owned(),
                BusState {
                    bus: bus.clone(),
                    rules: BTreeMap::new(),
                },
            );
            Ok(bus)
        })
    }

    pub fn describe_event_bus(&self, ctx: &RequestContext, name: Option<&str>) -> Result<EventBus, AwsError> {
        let name = bus_name(name)?;
        self.with_scope(ctx, |scope| {
            scope
                .buses
                .get(&name)
                .map(|b| b.bus.clone())
                .ok_or_else(|| Self::bus_missing(&name))
        })
    }

    pub fn list_event_buses(&self, ctx: &RequestContext, input: &ListInput) -> Result<Page<EventBus>, AwsError> {
        if let Some(p) = &input.name_prefix {
            check_name(p, "namePrefix", 256, true)?;
        }
        self.with_scope(ctx, |scope| {
            let buses: BTreeMap<String, EventBus> =
                scope.buses.iter().map(|(k, v)| (k.clone(), v.bus.clone())).collect();
            page(&buses, input)
        })
    }

    /// Deleting a bus that does not exist succeeds, as on AWS; `default` cannot be deleted.
    pub fn delete_event_bus(&self, ctx: &RequestContext, name: Option<&str>) -> Result<(), AwsError> {
        let name = required(name, "name")?;
        check_name(name, "name", 256, true)?;
        if name == DEFAULT_BUS {
            return Err(validation("Cannot delete event bus default."));
        }
        self.with_scope(ctx, |scope| {
            scope.buses.remove(name);
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
            None => RuleState::Enabled,
            Some(s) => RuleState::parse(s).ok_or_else(|| {
                constraint(
                    Some(s),
                    "state",
                    "Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]",
                )
            })?,
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
            let well_formed = (s.starts_with("rate(") || s.starts_with("cron(")) && s.ends_with(')');
            if !well_formed {
                return Err(validation("Parameter ScheduleExpression is not valid."));
            }
            if bus != DEFAULT_BUS {
                return Err(validation(
                    "ScheduleExpression is supported only on the default event bus.",
                ));
            }
        }
        let arn = Self::rule_arn(ctx, &bus, name);
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
        };
        self.with_scope(ctx, |scope| {
            let b = scope.buses.get_mut(&bus).ok_or_else(|| Self::bus_missing(&bus))?;
            b.rules.insert(name.to_owned(), rule);
            Ok(arn)
        })
    }

    /// Runs `f` on a rule of a bus.
    fn with_rule<T>(
        &self,
        ctx: &RequestContext,
        name: Option<&str>,
        bus: Option<&str>,
        f: impl FnOnce(&mut Rule) -> T,
    ) -> Result<T, AwsError> {
        let name = Self::check_rule_name(name)?;
        let bus = bus_name(bus)?;
        self.with_scope(ctx, |scope| {
            let b = scope.buses.get_mut(&bus).ok_or_else(|| Self::bus_missing(&bus))?;
            let rule = b.rules.get_mut(name).ok_or_else(|| Self::rule_missing(name, &bus))?;
            Ok(f(rule))
        })
    }

    pub fn describe_rule(&self, ctx: &RequestContext, name: Option<&str>, bus: Option<&str>) -> Result<Rule, AwsError> {
        self.with_rule(ctx, name, bus, |r| r.clone())
    }

    pub fn enable_rule(&self, ctx: &RequestContext, name: Option<&str>, bus: Option<&str>) -> Result<(), AwsError> {
        self.with_rule(ctx, name, bus, |r| r.state = RuleState::Enabled)
    }

    pub fn disable_rule(&self, ctx: &RequestContext, name: Option<&str>, bus: Option<&str>) -> Result<(), AwsError> {
        self.with_rule(ctx, name, bus, |r| r.state = RuleState::Disabled)
    }

    /// Deleting a rule that does not exist succeeds, as on AWS; its bus must exist.
    pub fn delete_rule(&self, ctx: &RequestContext, name: Option<&str>, bus: Option<&str>) -> Result<(), AwsError> {
        let name = Self::check_rule_name(name)?;
        let bus = bus_name(bus)?;
        self.with_scope(ctx, |scope| {
            let b = scope.buses.get_mut(&bus).ok_or_else(|| Self::bus_missing(&bus))?;
            b.rules.remove(name);
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
            page(&b.rules, input)
        })
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
