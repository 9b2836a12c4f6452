//! API destinations and connections (CreateConnection, CreateApiDestination, ...) and the HTTP
//! invocation of an API destination target.
