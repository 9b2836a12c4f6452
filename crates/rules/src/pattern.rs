//! The event-pattern language (in progress).
