//! Time zones: UTC (plain arithmetic) or an IANA zone from the database bundled into the binary.

use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

use crate::civil::{Civil, MINUTE_MS};
use crate::ExpressionError;

/// The time zone an expression is evaluated in. EventBridge rules are always UTC; an
/// EventBridge Scheduler schedule names one (`ScheduleExpressionTimezone`).
#[derive(Debug, Clone)]
pub struct Zone(Inner);

#[derive(Debug, Clone)]
enum Inner {
    Utc,
    Named { name: String, tz: TimeZone },
}

/// What instant a civil time is in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// Exactly one instant (Unix ms).
    One(i64),
    /// The clocks jumped over it (spring forward): no instant.
    Skipped,
    /// The clocks passed it twice (fall back): the earlier and the later instant.
    Twice(i64, i64),
}

impl Zone {
    /// Coordinated Universal Time.
    pub fn utc() -> Zone {
        Zone(Inner::Utc)
    }

    /// An IANA time zone by name (`America/New_York`, `UTC`, `Etc/GMT+5`), as the bundled
    /// database spells it (names are matched case-insensitively, as the database does).
    pub fn named(iana: &str) -> Result<Zone, ExpressionError> {
        if iana.is_empty() {
            return Err(ExpressionError::TimeZone(iana.to_owned()));
        }
        let tz = jiff::tz::db()
            .get(iana)
            .map_err(|_| ExpressionError::TimeZone(iana.to_owned()))?;
        let name = tz.iana_name().unwrap_or(iana).to_owned();
        Ok(Zone(Inner::Named { name, tz }))
    }

    /// The zone's name: `UTC` for [`Zone::utc`], else the IANA name.
    pub fn name(&self) -> &str {
        match &self.0 {
            Inner::Utc => "UTC",
            Inner::Named { name, .. } => name,
        }
    }

    /// The civil time (on this zone's clock) at the instant `ms`, as milliseconds since
    /// 1970-01-01T00:00 on that clock. `None` outside the zone database's range.
    pub(crate) fn local_millis(&self, ms: i64) -> Option<i64> {
        match &self.0 {
            Inner::Utc => Some(ms),
            Inner::Named { tz, .. } => {
                let ts = Timestamp::from_millisecond(ms).ok()?;
                Some(ms + i64::from(tz.to_offset(ts).seconds()) * 1000)
            }
        }
    }

    /// The instant(s) of a civil time given as milliseconds on this zone's clock.
    pub(crate) fn resolve_millis(&self, local_ms: i64) -> Option<Resolved> {
        match &self.0 {
            Inner::Utc => Some(Resolved::One(local_ms)),
            Inner::Named { tz, .. } => {
                let utc_view = Timestamp::from_millisecond(local_ms).ok()?;
                let dt = TimeZone::UTC.to_datetime(utc_view);
                let at = |offset: jiff::tz::Offset| local_ms - i64::from(offset.seconds()) * 1000;
                Some(match tz.to_ambiguous_timestamp(dt).offset() {
                    AmbiguousOffset::Unambiguous { offset } => Resolved::One(at(offset)),
                    AmbiguousOffset::Gap { .. } => Resolved::Skipped,
                    AmbiguousOffset::Fold { before, after } => {
                        let (a, b) = (at(before), at(after));
                        Resolved::Twice(a.min(b), a.max(b))
                    }
                })
            }
        }
    }

    pub(crate) fn resolve(&self, c: Civil) -> Option<Resolved> {
        self.resolve_millis(c.to_minutes() * MINUTE_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Zone::utc().name(), "UTC");
        assert_eq!(Zone::named("America/New_York").unwrap().name(), "America/New_York");
        assert_eq!(Zone::named("europe/paris").unwrap().name(), "Europe/Paris");
        assert!(Zone::named("UTC").is_ok());
        assert!(matches!(Zone::named("Mars/Olympus"), Err(ExpressionError::TimeZone(z)) if z == "Mars/Olympus"));
        assert!(Zone::named("").is_err());
    }
}
