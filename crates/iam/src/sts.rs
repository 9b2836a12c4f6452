//! STS: GetCallerIdentity and AssumeRole.
//!
//! - `AssumeRole` issues temporary credentials for any role ARN of the right form (not
//!   enforced: the role need not exist, its trust policy is not evaluated). When the role is
//!   stored, its `RoleId` and `MaxSessionDuration` apply; otherwise a role id is made up for the
//!   session. `AssumedRoleUser` is `<RoleId>:<session>` and
//!   `arn:aws:sts::<account>:assumed-role/<role name>/<session>`, as AWS forms them.
//! - `GetCallerIdentity` answers the caller: a session's access key (one this process issued and
//!   still remembers) is the assumed role; any other key is the account's root
//!   (`arn:aws:iam::<account>:root`, `UserId` the account id), the account coming from the
//!   request context.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;

use base64::Engine as _;
use lb_core::{AwsError, RequestContext};

use crate::{aws_id, errors, lock, validate, Iam};

/// What a temporary access key stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account: String,
    /// `AROA...:session`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    pub expiration_millis: u64,
}

/// The sessions issued, by access key, with their issue order (the bound evicts the oldest).
#[derive(Debug, Default)]
pub struct Sessions {
    by_key: HashMap<String, Session>,
    order: VecDeque<String>,
}

/// Temporary credentials as AssumeRole returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration_millis: u64,
}

/// AssumeRole's input.
#[derive(Debug, Clone, Default)]
pub struct AssumeRole {
    pub role_arn: Option<String>,
    pub session_name: Option<String>,
    pub duration_seconds: Option<i64>,
    pub external_id: Option<String>,
    pub policy: Option<String>,
}

/// AssumeRole's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedRole {
    pub credentials: Credentials,
    pub assumed_role_id: String,
    pub arn: String,
}

/// GetCallerIdentity's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

fn random_text(bytes: usize) -> String {
    let mut raw = Vec::with_capacity(bytes + 8);
    while raw.len() < bytes {
        raw.extend_from_slice(&lb_core::ids::random_u64().to_le_bytes());
    }
    raw.truncate(bytes);
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// `arn:aws:iam::<12 digits>:role/<path><name>` → (account, role name).
fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let resource = resource.strip_prefix("role/")?;
    let name = resource.rsplit('/').next()?;
    let ok =
        !partition.is_empty() && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty();
    ok.then_some((account, name))
}

impl Iam {
    pub fn get_caller_identity(&self, ctx: &RequestContext) -> CallerIdentity {
        if let Some(key) = &ctx.access_key {
            if let Some(s) = lock(&self.sessions).by_key.get(key) {
                return CallerIdentity {
                    user_id: s.assumed_role_id.clone(),
                    account: s.account.clone(),
                    arn: s.arn.clone(),
                };
            }
        }
        CallerIdentity {
            user_id: ctx.account.clone(),
            account: ctx.account.clone(),
            arn: format!("arn:aws:iam::{}:root", ctx.account),
        }
    }

    pub fn assume_role(&self, input: AssumeRole) -> Result<AssumedRole, AwsError> {
        let arn = validate::required(input.role_arn.as_deref(), "roleArn")?;
        let session = validate::required(input.session_name.as_deref(), "roleSessionName")?;
        validate::arn(arn, "roleArn")?;
        validate::length(session, "roleSessionName", 2, 64)?;
        if !session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
        {
            return Err(errors::validation(format!(
                "1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
            )));
        }
        if let Some(e) = &input.external_id {
            validate::length(e, "externalId", 2, 1224)?;
        }
        if let Some(p) = &input.policy {
            validate::policy_document(p, "policy")?;
        }
        let duration = input.duration_seconds.unwrap_or(3600);
        validate::range(duration, "durationSeconds", 900, 43_200)?;
        let Some((account, name)) = parse_role_arn(arn) else {
            return Err(errors::validation(format!("{arn} is not a valid role ARN")));
        };
        let role = self.role_by_arn(account, arn);
        if let Some(r) = &role {
            if duration > r.max_session_duration {
                return Err(errors::validation(
                    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
                ));
            }
        }
        let role_id = role.map_or_else(|| aws_id("AROA", 17), |r| r.id);
        let expiration_millis = self.now() + u64::try_from(duration).unwrap_or(3600) * 1000;
        let credentials = Credentials {
            access_key_id: aws_id("ASIA", 16),
            secret_access_key: random_text(30),
            session_token: format!("FQoGZXIvYXdzE{}", random_text(240)),
            expiration_millis,
        };
        let out = AssumedRole {
            assumed_role_id: format!("{role_id}:{session}"),
            arn: format!("arn:aws:sts::{account}:assumed-role/{name}/{session}"),
            credentials,
        };
        self.remember(
            &out.credentials.access_key_id,
            Session {
                account: account.to_owned(),
                assumed_role_id: out.assumed_role_id.clone(),
                arn: out.arn.clone(),
                expiration_millis,
            },
        );
        Ok(out)
    }

    /// Keeps a session for GetCallerIdentity, forgetting the oldest past the bound (counted).
    fn remember(&self, key: &str, session: Session) {
        let mut s = lock(&self.sessions);
        while s.order.len() >= self.config.max_sessions.max(1) {
            if let Some(old) = s.order.pop_front() {
                s.by_key.remove(&old);
                self.sessions_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        s.order.push_back(key.to_owned());
        s.by_key.insert(key.to_owned(), session);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_role_arn;

    #[test]
    fn role_arns() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::123456789012:role/a/b/r"),
            Some(("123456789012", "r"))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::123:role/r"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::123456789012:user/u"), None);
        assert_eq!(parse_role_arn("arn:aws:sqs:us-east-1:123456789012:role/q"), None);
    }
}
