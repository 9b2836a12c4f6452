//! The service without HTTP.
