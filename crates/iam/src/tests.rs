//! The operations without HTTP, on a manual clock.

use std::sync::Arc;

use lb_core::{ManualClock, RequestContext};

use crate::policies::CreatePolicy;
use crate::roles::CreateRole;
use crate::sts::AssumeRole;
use crate::{Iam, IamConfig};

const ACCT: &str = "123456789012";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn iam() -> Iam {
    Iam::new(Arc::new(ManualClock::new(1_700_000_000_123)))
}

fn role(name: &str, path: Option<&str>) -> CreateRole {
    CreateRole {
        name: name.into(),
        path: path.map(Into::into),
        assume_role_policy: TRUST.into(),
        ..CreateRole::default()
    }
}

#[test]
fn roles_are_created_once_without_regard_to_case() {
    let iam = iam();
    let r = iam.create_role(ACCT, role("Lambda-Exec", Some("/service/"))).unwrap();
    assert_eq!(r.arn, "arn:aws:iam::123456789012:role/service/Lambda-Exec");
    assert!(r.id.starts_with("AROA") && r.id.len() == 21, "{}", r.id);
    assert_eq!(r.max_session_duration, 3600);
    let e = iam.create_role(ACCT, role("lambda-exec", None)).unwrap_err();
    assert_eq!((e.code.as_ref(), e.status), ("EntityAlreadyExists", 409));
    assert_eq!(e.message, "Role with name lambda-exec already exists.");
    assert_eq!(iam.get_role(ACCT, "LAMBDA-EXEC").unwrap().name, "Lambda-Exec");
    let e = iam.get_role(ACCT, "nope").unwrap_err();
    assert_eq!(
        (e.code.as_ref(), e.status, e.message.as_str()),
        ("NoSuchEntity", 404, "The role with name nope cannot be found.")
    );
    // Another account is another namespace.
    assert!(iam.get_role("000000000000", "Lambda-Exec").is_err());
}

#[test]
fn validation_texts() {
    let iam = iam();
    let e = iam.create_role(ACCT, role("bad name", None)).unwrap_err();
    assert_eq!(e.code, "ValidationError");
    assert_eq!(
        e.message,
        r"1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"
    );
    let e = iam.create_role(ACCT, role(&"r".repeat(65), None)).unwrap_err();
    assert!(e.message.ends_with("Member must have length less than or equal to 64"));
    let e = iam.create_role(ACCT, role("r", Some("nopath"))).unwrap_err();
    assert_eq!(e.code, "ValidationError");
    let mut bad = role("r", None);
    bad.assume_role_policy = "{not json".into();
    let e = iam.create_role(ACCT, bad).unwrap_err();
    assert_eq!(
        (e.code.as_ref(), e.message.as_str()),
        ("MalformedPolicyDocument", "This policy contains invalid Json")
    );
    let mut long = role("r", None);
    long.max_session_duration = Some(100);
    assert!(iam
        .create_role(ACCT, long)
        .unwrap_err()
        .message
        .contains("greater than or equal to 3600"));
    let mut dup = role("r", None);
    dup.tags = vec![("k".into(), "1".into()), ("K".into(), "2".into())];
    assert_eq!(iam.create_role(ACCT, dup).unwrap_err().code, "InvalidInput");
}

