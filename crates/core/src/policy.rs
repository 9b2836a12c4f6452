//! Evaluation of resource-based policies (an SQS queue's `Policy`, later SNS topic and Lambda
//! function policies) for service principals: "may `s3.amazonaws.com` call `sqs:SendMessage` on
//! this queue for this bucket?". IAM's evaluation logic: an explicit Deny wins, then any Allow,
//! otherwise an implicit deny.

use serde_json::Value;

/// The request a resource policy is asked about.
#[derive(Debug, Clone)]
pub struct PolicyRequest<'a> {
    /// Service principal, e.g. `s3.amazonaws.com`.
    pub principal_service: &'a str,
    /// e.g. `sqs:SendMessage`.
    pub action: &'a str,
    /// The resource's ARN.
    pub resource: &'a str,
    /// `aws:SourceArn` (the bucket ARN for S3 notifications).
    pub source_arn: Option<&'a str>,
    /// `aws:SourceAccount`.
    pub source_account: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// Evaluates `policy` (the JSON document) for `req`. A document that is not a JSON object
/// yields [`Decision::ImplicitDeny`].
pub fn evaluate(policy: &Value, req: &PolicyRequest<'_>) -> Decision {
    let statements: &[Value] = match policy.get("Statement") {
        Some(Value::Array(a)) => a,
        Some(s @ Value::Object(_)) => std::slice::from_ref(s),
        _ => return Decision::ImplicitDeny,
    };
    let mut allowed = false;
    for st in statements {
        if !statement_applies(st, req) {
            continue;
        }
        match st.get("Effect").and_then(Value::as_str) {
            Some("Deny") => return Decision::ExplicitDeny,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

fn statement_applies(st: &Value, req: &PolicyRequest<'_>) -> bool {
    let principal_ok = match (st.get("Principal"), st.get("NotPrincipal")) {
        (Some(p), _) => principal_matches(p, req.principal_service),
        (None, Some(np)) => !principal_matches(np, req.principal_service),
        (None, None) => false,
    };
    let action_ok = match (st.get("Action"), st.get("NotAction")) {
        (Some(a), _) => strings(a).any(|pat| glob_ignore_ascii_case(pat, req.action)),
        (None, Some(na)) => !strings(na).any(|pat| glob_ignore_ascii_case(pat, req.action)),
        (None, None) => false,
    };
    let resource_ok = match (st.get("Resource"), st.get("NotResource")) {
        (Some(r), _) => strings(r).any(|pat| glob(pat, req.resource)),
        (None, Some(nr)) => !strings(nr).any(|pat| glob(pat, req.resource)),
        // Resource policies may omit Resource: it then means the resource the policy is attached to.
        (None, None) => true,
    };
    principal_ok && action_ok && resource_ok && conditions_hold(st.get("Condition"), req)
}

fn principal_matches(p: &Value, service: &str) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Object(m) => m.iter().any(|(kind, v)| match kind.as_str() {
            "Service" => strings(v).any(|s| s == service),
            "AWS" => strings(v).any(|s| s == "*"),
            _ => false,
        }),
        _ => false,
    }
}

fn strings(v: &Value) -> impl Iterator<Item = &str> {
    let (one, many) = match v {
        Value::String(s) => (Some(s.as_str()), None),
        Value::Array(a) => (None, Some(a.iter().filter_map(Value::as_str))),
        _ => (None, None),
    };
    one.into_iter().chain(many.into_iter().flatten())
}

fn conditions_hold(cond: Option<&Value>, req: &PolicyRequest<'_>) -> bool {
    let Some(cond) = cond else { return true };
    let Some(ops) = cond.as_object() else { return false };
    ops.iter().all(|(op, clauses)| {
        let Some(clauses) = clauses.as_object() else {
            return false;
        };
        let (op, if_exists) = match op.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (op.as_str(), false),
        };
        // Set operators on single-valued keys behave like the plain operator.
        let op = op
            .strip_prefix("ForAnyValue:")
            .or_else(|| op.strip_prefix("ForAllValues:"))
            .unwrap_or(op);
        clauses.iter().all(|(key, expected)| {
            let actual = match key.to_ascii_lowercase().as_str() {
                "aws:sourcearn" => req.source_arn,
                "aws:sourceaccount" => req.source_account,
                // `aws:SourceOwner` is the older key only some services set (the SNS Developer
                // Guide, "aws:SourceAccount versus aws:SourceOwner"); the producers here (S3,
                // EventBridge, Lambda, Scheduler) set `aws:SourceAccount`. So a new topic's
                // default policy, conditioned on `AWS:SourceOwner`, lets none of them publish
                // until a statement allows their service, as on AWS ("You must grant the
                // Amazon S3 principal the necessary permissions", S3 User Guide).
                _ => None,
            };
            let Some(actual) = actual else { return if_exists };
            let mut values = strings(expected);
            match op {
                "ArnLike" | "StringLike" => values.any(|pat| glob(pat, actual)),
                "ArnNotLike" | "StringNotLike" => !values.any(|pat| glob(pat, actual)),
                "ArnEquals" | "StringEquals" => values.any(|v| v == actual),
                "ArnNotEquals" | "StringNotEquals" => !values.any(|v| v == actual),
                "StringEqualsIgnoreCase" => values.any(|v| v.eq_ignore_ascii_case(actual)),
                "StringNotEqualsIgnoreCase" => !values.any(|v| v.eq_ignore_ascii_case(actual)),
                // An operator we do not evaluate cannot grant access.
                _ => false,
            }
        })
    })
}

