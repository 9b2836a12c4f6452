//! Virtual-hosted-style addressing: `bucket.<domain>[:port]` for the configured base domains,
//! path-style for everything else (IP addresses, `127.0.0.1:4566`, unknown host names).
//!
//! `s3s::host::MultiDomain` is not used directly: it compares the Host header including its port
//! (so `localhost:4566` would not match `localhost`), rejects overlapping domains (`localhost` and
//! `s3.localhost`), and treats unknown hosts as CNAME buckets. This parser strips the port,
//! prefers the longest matching domain, and falls back to path-style.

use s3s::host::{S3Host, VirtualHost};
use s3s::S3Result;

#[derive(Debug, Clone)]
pub struct Domains {
    /// Lower-case base domains, longest first.
    domains: Vec<String>,
}

impl Domains {
    pub fn new(domains: &[String]) -> Self {
        let mut domains: Vec<String> = domains
            .iter()
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        domains.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        domains.dedup();
        Self { domains }
    }

    /// The bucket named by `host`, if it is `<bucket>.<one of the domains>`.
    pub fn bucket_of<'a>(&self, host: &'a str) -> Option<&'a str> {
        let name = strip_port(host);
        let name = name.strip_suffix('.').unwrap_or(name);
        for d in &self.domains {
            if name.eq_ignore_ascii_case(d) {
                return None;
            }
            let n = name.len();
            if n > d.len() + 1 && name.is_char_boundary(n - d.len() - 1) {
                let (bucket, rest) = name.split_at(n - d.len() - 1);
                if rest.as_bytes()[0] == b'.' && rest[1..].eq_ignore_ascii_case(d) {
                    return Some(bucket);
                }
            }
        }
        None
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // `[::1]:4566` -> `[::1]`; a malformed literal is returned whole.
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

impl S3Host for Domains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match self.bucket_of(host) {
            Some(bucket) => VirtualHost::new(host).with_bucket(bucket),
            None => VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_virtual_hosts() {
        let d = Domains::new(&[
            "localhost".into(),
            "s3.localhost".into(),
            "localhost.localstack.cloud".into(),
        ]);
        assert_eq!(d.bucket_of("photos.localhost:4566"), Some("photos"));
        assert_eq!(d.bucket_of("photos.localhost"), Some("photos"));
        assert_eq!(
            d.bucket_of("my.dotted.bucket.s3.localhost:4566"),
            Some("my.dotted.bucket")
        );
        assert_eq!(d.bucket_of("photos.s3.localhost"), Some("photos"));
        assert_eq!(d.bucket_of("b.localhost.localstack.cloud:4566"), Some("b"));
        assert_eq!(d.bucket_of("localhost:4566"), None);
        assert_eq!(d.bucket_of("s3.localhost:4566"), None);
        assert_eq!(d.bucket_of("127.0.0.1:4566"), None);
        assert_eq!(d.bucket_of("example.com"), None);
        assert_eq!(d.bucket_of("[::1]:4566"), None);
        assert_eq!(d.bucket_of("[::1"), None);
        assert_eq!(strip_port("[::1]:4566"), "[::1]");
        assert_eq!(d.bucket_of(".localhost"), None);
        assert_eq!(d.bucket_of("é.localhost"), Some("é"));
        let vh = d.parse_host_header("x.localhost:1").unwrap();
        assert_eq!(vh.bucket(), Some("x"));
        assert_eq!(d.parse_host_header("elsewhere").unwrap().bucket(), None);
    }
}
