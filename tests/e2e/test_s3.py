"""The S3 stub end to end: every object, bucket, multipart, versioning and tagging operation with
boto3, the main ones with the AWS CLI, presigned URLs and browser POST uploads with urllib,
against the real binary.

Expected values are AWS's: error codes, messages and HTTP statuses from the S3 error-code
documentation and botocore's model, ETags as AWS computes them (hex MD5; multipart: MD5 of the
concatenated binary part MD5s, then "-N"), checksums as S3 computes them (composite "-N" for
multipart uploads with a CRC32/CRC32C/SHA checksum).
"""

import base64
import datetime
import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import advance_clock, http

MIB = 1024 * 1024
OWNER_ID = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"


# --------------------------------------------------------------------------------------------
# helpers


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def b64(raw):
    return base64.b64encode(raw).decode()


def crc32_b64(data):
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def crc64nvme(data):
    crc = 0xFFFFFFFFFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x9A6C9329AC4BC9B5 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def crc64nvme_b64(data):
    return b64(crc64nvme(data).to_bytes(8, "big"))


def sha256_b64(data):
    return b64(hashlib.sha256(data).digest())


def multipart_etag(parts):
    return '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest(), len(parts))


def error_of(fn, *args, **kwargs):
    with pytest.raises(ClientError) as ei:
        fn(*args, **kwargs)
    return ei.value.response


def code_of(fn, *args, **kwargs):
    r = error_of(fn, *args, **kwargs)
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def detail_fields(response):
    """The extra elements of the error document (Key, BucketName, Condition, ...), with the ids."""
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert "x-localbridge-error-fields" not in headers
    assert response["Error"].get("RequestId", headers["x-amz-request-id"]) == headers["x-amz-request-id"]
    assert response["ResponseMetadata"]["HostId"] == headers["x-amz-id-2"]
    return response["Error"]


def client(endpoint, region="us-east-1", **s3config):
    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=region
    ).client(
        "s3",
        endpoint_url=endpoint,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path", **s3config}),
    )


@pytest.fixture
def bucket(s3):
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def versioned(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


# --------------------------------------------------------------------------------------------
# buckets


def test_bucket_lifecycle(s3, endpoint):
    assert s3.list_buckets()["Buckets"] == []
    r = s3.create_bucket(Bucket="photos")
    assert r["Location"] == "/photos"
    meta = r["ResponseMetadata"]["HTTPHeaders"]
    assert len(meta["x-amz-request-id"]) == 16 and len(meta["x-amz-id-2"]) == 64
    # us-east-1: re-creating your own bucket answers 200 (legacy behaviour).
    s3.create_bucket(Bucket="photos")
    listed = s3.list_buckets()
    assert [b["Name"] for b in listed["Buckets"]] == ["photos"]
    assert listed["Owner"]["ID"] == OWNER_ID
    assert isinstance(listed["Buckets"][0]["CreationDate"], datetime.datetime)

    head = s3.head_bucket(Bucket="photos")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert s3.get_bucket_location(Bucket="photos")["LocationConstraint"] is None

    assert code_of(s3.head_bucket, Bucket="missing-bucket") == ("404", 404)
    r = error_of(s3.get_bucket_location, Bucket="missing-bucket")
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchBucket", 404)
    assert r["Error"]["Message"] == "The specified bucket does not exist"
    assert detail_fields(r)["BucketName"] == "missing-bucket"

    s3.put_object(Bucket="photos", Key="k", Body=b"x")
    r = error_of(s3.delete_bucket, Bucket="photos")
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket="photos", Key="k")
    assert s3.delete_bucket(Bucket="photos")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert code_of(s3.delete_bucket, Bucket="photos") == ("NoSuchBucket", 404)


