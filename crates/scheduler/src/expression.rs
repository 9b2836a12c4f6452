//! Schedule expressions (`at()`, `rate()`, `cron()`) and their time zone, compiled once when a
//! schedule is created or updated, asked for the next firing when it fires.
//!
//! The parsing and the calendar arithmetic (IANA zones, daylight saving) are `lb_schedule`'s;
//! this module adapts it to the service: AWS's errors, and when a schedule first fires — a
//! `rate()` "starts invoking its target immediately" without a StartDate, else at it
//! (Scheduler User Guide, schedule types), so its periods are counted from that instant and the
//! first firing is the instant itself.

use lb_core::AwsError;
use lb_schedule::{Expression, Kind, Zone};

use crate::validate::validation;

/// A parsed expression in its time zone.
#[derive(Debug, Clone)]
pub struct Compiled {
    expression: Expression,
    zone: Zone,
}

fn ms(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// Parses `text` evaluated in `timezone` (UTC when absent).
pub fn compile(text: &str, timezone: Option<&str>) -> Result<Compiled, AwsError> {
    let expression =
        lb_schedule::parse(text).map_err(|_| validation(format!("Invalid Schedule Expression {text}.")))?;
    let zone = match timezone {
        None => Zone::utc(),
        Some(tz) => Zone::named(tz).map_err(|_| validation(format!("Invalid time zone: {tz}")))?,
    };
    Ok(Compiled { expression, zone })
}

impl Compiled {
    /// An `at()` expression: fires once.
    pub fn one_time(&self) -> bool {
        self.expression.kind() == Kind::At
    }

    /// A `cron()` expression.
    pub fn is_cron(&self) -> bool {
        self.expression.kind() == Kind::Cron
    }

    /// The first firing strictly after `after_ms` (epoch milliseconds); a `rate()`'s periods
    /// are counted from `anchor_ms`.
    pub fn next_after(&self, after_ms: u64, anchor_ms: u64) -> Option<u64> {
        self.expression
            .next_after(ms(after_ms), ms(anchor_ms), &self.zone)
            .and_then(|t| u64::try_from(t).ok())
    }

    /// An `at()` expression's instant (`None`: a wall-clock time its zone skips).
    pub fn at(&self) -> Option<u64> {
        match &self.expression {
            Expression::At(at) => at.instant(&self.zone).and_then(|t| u64::try_from(t).ok()),
            _ => None,
        }
    }
}
