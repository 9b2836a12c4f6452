//! SQS as an event source: Lambda's event source mappings receive and delete through this, as
//! the queue's owner account (the mapping's poller acts for it).

use std::collections::BTreeMap;

use lb_core::arn::Arn;
use lb_core::clock::BoxFuture;
use lb_core::deliver::MessageAttribute;
use lb_core::source::{QueueInfo, QueueSource, SourceMessage};
use lb_core::{AwsError, RequestContext};

use crate::errors;
use crate::model::{QueueRef, ReceiveMessageInput};
use crate::Sqs;

fn parts(queue: &Arn) -> (RequestContext, QueueRef) {
    let mut ctx = RequestContext::new(queue.region.clone());
    ctx.account = queue.account.clone();
    (ctx, QueueRef::new(&queue.account, &queue.resource))
}

impl QueueSource for Sqs {
    fn describe(&self, queue: &Arn) -> Result<QueueInfo, AwsError> {
        let q = self
            .lookup(&queue.region, &queue.account, &queue.resource)
            .filter(|_| queue.service == "sqs")
            .ok_or_else(errors::queue_does_not_exist)?;
        let visibility_timeout_seconds = q.lock().config.visibility_timeout;
        Ok(QueueInfo {
            fifo: q.fifo,
            visibility_timeout_seconds,
        })
    }

    fn receive<'a>(
        &'a self,
        queue: &'a Arn,
        max: usize,
        wait_seconds: u32,
    ) -> BoxFuture<'a, Result<Vec<SourceMessage>, AwsError>> {
        Box::pin(async move {
            let (ctx, q) = parts(queue);
            let input = ReceiveMessageInput {
                max_number_of_messages: Some(max.clamp(1, 10) as i64),
                wait_time_seconds: Some(i64::from(wait_seconds.min(20))),
                attribute_names: vec!["All".to_owned()],
                message_attribute_names: vec!["All".to_owned()],
                ..ReceiveMessageInput::default()
            };
            let got = self.receive_message(&ctx, &q, input).await?;
            Ok(got
                .into_iter()
                .map(|m| SourceMessage {
                    message_id: m.message_id().to_owned(),
                    receipt_handle: m.receipt_handle.clone(),
                    body: m.body().to_owned(),
                    md5_of_body: m.md5_of_body().to_owned(),
                    attributes: m.attributes.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
                    message_attributes: m
                        .message_attributes
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                MessageAttribute {
                                    data_type: v.data_type.clone(),
                                    string_value: v.string_value.clone(),
                                    binary_value: v.binary_value.clone(),
                                },
                            )
                        })
                        .collect::<BTreeMap<_, _>>(),
                    md5_of_message_attributes: m.md5_of_message_attributes.clone(),
                })
                .collect())
        })
    }

    fn delete(&self, queue: &Arn, receipt_handles: &[String]) -> Result<(), AwsError> {
        let (ctx, q) = parts(queue);
        for h in receipt_handles {
            // A handle whose message is gone (deleted, moved to the DLQ) is not an error here.
            match self.delete_message(&ctx, &q, h) {
                Ok(()) => {}
                Err(e) if e.code == errors::NON_EXISTENT_QUEUE => return Err(e),
                Err(_) => {}
            }
        }
        Ok(())
    }
}
