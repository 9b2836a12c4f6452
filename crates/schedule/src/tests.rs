use super::*;
use crate::civil::days_from_civil;

/// Unix ms of a UTC time written `2026-03-08T07:00` (seconds optional).
fn utc(text: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| text[r].parse::<i64>().unwrap();
    let days = days_from_civil(n(0..4) as i32, n(5..7) as u32, n(8..10) as u32);
    let secs = if text.len() > 16 { n(17..19) } else { 0 };
    ((days * 24 + n(11..13)) * 60 + n(14..16)) * 60_000 + secs * 1000
}

/// A UTC instant written as `utc` reads it (minutes, plus `:ss` when not zero).
fn show(ms: i64) -> String {
    let c = Civil::from_minutes(ms.div_euclid(MINUTE_MS));
    let s = ms.rem_euclid(MINUTE_MS) / 1000;
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute
    );
    if s == 0 {
        base
    } else {
        format!("{base}:{s:02}")
    }
}

/// The next `n` firings of `expr` after `from` (UTC text) in `zone`, as UTC texts.
fn firings(expr: &str, from: &str, zone: &Zone, n: usize) -> Vec<String> {
    let e = parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let mut at = utc(from);
    let mut out = Vec::new();
    for _ in 0..n {
        match e.next_after(at, utc(from), zone) {
            Some(t) => {
                assert!(t > at, "{expr}: {} is not after {}", show(t), show(at));
                out.push(show(t));
                at = t;
            }
            None => break,
        }
    }
    out
}

fn utc_firings(expr: &str, from: &str, n: usize) -> Vec<String> {
    firings(expr, from, &Zone::utc(), n)
}

fn invalid(expr: &str) -> ExpressionError {
    match parse(expr) {
        Ok(e) => panic!("{expr} parsed: {e:?}"),
        Err(e) => e,
    }
}

// ---- rate ---------------------------------------------------------------------------------

#[test]
fn rate_units_agree_with_the_value() {
    for ok in [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(2 hours)",
        "rate(1 day)",
        "rate(7 days)",
    ] {
        assert!(matches!(parse(ok), Ok(Expression::Rate(_))), "{ok}");
    }
    for bad in [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(1 hours)",
        "rate(5 hour)",
        "rate(1 days)",
        "rate(2 day)",
        "rate(0 minutes)",
        "rate(-1 minutes)",
        "rate(1.5 hours)",
        "rate(5 weeks)",
        "rate(5 Minutes)",
        "rate(5)",
        "rate(minutes)",
        "rate(5 minutes extra)",
        "rate()",
        "rate(99999999999 minutes)",
    ] {
        assert!(matches!(invalid(bad), ExpressionError::Rate(_)), "{bad}");
    }
    assert_eq!(parse("rate(5 minutes)").unwrap().kind(), Kind::Rate);
}

#[test]
fn rate_fires_from_its_anchor() {
    let Expression::Rate(r) = parse("rate(5 minutes)").unwrap() else {
        panic!()
    };
    assert_eq!((r.value(), r.unit(), r.period_ms()), (5, RateUnit::Minute, 300_000));
    assert_eq!(r.to_string(), "rate(5 minutes)");
    let anchor = utc("2026-01-01T10:00");
    // A rule: created at the anchor, first firing one period later.
    assert_eq!(r.next_after(anchor, anchor).map(show).unwrap(), "2026-01-01T10:05");
    // A schedule without StartDate: its first firing is the anchor itself.
    assert_eq!(r.next_after(anchor - 1, anchor).map(show).unwrap(), "2026-01-01T10:00");
    // Long before the anchor: the anchor.
    assert_eq!(r.next_after(0, anchor), Some(anchor));
    assert_eq!(
        r.next_after(anchor + 300_000, anchor).map(show).unwrap(),
        "2026-01-01T10:10"
    );
    assert_eq!(
        r.next_after(anchor + 299_999, anchor).map(show).unwrap(),
        "2026-01-01T10:05"
    );
    // Odd anchors are kept: rates are elapsed time, not wall-clock minutes.
    let odd = utc("2026-01-01T10:00:17");
    assert_eq!(r.next_after(odd, odd).map(show).unwrap(), "2026-01-01T10:05:17");
    assert_eq!(parse("rate(1 day)").unwrap().to_string_lossy(), "rate(1 day)");
}