def test_bucket_names_and_location_constraints(s3, endpoint):
    for bad in ["ab", "UpperCase", "under_score", "-dash", "a..b", "192.168.5.4", "x" * 64]:
        assert code_of(s3.create_bucket, Bucket=bad)[0] == "InvalidBucketName", bad

    r = s3.create_bucket(Bucket="in-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert r["Location"] == "http://in-eu.s3.amazonaws.com/"
    assert s3.get_bucket_location(Bucket="in-eu")["LocationConstraint"] == "eu-west-1"
    assert code_of(
        s3.create_bucket, Bucket="explicit-use1", CreateBucketConfiguration={"LocationConstraint": "us-east-1"}
    ) == ("InvalidLocationConstraint", 400)

    eu = client(endpoint, region="eu-west-1")
    assert code_of(eu.create_bucket, Bucket="no-constraint") == ("IllegalLocationConstraintException", 400)
    assert code_of(
        eu.create_bucket, Bucket="wrong-region", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    ) == ("IllegalLocationConstraintException", 400)
    eu.create_bucket(Bucket="eu-own", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    r = error_of(eu.create_bucket, Bucket="eu-own", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("BucketAlreadyOwnedByYou", 409)
    regions = {b["Name"]: b.get("BucketRegion") for b in s3.list_buckets()["Buckets"]}
    assert regions == {"in-eu": "eu-west-1", "eu-own": "eu-west-1"}
    page = s3.list_buckets(MaxBuckets=1)
    assert [b["Name"] for b in page["Buckets"]] == ["eu-own"]
    rest = s3.list_buckets(MaxBuckets=1, ContinuationToken=page["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == ["in-eu"] and "ContinuationToken" not in rest
    assert [b["Name"] for b in s3.list_buckets(Prefix="in-")["Buckets"]] == ["in-eu"]


# --------------------------------------------------------------------------------------------
# objects


def test_put_get_head_with_metadata_and_standard_headers(s3, bucket):
    body = b"hello world"
    r = s3.put_object(Bucket=bucket, Key="plain.bin", Body=body)
    assert r["ETag"] == f'"{md5_hex(body)}"'
    assert "VersionId" not in r
    got = s3.get_object(Bucket=bucket, Key="plain.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "binary/octet-stream"
    assert got["ContentLength"] == len(body)
    assert got["ETag"] == f'"{md5_hex(body)}"'
    assert got["AcceptRanges"] == "bytes"
    assert got["ServerSideEncryption"] == "AES256"

    expires = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    s3.put_object(
        Bucket=bucket,
        Key="dir/page.html",
        Body=b"<h1>hi</h1>",
        ContentType="text/html; charset=utf-8",
        ContentEncoding="identity",
        ContentDisposition='attachment; filename="page.html"',
        CacheControl="max-age=60",
        ContentLanguage="en-GB",
        Expires=expires,
        Metadata={"Camera": "x100", "owner": "ada"},
    )
    head = s3.head_object(Bucket=bucket, Key="dir/page.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head["ContentEncoding"] == "identity"
    assert head["ContentDisposition"] == 'attachment; filename="page.html"'
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentLanguage"] == "en-GB"
    assert head["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    assert head["Metadata"] == {"camera": "x100", "owner": "ada"}
    assert head["ContentLength"] == 11

    # Response header overrides on GET.
    got = s3.get_object(
        Bucket=bucket, Key="dir/page.html", ResponseContentType="text/plain", ResponseCacheControl="no-cache"
    )
    assert (got["ContentType"], got["CacheControl"]) == ("text/plain", "no-cache")

    r = error_of(s3.get_object, Bucket=bucket, Key="no/such key")
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchKey", 404)
    assert r["Error"]["Message"] == "The specified key does not exist."
    assert detail_fields(r)["Key"] == "no/such key"
    assert code_of(s3.head_object, Bucket=bucket, Key="nope") == ("404", 404)
    assert code_of(s3.get_object, Bucket="no-such-bucket-x", Key="k") == ("NoSuchBucket", 404)


def test_unicode_and_awkward_keys_round_trip(s3, bucket):
    keys = ["a b+c", "ü/ñ/漢字.txt", "semi;colon&amp=eq", "trailing/", "x" * 1024, "%2F literal"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    for k in keys:
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())
    assert code_of(s3.put_object, Bucket=bucket, Key="y" * 1025, Body=b"")[0] == "KeyTooLongError"


def test_content_md5(s3, bucket):
    body = b"payload"
    good = b64(hashlib.md5(body).digest())
    s3.put_object(Bucket=bucket, Key="k", Body=body, ContentMD5=good)
    r = error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"other", ContentMD5=good)
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("BadDigest", 400)
    assert r["Error"]["Message"] == "The Content-MD5 you specified did not match what we received."
    assert code_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ContentMD5="not-base64!") == ("InvalidDigest", 400)
    # The failed writes changed nothing.
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body


def test_checksums_are_validated_stored_and_returned(s3, bucket):
    body = b"checksummed body"
    # boto3 sends CRC32 by default.
    r = s3.put_object(Bucket=bucket, Key="crc32", Body=body)
    assert r["ChecksumCRC32"] == crc32_b64(body)
    assert r["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="crc32", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == crc32_b64(body)
    assert got["Body"].read() == body

    r = s3.put_object(Bucket=bucket, Key="sha256", Body=body, ChecksumAlgorithm="SHA256")
    assert r["ChecksumSHA256"] == sha256_b64(body)
    head = s3.head_object(Bucket=bucket, Key="sha256", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == sha256_b64(body)
    assert head["ChecksumType"] == "FULL_OBJECT"

    # CRC64NVME (botocore needs awscrt to compute it; the value is sent precomputed).
    r = s3.put_object(Bucket=bucket, Key="crc64", Body=body, ChecksumCRC64NVME=crc64nvme_b64(body))
    assert r["ChecksumCRC64NVME"] == crc64nvme_b64(body)
    got = s3.get_object(Bucket=bucket, Key="crc64", ChecksumMode="ENABLED")
    assert got["ChecksumCRC64NVME"] == crc64nvme_b64(body)
    s3.put_object(Bucket=bucket, Key="crc32c", Body=body, ChecksumCRC32C=b64(crc32c(body).to_bytes(4, "big")))
    got = s3.head_object(Bucket=bucket, Key="crc32c", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32C"] == b64(crc32c(body).to_bytes(4, "big"))

    r = error_of(s3.put_object, Bucket=bucket, Key="bad", Body=body, ChecksumSHA256=sha256_b64(b"other"))
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("BadDigest", 400)
    assert r["Error"]["Message"] == "The SHA256 you specified did not match the calculated checksum."
    r = error_of(s3.put_object, Bucket=bucket, Key="bad", Body=body, ChecksumCRC64NVME=crc64nvme_b64(b"x"))
    assert r["Error"]["Message"] == "The CRC64NVME you specified did not match the calculated checksum."
    assert code_of(s3.head_object, Bucket=bucket, Key="bad") == ("404", 404)

    # Without ChecksumMode no checksum headers (botocore enables it on GetObject by itself, not
    # on HeadObject); a ranged read never carries the whole object's.
    assert "ChecksumCRC32" not in s3.head_object(Bucket=bucket, Key="crc32")
    ranged = s3.get_object(Bucket=bucket, Key="crc32", Range="bytes=0-3", ChecksumMode="ENABLED")
    assert "ChecksumCRC32" not in ranged and ranged["Body"].read() == body[:4]


def test_range_reads(s3, bucket):
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    cases = {
        "bytes=0-9": (body[:10], "bytes 0-9/1024"),
        "bytes=1000-": (body[1000:], "bytes 1000-1023/1024"),
        "bytes=-24": (body[-24:], "bytes 1000-1023/1024"),
        "bytes=1020-5000": (body[1020:], "bytes 1020-1023/1024"),
        "bytes=-5000": (body, "bytes 0-1023/1024"),
    }
    for rng, (data, content_range) in cases.items():
        got = s3.get_object(Bucket=bucket, Key="r", Range=rng)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206, rng
        assert got["ContentRange"] == content_range, rng
        assert got["ContentLength"] == len(data)
        assert got["Body"].read() == data, rng
    r = error_of(s3.get_object, Bucket=bucket, Key="r", Range="bytes=1024-")
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidRange", 416)
    assert r["Error"]["Message"] == "The requested range is not satisfiable"
    assert r["ResponseMetadata"]["HTTPHeaders"]["content-range"] == "bytes */1024"
    assert detail_fields(r)["ActualObjectSize"] == "1024"


def test_conditional_reads(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    lm = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    past = lm - datetime.timedelta(days=1)
    future = lm + datetime.timedelta(days=1)

    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    r = error_of(s3.get_object, Bucket=bucket, Key="c", IfMatch='"0000"')
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("PreconditionFailed", 412)
    assert r["Error"]["Message"] == "At least one of the pre-conditions you specified did not hold"
    assert detail_fields(r)["Condition"] == "If-Match"

    r = error_of(s3.get_object, Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert r["ResponseMetadata"]["HTTPHeaders"]["etag"] == etag
    assert s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"0000"')["Body"].read() == b"v1"

    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)["Body"].read() == b"v1"
    assert error_of(s3.get_object, Bucket=bucket, Key="c", IfModifiedSince=future)["ResponseMetadata"][
        "HTTPStatusCode"
    ] == 304
    assert s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=future)["Body"].read() == b"v1"
    assert code_of(s3.get_object, Bucket=bucket, Key="c", IfUnmodifiedSince=past) == ("PreconditionFailed", 412)
    # If-Match true overrides a failing If-Unmodified-Since; If-None-Match false wins over IMS.
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=past)["Body"].read() == b"v1"
    assert s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"0"', IfModifiedSince=future)["Body"].read() == b"v1"
    # HEAD answers the same way.
    assert code_of(s3.head_object, Bucket=bucket, Key="c", IfMatch='"0000"') == ("412", 412)
    assert code_of(s3.head_object, Bucket=bucket, Key="c", IfNoneMatch=etag) == ("304", 304)

    # Conditional writes.
    r = error_of(s3.put_object, Bucket=bucket, Key="c", Body=b"v2", IfNoneMatch="*")
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("PreconditionFailed", 412)
    s3.put_object(Bucket=bucket, Key="fresh", Body=b"x", IfNoneMatch="*")
    assert code_of(s3.put_object, Bucket=bucket, Key="c", Body=b"v2", IfMatch='"0000"')[1] == 412
    s3.put_object(Bucket=bucket, Key="c", Body=b"v2", IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"v2"


def test_delete_object_and_delete_objects(s3, bucket):
    for k in ["a", "b", "c"]:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    r = s3.delete_object(Bucket=bucket, Key="a")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    # Deleting a missing key succeeds, as on AWS.
    assert s3.delete_object(Bucket=bucket, Key="a")["ResponseMetadata"]["HTTPStatusCode"] == 204

    r = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "b"}, {"Key": "c"}, {"Key": "never-existed"}, {"Key": "v", "VersionId": "bad!"}]},
    )
    assert sorted(d["Key"] for d in r["Deleted"]) == ["b", "c", "never-existed"]
    assert r["Errors"] == [
        {"Key": "v", "VersionId": "bad!", "Code": "InvalidArgument", "Message": "Invalid version id specified"}
    ]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)

    s3.put_object(Bucket=bucket, Key="q", Body=b"q")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "q"}], "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    assert code_of(s3.head_object, Bucket=bucket, Key="q") == ("404", 404)


def test_copy_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"source", ContentType="text/plain", Metadata={"a": "1"}, Tagging="t=1")
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == f'"{md5_hex(b"source")}"'
    assert isinstance(r["CopyObjectResult"]["LastModified"], datetime.datetime)
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert (head["ContentType"], head["Metadata"]) == ("text/plain", {"a": "1"})
    assert s3.get_object_tagging(Bucket=bucket, Key="dst")["TagSet"] == [{"Key": "t", "Value": "1"}]

    s3.copy_object(
        Bucket=bucket,
        Key="replaced",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        ContentType="application/json",
        Metadata={"b": "2"},
        TaggingDirective="REPLACE",
        Tagging="u=2",
    )
    head = s3.head_object(Bucket=bucket, Key="replaced")
    assert (head["ContentType"], head["Metadata"]) == ("application/json", {"b": "2"})
    assert s3.get_object_tagging(Bucket=bucket, Key="replaced")["TagSet"] == [{"Key": "u", "Value": "2"}]

    r = error_of(s3.copy_object, Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidRequest", 400)
    assert r["Error"]["Message"].startswith("This copy request is illegal because it is trying to copy an object to itself")
    # Copying onto itself with REPLACE changes the metadata.
    s3.copy_object(
        Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"}, MetadataDirective="REPLACE", Metadata={"c": "3"}
    )
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"c": "3"}

    other = f"o-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=other)
    s3.copy_object(Bucket=other, Key="x", CopySource={"Bucket": bucket, "Key": "src"})
    assert s3.get_object(Bucket=other, Key="x")["Body"].read() == b"source"
    assert code_of(s3.copy_object, Bucket=bucket, Key="z", CopySource={"Bucket": bucket, "Key": "missing"}) == (
        "NoSuchKey",
        404,
    )
    assert code_of(
        s3.copy_object, Bucket=bucket, Key="z", CopySource={"Bucket": bucket, "Key": "src"}, CopySourceIfMatch='"0"'
    ) == ("PreconditionFailed", 412)


def test_copy_from_a_version(s3, versioned):
    b = versioned
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket=b, Key="k", Body=b"two")
    r = s3.copy_object(Bucket=b, Key="k", CopySource={"Bucket": b, "Key": "k", "VersionId": v1})
    assert r["CopySourceVersionId"] == v1
    assert r["VersionId"] not in (None, v1)
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"one"
    assert len(s3.list_object_versions(Bucket=b)["Versions"]) == 3


