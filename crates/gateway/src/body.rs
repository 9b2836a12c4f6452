//! Request bodies, read incrementally under two bounds: a per-request limit (the service's) and
//! a budget of bytes in flight across all requests. Nothing is reserved from what a request
//! declares: a `Content-Length: 5368709120` that sends 128 KiB holds 128 KiB.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::debug;

/// The budget is counted in units of this many bytes (a semaphore's permits are `u32`).
const UNIT: usize = 1024;

/// Why a request body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Over the request's limit (declared or sent).
    TooLarge,
    /// The connection failed or ended mid-body.
    Read,
    /// The server holds its budget of request bytes in flight; try again.
    Busy,
}

/// Bytes of request bodies in flight, across every request.
#[derive(Clone)]
pub struct BodyBudget {
    sem: Arc<Semaphore>,
}

impl BodyBudget {
    pub fn new(bytes: usize) -> Self {
        Self {
            sem: Arc::new(Semaphore::new((bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS))),
        }
    }

    /// Bytes left in the budget.
    pub fn available(&self) -> usize {
        self.sem.available_permits().saturating_mul(UNIT)
    }
}

/// A body's share of the budget, returned when dropped (after the response is produced).
#[derive(Default)]
pub struct Held(Option<OwnedSemaphorePermit>);

impl Held {
    fn grow(&mut self, budget: &BodyBudget, total_bytes: usize) -> Result<(), BodyError> {
        let needed = total_bytes.div_ceil(UNIT);
        let have = self.0.as_ref().map_or(0, OwnedSemaphorePermit::num_permits);
        if needed <= have {
            return Ok(());
        }
        let more = u32::try_from(needed - have).map_err(|_| BodyError::TooLarge)?;
        let permit = Arc::clone(&budget.sem)
            .try_acquire_many_owned(more)
            .map_err(|_| BodyError::Busy)?;
        match &mut self.0 {
            Some(p) => p.merge(permit),
            None => self.0 = Some(permit),
        }
        Ok(())
    }
}

/// Reads a body of at most `limit` bytes (refused at once when `declared` is larger).
pub async fn read<B>(
    body: B,
    declared: Option<usize>,
    limit: usize,
    budget: &BodyBudget,
) -> Result<(Bytes, Held), BodyError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut held = Held::default();
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut buf: Option<BytesMut> = None;
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            debug!(error = %e, "request body read failed");
            BodyError::Read
        })?;
        let Ok(chunk) = frame.into_data() else { continue };
        if chunk.is_empty() {
            continue;
        }
        len = len.saturating_add(chunk.len());
        if len > limit {
            return Err(BodyError::TooLarge);
        }
        held.grow(budget, len)?;
        match (&mut first, &mut buf) {
            (None, None) => first = Some(chunk),
            (Some(f), None) => {
                let mut b = BytesMut::with_capacity((f.len() + chunk.len()) * 2);
                b.extend_from_slice(f);
                b.extend_from_slice(&chunk);
                first = None;
                buf = Some(b);
            }
            (_, Some(b)) => b.extend_from_slice(&chunk),
        }
    }
    let bytes = match (first, buf) {
        (_, Some(b)) => b.freeze(),
        (Some(f), None) => f,
        (None, None) => Bytes::new(),
    };
    Ok((bytes, held))
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::StreamBody;

    use super::*;

    type Frames = futures::stream::Iter<std::vec::IntoIter<Result<http_body::Frame<Bytes>, Infallible>>>;

    fn chunks(parts: Vec<&'static [u8]>) -> StreamBody<Frames> {
        let frames: Vec<_> = parts
            .into_iter()
            .map(|p| Ok(http_body::Frame::data(Bytes::from_static(p))))
            .collect();
        StreamBody::new(futures::stream::iter(frames))
    }

    #[tokio::test]
    async fn reads_incrementally_within_the_budget() {
        let budget = BodyBudget::new(4 * UNIT);
        let (b, held) = read(chunks(vec![b"ab", b"cd", b"ef"]), Some(6), 100, &budget)
            .await
            .unwrap();
        assert_eq!(&b[..], b"abcdef");
        assert_eq!(budget.available(), 3 * UNIT);
        drop(held);
        assert_eq!(budget.available(), 4 * UNIT);
    }

    #[tokio::test]
    async fn a_declared_size_reserves_nothing() {
        let budget = BodyBudget::new(64 * UNIT);
        let (b, _held) = read(chunks(vec![&[0u8; 1000]]), Some(5_000_000), usize::MAX, &budget)
            .await
            .unwrap();
        assert_eq!(b.len(), 1000);
        assert_eq!(budget.available(), 63 * UNIT);
    }

    #[tokio::test]
    async fn limits_and_budget_refuse() {
        let budget = BodyBudget::new(2 * UNIT);
        assert_eq!(
            read(chunks(vec![b"x"]), Some(11), 10, &budget).await.err(),
            Some(BodyError::TooLarge)
        );
        assert_eq!(
            read(chunks(vec![&[0u8; 8], &[0u8; 8]]), None, 10, &budget).await.err(),
            Some(BodyError::TooLarge)
        );
        let (_, held) = read(chunks(vec![&[0u8; 1500]]), None, usize::MAX, &budget)
            .await
            .unwrap();
        assert_eq!(
            read(chunks(vec![&[0u8; 1500]]), None, usize::MAX, &budget).await.err(),
            Some(BodyError::Busy)
        );
        drop(held);
        assert!(read(chunks(vec![&[0u8; 1500]]), None, usize::MAX, &budget)
            .await
            .is_ok());
        assert_eq!(budget.available(), 2 * UNIT, "refused reads give their share back");
    }
}
