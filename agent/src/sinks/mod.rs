//! Sinks: where alert events go. Each sink runs as its own task behind a bounded channel, so a
//! slow sink slows the pipeline (backpressure) instead of losing events.

pub(crate) mod lines;
pub mod stdout;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::event::AlertEvent;

/// Events queued per sink before the pipeline waits.
pub const SINK_QUEUE: usize = 1024;

/// The pipeline's handle on every sink.
#[derive(Default)]
pub struct Sinks {
    senders: Vec<(&'static str, mpsc::Sender<Arc<AlertEvent>>)>,
}

impl Sinks {
    pub fn add(&mut self, name: &'static str, tx: mpsc::Sender<Arc<AlertEvent>>) {
        self.senders.push((name, tx));
    }

    pub fn is_empty(&self) -> bool {
        self.senders.is_empty()
    }

    /// Hands `event` to every sink, waiting while a sink's queue is full. A sink whose task has
    /// ended is dropped from the list (its task logged why).
    pub async fn send(&mut self, event: AlertEvent) {
        let event = Arc::new(event);
        let mut gone = Vec::new();
        for (i, (name, tx)) in self.senders.iter().enumerate() {
            if tx.send(Arc::clone(&event)).await.is_err() {
                tracing::error!(sink = name, "sink stopped; it receives no more alerts");
                gone.push(i);
            }
        }
        for i in gone.into_iter().rev() {
            self.senders.remove(i);
        }
    }
}
