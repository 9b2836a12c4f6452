//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
//! Put/GetBucketVersioning.

use base64::Engine as _;
use s3s::dto::*;
use s3s::S3Request;

use super::{owner, ts, Call, Res};
use crate::error::Fault;
use crate::store::{Created, Versioning};
use crate::S3Stub;

/// The regions a LocationConstraint may name (botocore's `BucketLocationConstraint`, less `EU`,
/// which is handled as eu-west-1).
const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Resolves CreateBucket's LocationConstraint against the region the request was signed for,
/// with S3's errors: an explicit `us-east-1` or an unknown region is InvalidLocationConstraint;
/// a constraint that differs from a regional endpoint's region (or none, outside us-east-1) is
/// IllegalLocationConstraintException.
pub fn resolve_region(request_region: &str, constraint: Option<&str>) -> Result<String, Fault> {
    let invalid = |lc: &str| {
        Fault::new(
            "InvalidLocationConstraint",
            400,
            "The specified location-constraint is not valid",
        )
        .field("LocationConstraint", lc)
    };
    let Some(lc) = constraint.filter(|c| !c.is_empty()) else {
        if request_region == "us-east-1" {
            return Ok("us-east-1".to_owned());
        }
        return Err(Fault::new(
            "IllegalLocationConstraintException",
            400,
            "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
        ));
    };
    let region = if lc == "EU" {
        "eu-west-1"
    } else if REGIONS.contains(&lc) {
        lc
    } else {
        return Err(invalid(lc));
    };
    if request_region != "us-east-1" && request_region != region {
        return Err(Fault::new(
            "IllegalLocationConstraintException",
            400,
            format!("The {lc} location constraint is incompatible for the region specific endpoint this request was sent to."),
        ));
    }
    Ok(region.to_owned())
}

