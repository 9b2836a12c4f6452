//! Firehose as a delivery target (`arn:aws:firehose:<region>:<account>:deliverystream/<name>`):
//! EventBridge rules and the Scheduler deliver to it, each message one record (its body, as
//! sent: no delimiter is added, as AWS adds none).

use bytes::Bytes;
use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Message, Target};
use lb_core::policy::PolicyRequest;
use lb_core::Arn;

use crate::{Firehose, Record, Source};

fn name_of(arn: &Arn) -> Option<&str> {
    arn.resource.strip_prefix("deliverystream/").filter(|n| !n.is_empty())
}

impl Firehose {
    fn deliver_to(&self, arn: &Arn, msg: &Message) -> Result<(), DeliveryError> {
        let stream = name_of(arn)
            .and_then(|n| self.stream(&arn.region, &arn.account, n))
            .ok_or_else(|| DeliveryError::not_found(format!("Firehose {arn} not found")))?;
        if !matches!(stream.source, Source::DirectPut) {
            return Err(DeliveryError::terminal(
                "InvalidArgumentException",
                "This operation is not permitted on KinesisStreamAsSource delivery stream type.",
            ));
        }
        if msg.body.len() > crate::service::MAX_RECORD_BYTES {
            return Err(DeliveryError::terminal(
                "ValidationException",
                "The record is larger than 1,000 KiB",
            ));
        }
        let record = Record {
            data: Bytes::copy_from_slice(msg.body.as_bytes()),
            arrival_millis: self.now(),
            kinesis: None,
        };
        self.append(&stream, vec![record])
            .map_err(|e| DeliveryError::retryable(e.code, e.message))
    }
}

impl Target for Firehose {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        let result = self.deliver_to(arn, msg);
        Box::pin(async move { result })
    }

    fn authorize(&self, arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        match name_of(arn).and_then(|n| self.stream(&arn.region, &arn.account, n)) {
            Some(_) => Ok(()),
            None => Err(DestinationError::NotFound),
        }
    }
}
