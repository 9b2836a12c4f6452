//! Roles: CreateRole, GetRole, ListRoles, UpdateAssumeRolePolicy, DeleteRole, the inline
//! policies (Put/Get/List/DeleteRolePolicy) and tags (TagRole, UntagRole, ListRoleTags).

use lb_core::AwsError;

use crate::model::{Page, Role};
use crate::validate::{self, MAX_TAGS};
use crate::{aws_id, errors, Iam};

/// The largest trust policy a role may have (IAM quota "Role trust policy length": 2048
/// characters).
pub const MAX_TRUST_POLICY: usize = 2048;
/// The largest sum of a role's inline policies (IAM quota "Role policy size": 10,240
/// characters).
pub const MAX_INLINE_TOTAL: usize = 10_240;
/// Managed policies attached to one role (IAM quota: 10 by default).
pub const MAX_ATTACHED: usize = 10;

/// CreateRole's input.
#[derive(Debug, Clone, Default)]
pub struct CreateRole {
    pub name: String,
    pub path: Option<String>,
    pub assume_role_policy: String,
    pub description: Option<String>,
    pub max_session_duration: Option<i64>,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<(String, String)>,
}

fn trust_policy(doc: &str) -> Result<(), AwsError> {
    validate::policy_document(doc, "assumeRolePolicyDocument")?;
    if doc.chars().count() > MAX_TRUST_POLICY {
        return Err(errors::quota("ACLSizePerRole", MAX_TRUST_POLICY));
    }
    Ok(())
}

fn role_name(name: &str) -> Result<(), AwsError> {
    validate::name(name, "roleName", 64)
}

fn description(d: &str) -> Result<(), AwsError> {
    validate::length(d, "description", 0, 1000)?;
    let ok = d
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}'));
    if ok {
        Ok(())
    } else {
        Err(errors::validation(format!(
            "1 validation error detected: Value '{d}' at 'description' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*"
        )))
    }
}

impl Iam {
    pub fn create_role(&self, account: &str, input: CreateRole) -> Result<Role, AwsError> {
        role_name(&input.name)?;
        let path = input.path.unwrap_or_else(|| "/".to_owned());
        validate::role_path(&path, "path")?;
        trust_policy(&input.assume_role_policy)?;
        if let Some(d) = &input.description {
            description(d)?;
        }
        let max_session_duration = input.max_session_duration.unwrap_or(3600);
        validate::range(max_session_duration, "maxSessionDuration", 3600, 43_200)?;
        if let Some(b) = &input.permissions_boundary {
            validate::arn(b, "permissionsBoundary")?;
        }
        validate::tags(&input.tags)?;
        if input.tags.len() > MAX_TAGS {
            return Err(errors::limit_exceeded(format!(
                "The number of tags has reached the maximum limit of {MAX_TAGS}."
            )));
        }
        let now = self.now();
        let max_roles = self.config.max_roles;
        self.with_account(account, |a| {
            let key = input.name.to_ascii_lowercase();
            if a.roles.contains_key(&key) {
                return Err(errors::entity_exists(format!(
                    "Role with name {} already exists.",
                    input.name
                )));
            }
            if a.roles.len() >= max_roles {
                return Err(errors::quota("RolesPerAccount", max_roles));
            }
            let role = Role {
                arn: format!("arn:aws:iam::{account}:role{path}{}", input.name),
                name: input.name,
                path,
                id: aws_id("AROA", 17),
                create_millis: now,
                assume_role_policy: input.assume_role_policy,
                description: input.description,
                max_session_duration,
                permissions_boundary: input.permissions_boundary,
                tags: input.tags,
                inline: Default::default(),
                attached: Vec::new(),
            };
            a.roles.insert(key, role.clone());
            Ok(role)
        })
    }

    /// Runs `f` on the role `name` (any case), or answers `NoSuchEntity`.
    pub(crate) fn with_role<T>(
        &self,
        account: &str,
        name: &str,
        f: impl FnOnce(&mut Role) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        role_name(name)?;
        self.with_account(account, |a| match a.roles.get_mut(&name.to_ascii_lowercase()) {
            Some(r) => f(r),
            None => Err(errors::no_such_role(name)),
        })
    }

    pub fn get_role(&self, account: &str, name: &str) -> Result<Role, AwsError> {
        self.with_role(account, name, |r| Ok(r.clone()))
    }

    /// The role whose ARN is `arn`, if it exists (AssumeRole).
    pub fn role_by_arn(&self, account: &str, arn: &str) -> Option<Role> {
        let name = arn.rsplit('/').next()?;
        self.with_account(account, |a| {
            a.roles
                .get(&name.to_ascii_lowercase())
                .filter(|r| r.arn == arn)
                .cloned()
        })
    }

