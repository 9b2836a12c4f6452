//! Object keys as Firehose names them (Developer Guide, "Configure Amazon S3 object name format"
//! and "Understand custom prefixes for Amazon S3 objects"):
//!
//! `<evaluated prefix><stream name>-<stream version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><file extension>`
//!
//! - The default prefix is `yyyy/MM/dd/HH/`, in UTC, of the approximate arrival time of the
//!   oldest record in the object; a custom prefix without expressions gets that time path
//!   appended (the classic layout `myprefix/2026/03/01/12/`).
//! - Expressions: `!{timestamp:<Java DateTimeFormatter pattern>}` (every instance evaluates to the
//!   same instant: the oldest record's arrival), `!{firehose:random-string}` (11 random
//!   lower-case letters and digits), and, in ErrorOutputPrefix only,
//!   `!{firehose:error-output-type}` (`processing-failed` here).
//! - Failed records without an ErrorOutputPrefix go under
//!   `<prefix without expressions>processing-failed/yyyy/MM/dd/HH/`.
//! - The suffix's time is the same instant, formatted `yyyy-MM-dd-HH-mm-ss`.
//!
//! Patterns support the letters `y`/`u` (year), `M`, `d`, `H`, `m`, `s` and quoted literals; a
//! pattern with any other letter is refused at configuration time. Time zones other than UTC
//! (`CustomTimeZone`) are refused too.

use lb_core::AwsError;

use crate::errors::invalid;

#[derive(Debug, Clone, PartialEq, Eq)]
enum TimePart {
    Lit(String),
    /// A field and its minimum width.
    Year(usize),
    Month(usize),
    Day(usize),
    Hour(usize),
    Minute(usize),
    Second(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Time(Vec<TimePart>),
    Random,
    ErrorType,
}

/// A parsed Prefix or ErrorOutputPrefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

fn time_pattern(p: &str) -> Result<Vec<TimePart>, String> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // '' is a quote; 'text' is literal text.
            if chars.get(i + 1) == Some(&'\'') {
                lit.push('\'');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                lit.push(chars[j]);
                j += 1;
            }
            if j == chars.len() {
                return Err("unterminated quote".to_owned());
            }
            i = j + 1;
            continue;
        }
        if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            let part = match c {
                'y' | 'u' => TimePart::Year(if n == 2 { 2 } else { n }),
                'M' if n <= 2 => TimePart::Month(n),
                'd' if n <= 2 => TimePart::Day(n),
                'H' if n <= 2 => TimePart::Hour(n),
                'm' if n <= 2 => TimePart::Minute(n),
                's' if n <= 2 => TimePart::Second(n),
                _ => return Err(format!("the pattern letter '{c}' is not supported")),
            };
            if !lit.is_empty() {
                out.push(TimePart::Lit(std::mem::take(&mut lit)));
            }
            out.push(part);
            i += n;
            continue;
        }
        lit.push(c);
        i += 1;
    }
    if !lit.is_empty() {
        out.push(TimePart::Lit(lit));
    }
    Ok(out)
}

impl Template {
    /// Parses `s` (the member `member` of the request); `error_prefix` allows
    /// `!{firehose:error-output-type}`.
    pub fn parse(s: &str, error_prefix: bool, member: &str) -> Result<Template, AwsError> {
        let mut parts = Vec::new();
        let mut rest = s;
        let mut lit = String::new();
        while let Some(start) = rest.find("!{") {
            lit.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(invalid(format!("The expression in {member} is not terminated: {s}")));
            };
            let expr = &after[..end];
            let (ns, value) = expr.split_once(':').unwrap_or((expr, ""));
            let part = match (ns, value) {
                ("timestamp", p) => Part::Time(time_pattern(p).map_err(|e| {
                    invalid(format!("The timestamp expression !{{{expr}}} in {member} is not valid: {e}"))
                })?),
                ("firehose", "random-string") => Part::Random,
                ("firehose", "error-output-type") if error_prefix => Part::ErrorType,
                ("firehose", "error-output-type") => {
                    return Err(invalid(format!(
                        "The expression !{{firehose:error-output-type}} is only allowed in ErrorOutputPrefix, not in {member}"
                    )))
                }
                ("partitionKeyFromQuery" | "partitionKeyFromLambda", _) => {
                    return Err(crate::errors::unsupported(
                        "dynamic partitioning (partitionKeyFromQuery / partitionKeyFromLambda expressions)",
                    ))
                }
                _ => {
                    return Err(invalid(format!(
                        "The expression !{{{expr}}} in {member} is not valid"
                    )))
                }
            };
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(part);
            rest = &after[end + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts })
    }

    /// `yyyy/MM/dd/HH/`.
    pub fn default_time_path() -> Template {
        Template {
            parts: vec![Part::Time(time_pattern("yyyy/MM/dd/HH/").unwrap_or_default())],
        }
    }

    pub fn literal(s: &str) -> Template {
        Template {
            parts: if s.is_empty() {
                Vec::new()
            } else {
                vec![Part::Lit(s.to_owned())]
            },
        }
    }

    pub fn has_expressions(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, Part::Lit(_)))
    }

    /// This template followed by `other`.
    #[must_use]
    pub fn then(mut self, other: Template) -> Template {
        self.parts.extend(other.parts);
        self
    }

    /// The prefix for an object whose oldest record arrived at `millis` (UTC).
    pub fn eval(&self, millis: u64, error_type: &str) -> String {
        let t = utc(millis);
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Random => out.push_str(&random_string()),
                Part::ErrorType => out.push_str(error_type),
                Part::Time(parts) => {
                    for tp in parts {
                        match tp {
                            TimePart::Lit(s) => out.push_str(s),
                            TimePart::Year(2) => push_num(&mut out, i64::from(t.year()).rem_euclid(100), 2),
                            TimePart::Year(w) => push_num(&mut out, i64::from(t.year()), *w),
                            TimePart::Month(w) => push_num(&mut out, i64::from(u8::from(t.month())), *w),
                            TimePart::Day(w) => push_num(&mut out, i64::from(t.day()), *w),
                            TimePart::Hour(w) => push_num(&mut out, i64::from(t.hour()), *w),
                            TimePart::Minute(w) => push_num(&mut out, i64::from(t.minute()), *w),
                            TimePart::Second(w) => push_num(&mut out, i64::from(t.second()), *w),
                        }
                    }
                }
            }
        }
        out
    }
}

