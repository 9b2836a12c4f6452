//! Listing: objects (v1 and v2 share one walk), versions and delete markers, multipart uploads.
//!
//! Keys are walked in UTF-8 byte order from the marker; with a delimiter, keys roll up into common
//! prefixes, each counted once against `max`. A page may end on a common prefix: the next page
//! starts after it, skipping every key that would roll up into it again.

use std::ops::Bound;
use std::sync::Arc;

use super::{Bucket, Upload, Version};
use crate::error::Fault;

/// The common prefix `key` rolls up into, if any.
fn rollup<'k>(key: &'k str, prefix: &str, delimiter: Option<&str>) -> Option<&'k str> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.get(prefix.len()..)?;
    let i = rest.find(d)?;
    key.get(..prefix.len() + i + d.len())
}

fn start_bound<'a>(prefix: &'a str, marker: Option<&'a str>, inclusive: bool) -> Bound<&'a str> {
    match marker {
        Some(m) if m >= prefix => {
            if inclusive {
                Bound::Included(m)
            } else {
                Bound::Excluded(m)
            }
        }
        _ => Bound::Included(prefix),
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// Start after this key (StartAfter, Marker, or the decoded continuation token).
    pub after: Option<&'a str>,
    pub max: usize,
}

#[derive(Debug, Clone)]
pub enum Entry {
    Object(Arc<Version>),
    Prefix(String),
}

impl Entry {
    pub fn name(&self) -> &str {
        match self {
            Entry::Object(v) => &v.key,
            Entry::Prefix(p) => p,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Page<E> {
    pub entries: Vec<E>,
    pub truncated: bool,
}

impl<E> Default for Page<E> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            truncated: false,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct VersionQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    pub key_marker: Option<&'a str>,
    pub version_marker: Option<&'a str>,
    pub max: usize,
}

#[derive(Debug, Clone)]
pub enum VersionEntry {
    Version { version: Arc<Version>, is_latest: bool },
    Prefix(String),
}

#[derive(Debug, Clone, Default)]
pub struct UploadQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    pub key_marker: Option<&'a str>,
    pub upload_id_marker: Option<&'a str>,
    pub max: usize,
}

#[derive(Debug, Clone)]
pub enum UploadEntry {
    /// An upload, without its parts.
    Upload(Box<Upload>),
    Prefix(String),
}

impl Bucket {
    /// ListObjects / ListObjectsV2: current versions that are not delete markers.
    pub fn list_objects(&self, q: &ListQuery<'_>) -> Result<Page<Entry>, Fault> {
        let g = self.read()?;
        let mut page = Page::default();
        if q.max == 0 {
            return Ok(page);
        }
        let range = g
            .keys
            .range::<str, _>((start_bound(q.prefix, q.after, false), Bound::Unbounded));
        for (key, versions) in range {
            if !key.starts_with(q.prefix) {
                break;
            }
            let Some(latest) = versions.last().filter(|v| !v.is_delete_marker()) else {
                continue;
            };
            let entry = match rollup(key, q.prefix, q.delimiter) {
                Some(cp) => {
                    if q.after == Some(cp) || page.entries.last().is_some_and(|e: &Entry| e.name() == cp) {
                        continue;
                    }
                    Entry::Prefix(cp.to_owned())
                }
                None => Entry::Object(Arc::clone(latest)),
            };
            if page.entries.len() == q.max {
                page.truncated = true;
                break;
            }
            page.entries.push(entry);
        }
        Ok(page)
    }

    /// ListObjectVersions: every version and delete marker, newest first within a key.
    pub fn list_versions(&self, q: &VersionQuery<'_>) -> Result<Page<VersionEntry>, Fault> {
        let g = self.read()?;
        let mut page = Page::default();
        if q.max == 0 {
            return Ok(page);
        }
        let inclusive = q.version_marker.is_some();
        let range = g
            .keys
            .range::<str, _>((start_bound(q.prefix, q.key_marker, inclusive), Bound::Unbounded));
        'keys: for (key, versions) in range {
            if !key.starts_with(q.prefix) {
                break;
            }
            if let Some(cp) = rollup(key, q.prefix, q.delimiter) {
                let last_is_cp = matches!(page.entries.last(), Some(VersionEntry::Prefix(p)) if p == cp);
                if q.key_marker == Some(cp) || last_is_cp {
                    continue;
                }
                if page.entries.len() == q.max {
                    page.truncated = true;
                    break;
                }
                page.entries.push(VersionEntry::Prefix(cp.to_owned()));
                continue;
            }
            let mut skipping = inclusive && q.key_marker == Some(key.as_str());
            for (i, v) in versions.iter().rev().enumerate() {
                if skipping {
                    if Some(v.version_id.as_ref()) == q.version_marker {
                        skipping = false;
                    }
                    continue;
                }
                if page.entries.len() == q.max {
                    page.truncated = true;
                    break 'keys;
                }
                page.entries.push(VersionEntry::Version {
                    version: Arc::clone(v),
                    is_latest: i == 0,
                });
            }
        }
        Ok(page)
    }

    /// ListMultipartUploads: in-progress uploads by key, then initiation time.
    pub fn list_uploads(&self, q: &UploadQuery<'_>) -> Result<Page<UploadEntry>, Fault> {
        let mut uploads: Vec<Upload> = {
            let g = self.read()?;
            g.uploads
                .values()
                .filter(|u| u.key.starts_with(q.prefix))
                .map(|u| Upload {
                    parts: Default::default(),
                    ..u.clone()
                })
                .collect()
        };
        uploads.sort_by(|a, b| (&a.key, a.initiated, &a.id).cmp(&(&b.key, b.initiated, &b.id)));
        let mut page = Page::default();
        if q.max == 0 {
            return Ok(page);
        }
        let mut skipping_id = q.upload_id_marker.is_some();
        for u in uploads {
            if let Some(km) = q.key_marker {
                match (u.key.as_str().cmp(km), q.upload_id_marker) {
                    (std::cmp::Ordering::Less, _) | (std::cmp::Ordering::Equal, None) => continue,
                    (std::cmp::Ordering::Equal, Some(id)) if skipping_id => {
                        if u.id == id {
                            skipping_id = false;
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            let entry = match rollup(&u.key, q.prefix, q.delimiter) {
                Some(cp) => {
                    let last_is_cp = matches!(page.entries.last(), Some(UploadEntry::Prefix(p)) if p == cp);
                    if q.key_marker == Some(cp) || last_is_cp {
                        continue;
                    }
                    UploadEntry::Prefix(cp.to_owned())
                }
                None => UploadEntry::Upload(Box::new(u)),
            };
            if page.entries.len() == q.max {
                page.truncated = true;
                break;
            }
            page.entries.push(entry);
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::multipart::NewUpload;
    use crate::store::tests::obj;
    use crate::store::{Store, Versioning, WriteCondition};

    fn bucket(keys: &[&str]) -> Arc<Bucket> {
        let s = Store::new();
        s.create_bucket("list", "us-east-1", 1).unwrap();
        let b = s.bucket("list").unwrap();
        for k in keys {
            b.put(k, obj(b"x"), 2, &WriteCondition::default()).unwrap();
        }
        b
    }

    fn names<E>(p: &Page<E>, f: impl Fn(&E) -> String) -> Vec<String> {
        p.entries.iter().map(f).collect()
    }

    #[test]
    fn lists_with_prefix_delimiter_and_pages() {
        let b = bucket(&["a/1", "a/2", "b", "c/x/1", "c/y", "d"]);
        let all = b
            .list_objects(&ListQuery {
                max: 1000,
                ..ListQuery::default()
            })
            .unwrap();
        assert_eq!(all.entries.len(), 6);
        assert!(!all.truncated);

        let q = ListQuery {
            delimiter: Some("/"),
            max: 2,
            ..ListQuery::default()
        };
        let p1 = b.list_objects(&q).unwrap();
        assert_eq!(names(&p1, |e| e.name().to_owned()), ["a/", "b"]);
        assert!(p1.truncated);
        let p2 = b
            .list_objects(&ListQuery {
                after: Some("b"),
                ..q.clone()
            })
            .unwrap();
        assert_eq!(names(&p2, |e| e.name().to_owned()), ["c/", "d"]);
        assert!(!p2.truncated);
        // Resuming after a common prefix does not repeat it.
        let p3 = b
            .list_objects(&ListQuery {
                after: Some("a/"),
                ..q.clone()
            })
            .unwrap();
        assert_eq!(names(&p3, |e| e.name().to_owned()), ["b", "c/"]);

        let c = b
            .list_objects(&ListQuery {
                prefix: "c/",
                delimiter: Some("/"),
                max: 10,
                after: None,
            })
            .unwrap();
        assert_eq!(names(&c, |e| e.name().to_owned()), ["c/x/", "c/y"]);
        let none = b
            .list_objects(&ListQuery {
                max: 0,
                ..ListQuery::default()
            })
            .unwrap();
        assert!(none.entries.is_empty() && !none.truncated);
    }

    #[test]
    fn lists_versions_newest_first_and_hides_deleted_objects() {
        let b = bucket(&["k"]);
        b.set_versioning(Versioning::Enabled).unwrap();
        let v1 = b.put("k", obj(b"1"), 3, &WriteCondition::default()).unwrap();
        let d = b.delete("k", None, 4).unwrap();
        b.put("z", obj(b"z"), 5, &WriteCondition::default()).unwrap();

        let objs = b
            .list_objects(&ListQuery {
                max: 10,
                ..ListQuery::default()
            })
            .unwrap();
        assert_eq!(names(&objs, |e| e.name().to_owned()), ["z"]);

        let q = VersionQuery {
            max: 2,
            ..VersionQuery::default()
        };
        let p1 = b.list_versions(&q).unwrap();
        let ids = |p: &Page<VersionEntry>| {
            names(p, |e| match e {
                VersionEntry::Version { version, is_latest } => {
                    format!("{}:{}:{is_latest}", version.key, version.version_id)
                }
                VersionEntry::Prefix(p) => p.clone(),
            })
        };
        let marker = d.version_id.unwrap();
        let v1 = v1.shown_version_id.unwrap();
        assert_eq!(ids(&p1), [format!("k:{marker}:true"), format!("k:{v1}:false")]);
        assert!(p1.truncated);
        let p2 = b
            .list_versions(&VersionQuery {
                key_marker: Some("k"),
                version_marker: Some(&v1),
                ..q.clone()
            })
            .unwrap();
        assert_eq!(
            ids(&p2),
            [
                "k:null:false".to_owned(),
                format!("z:{}:true", b.get("z", None).unwrap().version_id)
            ]
        );
        let p3 = b
            .list_versions(&VersionQuery {
                key_marker: Some("k"),
                ..q
            })
            .unwrap();
        assert_eq!(p3.entries.len(), 1);
    }

    #[test]
    fn lists_uploads_in_order() {
        let b = bucket(&[]);
        let mut ids = Vec::new();
        for (k, t) in [("b", 1), ("a", 2), ("a", 3), ("dir/x", 4)] {
            let u = b
                .create_upload(
                    NewUpload {
                        key: k.into(),
                        ..NewUpload::default()
                    },
                    t,
                )
                .unwrap();
            ids.push(u.id);
        }
        let q = UploadQuery {
            delimiter: Some("/"),
            max: 1000,
            ..UploadQuery::default()
        };
        let all = b.list_uploads(&q).unwrap();
        let show = |p: &Page<UploadEntry>| {
            names(p, |e| match e {
                UploadEntry::Upload(u) => format!("{}@{}", u.key, u.initiated),
                UploadEntry::Prefix(p) => p.clone(),
            })
        };
        assert_eq!(show(&all), ["a@2", "a@3", "b@1", "dir/"]);
        let after = b
            .list_uploads(&UploadQuery {
                key_marker: Some("a"),
                upload_id_marker: Some(&ids[1]),
                ..q.clone()
            })
            .unwrap();
        assert_eq!(show(&after), ["a@3", "b@1", "dir/"]);
        let after_key = b
            .list_uploads(&UploadQuery {
                key_marker: Some("a"),
                max: 1,
                ..q
            })
            .unwrap();
        assert_eq!(show(&after_key), ["b@1"]);
        assert!(after_key.truncated);
    }
}
