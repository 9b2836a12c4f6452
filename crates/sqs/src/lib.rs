//! SQS (work in progress: the full service lands in the next commits).

pub mod api;

use std::sync::Arc;

use lb_core::arn::Arn;
use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Message, Target};
use lb_core::policy::PolicyRequest;
use lb_core::Clock;

/// The SQS service: every queue of every region and account.
pub struct Sqs {
    #[allow(dead_code)]
    clock: Arc<dyn Clock>,
}

impl Sqs {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }
}

impl Target for Sqs {
    fn deliver<'a>(&'a self, arn: &'a Arn, _msg: Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move { Err(DeliveryError::NotFound(arn.to_string())) })
    }

    fn authorize(&self, _arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        Err(DestinationError::NotFound)
    }
}
