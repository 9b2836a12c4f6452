//! What is stored: connections (with their credentials, which only [`super::invoke`] reads) and
//! API destinations. No wire types here: `ops` parses and renders.

/// `ConnectionAuthorizationType`, in the model's order (AWS lists the enum in this order in its
/// validation messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthType {
    Basic,
    OAuthClientCredentials,
    ApiKey,
}

impl AuthType {
    pub(crate) const ENUM: &'static str = "[BASIC, OAUTH_CLIENT_CREDENTIALS, API_KEY]";

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AuthType::Basic => "BASIC",
            AuthType::OAuthClientCredentials => "OAUTH_CLIENT_CREDENTIALS",
            AuthType::ApiKey => "API_KEY",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "BASIC" => Some(AuthType::Basic),
            "OAUTH_CLIENT_CREDENTIALS" => Some(AuthType::OAuthClientCredentials),
            "API_KEY" => Some(AuthType::ApiKey),
            _ => None,
        }
    }

    /// The member of `AuthParameters` that carries this type's credentials.
    pub(crate) fn member(self) -> &'static str {
        match self {
            AuthType::Basic => "BasicAuthParameters",
            AuthType::OAuthClientCredentials => "OAuthParameters",
            AuthType::ApiKey => "ApiKeyAuthParameters",
        }
    }
}

/// `ConnectionState`. localbridge reaches AUTHORIZED, AUTHORIZING and DEAUTHORIZED, and answers
/// DELETING / DEAUTHORIZING from the operations that start those transitions (which complete at
/// once here). ACTIVE and FAILED_CONNECTIVITY belong to private (VPC Lattice) connections, which
/// are not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectionState {
    Creating,
    Updating,
    Deleting,
    Authorized,
    Deauthorized,
    Authorizing,
    Deauthorizing,
    Active,
    FailedConnectivity,
}

impl ConnectionState {
    pub(crate) const ENUM: &'static str =
        "[CREATING, UPDATING, DELETING, AUTHORIZED, DEAUTHORIZED, AUTHORIZING, DEAUTHORIZING, ACTIVE, FAILED_CONNECTIVITY]";

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Creating => "CREATING",
            ConnectionState::Updating => "UPDATING",
            ConnectionState::Deleting => "DELETING",
            ConnectionState::Authorized => "AUTHORIZED",
            ConnectionState::Deauthorized => "DEAUTHORIZED",
            ConnectionState::Authorizing => "AUTHORIZING",
            ConnectionState::Deauthorizing => "DEAUTHORIZING",
            ConnectionState::Active => "ACTIVE",
            ConnectionState::FailedConnectivity => "FAILED_CONNECTIVITY",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CREATING" => ConnectionState::Creating,
            "UPDATING" => ConnectionState::Updating,
            "DELETING" => ConnectionState::Deleting,
            "AUTHORIZED" => ConnectionState::Authorized,
            "DEAUTHORIZED" => ConnectionState::Deauthorized,
            "AUTHORIZING" => ConnectionState::Authorizing,
            "DEAUTHORIZING" => ConnectionState::Deauthorizing,
            "ACTIVE" => ConnectionState::Active,
            "FAILED_CONNECTIVITY" => ConnectionState::FailedConnectivity,
            _ => return None,
        })
    }

    /// Whether an API destination using a connection in this state is ACTIVE: "For successful
    /// connections to public APIs, EventBridge returns a status of AUTHORIZED. For successful
    /// connections to private APIs, EventBridge returns a status of ACTIVE." (eb-target-connection-states)
    pub(crate) fn usable(self) -> bool {
        matches!(self, ConnectionState::Authorized | ConnectionState::Active)
    }
}

/// One header, query-string or body parameter of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub key: String,
    pub value: String,
    /// `IsValueSecret`: DescribeConnection returns the key without its value.
    pub secret: bool,
}

/// `ConnectionHttpParameters`: InvocationHttpParameters or OAuthHttpParameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HttpParams {
    pub headers: Vec<Param>,
    pub query: Vec<Param>,
    pub body: Vec<Param>,
}

/// OAuth client-credentials parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuth {
    pub client_id: String,
    pub client_secret: String,
    pub endpoint: String,
    /// GET, POST or PUT.
    pub method: String,
    pub http: Option<HttpParams>,
}

/// A connection's credentials (what AWS keeps in the connection's Secrets Manager secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    Basic { username: String, password: String },
    ApiKey { name: String, value: String },
    OAuth(OAuth),
}

/// A connection.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub auth_type: AuthType,
    /// `None` once deauthorized (DeauthorizeConnection removes the authorization parameters).
    pub auth: Option<Auth>,
    /// InvocationHttpParameters, as given (`Some` even when empty: Describe echoes `{}`).
    pub invocation: Option<HttpParams>,
    pub state: ConnectionState,
    pub state_reason: Option<String>,
    /// `None` once deauthorized.
    pub secret_arn: Option<String>,
    pub kms_key_identifier: Option<String>,
    pub created_millis: u64,
    pub modified_millis: u64,
    pub authorized_millis: u64,
    /// Bumped whenever the credentials change, so an authorization that raced an update does not
    /// overwrite the newer state.
    pub generation: u64,
}

/// An API destination.
#[derive(Debug, Clone)]
pub(crate) struct ApiDestination {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub connection_arn: String,
    pub endpoint: String,
    pub method: String,
    pub rate_per_second: u32,
    pub created_millis: u64,
    pub modified_millis: u64,
}
