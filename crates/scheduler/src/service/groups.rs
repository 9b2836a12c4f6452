//! Schedule groups and their tags. The `default` group exists in every account (made on first
//! use) and can be neither created nor deleted. Deleting a group deletes its schedules: AWS
//! reports the group `DELETING` until they are gone; here they are gone when DeleteScheduleGroup
//! answers, so no group is ever seen `DELETING`.

use std::collections::BTreeMap;

use base64::Engine as _;
use lb_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use super::{timestamp, Account, Group, Scheduler, State, DEFAULT_GROUP};
use crate::model::{GroupInput, ListGroupsInput, Tag};
use crate::validate::{self, conflict, not_found, validation, Violations, NAME_PATTERN};

pub(crate) fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:scheduler:{region}:{account}:schedule-group/{name}")
}

/// The account's groups, the `default` group made on first use.
pub(crate) fn account<'a>(st: &'a mut State, region: &str, account: &str, now: u64) -> &'a mut Account {
    let a = st.accounts.entry((region.to_owned(), account.to_owned())).or_default();
    a.groups.entry(DEFAULT_GROUP.to_owned()).or_insert_with(|| Group {
        arn: group_arn(region, account, DEFAULT_GROUP),
        created: now,
        modified: now,
        tags: Vec::new(),
        schedules: BTreeMap::new(),
    });
    a
}

pub(crate) fn group_not_found(name: &str) -> AwsError {
    not_found(format!("Schedule group {name} does not exist."))
}

fn group_json(name: &str, g: &Group) -> Value {
    json!({
        "Arn": g.arn,
        "Name": name,
        "State": "ACTIVE",
        "CreationDate": timestamp(g.created),
        "LastModificationDate": timestamp(g.modified),
    })
}

fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect())
}

fn set_tags(into: &mut Vec<(String, String)>, tags: &[Tag]) {
    for t in tags {
        let (Some(k), Some(v)) = (&t.key, &t.value) else {
            continue;
        };
        match into.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1.clone_from(v),
            None => into.push((k.clone(), v.clone())),
        }
    }
}

/// An opaque page token: the base64 of the last name returned.
pub(crate) fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)
}

pub(crate) fn decode_token(token: &str) -> Result<String, AwsError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| validation("The NextToken provided is not valid."))
}

/// `MaxResults` (1 to 100, 100 when absent).
pub(crate) fn max_results(v: &mut Violations, raw: Option<&str>) -> usize {
    let Some(raw) = raw else { return 100 };
    let n = serde_json::Number::from(raw.parse::<i64>().unwrap_or(0));
    v.integer(Some(&n), "maxResults", 1, 100)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(100)
}

impl Scheduler {
    pub fn create_schedule_group(&self, ctx: &RequestContext, input: GroupInput) -> Result<Value, AwsError> {
        let mut v = Violations::new();
        v.required(
            Some(&input.name),
            "name",
            1,
            64,
            Some((NAME_PATTERN, validate::is_name)),
        );
        if let Some(tags) = &input.tags {
            validate::tags(&mut v, tags, "tags");
        }
        v.optional(
            input.client_token.as_deref(),
            "clientToken",
            1,
            64,
            Some((validate::CLIENT_TOKEN_PATTERN, validate::is_client_token)),
        );
        v.finish()?;
        let fingerprint = format!("{}|{}", input.name, serde_json::to_string(&input).unwrap_or_default());
        self.idempotent(
            ctx,
            "CreateScheduleGroup",
            input.client_token.as_deref(),
            &fingerprint,
            || {
                if input.name == DEFAULT_GROUP {
                    return Err(validation(format!(
                        "This operation cannot be performed on schedule group {DEFAULT_GROUP}."
                    )));
                }
                let now = self.now();
                let mut st = self.state();
                let a = account(&mut st, &ctx.region, &ctx.account, now);
                if a.groups.contains_key(&input.name) {
                    return Err(conflict(format!("Schedule group {} already exists.", input.name)));
                }
                let mut tags = Vec::new();
                set_tags(&mut tags, input.tags.as_deref().unwrap_or_default());
                let arn = group_arn(&ctx.region, &ctx.account, &input.name);
                a.groups.insert(
                    input.name.clone(),
                    Group {
                        arn: arn.clone(),
                        created: now,
                        modified: now,
                        tags,
                        schedules: BTreeMap::new(),
                    },
                );
                Ok(json!({ "ScheduleGroupArn": arn }))
            },
        )
    }

    pub fn get_schedule_group(&self, ctx: &RequestContext, name: &str) -> Result<Value, AwsError> {
        let mut v = Violations::new();
        v.required(Some(name), "name", 1, 64, Some((NAME_PATTERN, validate::is_name)));
        v.finish()?;
        let now = self.now();
        let mut st = self.state();
        let a = account(&mut st, &ctx.region, &ctx.account, now);
        let g = a.groups.get(name).ok_or_else(|| group_not_found(name))?;
        Ok(group_json(name, g))
    }