# --------------------------------------------------------------------------------------------
# listing


def test_list_objects_v2(s3, bucket):
    keys = ["a/1", "a/2", "a/b/3", "b", "c/4", "c d", "d+e"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in r["Contents"]] == sorted(keys)
    assert (r["KeyCount"], r["IsTruncated"], r["MaxKeys"], r["Name"]) == (7, False, 1000, bucket)
    o = r["Contents"][0]
    assert (o["Size"], o["ETag"], o["StorageClass"]) == (1, f'"{md5_hex(b"x")}"', "STANDARD")
    assert "Owner" not in o
    assert "Owner" in s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]

    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["b", "c d", "d+e"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "c/"]
    assert r["KeyCount"] == 5
    r = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/b/"]

    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=2)
    assert (len(r["Contents"]), r["IsTruncated"], r["KeyCount"]) == (2, True, 2)
    r2 = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, ContinuationToken=r["NextContinuationToken"])
    assert [o["Key"] for o in r2["Contents"]] == ["a/b/3", "b"]
    assert r2["ContinuationToken"] == r["NextContinuationToken"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, StartAfter="c d")["Contents"]] == ["c/4", "d+e"]

    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1})
    seen = []
    for page in pages:
        seen += [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert seen == ["a/", "b", "c d", "c/", "d+e"]

    # encoding-type=url: boto3 sets it itself and decodes the keys again; asked for explicitly,
    # the encoded values come through (unreserved characters and "/" stay as they are).
    r = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix="c")
    assert [o["Key"] for o in r["Contents"]] == ["c%20d", "c/4"]
    r = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix="d+")
    assert (r["Prefix"], r["Contents"][0]["Key"], r["EncodingType"]) == ("d%2B", "d%2Be", "url")
    raw = s3.list_objects_v2(Bucket=bucket, Prefix="c d")
    assert raw["Contents"][0]["Key"] == "c d"
    assert code_of(s3.list_objects_v2, Bucket=bucket, ContinuationToken="%%%")[0] == "InvalidArgument"
    assert s3.list_objects_v2(Bucket=bucket, MaxKeys=0)["KeyCount"] == 0


