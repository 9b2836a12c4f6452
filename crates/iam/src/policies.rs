//! Managed policies: CreatePolicy, GetPolicy, GetPolicyVersion, DeletePolicy, their tags, and
//! their attachment to roles (Attach/Detach/ListAttachedRolePolicies).
//!
//! AWS managed policies (`arn:aws:iam::aws:policy/...`, such as `AWSLambdaBasicExecutionRole`)
//! are not catalogued here: any such ARN may be attached and detached, nothing more (GetPolicy
//! answers `NoSuchEntity` for them).

use lb_core::AwsError;

use crate::model::{ManagedPolicy, Page, PolicyView};
use crate::validate::{self, MAX_TAGS};
use crate::{aws_id, errors, Account, Iam};

/// The largest managed policy document (IAM quota "Managed policy length": 6,144 characters).
pub const MAX_POLICY_SIZE: usize = 6144;

/// The only version a policy has here.
pub const VERSION: &str = "v1";

/// CreatePolicy's input.
#[derive(Debug, Clone, Default)]
pub struct CreatePolicy {
    pub name: String,
    pub path: Option<String>,
    pub document: String,
    pub description: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// Whether `arn` names an AWS managed policy.
pub fn is_aws_managed(arn: &str) -> bool {
    arn.starts_with("arn:aws:iam::aws:policy/")
}

fn attachments(a: &Account, arn: &str) -> usize {
    a.roles.values().filter(|r| r.attached.iter().any(|p| p == arn)).count()
}

impl Iam {
    pub fn create_policy(&self, account: &str, input: CreatePolicy) -> Result<PolicyView, AwsError> {
        validate::name(&input.name, "policyName", 128)?;
        let path = input.path.unwrap_or_else(|| "/".to_owned());
        validate::policy_path(&path, "path")?;
        validate::policy_document(&input.document, "policyDocument")?;
        if let Some(d) = &input.description {
            validate::length(d, "description", 0, 1000)?;
        }
        validate::tags(&input.tags)?;
        if input.tags.len() > MAX_TAGS {
            return Err(errors::limit_exceeded(format!(
                "The number of tags has reached the maximum limit of {MAX_TAGS}."
            )));
        }
        if input.document.chars().filter(|c| !c.is_whitespace()).count() > MAX_POLICY_SIZE {
            return Err(errors::quota("PolicySize", MAX_POLICY_SIZE));
        }
        let now = self.now();
        let max = self.config.max_policies;
        self.with_account(account, |a| {
            let arn = format!("arn:aws:iam::{account}:policy{path}{}", input.name);
            if a.policies.values().any(|p| p.name.eq_ignore_ascii_case(&input.name)) {
                return Err(errors::entity_exists(format!(
                    "A policy called {} already exists. Duplicate names are not allowed.",
                    input.name
                )));
            }
            if a.policies.len() >= max {
                return Err(errors::quota("PoliciesPerAccount", max));
            }
            let policy = ManagedPolicy {
                arn: arn.clone(),
                name: input.name,
                path,
                id: aws_id("ANPA", 17),
                description: input.description,
                document: input.document,
                create_millis: now,
                tags: input.tags,
            };
            a.policies.insert(arn, policy.clone());
            Ok(PolicyView {
                policy,
                attachment_count: 0,
            })
        })
    }

    /// Runs `f` on the customer managed policy `arn`, or answers `NoSuchEntity`.
    fn with_policy<T>(
        &self,
        account: &str,
        arn: &str,
        f: impl FnOnce(&mut ManagedPolicy, usize) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        validate::arn(arn, "policyArn")?;
        self.with_account(account, |a| {
            let count = attachments(a, arn);
            match a.policies.get_mut(arn) {
                Some(p) => f(p, count),
                None => Err(errors::policy_not_found(arn)),
            }
        })
    }

    pub fn get_policy(&self, account: &str, arn: &str) -> Result<PolicyView, AwsError> {
        self.with_policy(account, arn, |p, attachment_count| {
            Ok(PolicyView {
                policy: p.clone(),
                attachment_count,
            })
        })
    }

