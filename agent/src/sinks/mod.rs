//! Sinks: where events (alerts, incidents, hook runs) go. Each sink runs as its own task. Local sinks (stdout) sit
//! behind a bounded channel, so a slow one slows the pipeline (backpressure) instead of losing
//! events. Network sinks are outbox-backed: the hand-off is a durable append to the sink's own
//! outbox (see `outbox.rs`), so a dead peer never blocks the pipeline or the other sinks, and
//! `deliver::run` sends from there.

pub mod deliver;
mod error_chain;
pub mod mqtt;
pub mod mqtt_decisions;
pub mod otlp;
pub mod outbox;
pub(crate) mod running;
pub mod stdout;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::event::Event;
use crate::pipeline::output::Output;
use crate::sinks::outbox::Outbox;
use crate::telemetry::stats::LogLimiter;

/// What an outbox record holds: its `kind` tag. The payload is the event's JSON, the schema of
/// the stdout sink (README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EventKind {
    Alert = 1,
    /// Incidents (groups of alerts, `incidents.rs`).
    Incident = 2,
    /// The steps of remediation hook runs (`hooks/`), but proposals.
    Hook = 3,
    /// Proposals of hooks that wait for an approval (MQTT: `hooks/proposals`).
    Proposal = 4,
}

impl EventKind {
    pub fn of(event: &Event) -> Self {
        match event {
            Event::Alert(_) => Self::Alert,
            Event::Incident(_) => Self::Incident,
            Event::Hook(h) if h.phase == crate::event::HookPhase::Proposed => Self::Proposal,
            Event::Hook(_) => Self::Hook,
        }
    }

    pub fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Self::Alert),
            2 => Some(Self::Incident),
            3 => Some(Self::Hook),
            4 => Some(Self::Proposal),
            _ => None,
        }
    }
}

impl EventKind {
    pub const ALL: &'static [EventKind] =
        &[Self::Alert, Self::Incident, Self::Hook, Self::Proposal];
    /// What the Alertmanager and PagerDuty webhook formats map.
    pub const ALERTS: &'static [EventKind] = &[Self::Alert];
}

/// Events queued per sink before the pipeline waits.
pub const SINK_QUEUE: usize = 1024;

/// The pipeline's handle on every sink.
#[derive(Default)]
pub struct Sinks {
    senders: Vec<(String, mpsc::Sender<Arc<Event>>)>,
    /// Each outbox-backed sink with the kinds of event it takes.
    outboxes: Vec<(Arc<Outbox>, LogLimiter, &'static [EventKind])>,
}

impl Sinks {
    pub fn add(&mut self, name: String, tx: mpsc::Sender<Arc<Event>>) {
        self.senders.push((name, tx));
    }

    /// Adds an outbox-backed sink: events of `kinds` are appended to `outbox`, its own task
    /// delivers them.
    pub fn add_outbox(&mut self, outbox: Arc<Outbox>, kinds: &'static [EventKind]) {
        self.outboxes
            .push((outbox, LogLimiter::new(Duration::from_secs(60)), kinds));
    }

    /// Attaches a sink started by `running::RunningSinks`, in place of the one of the same
    /// name, if any (a sink a reload restarted).
    pub(crate) fn attach(&mut self, handle: running::SinkHandle) {
        match handle {
            running::SinkHandle::Channel(name, tx) => {
                self.remove(&name);
                self.add(name, tx);
            }
            running::SinkHandle::Outbox(outbox, kinds) => {
                self.remove(outbox.name());
                self.add_outbox(outbox, kinds);
            }
        }
    }

    /// Detaches sink `name`: a channel sink's task ends once it has written what it holds; an
    /// outbox-backed sink's outbox gets nothing more from here.
    pub fn remove(&mut self, name: &str) {
        self.senders.retain(|(n, _)| *n != name);
        self.outboxes.retain(|(o, _, _)| o.name() != name);
    }

    pub fn is_empty(&self) -> bool {
        self.senders.is_empty() && self.outboxes.is_empty()
    }

    /// Appends `payloads` (all of one `kind`) durably to every outbox-backed sink that takes
    /// that kind, one batch (one fsync) per sink, all sinks at once. A failed append (disk full)
    /// is counted as dropped by the outbox and logged at most once a minute per sink.
    async fn append_to_outboxes(&mut self, kind: EventKind, payloads: Vec<Vec<u8>>) {
        let payloads = Arc::new(payloads);
        let appends: Vec<_> = self
            .outboxes
            .iter()
            .map(|(outbox, _, kinds)| {
                if !kinds.contains(&kind) {
                    return None;
                }
                let ob = Arc::clone(outbox);
                let p = Arc::clone(&payloads);
                Some(tokio::task::spawn_blocking(move || {
                    let refs: Vec<&[u8]> = p.iter().map(Vec::as_slice).collect();
                    ob.append_batch(kind as u8, &refs)
                }))
            })
            .collect();
        for ((outbox, log, _), append) in self.outboxes.iter_mut().zip(appends) {
            let Some(append) = append else { continue };
            let err = match append.await {
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            if let Some(n) = log.hit() {
                tracing::error!(sink = outbox.name(), error = %err, failed = n, "cannot queue events for this sink; they are lost for it (logged at most once a minute)");
            }
        }
    }

    /// Hands `event` to every sink, waiting while a sink's queue is full. A sink whose task has
    /// ended is dropped from the list (its task logged why).
    pub async fn send(&mut self, event: Event) {
        self.send_all(vec![event]).await;
    }

    /// Hands a burst of events to every sink, in order: each outbox-backed sink gets each run
    /// of events of one kind as one durable append (one fsync, not one per event).
    pub async fn send_all(&mut self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        if !self.outboxes.is_empty() {
            let mut run: Option<(EventKind, Vec<Vec<u8>>)> = None;
            for event in &events {
                let kind = EventKind::of(event);
                let json = match serde_json::to_vec(event) {
                    Ok(json) => json,
                    Err(e) => {
                        tracing::error!(error = %e, id = %event.id(), "cannot encode event");
                        continue;
                    }
                };
                match &mut run {
                    Some((k, payloads)) if *k == kind => payloads.push(json),
                    _ => {
                        if let Some((k, payloads)) = run.replace((kind, vec![json])) {
                            self.append_to_outboxes(k, payloads).await;
                        }
                    }
                }
            }
            if let Some((k, payloads)) = run {
                self.append_to_outboxes(k, payloads).await;
            }
        }
        let mut gone = Vec::new();
        for event in events {
            let event = Arc::new(event);
            for (i, (name, tx)) in self.senders.iter().enumerate() {
                if !gone.contains(&i) && tx.send(Arc::clone(&event)).await.is_err() {
                    tracing::error!(sink = name, "sink stopped; it receives no more events");
                    gone.push(i);
                }
            }
        }
        gone.sort_unstable();
        for i in gone.into_iter().rev() {
            self.senders.remove(i);
        }
    }
}

/// The pipeline's output: every sink.
impl Output for Sinks {
    async fn send_all(&mut self, events: Vec<Event>) {
        Sinks::send_all(self, events).await;
    }
}