#[test]
fn rate_days_are_24_hours_across_daylight_saving() {
    let ny = Zone::named("America/New_York").unwrap();
    // Anchored 2026-03-07 09:00 EST (14:00Z): after the spring change it fires 10:00 EDT.
    let got = firings("rate(1 day)", "2026-03-07T14:00", &ny, 2);
    assert_eq!(got, ["2026-03-08T14:00", "2026-03-09T14:00"]);
}

// ---- cron: syntax -------------------------------------------------------------------------

#[test]
fn cron_examples_from_the_guides_parse() {
    for ok in [
        "cron(0 10 * * ? *)",
        "cron(15 12 * * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0/10 * ? * MON-FRI *)",
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(0 9 ? * 2#1 *)",
        "cron(0 12 * * ? 2026)",
        "cron(* * * * ? *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 LW * ? *)",
        "cron(0 0 15W * ? *)",
        "cron(0 0 ? * 6L *)",
        "cron(0 0 ? * FRIL *)",
        "cron(0 0 ? * L *)",
        "cron(0 0 1 JAN,jul ? 1970-2199)",
        "cron(0 0 ? * sun *)",
        "cron(0 22-2 * * ? *)",
        "cron(0 0 ? * */2 *)",
        "cron(0 0 1 */3 ? 2026/2)",
        "cron(0-30/10 * * * ? *)",
        "cron( 0  12 * * ? * )",
    ] {
        assert!(matches!(parse(ok), Ok(Expression::Cron(_))), "{ok}: {:?}", parse(ok));
    }
}

#[test]
fn invalid_cron_expressions() {
    for bad in [
        "cron(0 12 * * * *)",      // both days given
        "cron(0 12 ? * ? *)",      // both days ?
        "cron(0 12 1 * 1 *)",      // both days given
        "cron(0 12 * * ?)",        // five fields
        "cron(0 12 * * ? * *)",    // seven fields
        "cron(60 12 * * ? *)",     // minute out of range
        "cron(0 24 * * ? *)",      // hour out of range
        "cron(0 0 32 * ? *)",      // day-of-month out of range
        "cron(0 0 0 * ? *)",       // day-of-month from 1
        "cron(0 0 1 13 ? *)",      // month out of range
        "cron(0 0 1 0 ? *)",       // month from 1
        "cron(0 0 ? * 0 *)",       // day-of-week is 1-7
        "cron(0 0 ? * 8 *)",       // day-of-week is 1-7
        "cron(0 0 1 * ? 1969)",    // years 1970-2199
        "cron(0 0 1 * ? 2200)",    // years 1970-2199
        "cron(0 0 ? * 3#1,6#3 *)", // one # expression only
        "cron(0 0 ? * 3#6 *)",     // a sixth occurrence
        "cron(0 0 ? * 3#0 *)",     // occurrence from 1
        "cron(0 0 ? * 1-3#2 *)",   // # takes one day
        "cron(0 0 L-2 * ? *)",     // no offsets from L
        "cron(0 0 1,L * ? *)",     // L stands alone
        "cron(0 0 32W * ? *)",     // W's day out of range
        "cron(0 0 1-5W * ? *)",    // W takes one day
        "cron(0 0 ? * 1-5L *)",    // L takes one day
        "cron(0 0 1 * L *)",       // L with a day-of-month
        "cron(L 0 1 * ? *)",       // L only in the day fields
        "cron(0 W 1 * ? *)",       // W only in day-of-month
        "cron(? 0 1 * ? *)",       // ? only in the day fields
        "cron(0 0 ? * MON#2 ? )",  // year cannot be ?
        "cron(0/0 * * * ? *)",     // zero increment
        "cron(*/x * * * ? *)",     // not a number
        "cron(0 0 1 FOO ? *)",     // not a month
        "cron(0 0 ? * MONDAY *)",  // three-letter names only
        "cron(0 0 ? JAN-FRI * *)", // wrong names for the field
        "cron(1,,2 0 1 * ? *)",    // empty list item
        "cron(1- 0 1 * ? *)",      // open range
        "cron()",
        "cron(0 12 * * ? *",
        "Cron(0 12 * * ? *)",
        "cron 0 12 * * ? *",
    ] {
        let e = invalid(bad);
        assert!(
            matches!(e, ExpressionError::Cron(_) | ExpressionError::UnknownForm),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn unknown_forms() {
    for bad in [
        "",
        "every minute",
        "rate",
        "cron",
        "at",
        "RATE(1 minute)",
        " rate(1 minute)",
        "rate(1 minute) ",
    ] {
        assert_eq!(invalid(bad), ExpressionError::UnknownForm, "{bad:?}");
    }
    assert!(ExpressionError::UnknownForm.to_string().contains("rate(value unit)"));
}

// ---- cron: next firing, UTC ---------------------------------------------------------------

#[test]
fn every_minute_and_increments() {
    assert_eq!(
        utc_firings("cron(* * * * ? *)", "2026-01-01T00:00:30", 3),
        ["2026-01-01T00:01", "2026-01-01T00:02", "2026-01-01T00:03"]
    );
    // Strictly after: an instant on a firing minute gives the next one.
    assert_eq!(
        utc_firings("cron(* * * * ? *)", "2026-01-01T00:00", 1),
        ["2026-01-01T00:01"]
    );
    // "1/10 ... the 11th, 21st, and 31st minute"
    assert_eq!(
        utc_firings("cron(1/10 * * * ? *)", "2026-01-01T00:00", 7),
        [
            "2026-01-01T00:01",
            "2026-01-01T00:11",
            "2026-01-01T00:21",
            "2026-01-01T00:31",
            "2026-01-01T00:41",
            "2026-01-01T00:51",
            "2026-01-01T01:01"
        ]
    );
    assert_eq!(
        utc_firings("cron(0-30/10 * * * ? *)", "2026-01-01T00:00", 5),
        [
            "2026-01-01T00:10",
            "2026-01-01T00:20",
            "2026-01-01T00:30",
            "2026-01-01T01:00",
            "2026-01-01T01:10"
        ]
    );
}

#[test]
fn guide_examples_fire_when_they_say() {
    // 2026-01-01 is a Thursday.
    assert_eq!(
        utc_firings("cron(0 10 * * ? *)", "2026-01-01T10:00", 2),
        ["2026-01-02T10:00", "2026-01-03T10:00"]
    );
    assert_eq!(
        utc_firings("cron(0 18 ? * MON-FRI *)", "2026-01-01T19:00", 3),
        ["2026-01-02T18:00", "2026-01-05T18:00", "2026-01-06T18:00"]
    );
    assert_eq!(
        utc_firings("cron(0 8 1 * ? *)", "2026-01-01T09:00", 2),
        ["2026-02-01T08:00", "2026-03-01T08:00"]
    );
    assert_eq!(
        utc_firings("cron(0/5 8-17 ? * MON-FRI *)", "2026-01-02T17:54", 3),
        ["2026-01-02T17:55", "2026-01-05T08:00", "2026-01-05T08:05"]
    );
    // Every first Monday of each month.
    assert_eq!(
        utc_firings("cron(0 9 ? * 2#1 *)", "2026-01-01T00:00", 3),
        ["2026-01-05T09:00", "2026-02-02T09:00", "2026-03-02T09:00"]
    );
}

#[test]
fn day_of_week_numbering_starts_on_sunday() {
    assert_eq!(
        utc_firings("cron(0 0 ? * 1 *)", "2026-01-01T00:00", 1),
        ["2026-01-04T00:00"]
    );
    assert_eq!(
        utc_firings("cron(0 0 ? * SUN *)", "2026-01-01T00:00", 1),
        ["2026-01-04T00:00"]
    );
    assert_eq!(
        utc_firings("cron(0 0 ? * 7 *)", "2026-01-01T00:00", 1),
        ["2026-01-03T00:00"]
    );
    // L alone: the last day of the week, Saturday.
    assert_eq!(
        utc_firings("cron(0 0 ? * L *)", "2026-01-01T00:00", 1),
        ["2026-01-03T00:00"]
    );
    // A wrapping range: Friday to Monday.
    assert_eq!(
        utc_firings("cron(0 0 ? * FRI-MON *)", "2026-01-01T00:00", 5),
        [
            "2026-01-02T00:00",
            "2026-01-03T00:00",
            "2026-01-04T00:00",
            "2026-01-05T00:00",
            "2026-01-09T00:00"
        ]
    );
    assert_eq!(
        utc_firings("cron(0 22-1 * * ? *)", "2026-01-01T12:00", 4),
        [
            "2026-01-01T22:00",
            "2026-01-01T23:00",
            "2026-01-02T00:00",
            "2026-01-02T01:00"
        ]
    );
}

#[test]
fn last_day_of_month_and_leap_years() {
    assert_eq!(
        utc_firings("cron(0 12 L * ? *)", "2026-01-01T00:00", 4),
        [
            "2026-01-31T12:00",
            "2026-02-28T12:00",
            "2026-03-31T12:00",
            "2026-04-30T12:00"
        ]
    );
    assert_eq!(
        utc_firings("cron(0 12 L 2 ? *)", "2027-03-01T00:00", 3),
        ["2028-02-29T12:00", "2029-02-28T12:00", "2030-02-28T12:00"]
    );
    // February 29th: leap years only, and 2100 is not one.
    assert_eq!(
        utc_firings("cron(0 0 29 2 ? *)", "2096-03-01T00:00", 2),
        ["2104-02-29T00:00", "2108-02-29T00:00"]
    );
    // A day no month has never fires.
    assert!(utc_firings("cron(0 0 30 2 ? *)", "2026-01-01T00:00", 1).is_empty());
    assert_eq!(
        utc_firings("cron(0 0 31 * ? *)", "2026-01-31T00:00", 3),
        ["2026-03-31T00:00", "2026-05-31T00:00", "2026-07-31T00:00"]
    );
}

#[test]
fn nearest_weekday_stays_in_the_month() {
    // 2026-08-01 is a Saturday: 1W is Monday the 3rd, not Friday July 31st.
    assert_eq!(
        utc_firings("cron(0 0 1W 8 ? *)", "2026-01-01T00:00", 1),
        ["2026-08-03T00:00"]
    );
    // 2026-05-31 is a Sunday: 31W is Friday the 29th, not Monday June 1st.
    assert_eq!(
        utc_firings("cron(0 0 31W 5 ? *)", "2026-01-01T00:00", 1),
        ["2026-05-29T00:00"]
    );
    // 2026-03-15 is a Sunday: 15W is Monday the 16th; 2026-08-15 a Saturday: Friday the 14th.
    assert_eq!(
        utc_firings("cron(0 0 15W 3 ? 2026)", "2026-01-01T00:00", 1),
        ["2026-03-16T00:00"]
    );
    assert_eq!(
        utc_firings("cron(0 0 15W 8 ? 2026)", "2026-01-01T00:00", 1),
        ["2026-08-14T00:00"]
    );
    // A weekday is itself: 2026-01-15 is a Thursday.
    assert_eq!(
        utc_firings("cron(0 0 15W 1 ? 2026)", "2026-01-01T00:00", 1),
        ["2026-01-15T00:00"]
    );
    // 31W in a 30-day month does not fire that month.
    assert_eq!(
        utc_firings("cron(0 0 31W 4,5 ? 2026)", "2026-01-01T00:00", 1),
        ["2026-05-29T00:00"]
    );
    // LW: the last weekday. 2026-05-31 is a Sunday, 2026-01-31 a Saturday, 2026-03-31 a Tuesday.
    assert_eq!(
        utc_firings("cron(0 0 LW * ? 2026)", "2026-01-01T00:00", 5),
        [
            "2026-01-30T00:00",
            "2026-02-27T00:00",
            "2026-03-31T00:00",
            "2026-04-30T00:00",
            "2026-05-29T00:00"
        ]
    );
}

#[test]
fn nth_and_last_weekdays() {
    // Second Tuesday ("3#2").
    assert_eq!(
        utc_firings("cron(0 0 ? * 3#2 2026)", "2026-01-01T00:00", 2),
        ["2026-01-13T00:00", "2026-02-10T00:00"]
    );
    // A fifth Friday exists only in some months: 2026 has them in January, May, July, October.
    assert_eq!(
        utc_firings("cron(0 0 ? * 6#5 2026)", "2026-01-01T00:00", 5),
        [
            "2026-01-30T00:00",
            "2026-05-29T00:00",
            "2026-07-31T00:00",
            "2026-10-30T00:00"
        ]
    );
    // Last Friday; February 2026 ends on a Saturday.
    assert_eq!(
        utc_firings("cron(0 0 ? * 6L 2026)", "2026-01-01T00:00", 3),
        ["2026-01-30T00:00", "2026-02-27T00:00", "2026-03-27T00:00"]
    );
    assert_eq!(
        utc_firings("cron(0 0 ? * SATL 2026)", "2026-01-01T00:00", 2),
        ["2026-01-31T00:00", "2026-02-28T00:00"]
    );
}

#[test]
fn years_are_bounded() {
    assert_eq!(
        utc_firings("cron(0 0 1 1 ? 2026)", "2020-01-01T00:00", 5),
        ["2026-01-01T00:00"]
    );
    assert!(utc_firings("cron(0 0 1 1 ? 2025)", "2026-01-01T00:00", 1).is_empty());
    assert_eq!(
        utc_firings("cron(59 23 31 12 ? *)", "2199-06-01T00:00", 5),
        ["2199-12-31T23:59"]
    );
    // Before 1970 the search starts in 1970.
    assert_eq!(
        utc_firings("cron(0 0 1 1 ? *)", "1960-05-01T00:00", 1),
        ["1970-01-01T00:00"]
    );
    assert_eq!(
        utc_firings("cron(0 0 1 1 ? 2026/2)", "2026-01-01T00:00", 2),
        ["2028-01-01T00:00", "2030-01-01T00:00"]
    );
    assert_eq!(
        utc_firings("cron(0 0 1 1 ? 2199-1970)", "2026-01-01T00:00", 1),
        ["2199-01-01T00:00"]
    );
}

// ---- time zones and daylight saving -------------------------------------------------------

#[test]
fn cron_in_a_named_zone() {
    let ny = Zone::named("America/New_York").unwrap();
    // 08:00 New York: 13:00Z in winter, 12:00Z in summer.
    assert_eq!(
        firings("cron(0 8 * * ? *)", "2026-01-10T00:00", &ny, 1),
        ["2026-01-10T13:00"]
    );
    assert_eq!(
        firings("cron(0 8 * * ? *)", "2026-07-10T00:00", &ny, 1),
        ["2026-07-10T12:00"]
    );
    let kolkata = Zone::named("Asia/Kolkata").unwrap();
    assert_eq!(
        firings("cron(0 0 * * ? *)", "2026-01-01T00:00", &kolkata, 1),
        ["2026-01-01T18:30"]
    );
    // The day of the week is the zone's: Monday 00:30 in Tokyo is Sunday 15:30Z.
    let tokyo = Zone::named("Asia/Tokyo").unwrap();
    assert_eq!(
        firings("cron(30 0 ? * MON *)", "2026-01-01T00:00", &tokyo, 1),
        ["2026-01-04T15:30"]
    );
}

/// America/New_York, 2026-03-08: at 02:00 EST the clocks go to 03:00 EDT (07:00Z).
#[test]
fn spring_forward_skips_the_missing_hour() {
    let ny = Zone::named("America/New_York").unwrap();
    // Hourly: 00:00 and 01:00 EST, then 03:00 EDT; no 02:00.
    assert_eq!(
        firings("cron(0 * * * ? *)", "2026-03-08T04:30", &ny, 4),
        [
            "2026-03-08T05:00",
            "2026-03-08T06:00",
            "2026-03-08T07:00",
            "2026-03-08T08:00"
        ]
    );
    // Daily at 02:30: skipped on the 8th, 02:30 EDT after.
    assert_eq!(
        firings("cron(30 2 * * ? *)", "2026-03-06T12:00", &ny, 3),
        ["2026-03-07T07:30", "2026-03-09T06:30", "2026-03-10T06:30"]
    );
    // Daily at 03:00: 08:00Z before, 07:00Z from the 8th.
    assert_eq!(
        firings("cron(0 3 * * ? *)", "2026-03-07T00:00", &ny, 2),
        ["2026-03-07T08:00", "2026-03-08T07:00"]
    );
    // Every minute: 01:59 EST is followed by 03:00 EDT.
    assert_eq!(
        firings("cron(* * * * ? *)", "2026-03-08T06:58", &ny, 2),
        ["2026-03-08T06:59", "2026-03-08T07:00"]
    );
    // An at() in the skipped hour never fires.
    assert_eq!(parse("at(2026-03-08T02:30:00)").unwrap().next_after(0, 0, &ny), None);
}

/// America/New_York, 2026-11-01: at 02:00 EDT the clocks go back to 01:00 EST (06:00Z), so
/// 01:00-01:59 happens twice (05:00Z-05:59Z EDT, then 06:00Z-06:59Z EST).
#[test]
fn fall_back_runs_the_repeated_hour_once() {
    let ny = Zone::named("America/New_York").unwrap();
    // Hourly: 00:00 EDT, 01:00 EDT, (not 01:00 EST), 02:00 EST.
    assert_eq!(
        firings("cron(0 * * * ? *)", "2026-11-01T03:30", &ny, 3),
        ["2026-11-01T04:00", "2026-11-01T05:00", "2026-11-01T07:00"]
    );
    // Daily at 01:30: once, at its first occurrence (EDT).
    assert_eq!(
        firings("cron(30 1 * * ? *)", "2026-10-31T12:00", &ny, 3),
        ["2026-11-01T05:30", "2026-11-02T06:30", "2026-11-03T06:30"]
    );
    // Daily at 09:00: EDT before, EST after.
    assert_eq!(
        firings("cron(0 9 * * ? *)", "2026-10-31T00:00", &ny, 2),
        ["2026-10-31T13:00", "2026-11-01T14:00"]
    );
    // Every 15 minutes: the repeated quarter hours do not fire again.
    assert_eq!(
        firings("cron(0/15 * * * ? *)", "2026-11-01T05:40", &ny, 3),
        ["2026-11-01T05:45", "2026-11-01T07:00", "2026-11-01T07:15"]
    );
    // Asked from inside the second pass, the rest of the repeated hour is skipped too.
    assert_eq!(
        firings("cron(* * * * ? *)", "2026-11-01T06:30", &ny, 1),
        ["2026-11-01T07:00"]
    );
    // An at() in the repeated hour fires at its first occurrence.
    assert_eq!(
        parse("at(2026-11-01T01:30:00)")
            .unwrap()
            .next_after(0, 0, &ny)
            .map(show)
            .unwrap(),
        "2026-11-01T05:30"
    );
}

// ---- at -------------------------------------------------------------------------------------

#[test]
fn at_fires_once() {
    let e = parse("at(2026-05-01T12:30:15)").unwrap();
    assert_eq!(e.kind(), Kind::At);
    let Expression::At(at) = &e else { panic!() };
    assert_eq!(at.to_string(), "at(2026-05-01T12:30:15)");
    let t = utc("2026-05-01T12:30:15");
    assert_eq!(e.next_after(t - 1, 0, &Zone::utc()), Some(t));
    assert_eq!(e.next_after(t, 0, &Zone::utc()), None);
    let paris = Zone::named("Europe/Paris").unwrap();
    assert_eq!(e.next_after(0, 0, &paris).map(show).unwrap(), "2026-05-01T10:30:15");
    assert_eq!(at.instant(&paris).map(show).unwrap(), "2026-05-01T10:30:15");
    assert!(parse("at(2024-02-29T00:00:00)").is_ok());
    for bad in [
        "at(2026-02-29T00:00:00)",
        "at(2026-13-01T00:00:00)",
        "at(2026-00-01T00:00:00)",
        "at(2026-04-31T00:00:00)",
        "at(2026-01-01T24:00:00)",
        "at(2026-01-01T23:60:00)",
        "at(2026-01-01T23:00:60)",
        "at(2026-01-01 00:00:00)",
        "at(2026-01-01T00:00)",
        "at(2026-01-01T00:00:00Z)",
        "at(2026-1-01T00:00:00)",
        "at()",
    ] {
        assert!(matches!(invalid(bad), ExpressionError::At(_)), "{bad}");
    }
}

// ---- scale ----------------------------------------------------------------------------------

/// 10,000 schedules, each asked for its next firing a day's worth of times, so a regression to
/// minute-by-minute search shows up as a slow test (no timing is asserted).
#[test]
fn ten_thousand_schedules_stay_cheap() {
    let exprs: Vec<Expression> = (0..10_000)
        .map(|i| match i % 5 {
            0 => parse("rate(1 minute)"),
            1 => parse("cron(* * * * ? *)"),
            2 => parse("cron(0/5 8-17 ? * MON-FRI *)"),
            3 => parse("cron(0 0 ? * 6L *)"),
            _ => parse("cron(0 12 29 2 ? *)"),
        })
        .collect::<Result<_, _>>()
        .unwrap();
    let ny = Zone::named("America/New_York").unwrap();
    let start = utc("2026-01-01T00:00");
    let mut fired = 0u64;
    for (i, e) in exprs.iter().enumerate() {
        let zone = if i % 2 == 0 { Zone::utc() } else { ny.clone() };
        let mut at = start;
        for _ in 0..20 {
            match e.next_after(at, start, &zone) {
                Some(t) => {
                    at = t;
                    fired += 1;
                }
                None => break,
            }
        }
    }
    assert_eq!(fired, 200_000);
}

impl Expression {
    fn to_string_lossy(&self) -> String {
        match self {
            Expression::Rate(r) => r.to_string(),
            Expression::At(a) => a.to_string(),
            Expression::Cron(_) => "cron(...)".to_owned(),
        }
    }
}

#[test]
fn hourly_firings_on_the_change_days() {
    let ny = Zone::named("America/New_York").unwrap();
    let count = |from: &str, to: &str| {
        let e = parse("cron(0 * * * ? *)").unwrap();
        let (mut at, end, mut n) = (utc(from), utc(to), 0);
        while let Some(t) = e.next_after(at, 0, &ny).filter(|t| *t < end) {
            at = t;
            n += 1;
        }
        n
    };
    // Local midnight to midnight: EST 05:00Z, then EDT 04:00Z.
    assert_eq!(count("2026-03-08T04:59", "2026-03-09T03:59"), 23);
    // EDT 04:00Z to EST 05:00Z: a 25-hour day, one firing per wall-clock hour.
    assert_eq!(count("2026-11-01T03:59", "2026-11-02T04:59"), 24);
}
