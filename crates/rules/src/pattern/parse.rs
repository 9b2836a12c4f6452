//! Parsing and validation (in progress).
use super::ast::*;
use super::PatternError;

pub(crate) fn parse(_text: &str) -> Result<ObjectPattern, PatternError> {
    Err(PatternError::new("not implemented"))
}

pub(crate) fn flatten(_root: &ObjectPattern) -> Result<Vec<Conjunction>, PatternError> {
    Ok(vec![Conjunction::default()])
}
