//! AddPermission and RemovePermission: statements in the queue's `Policy`, as AWS builds them.

use lb_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use crate::attributes::QueuePolicy;
use crate::errors;
use crate::model::{AddPermissionInput, QueueRef};
use crate::Sqs;

impl Sqs {
    pub fn add_permission(
        &self,
        ctx: &RequestContext,
        queue: &QueueRef,
        input: AddPermissionInput,
    ) -> Result<(), AwsError> {
        check_label(&input.label)?;
        if input.account_ids.is_empty() {
            return Err(errors::missing_parameter("AWSAccountIds"));
        }
        if input.actions.is_empty() {
            return Err(errors::missing_parameter("Actions"));
        }
        let q = self.queue(ctx, queue)?;
        let one_or_many = |v: Vec<String>| match v.len() {
            1 => Value::String(v.into_iter().next().unwrap_or_default()),
            _ => Value::Array(v.into_iter().map(Value::String).collect()),
        };
        let principals = input
            .account_ids
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect();
        let actions = input.actions.iter().map(|a| format!("SQS:{a}")).collect();
        let statement = json!({
            "Sid": input.label,
            "Effect": "Allow",
            "Principal": {"AWS": one_or_many(principals)},
            "Action": one_or_many(actions),
            "Resource": &*q.arn,
        });
        let now = self.now();
        let mut st = q.lock();
        let mut policy = st
            .config
            .policy
            .as_ref()
            .map(|p| Value::clone(&p.document))
            .filter(Value::is_object)
            .unwrap_or_else(
                || json!({"Version": "2008-10-17", "Id": format!("{}/SQSDefaultPolicy", q.arn), "Statement": []}),
            );
        let Some(statements) = statements_mut(&mut policy) else {
            return Err(AwsError::internal("the queue policy is not a JSON object"));
        };
        if statements
            .iter()
            .any(|s| s.get("Sid").and_then(Value::as_str) == Some(&input.label))
        {
            return Err(errors::invalid_value(&input.label, "Label", "Already exists."));
        }
        statements.push(statement);
        // The result must stay within AWS's policy limits (20 statements, 8,192 bytes).
        st.config.policy = Some(QueuePolicy::from_document(&policy)?);
        st.last_modified_ms = now;
        Ok(())
    }

    pub fn remove_permission(&self, ctx: &RequestContext, queue: &QueueRef, label: &str) -> Result<(), AwsError> {
        if label.is_empty() {
            return Err(errors::missing_parameter("Label"));
        }
        let q = self.queue(ctx, queue)?;
        let now = self.now();
        let mut st = q.lock();
        let mut policy = st
            .config
            .policy
            .as_ref()
            .map(|p| Value::clone(&p.document))
            .filter(Value::is_object)
            .ok_or_else(|| errors::invalid_value(label, "Label", "can't find label."))?;
        let Some(statements) = statements_mut(&mut policy) else {
            return Err(errors::invalid_value(label, "Label", "can't find label."));
        };
        let before = statements.len();
        statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(label));
        if statements.len() == before {
            return Err(errors::invalid_value(label, "Label", "can't find label."));
        }
        st.config.policy = if statements.is_empty() {
            None
        } else {
            Some(QueuePolicy::from_document(&policy)?)
        };
        st.last_modified_ms = now;
        Ok(())
    }
}

fn check_label(label: &str) -> Result<(), AwsError> {
    if label.is_empty() {
        return Err(errors::missing_parameter("Label"));
    }
    if label.len() > 80
        || !label
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Err(errors::invalid_value(
            label,
            "Label",
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ));
    }
    Ok(())
}

/// The `Statement` array of a policy document, created if missing (a single statement object is
/// turned into an array). `None` if the document is not an object.
fn statements_mut(policy: &mut Value) -> Option<&mut Vec<Value>> {
    let entry = policy
        .as_object_mut()?
        .entry("Statement")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !entry.is_array() {
        let single = std::mem::take(entry);
        *entry = Value::Array(if single.is_null() { Vec::new() } else { vec![single] });
    }
    entry.as_array_mut()
}