/// IAM wildcard matching: `*` matches any run of characters, `?` exactly one.
pub fn glob(pattern: &str, text: &str) -> bool {
    glob_by(pattern, text, |a, b| a == b)
}

/// [`glob`] ignoring ASCII case (actions: `SQS:sendmessage` is `sqs:SendMessage`).
pub fn glob_ignore_ascii_case(pattern: &str, text: &str) -> bool {
    glob_by(pattern, text, |a, b| a.eq_ignore_ascii_case(&b))
}

/// Wildcard matching without allocating for ASCII text (ARNs, actions, account ids), which is
/// what policies hold; other text is compared character by character.
fn glob_by(pattern: &str, text: &str, eq: impl Fn(char, char) -> bool) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern.len() == text.len() && pattern.chars().zip(text.chars()).all(|(p, t)| eq(p, t));
    }
    if pattern.is_ascii() && text.is_ascii() {
        let (p, t) = (pattern.as_bytes(), text.as_bytes());
        return wildcard(p.len(), t.len(), |i| p[i] as char, |i| t[i] as char, eq);
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    wildcard(p.len(), t.len(), |i| p[i], |i| t[i], eq)
}

/// The classic greedy match with one backtrack point: `*` any run, `?` exactly one.
fn wildcard(
    plen: usize,
    tlen: usize,
    p: impl Fn(usize) -> char,
    t: impl Fn(usize) -> char,
    eq: impl Fn(char, char) -> bool,
) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < tlen {
        if pi < plen && (p(pi) == '?' || (p(pi) != '*' && eq(p(pi), t(ti)))) {
            pi += 1;
            ti += 1;
        } else if pi < plen && p(pi) == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    (pi..plen).all(|i| p(i) == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req<'a>(source_arn: &'a str) -> PolicyRequest<'a> {
        PolicyRequest {
            principal_service: "s3.amazonaws.com",
            action: "sqs:SendMessage",
            resource: "arn:aws:sqs:us-east-1:000000000000:uploads",
            source_arn: Some(source_arn),
            source_account: Some("000000000000"),
        }
    }

    #[test]
    fn the_documented_s3_queue_policy_allows_its_bucket_only() {
        let policy = json!({
            "Version": "2012-10-17",
            "Id": "example-ID",
            "Statement": [{
                "Sid": "example-statement-ID",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": ["SQS:SendMessage"],
                "Resource": "arn:aws:sqs:us-east-1:000000000000:uploads",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": "arn:aws:s3:*:*:photos"},
                    "StringEquals": {"aws:SourceAccount": "000000000000"}
                }
            }]
        });
        assert_eq!(evaluate(&policy, &req("arn:aws:s3:::photos")), Decision::Allow);
        assert_eq!(evaluate(&policy, &req("arn:aws:s3:::other")), Decision::ImplicitDeny);
    }

    #[test]
    fn deny_wins_and_wrong_principal_or_action_do_not_allow() {
        let allow_all = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"}});
        assert_eq!(evaluate(&allow_all, &req("arn:aws:s3:::photos")), Decision::Allow);
        let with_deny = json!({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": "*"}
        ]});
        assert_eq!(
            evaluate(&with_deny, &req("arn:aws:s3:::photos")),
            Decision::ExplicitDeny
        );
        let other_principal = json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": "*"}});
        assert_eq!(
            evaluate(&other_principal, &req("arn:aws:s3:::photos")),
            Decision::ImplicitDeny
        );
        let default_sns = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["SNS:Publish"],
            "Resource": "*", "Condition": {"StringEquals": {"AWS:SourceOwner": "000000000000"}}}]});
        assert_eq!(
            evaluate(&default_sns, &req("arn:aws:s3:::uploads")),
            Decision::ImplicitDeny
        );
        let other_action = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sqs:ReceiveMessage", "Resource": "*"}});
        assert_eq!(
            evaluate(&other_action, &req("arn:aws:s3:::photos")),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(&json!("nonsense"), &req("arn:aws:s3:::photos")),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn glob_matches_iam_wildcards() {
        assert!(glob("arn:aws:s3:*:*:photos", "arn:aws:s3:::photos"));
        assert!(glob("a?c*", "abcdef"));
        assert!(!glob("arn:aws:s3:*:*:photos", "arn:aws:s3:::photos2"));
        assert!(glob("*", ""));
        assert!(glob("a*b", "a*xb") && glob("*", "*") && !glob("a*c", "ab"));
        assert!(glob("é*ü", "éxyzü") && !glob("é?", "e1"));
        assert!(glob_ignore_ascii_case("SQS:send*", "sqs:SendMessage"));
        assert!(glob_ignore_ascii_case("sqs:sendmessage", "sqs:SendMessage"));
        assert!(!glob("sqs:sendmessage", "sqs:SendMessage"));
    }
}
