//! The previous dispatcher's interface over the [`Engine`], kept only while its last callers move
//! to [`Engine::submit`]. To be deleted.

use std::sync::Arc;

use serde::Serialize;

use super::{Delivery, Engine, EngineConfig, Message, Producer, Registry, RetryPolicy};
use crate::arn::Arn;
use crate::clock::SystemClock;

#[derive(Clone)]
pub struct Dispatcher {
    engine: Engine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeliveryStatsSnapshot {
    pub submitted: u64,
    pub delivered: u64,
    pub retried: u64,
    pub dropped: u64,
}

impl Dispatcher {
    pub fn spawn(registry: Arc<Registry>) -> Self {
        Self {
            engine: Engine::new(registry, Arc::new(SystemClock), EngineConfig::default()),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn submit(&self, target: Arn, message: Message) {
        let producer = Producer::new(message.source_arn.clone().unwrap_or_default(), None);
        let mut d = Delivery::new(target, Arc::new(message), producer);
        d.retry = RetryPolicy::s3_notifications();
        let _ = self.engine.submit(d);
    }

    pub fn stats(&self) -> DeliveryStatsSnapshot {
        let s = self.engine.stats();
        DeliveryStatsSnapshot {
            submitted: s.submitted,
            delivered: s.delivered,
            retried: s.retried,
            dropped: s.dropped + s.dead_lettered,
        }
    }
}
