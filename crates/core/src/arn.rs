//! Amazon Resource Names: `arn:partition:service:region:account:resource`.

use std::fmt;
use std::str::FromStr;

/// A parsed ARN. The resource part is kept whole (`my-queue`, `function:f:1`, `bucket/key`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ARN: {0}")]
pub struct ArnError(pub String);

impl Arn {
    pub fn new(service: &str, region: &str, account: &str, resource: &str) -> Self {
        Self {
            partition: "aws".to_owned(),
            service: service.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            resource: resource.to_owned(),
        }
    }
}

impl FromStr for Arn {
    type Err = ArnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(ArnError(s.to_owned()));
        };
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return Err(ArnError(s.to_owned()));
        }
        Ok(Self {
            partition: partition.to_owned(),
            service: service.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            resource: resource.to_owned(),
        })
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "arn:aws:sqs:us-east-1:000000000000:uploads",
            "arn:aws:s3:::photos",
            "arn:aws:lambda:eu-west-1:123456789012:function:thumbs:1",
        ] {
            assert_eq!(s.parse::<Arn>().unwrap().to_string(), s);
        }
        assert_eq!("arn:aws:s3:::photos".parse::<Arn>().unwrap().resource, "photos");
    }

    #[test]
    fn rejects_malformed() {
        for s in ["", "arn:aws:sqs", "aws:sqs:r:a:q", "arn::sqs:r:a:q", "arn:aws:sqs:r:a:"] {
            assert!(s.parse::<Arn>().is_err(), "{s}");
        }
    }
}
