"""IAM and STS (minimal, stored and validated, not enforced), with boto3 and the AWS CLI against
the binary."""

import json
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from conftest import default_client, http

ACCOUNT = "000000000000"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}],
}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@pytest.fixture
def iam(endpoint):
    return default_client("iam", endpoint)


@pytest.fixture
def sts(endpoint):
    return default_client("sts", endpoint)


def error(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def test_role_lifecycle(iam):
    created = iam.create_role(
        RoleName="thumbs-exec",
        Path="/service/",
        AssumeRolePolicyDocument=json.dumps(TRUST),
        Description="thumbnails",
        Tags=[{"Key": "team", "Value": "media"}],
    )["Role"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/service/thumbs-exec"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    # botocore decodes the URL-encoded document AWS returns.
    assert created["AssumeRolePolicyDocument"] == TRUST
    assert created["Tags"] == [{"Key": "team", "Value": "media"}]

    got = iam.get_role(RoleName="THUMBS-EXEC")["Role"]
    assert {k: got[k] for k in ("RoleName", "Path", "RoleId", "Description", "MaxSessionDuration")} == {
        "RoleName": "thumbs-exec",
        "Path": "/service/",
        "RoleId": created["RoleId"],
        "Description": "thumbnails",
        "MaxSessionDuration": 3600,
    }
    assert got["CreateDate"] == created["CreateDate"]

    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="Thumbs-Exec", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert error(e) == ("EntityAlreadyExists", "Role with name Thumbs-Exec already exists.", 409)
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="bad", AssumeRolePolicyDocument="{nope")
    assert error(e) == ("MalformedPolicyDocument", "This policy contains invalid Json", 400)
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName="missing")
    assert error(e) == ("NoSuchEntity", "The role with name missing cannot be found.", 404)

    new_trust = dict(TRUST, Statement=[dict(TRUST["Statement"][0], Principal={"Service": "events.amazonaws.com"})])
    iam.update_assume_role_policy(RoleName="thumbs-exec", PolicyDocument=json.dumps(new_trust))
    assert iam.get_role(RoleName="thumbs-exec")["Role"]["AssumeRolePolicyDocument"] == new_trust

    iam.delete_role(RoleName="thumbs-exec")
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName="thumbs-exec")
    assert error(e)[0] == "NoSuchEntity"


def test_documents_are_returned_url_encoded(endpoint, iam):
    doc = '{"Version": "2012-10-17", "Statement": []}'
    iam.create_role(RoleName="raw", AssumeRolePolicyDocument=doc)
    auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"
    status, _, body = http(
        "POST",
        endpoint + "/",
        b"Action=GetRole&Version=2010-05-08&RoleName=raw",
        {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    encoded = urllib.parse.quote(doc, safe="")
    assert f"<AssumeRolePolicyDocument>{encoded}</AssumeRolePolicyDocument>".encode() in body
    assert b'<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">' in body


def test_list_roles_paginates_and_filters(iam):
    for name, path in [("r3", "/a/"), ("r1", "/"), ("r2", "/a/"), ("r4", "/b/")]:
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(TRUST))
    page = iam.list_roles(MaxItems=3)
    assert [r["RoleName"] for r in page["Roles"]] == ["r1", "r2", "r3"]
    assert page["IsTruncated"] is True
    rest = iam.list_roles(MaxItems=3, Marker=page["Marker"])
    assert [r["RoleName"] for r in rest["Roles"]] == ["r4"] and rest["IsTruncated"] is False
    assert "Tags" not in rest["Roles"][0] and "RoleLastUsed" not in rest["Roles"][0]
    names = [r["RoleName"] for p in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 1}) for r in p["Roles"]]
    assert names == ["r1", "r2", "r3", "r4"]
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/a/")["Roles"]] == ["r2", "r3"]


def test_inline_and_managed_policies_and_delete_conflicts(iam):
    iam.create_role(RoleName="worker", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="worker", PolicyName="logs", PolicyDocument=json.dumps(POLICY))
    got = iam.get_role_policy(RoleName="worker", PolicyName="logs")
    assert (got["RoleName"], got["PolicyName"], got["PolicyDocument"]) == ("worker", "logs", POLICY)
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == ["logs"]
    with pytest.raises(ClientError) as e:
        iam.get_role_policy(RoleName="worker", PolicyName="nope")
    assert error(e) == ("NoSuchEntity", "The role policy with name nope cannot be found.", 404)

    policy = iam.create_policy(PolicyName="write-logs", Path="/app/", PolicyDocument=json.dumps(POLICY),
                               Description="d")["Policy"]
    arn = f"arn:aws:iam::{ACCOUNT}:policy/app/write-logs"
    assert (policy["Arn"], policy["DefaultVersionId"], policy["AttachmentCount"]) == (arn, "v1", 0)
    assert policy["PolicyId"].startswith("ANPA")
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName="write-logs", PolicyDocument=json.dumps(POLICY))
    assert error(e)[0::2] == ("EntityAlreadyExists", 409)
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert (version["Document"], version["VersionId"], version["IsDefaultVersion"]) == (POLICY, "v1", True)
    with pytest.raises(ClientError) as e:
        iam.get_policy_version(PolicyArn=arn, VersionId="v2")
    assert error(e)[0] == "NoSuchEntity"

    iam.attach_role_policy(RoleName="worker", PolicyArn=arn)
    iam.attach_role_policy(RoleName="worker", PolicyArn=BASIC)
    assert iam.list_attached_role_policies(RoleName="worker")["AttachedPolicies"] == [
        {"PolicyName": "write-logs", "PolicyArn": arn},
        {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC},
    ]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    with pytest.raises(ClientError) as e:
        iam.attach_role_policy(RoleName="worker", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/none")
    assert error(e) == (
        "NoSuchEntity", f"Policy arn:aws:iam::{ACCOUNT}:policy/none does not exist or is not attachable.", 404)

    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName="worker")
    assert error(e) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert error(e) == ("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
    iam.detach_role_policy(RoleName="worker", PolicyArn=arn)
    iam.detach_role_policy(RoleName="worker", PolicyArn=BASIC)
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName="worker")
    assert error(e) == ("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
    iam.delete_role_policy(RoleName="worker", PolicyName="logs")
    iam.delete_role(RoleName="worker")
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn=arn)
    assert error(e) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)