def test_list_objects_v1(s3, bucket):
    for k in ["a", "b/1", "b/2", "c"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert [o["Key"] for o in r["Contents"]] == ["a", "b/1"]
    assert r["IsTruncated"] and "NextMarker" not in r
    assert r["Contents"][0]["Owner"]["ID"] == OWNER_ID
    r = s3.list_objects(Bucket=bucket, Marker="b/1")
    assert [o["Key"] for o in r["Contents"]] == ["b/2", "c"]
    assert r["Marker"] == "b/1"
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert r["NextMarker"] == "b/" and r["IsTruncated"]
    r = s3.list_objects(Bucket=bucket, Delimiter="/", Marker="b/")
    assert [o["Key"] for o in r["Contents"]] == ["c"] and "CommonPrefixes" not in r
    keys = [o["Key"] for p in s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1}) for o in p["Contents"]]
    assert keys == ["a", "b/1", "b/2", "c"]


# --------------------------------------------------------------------------------------------
# multipart


def test_multipart_upload(s3, bucket):
    parts_data = [os.urandom(5 * MIB), os.urandom(5 * MIB), b"tail"]
    up = s3.create_multipart_upload(Bucket=bucket, Key="big", ContentType="video/mp4", Metadata={"m": "1"})
    uid = up["UploadId"]
    assert (up["Bucket"], up["Key"]) == (bucket, "big")
    etags = []
    for n, data in enumerate(parts_data, 1):
        r = s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=n, Body=data)
        assert r["ETag"] == f'"{md5_hex(data)}"'
        etags.append(r["ETag"])

    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == [("big", uid)]
    parts = s3.list_parts(Bucket=bucket, Key="big", UploadId=uid)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts["Parts"]] == [
        (n, e, len(d)) for n, (e, d) in enumerate(zip(etags, parts_data), 1)
    ]
    page = s3.list_parts(Bucket=bucket, Key="big", UploadId=uid, MaxParts=1, PartNumberMarker=1)
    assert [p["PartNumber"] for p in page["Parts"]] == [2] and page["IsTruncated"]
    assert page["NextPartNumberMarker"] == 2

    done = {"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]}
    r = error_of(
        s3.complete_multipart_upload,
        Bucket=bucket,
        Key="big",
        UploadId=uid,
        MultipartUpload={"Parts": [done["Parts"][1], done["Parts"][0]]},
    )
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidPartOrder", 400)
    r = error_of(
        s3.complete_multipart_upload,
        Bucket=bucket,
        Key="big",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]},
    )
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidPart", 400)

    r = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=uid, MultipartUpload=done)
    assert r["ETag"] == multipart_etag(parts_data)
    assert (r["Bucket"], r["Key"]) == (bucket, "big")
    assert r["Location"].endswith(f"/{bucket}/big")
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == b"".join(parts_data)
    assert (got["ContentType"], got["Metadata"], got["ETag"]) == ("video/mp4", {"m": "1"}, multipart_etag(parts_data))
    part2 = s3.get_object(Bucket=bucket, Key="big", PartNumber=2)
    assert part2["Body"].read() == parts_data[1]
    assert part2["PartsCount"] == 3 and part2["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.head_object(Bucket=bucket, Key="big", PartNumber=3)["ContentLength"] == 4
    assert code_of(s3.get_object, Bucket=bucket, Key="big", PartNumber=4) == ("InvalidPartNumber", 416)

    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    r = error_of(s3.complete_multipart_upload, Bucket=bucket, Key="big", UploadId=uid, MultipartUpload=done)
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchUpload", 404)
    assert detail_fields(r)["UploadId"] == uid


def test_multipart_errors_abort_and_part_copy(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=1, Body=b"a" * 100)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=2, Body=b"b")["ETag"]
    r = error_of(
        s3.complete_multipart_upload,
        Bucket=bucket,
        Key="small",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("EntityTooSmall", 400)
    assert r["Error"]["Message"] == "Your proposed upload is smaller than the minimum allowed size"
    assert code_of(s3.upload_part, Bucket=bucket, Key="small", UploadId=uid, PartNumber=10001, Body=b"x")[0] == (
        "InvalidArgument"
    )
    assert s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=uid)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert code_of(s3.abort_multipart_upload, Bucket=bucket, Key="small", UploadId=uid) == ("NoSuchUpload", 404)
    assert code_of(s3.list_parts, Bucket=bucket, Key="small", UploadId=uid) == ("NoSuchUpload", 404)
    assert code_of(s3.upload_part, Bucket=bucket, Key="small", UploadId="nope", PartNumber=1, Body=b"x") == (
        "NoSuchUpload",
        404,
    )

    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    p1 = s3.upload_part_copy(
        Bucket=bucket, Key="assembled", UploadId=uid, PartNumber=1, CopySource={"Bucket": bucket, "Key": "source"},
        CopySourceRange=f"bytes=0-{5 * MIB - 1}",
    )
    p2 = s3.upload_part_copy(
        Bucket=bucket, Key="assembled", UploadId=uid, PartNumber=2, CopySource=f"{bucket}/source",
        CopySourceRange=f"bytes={5 * MIB}-{6 * MIB - 1}",
    )
    assert p1["CopyPartResult"]["ETag"] == f'"{md5_hex(source[:5 * MIB])}"'
    assert code_of(
        s3.upload_part_copy, Bucket=bucket, Key="assembled", UploadId=uid, PartNumber=3,
        CopySource=f"{bucket}/source", CopySourceRange=f"bytes=0-{6 * MIB}",
    )[0] == "InvalidArgument"
    s3.complete_multipart_upload(
        Bucket=bucket, Key="assembled", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
                                   {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]},
    )
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source


