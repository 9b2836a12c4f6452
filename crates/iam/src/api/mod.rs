//! The wire edge of IAM and STS: the query protocol (`Action=...&Version=...`, signing names
//! `iam` and `sts`), XML responses in each service's namespace, errors in the
//! `<ErrorResponse>` envelope. Policy documents are returned URL-encoded, as AWS returns them
//! (botocore decodes them back into JSON for its callers).

use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use lb_core::clock::BoxFuture;
use lb_core::{AwsError, RequestContext};
use lb_protocol::query::{self, ErrorStyle, Params};
use lb_protocol::{ApiRequest, ServiceSpec, XmlWriter};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::model::{Page, PolicyView, Role};
use crate::policies::{CreatePolicy, VERSION};
use crate::roles::CreateRole;
use crate::sts::AssumeRole;
use crate::{errors, iam_date, validate, Iam};

pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The IAM actions served.
pub const IAM_OPERATIONS: &[&str] = &[
    "AttachRolePolicy",
    "CreatePolicy",
    "CreateRole",
    "DeletePolicy",
    "DeleteRole",
    "DeleteRolePolicy",
    "DetachRolePolicy",
    "GetPolicy",
    "GetPolicyVersion",
    "GetRole",
    "GetRolePolicy",
    "ListAttachedRolePolicies",
    "ListPolicyTags",
    "ListRolePolicies",
    "ListRoleTags",
    "ListRoles",
    "PutRolePolicy",
    "TagPolicy",
    "TagRole",
    "UntagPolicy",
    "UntagRole",
    "UpdateAssumeRolePolicy",
];

/// The STS actions served.
pub const STS_OPERATIONS: &[&str] = &["AssumeRole", "GetCallerIdentity"];

/// IAM (botocore `iam` 2010-05-08: protocol `query`, signing name `iam`).
pub const IAM_SPEC: ServiceSpec = ServiceSpec {
    operations: IAM_OPERATIONS,
    query: true,
    xmlns: IAM_XMLNS,
    query_errors: ErrorStyle {
        xmlns: Some(IAM_XMLNS),
        detail: false,
    },
    max_body: 1024 * 1024,
    ..ServiceSpec::new("iam")
};

/// STS (botocore `sts` 2011-06-15: protocol `query`, signing name `sts`).
pub const STS_SPEC: ServiceSpec = ServiceSpec {
    operations: STS_OPERATIONS,
    query: true,
    xmlns: STS_XMLNS,
    query_errors: ErrorStyle {
        xmlns: Some(STS_XMLNS),
        detail: false,
    },
    max_body: 1024 * 1024,
    ..ServiceSpec::new("sts")
};

/// Characters left as they are in a URL-encoded policy document (RFC 3986 unreserved).
const DOCUMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn encoded(doc: &str) -> String {
    utf8_percent_encode(doc, DOCUMENT).to_string()
}

/// IAM's wire edge.
pub struct IamApi {
    iam: Arc<Iam>,
}

impl IamApi {
    pub fn new(iam: Arc<Iam>) -> Self {
        Self { iam }
    }
}

/// STS's wire edge (the same store: AssumeRole reads the roles).
pub struct StsApi {
    iam: Arc<Iam>,
}

impl StsApi {
    pub fn new(iam: Arc<Iam>) -> Self {
        Self { iam }
    }
}

impl lb_protocol::Service for IamApi {
    fn spec(&self) -> &ServiceSpec {
        &IAM_SPEC
    }

    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
        let resp = respond(&IAM_SPEC, &req, |action, p, q| {
            iam_action(&self.iam, &req.ctx, action, p, q)
        });
        Box::pin(async move { resp })
    }
}

impl lb_protocol::Service for StsApi {
    fn spec(&self) -> &ServiceSpec {
        &STS_SPEC
    }

    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
        let resp = respond(&STS_SPEC, &req, |action, p, q| {
            sts_action(&self.iam, &req.ctx, action, p, q)
        });
        Box::pin(async move { resp })
    }

    fn metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = writeln!(
            out,
            "# HELP localbridge_sts_sessions_dropped Temporary credentials forgotten to stay within the session bound."
        );
        let _ = writeln!(out, "# TYPE localbridge_sts_sessions_dropped counter");
        let _ = writeln!(out, "localbridge_sts_sessions_dropped {}", self.iam.sessions_dropped());
    }
}

