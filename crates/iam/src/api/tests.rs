//! The wire edge: query parameters in, XML out.

use std::sync::Arc;

use bytes::Bytes;
use lb_core::{ManualClock, RequestContext};
use lb_protocol::{ApiRequest, Params, Protocol, Service};

use super::{IamApi, StsApi};
use crate::Iam;

fn request(service: &'static str, form: &str) -> ApiRequest {
    let params = Params::parse(None, form.as_bytes());
    let (parts, ()) = http::Request::post("/").body(()).unwrap().into_parts();
    ApiRequest {
        service,
        protocol: Protocol::Query,
        operation: params.action().unwrap_or("").to_owned().into(),
        parts,
        body: Bytes::new(),
        params: Some(params),
        ctx: RequestContext {
            request_id: "rid".into(),
            ..RequestContext::default()
        },
    }
}

async fn call(api: &dyn Service, service: &'static str, form: &str) -> (u16, String) {
    let r = api.handle(request(service, form)).await;
    (r.status().as_u16(), String::from_utf8(r.body().to_vec()).unwrap())
}

#[tokio::test]
async fn role_documents_are_url_encoded_and_errors_enveloped() {
    let iam = Arc::new(Iam::new(Arc::new(ManualClock::new(1_700_000_000_000))));
    let api = IamApi::new(iam.clone());
    let doc = "%7B%22Version%22%3A%20%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
    let (s, body) = call(
        &api,
        "iam",
        &format!("Action=CreateRole&RoleName=r&AssumeRolePolicyDocument={doc}"),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(body.starts_with("<?xml version=\"1.0\"?><CreateRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><CreateRoleResult><Role><Path>/</Path><RoleName>r</RoleName><RoleId>AROA"), "{body}");
    assert!(
        body.contains("<Arn>arn:aws:iam::000000000000:role/r</Arn><CreateDate>2023-11-14T22:13:20Z</CreateDate>"),
        "{body}"
    );
    assert!(
        body.contains(&format!("<AssumeRolePolicyDocument>{doc}</AssumeRolePolicyDocument>")),
        "{body}"
    );
    assert!(body.ends_with(
        "</CreateRoleResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></CreateRoleResponse>"
    ));
    let (s, body) = call(&api, "iam", "Action=DeleteRole&RoleName=r").await;
    assert_eq!((s, body.as_str()), (200, "<?xml version=\"1.0\"?><DeleteRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DeleteRoleResponse>"));
    let (s, body) = call(&api, "iam", "Action=GetRole&RoleName=r").await;
    assert_eq!(s, 404);
    assert_eq!(body, "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name r cannot be found.</Message></Error><RequestId>rid</RequestId></ErrorResponse>");
    let (s, body) = call(&api, "iam", "Action=GetRole").await;
    assert_eq!(s, 400);
    assert!(body.contains("<Code>ValidationError</Code><Message>1 validation error detected: Value null at &apos;roleName&apos; failed to satisfy constraint: Member must not be null</Message>"));
    let (s, body) = call(&api, "iam", "Action=Frobnicate").await;
    assert_eq!(s, 400);
    assert!(body.contains(
        "<Code>InvalidAction</Code><Message>Could not find operation Frobnicate for version 2010-05-08</Message>"
    ));
    let (s, _) = call(&api, "iam", "Action=ListPolicies").await;
    assert_eq!(s, 501);
    let (s, body) = call(&api, "iam", "Action=ListRoles&MaxItems=x").await;
    assert_eq!(s, 400, "{body}");
}

#[tokio::test]
async fn sts_answers_in_its_namespace() {
    let iam = Arc::new(Iam::new(Arc::new(ManualClock::new(1_700_000_000_000))));
    let sts = StsApi::new(iam);
    let (s, body) = call(&sts, "sts", "Action=GetCallerIdentity&Version=2011-06-15").await;
    assert_eq!(s, 200);
    assert_eq!(body, "<?xml version=\"1.0\"?><GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:root</Arn><UserId>000000000000</UserId><Account>000000000000</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetCallerIdentityResponse>");
    let (s, body) = call(
        &sts,
        "sts",
        "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=s&DurationSeconds=900",
    )
    .await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = call(
        &sts,
        "sts",
        "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=ss&DurationSeconds=900",
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(
        body.contains(
            "<Expiration>2023-11-14T22:28:20Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROA"
        ),
        "{body}"
    );
    assert!(
        body.contains(":ss</AssumedRoleId><Arn>arn:aws:sts::000000000000:assumed-role/r/ss</Arn></AssumedRoleUser>")
    );
}