def test_multipart_checksums(s3, bucket):
    parts_data = [os.urandom(5 * MIB), b"last part"]

    # CRC32, COMPOSITE: the checksum of the part checksums, "-N".
    uid = s3.create_multipart_upload(Bucket=bucket, Key="crc", ChecksumAlgorithm="CRC32")["UploadId"]
    done = []
    for n, data in enumerate(parts_data, 1):
        r = s3.upload_part(Bucket=bucket, Key="crc", UploadId=uid, PartNumber=n, Body=data, ChecksumAlgorithm="CRC32")
        assert r["ChecksumCRC32"] == crc32_b64(data)
        done.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    r = s3.complete_multipart_upload(Bucket=bucket, Key="crc", UploadId=uid, MultipartUpload={"Parts": done})
    raw = b"".join(zlib.crc32(d).to_bytes(4, "big") for d in parts_data)
    assert r["ChecksumCRC32"] == f"{crc32_b64(raw)}-2"
    assert r["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (f"{crc32_b64(raw)}-2", "COMPOSITE")
    # botocore skips validating "-N" values, so a checksum-mode GET works.
    assert s3.get_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")["Body"].read() == b"".join(parts_data)
    # A part read carries that part's checksum (which botocore validates).
    part = s3.get_object(Bucket=bucket, Key="crc", PartNumber=2, ChecksumMode="ENABLED")
    assert (part["ChecksumCRC32"], part["Body"].read()) == (crc32_b64(parts_data[1]), parts_data[1])

    # SHA256 composite; missing part checksums in the completion are an error.
    uid = s3.create_multipart_upload(Bucket=bucket, Key="sha", ChecksumAlgorithm="SHA256")["UploadId"]
    r = s3.upload_part(Bucket=bucket, Key="sha", UploadId=uid, PartNumber=1, Body=b"only", ChecksumAlgorithm="SHA256")
    assert r["ChecksumSHA256"] == sha256_b64(b"only")
    err = error_of(
        s3.complete_multipart_upload, Bucket=bucket, Key="sha", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]},
    )
    assert err["Error"]["Code"] == "InvalidRequest"
    r = s3.complete_multipart_upload(
        Bucket=bucket, Key="sha", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]}]},
    )
    assert r["ChecksumSHA256"] == f"{b64(hashlib.sha256(hashlib.sha256(b'only').digest()).digest())}-1"

    # CRC64NVME is always FULL_OBJECT: the CRC of the whole object.
    up = s3.create_multipart_upload(Bucket=bucket, Key="c64", ChecksumAlgorithm="CRC64NVME")
    assert up["ChecksumType"] == "FULL_OBJECT"
    done = []
    for n, data in enumerate(parts_data, 1):
        r = s3.upload_part(
            Bucket=bucket, Key="c64", UploadId=up["UploadId"], PartNumber=n, Body=data, ChecksumCRC64NVME=crc64nvme_b64(data)
        )
        done.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC64NVME": r["ChecksumCRC64NVME"]})
    r = s3.complete_multipart_upload(Bucket=bucket, Key="c64", UploadId=up["UploadId"], MultipartUpload={"Parts": done})
    assert (r["ChecksumCRC64NVME"], r["ChecksumType"]) == (crc64nvme_b64(b"".join(parts_data)), "FULL_OBJECT")

    # A part checksum for another algorithm than the upload's is refused.
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mix", ChecksumAlgorithm="SHA256")["UploadId"]
    assert code_of(s3.upload_part, Bucket=bucket, Key="mix", UploadId=uid, PartNumber=1, Body=b"x")[0] == "InvalidRequest"


# --------------------------------------------------------------------------------------------
# versioning


def test_versioning(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"pre")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert len({v1, v2}) == 2 and all(len(v) >= 32 for v in (v1, v2))
    for v in (v1, v2):
        assert all(c.isalnum() or c in "-_.~" for c in v), v
    assert s3.get_object(Bucket=bucket, Key="k")["VersionId"] == v2
    got = s3.get_object(Bucket=bucket, Key="k", VersionId=v1)
    assert (got["Body"].read(), got["VersionId"]) == (b"one", v1)
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"pre"
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=v1)["ContentLength"] == 3

    d = s3.delete_object(Bucket=bucket, Key="k")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    r = error_of(s3.get_object, Bucket=bucket, Key="k")
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchKey", 404)
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    r = error_of(s3.get_object, Bucket=bucket, Key="k", VersionId=marker)
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("MethodNotAllowed", 405)
    r = error_of(s3.get_object, Bucket=bucket, Key="k", VersionId="A" * 32)
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchVersion", 404)
    assert code_of(s3.get_object, Bucket=bucket, Key="k", VersionId="not a version")[0] == "InvalidArgument"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)

    lv = s3.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in lv["Versions"]] == [(v2, False), (v1, False), ("null", False)]
    assert [(m["VersionId"], m["IsLatest"], m["Key"]) for m in lv["DeleteMarkers"]] == [(marker, True, "k")]
    page = s3.list_object_versions(Bucket=bucket, MaxKeys=2)
    assert page["IsTruncated"] and (page["NextKeyMarker"], page["NextVersionIdMarker"]) == ("k", v2)
    rest = s3.list_object_versions(Bucket=bucket, KeyMarker="k", VersionIdMarker=v2)
    assert [v["VersionId"] for v in rest["Versions"]] == [v1, "null"]

    # Deleting the marker brings v2 back; deleting a version removes it for good.
    d = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert (d["DeleteMarker"], d["VersionId"]) == (True, marker)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)["VersionId"] == v2
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"

    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}, {"Key": "k", "VersionId": v1}]})
    by_version = {d.get("VersionId"): d for d in r["Deleted"]}
    assert by_version[None]["DeleteMarker"] is True and by_version[None]["DeleteMarkerVersionId"]
    assert by_version[v1]["Key"] == "k"