    /// GetPolicyVersion: `(document, version id, create date)`.
    pub fn get_policy_version(&self, account: &str, arn: &str, version: &str) -> Result<(String, u64), AwsError> {
        self.with_policy(account, arn, |p, _| {
            if version == VERSION {
                Ok((p.document.clone(), p.create_millis))
            } else {
                Err(AwsError::new(
                    "NoSuchEntity",
                    404,
                    format!("Policy {arn} version {version} does not exist or is not attachable."),
                ))
            }
        })
    }

    /// DeletePolicy: AWS refuses while the policy is attached ("Cannot delete a policy attached
    /// to entities.").
    pub fn delete_policy(&self, account: &str, arn: &str) -> Result<(), AwsError> {
        validate::arn(arn, "policyArn")?;
        self.with_account(account, |a| {
            if !a.policies.contains_key(arn) {
                return Err(errors::policy_not_found(arn));
            }
            if attachments(a, arn) > 0 {
                return Err(errors::delete_conflict("Cannot delete a policy attached to entities."));
            }
            a.policies.remove(arn);
            Ok(())
        })
    }

    pub fn attach_role_policy(&self, account: &str, role: &str, arn: &str) -> Result<(), AwsError> {
        validate::arn(arn, "policyArn")?;
        validate::name(role, "roleName", 64)?;
        self.with_account(account, |a| {
            if !is_aws_managed(arn) && !a.policies.contains_key(arn) {
                return Err(errors::policy_not_attachable(arn));
            }
            let Some(r) = a.roles.get_mut(&role.to_ascii_lowercase()) else {
                return Err(errors::no_such_role(role));
            };
            if r.attached.iter().any(|p| p == arn) {
                return Ok(());
            }
            if r.attached.len() >= crate::roles::MAX_ATTACHED {
                return Err(errors::quota("PoliciesPerRole", crate::roles::MAX_ATTACHED));
            }
            r.attached.push(arn.to_owned());
            Ok(())
        })
    }

    pub fn detach_role_policy(&self, account: &str, role: &str, arn: &str) -> Result<(), AwsError> {
        validate::arn(arn, "policyArn")?;
        self.with_role(account, role, |r| {
            let before = r.attached.len();
            r.attached.retain(|p| p != arn);
            if r.attached.len() == before {
                Err(errors::policy_not_found(arn))
            } else {
                Ok(())
            }
        })
    }

    /// ListAttachedRolePolicies: `(policy name, policy ARN)` pairs.
    pub fn list_attached_role_policies(
        &self,
        account: &str,
        role: &str,
        path_prefix: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<(String, String)>, AwsError> {
        if let Some(p) = path_prefix {
            validate::policy_path(p, "pathPrefix")?;
        }
        let max = validate::max_items(max_items)?;
        self.with_role(account, role, |r| {
            let prefix = path_prefix.unwrap_or("/");
            let items = r.attached.iter().enumerate().filter_map(|(i, arn)| {
                // arn:aws:iam::<account|aws>:policy<path><name>
                let resource = arn.split_once(":policy")?.1;
                let (path, name) = resource.rsplit_once('/')?;
                (format!("{path}/").starts_with(prefix)).then(|| (format!("{i:05}"), (name.to_owned(), arn.clone())))
            });
            Ok(Page::of(items, marker, max))
        })
    }

    pub fn tag_policy(&self, account: &str, arn: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        validate::tags(&tags)?;
        self.with_policy(account, arn, |p, _| validate::merge_tags(&mut p.tags, tags))
    }

    pub fn untag_policy(&self, account: &str, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        self.with_policy(account, arn, |p, _| {
            p.tags.retain(|(k, _)| !keys.iter().any(|d| d.eq_ignore_ascii_case(k)));
            Ok(())
        })
    }

    pub fn list_policy_tags(
        &self,
        account: &str,
        arn: &str,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<(String, String)>, AwsError> {
        let max = validate::max_items(max_items)?;
        self.with_policy(account, arn, |p, _| {
            Ok(Page::of(
                p.tags.iter().enumerate().map(|(i, t)| (format!("{i:05}"), t.clone())),
                marker,
                max,
            ))
        })
    }
}
