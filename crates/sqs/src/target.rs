//! SQS as a delivery target: S3 notifications and EventBridge rules reach a queue by its ARN.
//!
//! A delivery is a SendMessage on the producer's behalf, with the same validation. The queue's
//! resource policy is evaluated at every delivery, not only when a notification configuration
//! was saved: removing the policy, pointing it at another source or adding an explicit Deny stops
//! deliveries at once. The parsed policy document is kept with the queue's configuration (parsed
//! once, when SetQueueAttributes or AddPermission set it, replaced when they change it), so a
//! delivery only clones an `Arc` under the queue lock.
//!
//! The engine hands SQS batches of up to ten messages (SendMessageBatch's limit): one lock
//! acquisition stores them all, in order.

use std::sync::Arc;

use lb_core::arn::Arn;
use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Message, Target};
use lb_core::policy::{self, Decision, PolicyRequest};
use lb_core::AwsError;
use serde_json::Value;

use crate::errors;
use crate::model::{MessageAttributeValue, MessageAttributes, SendMessageEntry};
use crate::queue::Queue;
use crate::service::prepare;
use crate::Sqs;

/// The most messages one delivery batch carries (SendMessageBatch's limit).
pub const MAX_DELIVERY_BATCH: usize = 10;

/// The action a delivery performs, as resource policies name it.
const SEND_ACTION: &str = "sqs:SendMessage";

fn queue_not_found(arn: &Arn) -> DeliveryError {
    DeliveryError::not_found(format!("The queue {arn} does not exist."))
}

fn from_aws(arn: &Arn, e: &AwsError) -> DeliveryError {
    if e.code == errors::NON_EXISTENT_QUEUE {
        queue_not_found(arn)
    } else {
        DeliveryError::terminal(e.code.to_string(), e.message.clone())
    }
}

/// Whether the queue's policy lets `msg`'s principal send to it. A message without a principal
/// comes from an internal producer of the queue's own account and is not checked.
fn check_policy(arn: &Arn, document: Option<&Value>, msg: &Message) -> Result<(), DeliveryError> {
    let Some(principal) = msg.principal.as_deref() else {
        return Ok(());
    };
    let Some(document) = document else {
        return Err(DeliveryError::access_denied(format!(
            "The queue {arn} has no Policy, so {principal} may not perform {SEND_ACTION} on it."
        )));
    };
    let resource = arn.to_string();
    let req = PolicyRequest {
        principal_service: principal,
        action: SEND_ACTION,
        resource: &resource,
        source_arn: msg.source_arn.as_deref(),
        source_account: msg.source_account.as_deref(),
    };
    let source = msg.source_arn.as_deref().unwrap_or("(none)");
    match policy::evaluate(document, &req) {
        Decision::Allow => Ok(()),
        Decision::ExplicitDeny => Err(DeliveryError::access_denied(format!(
            "The Policy of queue {arn} explicitly denies {SEND_ACTION} to {principal} for source {source}."
        ))),
        Decision::ImplicitDeny => Err(DeliveryError::access_denied(format!(
            "The Policy of queue {arn} does not allow {SEND_ACTION} to {principal} for source {source}."
        ))),
    }
}

/// Whether two messages are sent by the same principal for the same source (the policy decides
/// the same for both).
fn same_sender(a: &Message, b: &Message) -> bool {
    a.principal == b.principal && a.source_arn == b.source_arn && a.source_account == b.source_account
}

fn entry_of(msg: &Message) -> SendMessageEntry {
    let attributes: MessageAttributes = msg
        .attributes
        .iter()
        .map(|(name, v)| {
            let value = MessageAttributeValue {
                data_type: v.data_type.clone(),
                string_value: v.string_value.clone(),
                binary_value: v.binary_value.clone(),
                ..MessageAttributeValue::default()
            };
            (name.clone(), value)
        })
        .collect();
    SendMessageEntry {
        body: None,
        attributes,
        group_id: msg.group_id.clone(),
        deduplication_id: msg.dedup_id.clone(),
        ..SendMessageEntry::default()
    }
}

impl Sqs {
    fn target_queue(&self, arn: &Arn) -> Option<Arc<Queue>> {
        if arn.service != "sqs" {
            return None;
        }
        self.lookup(&arn.region, &arn.account, &arn.resource)
    }