def test_suspended_versioning_uses_null(s3, versioned):
    b = versioned
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"
    # Writes to a bucket with versioning suspended answer no VersionId (recorded from AWS), on
    # every write path: PutObject, CopyObject, CompleteMultipartUpload. Reads name "null".
    assert "VersionId" not in s3.put_object(Bucket=b, Key="k", Body=b"n1")
    assert s3.head_object(Bucket=b, Key="k")["VersionId"] == "null"
    assert "VersionId" not in s3.copy_object(Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "k"})
    mpu = s3.create_multipart_upload(Bucket=b, Key="m")
    part = s3.upload_part(Bucket=b, Key="m", UploadId=mpu["UploadId"], PartNumber=1, Body=b"part")
    done = s3.complete_multipart_upload(
        Bucket=b, Key="m", UploadId=mpu["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    assert "VersionId" not in done
    s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "c", "VersionId": "null"}, {"Key": "m", "VersionId": "null"}]})
    s3.put_object(Bucket=b, Key="k", Body=b"n2")
    versions = s3.list_object_versions(Bucket=b)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (v1, False)]
    assert s3.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read() == b"n2"
    d = s3.delete_object(Bucket=b, Key="k")
    assert (d["DeleteMarker"], d["VersionId"]) == (True, "null")
    lv = s3.list_object_versions(Bucket=b)
    assert [v["VersionId"] for v in lv["Versions"]] == [v1]
    assert [m["VersionId"] for m in lv["DeleteMarkers"]] == ["null"]


# --------------------------------------------------------------------------------------------
# tagging


def test_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1&b=two%20words")
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 2
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [
        {"Key": "a", "Value": "1"},
        {"Key": "b", "Value": "two words"},
    ]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "c", "Value": ""}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "c", "Value": ""}]
    assert s3.delete_object_tagging(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []

    eleven = {"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]}
    r = error_of(s3.put_object_tagging, Bucket=bucket, Key="k", Tagging=eleven)
    assert (r["Error"]["Code"], r["Error"]["Message"]) == ("BadRequest", "Object tags cannot be greater than 10")
    ten = {"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(10)]}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=ten)
    r = error_of(s3.put_object_tagging, Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "k" * 129, "Value": "v"}]})
    assert (r["Error"]["Code"], r["Error"]["Message"]) == ("InvalidTag", "The TagKey you have provided is too long, max 128")
    r = error_of(s3.put_object_tagging, Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "k", "Value": "v" * 257}]})
    assert (r["Error"]["Code"], r["Error"]["Message"]) == ("InvalidTag", "The TagValue you have provided is too long, max 256")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "k" * 128, "Value": "v" * 256}]})
    assert code_of(s3.put_object, Bucket=bucket, Key="t", Body=b"", Tagging="&".join(f"k{i}=v" for i in range(11)))[0] == (
        "BadRequest"
    )
    assert code_of(s3.get_object_tagging, Bucket=bucket, Key="missing") == ("NoSuchKey", 404)


def test_tagging_versions(s3, versioned):
    b = versioned
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    s3.put_object(Bucket=b, Key="k", Body=b"2", Tagging="v=2")
    r = s3.get_object_tagging(Bucket=b, Key="k", VersionId=v1)
    assert (r["TagSet"], r["VersionId"]) == ([{"Key": "v", "Value": "1"}], v1)
    assert s3.put_object_tagging(Bucket=b, Key="k", VersionId=v1, Tagging={"TagSet": []})["VersionId"] == v1


# --------------------------------------------------------------------------------------------
# presigned URLs, browser POST, virtual hosts


def test_presigned_get_and_put(s3, bucket):
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre.txt"}, ExpiresIn=300)
    status, _, _ = http("PUT", put_url, body=b"presigned body")
    assert status == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre.txt"}, ExpiresIn=300)
    status, headers, body = http("GET", get_url)
    assert (status, body) == (200, b"presigned body")
    assert headers["etag"] == f'"{md5_hex(b"presigned body")}"'
    status, _, body = http("GET", get_url, headers={"Range": "bytes=0-8"})
    assert (status, body) == (206, b"presigned")
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre.txt"}, ExpiresIn=-10)
    assert http("GET", expired)[0] == 403


def _multipart_form(fields, filename, content):
    boundary = uuid.uuid4().hex
    out = b""
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def test_browser_post_upload(s3, bucket):
    post = s3.generate_presigned_post(bucket, "uploads/photo.jpg", ExpiresIn=300)
    body, ctype = _multipart_form(post["fields"], "photo.jpg", b"posted bytes")
    status, headers, _ = http("POST", post["url"], body=body, headers={"Content-Type": ctype})
    assert status == 204
    assert headers["etag"] == f'"{md5_hex(b"posted bytes")}"'
    assert s3.get_object(Bucket=bucket, Key="uploads/photo.jpg")["Body"].read() == b"posted bytes"

    post = s3.generate_presigned_post(
        bucket,
        "uploads/created.txt",
        Fields={"success_action_status": "201", "Content-Type": "text/plain"},
        Conditions=[{"success_action_status": "201"}, {"Content-Type": "text/plain"}],
        ExpiresIn=300,
    )
    body, ctype = _multipart_form(post["fields"], "created.txt", b"created")
    status, _, xml = http("POST", post["url"], body=body, headers={"Content-Type": ctype})
    assert status == 201
    assert b"<Key>uploads/created.txt</Key>" in xml and b"<Bucket>" + bucket.encode() in xml
    assert s3.head_object(Bucket=bucket, Key="uploads/created.txt")["ContentType"] == "text/plain"

    post = s3.generate_presigned_post(
        bucket,
        "uploads/redirect.txt",
        Fields={"success_action_redirect": "http://example.com/done"},
        Conditions=[{"success_action_redirect": "http://example.com/done"}],
        ExpiresIn=300,
    )
    body, ctype = _multipart_form(post["fields"], "r.txt", b"r")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(post["url"], data=body, method="POST", headers={"Content-Type": ctype})
    with pytest.raises(urllib.error.HTTPError) as ei:
        opener.open(req, timeout=30)
    assert ei.value.code == 303
    location = ei.value.headers["Location"]
    assert location.startswith("http://example.com/done?")
    q = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    assert q["key"] == ["uploads/redirect.txt"] and q["bucket"] == [bucket]



