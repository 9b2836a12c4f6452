//! PutObjectAcl / GetObjectAcl (`ObjectAcl:Put`) and RestoreObject on archived objects
//! (`ObjectRestore:Post`, then `ObjectRestore:Completed` and `ObjectRestore:Delete` on the clock).
//! An Intelligent-Tiering object in an archive tier is restored without `Days`: at completion it
//! is back in the Frequent Access tier, with no copy to expire (no `ObjectRestore:Delete`).
//!
//! A restore runs as one task on the platform clock: it completes `restore_millis` after it was
//! accepted (`--s3-restore-seconds`; AWS takes minutes to hours depending on the tier), and the
//! restored copy expires `Days` after completion, rounded up to the next midnight UTC, as S3
//! computes it. A RestoreObject on a restored copy moves its expiry (200, no event); the task
//! re-reads the expiry when it wakes.

use std::sync::Arc;

use s3s::dto::*;
use s3s::S3Request;

use super::{owner, Call, Res};
use crate::error::Fault;
use crate::notify::{ObjectEvent, RestoreInfo};
use crate::store::{self, Bucket, Restore};
use crate::S3Stub;

/// The canned ACLs of PutObjectAcl (`x-amz-acl`), as grants for the owner's account.
fn canned(acl: &str) -> Option<Vec<store::Grant>> {
    const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
    const AUTHENTICATED: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
    let owner = store::Grant {
        grantee: store::Grantee::CanonicalUser {
            id: super::OWNER_ID.to_owned(),
            display_name: None,
        },
        permission: "FULL_CONTROL".to_owned(),
    };
    let group = |uri: &str, permission: &str| store::Grant {
        grantee: store::Grantee::Group(uri.to_owned()),
        permission: permission.to_owned(),
    };
    Some(match acl {
        // One account owns both the bucket and the object here, so the bucket-owner ACLs add
        // nothing to the owner's FULL_CONTROL.
        "private" | "bucket-owner-read" | "bucket-owner-full-control" => vec![owner],
        "public-read" => vec![owner, group(ALL_USERS, "READ")],
        "public-read-write" => vec![owner, group(ALL_USERS, "READ"), group(ALL_USERS, "WRITE")],
        "authenticated-read" => vec![owner, group(AUTHENTICATED, "READ")],
        _ => return None,
    })
}

