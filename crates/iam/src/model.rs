//! What IAM stores: roles (with their inline policies and attachments) and customer managed
//! policies. Documents are kept as the caller sent them (decoded); the wire edge URL-encodes
//! them on the way out, as AWS returns them.

use std::collections::BTreeMap;

/// A role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub path: String,
    /// `AROA` + 17 characters.
    pub id: String,
    pub arn: String,
    pub create_millis: u64,
    pub assume_role_policy: String,
    pub description: Option<String>,
    /// Seconds (3600-43200; 3600 by default).
    pub max_session_duration: i64,
    pub permissions_boundary: Option<String>,
    /// In the order they were added.
    pub tags: Vec<(String, String)>,
    /// Inline policies: name → document.
    pub inline: BTreeMap<String, String>,
    /// Attached managed policies' ARNs, in attachment order.
    pub attached: Vec<String>,
}

/// A customer managed policy (one version, `v1`: the document it was created with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub name: String,
    pub path: String,
    /// `ANPA` + 17 characters.
    pub id: String,
    pub arn: String,
    pub description: Option<String>,
    pub document: String,
    pub create_millis: u64,
    pub tags: Vec<(String, String)>,
}

/// A managed policy as `GetPolicy` / `CreatePolicy` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    pub policy: ManagedPolicy,
    pub attachment_count: usize,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The marker of the next page, when the listing is truncated.
    pub marker: Option<String>,
}

impl<T> Page<T> {
    /// Pages `items` (already in order, each with its sort key) from `marker` (the key of the
    /// first item of the page, as a previous page reported it).
    pub fn of(items: impl IntoIterator<Item = (String, T)>, marker: Option<&str>, max: usize) -> Self {
        let start = marker.and_then(decode_marker);
        let mut out = Vec::new();
        let mut next = None;
        for (key, item) in items {
            if start.as_deref().is_some_and(|s| key.as_str() < s) {
                continue;
            }
            if out.len() == max {
                next = Some(encode_marker(&key));
                break;
            }
            out.push(item);
        }
        Self {
            items: out,
            marker: next,
        }
    }
}

fn encode_marker(key: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
}

fn decode_marker(marker: &str) -> Option<String> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(marker)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}
