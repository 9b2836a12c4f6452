//! In-process tests of the `s3s` layer: hand-built HTTP requests through `S3Service::call`, with
//! the `RequestContext` the gateway would insert, checking status, headers, bodies and the
//! events emitted.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use lb_core::deliver::{Engine, EngineConfig, Registry};
use lb_core::{Clock, ManualClock, RequestContext};
use s3s::service::S3Service;

use crate::checksum::Algorithm;
use crate::notify::{Notifier, NotifierDeps, ObjectEvent};
use crate::{finish_response, service, S3Stub};

struct Harness {
    svc: S3Service,
    events: Arc<Mutex<Vec<ObjectEvent>>>,
    region: String,
    clock: Arc<ManualClock>,
}

struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("<binary>")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn harness() -> Harness {
    let registry = Arc::new(Registry::new());
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let notifier = Arc::new(Notifier::new(NotifierDeps {
        registry: Arc::clone(&registry),
        engine: Engine::new(registry, clock.clone(), EngineConfig::default()),
        clock: clock.clone(),
    }));
    let stub = S3Stub::new(notifier, clock.clone()).with_restore_seconds(30);
    let events = Arc::clone(&stub.tap);
    let domains = ["localhost".to_owned(), "s3.localhost".to_owned()];
    Harness {
        svc: service(stub, &domains),
        events,
        region: "us-east-1".to_owned(),
        clock,
    }
}

