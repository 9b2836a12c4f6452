//! The errors PutBucketNotificationConfiguration answers, with the extra elements AWS puts in
//! S3's `<Error>` document.
//!
//! Recorded AWS responses (400 `InvalidArgument`) look like:
//!
//! ```xml
//! <Error><Code>InvalidArgument</Code><Message>filter rule name must be either prefix or suffix</Message>
//!   <ArgumentName>FilterRule.Name</ArgumentName><ArgumentValue>INVALID</ArgumentValue>...</Error>
//! <Error><Code>InvalidArgument</Code><Message>Unable to validate the following destination configurations</Message>
//!   <ArgumentName1>arn:aws:sqs:us-east-1:111111111111:my-queue</ArgumentName1>
//!   <ArgumentValue1>The destination queue does not exist</ArgumentValue1>...</Error>
//! ```

use std::fmt;

use s3s::{S3Error, S3ErrorCode};

/// An S3 error with AWS's code, message, HTTP status and extra `<Error>` elements, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationError {
    /// `InvalidArgument` or `MalformedXML`.
    pub code: &'static str,
    pub message: String,
    pub status: u16,
    /// Extra elements of the error document, in document order: `("ArgumentName", "Queue")`,
    /// `("ArgumentValue", "...")`, or numbered `ArgumentName1`/`ArgumentValue1`, ...
    pub details: Vec<(String, String)>,
}

impl NotificationError {
    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self {
            code: "InvalidArgument",
            message: message.into(),
            status: 400,
            details: Vec::new(),
        }
    }

    pub(crate) fn malformed_xml() -> Self {
        Self {
            code: "MalformedXML",
            message: "The XML you provided was not well-formed or did not validate against our published schema"
                .to_owned(),
            status: 400,
            details: Vec::new(),
        }
    }

    /// Adds `ArgumentName`/`ArgumentValue`.
    pub(crate) fn argument(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.details.push(("ArgumentName".to_owned(), name.into()));
        self.details.push(("ArgumentValue".to_owned(), value.into()));
        self
    }

    /// Adds `ArgumentName{n}`/`ArgumentValue{n}` (1-based), as AWS lists failed destinations.
    pub(crate) fn numbered_argument(mut self, n: usize, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.details.push((format!("ArgumentName{n}"), name.into()));
        self.details.push((format!("ArgumentValue{n}"), value.into()));
        self
    }

    /// The value of an extra element, e.g. `detail("ArgumentValue1")`.
    pub fn detail(&self, name: &str) -> Option<&str> {
        self.details.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The `(element, value)` pairs in the form `gateway::render::s3_error_xml` takes.
    pub fn extra_elements(&self) -> Vec<(&str, String)> {
        self.details.iter().map(|(n, v)| (n.as_str(), v.clone())).collect()
    }
}

impl fmt::Display for NotificationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)?;
        for (name, value) in &self.details {
            write!(f, "; {name}={value}")?;
        }
        Ok(())
    }
}

impl std::error::Error for NotificationError {}

impl From<NotificationError> for S3Error {
    /// Code and message as AWS sends them. s3s 0.14 renders only Code/Message/RequestId, so the
    /// extra elements travel as the error's source, where an edge that renders its own error
    /// document can find them (`err.source()?.downcast_ref::<NotificationError>()`).
    fn from(err: NotificationError) -> Self {
        // Parsing an error code never fails: unknown codes become `S3ErrorCode::Custom`.
        let code = err.code.parse::<S3ErrorCode>().unwrap_or(S3ErrorCode::InvalidArgument);
        let mut s3 = S3Error::with_message(code, err.message.clone());
        if let Ok(status) = http::StatusCode::from_u16(err.status) {
            s3.set_status_code(status);
        }
        s3.set_source(Box::new(err));
        s3
    }
}