    /// Deletes the group and its schedules.
    pub fn delete_schedule_group(
        &self,
        ctx: &RequestContext,
        name: &str,
        client_token: Option<&str>,
    ) -> Result<Value, AwsError> {
        let mut v = Violations::new();
        v.required(Some(name), "name", 1, 64, Some((NAME_PATTERN, validate::is_name)));
        v.optional(
            client_token,
            "clientToken",
            1,
            64,
            Some((validate::CLIENT_TOKEN_PATTERN, validate::is_client_token)),
        );
        v.finish()?;
        self.idempotent(ctx, "DeleteScheduleGroup", client_token, name, || {
            if name == DEFAULT_GROUP {
                return Err(validation(format!(
                    "This operation cannot be performed on schedule group {DEFAULT_GROUP}."
                )));
            }
            let now = self.now();
            let mut st = self.state();
            let a = account(&mut st, &ctx.region, &ctx.account, now);
            let g = a.groups.remove(name).ok_or_else(|| group_not_found(name))?;
            let removed = g.schedules.len();
            for entry in g.schedules.values() {
                if let Some(k) = entry.timer {
                    st.timer.remove(&k);
                }
            }
            st.schedules -= removed;
            Ok(json!({}))
        })
    }

    pub fn list_schedule_groups(&self, ctx: &RequestContext, input: &ListGroupsInput) -> Result<Value, AwsError> {
        let mut v = Violations::new();
        v.optional(
            input.name_prefix.as_deref(),
            "namePrefix",
            1,
            64,
            Some((NAME_PATTERN, validate::is_name)),
        );
        v.optional(input.next_token.as_deref(), "nextToken", 1, 2048, None);
        let max = max_results(&mut v, input.max_results.as_deref());
        v.finish()?;
        let after = input.next_token.as_deref().map(decode_token).transpose()?;
        let now = self.now();
        let mut st = self.state();
        let a = account(&mut st, &ctx.region, &ctx.account, now);
        let prefix = input.name_prefix.as_deref().unwrap_or_default();
        let mut page = Vec::new();
        let mut next = None;
        let start = after
            .as_deref()
            .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        for (name, g) in a
            .groups
            .range::<str, _>((start, std::ops::Bound::Unbounded))
            .filter(|(n, _)| n.starts_with(prefix))
        {
            if page.len() == max {
                next = page.last().map(|p: &(String, Value)| encode_token(&p.0));
                break;
            }
            page.push((name.clone(), group_json(name, g)));
        }
        let mut out = json!({ "ScheduleGroups": page.into_iter().map(|(_, g)| g).collect::<Vec<_>>() });
        if let Some(t) = next {
            out["NextToken"] = Value::String(t);
        }
        Ok(out)
    }

    /// The group a tagging request names: its ARN must be a schedule group's in this account.
    fn tagged_group<'a>(
        st: &'a mut State,
        ctx: &RequestContext,
        arn: &str,
        now: u64,
    ) -> Result<&'a mut Group, AwsError> {
        let mut v = Violations::new();
        v.required(
            Some(arn),
            "resourceArn",
            1,
            1011,
            Some((validate::TAG_RESOURCE_ARN_PATTERN, |s| {
                validate::group_arn_parts(s).is_some()
            })),
        );
        v.finish()?;
        let (region, account_id, name) = validate::group_arn_parts(arn).unwrap_or_default();
        if region != ctx.region || account_id != ctx.account {
            return Err(group_not_found(name));
        }
        let name = name.to_owned();
        account(st, &ctx.region, &ctx.account, now)
            .groups
            .get_mut(&name)
            .ok_or_else(|| group_not_found(&name))
    }

    pub fn tag_resource(&self, ctx: &RequestContext, arn: &str, tags: Option<Vec<Tag>>) -> Result<Value, AwsError> {
        let mut v = Violations::new();
        match &tags {
            None => v.null("tags"),
            Some(t) => validate::tags(&mut v, t, "tags"),
        }
        v.finish()?;
        let now = self.now();
        let mut st = self.state();
        let g = Self::tagged_group(&mut st, ctx, arn, now)?;
        set_tags(&mut g.tags, tags.as_deref().unwrap_or_default());
        Ok(json!({}))
    }

    pub fn untag_resource(&self, ctx: &RequestContext, arn: &str, keys: &[String]) -> Result<Value, AwsError> {
        let mut v = Violations::new();
        if keys.len() > 200 {
            v.push(
                &format!("{keys:?}"),
                "tagKeys",
                "Member must have length less than or equal to 200",
            );
        }
        for (i, k) in keys.iter().enumerate() {
            v.string(k, &format!("tagKeys.{}.member", i + 1), 1, 128, None);
        }
        v.finish()?;
        let now = self.now();
        let mut st = self.state();
        let g = Self::tagged_group(&mut st, ctx, arn, now)?;
        g.tags.retain(|(k, _)| !keys.contains(k));
        Ok(json!({}))
    }

    pub fn list_tags_for_resource(&self, ctx: &RequestContext, arn: &str) -> Result<Value, AwsError> {
        let now = self.now();
        let mut st = self.state();
        let g = Self::tagged_group(&mut st, ctx, arn, now)?;
        Ok(json!({ "Tags": tags_json(&g.tags) }))
    }
}
