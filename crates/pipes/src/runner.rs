//! One task per pipe: it waits on the clock for the pipe's state changes, and while the pipe is
//! `RUNNING` reads its source — SQS here (User Guide, "Amazon SQS as a source": long polls of up
//! to 10 messages, gathered up to `BatchSize` within `MaximumBatchingWindowInSeconds`; a batch's
//! messages are deleted once the pipe is done with them, failed ones stay and come back after
//! the queue's visibility timeout, where its redrive policy applies), Kinesis in `kinesis.rs`.
//! A change to the pipe (stop, update, delete) wakes the task at once, mid-poll.

use std::sync::Arc;

use lb_core::arn::Arn;
use lb_core::source::SourceMessage;

use crate::process::SourceItem;
use crate::service::PipeHandle;
use crate::spec::{SourceKind, Spec, SqsSource};
use crate::Shared;

pub(crate) fn spawn(shared: Arc<Shared>, handle: Arc<PipeHandle>) {
    tokio::spawn(run(shared, handle));
}

async fn run(shared: Arc<Shared>, handle: Arc<PipeHandle>) {
    let mut rx = handle.generation.subscribe();
    loop {
        rx.borrow_and_update();
        let (spec, running, due, deleted) = {
            let mut st = handle.lock();
            shared.settle(&mut st);
            (
                Arc::clone(&st.spec),
                st.current == "RUNNING",
                st.pending.map(|p| p.0),
                st.deleted,
            )
        };
        if deleted {
            return;
        }
        if let Some(due) = due {
            tokio::select! {
                () = shared.clock.sleep_until(due) => {}
                _ = rx.changed() => {}
            }
            continue;
        }
        if !running {
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        match &spec.source {
            SourceKind::Sqs(p) => sqs_batch(&shared, &spec, *p, &mut rx).await,
            SourceKind::Kinesis(_) => crate::kinesis::run(&shared, &handle, &spec, &mut rx).await,
        }
    }
}

/// Gathers one batch from the queue and runs it through the pipe.
async fn sqs_batch(shared: &Shared, spec: &Spec, p: SqsSource, rx: &mut tokio::sync::watch::Receiver<u64>) {
    let Some(queues) = shared.deps.queues.clone() else {
        let _ = rx.changed().await;
        return;
    };
    let arn: &Arn = &spec.source_arn;
    let mut messages: Vec<SourceMessage> = Vec::new();
    let deadline = shared.clock.now_millis() + u64::from(p.window_seconds) * 1000;
    let mut changed = false;
    loop {
        let want = (p.batch_size - messages.len()).min(10);
        let now = shared.clock.now_millis();
        let wait = if messages.is_empty() {
            20
        } else {
            (deadline.saturating_sub(now) / 1000).min(20) as u32
        };
        // The change first: a stopped pipe takes no message that arrives after StopPipe.
        let got = tokio::select! {
            biased;
            _ = rx.changed() => { changed = true; Ok(Vec::new()) }
            r = queues.receive(arn, want, wait) => r,
        };
        match got {
            Ok(mut got) => {
                let empty = got.is_empty();
                messages.append(&mut got);
                if changed
                    || messages.len() >= p.batch_size
                    || (!messages.is_empty()
                        && (p.window_seconds == 0 || empty || shared.clock.now_millis() >= deadline))
                    || messages.is_empty()
                {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(pipe = %spec.arn, source = %arn, error = %e.message, "the pipe could not receive from its queue");
                let due = shared.clock.now_millis() + 10_000;
                tokio::select! {
                    () = shared.clock.sleep_until(due) => {}
                    _ = rx.changed() => {}
                }
                break;
            }
        }
    }
    if messages.is_empty() {
        return;
    }
    let source_arn = arn.to_string();
    let items: Vec<SourceItem> = messages
        .iter()
        .map(|m| SourceItem {
            id: m.message_id.clone(),
            record: m.event_record(&source_arn, &spec.region),
        })
        .collect();
    let mut done = shared.process(spec, &items).await;
    // FIFO: after a failed message, the later messages of its group are not done either (they
    // come back with it, so the group's order holds).
    let mut failed_groups = std::collections::BTreeSet::new();
    for (m, d) in messages.iter().zip(done.iter_mut()) {
        if let Some(group) = m.attributes.get("MessageGroupId") {
            if failed_groups.contains(group) {
                *d = false;
            } else if !*d {
                failed_groups.insert(group.clone());
            }
        }
    }
    let delete: Vec<String> = messages
        .iter()
        .zip(&done)
        .filter(|(_, d)| **d)
        .map(|(m, _)| m.receipt_handle.clone())
        .collect();
    if !delete.is_empty() {
        if let Err(e) = queues.delete(arn, &delete) {
            tracing::warn!(pipe = %spec.arn, error = %e.message, "the pipe could not delete processed messages");
        }
    }
}
