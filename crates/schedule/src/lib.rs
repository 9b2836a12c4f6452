//! Schedule expressions of EventBridge rules and EventBridge Scheduler: `rate(...)`,
//! `cron(...)` and `at(...)`, parsed once and evaluated to their next firing. Pure: no I/O, no
//! async, no clock; times are Unix milliseconds passed in.
//!
//! ```
//! use lb_schedule::{parse, Expression, Zone};
//!
//! let every_5 = parse("rate(5 minutes)").unwrap();
//! // A rate counts from its anchor (a rule's creation, a schedule's start): firings at
//! // anchor + k * period, the first strictly after `after_ms`.
//! assert_eq!(every_5.next_after(0, 0, &Zone::utc()), Some(300_000));
//!
//! let noon = parse("cron(0 12 * * ? *)").unwrap();
//! let ny = Zone::named("America/New_York").unwrap();
//! // 2026-01-01T00:00Z -> noon in New York on Jan 1st is 17:00Z.
//! assert_eq!(noon.next_after(1_767_225_600_000, 0, &ny), Some(1_767_286_800_000));
//! assert!(matches!(parse("rate(5 minute)"), Err(lb_schedule::ExpressionError::Rate(_))));
//! ```
//!
//! # The API
//!
//! - [`parse`] reads any of the three forms into an [`Expression`]; the caller decides which it
//!   accepts ([`Expression::kind`]): rules take `rate` and `cron`, Scheduler all three.
//! - [`Zone`]: [`Zone::utc`] or [`Zone::named`] (the IANA database is bundled into the binary,
//!   so it does not depend on the machine's `/usr/share/zoneinfo`).
//! - [`Expression::next_after`]`(after_ms, anchor_ms, zone)`: the first firing strictly after
//!   `after_ms`, or `None` when there is none (an `at` in the past, a cron past its last year).
//! - [`ExpressionError`] says what is wrong; each service maps it to its own AWS message.
//!
//! # Semantics
//!
//! - **rate**: "A rate expression starts when you create the scheduled event rule" (EventBridge
//!   User Guide, rate expressions); for Scheduler, "you use the StartDate property to set the
//!   first occurrence of the schedule. If you do not provide a StartDate for a rate-based
//!   schedule, your schedule starts invoking its target immediately" (Scheduler User Guide,
//!   schedule types). So a rate fires at `anchor + k * period`, `k >= 0`, and the caller picks
//!   the anchor and `after_ms`: a rule passes its creation minute as both (first firing one
//!   period later), a schedule passes its start and `start - 1` (first firing at the start).
//!   A rate is elapsed time, whatever the zone: "in a rate-based schedule that uses days as the
//!   unit, days represents a 24-hour duration on the clock" (AWS Knowledge Center,
//!   eventbridge-scheduler-adjust-dst).
//! - **cron**: evaluated on the zone's wall clock, minute precision (see [`cron`] for the
//!   grammar). Daylight saving time, as AWS states it: "EventBridge Scheduler automatically
//!   adjusts your schedule for Daylight Saving Time. When the time shifts forward in Spring,
//!   your schedule invocation gets skipped if the cron expression falls on a non-existent date
//!   and time. When the time shifts back in the Fall, your schedule runs only once and doesn't
//!   repeat its invocation." (AWS Knowledge Center, eventbridge-scheduler-adjust-dst; the
//!   Scheduler User Guide covers the same ground in "Daylight savings time on EventBridge
//!   Scheduler", schedule-types.) So a wall-clock minute in the skipped hour never fires, and
//!   one in the repeated hour fires once, at its first (earlier) occurrence: an hourly cron in
//!   `America/New_York` fires 23 times on 2026-03-08 and 24 times (not 25) on 2026-11-01.
//! - **at**: `at(yyyy-mm-ddThh:mm:ss)`, a wall-clock time in the zone; it fires once. In a
//!   repeated hour it is the first occurrence; in a skipped hour it never fires, as a cron
//!   minute there does (the guides are silent on this case).

mod civil;
pub mod cron;
mod zone;

