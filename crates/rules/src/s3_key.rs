//! S3 notification key filters: `{"Key": {"FilterRules": [{"Name": "prefix", "Value": ...},
//! {"Name": "suffix", "Value": ...}]}}`. Both rules must hold; matching is on the object key as
//! stored (not URL-encoded) and case-sensitive, as on AWS.

use std::fmt;

/// A validated key filter: at most one prefix and at most one suffix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// Why a list of filter rules was rejected. The `Display` text is AWS's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFilterError {
    /// A rule name other than prefix/suffix.
    InvalidName(String),
    /// The same rule name given twice.
    Duplicate(String),
}

impl fmt::Display for KeyFilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName(name) => write!(f, "filter rule name must be either prefix or suffix: {name}"),
            Self::Duplicate(_) => f.write_str("Cannot specify more than one prefix rule in a filter."),
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
            let slot = if name.eq_ignore_ascii_case("prefix") {
                &mut filter.prefix
            } else if name.eq_ignore_ascii_case("suffix") {
                &mut filter.suffix
            } else {
                return Err(KeyFilterError::InvalidName(name.to_owned()));
            };
            if slot.is_some() {
                let which = if name.eq_ignore_ascii_case("prefix") {
                    "prefix"
                } else {
                    "suffix"
                };
                return Err(KeyFilterError::Duplicate(which.to_owned()));
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
    fn rejects_bad_rules() {
        assert_eq!(
            KeyFilter::from_rules([("middle", "x")]),
            Err(KeyFilterError::InvalidName("middle".into()))
        );
        assert!(KeyFilter::from_rules([("prefix", "a"), ("prefix", "b")]).is_err());
    }

    #[test]
    fn overlap_follows_s3() {
        assert!(f(Some("images/"), None).overlaps(&f(Some("images/2024/"), None)));
        assert!(!f(Some("images/"), None).overlaps(&f(Some("docs/"), None)));
        assert!(!f(None, Some(".jpg")).overlaps(&f(None, Some(".png"))));
        assert!(f(None, Some(".jpg")).overlaps(&f(Some("a/"), None)));
        assert!(f(None, None).overlaps(&f(Some("x"), Some("y"))));
    }
}