    pub fn list_roles(
        &self,
        account: &str,
        path_prefix: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<Role>, AwsError> {
        if let Some(p) = path_prefix {
            validate::path_prefix(p, "pathPrefix")?;
        }
        let max = validate::max_items(max_items)?;
        let prefix = path_prefix.unwrap_or("/");
        Ok(self.with_account(account, |a| {
            Page::of(
                a.roles
                    .iter()
                    .filter(|(_, r)| r.path.starts_with(prefix))
                    .map(|(k, r)| (k.clone(), r.clone())),
                marker,
                max,
            )
        }))
    }

    pub fn update_assume_role_policy(&self, account: &str, name: &str, document: String) -> Result<(), AwsError> {
        validate::policy_document(&document, "policyDocument")?;
        if document.chars().count() > MAX_TRUST_POLICY {
            return Err(errors::quota("ACLSizePerRole", MAX_TRUST_POLICY));
        }
        self.with_role(account, name, |r| {
            r.assume_role_policy = document;
            Ok(())
        })
    }

    /// DeleteRole: AWS refuses while managed policies are attached ("must detach all policies
    /// first") or inline policies remain ("must delete policies first").
    pub fn delete_role(&self, account: &str, name: &str) -> Result<(), AwsError> {
        role_name(name)?;
        self.with_account(account, |a| {
            let key = name.to_ascii_lowercase();
            let Some(role) = a.roles.get(&key) else {
                return Err(errors::no_such_role(name));
            };
            if !role.attached.is_empty() {
                return Err(errors::delete_conflict(
                    "Cannot delete entity, must detach all policies first.",
                ));
            }
            if !role.inline.is_empty() {
                return Err(errors::delete_conflict(
                    "Cannot delete entity, must delete policies first.",
                ));
            }
            a.roles.remove(&key);
            Ok(())
        })
    }

    pub fn put_role_policy(&self, account: &str, role: &str, policy: &str, document: String) -> Result<(), AwsError> {
        validate::name(policy, "policyName", 128)?;
        validate::policy_document(&document, "policyDocument")?;
        self.with_role(account, role, |r| {
            let others: usize = r
                .inline
                .iter()
                .filter(|(n, _)| n.as_str() != policy)
                .map(|(n, d)| n.chars().count() + d.chars().count())
                .sum();
            if others + policy.chars().count() + document.chars().count() > MAX_INLINE_TOTAL {
                return Err(errors::limit_exceeded(format!(
                    "Maximum policy size of {MAX_INLINE_TOTAL} bytes exceeded for role {}",
                    r.name
                )));
            }
            r.inline.insert(policy.to_owned(), document);
            Ok(())
        })
    }

    /// GetRolePolicy: `(role name, policy name, document)`.
    pub fn get_role_policy(
        &self,
        account: &str,
        role: &str,
        policy: &str,
    ) -> Result<(String, String, String), AwsError> {
        validate::name(policy, "policyName", 128)?;
        self.with_role(account, role, |r| match r.inline.get(policy) {
            Some(d) => Ok((r.name.clone(), policy.to_owned(), d.clone())),
            None => Err(errors::no_such_role_policy(policy)),
        })
    }

    pub fn list_role_policies(
        &self,
        account: &str,
        role: &str,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<String>, AwsError> {
        let max = validate::max_items(max_items)?;
        self.with_role(account, role, |r| {
            Ok(Page::of(r.inline.keys().map(|k| (k.clone(), k.clone())), marker, max))
        })
    }

    pub fn delete_role_policy(&self, account: &str, role: &str, policy: &str) -> Result<(), AwsError> {
        validate::name(policy, "policyName", 128)?;
        self.with_role(account, role, |r| match r.inline.remove(policy) {
            Some(_) => Ok(()),
            None => Err(errors::no_such_role_policy(policy)),
        })
    }

    pub fn tag_role(&self, account: &str, role: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        validate::tags(&tags)?;
        self.with_role(account, role, |r| validate::merge_tags(&mut r.tags, tags))
    }

    pub fn untag_role(&self, account: &str, role: &str, keys: &[String]) -> Result<(), AwsError> {
        self.with_role(account, role, |r| {
            r.tags.retain(|(k, _)| !keys.iter().any(|d| d.eq_ignore_ascii_case(k)));
            Ok(())
        })
    }

    pub fn list_role_tags(
        &self,
        account: &str,
        role: &str,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<(String, String)>, AwsError> {
        let max = validate::max_items(max_items)?;
        self.with_role(account, role, |r| {
            Ok(Page::of(
                r.tags.iter().enumerate().map(|(i, t)| (format!("{i:05}"), t.clone())),
                marker,
                max,
            ))
        })
    }
}