fn grants_of(policy: AccessControlPolicy) -> Result<Vec<store::Grant>, Fault> {
    let malformed = || {
        Fault::new(
            "MalformedACLError",
            400,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    };
    let mut out = Vec::new();
    for g in policy.grants.unwrap_or_default() {
        let (Some(grantee), Some(permission)) = (g.grantee, g.permission) else {
            return Err(malformed());
        };
        let grantee = match grantee.type_.as_str() {
            Type::CANONICAL_USER => store::Grantee::CanonicalUser {
                id: grantee.id.ok_or_else(malformed)?,
                display_name: grantee.display_name,
            },
            Type::GROUP => store::Grantee::Group(grantee.uri.ok_or_else(malformed)?),
            Type::AMAZON_CUSTOMER_BY_EMAIL => store::Grantee::Email(grantee.email_address.ok_or_else(malformed)?),
            _ => return Err(malformed()),
        };
        out.push(store::Grant {
            grantee,
            permission: permission.as_str().to_owned(),
        });
    }
    Ok(out)
}

fn dto_grant(g: &store::Grant) -> s3s::dto::Grant {
    let grantee = match &g.grantee {
        store::Grantee::CanonicalUser { id, display_name } => Grantee {
            display_name: display_name.clone(),
            email_address: None,
            id: Some(id.clone()),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        },
        store::Grantee::Group(uri) => Grantee {
            display_name: None,
            email_address: None,
            id: None,
            type_: Type::from_static(Type::GROUP),
            uri: Some(uri.clone()),
        },
        store::Grantee::Email(email) => Grantee {
            display_name: None,
            email_address: Some(email.clone()),
            id: None,
            type_: Type::from_static(Type::AMAZON_CUSTOMER_BY_EMAIL),
            uri: None,
        },
    };
    s3s::dto::Grant {
        grantee: Some(grantee),
        permission: Some(Permission::from(g.permission.clone())),
    }
}

/// The archived storage classes RestoreObject applies to.
pub(super) fn archive_class(sc: Option<&str>) -> Option<&str> {
    sc.filter(|s| matches!(*s, "GLACIER" | "DEEP_ARCHIVE"))
}

impl S3Stub {
    pub(super) async fn put_object_acl(
        &self,
        call: &Call,
        req: S3Request<PutObjectAclInput>,
    ) -> Res<PutObjectAclOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let header_grants = [
            ("x-amz-grant-full-control", i.grant_full_control.is_some()),
            ("x-amz-grant-read", i.grant_read.is_some()),
            ("x-amz-grant-read-acp", i.grant_read_acp.is_some()),
            ("x-amz-grant-write", i.grant_write.is_some()),
            ("x-amz-grant-write-acp", i.grant_write_acp.is_some()),
        ];
        if let Some((name, _)) = header_grants.iter().find(|(_, given)| *given) {
            return Err(
                Fault::not_implemented("A header you provided implies functionality that is not implemented")
                    .field("Header", *name),
            );
        }
        let grants = match (i.acl, i.access_control_policy) {
            (Some(_), Some(_)) => {
                return Err(Fault::new(
                    "UnexpectedContent",
                    400,
                    "This request does not support content",
                ))
            }
            (Some(acl), None) => canned(acl.as_str()).ok_or_else(|| {
                Fault::invalid_argument("The specified canned ACL is not valid", "x-amz-acl", acl.as_str())
            })?,
            (None, Some(policy)) => grants_of(policy)?,
            (None, None) => {
                return Err(Fault::new(
                    "MissingSecurityHeader",
                    400,
                    "Your request was missing a required header",
                )
                .field("MissingHeaderName", "x-amz-acl"))
            }
        };
        let grants = Arc::new(grants);
        let v = bucket.update(&i.key, i.version_id.as_deref(), |o| {
            o.acl = Some(grants);
            Ok(())
        })?;
        let shown = bucket.shown_version_id(&v);
        let obj = v.object.as_ref();
        self.emit(
            call,
            &bucket,
            "ObjectAcl:Put",
            &i.key,
            obj.map(store::ObjectData::size),
            obj.map(|o| o.etag.as_str()),
            shown,
            self.now(),
        );
        Ok(PutObjectAclOutput::default().into())
    }

    pub(super) async fn get_object_acl(
        &self,
        _call: &Call,
        req: S3Request<GetObjectAclInput>,
    ) -> Res<GetObjectAclOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let v = bucket.get(&i.key, i.version_id.as_deref())?;
        let obj = v.object.as_ref().ok_or_else(|| Fault::no_such_key(&i.key))?;
        let grants = match &obj.acl {
            Some(grants) => grants.iter().map(dto_grant).collect(),
            None => canned("private").unwrap_or_default().iter().map(dto_grant).collect(),
        };
        Ok(GetObjectAclOutput {
            grants: Some(grants),
            owner: Some(owner()),
            request_charged: None,
        }
        .into())
    }

    pub(super) async fn restore_object(
        &self,
        call: &Call,
        req: S3Request<RestoreObjectInput>,
    ) -> Res<RestoreObjectOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let request = i.restore_request.unwrap_or_default();
        if request.type_.is_some() || request.select_parameters.is_some() || request.output_location.is_some() {
            return Err(Fault::not_implemented(
                "A header you provided implies functionality that is not implemented",
            ));
        }
        let days = match request.days {
            Some(d) if d >= 1 => Some(u32::try_from(d).unwrap_or(u32::MAX)),
            Some(d) => {
                return Err(Fault::invalid_argument(
                    "Days must be a positive integer",
                    "Days",
                    &d.to_string(),
                ))
            }
            None => None,
        };
        let now = self.now();
        let completes_at = now + self.restore_millis;
        let mut started = false;
        let mut tiered = false;
        let mut storage_class = String::new();
        let v = bucket.update(&i.key, i.version_id.as_deref(), |o| {
            // An Intelligent-Tiering object in an archive tier is restored without Days: it
            // moves back to the Frequent Access tier (no temporary copy, nothing expires).
            if o.archive.is_some() {
                if days.is_some() {
                    return Err(Fault::invalid_argument(
                        "Days is not allowed for an object in an S3 Intelligent-Tiering archive tier",
                        "Days",
                        &request.days.unwrap_or(0).to_string(),
                    ));
                }
                if matches!(o.restore, Some(Restore::Ongoing { .. })) {
                    return Err(Fault::new(
                        "RestoreAlreadyInProgress",
                        409,
                        "Object restore is already in progress",
                    ));
                }
                o.restore = Some(Restore::Ongoing { days: 0, completes_at });
                storage_class = "INTELLIGENT_TIERING".to_owned();
                started = true;
                tiered = true;
                return Ok(());
            }
            let Some(days) = days else {
                return Err(Fault::malformed_xml());
            };
            let Some(sc) = archive_class(o.meta.storage_class.as_deref()) else {
                return Err(Fault::new(
                    "InvalidObjectState",
                    403,
                    "Restore is not allowed for the object's current storage class",
                ));
            };
            storage_class = sc.to_owned();
            match o.restore {
                Some(Restore::Ongoing { .. }) => Err(Fault::new(
                    "RestoreAlreadyInProgress",
                    409,
                    "Object restore is already in progress",
                )),
                Some(Restore::Done { .. }) => {
                    o.restore = Some(Restore::Done {
                        expires_at: store::restore_expiry(now, days),
                    });
                    Ok(())
                }
                None => {
                    o.restore = Some(Restore::Ongoing { days, completes_at });
                    started = true;
                    Ok(())
                }
            }
        })?;
        // A delete marker has no object: `update` left it alone.
        let obj = v.object.as_ref().ok_or_else(|| Fault::no_such_key(&i.key))?;
        if !started {
            return Ok(RestoreObjectOutput::default().into());
        }
        let shown = bucket.shown_version_id(&v);
        let base = restore_event(call, &bucket, &i.key, obj, shown, &storage_class);
        self.dispatch(ObjectEvent {
            event_name: "ObjectRestore:Post",
            time_millis: now,
            ..base.clone()
        });
        if tiered {
            self.spawn_tier_restore(Arc::clone(&bucket), v.version_id.to_string(), completes_at, base);
        } else {
            self.spawn_restore(
                Arc::clone(&bucket),
                v.version_id.to_string(),
                days.unwrap_or(1),
                completes_at,
                base,
            );
        }
        Ok(super::Reply {
            output: RestoreObjectOutput::default(),
            headers: vec![(crate::error::STATUS_HEADER, "202".to_owned())],
        })
    }

    /// Brings an Intelligent-Tiering object back from its archive tier at `completes_at`.
    fn spawn_tier_restore(&self, bucket: Arc<Bucket>, version_id: String, completes_at: u64, base: ObjectEvent) {
        let daily = Arc::clone(&self.daily);
        let sleep = self.clock.sleep_until(completes_at);
        tokio::spawn(async move {
            sleep.await;
            let done = bucket.update_version(&base.key, &version_id, |o| {
                if matches!(o.restore, Some(Restore::Ongoing { .. })) {
                    o.restore = None;
                    o.archive = None;
                    o.accessed = completes_at;
                }
                Ok(())
            });
            if done.is_ok() {
                daily.dispatch(ObjectEvent {
                    event_name: "ObjectRestore:Completed",
                    time_millis: completes_at,
                    ..base
                });
            }
        });
    }

    /// Completes the restore at `completes_at`, then expires the copy, on the platform clock.
    fn spawn_restore(&self, bucket: Arc<Bucket>, version_id: String, days: u32, completes_at: u64, base: ObjectEvent) {
        let clock = Arc::clone(&self.clock);
        let notifier = Arc::clone(&self.notifier);
        #[cfg(test)]
        let tap = Arc::clone(&self.tap);
        let dispatch = move |event: ObjectEvent| {
            #[cfg(test)]
            tap.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(event.clone());
            notifier.emit(event);
        };
        tokio::spawn(async move {
            clock.sleep_until(completes_at).await;
            let mut expires_at = store::restore_expiry(completes_at, days);
            let done = bucket.update_version(&base.key, &version_id, |o| {
                if matches!(o.restore, Some(Restore::Ongoing { .. })) {
                    o.restore = Some(Restore::Done { expires_at });
                }
                Ok(())
            });
            if done.is_err() {
                return; // the object is gone: nothing completes, nothing expires
            }
            dispatch(ObjectEvent {
                event_name: "ObjectRestore:Completed",
                time_millis: completes_at,
                restore: Some(RestoreInfo {
                    storage_class: base
                        .restore
                        .as_ref()
                        .map(|r| r.storage_class.clone())
                        .unwrap_or_default(),
                    expires_at: Some(expires_at),
                }),
                ..base.clone()
            });
            loop {
                clock.sleep_until(expires_at).await;
                let mut extended = None;
                let expired = bucket.update_version(&base.key, &version_id, |o| {
                    match o.restore {
                        Some(Restore::Done { expires_at: e }) if e > expires_at => extended = Some(e),
                        _ => o.restore = None,
                    }
                    Ok(())
                });
                if expired.is_err() {
                    return;
                }
                match extended {
                    Some(e) => expires_at = e,
                    None => break,
                }
            }
            dispatch(ObjectEvent {
                event_name: "ObjectRestore:Delete",
                time_millis: expires_at,
                ..base
            });
        });
    }
}

/// The event every stage of one restore shares (the RestoreObject request's context).
fn restore_event(
    call: &Call,
    bucket: &Bucket,
    key: &str,
    obj: &store::ObjectData,
    shown_version_id: Option<String>,
    storage_class: &str,
) -> ObjectEvent {
    let mut ctx = call.ctx.clone();
    ctx.region.clone_from(&bucket.region);
    ObjectEvent {
        event_name: "ObjectRestore:Post",
        bucket: bucket.name.clone(),
        key: key.to_owned(),
        size: Some(obj.size()),
        etag: Some(obj.etag.clone()),
        version_id: shown_version_id.filter(|id| id != store::NULL_VERSION),
        time_millis: 0,
        ctx,
        restore: Some(RestoreInfo {
            storage_class: storage_class.to_owned(),
            expires_at: None,
        }),
        extra: None,
    }
}
