//! Schedule expressions (`at()`, `rate()`, `cron()`) and their time zone, compiled once when a
//! schedule is created or updated, asked for the next fire time when it fires.
//!
//! The parsing and the calendar arithmetic (time zones, daylight saving) live in `lb_schedule`;
//! this module only adapts it to the service: AWS's error for an invalid expression or time
//! zone, and the semantics of the first fire time.

use lb_core::AwsError;

use crate::validate::validation;

/// A parsed expression in its time zone.
#[derive(Debug, Clone)]
pub struct Compiled {
    inner: shim::Expression,
    one_time: bool,
}

/// Parses `text` evaluated in `timezone` (UTC when absent).
pub fn compile(text: &str, timezone: Option<&str>) -> Result<Compiled, AwsError> {
    let zone = match timezone {
        None => shim::Zone::utc(),
        Some(tz) => shim::Zone::named(tz).map_err(|_| validation(format!("Invalid time zone: {tz}")))?,
    };
    let inner = shim::parse(text, zone).map_err(|_| validation(format!("Invalid Schedule Expression {text}.")))?;
    let one_time = inner.is_at();
    Ok(Compiled { inner, one_time })
}

impl Compiled {
    /// An `at()` expression: fires once.
    pub fn one_time(&self) -> bool {
        self.one_time
    }

    /// The first fire time strictly after `after_ms` (epoch milliseconds); `anchor_ms` is when a
    /// `rate()` expression's periods start (its StartDate, else its creation).
    pub fn next_after(&self, after_ms: u64, anchor_ms: u64) -> Option<u64> {
        self.inner.next_after(after_ms, anchor_ms)
    }

    /// An `at()` expression's instant.
    pub fn at(&self) -> Option<u64> {
        self.inner.at()
    }
}

/// A stand-in for `lb_schedule` until it lands: `at()` and `rate()` in UTC.
mod shim {
    #[derive(Debug, Clone)]
    pub struct Zone;

    impl Zone {
        pub fn utc() -> Self {
            Zone
        }

        pub fn named(name: &str) -> Result<Self, ()> {
            if name == "UTC" || name == "Etc/UTC" {
                Ok(Zone)
            } else {
                Err(())
            }
        }
    }

    #[derive(Debug, Clone)]
    pub enum Expression {
        At(u64),
        Rate(u64),
    }

    pub fn parse(text: &str, _zone: Zone) -> Result<Expression, ()> {
        if let Some(body) = text.strip_prefix("at(").and_then(|t| t.strip_suffix(')')) {
            let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            let t = time::PrimitiveDateTime::parse(body, &fmt).map_err(|_| ())?;
            let secs = t.assume_utc().unix_timestamp();
            return u64::try_from(secs).map(|s| Expression::At(s * 1000)).map_err(|_| ());
        }
        if let Some(body) = text.strip_prefix("rate(").and_then(|t| t.strip_suffix(')')) {
            let (n, unit) = body.split_once(' ').ok_or(())?;
            let n: u64 = n.parse().map_err(|_| ())?;
            let unit_ms = match unit {
                "minute" | "minutes" => 60_000,
                "hour" | "hours" => 3_600_000,
                "day" | "days" => 86_400_000,
                _ => return Err(()),
            };
            if n == 0 {
                return Err(());
            }
            return Ok(Expression::Rate(n * unit_ms));
        }
        Err(())
    }

    impl Expression {
        pub fn is_at(&self) -> bool {
            matches!(self, Expression::At(_))
        }

        pub fn at(&self) -> Option<u64> {
            match self {
                Expression::At(t) => Some(*t),
                Expression::Rate(_) => None,
            }
        }

        pub fn next_after(&self, after: u64, anchor: u64) -> Option<u64> {
            match self {
                Expression::At(t) => (*t > after).then_some(*t),
                Expression::Rate(p) => {
                    if after < anchor {
                        return Some(anchor);
                    }
                    let k = (after - anchor) / p + 1;
                    Some(anchor + k * p)
                }
            }
        }
    }
}
