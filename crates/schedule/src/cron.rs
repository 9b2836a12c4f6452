//! `cron(minutes hours day-of-month month day-of-week year)`: AWS's six fields, parsed once into
//! bitsets, searched field by field (never minute by minute).
//!
//! The grammar, from the EventBridge User Guide ("Cron expressions", eb-scheduled-rule-pattern)
//! and the EventBridge Scheduler User Guide ("Cron-based schedules", schedule-types):
//!
//! | field | values | wildcards |
//! | --- | --- | --- |
//! | minutes | 0-59 | `, - * /` |
//! | hours | 0-23 | `, - * /` |
//! | day-of-month | 1-31 | `, - * ? / L W` |
//! | month | 1-12 or JAN-DEC | `, - * /` |
//! | day-of-week | 1-7 or SUN-SAT (1 = Sunday) | `, - * ? L #` |
//! | year | 1970-2199 | `, - * /` |
//!
//! - "You can't specify the Day-of-month and Day-of-week fields in the same cron expression. If
//!   you specify a value or a * (asterisk) in one of the fields, you must use a ? (question mark)
//!   in the other": exactly one of the two is `?`.
//! - `a/b` is every `b`th value starting at `a` ("1/10 … the 11th, 21st, and 31st minute");
//!   `*/b` starts at the field's first value; `a-c/b` steps inside the range.
//! - `L` in day-of-month is the month's last day; `L` alone in day-of-week is "the last day of
//!   the week" (7, Saturday); `nL` is the month's last weekday `n` (`6L`: last Friday).
//! - `nW` is "the weekday closest to the nth day of the month", never leaving the month (1W on
//!   a Saturday is Monday the 3rd; the last day on a Sunday gives the Friday before); `LW` the
//!   month's last weekday.
//! - `n#k` is the `k`th weekday `n` of the month (`3#2`: second Tuesday); a month without one
//!   (`#5`) does not fire. "If you use the '#' character, you can define only one expression in
//!   the day-of-week field": `3#1,6#3` is invalid.
//!
//! Decisions where the guides are silent (Quartz-compatible, which AWS's parser derives from):
//! names are case-insensitive; a range whose start exceeds its end wraps (`FRI-MON`, `22-2`);
//! `L`, `LW`, `nW`, `nL` and `n#k` stand alone in their field; `/` is accepted in
//! day-of-week (the guide's English table omits it, some of its translations list it); `L-n`
//! offsets are not.

use crate::civil::{days_in_month, weekday, Civil};
use crate::ExpressionError;

const MIN_YEAR: i32 = 1970;
const MAX_YEAR: i32 = 2199;

/// A parsed `cron(...)` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    months: u64,
    years: [u64; 4],
    days: Days,
}

/// Which days of a month fire: the day-of-month field or the day-of-week field (the other is `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Days {
    /// Day-of-month values (bits 1-31).
    Month(u64),
    /// `L`: the month's last day.
    LastDay,
    /// `LW`: the month's last weekday (Monday-Friday).
    LastWeekday,
    /// `nW`: the weekday nearest day `n`, within the month.
    NearestWeekday(u32),
    /// Day-of-week values (bits 1-7, 1 = Sunday).
    Week(u64),
    /// `nL`: the month's last weekday `n`.
    LastOfWeek(u32),
    /// `n#k`: the `k`th weekday `n` of the month.
    Nth(u32, u32),
}

fn err(msg: impl Into<String>) -> ExpressionError {
    ExpressionError::Cron(msg.into())
}

/// One field's range and names.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: Field = Field {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Field = Field {
    name: "hours",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};
const YEAR: Field = Field {
    name: "year",
    min: 1970,
    max: 2199,
    names: &[],
};

