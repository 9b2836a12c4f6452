//! SigV4 (and legacy SigV2) request credentials: parsed, not verified. The gateway needs the
//! credential scope (access key, region, service) to route a request and to give services their
//! region; verification is opt-in work for later.

use std::borrow::Cow;

use http::HeaderMap;

/// What the credential scope of a request says (borrowed from the `Authorization` header, the
/// hot path; owned when decoded from a presigned query string).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credential<'a> {
    pub access_key: Cow<'a, str>,
    /// `YYYYMMDD`.
    pub date: Cow<'a, str>,
    pub region: Cow<'a, str>,
    pub service: Cow<'a, str>,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/sqs/aws4_request, SignedHeaders=..,
/// Signature=..` or the credential part alone (`X-Amz-Credential`).
pub fn parse_credential(scope: &str) -> Option<Credential<'_>> {
    let mut parts = scope.split('/');
    let access_key = parts.next()?;
    let date = parts.next()?;
    let region = parts.next()?;
    let service = parts.next()?;
    if parts.next() != Some("aws4_request") || access_key.is_empty() || service.is_empty() {
        return None;
    }
    Some(Credential {
        access_key: Cow::Borrowed(access_key),
        date: Cow::Borrowed(date),
        region: Cow::Borrowed(region),
        service: Cow::Borrowed(service),
    })
}

fn into_owned(c: Credential<'_>) -> Credential<'static> {
    Credential {
        access_key: Cow::Owned(c.access_key.into_owned()),
        date: Cow::Owned(c.date.into_owned()),
        region: Cow::Owned(c.region.into_owned()),
        service: Cow::Owned(c.service.into_owned()),
    }
}

/// The credential of an `Authorization` header, SigV4 or SigV2 (`AWS AK:signature`, no scope).
pub fn from_authorization(value: &str) -> Option<Credential<'_>> {
    if let Some(rest) = value.strip_prefix("AWS4-HMAC-SHA256") {
        let cred = rest
            .split(',')
            .map(str::trim)
            .find_map(|kv| kv.strip_prefix("Credential="))?;
        return parse_credential(cred);
    }
    let rest = value.strip_prefix("AWS ")?;
    let (access_key, _) = rest.split_once(':')?;
    Some(Credential {
        access_key: Cow::Borrowed(access_key),
        ..Credential::default()
    })
}

/// The credential of a request, from its `Authorization` header or presigned query string.
pub fn request_credential<'a>(headers: &'a HeaderMap, query: &str) -> Option<Credential<'a>> {
    if let Some(v) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return from_authorization(v);
    }
    if query.is_empty() {
        return None;
    }
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k == "X-Amz-Credential" {
            return parse_credential(&v).map(into_owned);
        }
        if k == "AWSAccessKeyId" {
            return Some(Credential {
                access_key: Cow::Owned(v.into_owned()),
                ..Credential::default()
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_credentials() {
        let h = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/eu-west-1/sqs/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(
            from_authorization(h),
            Some(Credential {
                access_key: "AKIDEXAMPLE".into(),
                date: "20261122".into(),
                region: "eu-west-1".into(),
                service: "sqs".into()
            })
        );
        assert_eq!(from_authorization("AWS AK:sig").unwrap().access_key, "AK");
        assert_eq!(from_authorization("Bearer x"), None);
        assert_eq!(
            from_authorization("AWS4-HMAC-SHA256 Credential=AK/2026/us-east-1"),
            None
        );
    }

    #[test]
    fn parses_presigned_credentials() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20261122%2Fus-west-2%2Fs3%2Faws4_request";
        let headers = HeaderMap::new();
        let c = request_credential(&headers, q).unwrap();
        assert_eq!((&*c.region, &*c.service), ("us-west-2", "s3"));
        assert_eq!(request_credential(&HeaderMap::new(), ""), None);
    }
}
