//! The compiled matcher (in progress).