def test_browser_post_policy_violations(s3, bucket):
    post = s3.generate_presigned_post(bucket, "uploads/x", ExpiresIn=300)
    fields = dict(post["fields"], key="uploads/other")
    body, ctype = _multipart_form(fields, "x", b"x")
    status, headers, xml = http("POST", post["url"], body=body, headers={"Content-Type": ctype})
    assert code_of(s3.head_object, Bucket=bucket, Key="uploads/other") == ("404", 404)
    assert status == 403 and "x-amz-request-id" in headers
    assert b"<Code>AccessDenied</Code>" in xml
    assert b"Invalid according to Policy: Policy Condition failed: [&quot;eq&quot;, &quot;$key&quot;, &quot;uploads/x&quot;]" in xml

    # A field the policy does not cover.
    post = s3.generate_presigned_post(bucket, "uploads/y", ExpiresIn=300)
    body, ctype = _multipart_form(dict(post["fields"], **{"x-amz-meta-extra": "1"}), "y", b"y")
    status, _, xml = http("POST", post["url"], body=body, headers={"Content-Type": ctype})
    assert status == 403 and b"Extra input fields: x-amz-meta-extra" in xml


def test_virtual_hosted_style_requests(s3, bucket, server):
    s3.put_object(Bucket=bucket, Key="dir/v.txt", Body=b"vhost")
    base = f"http://127.0.0.1:{server.port}"
    for host in [f"{bucket}.localhost:{server.port}", f"{bucket}.s3.localhost:{server.port}"]:
        status, _, body = http("GET", f"{base}/dir/v.txt", headers={"Host": host})
        assert (status, body) == (200, b"vhost"), host
        status, _, body = http("GET", f"{base}/?list-type=2", headers={"Host": host})
        assert status == 200 and b"<Key>dir/v.txt</Key>" in body
    # The base domain itself is path-style.
    status, _, body = http("GET", f"{base}/{bucket}/dir/v.txt", headers={"Host": f"localhost:{server.port}"})
    assert (status, body) == (200, b"vhost")


def test_virtual_hosted_style_boto3(s3_vhost):
    s3_vhost.create_bucket(Bucket="vhost-bucket")
    s3_vhost.put_object(Bucket="vhost-bucket", Key="k", Body=b"v")
    assert s3_vhost.get_object(Bucket="vhost-bucket", Key="k")["Body"].read() == b"v"


# --------------------------------------------------------------------------------------------
# the AWS CLI


def test_cli_high_level_commands(aws, aws_raw, tmp_path):
    aws_raw("s3", "mb", "s3://cli-bucket", check=True)
    big = tmp_path / "big.bin"
    data = os.urandom(9 * MIB)  # > 8 MiB: the CLI uploads it as a multipart upload
    big.write_bytes(data)
    aws_raw("s3", "cp", str(big), "s3://cli-bucket/data/big.bin", check=True)
    head = aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "data/big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-2"')
    out = tmp_path / "down.bin"
    aws_raw("s3", "cp", "s3://cli-bucket/data/big.bin", str(out), check=True)
    assert out.read_bytes() == data

    src = tmp_path / "site"
    (src / "css").mkdir(parents=True)
    (src / "index.html").write_text("<h1>hi</h1>")
    (src / "css" / "site.css").write_text("body{}")
    # S3 keeps LastModified to the second (as localbridge does); files written in the same second
    # as the upload would look newer than their copies, so they are dated an hour back.
    an_hour_ago = datetime.datetime.now().timestamp() - 3600
    for f in (src / "index.html", src / "css" / "site.css"):
        os.utime(f, (an_hour_ago, an_hour_ago))
    aws_raw("s3", "sync", str(src), "s3://cli-bucket/site", check=True)
    again = aws_raw("s3", "sync", str(src), "s3://cli-bucket/site", check=True)
    assert again.stdout.strip() == ""
    ls = aws_raw("s3", "ls", "s3://cli-bucket/site/", check=True).stdout
    assert "PRE css/" in ls and "index.html" in ls
    rec = aws_raw("s3", "ls", "s3://cli-bucket", "--recursive", check=True).stdout
    assert "site/css/site.css" in rec and "data/big.bin" in rec
    head = aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "site/index.html")
    assert head["ContentType"] == "text/html"

    back = tmp_path / "back"
    aws_raw("s3", "sync", "s3://cli-bucket/site", str(back), check=True)
    assert (back / "css" / "site.css").read_text() == "body{}"
    aws_raw("s3", "rm", "s3://cli-bucket/site", "--recursive", check=True)
    aws_raw("s3", "rb", "s3://cli-bucket", "--force", check=True)
    assert "cli-bucket" not in aws_raw("s3", "ls", check=True).stdout


def test_cli_s3api(aws, aws_raw, tmp_path):
    aws("s3api", "create-bucket", "--bucket", "api-bucket")
    body = tmp_path / "b.txt"
    body.write_bytes(b"s3api body")
    put = aws(
        "s3api", "put-object", "--bucket", "api-bucket", "--key", "a/b.txt", "--body", str(body),
        "--content-type", "text/plain", "--metadata", "k=v", "--tagging", "t=1",
    )
    assert put["ETag"] == f'"{md5_hex(b"s3api body")}"'
    out = tmp_path / "out.txt"
    got = aws("s3api", "get-object", "--bucket", "api-bucket", "--key", "a/b.txt", str(out))
    assert (got["ContentType"], got["Metadata"]) == ("text/plain", {"k": "v"})
    assert out.read_bytes() == b"s3api body"
    listed = aws("s3api", "list-objects-v2", "--bucket", "api-bucket", "--prefix", "a/")
    assert [o["Key"] for o in listed["Contents"]] == ["a/b.txt"]
    assert aws("s3api", "get-object-tagging", "--bucket", "api-bucket", "--key", "a/b.txt")["TagSet"] == [
        {"Key": "t", "Value": "1"}
    ]
    aws("s3api", "put-bucket-versioning", "--bucket", "api-bucket", "--versioning-configuration", "Status=Enabled")
    assert aws("s3api", "get-bucket-versioning", "--bucket", "api-bucket")["Status"] == "Enabled"
    aws("s3api", "copy-object", "--bucket", "api-bucket", "--key", "copy.txt", "--copy-source", "api-bucket/a/b.txt")
    versions = aws("s3api", "list-object-versions", "--bucket", "api-bucket")
    assert sorted(v["Key"] for v in versions["Versions"]) == ["a/b.txt", "copy.txt"]
    missing = aws_raw("s3api", "get-object", "--bucket", "api-bucket", "--key", "nope", str(out))
    assert missing.returncode != 0 and "NoSuchKey" in missing.stderr
    loc = aws("s3api", "get-bucket-location", "--bucket", "api-bucket")
    assert loc["LocationConstraint"] is None