    /// Sends `msg` to the queue `arn` names, with the same validation as SendMessage.
    pub fn deliver_to(&self, arn: &Arn, msg: &Message) -> Result<(), DeliveryError> {
        self.deliver_all(arn, std::iter::once(msg)).pop().unwrap_or_else(|| {
            Err(DeliveryError::terminal(
                "InternalFailure",
                "the delivery produced no result",
            ))
        })
    }

    /// Sends messages to one queue under one lock acquisition; one result per message, in order.
    pub fn deliver_all<'m>(
        &self,
        arn: &Arn,
        msgs: impl IntoIterator<Item = &'m Message>,
    ) -> Vec<Result<(), DeliveryError>> {
        let msgs: Vec<&Message> = msgs.into_iter().collect();
        let Some(queue) = self.target_queue(arn) else {
            return msgs.iter().map(|_| Err(queue_not_found(arn))).collect();
        };
        let document = queue.lock().config.policy.as_ref().map(|p| Arc::clone(&p.document));
        let mut results: Vec<Option<Result<(), DeliveryError>>> = Vec::with_capacity(msgs.len());
        let mut items = Vec::with_capacity(msgs.len());
        // A batch usually comes from one sender (one rule, one bucket): its policy decision is
        // evaluated once and reused while the sender stays the same.
        let mut last: Option<(&Message, Result<(), DeliveryError>)> = None;
        for msg in &msgs {
            let decision = match &last {
                Some((prev, decided)) if same_sender(prev, msg) => decided.clone(),
                _ => {
                    let decided = check_policy(arn, document.as_deref(), msg);
                    last = Some((msg, decided.clone()));
                    decided
                }
            };
            match decision {
                Ok(()) => {
                    // The sending service acts for the queue's account.
                    let entry = entry_of(msg);
                    let prepared = prepare(
                        queue.fifo,
                        self.message_uuid(),
                        self.sender(&arn.account),
                        Some(Arc::clone(&msg.body)),
                        entry,
                        msg.trace_header.as_deref(),
                    );
                    items.push(prepared);
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        let stored = match self.enqueue(&queue, items, false) {
            Ok(stored) => stored,
            Err(e) => {
                let e = from_aws(arn, &e);
                return results
                    .into_iter()
                    .map(|r| r.unwrap_or_else(|| Err(e.clone())))
                    .collect();
            }
        };
        let mut stored = stored.into_iter();
        results
            .into_iter()
            .map(|r| match r {
                Some(denied) => denied,
                None => match stored.next() {
                    Some(Ok(_)) => Ok(()),
                    Some(Err(e)) => Err(from_aws(arn, &e)),
                    None => Err(DeliveryError::terminal(
                        "InternalFailure",
                        "the delivery produced no result",
                    )),
                },
            })
            .collect()
    }
}

impl Target for Sqs {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(std::future::ready(self.deliver_to(arn, msg)))
    }

    fn deliver_batch<'a>(
        &'a self,
        arn: &'a Arn,
        msgs: &'a [Arc<Message>],
    ) -> BoxFuture<'a, Vec<Result<(), DeliveryError>>> {
        let mut out = Vec::with_capacity(msgs.len());
        for chunk in msgs.chunks(MAX_DELIVERY_BATCH) {
            out.extend(self.deliver_all(arn, chunk.iter().map(|m| &**m)));
        }
        Box::pin(std::future::ready(out))
    }

    fn max_batch(&self, _arn: &Arn) -> usize {
        MAX_DELIVERY_BATCH
    }

    /// The queue must exist and its `Policy` must allow the request (no policy: only the owner,
    /// never a service principal).
    fn authorize(&self, arn: &Arn, req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        let queue = self.target_queue(arn).ok_or(DestinationError::NotFound)?;
        let document = queue.lock().config.policy.as_ref().map(|p| Arc::clone(&p.document));
        let document = document.ok_or(DestinationError::AccessDenied)?;
        match policy::evaluate(&document, req) {
            Decision::Allow => Ok(()),
            Decision::ExplicitDeny | Decision::ImplicitDeny => Err(DestinationError::AccessDenied),
        }
    }
}