impl Field {
    fn value(&self, text: &str) -> Result<u32, ExpressionError> {
        let v = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse::<u32>().ok()
        } else {
            self.names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(text))
                .map(|i| self.min + i as u32)
        };
        match v {
            Some(v) if (self.min..=self.max).contains(&v) => Ok(v),
            _ => Err(err(format!(
                "{} value '{text}' is not in {}-{}{}",
                self.name,
                self.min,
                self.max,
                if self.names.is_empty() {
                    String::new()
                } else {
                    format!(" or {}-{}", self.names[0], self.names[self.names.len() - 1])
                }
            ))),
        }
    }

    /// A list of `*`, `v`, `v-w`, each optionally `/step`, as a set of values (a `Vec<bool>`
    /// indexed from `min`, so the year field's 230 values need no special case).
    fn values(&self, text: &str) -> Result<Vec<bool>, ExpressionError> {
        let size = self.max - self.min + 1;
        let mut set = vec![false; size as usize];
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => {
                    let step = s
                        .parse::<u32>()
                        .ok()
                        .filter(|s| *s >= 1)
                        .ok_or_else(|| err(format!("{} increment '{s}' is not a positive number", self.name)))?;
                    (r, Some(step))
                }
                None => (item, None),
            };
            let (start, end) = if range == "*" {
                (self.min, self.max)
            } else if let Some((a, b)) = range.split_once('-') {
                (self.value(a)?, self.value(b)?)
            } else {
                let v = self.value(range)?;
                // `a/b` runs from a to the field's end.
                (v, if step.is_some() { self.max } else { v })
            };
            let step = step.unwrap_or(1);
            // A range whose start is past its end wraps around the field (`22-2`).
            let len = (end + size - start) % size;
            let mut k = 0;
            while k <= len {
                set[((start - self.min + k) % size) as usize] = true;
                k += step;
            }
        }
        Ok(set)
    }

    fn bits(&self, text: &str) -> Result<u64, ExpressionError> {
        let set = self.values(text)?;
        Ok(set
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .fold(0, |acc, (i, _)| acc | 1 << (i as u32 + self.min)))
    }
}

fn number(text: &str, field: &Field) -> Result<u32, ExpressionError> {
    field.value(text)
}

impl Cron {
    /// Parses the six fields inside `cron(...)`.
    pub(crate) fn parse(fields: &str) -> Result<Cron, ExpressionError> {
        let parts: Vec<&str> = fields.split_ascii_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = parts[..] else {
            return Err(err(format!("expected 6 fields, found {}", parts.len())));
        };
        let days = match (dom == "?", dow == "?") {
            (true, true) => return Err(err("only one of day-of-month and day-of-week may be ?")),
            (false, false) => {
                return Err(err("one of day-of-month and day-of-week must be ?"));
            }
            (false, true) => Self::day_of_month(dom)?,
            (true, false) => Self::day_of_week(dow)?,
        };
        let year_set = YEAR.values(year)?;
        let mut years = [0u64; 4];
        for (i, on) in year_set.iter().enumerate() {
            if *on {
                years[i / 64] |= 1 << (i % 64);
            }
        }
        Ok(Cron {
            minutes: MINUTES.bits(minutes)?,
            hours: HOURS.bits(hours)?,
            months: MONTH.bits(month)?,
            years,
            days,
        })
    }

    fn day_of_month(text: &str) -> Result<Days, ExpressionError> {
        let upper = text.to_ascii_uppercase();
        if upper == "L" {
            return Ok(Days::LastDay);
        }
        if upper == "LW" {
            return Ok(Days::LastWeekday);
        }
        if let Some(n) = upper.strip_suffix('W') {
            if n.contains([',', '-', '/', '*']) {
                return Err(err("W takes a single day-of-month (for example 15W)"));
            }
            return Ok(Days::NearestWeekday(number(n, &DAY_OF_MONTH)?));
        }
        Ok(Days::Month(DAY_OF_MONTH.bits(text)?))
    }

    fn day_of_week(text: &str) -> Result<Days, ExpressionError> {
        if let Some((d, k)) = text.split_once('#') {
            if text.contains([',', '-', '/', '*']) {
                return Err(err("# allows only one expression in day-of-week (for example 3#2)"));
            }
            let day = number(d, &DAY_OF_WEEK)?;
            let k = k
                .parse::<u32>()
                .ok()
                .filter(|k| (1..=5).contains(k))
                .ok_or_else(|| err(format!("the occurrence after # must be 1-5, found '{k}'")))?;
            return Ok(Days::Nth(day, k));
        }
        if text.eq_ignore_ascii_case("L") {
            // "the last day of the ... week": Saturday.
            return Ok(Days::Week(1 << 7));
        }
        let upper = text.to_ascii_uppercase();
        // `nL` (`6L`, `FRIL`): a name never ends in L, so a trailing L is the wildcard.
        if let Some(d) = upper.strip_suffix('L') {
            if d.contains([',', '-', '/', '*']) {
                return Err(err("L takes a single day-of-week (for example 6L)"));
            }
            return Ok(Days::LastOfWeek(number(d, &DAY_OF_WEEK)?));
        }
        Ok(Days::Week(DAY_OF_WEEK.bits(text)?))
    }

