//! What the gateway learned about a request before handing it to a service.

use std::net::{IpAddr, Ipv4Addr};

/// Parsed once at the edge; services read it, never HTTP headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// From the SigV4 credential scope; [`crate::DEFAULT_REGION`] when absent.
    pub region: String,
    pub account: String,
    /// The access key of the credential scope, if the request was signed.
    pub access_key: Option<String>,
    pub source_ip: IpAddr,
    /// Unique per request; returned in the protocol's request-id header.
    pub request_id: String,
    /// The `X-Amzn-Trace-Id` request header, if any (SQS keeps it as `AWSTraceHeader`).
    pub trace_header: Option<String>,
}

impl RequestContext {
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            account: crate::DEFAULT_ACCOUNT.to_owned(),
            access_key: None,
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            request_id: crate::ids::request_id(),
            trace_header: None,
        }
    }
}

impl Default for RequestContext {
    fn default() -> Self {
        Self::new(crate::DEFAULT_REGION)
    }
}