/// Runs `handler` for the request's action and renders its answer or error. The handler writes
/// its result element (actions without output write none, as AWS answers them).
fn respond(
    spec: &ServiceSpec,
    req: &ApiRequest,
    handler: impl FnOnce(&str, &Params, &mut XmlWriter) -> Result<(), AwsError>,
) -> Response<Bytes> {
    query::answer(spec, req, NO_OUTPUT, handler)
}

/// The actions whose answer has no result element (botocore: no output shape).
const NO_OUTPUT: &[&str] = &[
    "AttachRolePolicy",
    "DeletePolicy",
    "DeleteRole",
    "DeleteRolePolicy",
    "DetachRolePolicy",
    "PutRolePolicy",
    "TagPolicy",
    "TagRole",
    "UntagPolicy",
    "UntagRole",
    "UpdateAssumeRolePolicy",
];

// ---- parameters --------------------------------------------------------------------------------

fn required<'a>(p: &'a Params, key: &str, member: &str) -> Result<&'a str, AwsError> {
    validate::required(p.get(key), member)
}

fn int(p: &Params, key: &str, member: &str) -> Result<Option<i64>, AwsError> {
    p.int(key).map_err(|e| {
        errors::validation(format!(
            "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: Member must be an integer",
            e.value
        ))
    })
}

fn tags(p: &Params) -> Vec<(String, String)> {
    p.pairs("Tags.member", "Key", "Value")
}

// ---- IAM ---------------------------------------------------------------------------------------