    /// The days of `year`-`month` that fire, as bits 1-31.
    fn day_mask(&self, year: i32, month: u32) -> u64 {
        let dim = days_in_month(year, month);
        let all = ((1u64 << (dim + 1)) - 1) & !1;
        let is_weekend = |d: u32| matches!(weekday(year, month, d), 1 | 7);
        match self.days {
            Days::Month(bits) => bits & all,
            Days::LastDay => 1 << dim,
            Days::LastWeekday => {
                let d = match weekday(year, month, dim) {
                    7 => dim - 1,
                    1 => dim - 2,
                    _ => dim,
                };
                1 << d
            }
            Days::NearestWeekday(n) => {
                if n > dim {
                    return 0;
                }
                let d = match weekday(year, month, n) {
                    // Saturday: the Friday before, or Monday the 3rd when it is the 1st.
                    7 if n == 1 => 3,
                    7 => n - 1,
                    // Sunday: the Monday after, or the Friday before when it ends the month.
                    1 if n == dim => n - 2,
                    1 => n + 1,
                    _ => n,
                };
                debug_assert!(!is_weekend(d));
                1 << d
            }
            Days::Week(bits) => {
                let first = weekday(year, month, 1);
                (1..=dim)
                    .filter(|d| bits & (1 << ((first - 1 + d - 1) % 7 + 1)) != 0)
                    .fold(0, |acc, d| acc | 1 << d)
            }
            Days::LastOfWeek(w) => {
                let last = weekday(year, month, dim);
                1 << (dim - (last + 7 - w) % 7)
            }
            Days::Nth(w, k) => {
                let first = weekday(year, month, 1);
                let d = 1 + (w + 7 - first) % 7 + 7 * (k - 1);
                if d <= dim {
                    1 << d
                } else {
                    0
                }
            }
        }
    }

    fn has_year(&self, year: i32) -> bool {
        let i = (year - MIN_YEAR) as usize;
        (MIN_YEAR..=MAX_YEAR).contains(&year) && self.years[i / 64] & (1 << (i % 64)) != 0
    }

    fn next_year(&self, from: i32) -> Option<i32> {
        (from.max(MIN_YEAR)..=MAX_YEAR).find(|y| self.has_year(*y))
    }

    /// The first civil minute at or after `start` that the expression names.
    pub(crate) fn next_civil(&self, start: Civil) -> Option<Civil> {
        let Civil {
            mut year,
            mut month,
            mut day,
            mut hour,
            mut minute,
        } = start;
        if year < MIN_YEAR {
            (year, month, day, hour, minute) = (MIN_YEAR, 1, 1, 0, 0);
        }
        loop {
            let y = self.next_year(year)?;
            if y != year {
                (year, month, day, hour, minute) = (y, 1, 1, 0, 0);
            }
            match next_bit(self.months, month) {
                None => {
                    (year, month, day, hour, minute) = (year + 1, 1, 1, 0, 0);
                    continue;
                }
                Some(m) if m != month => (month, day, hour, minute) = (m, 1, 0, 0),
                Some(_) => {}
            }
            match next_bit(self.day_mask(year, month), day) {
                None => {
                    (month, day, hour, minute) = (month + 1, 1, 0, 0);
                    continue;
                }
                Some(d) if d != day => (day, hour, minute) = (d, 0, 0),
                Some(_) => {}
            }
            match next_bit(self.hours, hour) {
                None => {
                    (day, hour, minute) = (day + 1, 0, 0);
                    continue;
                }
                Some(h) if h != hour => (hour, minute) = (h, 0),
                Some(_) => {}
            }
            match next_bit(self.minutes, minute) {
                None => {
                    (hour, minute) = (hour + 1, 0);
                    continue;
                }
                Some(m) => {
                    return Some(Civil {
                        year,
                        month,
                        day,
                        hour,
                        minute: m,
                    })
                }
            }
        }
    }
}

/// The lowest set bit of `mask` at position `from` or above.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = mask >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}
