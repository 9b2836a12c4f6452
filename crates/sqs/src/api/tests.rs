//! Wire tests: hand-built HTTP requests in both protocols, exact JSON and XML out.
