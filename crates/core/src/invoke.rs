//! Synchronous function calls: how a service that needs a function's answer (a Pipe's
//! enrichment, a Firehose data transformation) invokes a Lambda function without importing
//! Lambda. The binary hands an `Arc<dyn FunctionInvoker>` (Lambda) to those services.

use bytes::Bytes;

use crate::arn::Arn;
use crate::clock::BoxFuture;
use crate::AwsError;

/// What a `RequestResponse` invocation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionResult {
    /// The function's response payload (on a function error, the error document).
    pub payload: Bytes,
    /// `X-Amz-Function-Error`: `Unhandled` when the handler raised or the runtime failed (timeout,
    /// crash), `Handled` when the runtime reported the error itself.
    pub function_error: Option<String>,
    /// The version that ran (`$LATEST` or a number).
    pub executed_version: String,
}

/// A function service, called synchronously.
pub trait FunctionInvoker: Send + Sync + 'static {
    /// Invokes `function` (a function ARN, optionally qualified by version or alias) with
    /// `payload` (JSON) and waits for its answer. `Err` is the Invoke API's own error (the
    /// function does not exist: `ResourceNotFoundException`; throttled: `TooManyRequestsException`;
    /// payload too large: `RequestTooLargeException`), never a function error.
    fn invoke_function<'a>(
        &'a self,
        function: &'a Arn,
        payload: Bytes,
    ) -> BoxFuture<'a, Result<FunctionResult, AwsError>>;
}
