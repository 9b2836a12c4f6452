//! Node.js handlers through the shipped bootstrap (being written).
