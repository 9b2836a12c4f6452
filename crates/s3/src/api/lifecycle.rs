//! PutBucketLifecycleConfiguration / GetBucketLifecycleConfiguration / DeleteBucketLifecycle and
//! the Intelligent-Tiering configuration operations. The configurations are validated by
//! [`crate::lifecycle`] and [`crate::tiering`] and applied by the daily task (`daily.rs`).

use s3s::dto::*;
use s3s::S3Request;

use super::{Call, Res};
use crate::error::Fault;
use crate::S3Stub;

/// GetBucketLifecycleConfiguration on a bucket without one.
fn no_lifecycle(bucket: &str) -> Fault {
    Fault::new(
        "NoSuchLifecycleConfiguration",
        404,
        "The lifecycle configuration does not exist",
    )
    .field("BucketName", bucket)
}

fn no_tiering(id: &str) -> Fault {
    Fault::new(
        "NoSuchConfiguration",
        404,
        "The specified configuration does not exist.",
    )
    .field("Id", id)
}

impl S3Stub {
    pub(super) async fn put_bucket_lifecycle_configuration(
        &self,
        _call: &Call,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> Res<PutBucketLifecycleConfigurationOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let config = crate::lifecycle::compile(
            i.lifecycle_configuration,
            i.transition_default_minimum_object_size
                .as_ref()
                .map(TransitionDefaultMinimumObjectSize::as_str),
        )?;
        let minimum = config.minimum_size.as_str();
        self.daily.set_lifecycle(&bucket.name, Some(config));
        Ok(PutBucketLifecycleConfigurationOutput {
            transition_default_minimum_object_size: Some(TransitionDefaultMinimumObjectSize::from(minimum.to_owned())),
        }
        .into())
    }

    pub(super) async fn get_bucket_lifecycle_configuration(
        &self,
        _call: &Call,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> Res<GetBucketLifecycleConfigurationOutput> {
        let bucket = self.store.bucket(&req.input.bucket)?;
        let config = self
            .daily
            .lifecycle(&bucket.name)
            .ok_or_else(|| no_lifecycle(&bucket.name))?;
        Ok(GetBucketLifecycleConfigurationOutput {
            rules: Some(config.dto.rules.clone()),
            transition_default_minimum_object_size: Some(TransitionDefaultMinimumObjectSize::from(
                config.minimum_size.as_str().to_owned(),
            )),
        }
        .into())
    }

    pub(super) async fn delete_bucket_lifecycle(
        &self,
        _call: &Call,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> Res<DeleteBucketLifecycleOutput> {
        let bucket = self.store.bucket(&req.input.bucket)?;
        self.daily.set_lifecycle(&bucket.name, None);
        Ok(super::Reply {
            output: DeleteBucketLifecycleOutput::default(),
            headers: vec![(crate::error::STATUS_HEADER, "204".to_owned())],
        })
    }

    pub(super) async fn put_bucket_intelligent_tiering_configuration(
        &self,
        _call: &Call,
        req: S3Request<PutBucketIntelligentTieringConfigurationInput>,
    ) -> Res<PutBucketIntelligentTieringConfigurationOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let config = crate::tiering::compile(&i.id, i.intelligent_tiering_configuration)?;
        let mut configs = self
            .daily
            .tiering_of(&bucket.name)
            .map(|c| (*c).clone())
            .unwrap_or_default();
        if !configs.contains_key(&i.id) && configs.len() >= crate::tiering::MAX_CONFIGS {
            return Err(Fault::new(
                "TooManyConfigurations",
                400,
                "You are attempting to create a new configuration but have already reached the 1,000-configuration limit.",
            ));
        }
        configs.insert(i.id, config);
        self.daily.set_tiering(&bucket.name, configs);
        Ok(PutBucketIntelligentTieringConfigurationOutput::default().into())
    }

    pub(super) async fn get_bucket_intelligent_tiering_configuration(
        &self,
        _call: &Call,
        req: S3Request<GetBucketIntelligentTieringConfigurationInput>,
    ) -> Res<GetBucketIntelligentTieringConfigurationOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let configs = self.daily.tiering_of(&bucket.name);
        let config = configs
            .as_ref()
            .and_then(|c| c.get(&i.id))
            .ok_or_else(|| no_tiering(&i.id))?;
        Ok(GetBucketIntelligentTieringConfigurationOutput {
            intelligent_tiering_configuration: Some(config.dto.clone()),
        }
        .into())
    }

    pub(super) async fn delete_bucket_intelligent_tiering_configuration(
        &self,
        _call: &Call,
        req: S3Request<DeleteBucketIntelligentTieringConfigurationInput>,
    ) -> Res<DeleteBucketIntelligentTieringConfigurationOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let mut configs = self
            .daily
            .tiering_of(&bucket.name)
            .map(|c| (*c).clone())
            .unwrap_or_default();
        if configs.remove(&i.id).is_none() {
            return Err(no_tiering(&i.id));
        }
        self.daily.set_tiering(&bucket.name, configs);
        Ok(super::Reply {
            output: DeleteBucketIntelligentTieringConfigurationOutput::default(),
            headers: vec![(crate::error::STATUS_HEADER, "204".to_owned())],
        })
    }

    pub(super) async fn list_bucket_intelligent_tiering_configurations(
        &self,
        _call: &Call,
        req: S3Request<ListBucketIntelligentTieringConfigurationsInput>,
    ) -> Res<ListBucketIntelligentTieringConfigurationsOutput> {
        let bucket = self.store.bucket(&req.input.bucket)?;
        let list: Vec<IntelligentTieringConfiguration> = self
            .daily
            .tiering_of(&bucket.name)
            .map(|c| c.values().map(|c| c.dto.clone()).collect())
            .unwrap_or_default();
        Ok(ListBucketIntelligentTieringConfigurationsOutput {
            continuation_token: req.input.continuation_token,
            intelligent_tiering_configuration_list: (!list.is_empty()).then_some(list),
            is_truncated: Some(false),
            next_continuation_token: None,
        }
        .into())
    }
}
