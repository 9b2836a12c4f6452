//! The EventBridge event-pattern language: parsing and validation with AWS's error messages
//! ([`Pattern::parse`]), the parsed form ([`ast`]) that the compiled matcher consumes, and a
//! small reference evaluator ([`Pattern::matches`]), which also says why an event does not
//! match ([`Pattern::explain`]).

pub mod ast;
mod complexity;
mod explain;
mod lexer;
mod parse;
mod reference;

pub use explain::Mismatch;
pub use parse::{MAX_ALTERNATIVES, NUMERIC_LIMIT};

use std::fmt;

pub use ast::{
    fold_case, parse_ip, AnythingBut, Cidr, Conjunction, FieldMatch, FieldPattern, IgnoreCase, Literal, Matcher,
    Number, NumericOp, ObjectPattern, Wildcard,
};

/// A validated event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: ObjectPattern,
    alternatives: Vec<Conjunction>,
    names: FieldNames,
}

/// How the field names of a pattern and of an event name a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldNames {
    /// EventBridge: nested names are joined with `.` (aws/event-ruler flattens patterns and
    /// events into `.`-joined names), so `{"a.b": ...}` and `{"a": {"b": ...}}` name the same
    /// field, in patterns and in events alike. Paths are held as the names split at every `.`.
    Joined,
    /// Each object key is one step, as written (SNS filter policies, see [`crate::sns`]).
    Literal,
}

/// Why a pattern was rejected. `Display` is the message of AWS's `InvalidEventPatternException`,
/// e.g. `Event pattern is not valid. Reason: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    reason: String,
    /// Jackson's `[Source: ...; line: L, column: C]`, when AWS reports one.
    location: Option<String>,
}

impl PatternError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            location: None,
        }
    }

    pub(crate) fn with_location(reason: impl Into<String>, location: String) -> Self {
        Self {
            reason: reason.into(),
            location: Some(location),
        }
    }

    /// Where in the pattern text the error was found, as AWS prints it:
    /// `[Source: (String)"..."; line: 1, column: 20]`.
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// The text after `Reason: `.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Event pattern is not valid. Reason: {}", self.reason)?;
        if let Some(location) = &self.location {
            write!(f, "\n at {location}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PatternError {}

impl std::str::FromStr for Pattern {
    type Err = PatternError;

    /// The same as [`Pattern::parse`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Pattern::parse(text)
    }
}

impl Pattern {
    /// Parses and validates a pattern, as PutRule and TestEventPattern do.
    ///
    /// As on EventBridge, field names are joined with `.`: `{"detail": {"state.status": [..]}}`
    /// and `{"detail": {"state": {"status": [..]}}}` are the same pattern, and either matches
    /// an event whose `detail` has a field literally named `state.status` as well as one whose
    /// `detail.state` is an object with a `status` (see [`FieldMatch::path`]).
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        Self::parse_with(text, FieldNames::Joined)
    }

    /// [`Pattern::parse`] with each object key one step of a path, dots included (SNS).
    pub(crate) fn parse_literal_names(text: &str) -> Result<Pattern, PatternError> {
        Self::parse_with(text, FieldNames::Literal)
    }

    fn parse_with(text: &str, names: FieldNames) -> Result<Pattern, PatternError> {
        let parse::Parsed { root, alternatives } = parse::parse(text, names)?;
        complexity::check(&alternatives)?;
        Ok(Pattern {
            root,
            alternatives,
            names,
        })
    }

    /// Whether field names are joined with `.` (every pattern from [`Pattern::parse`]).
    pub(crate) fn joins_names(&self) -> bool {
        self.names == FieldNames::Joined
    }

    /// The pattern as written (the tree).
    pub fn root(&self) -> &ObjectPattern {
        &self.root
    }

    /// The pattern with every `$or` expanded: the event matches when any alternative matches
    /// (respecting array consistency, see [`ast`]). Never empty.
    pub fn alternatives(&self) -> &[Conjunction] {
        &self.alternatives
    }

    /// The reference evaluator: whether `event` matches. Simple and recursive; not fast.
    pub fn matches(&self, event: &serde_json::Value) -> bool {
        reference::matches(&self.alternatives, event, self.names)
    }

    /// Why `event` does not match: the first field of the pattern that failed, in the order
    /// written, with the event's value there and the reason (`None` exactly when
    /// [`Pattern::matches`] is true). Of several `$or` alternatives, the one that got furthest
    /// (most fields matching; the first on a tie). Computed by the reference evaluator, so it
    /// never disagrees with it; see [`Mismatch`].
    pub fn explain(&self, event: &serde_json::Value) -> Option<Mismatch> {
        explain::explain(self, event)
    }
}

#[cfg(test)]
pub(crate) mod conformance;
#[cfg(test)]
mod explain_tests;
#[cfg(test)]
mod tests;

/// The longest `EventPattern` the EventBridge API accepts (botocore's model: `EventPattern` is a
/// string with `max` 4096). A longer pattern fails the API's input validation
/// (`ValidationException`) before it is parsed, so [`Pattern::parse`] does not check it; the
/// API layer does.
pub const MAX_PATTERN_LENGTH: usize = 4096;
