//! Proleptic Gregorian calendar arithmetic on plain integers (days since 1970-01-01), so UTC
//! needs no time-zone machinery and a cron search touches no allocator.

pub(crate) const MINUTE_MS: i64 = 60_000;
pub(crate) const DAY_MINUTES: i64 = 1_440;

/// A civil (wall-clock) minute: year, month 1-12, day 1-31, hour 0-23, minute 0-59.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Civil {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
}

impl Civil {
    /// The civil minute holding `minutes` (minutes since 1970-01-01T00:00 on the same clock).
    pub fn from_minutes(minutes: i64) -> Self {
        let days = minutes.div_euclid(DAY_MINUTES);
        let rest = minutes.rem_euclid(DAY_MINUTES);
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: (rest / 60) as u32,
            minute: (rest % 60) as u32,
        }
    }

    /// Minutes since 1970-01-01T00:00 on the same clock.
    pub fn to_minutes(self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * DAY_MINUTES
            + i64::from(self.hour) * 60
            + i64::from(self.minute)
    }
}

pub(crate) fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub(crate) fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month, day)
}

/// The day of the week of a civil date, numbered as AWS's cron numbers them: 1 = Sunday ...
/// 7 = Saturday.
pub(crate) fn weekday(year: i32, month: u32, day: u32) -> u32 {
    // 1970-01-01 was a Thursday (5).
    ((days_from_civil(year, month, day) + 4).rem_euclid(7) + 1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(weekday(1970, 1, 1), 5);
        assert_eq!(weekday(2026, 3, 8), 1, "2026-03-08 is a Sunday");
        assert_eq!(weekday(2024, 2, 29), 5, "2024-02-29 is a Thursday");
    }

    #[test]
    fn leap_years() {
        assert!(is_leap(2024) && is_leap(2000) && !is_leap(1900) && !is_leap(2100) && !is_leap(2026));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2026, 4), 30);
    }

    #[test]
    fn minutes_round_trip() {
        let c = Civil {
            year: 2026,
            month: 11,
            day: 1,
            hour: 1,
            minute: 59,
        };
        assert_eq!(Civil::from_minutes(c.to_minutes()), c);
        assert_eq!(Civil::from_minutes(-1).year, 1969);
    }
}