#[test]
fn list_roles_pages_by_name_and_filters_by_path() {
    let iam = iam();
    for (n, p) in [("c", "/a/"), ("a", "/"), ("b", "/a/"), ("d", "/b/")] {
        iam.create_role(ACCT, role(n, Some(p))).unwrap();
    }
    let page = iam.list_roles(ACCT, None, None, Some(2)).unwrap();
    assert_eq!(
        page.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let next = iam.list_roles(ACCT, None, page.marker.as_deref(), Some(2)).unwrap();
    assert_eq!(
        next.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["c", "d"]
    );
    assert!(next.marker.is_none());
    let a = iam.list_roles(ACCT, Some("/a/"), None, None).unwrap();
    assert_eq!(a.items.len(), 2);
    assert_eq!(
        iam.list_roles(ACCT, None, None, Some(0)).unwrap_err().code,
        "ValidationError"
    );
}

#[test]
fn delete_role_refuses_while_policies_remain() {
    let iam = iam();
    iam.create_role(ACCT, role("r", None)).unwrap();
    let pol = iam
        .create_policy(
            ACCT,
            CreatePolicy {
                name: "p".into(),
                document: TRUST.into(),
                ..CreatePolicy::default()
            },
        )
        .unwrap();
    let arn = pol.policy.arn.clone();
    assert_eq!(arn, "arn:aws:iam::123456789012:policy/p");
    iam.attach_role_policy(ACCT, "r", &arn).unwrap();
    iam.attach_role_policy(
        ACCT,
        "r",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    )
    .unwrap();
    let e = iam
        .attach_role_policy(ACCT, "r", "arn:aws:iam::123456789012:policy/missing")
        .unwrap_err();
    assert_eq!(
        e.message,
        "Policy arn:aws:iam::123456789012:policy/missing does not exist or is not attachable."
    );
    iam.put_role_policy(ACCT, "r", "inline", TRUST.into()).unwrap();
    let e = iam.delete_role(ACCT, "r").unwrap_err();
    assert_eq!(
        (e.code.as_ref(), e.status, e.message.as_str()),
        (
            "DeleteConflict",
            409,
            "Cannot delete entity, must detach all policies first."
        )
    );
    assert_eq!(iam.get_policy(ACCT, &arn).unwrap().attachment_count, 1);
    let e = iam.delete_policy(ACCT, &arn).unwrap_err();
    assert_eq!(e.message, "Cannot delete a policy attached to entities.");
    let attached = iam.list_attached_role_policies(ACCT, "r", None, None, None).unwrap();
    assert_eq!(
        attached.items,
        [
            ("p".to_owned(), arn.clone()),
            (
                "AWSLambdaBasicExecutionRole".to_owned(),
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole".to_owned()
            )
        ]
    );
    let only = iam
        .list_attached_role_policies(ACCT, "r", Some("/service-role/"), None, None)
        .unwrap();
    assert_eq!(only.items.len(), 1);
    iam.detach_role_policy(ACCT, "r", &arn).unwrap();
    iam.detach_role_policy(
        ACCT,
        "r",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    )
    .unwrap();
    let e = iam.delete_role(ACCT, "r").unwrap_err();
    assert_eq!(e.message, "Cannot delete entity, must delete policies first.");
    iam.delete_role_policy(ACCT, "r", "inline").unwrap();
    assert_eq!(
        iam.delete_role_policy(ACCT, "r", "inline").unwrap_err().message,
        "The role policy with name inline cannot be found."
    );
    iam.delete_role(ACCT, "r").unwrap();
    iam.delete_policy(ACCT, &arn).unwrap();
    assert_eq!(iam.get_policy(ACCT, &arn).unwrap_err().code, "NoSuchEntity");
}

#[test]
fn tags_merge_and_untag() {
    let iam = iam();
    iam.create_role(ACCT, role("r", None)).unwrap();
    iam.tag_role(ACCT, "r", vec![("a".into(), "1".into()), ("b".into(), "2".into())])
        .unwrap();
    iam.tag_role(ACCT, "r", vec![("A".into(), "3".into())]).unwrap();
    iam.untag_role(ACCT, "r", &["b".into()]).unwrap();
    let tags = iam.list_role_tags(ACCT, "r", None, None).unwrap();
    assert_eq!(tags.items, [("a".to_owned(), "3".to_owned())]);
    let many: Vec<_> = (0..50).map(|i| (format!("k{i}"), String::new())).collect();
    let e = iam.tag_role(ACCT, "r", many).unwrap_err();
    assert_eq!(e.code, "LimitExceeded");
}

#[test]
fn assume_role_and_caller_identity() {
    let iam = Iam::with_config(
        Arc::new(ManualClock::new(1_700_000_000_000)),
        IamConfig {
            max_sessions: 2,
            ..IamConfig::default()
        },
    );
    let r = iam.create_role(ACCT, role("deployer", None)).unwrap();
    let out = iam
        .assume_role(AssumeRole {
            role_arn: Some(r.arn.clone()),
            session_name: Some("ci".into()),
            ..AssumeRole::default()
        })
        .unwrap();
    assert!(out.credentials.access_key_id.starts_with("ASIA") && out.credentials.access_key_id.len() == 20);
    assert_eq!(out.credentials.expiration_millis, 1_700_000_000_000 + 3_600_000);
    assert_eq!(out.assumed_role_id, format!("{}:ci", r.id));
    assert_eq!(out.arn, "arn:aws:sts::123456789012:assumed-role/deployer/ci");
    let mut ctx = RequestContext {
        access_key: Some(out.credentials.access_key_id.clone()),
        ..RequestContext::default()
    };
    let me = iam.get_caller_identity(&ctx);
    assert_eq!((me.arn.as_str(), me.account.as_str()), (out.arn.as_str(), ACCT));
    ctx.access_key = Some("test".into());
    let root = iam.get_caller_identity(&ctx);
    assert_eq!(root.arn, "arn:aws:iam::000000000000:root");
    assert_eq!(root.user_id, "000000000000");
    // Too long for the role's MaxSessionDuration.
    let e = iam
        .assume_role(AssumeRole {
            role_arn: Some(r.arn.clone()),
            session_name: Some("ci".into()),
            duration_seconds: Some(7200),
            ..AssumeRole::default()
        })
        .unwrap_err();
    assert_eq!(
        e.message,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    );
    let e = iam
        .assume_role(AssumeRole {
            role_arn: Some(r.arn.clone()),
            session_name: Some("x".into()),
            ..AssumeRole::default()
        })
        .unwrap_err();
    assert!(e.message.contains("'roleSessionName'"));
    // The bound forgets the oldest sessions, counted.
    for s in ["s1", "s2"] {
        iam.assume_role(AssumeRole {
            role_arn: Some("arn:aws:iam::123456789012:role/unknown".into()),
            session_name: Some(s.into()),
            ..AssumeRole::default()
        })
        .unwrap();
    }
    assert_eq!(iam.sessions_dropped(), 1);
    ctx.access_key = Some(out.credentials.access_key_id);
    assert_eq!(iam.get_caller_identity(&ctx).arn, "arn:aws:iam::000000000000:root");
}