def test_refuses_what_a_default_bucket_refuses(s3, bucket):
    r = error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    assert (r["Error"]["Code"], r["Error"]["Message"]) == ("AccessControlListNotSupported", "The bucket does not allow ACLs")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    assert code_of(s3.create_bucket, Bucket="acl-bucket", ACL="public-read") == ("InvalidBucketAclWithObjectOwnership", 400)
    r = error_of(
        s3.put_object, Bucket=bucket, Key="locked", Body=b"x", ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc),
    )
    assert (r["Error"]["Code"], r["Error"]["Message"]) == ("InvalidRequest", "Bucket is missing Object Lock Configuration")
    assert code_of(s3.head_object, Bucket=bucket, Key="locked") == ("404", 404)


def test_unusable_range_headers_are_ignored(s3):
    s3.create_bucket(Bucket="ranges")
    s3.put_object(Bucket="ranges", Key="k", Body=b"0123456789")
    for bad in ["bytes=abc", "bytes=5-2", "bytes=0-1,3-4", "items=0-1"]:
        resp = s3.get_object(Bucket="ranges", Key="k", Range=bad)
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200, bad
        assert resp["Body"].read() == b"0123456789"
        assert "ContentRange" not in resp


def test_oversized_put_is_refused_before_its_body_is_read(endpoint, s3):
    import socket
    from urllib.parse import urlparse

    s3.create_bucket(Bucket="big")
    u = urlparse(endpoint)
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        sock.sendall(
            b"PUT /big/huge HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5368709121\r\n\r\n"
        )
        head = sock.recv(65536).decode()
    assert head.startswith("HTTP/1.1 400"), head
    assert "<Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed size</Message>" in head
    assert s3.list_objects_v2(Bucket="big")["KeyCount"] == 0


def test_aws_chunked_trailers_are_only_the_declared_checksums(endpoint, s3):
    """A trailer is taken only when `x-amz-trailer` declared it and it is an `x-amz-checksum-*`:
    an undeclared `x-amz-copy-source` trailer once turned this PutObject into a CopyObject and
    discarded the upload."""
    s3.create_bucket(Bucket="trailers")
    s3.put_object(Bucket="trailers", Key="secret", Body=b"not yours")
    data = b"hello world"

    def put(key, trailers, declared):
        body = b"%x\r\n%s\r\n0\r\n" % (len(data), data) + b"".join(b"%s:%s\r\n" % t for t in trailers) + b"\r\n"
        headers = {
            "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "content-encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(data)),
        }
        if declared:
            headers["x-amz-trailer"] = declared
        return http("PUT", f"{endpoint}/trailers/{key}", body, headers)

    crc = crc32_b64(data).encode()
    status, _, body = put("hijack", [(b"x-amz-checksum-crc32", crc), (b"x-amz-copy-source", b"/trailers/secret")],
                          "x-amz-checksum-crc32")
    assert status == 400, body
    assert b"<Code>MalformedTrailerError</Code>" in body, body
    status, _, body = put("hijack", [(b"x-amz-copy-source", b"/trailers/secret")], "x-amz-copy-source")
    assert status == 400 and b"<Code>MalformedTrailerError</Code>" in body, body
    status, _, body = put("hijack", [(b"x-amz-checksum-crc32", crc)], None)
    assert status == 400 and b"<Code>MalformedTrailerError</Code>" in body, body
    assert code_of(s3.head_object, Bucket="trailers", Key="hijack") == ("404", 404)

    # The declared checksum trailer is checked and stored; a wrong one is refused.
    status, _, body = put("ok", [(b"x-amz-checksum-crc32", crc)], "x-amz-checksum-crc32")
    assert status == 200, body
    got = s3.get_object(Bucket="trailers", Key="ok", ChecksumMode="ENABLED")
    assert got["Body"].read() == data and got["ChecksumCRC32"] == crc.decode()
    status, _, body = put("bad", [(b"x-amz-checksum-crc32", b"AAAAAA==")], "x-amz-checksum-crc32")
    assert status == 400, body
    # boto3's own aws-chunked uploads (trailing CRC32) keep working.
    s3.put_object(Bucket="trailers", Key="sdk", Body=b"x" * 100_000, ChecksumAlgorithm="CRC32")
    assert s3.get_object(Bucket="trailers", Key="sdk")["Body"].read() == b"x" * 100_000


def test_presigned_expiry_follows_the_server_clock(manual):
    """Presigned-URL expiry is checked against the server's clock: under `--clock manual` (which
    starts at the current time and holds) a URL stays valid while the clock holds, and expires
    when the clock is moved past it."""
    s3 = client(manual.endpoint)
    s3.create_bucket(Bucket="presigned")
    s3.put_object(Bucket="presigned", Key="k", Body=b"body")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "k"}, ExpiresIn=60)
    status, _, body = http("GET", url)
    assert (status, body) == (200, b"body")
    # Signed at wall time, a moment after the clock was started and held.
    advance_clock(manual.endpoint, 30)
    assert http("GET", url)[0] == 200, "still inside its 60 s"
    advance_clock(manual.endpoint, 60)
    status, _, body = http("GET", url)
    assert status == 403, body
    assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in body, body


def test_small_objects_do_not_keep_their_request_buffers(server):
    """Resident memory per stored small object, measured on the running server: a body used to
    keep the request's whole read buffer alive (5-14 KB per object for 10 B to 9 KiB payloads)."""
    import http.client

    def rss():
        with open(f"/proc/{server.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        pytest.skip("no VmRSS")

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

    def put(path, body=b""):
        conn.request("PUT", path, body=body, headers={"Content-Length": str(len(body))})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, (path, resp.status)

    count = 5000
    for size in (10, 1024):
        bucket = f"mem-{size}"
        put(f"/{bucket}")
        for i in range(200):  # warm up the allocator and the connection's buffers
            put(f"/{bucket}/warm/{i}", b"w" * size)
        before = rss()
        for i in range(count):
            put(f"/{bucket}/objects/{i:08}", bytes([65 + i % 26]) * size)
        per_object = (rss() - before) / count
        print(f"payload {size} B: {per_object:.0f} B resident per stored object")
        assert per_object - size < 2048, f"payload {size} B: {per_object:.0f} B per stored object"