impl S3Stub {
    pub(super) async fn list_buckets(&self, _call: &Call, req: S3Request<ListBucketsInput>) -> Res<ListBucketsOutput> {
        let i = req.input;
        let max = match i.max_buckets {
            None => usize::MAX,
            Some(n) if (1..=10_000).contains(&n) => usize::try_from(n).unwrap_or(usize::MAX),
            Some(n) => {
                return Err(Fault::invalid_argument(
                    "Argument max-buckets must be an integer between 1 and 10000.",
                    "max-buckets",
                    &n.to_string(),
                ))
            }
        };
        let after = match &i.continuation_token {
            None => None,
            Some(t) => Some(decode_token(t).ok_or_else(|| {
                Fault::invalid_argument("The continuation token provided is incorrect", "continuation-token", t)
            })?),
        };
        let prefix = i.prefix.as_deref().unwrap_or("");
        let mut buckets = Vec::new();
        let mut next = None;
        for b in self.store.buckets() {
            if !b.name.starts_with(prefix)
                || after.as_deref().is_some_and(|a| b.name.as_str() <= a)
                || i.bucket_region.as_deref().is_some_and(|r| r != b.region)
            {
                continue;
            }
            if buckets.len() == max {
                next = buckets
                    .last()
                    .map(|b: &Bucket| encode_token(b.name.as_deref().unwrap_or_default()));
                break;
            }
            buckets.push(Bucket {
                name: Some(b.name.clone()),
                creation_date: Some(ts(b.created_millis)),
                bucket_region: Some(b.region.clone()),
            });
        }
        Ok(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner()),
            continuation_token: next,
            prefix: i.prefix,
        }
        .into())
    }

    pub(super) async fn create_bucket(
        &self,
        call: &Call,
        req: S3Request<CreateBucketInput>,
    ) -> Res<CreateBucketOutput> {
        let i = req.input;
        let constraint = i
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .map(|l| l.as_str().to_owned());
        if !crate::store::valid_bucket_name(&i.bucket) {
            return Err(Fault::invalid_bucket_name(&i.bucket));
        }
        if i.object_lock_enabled_for_bucket == Some(true) {
            return Err(Fault::not_implemented("Object Lock is not implemented by localbridge"));
        }
        if i.object_ownership
            .as_ref()
            .is_some_and(|o| o.as_str() != ObjectOwnership::BUCKET_OWNER_ENFORCED)
        {
            return Err(Fault::not_implemented(
                "Object ownership other than BucketOwnerEnforced (ACLs) is not implemented by localbridge",
            ));
        }
        let acl = i.acl.as_ref().map(BucketCannedACL::as_str);
        let grants = [
            &i.grant_full_control,
            &i.grant_read,
            &i.grant_read_acp,
            &i.grant_write,
            &i.grant_write_acp,
        ];
        if acl.is_some_and(|a| a != "private") || grants.iter().any(|g| g.is_some()) {
            return Err(Fault::new(
                "InvalidBucketAclWithObjectOwnership",
                400,
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            ));
        }
        let region = resolve_region(&call.ctx.region, constraint.as_deref())?;
        let created = self.store.create_bucket(&i.bucket, &region, self.now())?;
        if created == Created::New {
            tracing::debug!(bucket = %i.bucket, %region, "bucket created");
        }
        let location = if region == "us-east-1" {
            format!("/{}", i.bucket)
        } else {
            format!("http://{}.s3.amazonaws.com/", i.bucket)
        };
        Ok(CreateBucketOutput {
            location: Some(location),
        }
        .into())
    }

    pub(super) async fn head_bucket(&self, _call: &Call, req: S3Request<HeadBucketInput>) -> Res<HeadBucketOutput> {
        let b = self.store.bucket(&req.input.bucket)?;
        Ok(HeadBucketOutput {
            bucket_region: Some(b.region.clone()),
            access_point_alias: Some(false),
            ..HeadBucketOutput::default()
        }
        .into())
    }

    pub(super) async fn delete_bucket(
        &self,
        _call: &Call,
        req: S3Request<DeleteBucketInput>,
    ) -> Res<DeleteBucketOutput> {
        let name = req.input.bucket;
        self.store.delete_bucket(&name)?;
        self.notifier.remove_bucket(&name);
        self.daily.forget(&name);
        Ok(DeleteBucketOutput::default().into())
    }

    pub(super) async fn get_bucket_location(
        &self,
        _call: &Call,
        req: S3Request<GetBucketLocationInput>,
    ) -> Res<GetBucketLocationOutput> {
        let b = self.store.bucket(&req.input.bucket)?;
        Ok(GetBucketLocationOutput {
            // us-east-1 is reported as an empty LocationConstraint.
            location_constraint: (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region.clone())),
        }
        .into())
    }

    pub(super) async fn put_bucket_versioning(
        &self,
        _call: &Call,
        req: S3Request<PutBucketVersioningInput>,
    ) -> Res<PutBucketVersioningOutput> {
        let i = req.input;
        let b = self.store.bucket(&i.bucket)?;
        let conf = i.versioning_configuration;
        if conf
            .mfa_delete
            .as_ref()
            .is_some_and(|m| m.as_str() == MFADelete::ENABLED)
        {
            return Err(Fault::not_implemented("MFA delete is not implemented by localbridge"));
        }
        let v = match conf.status.as_ref().map(BucketVersioningStatus::as_str) {
            Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
            Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
            _ => return Err(Fault::malformed_xml()),
        };
        b.set_versioning(v)?;
        Ok(PutBucketVersioningOutput::default().into())
    }

    pub(super) async fn get_bucket_versioning(
        &self,
        _call: &Call,
        req: S3Request<GetBucketVersioningInput>,
    ) -> Res<GetBucketVersioningOutput> {
        let b = self.store.bucket(&req.input.bucket)?;
        let status = match b.versioning_status() {
            Some(Versioning::Enabled) => Some(BucketVersioningStatus::ENABLED),
            Some(Versioning::Suspended) => Some(BucketVersioningStatus::SUSPENDED),
            _ => None,
        };
        Ok(GetBucketVersioningOutput {
            status: status.map(BucketVersioningStatus::from_static),
            mfa_delete: None,
        }
        .into())
    }
}

/// Opaque continuation tokens: base64 of the last name returned.
pub fn encode_token(name: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(name.as_bytes())
}

pub fn decode_token(token: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD.decode(token).ok()?;
    String::from_utf8(raw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_constraints_as_s3() {
        assert_eq!(resolve_region("us-east-1", None).unwrap(), "us-east-1");
        assert_eq!(resolve_region("us-east-1", Some("eu-west-1")).unwrap(), "eu-west-1");
        assert_eq!(resolve_region("eu-west-1", Some("eu-west-1")).unwrap(), "eu-west-1");
        assert_eq!(resolve_region("us-east-1", Some("EU")).unwrap(), "eu-west-1");
        assert_eq!(
            resolve_region("eu-west-1", None).unwrap_err().code,
            "IllegalLocationConstraintException"
        );
        assert_eq!(
            resolve_region("eu-west-1", Some("us-west-2")).unwrap_err().code,
            "IllegalLocationConstraintException"
        );
        assert_eq!(
            resolve_region("us-east-1", Some("us-east-1")).unwrap_err().code,
            "InvalidLocationConstraint"
        );
        assert_eq!(
            resolve_region("us-east-1", Some("mars-1")).unwrap_err().code,
            "InvalidLocationConstraint"
        );
        assert_eq!(decode_token(&encode_token("a/b c")).unwrap(), "a/b c");
        assert!(decode_token("%%%").is_none());
    }
}
