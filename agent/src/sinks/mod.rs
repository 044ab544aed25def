//! Sinks: where alert events go. Each sink runs as its own task. Local sinks (stdout) sit
//! behind a bounded channel, so a slow one slows the pipeline (backpressure) instead of losing
//! events. Network sinks are outbox-backed: the hand-off is a durable append to the sink's own
//! outbox (see `outbox.rs`), so a dead peer never blocks the pipeline or the other sinks, and
//! `deliver::run` sends from there.

pub mod deliver;
pub(crate) mod lines;
pub mod mqtt;
pub mod otlp;
pub mod stdout;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::event::AlertEvent;
use crate::outbox::Outbox;
use crate::stats::LogLimiter;

/// What an outbox record holds: its `kind` tag. The payload is the event's JSON (for alerts,
/// the schema of the stdout sink, documented in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EventKind {
    Alert = 1,
    /// Incidents (groups of alerts); produced by the alerting stage once it groups alerts.
    Incident = 2,
    /// Outcomes of remediation hook runs; produced once hooks exist.
    Hook = 3,
}

impl EventKind {
    pub fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Self::Alert),
            2 => Some(Self::Incident),
            3 => Some(Self::Hook),
            _ => None,
        }
    }
}

/// Events queued per sink before the pipeline waits.
pub const SINK_QUEUE: usize = 1024;

/// The pipeline's handle on every sink.
#[derive(Default)]
pub struct Sinks {
    senders: Vec<(&'static str, mpsc::Sender<Arc<AlertEvent>>)>,
    outboxes: Vec<(Arc<Outbox>, LogLimiter)>,
}

impl Sinks {
    pub fn add(&mut self, name: &'static str, tx: mpsc::Sender<Arc<AlertEvent>>) {
        self.senders.push((name, tx));
    }

    /// Adds an outbox-backed sink: events are appended to `outbox`, its own task delivers them.
    pub fn add_outbox(&mut self, outbox: Arc<Outbox>) {
        self.outboxes
            .push((outbox, LogLimiter::new(Duration::from_secs(60))));
    }

    pub fn is_empty(&self) -> bool {
        self.senders.is_empty() && self.outboxes.is_empty()
    }

    /// Appends `payload` durably to every outbox-backed sink. A failed append (disk full) is
    /// counted as dropped by the outbox and logged at most once a minute per sink.
    async fn append_to_outboxes(&mut self, kind: EventKind, payload: Vec<u8>) {
        let payload = Arc::new(payload);
        for (outbox, log) in &mut self.outboxes {
            let ob = Arc::clone(outbox);
            let p = Arc::clone(&payload);
            let result = tokio::task::spawn_blocking(move || ob.append(kind as u8, &p)).await;
            let err = match result {
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            if let Some(n) = log.hit() {
                tracing::error!(sink = outbox.name(), error = %err, failed = n, "cannot queue an alert for this sink; it is lost for it (logged at most once a minute)");
            }
        }
    }

    /// Hands `event` to every sink, waiting while a sink's queue is full. A sink whose task has
    /// ended is dropped from the list (its task logged why).
    pub async fn send(&mut self, event: AlertEvent) {
        if !self.outboxes.is_empty() {
            match serde_json::to_vec(&event) {
                Ok(json) => self.append_to_outboxes(EventKind::Alert, json).await,
                Err(e) => {
                    tracing::error!(error = %e, alert_id = %event.alert_id, "cannot encode alert")
                }
            }
        }
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
