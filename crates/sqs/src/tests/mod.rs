//! Service-level tests: plain Rust calls, time driven by a `ManualClock` or by tokio's paused
//! time through a `TokioClock`; tests wait on state, never on the wall clock. One module per
//! service module.

mod move_task;
mod permissions;
mod queues;
mod receive;
mod send;
mod target;
mod visibility;

use std::sync::Arc;
use std::time::Duration;

use lb_core::arn::Arn;
use lb_core::deliver::{DestinationError, Message, MessageAttribute, Target};
use lb_core::policy::PolicyRequest;
use lb_core::{AwsError, Clock, ManualClock, RequestContext, SystemClock, TokioClock};

use crate::errors;
use crate::model::*;
use crate::Sqs;

const T0: u64 = 1_700_000_000_000;
const EP: &str = "http://localhost:4566";

fn setup() -> (Sqs, Arc<ManualClock>, RequestContext) {
    let clock = Arc::new(ManualClock::new(T0));
    (Sqs::new(clock.clone()), clock, RequestContext::default())
}

/// A service on tokio's time (start the test with `start_paused = true`: every wait then runs
/// at once, in order, in virtual time).
fn setup_tokio() -> (Sqs, Arc<TokioClock>, RequestContext) {
    let clock = Arc::new(TokioClock::new(T0));
    (Sqs::new(clock.clone()), clock, RequestContext::default())
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A FIFO queue with content-based deduplication.
fn create_fifo(sqs: &Sqs, ctx: &RequestContext, name: &str) -> QueueRef {
    create(
        sqs,
        ctx,
        name,
        &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
    )
}

fn create(sqs: &Sqs, ctx: &RequestContext, name: &str, attributes: &[(&str, &str)]) -> QueueRef {
    let url = sqs
        .create_queue(
            ctx,
            EP,
            CreateQueueInput {
                queue_name: name.to_owned(),
                attributes: attrs(attributes),
                tags: Vec::new(),
            },
        )
        .unwrap();
    assert_eq!(url, queue_url(EP, &ctx.region, &ctx.account, name));
    QueueRef::from_url(&url).unwrap()
}

fn send(sqs: &Sqs, ctx: &RequestContext, q: &QueueRef, body: &str) -> SendMessageOutput {
    sqs.send_message(ctx, q, SendMessageEntry::new(body)).unwrap()
}

fn send_fifo(
    sqs: &Sqs,
    ctx: &RequestContext,
    q: &QueueRef,
    body: &str,
    group: &str,
    dedup: Option<&str>,
) -> Result<SendMessageOutput, AwsError> {
    let entry = SendMessageEntry {
        group_id: Some(group.to_owned()),
        deduplication_id: dedup.map(str::to_owned),
        ..SendMessageEntry::new(body)
    };
    sqs.send_message(ctx, q, entry)
}

async fn recv_with(sqs: &Sqs, ctx: &RequestContext, q: &QueueRef, input: ReceiveMessageInput) -> Vec<ReceivedMessage> {
    sqs.receive_message(ctx, q, input).await.unwrap()
}

async fn recv(sqs: &Sqs, ctx: &RequestContext, q: &QueueRef, max: i64) -> Vec<ReceivedMessage> {
    let input = ReceiveMessageInput {
        max_number_of_messages: Some(max),
        attribute_names: vec!["All".to_owned()],
        message_attribute_names: vec!["All".to_owned()],
        ..ReceiveMessageInput::default()
    };
    recv_with(sqs, ctx, q, input).await
}

fn bodies(m: &[ReceivedMessage]) -> Vec<&str> {
    m.iter().map(ReceivedMessage::body).collect()
}

fn attr_map(sqs: &Sqs, ctx: &RequestContext, q: &QueueRef) -> std::collections::BTreeMap<String, String> {
    sqs.get_queue_attributes(ctx, q, &["All".to_owned()])
        .unwrap()
        .into_iter()
        .collect()
}

fn counts(sqs: &Sqs, ctx: &RequestContext, q: &QueueRef) -> (String, String, String) {
    let a = attr_map(sqs, ctx, q);
    (
        a["ApproximateNumberOfMessages"].clone(),
        a["ApproximateNumberOfMessagesNotVisible"].clone(),
        a["ApproximateNumberOfMessagesDelayed"].clone(),
    )
}

fn counts_are(sqs: &Sqs, ctx: &RequestContext, q: &QueueRef, want: (u32, u32, u32)) {
    let (v, n, d) = counts(sqs, ctx, q);
    assert_eq!((v, n, d), (want.0.to_string(), want.1.to_string(), want.2.to_string()));
}
