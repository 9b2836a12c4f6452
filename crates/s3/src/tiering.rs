//! S3 Intelligent-Tiering archive configurations in plain Rust: validation of
//! PutBucketIntelligentTieringConfiguration and the archive tier an object not accessed for a
//! configuration's days moves to at a daily run (`daily.rs`).
//!
//! As the botocore model documents `Tiering.Days`: "The minimum number of days specified for
//! Archive Access tier must be at least 90 days and Deep Archive Access tier must be at least 180
//! days. The maximum can be up to 2 years (730 days)." Days count from the object's last access
//! (a GET of its data, or its creation), rounded up to the next midnight UTC like lifecycle days.
//! The automatic Frequent -> Infrequent -> Archive Instant moves (30 and 90 days) change no
//! visible state and S3 sends no event for them, so they are not modelled.

use std::collections::BTreeMap;

use s3s::dto::{IntelligentTieringConfiguration, IntelligentTieringFilter};

use crate::error::Fault;
use crate::lifecycle::{due_after, Filter};
use crate::store::ArchiveTier;

/// One configuration: what it applies to, and after how many days each tier is reached.
#[derive(Debug, Clone)]
pub struct Config {
    pub enabled: bool,
    pub filter: Filter,
    pub tierings: Vec<(ArchiveTier, u32)>,
    pub dto: IntelligentTieringConfiguration,
}

/// A bucket's configurations by id.
pub type Configs = BTreeMap<String, Config>;

/// At most this many configurations per bucket (AWS's limit).
pub const MAX_CONFIGS: usize = 1000;

fn filter_of(f: Option<&IntelligentTieringFilter>) -> Filter {
    let Some(f) = f else { return Filter::default() };
    let tag = |t: &s3s::dto::Tag| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default());
    match &f.and {
        Some(and) => Filter {
            prefix: and.prefix.clone().unwrap_or_default(),
            tags: and.tags.iter().flatten().map(tag).collect(),
            ..Filter::default()
        },
        None => Filter {
            prefix: f.prefix.clone().unwrap_or_default(),
            tags: f.tag.iter().map(tag).collect(),
            ..Filter::default()
        },
    }
}

/// Validates one configuration PUT under `id` (the query's id).
pub fn compile(id: &str, dto: IntelligentTieringConfiguration) -> Result<Config, Fault> {
    if dto.id != id {
        return Err(Fault::invalid_argument(
            "Configuration ID in the body does not match the ID in the request",
            "id",
            id,
        ));
    }
    let enabled = match dto.status.as_str() {
        "Enabled" => true,
        "Disabled" => false,
        _ => return Err(Fault::malformed_xml()),
    };
    if dto.tierings.is_empty() {
        return Err(Fault::malformed_xml());
    }
    let mut tierings = Vec::new();
    for t in &dto.tierings {
        let tier = ArchiveTier::parse(t.access_tier.as_str()).ok_or_else(Fault::malformed_xml)?;
        let min = match tier {
            ArchiveTier::ArchiveAccess => 90,
            ArchiveTier::DeepArchiveAccess => 180,
        };
        if t.days < min || t.days > 730 {
            return Err(Fault::invalid_argument(
                format!("The number of days for {} must be between {min} and 730", tier.as_str()),
                "Days",
                &t.days.to_string(),
            ));
        }
        if tierings.iter().any(|(other, _)| *other == tier) {
            return Err(Fault::malformed_xml());
        }
        tierings.push((tier, u32::try_from(t.days).unwrap_or(730)));
    }
    if let [(ArchiveTier::ArchiveAccess, a), (ArchiveTier::DeepArchiveAccess, d)]
    | [(ArchiveTier::DeepArchiveAccess, d), (ArchiveTier::ArchiveAccess, a)] = tierings.as_slice()
    {
        if d <= a {
            return Err(Fault::invalid_argument(
                "The number of days for DEEP_ARCHIVE_ACCESS must be greater than for ARCHIVE_ACCESS",
                "Days",
                &d.to_string(),
            ));
        }
    }
    Ok(Config {
        enabled,
        filter: filter_of(dto.filter.as_ref()),
        tierings,
        dto,
    })
}

/// The deepest archive tier, deeper than `current`, that an object last accessed at `since` has
/// reached by `at` under the enabled configurations it matches.
pub fn due_tier(
    configs: &Configs,
    at: u64,
    key: &str,
    tags: &[(String, String)],
    size: u64,
    since: u64,
    current: Option<ArchiveTier>,
) -> Option<ArchiveTier> {
    configs
        .values()
        .filter(|c| c.enabled && c.filter.matches(key, Some((size, tags))))
        .flat_map(|c| c.tierings.iter())
        .filter(|(tier, days)| due_after(since, *days) <= at && current.is_none_or(|c| *tier > c))
        .map(|(tier, _)| *tier)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::dto::{IntelligentTieringAccessTier, IntelligentTieringStatus, Tiering};

    fn dto(tierings: &[(&'static str, i32)]) -> IntelligentTieringConfiguration {
        IntelligentTieringConfiguration {
            filter: None,
            id: "c".into(),
            status: IntelligentTieringStatus::from_static("Enabled"),
            tierings: tierings
                .iter()
                .map(|(t, d)| Tiering {
                    access_tier: IntelligentTieringAccessTier::from_static(t),
                    days: *d,
                })
                .collect(),
        }
    }

    #[test]
    fn days_are_bounded_per_tier() {
        assert!(compile("c", dto(&[("ARCHIVE_ACCESS", 90)])).is_ok());
        assert_eq!(
            compile("c", dto(&[("ARCHIVE_ACCESS", 89)])).unwrap_err().code,
            "InvalidArgument"
        );
        assert_eq!(
            compile("c", dto(&[("DEEP_ARCHIVE_ACCESS", 179)])).unwrap_err().code,
            "InvalidArgument"
        );
        assert_eq!(
            compile("c", dto(&[("DEEP_ARCHIVE_ACCESS", 731)])).unwrap_err().code,
            "InvalidArgument"
        );
        assert!(compile("other", dto(&[("ARCHIVE_ACCESS", 90)])).is_err());
    }

    #[test]
    fn objects_move_to_the_deepest_tier_due() {
        let mut configs = Configs::new();
        configs.insert(
            "c".into(),
            compile("c", dto(&[("ARCHIVE_ACCESS", 90), ("DEEP_ARCHIVE_ACCESS", 180)])).unwrap(),
        );
        let day = crate::lifecycle::DAY;
        let since = 10 * day + 5;
        assert_eq!(due_tier(&configs, 100 * day, "k", &[], 1, since, None), None);
        assert_eq!(
            due_tier(&configs, 101 * day, "k", &[], 1, since, None),
            Some(ArchiveTier::ArchiveAccess)
        );
        assert_eq!(
            due_tier(
                &configs,
                101 * day,
                "k",
                &[],
                1,
                since,
                Some(ArchiveTier::ArchiveAccess)
            ),
            None
        );
        assert_eq!(
            due_tier(
                &configs,
                191 * day,
                "k",
                &[],
                1,
                since,
                Some(ArchiveTier::ArchiveAccess)
            ),
            Some(ArchiveTier::DeepArchiveAccess)
        );
    }
}
