//! Tags (TagResource / UntagResource / ListTags on a function's ARN) and reserved concurrency
//! (Put/Get/DeleteFunctionConcurrency): a function with reserved concurrency runs at most that
//! many invocations at once and answers more synchronous ones with `TooManyRequestsException`;
//! with 0 it is throttled entirely.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};

use lb_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use super::{validation, Lambda};
use crate::pool::Pool;

/// Tags a function may carry.
const MAX_TAGS: usize = 50;

impl Lambda {
    pub fn tag_resource(
        &self,
        ctx: &RequestContext,
        arn: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let (f, _) = self.lookup(ctx, arn)?;
        for (k, v) in &tags {
            if k.is_empty() || k.len() > 128 {
                return Err(validation(k, "tags.key", "Member must have length between 1 and 128"));
            }
            if v.len() > 256 {
                return Err(validation(
                    v,
                    "tags.value",
                    "Member must have length less than or equal to 256",
                ));
            }
        }
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        let mut merged = f.tags.clone();
        merged.extend(tags);
        if merged.len() > MAX_TAGS {
            return Err(super::invalid(format!(
                "Number of tags exceeds resource tag limit. Tag limit is {MAX_TAGS}."
            )));
        }
        f.tags = merged;
        Ok(())
    }

    pub fn untag_resource(&self, ctx: &RequestContext, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        let (f, _) = self.lookup(ctx, arn)?;
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        for k in keys {
            f.tags.remove(k);
        }
        Ok(())
    }

    pub fn list_tags(&self, ctx: &RequestContext, arn: &str) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, arn)?;
        let f = f.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(json!({ "Tags": f.tags }))
    }

    /// PutFunctionConcurrency: new environments obey the new limit at once.
    pub fn put_concurrency(&self, ctx: &RequestContext, name: &str, reserved: Option<i64>) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let n =
            reserved.ok_or_else(|| validation("null", "reservedConcurrentExecutions", "Member must not be null"))?;
        if n < 0 {
            return Err(validation(
                &n.to_string(),
                "reservedConcurrentExecutions",
                "Member must have value greater than or equal to 0",
            ));
        }
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        f.reserved_concurrency = Some(n as u32);
        let old = std::mem::replace(
            &mut f.pool,
            Arc::new(Pool::with_limit(self.config.max_environments, Some(n as usize))),
        );
        old.close();
        Ok(json!({ "ReservedConcurrentExecutions": n }))
    }

    pub fn get_concurrency(&self, ctx: &RequestContext, name: &str) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let f = f.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(match f.reserved_concurrency {
            Some(n) => json!({ "ReservedConcurrentExecutions": n }),
            None => json!({}),
        })
    }

    pub fn delete_concurrency(&self, ctx: &RequestContext, name: &str) -> Result<(), AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        if f.reserved_concurrency.take().is_some() {
            let old = std::mem::replace(&mut f.pool, Arc::new(Pool::new(self.config.max_environments)));
            old.close();
        }
        Ok(())
    }
}
