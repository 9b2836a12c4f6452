//! AddPermission and RemovePermission.

use super::*;

#[test]
fn permissions_build_the_policy_aws_builds() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    let input = AddPermissionInput {
        label: "crossaccountpermission".into(),
        account_ids: vec!["111111111111".into(), "222222222222".into()],
        actions: vec!["ReceiveMessage".into()],
    };
    sqs.add_permission(&ctx, &q, input.clone()).unwrap();
    let policy: serde_json::Value = serde_json::from_str(&attr_map(&sqs, &ctx, &q)["Policy"]).unwrap();
    assert_eq!(
        policy,
        serde_json::json!({
            "Version": "2008-10-17",
            "Id": "arn:aws:sqs:us-east-1:000000000000:q/SQSDefaultPolicy",
            "Statement": [{
                "Sid": "crossaccountpermission",
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::111111111111:root", "arn:aws:iam::222222222222:root"]},
                "Action": "SQS:ReceiveMessage",
                "Resource": "arn:aws:sqs:us-east-1:000000000000:q"
            }]
        })
    );
    assert_eq!(
        sqs.add_permission(&ctx, &q, input).unwrap_err().message,
        "Value crossaccountpermission for parameter Label is invalid. Reason: Already exists."
    );
    sqs.remove_permission(&ctx, &q, "crossaccountpermission").unwrap();
    assert!(!attr_map(&sqs, &ctx, &q).contains_key("Policy"));
    assert_eq!(
        sqs.remove_permission(&ctx, &q, "crossaccountpermission")
            .unwrap_err()
            .message,
        "Value crossaccountpermission for parameter Label is invalid. Reason: can't find label."
    );
}
