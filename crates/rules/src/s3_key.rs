//! S3 notification key filters: `{"Key": {"FilterRules": [{"Name": "prefix", "Value": ...},
//! {"Name": "suffix", "Value": ...}]}}`. Both rules must hold; matching is on the object key as
//! stored (not URL-encoded) and case-sensitive, as on AWS.
//!
//! Rule names are case-insensitive on input (`prefix`, `Prefix`); S3 stores and returns them as
//! `Prefix` and `Suffix` (see [`RuleName::canonical`]).

use std::fmt;

/// The longest filter rule value S3 accepts, in bytes of UTF-8.
pub const MAX_VALUE_BYTES: usize = 1024;

/// A validated key filter: at most one prefix and at most one suffix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// The two rule names S3 knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleName {
    Prefix,
    Suffix,
}

impl RuleName {
    /// Case-insensitive parse of a rule name (`prefix`, `Prefix`, `PREFIX`).
    pub fn parse(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("prefix") {
            Some(Self::Prefix)
        } else if name.eq_ignore_ascii_case("suffix") {
            Some(Self::Suffix)
        } else {
            None
        }
    }

    /// The spelling S3 returns from GetBucketNotificationConfiguration.
    pub fn canonical(self) -> &'static str {
        match self {
            Self::Prefix => "Prefix",
            Self::Suffix => "Suffix",
        }
    }
}

/// Why a list of filter rules was rejected. The `Display` text is AWS's message (S3 answers
/// `InvalidArgument` with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFilterError {
    /// A rule name other than prefix/suffix (the name as given). AWS also returns
    /// `ArgumentName: FilterRule.Name`, `ArgumentValue: <the name>`.
    InvalidName(String),
    /// The same rule name given twice.
    Duplicate(RuleName),
    /// A value longer than [`MAX_VALUE_BYTES`].
    ValueTooLong(RuleName),
}

impl fmt::Display for KeyFilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName(_) => f.write_str("filter rule name must be either prefix or suffix"),
            Self::Duplicate(RuleName::Prefix) => f.write_str("Cannot specify more than one prefix rule in a filter."),
            Self::Duplicate(RuleName::Suffix) => f.write_str("Cannot specify more than one suffix rule in a filter."),
            Self::ValueTooLong(_) => {
                f.write_str("Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation")
            }
        }
    }
}

impl std::error::Error for KeyFilterError {}

impl KeyFilter {
    /// Builds a filter from `(name, value)` rules. Names are case-insensitive (`Prefix` and
    /// `prefix` are both accepted by S3).
    pub fn from_rules<'a>(rules: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, KeyFilterError> {
        let mut filter = Self::default();
        for (name, value) in rules {
            let Some(rule) = RuleName::parse(name) else {
                return Err(KeyFilterError::InvalidName(name.to_owned()));
            };
            let slot = match rule {
                RuleName::Prefix => &mut filter.prefix,
                RuleName::Suffix => &mut filter.suffix,
            };
            if slot.is_some() {
                return Err(KeyFilterError::Duplicate(rule));
            }
            if value.len() > MAX_VALUE_BYTES {
                return Err(KeyFilterError::ValueTooLong(rule));
            }
            *slot = Some(value.to_owned());
        }
        Ok(filter)
    }

    pub fn matches(&self, key: &str) -> bool {
        self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }

    /// Whether some key could match both filters — S3 rejects two configurations with a common
    /// event type whose filters overlap. Two prefixes overlap when one starts with the other; two
    /// suffixes when one ends with the other; an absent rule overlaps everything.
    pub fn overlaps(&self, other: &Self) -> bool {
        let prefixes = match (&self.prefix, &other.prefix) {
            (Some(a), Some(b)) => a.starts_with(b.as_str()) || b.starts_with(a.as_str()),
            _ => true,
        };
        let suffixes = match (&self.suffix, &other.suffix) {
            (Some(a), Some(b)) => a.ends_with(b.as_str()) || b.ends_with(a.as_str()),
            _ => true,
        };
        prefixes && suffixes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(prefix: Option<&str>, suffix: Option<&str>) -> KeyFilter {
        KeyFilter {
            prefix: prefix.map(str::to_owned),
            suffix: suffix.map(str::to_owned),
        }
    }

    #[test]
    fn matches_prefix_and_suffix_together() {
        let filter = KeyFilter::from_rules([("prefix", "images/"), ("Suffix", ".jpg")]).unwrap();
        assert!(filter.matches("images/beach photo.jpg"));
        assert!(!filter.matches("images/beach.JPG"));
        assert!(!filter.matches("docs/a.jpg"));
        assert!(KeyFilter::default().matches("anything"));
    }

    #[test]
    fn rejects_bad_rules_with_aws_messages() {
        let err = KeyFilter::from_rules([("middle", "x")]).unwrap_err();
        assert_eq!(err, KeyFilterError::InvalidName("middle".into()));
        assert_eq!(err.to_string(), "filter rule name must be either prefix or suffix");

        let err = KeyFilter::from_rules([("prefix", "a"), ("Prefix", "b")]).unwrap_err();
        assert_eq!(err, KeyFilterError::Duplicate(RuleName::Prefix));
        assert_eq!(err.to_string(), "Cannot specify more than one prefix rule in a filter.");

        let err = KeyFilter::from_rules([("suffix", "a"), ("SUFFIX", "b")]).unwrap_err();
        assert_eq!(err.to_string(), "Cannot specify more than one suffix rule in a filter.");

        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        let err = KeyFilter::from_rules([("prefix", long.as_str())]).unwrap_err();
        assert_eq!(err, KeyFilterError::ValueTooLong(RuleName::Prefix));
        assert_eq!(
            err.to_string(),
            "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation"
        );
        let exact = "é".repeat(MAX_VALUE_BYTES / 2);
        assert!(KeyFilter::from_rules([("prefix", exact.as_str())]).is_ok());
    }

    #[test]
    fn rule_names_are_case_insensitive_and_canonical() {
        assert_eq!(RuleName::parse("PREFIX"), Some(RuleName::Prefix));
        assert_eq!(RuleName::parse("suffix"), Some(RuleName::Suffix));
        assert_eq!(RuleName::parse("infix"), None);
        assert_eq!(RuleName::Prefix.canonical(), "Prefix");
        assert_eq!(RuleName::Suffix.canonical(), "Suffix");
    }

    #[test]
    fn overlap_follows_s3() {
        assert!(f(Some("images/"), None).overlaps(&f(Some("images/2024/"), None)));
        assert!(!f(Some("images/"), None).overlaps(&f(Some("docs/"), None)));
        assert!(!f(None, Some(".jpg")).overlaps(&f(None, Some(".png"))));
        assert!(f(None, Some(".jpg")).overlaps(&f(Some("a/"), None)));
        assert!(f(None, None).overlaps(&f(Some("x"), Some("y"))));
        // The User Guide's examples: jpg/pg overlap; a shared prefix with distinct suffixes does not.
        assert!(f(None, Some("jpg")).overlaps(&f(None, Some("pg"))));
        assert!(!f(Some("images"), Some(".jpg")).overlaps(&f(Some("images"), Some(".png"))));
        assert!(f(Some("images"), Some("jpg")).overlaps(&f(None, Some("jpg"))));
        // An empty value constrains nothing.
        assert!(f(Some(""), None).overlaps(&f(Some("a"), None)));
    }
}