fn push_num(out: &mut String, v: i64, width: usize) {
    use std::fmt::Write as _;
    let _ = write!(out, "{v:0width$}");
}

fn utc(millis: u64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// 11 random lower-case letters and digits (the docs' example output: `ajfsdfu2348`... of the
/// same form).
pub fn random_string() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = lb_core::ids::random_u64();
    (0..11)
        .map(|_| {
            let c = ALPHABET[(r % ALPHABET.len() as u64) as usize];
            r /= ALPHABET.len() as u64;
            char::from(c)
        })
        .collect()
}

/// `<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>`.
pub fn suffix(stream: &str, version: u64, millis: u64, extension: &str) -> String {
    let t = utc(millis);
    format!(
        "{stream}-{version}-{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{}{extension}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        lb_core::ids::uuid()
    )
}

/// The templates a destination's keys are made from, resolved once by the rules above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub prefix: Template,
    pub error_prefix: Template,
}

impl Layout {
    /// Resolves `Prefix` and `ErrorOutputPrefix` (`member` names the configuration for errors).
    pub fn new(prefix: Option<&str>, error_prefix: Option<&str>, member: &str) -> Result<Layout, AwsError> {
        let p = Template::parse(prefix.unwrap_or(""), false, &format!("{member}.Prefix"))?;
        let e = match error_prefix.filter(|s| !s.is_empty()) {
            Some(s) => Some(Template::parse(s, true, &format!("{member}.ErrorOutputPrefix"))?),
            None => None,
        };
        if p.has_expressions() && e.is_none() {
            // Wording not verified against AWS.
            return Err(invalid(
                "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions",
            ));
        }
        let literal = prefix.unwrap_or("");
        let prefix = if p.has_expressions() {
            p
        } else {
            Template::literal(literal).then(Template::default_time_path())
        };
        let error_prefix = e.unwrap_or_else(|| {
            Template::literal(literal)
                .then(Template {
                    parts: vec![Part::ErrorType, Part::Lit("/".to_owned())],
                })
                .then(Template::default_time_path())
        });
        Ok(Layout { prefix, error_prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-03-01T07:08:09.123Z
    const T: u64 = 1_772_348_889_123;

    #[test]
    fn default_layout() {
        let l = Layout::new(None, None, "x").unwrap();
        assert_eq!(l.prefix.eval(T, "processing-failed"), "2026/03/01/07/");
        assert_eq!(
            l.error_prefix.eval(T, "processing-failed"),
            "processing-failed/2026/03/01/07/"
        );
        let l = Layout::new(Some("logs/"), None, "x").unwrap();
        assert_eq!(l.prefix.eval(T, ""), "logs/2026/03/01/07/");
        assert_eq!(
            l.error_prefix.eval(T, "processing-failed"),
            "logs/processing-failed/2026/03/01/07/"
        );
    }

    #[test]
    fn custom_expressions() {
        let l = Layout::new(
            Some("dt=!{timestamp:yyyy'-'MM'-'dd}/h=!{timestamp:HH}/r=!{firehose:random-string}/"),
            Some("err/!{firehose:error-output-type}/!{timestamp:yy}/"),
            "x",
        )
        .unwrap();
        let p = l.prefix.eval(T, "");
        assert!(p.starts_with("dt=2026-03-01/h=07/r="), "{p}");
        assert_eq!(p.len(), "dt=2026-03-01/h=07/r=".len() + 12);
        assert_eq!(l.error_prefix.eval(T, "processing-failed"), "err/processing-failed/26/");
        assert!(Layout::new(Some("!{timestamp:yyyy}/"), None, "x").is_err());
        assert!(Layout::new(Some("!{firehose:error-output-type}/"), Some("e/"), "x").is_err());
        assert!(Layout::new(Some("!{timestamp:yyyy-EEE}/"), Some("e/"), "x").is_err());
        assert!(Layout::new(Some("!{partitionKeyFromQuery:a}/"), Some("e/"), "x").is_err());
        assert!(Layout::new(Some("!{nope:a}/"), Some("e/"), "x").is_err());
    }

    #[test]
    fn suffix_format() {
        let s = suffix("ds", 1, T, ".gz");
        assert!(s.starts_with("ds-1-2026-03-01-07-08-09-"), "{s}");
        assert!(s.ends_with(".gz"));
        assert_eq!(s.len(), "ds-1-2026-03-01-07-08-09-".len() + 36 + 3);
    }
}