fn iam_action(iam: &Iam, ctx: &RequestContext, action: &str, p: &Params, w: &mut XmlWriter) -> Result<(), AwsError> {
    let acct = ctx.account.as_str();
    let role_name = || required(p, "RoleName", "roleName");
    let policy_arn = || required(p, "PolicyArn", "policyArn");
    let marker = p.get("Marker");
    let max_items = || int(p, "MaxItems", "maxItems");
    match action {
        "CreateRole" => {
            let role = iam.create_role(
                acct,
                CreateRole {
                    name: role_name()?.to_owned(),
                    path: p.string("Path"),
                    assume_role_policy: required(p, "AssumeRolePolicyDocument", "assumeRolePolicyDocument")?.to_owned(),
                    description: p.string("Description"),
                    max_session_duration: int(p, "MaxSessionDuration", "maxSessionDuration")?,
                    permissions_boundary: p.string("PermissionsBoundary"),
                    tags: tags(p),
                },
            )?;
            write_role(w, &role, RoleView::Created);
        }
        "GetRole" => write_role(w, &iam.get_role(acct, role_name()?)?, RoleView::Full),
        "ListRoles" => {
            let page = iam.list_roles(acct, p.get("PathPrefix"), marker, max_items()?)?;
            write_page(w, "Roles", &page, |w, r| write_role(w, r, RoleView::Listed));
        }
        "UpdateAssumeRolePolicy" => {
            let doc = required(p, "PolicyDocument", "policyDocument")?.to_owned();
            iam.update_assume_role_policy(acct, role_name()?, doc)?;
            return Ok(());
        }
        "DeleteRole" => {
            iam.delete_role(acct, role_name()?)?;
            return Ok(());
        }
        "PutRolePolicy" => {
            let policy = required(p, "PolicyName", "policyName")?;
            let doc = required(p, "PolicyDocument", "policyDocument")?.to_owned();
            iam.put_role_policy(acct, role_name()?, policy, doc)?;
            return Ok(());
        }
        "GetRolePolicy" => {
            let policy = required(p, "PolicyName", "policyName")?;
            let (role, policy, doc) = iam.get_role_policy(acct, role_name()?, policy)?;
            w.leaf("RoleName", &role)
                .leaf("PolicyName", &policy)
                .leaf("PolicyDocument", &encoded(&doc));
        }
        "ListRolePolicies" => {
            let page = iam.list_role_policies(acct, role_name()?, marker, max_items()?)?;
            write_page(w, "PolicyNames", &page, |w, n| {
                w.leaf("member", n);
            });
        }
        "DeleteRolePolicy" => {
            let policy = required(p, "PolicyName", "policyName")?;
            iam.delete_role_policy(acct, role_name()?, policy)?;
            return Ok(());
        }
        "AttachRolePolicy" => {
            iam.attach_role_policy(acct, role_name()?, policy_arn()?)?;
            return Ok(());
        }
        "DetachRolePolicy" => {
            iam.detach_role_policy(acct, role_name()?, policy_arn()?)?;
            return Ok(());
        }
        "ListAttachedRolePolicies" => {
            let page =
                iam.list_attached_role_policies(acct, role_name()?, p.get("PathPrefix"), marker, max_items()?)?;
            write_page(w, "AttachedPolicies", &page, |w, (name, arn)| {
                w.open("member")
                    .leaf("PolicyName", name)
                    .leaf("PolicyArn", arn)
                    .close("member");
            });
        }
        "CreatePolicy" => {
            let view = iam.create_policy(
                acct,
                CreatePolicy {
                    name: required(p, "PolicyName", "policyName")?.to_owned(),
                    path: p.string("Path"),
                    document: required(p, "PolicyDocument", "policyDocument")?.to_owned(),
                    description: p.string("Description"),
                    tags: tags(p),
                },
            )?;
            write_policy(w, &view, false);
        }
        "GetPolicy" => write_policy(w, &iam.get_policy(acct, policy_arn()?)?, true),
        "GetPolicyVersion" => {
            let version = required(p, "VersionId", "versionId")?;
            let (doc, created) = iam.get_policy_version(acct, policy_arn()?, version)?;
            w.open("PolicyVersion")
                .leaf("Document", &encoded(&doc))
                .leaf("VersionId", VERSION)
                .leaf("IsDefaultVersion", "true")
                .leaf("CreateDate", &iam_date(created))
                .close("PolicyVersion");
        }
        "DeletePolicy" => {
            iam.delete_policy(acct, policy_arn()?)?;
            return Ok(());
        }
        "TagRole" => {
            iam.tag_role(acct, role_name()?, tags(p))?;
            return Ok(());
        }
        "UntagRole" => {
            iam.untag_role(acct, role_name()?, &p.member_list("TagKeys"))?;
            return Ok(());
        }
        "ListRoleTags" => {
            let page = iam.list_role_tags(acct, role_name()?, marker, max_items()?)?;
            write_page(w, "Tags", &page, write_tag);
        }
        "TagPolicy" => {
            iam.tag_policy(acct, policy_arn()?, tags(p))?;
            return Ok(());
        }
        "UntagPolicy" => {
            iam.untag_policy(acct, policy_arn()?, &p.member_list("TagKeys"))?;
            return Ok(());
        }
        "ListPolicyTags" => {
            let page = iam.list_policy_tags(acct, policy_arn()?, marker, max_items()?)?;
            write_page(w, "Tags", &page, write_tag);
        }
        other if other.bytes().all(|b| b.is_ascii_alphanumeric()) && IAM_UNSERVED_HINT.contains(&other) => {
            return Err(errors::not_implemented("IAM", other));
        }
        other => return Err(errors::invalid_action(other, "2010-05-08")),
    }
    Ok(())
}

/// IAM actions tools commonly call that are not served yet: answered `NotImplemented` rather
/// than `InvalidAction`, so the caller learns the operation exists on AWS.
const IAM_UNSERVED_HINT: &[&str] = &[
    "ListPolicies",
    "CreatePolicyVersion",
    "DeletePolicyVersion",
    "ListPolicyVersions",
    "SetDefaultPolicyVersion",
    "UpdateRole",
    "UpdateRoleDescription",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "CreateServiceLinkedRole",
    "DeleteServiceLinkedRole",
    "CreateUser",
    "GetUser",
    "ListUsers",
    "DeleteUser",
    "CreateAccessKey",
    "ListAccessKeys",
    "DeleteAccessKey",
    "CreateInstanceProfile",
    "GetInstanceProfile",
    "AddRoleToInstanceProfile",
    "ListInstanceProfilesForRole",
    "ListEntitiesForPolicy",
    "SimulatePrincipalPolicy",
    "GetAccountAuthorizationDetails",
];

fn write_tag(w: &mut XmlWriter, (k, v): &(String, String)) {
    w.open("member").leaf("Key", k).leaf("Value", v).close("member");
}

fn write_tags(w: &mut XmlWriter, tags: &[(String, String)]) {
    if tags.is_empty() {
        return;
    }
    w.open("Tags");
    for t in tags {
        write_tag(w, t);
    }
    w.close("Tags");
}

