//! Message move tasks (StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask): move
//! the messages of a dead-letter queue back to the queues they came from, or to a given
//! destination, in the background and optionally rate-limited, as AWS's DLQ redrive does.
//!
//! A moved message is enqueued afresh at its destination (new receive count, sent now); if the
//! destination disappears mid-move, the message goes back to the dead-letter queue and the task
//! fails with `AWS.SimpleQueueService.NonExistentQueue`, so no message is lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use lb_core::AwsError;
use serde_json::{json, Value};
use tracing::debug;

use crate::errors;
use crate::model::{MessageMoveTaskInfo, StartMessageMoveTaskInput};
use crate::queue::{MsgKey, Queue, Slot};
use crate::Sqs;

/// How many tasks per source queue ListMessageMoveTasks can show.
const KEPT_PER_SOURCE: usize = 10;
/// Messages moved per step when the task has no rate limit.
const STEP: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Running,
    Completed,
    Cancelling,
    Cancelled,
    Failed,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Cancelling => "CANCELLING",
            Self::Cancelled => "CANCELLED",
            Self::Failed => "FAILED",
        }
    }
}

#[derive(Debug)]
pub struct MoveTask {
    id: String,
    handle: String,
    source_arn: String,
    destination_arn: Option<String>,
    max_per_second: Option<u32>,
    to_move: u64,
    started_ms: u64,
    moved: AtomicU64,
    cancel: AtomicBool,
    // Status and failure reason change together; held for an assignment.
    status: Mutex<(TaskStatus, Option<String>)>,
}

