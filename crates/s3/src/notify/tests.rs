//! Unit tests of the notifier (no HTTP).
