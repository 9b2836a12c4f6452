//! IAM and STS, minimal: what tools need before they create a function (the AWS CLI
//! walk-throughs, SAM, CDK, Terraform, test suites) — roles, their trust policy, inline and
//! managed policies, tags — and STS's `GetCallerIdentity` and `AssumeRole`.
//!
//! **Stored and validated, not enforced.** Names, lengths, patterns, JSON documents and AWS's
//! quotas are checked with AWS's error codes; no request anywhere is ever refused because of a
//! role or policy stored here. `AssumeRole` issues temporary credentials (`ASIA...`) for any role
//! ARN of the right form; requests signed with them are accepted like any other (signatures are
//! parsed, not verified), and `GetCallerIdentity` signed with them answers the assumed role.
//!
//! IAM is global: one store per account, ARNs without a region
//! (`arn:aws:iam::<account>:role/<path><name>`). Role names are unique without regard to case,
//! as AWS keeps them ("you cannot create roles named both PRODROLE and prodrole").
//!
//! Layout: [`model`] (the stored entities), [`validate`] (botocore's constraints and AWS's
//! validation texts), [`roles`] (roles, inline policies, tags), [`policies`] (managed policies
//! and attachments), [`sts`], and [`api`] (the query wire edge of both services).

pub mod api;
pub mod errors;
pub mod model;
pub mod policies;
pub mod roles;
pub mod sts;
pub mod validate;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use lb_core::Clock;

use crate::model::{ManagedPolicy, Role};
use crate::sts::Sessions;

/// AWS's default quotas (IAM User Guide, "IAM and AWS STS quotas").
#[derive(Debug, Clone, Copy)]
pub struct IamConfig {
    /// Roles per account (AWS: 1000).
    pub max_roles: usize,
    /// Customer managed policies per account (AWS: 1500).
    pub max_policies: usize,
    /// Temporary credentials remembered for `GetCallerIdentity` (the oldest are forgotten first;
    /// a forgotten key answers as the account's root).
    pub max_sessions: usize,
}

impl Default for IamConfig {
    fn default() -> Self {
        Self {
            max_roles: 1000,
            max_policies: 1500,
            max_sessions: 10_000,
        }
    }
}

/// One account's entities.
#[derive(Debug, Default)]
pub(crate) struct Account {
    /// By lower-cased name (names are unique without regard to case).
    pub roles: BTreeMap<String, Role>,
    /// Customer managed policies, by ARN.
    pub policies: BTreeMap<String, ManagedPolicy>,
}

/// IAM and STS for every account.
pub struct Iam {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: IamConfig,
    /// Every account's roles and policies. One short-held lock: IAM is a control plane, called a
    /// few times per deployment, never on a delivery path.
    accounts: Mutex<HashMap<String, Account>>,
    pub(crate) sessions: Mutex<Sessions>,
    /// Sessions forgotten to stay within `max_sessions`.
    pub(crate) sessions_dropped: AtomicU64,
}

impl Iam {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_config(clock, IamConfig::default())
    }

    pub fn with_config(clock: Arc<dyn Clock>, config: IamConfig) -> Self {
        Self {
            clock,
            config,
            accounts: Mutex::new(HashMap::new()),
            sessions: Mutex::new(Sessions::default()),
            sessions_dropped: AtomicU64::new(0),
        }
    }

    /// Runs `f` on `account`'s entities (created empty on first use).
    pub(crate) fn with_account<T>(&self, account: &str, f: impl FnOnce(&mut Account) -> T) -> T {
        let mut accounts = lock(&self.accounts);
        f(accounts.entry(account.to_owned()).or_default())
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now_millis()
    }

    /// Temporary credentials forgotten so far (the session bound).
    pub fn sessions_dropped(&self) -> u64 {
        self.sessions_dropped.load(Ordering::Relaxed)
    }
}

/// A poisoned lock still holds consistent data here (every critical section only inserts or
/// removes whole entries), so it is used as is.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `prefix` followed by `len` characters of AWS's unique-id alphabet (upper-case letters and
/// digits): role ids `AROA...`, policy ids `ANPA...`, access keys `ASIA...`.
pub(crate) fn aws_id(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(prefix.len() + len);
    out.push_str(prefix);
    let mut bits = 0u64;
    let mut left = 0;
    for _ in 0..len {
        if left < 5 {
            bits = lb_core::ids::random_u64();
            left = 64;
        }
        out.push(char::from(ALPHABET[(bits & 31) as usize]));
        bits >>= 5;
        left -= 5;
    }
    out
}

/// IAM's dates: ISO 8601 in UTC to the second (`2024-05-08T23:34:01Z`).
pub(crate) fn iam_date(millis: u64) -> String {
    lb_core::clock::rfc3339(millis - millis % 1000)
}