impl MoveTask {
    fn status(&self) -> (TaskStatus, Option<String>) {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Ends the task (unless it already ended).
    fn finish(&self, status: TaskStatus, reason: Option<&str>) {
        let mut s = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(s.0, TaskStatus::Running | TaskStatus::Cancelling) {
            *s = (status, reason.map(str::to_owned));
        }
    }

    fn info(&self) -> MessageMoveTaskInfo {
        let (status, failure_reason) = self.status();
        MessageMoveTaskInfo {
            task_handle: (status == TaskStatus::Running).then(|| self.handle.clone()),
            status: status.as_str(),
            source_arn: self.source_arn.clone(),
            destination_arn: self.destination_arn.clone(),
            max_number_of_messages_per_second: self.max_per_second.map(i64::from),
            approximate_number_of_messages_moved: i64::try_from(self.moved.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
            approximate_number_of_messages_to_move: Some(i64::try_from(self.to_move).unwrap_or(i64::MAX)),
            failure_reason,
            started_timestamp: i64::try_from(self.started_ms).unwrap_or(i64::MAX),
        }
    }
}

fn encode_handle(task_id: &str, source_arn: &str) -> String {
    STANDARD.encode(json!({"taskId": task_id, "sourceArn": source_arn}).to_string())
}

fn decode_handle(handle: &str) -> Option<(String, String)> {
    let bytes = STANDARD.decode(handle).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    Some((
        v.get("taskId")?.as_str()?.to_owned(),
        v.get("sourceArn")?.as_str()?.to_owned(),
    ))
}

fn source_not_found() -> AwsError {
    errors::resource_not_found("The resource that you specified for the SourceArn parameter doesn't exist.")
}

fn not_a_dead_letter_queue() -> AwsError {
    errors::invalid_parameter("Source queue must be configured as a Dead Letter Queue.")
}

impl Sqs {
    pub fn start_message_move_task(&self, input: StartMessageMoveTaskInput) -> Result<String, AwsError> {
        if input.source_arn.is_empty() {
            return Err(errors::missing_parameter("SourceArn"));
        }
        let source = self.queue_by_arn(&input.source_arn).ok_or_else(source_not_found)?;
        let max_per_second = match input.max_number_of_messages_per_second {
            None => None,
            Some(n @ 1..=500) => u32::try_from(n).ok(),
            Some(n) => {
                return Err(errors::invalid_value(
                    n,
                    "MaxNumberOfMessagesPerSecond",
                    "Must be between 1 and 500, if provided.",
                ))
            }
        };
        if !self.is_dead_letter_queue(&source) {
            return Err(not_a_dead_letter_queue());
        }
        if let Some(dest) = input.destination_arn.as_deref() {
            if self.queue_by_arn(dest).is_none() {
                return Err(errors::resource_not_found(
                    "The resource that you specified for the DestinationArn parameter doesn't exist.",
                ));
            }
        }
        let now = self.now();
        let to_move = {
            let mut st = source.lock();
            st.store.promote(now);
            st.store.counts().0 as u64
        };
        let id = lb_core::ids::uuid();
        let task = Arc::new(MoveTask {
            handle: encode_handle(&id, &source.arn),
            id,
            source_arn: source.arn.to_string(),
            destination_arn: input.destination_arn.filter(|d| !d.is_empty()),
            max_per_second,
            to_move,
            started_ms: now,
            moved: AtomicU64::new(0),
            cancel: AtomicBool::new(false),
            status: Mutex::new((TaskStatus::Running, None)),
        });
        {
            let mut tasks = self.inner.tasks.lock().unwrap_or_else(PoisonError::into_inner);
            let list = tasks.entry(task.source_arn.clone()).or_default();
            if list.iter().any(|t| t.status().0 == TaskStatus::Running) {
                return Err(errors::invalid_parameter(
                    "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
                ));
            }
            list.push_front(Arc::clone(&task));
            list.truncate(KEPT_PER_SOURCE);
        }
        let handle = task.handle.clone();
        self.spawn_task(task);
        Ok(handle)
    }

    pub fn cancel_message_move_task(&self, task_handle: &str) -> Result<i64, AwsError> {
        if task_handle.is_empty() {
            return Err(errors::missing_parameter("TaskHandle"));
        }
        let (task_id, source_arn) = decode_handle(task_handle)
            .ok_or_else(|| errors::invalid_parameter("Value for parameter TaskHandle is invalid."))?;
        if self.queue_by_arn(&source_arn).is_none() {
            return Err(source_not_found());
        }
        let task = {
            let tasks = self.inner.tasks.lock().unwrap_or_else(PoisonError::into_inner);
            tasks
                .get(&source_arn)
                .and_then(|list| list.iter().find(|t| t.id == task_id).cloned())
        };
        let task = task.ok_or_else(|| errors::resource_not_found("Task does not exist."))?;
        {
            let mut s = task.status.lock().unwrap_or_else(PoisonError::into_inner);
            if s.0 != TaskStatus::Running {
                return Err(errors::resource_not_found("Task does not exist."));
            }
            s.0 = TaskStatus::Cancelling;
        }
        task.cancel.store(true, Ordering::SeqCst);
        Ok(i64::try_from(task.moved.load(Ordering::Relaxed)).unwrap_or(i64::MAX))
    }

    pub fn list_message_move_tasks(
        &self,
        source_arn: &str,
        max_results: Option<i64>,
    ) -> Result<Vec<MessageMoveTaskInfo>, AwsError> {
        if source_arn.is_empty() {
            return Err(errors::missing_parameter("SourceArn"));
        }
        let source = self.queue_by_arn(source_arn).ok_or_else(source_not_found)?;
        let max = match max_results {
            None => 1,
            Some(n @ 1..=10) => usize::try_from(n).unwrap_or(1),
            Some(n) => {
                return Err(errors::invalid_value(
                    n,
                    "MaxResults",
                    "You must enter a number that's between 1 and 10.",
                ))
            }
        };
        if !self.is_dead_letter_queue(&source) {
            return Err(not_a_dead_letter_queue());
        }
        let tasks = self.inner.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(tasks
            .get(&*source.arn)
            .map(|list| list.iter().take(max).map(|t| t.info()).collect())
            .unwrap_or_default())
    }

    fn spawn_task(&self, task: Arc<MoveTask>) {
        let sqs = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { sqs.run_task(task).await });
            }
            // No runtime (a synchronous caller): move everything now, ignoring the rate limit.
            Err(_) => while sqs.move_step(&task, STEP) {},
        }
    }

    /// Runs a task to its end. A rate-limited task moves its n-th message no earlier than
    /// n / rate seconds after it started, in clock time (so a manual clock paces it too).
    async fn run_task(self, task: Arc<MoveTask>) {
        let step = if task.max_per_second.is_some() { 1 } else { STEP };
        while self.move_step(&task, step) {
            match task.max_per_second {
                Some(rate) => {
                    let moved = task.moved.load(Ordering::Relaxed);
                    let due = task
                        .started_ms
                        .saturating_add(moved.saturating_mul(1000) / u64::from(rate.max(1)));
                    self.inner.clock.sleep_until(due).await;
                }
                None => tokio::task::yield_now().await,
            }
        }
        debug!(source_arn = %task.source_arn, status = task.status().0.as_str(), "message move task ended");
    }

    /// Moves up to `n` messages. Returns false once the task has ended.
    fn move_step(&self, task: &MoveTask, n: usize) -> bool {
        if task.cancel.load(Ordering::SeqCst) {
            task.finish(TaskStatus::Cancelled, None);
            return false;
        }
        let moved = task.moved.load(Ordering::Relaxed);
        if moved >= task.to_move {
            task.finish(TaskStatus::Completed, None);
            return false;
        }
        let n = n.min(usize::try_from(task.to_move - moved).unwrap_or(usize::MAX));
        let Some(source) = self.queue_by_arn(&task.source_arn) else {
            task.finish(TaskStatus::Failed, Some(errors::NON_EXISTENT_QUEUE));
            return false;
        };
        let now = self.now();
        let batch = {
            let mut st = source.lock();
            st.store.promote(now);
            st.store.take_visible(n)
        };
        if batch.is_empty() {
            task.finish(TaskStatus::Completed, None);
            return false;
        }
        let mut rest = batch.into_iter();
        while let Some((key, slot)) = rest.next() {
            let dest_arn = task.destination_arn.as_deref().or(slot.dead_letter_source.as_deref());
            let dest = dest_arn.and_then(|a| self.queue_by_arn(a));
            let outcome = match dest {
                Some(dest) if !dest.fifo || slot.data.group_id().is_some() => self.redeliver(&dest, slot, now),
                _ => Err(slot),
            };
            if let Err(slot) = outcome {
                put_back(&source, std::iter::once((key, slot)).chain(rest), now);
                task.finish(TaskStatus::Failed, Some(errors::NON_EXISTENT_QUEUE));
                return false;
            }
            task.moved.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Enqueues a moved message at `dest` as a new arrival. Gives the message back if `dest` is gone.
    fn redeliver(&self, dest: &Queue, slot: Slot, now: u64) -> Result<(), Slot> {
        let mut st = dest.lock();
        if dest.is_deleted() {
            return Err(slot);
        }
        let sequence = dest.fifo.then(|| self.next_sequence_number());
        let key = MsgKey {
            sent: now,
            id: self.next_message_id(),
        };
        st.store.insert(key, Slot::new(slot.data, 0, sequence), now);
        drop(st);
        dest.wake(1);
        Ok(())
    }
}

fn put_back(source: &Queue, messages: impl Iterator<Item = (MsgKey, Slot)>, now: u64) {
    let mut st = source.lock();
    for (key, mut slot) in messages {
        slot.until = 0;
        st.store.insert(key, slot, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_handles_round_trip() {
        let h = encode_handle("id-1", "arn:aws:sqs:us-east-1:000000000000:dlq");
        assert_eq!(
            decode_handle(&h),
            Some(("id-1".to_owned(), "arn:aws:sqs:us-east-1:000000000000:dlq".to_owned()))
        );
        assert_eq!(decode_handle("garbage"), None);
        assert_eq!(decode_handle(&STANDARD.encode("{}")), None);
    }
}