fn write_page<T>(w: &mut XmlWriter, list: &str, page: &Page<T>, mut item: impl FnMut(&mut XmlWriter, &T)) {
    w.open(list);
    for i in &page.items {
        item(w, i);
    }
    w.close(list);
    w.leaf("IsTruncated", if page.marker.is_some() { "true" } else { "false" });
    w.opt("Marker", page.marker.as_deref());
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RoleView {
    /// CreateRole: no `RoleLastUsed`.
    Created,
    /// GetRole: everything.
    Full,
    /// ListRoles: no `Tags`, `PermissionsBoundary` or `RoleLastUsed` (the API reference says so).
    Listed,
}

fn write_role(w: &mut XmlWriter, r: &Role, view: RoleView) {
    let tag = if view == RoleView::Listed { "member" } else { "Role" };
    w.open(tag);
    w.leaf("Path", &r.path)
        .leaf("RoleName", &r.name)
        .leaf("RoleId", &r.id)
        .leaf("Arn", &r.arn)
        .leaf("CreateDate", &iam_date(r.create_millis))
        .leaf("AssumeRolePolicyDocument", &encoded(&r.assume_role_policy))
        .opt("Description", r.description.as_deref())
        .leaf("MaxSessionDuration", &r.max_session_duration.to_string());
    if view != RoleView::Listed {
        if let Some(b) = &r.permissions_boundary {
            w.open("PermissionsBoundary")
                .leaf("PermissionsBoundaryType", "Policy")
                .leaf("PermissionsBoundaryArn", b)
                .close("PermissionsBoundary");
        }
        write_tags(w, &r.tags);
    }
    if view == RoleView::Full {
        w.empty("RoleLastUsed");
    }
    w.close(tag);
}

fn write_policy(w: &mut XmlWriter, v: &PolicyView, description: bool) {
    let p = &v.policy;
    w.open("Policy")
        .leaf("PolicyName", &p.name)
        .leaf("PolicyId", &p.id)
        .leaf("Arn", &p.arn)
        .leaf("Path", &p.path)
        .leaf("DefaultVersionId", VERSION)
        .leaf("AttachmentCount", &v.attachment_count.to_string())
        .leaf("PermissionsBoundaryUsageCount", "0")
        .leaf("IsAttachable", "true");
    if description {
        w.opt("Description", p.description.as_deref());
    }
    w.leaf("CreateDate", &iam_date(p.create_millis))
        .leaf("UpdateDate", &iam_date(p.create_millis));
    write_tags(w, &p.tags);
    w.close("Policy");
}

// ---- STS ---------------------------------------------------------------------------------------

fn sts_action(iam: &Iam, ctx: &RequestContext, action: &str, p: &Params, w: &mut XmlWriter) -> Result<(), AwsError> {
    match action {
        "GetCallerIdentity" => {
            let id = iam.get_caller_identity(ctx);
            w.leaf("Arn", &id.arn)
                .leaf("UserId", &id.user_id)
                .leaf("Account", &id.account);
        }
        "AssumeRole" => {
            let out = iam.assume_role(AssumeRole {
                role_arn: p.string("RoleArn"),
                session_name: p.string("RoleSessionName"),
                duration_seconds: int(p, "DurationSeconds", "durationSeconds")?,
                external_id: p.string("ExternalId"),
                policy: p.string("Policy"),
            })?;
            let c = &out.credentials;
            w.open("Credentials")
                .leaf("AccessKeyId", &c.access_key_id)
                .leaf("SecretAccessKey", &c.secret_access_key)
                .leaf("SessionToken", &c.session_token)
                .leaf("Expiration", &iam_date(c.expiration_millis))
                .close("Credentials");
            w.open("AssumedRoleUser")
                .leaf("AssumedRoleId", &out.assumed_role_id)
                .leaf("Arn", &out.arn)
                .close("AssumedRoleUser");
            w.leaf("PackedPolicySize", "0");
        }
        "AssumeRoleWithWebIdentity"
        | "AssumeRoleWithSAML"
        | "GetSessionToken"
        | "GetFederationToken"
        | "GetAccessKeyInfo"
        | "DecodeAuthorizationMessage"
        | "AssumeRoot" => return Err(errors::not_implemented("STS", action)),
        other => return Err(errors::invalid_action(other, "2011-06-15")),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