def test_tags(iam):
    iam.create_role(RoleName="tagged", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.tag_role(RoleName="tagged", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.untag_role(RoleName="tagged", TagKeys=["a"])
    assert iam.list_role_tags(RoleName="tagged")["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as e:
        iam.tag_role(RoleName="tagged", Tags=[{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}])
    assert error(e)[0::2] == ("InvalidInput", 400)
    arn = iam.create_policy(PolicyName="p", PolicyDocument=json.dumps(POLICY))["Policy"]["Arn"]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    iam.untag_policy(PolicyArn=arn, TagKeys=["k"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == []


def test_validation_errors(iam):
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="has space", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert error(e) == (
        "ValidationError",
        "1 validation error detected: Value 'has space' at 'roleName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        400,
    )


def test_sts_caller_identity_and_assume_role(endpoint, iam, sts):
    me = sts.get_caller_identity()
    assert (me["Account"], me["Arn"], me["UserId"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    role = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ci-run", DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert creds["SecretAccessKey"] and creds["SessionToken"] and creds["Expiration"]
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:ci-run",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci-run",
    }
    # The temporary credentials work against localbridge, and STS knows whose they are.
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )
    assumed = session.client("sts", endpoint_url=endpoint).get_caller_identity()
    assert (assumed["Arn"], assumed["UserId"], assumed["Account"]) == (
        out["AssumedRoleUser"]["Arn"], out["AssumedRoleUser"]["AssumedRoleId"], ACCOUNT)
    assert session.client("iam", endpoint_url=endpoint).get_role(RoleName="deployer")["Role"]["Arn"] == role["Arn"]

    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ci", DurationSeconds=7200)
    assert error(e) == (
        "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.", 400)


def test_cli(aws, aws_raw, tmp_path):
    (tmp_path / "trust.json").write_text(json.dumps(TRUST))
    (tmp_path / "policy.json").write_text(json.dumps(POLICY))
    role = aws("iam", "create-role", "--role-name", "cli-role", "--assume-role-policy-document", "file://trust.json")
    assert role["Role"]["AssumeRolePolicyDocument"] == TRUST
    assert aws("iam", "get-role", "--role-name", "cli-role")["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/cli-role"
    assert [r["RoleName"] for r in aws("iam", "list-roles")["Roles"]] == ["cli-role"]
    aws("iam", "update-assume-role-policy", "--role-name", "cli-role", "--policy-document", "file://trust.json")
    aws("iam", "put-role-policy", "--role-name", "cli-role", "--policy-name", "inline",
        "--policy-document", "file://policy.json")
    assert aws("iam", "get-role-policy", "--role-name", "cli-role", "--policy-name", "inline")["PolicyDocument"] == POLICY
    assert aws("iam", "list-role-policies", "--role-name", "cli-role")["PolicyNames"] == ["inline"]
    arn = aws("iam", "create-policy", "--policy-name", "cli-policy", "--policy-document", "file://policy.json")["Policy"]["Arn"]
    assert aws("iam", "get-policy", "--policy-arn", arn)["Policy"]["PolicyName"] == "cli-policy"
    assert aws("iam", "get-policy-version", "--policy-arn", arn, "--version-id", "v1")["PolicyVersion"]["Document"] == POLICY
    aws("iam", "attach-role-policy", "--role-name", "cli-role", "--policy-arn", arn)
    assert aws("iam", "list-attached-role-policies", "--role-name", "cli-role")["AttachedPolicies"] == [
        {"PolicyName": "cli-policy", "PolicyArn": arn}]
    aws("iam", "tag-role", "--role-name", "cli-role", "--tags", "Key=env,Value=dev")
    assert aws("iam", "list-role-tags", "--role-name", "cli-role")["Tags"] == [{"Key": "env", "Value": "dev"}]
    aws("iam", "untag-role", "--role-name", "cli-role", "--tag-keys", "env")
    conflict = aws_raw("iam", "delete-role", "--role-name", "cli-role")
    assert conflict.returncode != 0 and "(DeleteConflict)" in conflict.stderr
    aws("iam", "detach-role-policy", "--role-name", "cli-role", "--policy-arn", arn)
    aws("iam", "delete-role-policy", "--role-name", "cli-role", "--policy-name", "inline")
    aws("iam", "delete-role", "--role-name", "cli-role")
    aws("iam", "delete-policy", "--policy-arn", arn)
    missing = aws_raw("iam", "get-role", "--role-name", "cli-role")
    assert "An error occurred (NoSuchEntity) when calling the GetRole operation: The role with name cli-role cannot be found." in missing.stderr

    assert aws("sts", "get-caller-identity") == {
        "UserId": ACCOUNT, "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root"}
    assumed = aws("sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/anything",
                  "--role-session-name", "cli")
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/anything/cli"
