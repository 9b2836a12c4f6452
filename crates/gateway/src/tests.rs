//! In-process gateway tests.