use std::fmt;

pub use cron::Cron;
pub use zone::Zone;

use civil::{Civil, MINUTE_MS};
use zone::Resolved;

/// Why a text is not a schedule expression, with the detail a service needs for its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    /// Neither `at(...)`, `rate(...)` nor `cron(...)`.
    #[error("not a schedule expression: expected rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss)")]
    UnknownForm,
    #[error("invalid rate expression: {0}")]
    Rate(String),
    #[error("invalid cron expression: {0}")]
    Cron(String),
    #[error("invalid at expression: {0}")]
    At(String),
    /// A time zone name the IANA database does not know.
    #[error("unknown time zone: {0}")]
    TimeZone(String),
}

/// The three forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    At,
    Rate,
    Cron,
}

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    At(At),
    Rate(Rate),
    Cron(Cron),
}

/// Reads `rate(value unit)`, `cron(fields)` or `at(yyyy-mm-ddThh:mm:ss)`.
pub fn parse(text: &str) -> Result<Expression, ExpressionError> {
    let inner = |prefix: &str| text.strip_prefix(prefix).and_then(|t| t.strip_suffix(')'));
    if let Some(body) = inner("rate(") {
        Rate::parse(body).map(Expression::Rate)
    } else if let Some(body) = inner("cron(") {
        Cron::parse(body).map(Expression::Cron)
    } else if let Some(body) = inner("at(") {
        At::parse(body).map(Expression::At)
    } else {
        Err(ExpressionError::UnknownForm)
    }
}

impl Expression {
    pub fn kind(&self) -> Kind {
        match self {
            Expression::At(_) => Kind::At,
            Expression::Rate(_) => Kind::Rate,
            Expression::Cron(_) => Kind::Cron,
        }
    }

    /// The first firing strictly after `after_ms` (Unix ms), with rates counted from
    /// `anchor_ms`, cron and at read on `zone`'s wall clock. `None`: it never fires again.
    pub fn next_after(&self, after_ms: i64, anchor_ms: i64, zone: &Zone) -> Option<i64> {
        match self {
            Expression::At(at) => at.instant(zone).filter(|t| *t > after_ms),
            Expression::Rate(rate) => rate.next_after(after_ms, anchor_ms),
            Expression::Cron(cron) => cron.next_after(after_ms, zone),
        }
    }
}

/// The unit of a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    Minute,
    Hour,
    Day,
}

impl RateUnit {
    pub fn millis(self) -> i64 {
        match self {
            RateUnit::Minute => MINUTE_MS,
            RateUnit::Hour => 60 * MINUTE_MS,
            RateUnit::Day => 24 * 60 * MINUTE_MS,
        }
    }
}

/// `rate(value unit)`: every `value` units of elapsed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    value: u32,
    unit: RateUnit,
}

