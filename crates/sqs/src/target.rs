//! SQS as a delivery target: S3 notifications and EventBridge rules reach a queue by its ARN.

use lb_core::arn::Arn;
use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Message, Target};
use lb_core::policy::{self, Decision, PolicyRequest};
use serde_json::Value;

use crate::errors;
use crate::model::{MessageAttributeValue, SendMessageEntry};
use crate::Sqs;

impl Sqs {
    /// Sends `msg` to the queue `arn` names, with the same validation as SendMessage.
    pub fn deliver_to(&self, arn: &Arn, msg: Message) -> Result<(), DeliveryError> {
        let not_found = || DeliveryError::NotFound(arn.to_string());
        if arn.service != "sqs" {
            return Err(not_found());
        }
        let queue = self
            .lookup(&arn.region, &arn.account, &arn.resource)
            .ok_or_else(not_found)?;
        let attributes = msg
            .attributes
            .into_iter()
            .map(|(name, v)| {
                let value = MessageAttributeValue {
                    data_type: v.data_type,
                    string_value: v.string_value,
                    binary_value: v.binary_value,
                    ..MessageAttributeValue::default()
                };
                (name, value)
            })
            .collect();
        let entry = SendMessageEntry {
            body: Some(msg.body),
            attributes,
            group_id: msg.group_id,
            deduplication_id: msg.dedup_id,
            ..SendMessageEntry::default()
        };
        // The sending service acts for the queue's account.
        match self.send_to(&queue, arn.account.clone(), entry) {
            Ok(_) => Ok(()),
            Err(e) if e.code == errors::NON_EXISTENT_QUEUE => Err(not_found()),
            Err(e) => Err(DeliveryError::Terminal(format!("{}: {}", e.code, e.message))),
        }
    }
}

impl Target for Sqs {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move { self.deliver_to(arn, msg) })
    }

    /// The queue must exist and its `Policy` must allow the request (no policy: only the owner,
    /// never a service principal).
    fn authorize(&self, arn: &Arn, req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        if arn.service != "sqs" {
            return Err(DestinationError::NotFound);
        }
        let queue = self
            .lookup(&arn.region, &arn.account, &arn.resource)
            .ok_or(DestinationError::NotFound)?;
        let policy = queue.lock().config.policy.clone();
        let document = policy
            .and_then(|p| serde_json::from_str::<Value>(&p).ok())
            .ok_or(DestinationError::AccessDenied)?;
        match policy::evaluate(&document, req) {
            Decision::Allow => Ok(()),
            Decision::ExplicitDeny | Decision::ImplicitDeny => Err(DestinationError::AccessDenied),
        }
    }
}
