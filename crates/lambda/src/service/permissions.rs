//! AddPermission, RemovePermission, GetPolicy: the function's resource-based policy, as AWS
//! writes its statements (a service principal as `{"Service": ...}`, an account as its root ARN,
//! `SourceArn` as `ArnLike`, `SourceAccount` as `StringEquals`).

use std::sync::PoisonError;

use lb_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use super::{validation, Lambda};

#[derive(Debug, Clone, Default)]
pub struct AddPermissionInput {
    pub statement_id: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    pub event_source_token: Option<String>,
    pub principal_org_id: Option<String>,
    pub function_url_auth_type: Option<String>,
    pub revision_id: Option<String>,
}

fn principal_json(p: &str) -> Value {
    if p == "*" {
        json!("*")
    } else if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        json!({ "AWS": format!("arn:aws:iam::{p}:root") })
    } else if p.starts_with("arn:") {
        json!({ "AWS": p })
    } else {
        json!({ "Service": p })
    }
}

impl Lambda {
    /// AddPermission: the statement, as JSON text.
    pub fn add_permission(
        &self,
        ctx: &RequestContext,
        name: &str,
        input: AddPermissionInput,
    ) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let sid = input
            .statement_id
            .ok_or_else(|| validation("null", "statementId", "Member must not be null"))?;
        if sid.is_empty()
            || sid.len() > 100
            || !sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(validation(
                &sid,
                "statementId",
                "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
            ));
        }
        let action = input
            .action
            .ok_or_else(|| validation("null", "action", "Member must not be null"))?;
        let action_ok = action == "*"
            || action == "lambda:*"
            || action
                .strip_prefix("lambda:")
                .is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphabetic()));
        if !action_ok {
            return Err(validation(
                &action,
                "action",
                "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
            ));
        }
        let principal = input
            .principal
            .ok_or_else(|| validation("null", "principal", "Member must not be null"))?;
        if principal.is_empty() || principal.chars().any(char::is_whitespace) {
            return Err(validation(
                &principal,
                "principal",
                "Member must satisfy regular expression pattern: [^\\s]+",
            ));
        }
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = input.revision_id.as_deref().filter(|r| *r != f.policy_revision) {
            let _ = r;
            return Err(AwsError::new(
                "PreconditionFailedException",
                412,
                "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id",
            ));
        }
        if f.statements.iter().any(|s| s["Sid"] == json!(sid)) {
            return Err(AwsError::new(
                "ResourceConflictException",
                409,
                format!("The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."),
            ));
        }
        let mut statement = json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": principal_json(&principal),
            "Action": action,
            "Resource": f.arn,
        });
        let mut condition = serde_json::Map::new();
        let mut equals = serde_json::Map::new();
        if let Some(a) = &input.source_account {
            equals.insert("AWS:SourceAccount".into(), json!(a));
        }
        if let Some(o) = &input.principal_org_id {
            equals.insert("aws:PrincipalOrgID".into(), json!(o));
        }
        if let Some(t) = &input.event_source_token {
            equals.insert("lambda:EventSourceToken".into(), json!(t));
        }
        if let Some(t) = &input.function_url_auth_type {
            equals.insert("lambda:FunctionUrlAuthType".into(), json!(t));
        }
        if !equals.is_empty() {
            condition.insert("StringEquals".into(), Value::Object(equals));
        }
        if let Some(a) = &input.source_arn {
            condition.insert("ArnLike".into(), json!({ "AWS:SourceArn": a }));
        }
        if !condition.is_empty() {
            statement["Condition"] = Value::Object(condition);
        }
        f.statements.push(statement.clone());
        f.policy_revision = lb_core::ids::uuid();
        Ok(json!({ "Statement": statement.to_string() }))
    }

    /// RemovePermission.
    pub fn remove_permission(
        &self,
        ctx: &RequestContext,
        name: &str,
        sid: &str,
        revision_id: Option<&str>,
    ) -> Result<(), AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        if revision_id.is_some_and(|r| r != f.policy_revision) {
            return Err(AwsError::new(
                "PreconditionFailedException",
                412,
                "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id",
            ));
        }
        let before = f.statements.len();
        f.statements.retain(|s| s["Sid"] != json!(sid));
        if f.statements.len() == before {
            return Err(AwsError::new(
                "ResourceNotFoundException",
                404,
                format!("Statement {sid} is not found in resource policy."),
            ));
        }
        f.policy_revision = lb_core::ids::uuid();
        Ok(())
    }

    /// GetPolicy.
    pub fn get_policy(&self, ctx: &RequestContext, name: &str) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let f = f.lock().unwrap_or_else(PoisonError::into_inner);
        if f.statements.is_empty() {
            return Err(AwsError::new(
                "ResourceNotFoundException",
                404,
                "The resource you requested does not exist.",
            ));
        }
        let policy = json!({ "Version": "2012-10-17", "Id": "default", "Statement": f.statements });
        Ok(json!({ "Policy": policy.to_string(), "RevisionId": f.policy_revision }))
    }
}

/// A function's policy document, for checks at delivery (S3, EventBridge, SNS invoking it).
pub(crate) fn document(f: &super::Function) -> Option<Value> {
    (!f.statements.is_empty()).then(|| json!({ "Version": "2012-10-17", "Id": "default", "Statement": f.statements }))
}
