//! Lambda as a delivery target: S3 notifications, EventBridge rules, SNS subscriptions and
//! other functions' destinations invoke a function asynchronously by its ARN. The function's
//! resource-based policy must let the sending service's principal invoke it (for the sending
//! resource: `aws:SourceArn`, `aws:SourceAccount`), checked at every delivery.

use std::sync::PoisonError;

use bytes::Bytes;
use lb_core::arn::Arn;
use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Message, Target};
use lb_core::policy::{self, Decision, PolicyRequest};

use super::asynchronous::AsyncEvent;
use super::Lambda;

const INVOKE: &str = "lambda:InvokeFunction";

impl Lambda {
    /// `(function, qualifier)` of a function ARN.
    fn by_arn(&self, arn: &Arn) -> Option<std::sync::Arc<std::sync::Mutex<super::Function>>> {
        let rest = arn.resource.strip_prefix("function:")?;
        let name = rest.split(':').next()?;
        self.functions()
            .get(&(arn.region.clone(), arn.account.clone(), name.to_owned()))
            .cloned()
    }

    fn deliver_to(&self, arn: &Arn, msg: &Message) -> Result<(), DeliveryError> {
        let function = self
            .by_arn(arn)
            .ok_or_else(|| DeliveryError::not_found(format!("Function not found: {arn}")))?;
        if let Some(principal) = msg.principal.as_deref() {
            let (document, resource) = {
                let f = function.lock().unwrap_or_else(PoisonError::into_inner);
                (super::permissions::document(&f), f.arn.clone())
            };
            let req = PolicyRequest {
                principal_service: principal,
                action: INVOKE,
                resource: &resource,
                source_arn: msg.source_arn.as_deref(),
                source_account: msg.source_account.as_deref(),
            };
            let allowed = document.is_some_and(|d| policy::evaluate(&d, &req) == Decision::Allow);
            if !allowed {
                let source = msg.source_arn.as_deref().unwrap_or("(none)");
                return Err(DeliveryError::access_denied(format!(
                    "The resource-based policy of {resource} does not allow {principal} to perform {INVOKE} for source {source}."
                )));
            }
        }
        let accepted = self.enqueue_async(
            &function,
            AsyncEvent {
                request_id: lb_core::ids::uuid(),
                payload: Bytes::copy_from_slice(msg.body.as_bytes()),
                received: self.clock.now_millis(),
                trace_id: msg.trace_header.as_deref().map(str::to_owned),
                qualifier: arn
                    .resource
                    .strip_prefix("function:")
                    .and_then(|r| r.split_once(':'))
                    .map(|(_, q)| q.to_owned()),
            },
        );
        if !accepted {
            return Err(DeliveryError::retryable(
                "TooManyRequestsException",
                "The function's asynchronous event queue is full; the delivery is retried.",
            ));
        }
        Ok(())
    }
}

impl Target for Lambda {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(std::future::ready(self.deliver_to(arn, msg)))
    }

    /// The function must exist and its policy must allow the request (no policy: nobody else).
    fn authorize(&self, arn: &Arn, req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        let function = self.by_arn(arn).ok_or(DestinationError::NotFound)?;
        let document = {
            let f = function.lock().unwrap_or_else(PoisonError::into_inner);
            super::permissions::document(&f)
        };
        match document.map(|d| policy::evaluate(&d, req)) {
            Some(Decision::Allow) => Ok(()),
            _ => Err(DestinationError::AccessDenied),
        }
    }
}

/// Pipes' enrichment and Firehose's data transformation call functions through this: a
/// `RequestResponse` Invoke in the function's own region and account.
impl lb_core::invoke::FunctionInvoker for Lambda {
    fn invoke_function<'a>(
        &'a self,
        function: &'a Arn,
        payload: Bytes,
    ) -> BoxFuture<'a, Result<lb_core::invoke::FunctionResult, lb_core::AwsError>> {
        Box::pin(async move {
            let mut ctx = lb_core::RequestContext::new(function.region.clone());
            ctx.account = function.account.clone();
            let out = self
                .invoke(
                    &ctx,
                    super::invoke::InvokeInput {
                        function_name: function.to_string(),
                        qualifier: None,
                        invocation_type: super::invoke::InvocationType::RequestResponse,
                        log_tail: false,
                        client_context: None,
                        payload,
                    },
                )
                .await?;
            Ok(lb_core::invoke::FunctionResult {
                payload: out.payload,
                function_error: out.function_error.map(str::to_owned),
                executed_version: out.executed_version.unwrap_or_else(|| "$LATEST".to_owned()),
            })
        })
    }
}