impl Harness {
    async fn call(&self, method: Method, uri: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Resp {
        let mut req = Request::builder().method(method).uri(uri);
        let mut has_host = false;
        for (k, v) in headers {
            has_host |= k.eq_ignore_ascii_case("host");
            req = req.header(*k, *v);
        }
        if !has_host {
            req = req.header("host", "127.0.0.1:4566");
        }
        let body: Bytes = body.into();
        req = req.header("content-length", body.len().to_string());
        let mut req = req.body(s3s::Body::from(body)).unwrap();
        req.extensions_mut().insert(RequestContext::new(self.region.as_str()));
        let resp = self.svc.call(req).await.unwrap();
        let (mut parts, mut body) = resp.into_parts();
        let bytes = body.store_all_limited(usize::MAX).await.unwrap();
        let bytes = finish_response(&mut parts, bytes);
        Resp {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: bytes,
        }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.call(Method::GET, uri, &[], Bytes::new()).await
    }

    /// CreateMultipartUpload, one UploadPart of `body`, CompleteMultipartUpload: the last answer.
    async fn multipart_one_part(&self, path: &str, body: &'static [u8]) -> Resp {
        let create = self
            .call(Method::POST, &format!("{path}?uploads"), &[], Bytes::new())
            .await;
        let upload_id = between(create.text(), "<UploadId>", "</UploadId>");
        let part = self
            .call(
                Method::PUT,
                &format!("{path}?partNumber=1&uploadId={upload_id}"),
                &[],
                Bytes::from_static(body),
            )
            .await;
        let part_etag = part.header("etag").unwrap().to_owned();
        let complete = format!(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{part_etag}</ETag></Part></CompleteMultipartUpload>"
        );
        self.call(
            Method::POST,
            &format!("{path}?uploadId={upload_id}"),
            &[],
            Bytes::from(complete),
        )
        .await
    }

    async fn put(&self, uri: &str, headers: &[(&str, &str)], body: &'static [u8]) -> Resp {
        self.call(Method::PUT, uri, headers, Bytes::from_static(body)).await
    }

    fn events(&self) -> Vec<ObjectEvent> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

#[tokio::test]
async fn put_get_through_path_and_virtual_hosts_with_request_ids_in_events() {
    let h = harness();
    assert_eq!(h.put("/photos", &[], b"").await.status, 200);
    let r = h
        .put(
            "/photos/images/beach%20photo.jpg",
            &[("content-type", "image/jpeg"), ("x-amz-meta-camera", "x100")],
            b"jpeg bytes",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let md5 = crate::checksum::etag(b"jpeg bytes");
    assert_eq!(r.header("etag"), Some(format!("\"{md5}\"").as_str()));
    let request_id = r.header("x-amz-request-id").unwrap().to_owned();
    assert_eq!(request_id.len(), 16);
    assert_eq!(r.header("x-amz-id-2").unwrap(), crate::notify::host_id(&request_id));
    let ev = h.events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].event_name, "ObjectCreated:Put");
    assert_eq!(ev[0].key, "images/beach photo.jpg");
    assert_eq!(ev[0].size, Some(10));
    assert_eq!(ev[0].etag.as_deref(), Some(md5.as_str()));
    assert_eq!(ev[0].version_id, None);
    assert_eq!(ev[0].ctx.request_id, request_id);

    for host in ["photos.localhost:4566", "photos.s3.localhost", "photos.localhost"] {
        let r = h
            .call(
                Method::GET,
                "/images/beach%20photo.jpg",
                &[("host", host)],
                Bytes::new(),
            )
            .await;
        assert_eq!(r.status, 200, "{host}: {}", r.text());
        assert_eq!(&r.body[..], b"jpeg bytes");
        assert_eq!(r.header("content-type"), Some("image/jpeg"));
        assert_eq!(r.header("x-amz-meta-camera"), Some("x100"));
    }
    // Path-style through a base domain with a port still works.
    let r = h
        .call(
            Method::GET,
            "/photos/images/beach%20photo.jpg",
            &[("host", "localhost:4566")],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn errors_carry_aws_fields_request_ids_and_host_id() {
    let h = harness();
    let r = h.get("/nobucket/k").await;
    assert_eq!(r.status, 404);
    let rid = r.header("x-amz-request-id").unwrap().to_owned();
    assert!(
        r.text().ends_with(&format!(
            "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>nobucket</BucketName><RequestId>{rid}</RequestId><HostId>{}</HostId></Error>",
            crate::notify::host_id(&rid)
        )),
        "{}",
        r.text()
    );
    assert!(r.header(crate::error::FIELDS_HEADER).is_none());
    h.put("/bkt", &[], b"").await;
    let r = h.get("/bkt/missing%20key").await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("<Code>NoSuchKey</Code>"));
    assert!(r.text().contains("<Key>missing key</Key>"));
    let r = h.call(Method::DELETE, "/bkt", &[], Bytes::new()).await;
    assert_eq!(r.status, 204);
    let r = h.call(Method::DELETE, "/bkt", &[], Bytes::new()).await;
    assert!(r.text().contains("<Code>NoSuchBucket</Code>"), "{}", r.text());
}

#[tokio::test]
async fn content_md5_and_checksums_are_validated_before_anything_changes() {
    let h = harness();
    h.put("/cks", &[], b"").await;
    assert_eq!(h.put("/cks/k", &[], b"original").await.status, 200);
    h.events();
    let bad_md5 = h
        .put("/cks/k", &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")], b"new")
        .await;
    assert_eq!(bad_md5.status, 400);
    assert!(bad_md5.text().contains("<Code>BadDigest</Code>"));
    let invalid_md5 = h.put("/cks/k", &[("content-md5", "zzz")], b"new").await;
    assert!(
        invalid_md5.text().contains("<Code>InvalidDigest</Code>"),
        "{}",
        invalid_md5.text()
    );
    let bad_crc = h.put("/cks/k", &[("x-amz-checksum-crc32", "AAAAAA==")], b"new").await;
    assert_eq!(bad_crc.status, 400);
    assert!(bad_crc
        .text()
        .contains("<Message>The CRC32 you specified did not match the calculated checksum.</Message>"));
    assert!(h.events().is_empty());
    let r = h.get("/cks/k").await;
    assert_eq!(&r.body[..], b"original");

    let sha = Algorithm::Sha256.digest_b64(b"new");
    let ok = h
        .put(
            "/cks/k",
            &[
                ("x-amz-checksum-sha256", &sha),
                ("x-amz-sdk-checksum-algorithm", "SHA256"),
            ],
            b"new",
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("x-amz-checksum-sha256"), Some(sha.as_str()));
    let r = h
        .call(
            Method::GET,
            "/cks/k",
            &[("x-amz-checksum-mode", "ENABLED")],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.header("x-amz-checksum-sha256"), Some(sha.as_str()));
    assert_eq!(r.header("x-amz-checksum-type"), Some("FULL_OBJECT"));
    // Without checksum mode, no checksum headers; without a client checksum, CRC64NVME.
    assert!(h.get("/cks/k").await.header("x-amz-checksum-sha256").is_none());
    h.put("/cks/plain", &[], b"abc").await;
    let r = h
        .call(
            Method::HEAD,
            "/cks/plain",
            &[("x-amz-checksum-mode", "ENABLED")],
            Bytes::new(),
        )
        .await;
    let crc64 = Algorithm::Crc64Nvme.digest_b64(b"abc");
    assert_eq!(r.header("x-amz-checksum-crc64nvme"), Some(crc64.as_str()));
}

#[tokio::test]
async fn ranges_and_conditional_reads() {
    let h = harness();
    h.put("/rng", &[], b"").await;
    let put = h.put("/rng/k", &[], b"0123456789").await;
    let etag = put.header("etag").unwrap().to_owned();
    let ranged = |range: &'static str| {
        let h = &h;
        async move { h.call(Method::GET, "/rng/k", &[("range", range)], Bytes::new()).await }
    };
    let r = ranged("bytes=2-4").await;
    assert_eq!(
        (r.status, &r.body[..], r.header("content-range")),
        (206, &b"234"[..], Some("bytes 2-4/10"))
    );
    let r = ranged("bytes=-3").await;
    assert_eq!(
        (&r.body[..], r.header("content-range")),
        (&b"789"[..], Some("bytes 7-9/10"))
    );
    let r = ranged("bytes=8-").await;
    assert_eq!(
        (&r.body[..], r.header("content-range")),
        (&b"89"[..], Some("bytes 8-9/10"))
    );
    let r = ranged("bytes=5-100").await;
    assert_eq!(r.header("content-range"), Some("bytes 5-9/10"));
    let r = ranged("bytes=10-20").await;
    assert_eq!(r.status, 416);
    assert!(r.text().contains("<Code>InvalidRange</Code>"));
    assert!(r.text().contains("<ActualObjectSize>10</ActualObjectSize>"));
    assert_eq!(r.header("content-range"), Some("bytes */10"));

    let cond = |name: &'static str, value: String| {
        let h = &h;
        async move {
            h.call(Method::GET, "/rng/k", &[(name, value.as_str())], Bytes::new())
                .await
                .status
        }
    };
    assert_eq!(cond("if-match", etag.clone()).await, 200);
    assert_eq!(cond("if-match", "\"nope\"".into()).await, 412);
    assert_eq!(cond("if-none-match", etag.clone()).await, 304);
    assert_eq!(cond("if-none-match", "\"nope\"".into()).await, 200);
    assert_eq!(
        cond("if-modified-since", "Sat, 01 Jan 2000 00:00:00 GMT".into()).await,
        200
    );
    assert_eq!(
        cond("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT".into()).await,
        304
    );
    assert_eq!(
        cond("if-unmodified-since", "Sat, 01 Jan 2000 00:00:00 GMT".into()).await,
        412
    );
    assert_eq!(
        cond("if-unmodified-since", "Fri, 01 Jan 2100 00:00:00 GMT".into()).await,
        200
    );
    // If-Match true wins over a failing If-Unmodified-Since.
    let r = h
        .call(
            Method::GET,
            "/rng/k",
            &[
                ("if-match", &etag),
                ("if-unmodified-since", "Sat, 01 Jan 2000 00:00:00 GMT"),
            ],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn create_bucket_location_rules_follow_the_request_region() {
    let mut h = harness();
    h.region = "eu-west-1".to_owned();
    let r = h.put("/eu-bucket", &[], b"").await;
    assert!(
        r.text().contains("<Code>IllegalLocationConstraintException</Code>"),
        "{}",
        r.text()
    );
    let conf =
        b"<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
    let r = h.put("/eu-bucket", &[], conf).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("location"), Some("http://eu-bucket.s3.amazonaws.com/"));
    let r = h.get("/eu-bucket?location").await;
    assert!(r.text().contains(">eu-west-1</LocationConstraint>"), "{}", r.text());
    let r = h.put("/eu-bucket", &[], conf).await;
    assert_eq!(r.status, 409);
    assert!(r.text().contains("<Code>BucketAlreadyOwnedByYou</Code>"));
    h.region = "us-east-1".to_owned();
    assert_eq!(h.put("/use1", &[], b"").await.status, 200);
    assert_eq!(h.put("/use1", &[], b"").await.status, 200);
    let r = h.get("/use1?location").await;
    assert!(
        r.text()
            .contains("<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></LocationConstraint>")
            || r.text().contains("/>"),
        "{}",
        r.text()
    );
    let r = h.put("/Bad_Name", &[], b"").await;
    assert!(r.text().contains("<Code>InvalidBucketName</Code>"), "{}", r.text());
    let r = h.call(Method::HEAD, "/eu-bucket", &[], Bytes::new()).await;
    assert_eq!(r.header("x-amz-bucket-region"), Some("eu-west-1"));
}

#[tokio::test]
async fn versioning_copy_multipart_and_tagging_emit_one_event_each() {
    let h = harness();
    h.put("/ver", &[], b"").await;
    let r = h
        .put(
            "/ver?versioning",
            &[],
            b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v1 = h.put("/ver/k", &[], b"one").await;
    let id1 = v1.header("x-amz-version-id").unwrap().to_owned();
    let copy = h.put("/ver/copy", &[("x-amz-copy-source", "/ver/k")], b"").await;
    assert_eq!(copy.status, 200, "{}", copy.text());
    let md5 = crate::checksum::etag(b"one");
    assert!(
        copy.text().contains(&format!("<ETag>\"{md5}\"</ETag>")),
        "{}",
        copy.text()
    );
    assert_eq!(copy.header("x-amz-copy-source-version-id"), Some(id1.as_str()));
    let self_copy = h.put("/ver/k", &[("x-amz-copy-source", "/ver/k")], b"").await;
    assert!(
        self_copy.text().contains("<Code>InvalidRequest</Code>"),
        "{}",
        self_copy.text()
    );
    let tag = h
        .put(
            "/ver/k?tagging",
            &[],
            b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>",
        )
        .await;
    assert_eq!(tag.status, 200, "{}", tag.text());
    let del = h.call(Method::DELETE, "/ver/k", &[], Bytes::new()).await;
    assert_eq!(del.header("x-amz-delete-marker"), Some("true"));
    let marker = del.header("x-amz-version-id").unwrap().to_owned();
    let gone = h.get("/ver/k").await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.header("x-amz-delete-marker"), Some("true"));
    let old = h.get(&format!("/ver/k?versionId={id1}")).await;
    assert_eq!(&old.body[..], b"one");
    let on_marker = h.get(&format!("/ver/k?versionId={marker}")).await;
    assert_eq!(on_marker.status, 405);

    let done = h.multipart_one_part("/ver/big", b"part").await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(
        done.text().contains("-1&quot;</ETag>") || done.text().contains("-1\"</ETag>"),
        "{}",
        done.text()
    );

    let names: Vec<_> = h.events().iter().map(|e| e.event_name).collect();
    assert_eq!(
        names,
        [
            "ObjectCreated:Put",
            "ObjectCreated:Copy",
            "ObjectTagging:Put",
            "ObjectRemoved:DeleteMarkerCreated",
            "ObjectCreated:CompleteMultipartUpload"
        ]
    );
}

#[tokio::test]
async fn delete_objects_reports_per_key_and_quiet() {
    let h = harness();
    h.put("/multi", &[], b"").await;
    h.put("/multi/a", &[], b"a").await;
    h.put("/multi/b", &[], b"b").await;
    h.events();
    let body = "<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object><Object><Key>c</Key><VersionId>bogus!</VersionId></Object></Delete>";
    let r = h.call(Method::POST, "/multi?delete", &[], Bytes::from(body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<Deleted><Key>a</Key></Deleted>"), "{}", r.text());
    assert!(r.text().contains("<Error><Code>InvalidArgument</Code>"), "{}", r.text());
    assert_eq!(h.events().len(), 2);
    let quiet = "<Delete><Quiet>true</Quiet><Object><Key>x</Key></Object></Delete>";
    let r = h.call(Method::POST, "/multi?delete", &[], Bytes::from(quiet)).await;
    assert!(!r.text().contains("<Deleted>"), "{}", r.text());
}

#[tokio::test]
async fn refuses_what_a_default_bucket_refuses() {
    let h = harness();
    h.put("/refuse", &[], b"").await;
    let cases: &[(&str, &str, &str)] = &[
        ("x-amz-acl", "public-read", "AccessControlListNotSupported"),
        ("x-amz-grant-read", "id=abc", "AccessControlListNotSupported"),
        ("x-amz-object-lock-mode", "GOVERNANCE", "InvalidRequest"),
        (
            "x-amz-server-side-encryption-customer-algorithm",
            "AES256",
            "InvalidRequest",
        ),
        (
            "x-amz-content-sha256",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "XAmzContentSHA256Mismatch",
        ),
    ];
    for (name, value, code) in cases {
        let r = h.put("/refuse/k", &[(name, value)], b"body").await;
        assert_eq!(r.status, 400, "{name}");
        assert!(
            r.text().contains(&format!("<Code>{code}</Code>")),
            "{name}: {}",
            r.text()
        );
    }
    assert_eq!(h.get("/refuse/k").await.status, 404);
    let sha = hex::encode(<s3s::crypto::Sha256 as s3s::crypto::Checksum>::checksum(b"body"));
    let ok = h
        .put(
            "/refuse/k",
            &[
                ("x-amz-content-sha256", &sha),
                ("x-amz-acl", "bucket-owner-full-control"),
            ],
            b"body",
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let r = h.put("/acl-bucket", &[("x-amz-acl", "public-read")], b"").await;
    assert!(
        r.text().contains("<Code>InvalidBucketAclWithObjectOwnership</Code>"),
        "{}",
        r.text()
    );
    // A declared length over 5 GiB is refused before the body is read.
    assert!(super::check_declared_length(Some(5 * 1024 * 1024 * 1024 + 1), crate::store::MAX_OBJECT_SIZE).is_err());
    assert!(super::check_declared_length(Some(5 * 1024 * 1024 * 1024), crate::store::MAX_OBJECT_SIZE).is_ok());
}

#[tokio::test]
async fn hostile_inputs_never_panic() {
    let h = harness();
    h.put("/fuzz", &[], b"").await;
    h.put("/fuzz/k", &[], b"body").await;
    type Case<'a> = (Method, &'a str, &'a [(&'a str, &'a str)]);
    let cases: &[Case<'_>] = &[
        (Method::GET, "/fuzz/k?partNumber=0", &[]),
        (Method::GET, "/fuzz/k?partNumber=2", &[]),
        (Method::GET, "/fuzz/k?partNumber=99999", &[]),
        (Method::GET, "/fuzz/k", &[("range", "bytes=-0")]),
        (Method::GET, "/fuzz/k?versionId=", &[]),
        (Method::GET, "/fuzz?list-type=2&continuation-token=%%%", &[]),
        (Method::GET, "/fuzz?list-type=2&max-keys=-1", &[]),
        (Method::GET, "/fuzz?versions&version-id-marker=x", &[]),
        (Method::GET, "/fuzz?uploads&key-marker=k&upload-id-marker=zz", &[]),
        (Method::PUT, "/fuzz/k", &[("x-amz-tagging", "a=1&a=2")]),
        (Method::PUT, "/fuzz/k", &[("x-amz-checksum-crc32", "!!")]),
        (Method::PUT, "/fuzz/k", &[("x-amz-sdk-checksum-algorithm", "MD5")]),
        (
            Method::PUT,
            "/fuzz/k",
            &[
                ("x-amz-copy-source", "/fuzz/k"),
                ("x-amz-copy-source-range", "bytes=9-1"),
            ],
        ),
        (Method::PUT, "/fuzz/k?partNumber=1&uploadId=nope", &[]),
        (Method::POST, "/fuzz/k?uploadId=nope", &[]),
        (Method::DELETE, "/fuzz/k?uploadId=nope", &[]),
        (Method::GET, "/fuzz/k?uploadId=nope", &[]),
        (Method::PUT, "/fuzz?versioning", &[]),
        (Method::POST, "/fuzz?delete", &[]),
    ];
    for (m, uri, headers) in cases {
        let r = h.call(m.clone(), uri, headers, Bytes::new()).await;
        assert!(r.status >= 200 && r.status < 600, "{m} {uri}");
    }
    assert_eq!(&h.get("/fuzz/k").await.body[..], b"body");
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> &'a str {
    let start = s.find(a).map_or(0, |i| i + a.len());
    let end = s[start..].find(b).map_or(s.len(), |i| start + i);
    &s[start..end]
}

#[tokio::test]
async fn deletes_emit_for_every_key_named_existing_or_not() {
    let h = harness();
    h.put("/gone", &[], b"").await;
    h.put("/gone/there", &[], b"x").await;
    h.events();
    // AWS's recording: one existing and two missing keys give three events.
    let body = "<Delete><Quiet>true</Quiet><Object><Key>there</Key></Object><Object><Key>dummy1</Key></Object><Object><Key>dummy2</Key></Object></Delete>";
    let r = h.call(Method::POST, "/gone?delete", &[], Bytes::from(body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let events = h.events();
    let got: Vec<(&str, &str, Option<&str>)> = events
        .iter()
        .map(|e| (e.event_name, e.key.as_str(), e.version_id.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("ObjectRemoved:Delete", "there", None),
            ("ObjectRemoved:Delete", "dummy1", None),
            ("ObjectRemoved:Delete", "dummy2", None),
        ]
    );
    assert!(events.iter().all(|e| e.size.is_none() && e.etag.is_none()));
    // A single DeleteObject of a missing key succeeds (204) and emits too.
    let r = h.call(Method::DELETE, "/gone/never-was", &[], Bytes::new()).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let events = h.events();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].event_name, events[0].key.as_str()),
        ("ObjectRemoved:Delete", "never-was")
    );
}

#[tokio::test]
async fn suspended_versioning_writes_show_no_version_id() {
    let h = harness();
    h.put("/susp", &[], b"").await;
    for status in ["Enabled", "Suspended"] {
        let body = format!("<VersioningConfiguration><Status>{status}</Status></VersioningConfiguration>");
        let r = h.call(Method::PUT, "/susp?versioning", &[], Bytes::from(body)).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    h.events();
    let put = h.put("/susp/k", &[], b"one").await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.header("x-amz-version-id"), None, "PutObject names no version");
    let copy = h.put("/susp/copy", &[("x-amz-copy-source", "/susp/k")], b"").await;
    assert_eq!(copy.status, 200, "{}", copy.text());
    assert_eq!(copy.header("x-amz-version-id"), None, "CopyObject names no version");

    let done = h.multipart_one_part("/susp/big", b"part").await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(
        done.header("x-amz-version-id"),
        None,
        "CompleteMultipartUpload names no version"
    );

    let del = h.call(Method::DELETE, "/susp/k", &[], Bytes::new()).await;
    assert_eq!(del.header("x-amz-delete-marker"), Some("true"));

    let events = h.events();
    let got: Vec<(&str, Option<&str>)> = events.iter().map(|e| (e.event_name, e.version_id.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("ObjectCreated:Put", None),
            ("ObjectCreated:Copy", None),
            ("ObjectCreated:CompleteMultipartUpload", None),
            ("ObjectRemoved:DeleteMarkerCreated", None),
        ],
        "no event record carries the null version"
    );
    // Reads still name the null version.
    let get = h.get("/susp/copy").await;
    assert_eq!(get.header("x-amz-version-id"), Some("null"));
}

#[tokio::test]
async fn acl_and_restore_emit_their_events_on_the_clock() {
    const DAY: u64 = 86_400_000;
    let h = harness();
    h.put("/cold", &[], b"").await;
    h.put("/cold/warm", &[], b"w").await;
    let put = h
        .put("/cold/k", &[("x-amz-storage-class", "DEEP_ARCHIVE")], b"ice")
        .await;
    assert_eq!(put.status, 200, "{}", put.text());

    let acl = h.put("/cold/k?acl", &[("x-amz-acl", "public-read")], b"").await;
    assert_eq!(acl.status, 200, "{}", acl.text());
    let got = h.get("/cold/k?acl").await;
    assert!(got.text().contains("AllUsers</URI>"), "{}", got.text());
    let both = h.put("/cold/k?acl", &[("x-amz-grant-read", "uri=\"x\"")], b"").await;
    assert_eq!(both.status, 501, "{}", both.text());

    let read = h.get("/cold/k").await;
    assert_eq!(read.status, 403);
    assert!(
        read.text().contains("<Code>InvalidObjectState</Code>"),
        "{}",
        read.text()
    );
    let restore = |days: &str| format!("<RestoreRequest><Days>{days}</Days></RestoreRequest>");
    let warm = h.call(Method::POST, "/cold/warm?restore", &[], restore("1")).await;
    assert_eq!(warm.status, 403, "{}", warm.text());
    let start = h.call(Method::POST, "/cold/k?restore", &[], restore("3")).await;
    assert_eq!(start.status, 202, "{}", start.text());
    assert_eq!(start.header(crate::error::STATUS_HEADER), None);
    let again = h.call(Method::POST, "/cold/k?restore", &[], restore("3")).await;
    assert_eq!(again.status, 409, "{}", again.text());
    assert!(again.text().contains("<Code>RestoreAlreadyInProgress</Code>"));
    let head = h.call(Method::HEAD, "/cold/k", &[], Bytes::new()).await;
    assert_eq!(head.header("x-amz-restore"), Some("ongoing-request=\"true\""));

    let t0 = 1_700_000_000_000;
    h.clock.step(30_000).await;
    let expiry = (t0 + 30_000 + 3 * DAY) / DAY * DAY + DAY;
    let head = h.call(Method::HEAD, "/cold/k", &[], Bytes::new()).await;
    let expected = format!(
        "ongoing-request=\"false\", expiry-date=\"{}\"",
        crate::store::http_date(expiry)
    );
    assert_eq!(head.header("x-amz-restore"), Some(expected.as_str()));
    assert_eq!(&h.get("/cold/k").await.body[..], b"ice");
    // Restoring a restored copy moves its expiry a day later; no event.
    h.clock.step(DAY).await;
    let extend = h.call(Method::POST, "/cold/k?restore", &[], restore("3")).await;
    assert_eq!(extend.status, 200, "{}", extend.text());
    h.clock.step(expiry - h.clock.now_millis()).await;
    assert_eq!(h.get("/cold/k").await.status, 200, "the extended copy is still there");
    h.clock.step(DAY).await;
    assert_eq!(h.get("/cold/k").await.status, 403, "the copy expired");

    let events = h.events();
    let got: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.event_name,
                e.time_millis,
                e.restore.clone().and_then(|r| r.expires_at),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("ObjectCreated:Put", t0, None),
            ("ObjectCreated:Put", t0, None),
            ("ObjectAcl:Put", t0, None),
            ("ObjectRestore:Post", t0, None),
            ("ObjectRestore:Completed", t0 + 30_000, Some(expiry)),
            ("ObjectRestore:Delete", expiry + DAY, None),
        ]
    );
    assert!(events[3..]
        .iter()
        .all(|e| e.restore.as_ref().unwrap().storage_class == "DEEP_ARCHIVE"));
}