impl Rate {
    /// "If the value is equal to 1, then the unit must be singular. If the value is greater
    /// than 1, the unit must be plural. For example, rate(1 hours) and rate(5 hour) aren't
    /// valid" (EventBridge User Guide, rate expressions). The value is a positive integer.
    fn parse(body: &str) -> Result<Rate, ExpressionError> {
        let bad = |m: String| ExpressionError::Rate(m);
        let parts: Vec<&str> = body.split_ascii_whitespace().collect();
        let [value, unit] = parts[..] else {
            return Err(bad(format!("expected 'value unit', found '{body}'")));
        };
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("value '{value}' is not a positive integer")));
        }
        let value: u32 = value
            .parse()
            .map_err(|_| bad(format!("value '{value}' is too large")))?;
        if value == 0 {
            return Err(bad("value must be a positive integer".to_owned()));
        }
        let (unit, singular) = match unit {
            "minute" => (RateUnit::Minute, true),
            "minutes" => (RateUnit::Minute, false),
            "hour" => (RateUnit::Hour, true),
            "hours" => (RateUnit::Hour, false),
            "day" => (RateUnit::Day, true),
            "days" => (RateUnit::Day, false),
            other => {
                return Err(bad(format!(
                    "unit '{other}' is not one of minute | minutes | hour | hours | day | days"
                )))
            }
        };
        if singular != (value == 1) {
            return Err(bad(if value == 1 {
                "a value of 1 takes a singular unit (minute, hour, day)".to_owned()
            } else {
                "a value greater than 1 takes a plural unit (minutes, hours, days)".to_owned()
            }));
        }
        Ok(Rate { value, unit })
    }

    pub fn value(&self) -> u32 {
        self.value
    }

    pub fn unit(&self) -> RateUnit {
        self.unit
    }

    /// The period in milliseconds.
    pub fn period_ms(&self) -> i64 {
        i64::from(self.value) * self.unit.millis()
    }

    /// The first `anchor_ms + k * period` (`k >= 0`) strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64, anchor_ms: i64) -> Option<i64> {
        if after_ms < anchor_ms {
            return Some(anchor_ms);
        }
        let period = self.period_ms();
        let k = (after_ms - anchor_ms) / period + 1;
        k.checked_mul(period)?.checked_add(anchor_ms)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            RateUnit::Minute => "minute",
            RateUnit::Hour => "hour",
            RateUnit::Day => "day",
        };
        let plural = if self.value == 1 { "" } else { "s" };
        write!(f, "rate({} {unit}{plural})", self.value)
    }
}

/// `at(yyyy-mm-ddThh:mm:ss)`: one wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    civil: Civil,
    second: u32,
}

impl At {
    fn parse(body: &str) -> Result<At, ExpressionError> {
        let bad = || ExpressionError::At(format!("'{body}' is not a date and time yyyy-mm-ddThh:mm:ss"));
        let b = body.as_bytes();
        let shape = b.len() == 19
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            });
        if !shape {
            return Err(bad());
        }
        let n = |r: std::ops::Range<usize>| body[r].parse::<u32>().map_err(|_| bad());
        let (year, month, day) = (n(0..4)? as i32, n(5..7)?, n(8..10)?);
        let (hour, minute, second) = (n(11..13)?, n(14..16)?, n(17..19)?);
        if !(1..=12).contains(&month) || day == 0 || day > civil::days_in_month(year, month) {
            return Err(ExpressionError::At(format!("'{body}' is not a calendar date")));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(ExpressionError::At(format!("'{body}' is not a time of day")));
        }
        Ok(At {
            civil: Civil {
                year,
                month,
                day,
                hour,
                minute,
            },
            second,
        })
    }

    /// The instant (Unix ms) this wall-clock time is in `zone`: the earlier of two in a
    /// repeated hour, `None` in a skipped one.
    pub fn instant(&self, zone: &Zone) -> Option<i64> {
        let local = self.civil.to_minutes() * MINUTE_MS + i64::from(self.second) * 1000;
        match zone.resolve_millis(local)? {
            Resolved::One(t) | Resolved::Twice(t, _) => Some(t),
            Resolved::Skipped => None,
        }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.civil;
        write!(
            f,
            "at({:04}-{:02}-{:02}T{:02}:{:02}:{:02})",
            c.year, c.month, c.day, c.hour, c.minute, self.second
        )
    }
}

impl Cron {
    /// The first minute named by the expression, on `zone`'s wall clock, whose instant is
    /// strictly after `after_ms`; skipped wall-clock minutes never fire and repeated ones fire
    /// at their first occurrence (see the crate docs).
    pub fn next_after(&self, after_ms: i64, zone: &Zone) -> Option<i64> {
        let local = zone.local_millis(after_ms)?;
        let mut from = local.div_euclid(MINUTE_MS) + 1;
        // Each turn moves past one wall-clock minute that has no instant after `after_ms`: at
        // most the minutes of one skipped or repeated span (a few hours), so the bound is loose.
        for _ in 0..10_000 {
            let c = self.next_civil(Civil::from_minutes(from))?;
            match zone.resolve(c)? {
                Resolved::One(t) | Resolved::Twice(t, _) if t > after_ms => return Some(t),
                _ => from = c.to_minutes() + 1,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
