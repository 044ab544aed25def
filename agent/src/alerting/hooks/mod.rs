//! Remediation hooks (`[[hooks]]`): on a matching alert (or incident), run the configured argv
//! directly, never through a shell, with the event as JSON on stdin and in `SEISMO_*`
//! environment variables. Each run is its own task, so a slow hook never holds the pipeline
//! up; the pipeline only decides, in `dispatch`, whether a run starts:
//!
//! - the event must match (`on`, `signals`, `min_severity`, `states`; see `matcher.rs`);
//! - one alert runs a hook once while it fires (an escalation re-sends the same id);
//! - `min_interval` since the hook's last start, then `max_concurrent` runs at once: a match
//!   beyond either is skipped, counted and logged (at most once a minute per hook and reason);
//! - `dry_run` logs the command it would run and runs nothing.
//!
//! With `approval = "required"` a match makes a *proposal* instead (recorded in `approval.rs`),
//! and the run waits for a decision (`decisions.rs`, authenticated by `signature.rs` over MQTT
//! or by the API token); `on = "request"` hooks run only on a decision naming them and an
//! alert or incident the agent has seen. The limits and dry-run apply when a decision starts
//! the run; the command is always the configured argv.
//!
//! Every step of a run (proposed, approved, rejected, expired, started, finished) is a
//! [`HookOutcome`] handed back to the pipeline (`next_outcome`), which exports it to the sinks;
//! finished runs are logged and counted in `stats.rs`.

pub mod approval;
pub mod decisions;
pub mod input;
mod matcher;
pub mod outcome;
mod runner;
pub mod signature;
mod tree;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo_config::{HookApproval, HookConfig, HookOn};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use crate::event::{HookOutcome, HookPhase, HookResult};
pub use input::HookInput;

use crate::clock::{format_ts, now_ms};
use crate::event::AlertState;
use crate::telemetry::stats::{LogLimiter, Stats};
use approval::{Ledger, Proposal, Request, Status, Subject};
use decisions::{Applied, Decision, Inbound, Refusal, Verdict};
use signature::DecisionKey;

/// Between SIGTERM and SIGKILL when a run is stopped (timeout or agent shutdown).
pub const KILL_GRACE: Duration = Duration::from_secs(2);
/// Firing ids remembered per hook (to run once per alert); the oldest are forgotten past it.
const REMEMBERED: usize = 4096;
/// Outcomes waiting for the pipeline; a full queue makes the finished runs wait, not the pipeline.
const OUTCOME_QUEUE: usize = 256;
/// Variables passed on from the agent's environment; everything else is withheld (it may hold
/// credentials, e.g. a sink's `password_env`).
const PASSED_ENV: [&str; 6] = ["HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME"];

/// The hooks of one agent.
pub struct Hooks {
    hooks: Vec<Hook>,
    /// What every run starts with.
    run: RunContext,
    stats: Arc<Stats>,
    rx: mpsc::Receiver<HookOutcome>,
    /// Steps made here (proposed, approved...) waiting for `next_outcome`.
    pending: VecDeque<HookOutcome>,
    /// Approval mode and requests; `None` when no hook needs decisions.
    decisions: Option<Decisions>,
    /// Alerts and incidents seen (for requests), with the order they were added in.
    known: HashMap<String, (Arc<Payload>, u64)>,
    known_added: u64,
}

/// Where decisions come from and what they are checked against.
struct Decisions {
    /// `None` once stopped, or when every sender is gone.
    rx: Option<mpsc::Receiver<Inbound>>,
    ledger: Ledger,
    /// Verifies MQTT decisions; without it they are refused as unsigned.
    key: Option<DecisionKey>,
    window: Duration,
    /// Refusals logged at most once a minute per reason.
    logs: HashMap<&'static str, LogLimiter>,
}

/// The proposal or request a run belongs to, and who decided.
#[derive(Debug, Clone)]
struct Tag {
    id: String,
    by: Option<String>,
    expires_ms: Option<i64>,
}

struct Hook {
    config: Arc<HookConfig>,
    running: Arc<AtomicU32>,
    last_start: Option<Instant>,
    /// Firing ids this hook ran for, with the order they were added in.
    ran_for: HashMap<String, u64>,
    added: u64,
    interval_log: LogLimiter,
    concurrency_log: LogLimiter,
}

/// An event rendered once for every hook it runs.
struct Payload {
    event: &'static str,
    state: &'static str,
    subject: Subject,
}

impl Payload {
    /// A saved subject (a proposal's), with its names as the events spell them.
    fn from_subject(s: &Subject) -> Self {
        Self {
            event: if s.event == "incident" {
                "incident"
            } else {
                "alert"
            },
            state: if s.state == "resolved" {
                "resolved"
            } else {
                "firing"
            },
            subject: s.clone(),
        }
    }
}

impl Hooks {
    pub fn new(configs: &[HookConfig], stats: Arc<Stats>) -> Self {
        let mut base_env = vec![(
            "PATH".to_owned(),
            std::env::var("PATH").unwrap_or_else(|_| seismo_config::DEFAULT_PATH.to_owned()),
        )];
        for name in PASSED_ENV {
            if let Ok(v) = std::env::var(name) {
                base_env.push((name.to_owned(), v));
            }
        }
        let (tx, rx) = mpsc::channel(OUTCOME_QUEUE);
        Self {
            hooks: configs
                .iter()
                .map(|c| Hook {
                    config: Arc::new(c.clone()),
                    running: Arc::new(AtomicU32::new(0)),
                    last_start: None,
                    ran_for: HashMap::new(),
                    added: 0,
                    interval_log: LogLimiter::new(Duration::from_secs(60)),
                    concurrency_log: LogLimiter::new(Duration::from_secs(60)),
                })
                .collect(),
            run: RunContext {
                base_env: Arc::new(base_env),
                stats: Arc::clone(&stats),
                grace: KILL_GRACE,
                stop: CancellationToken::new(),
                tx: Some(tx),
            },
            stats,
            rx,
            pending: VecDeque::new(),
            decisions: None,
            known: HashMap::new(),
            known_added: 0,
        }
    }

    /// Takes decisions from `rx` (the HTTP API, the MQTT subscription), recorded in `ledger`;
    /// MQTT decisions are verified with `key` and refused outside `window`.
    pub fn with_decisions(
        mut self,
        rx: mpsc::Receiver<Inbound>,
        ledger: Ledger,
        key: Option<DecisionKey>,
        window: Duration,
    ) -> Self {
        self.decisions = Some(Decisions {
            rx: Some(rx),
            ledger,
            key,
            window,
            logs: HashMap::new(),
        });
        self
    }

    /// True when a hook waits for decisions (approval mode or `on = "request"`).
    pub fn need_decisions(configs: &[HookConfig]) -> bool {
        configs
            .iter()
            .any(|h| h.approval == HookApproval::Required || h.on == HookOn::Request)
    }

    pub fn len(&self) -> usize {
        self.hooks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    /// Starts the runs `input` asks for (each on its own task), or proposes them, and returns
    /// at once.
    pub fn dispatch(&mut self, input: &dyn HookInput) {
        if self.run.tx.is_none() {
            return;
        }
        let now = Instant::now();
        let firing = input.state() == AlertState::Firing;
        let mut payload: Option<Arc<Payload>> = None;
        if self.decisions.is_some() && self.hooks.iter().any(|h| h.config.on == HookOn::Request) {
            let Some(p) = payload_for(input, &mut payload) else {
                return;
            };
            remember_known(&mut self.known, &mut self.known_added, p);
        }
        let mut proposals = Vec::new();
        for hook in &mut self.hooks {
            let name = hook.config.name.as_str();
            if !firing {
                hook.ran_for.remove(input.id());
            }
            if !matcher::matches(&hook.config, input) {
                continue;
            }
            if firing && hook.ran_for.contains_key(input.id()) {
                tracing::debug!(
                    hook = name,
                    event_id = input.id(),
                    "hook already ran for this alert"
                );
                continue;
            }
            if hook.config.approval == HookApproval::Required {
                let Some(p) = payload_for(input, &mut payload) else {
                    return;
                };
                if firing {
                    hook.remember(input.id());
                }
                proposals.push((Arc::clone(&hook.config), p));
                continue;
            }
            if limits(hook, &self.stats, now, input.id()).is_err() {
                continue;
            }
            let Some(p) = payload_for(input, &mut payload) else {
                return;
            };
            if firing {
                hook.remember(input.id());
            }
            self.run.start(hook, p, None, now);
        }
        for (config, p) in proposals {
            self.propose(&config, &p);
        }
    }

    /// Records and publishes a proposal to run `config` for `p`.
    fn propose(&mut self, config: &HookConfig, p: &Payload) {
        let Some(d) = &mut self.decisions else {
            tracing::error!(hook = %config.name, event_id = %p.subject.event_id,
                "hook not proposed: approval mode is not set up in this process");
            return;
        };
        let now = now_ms();
        let proposal = Proposal {
            id: format!("p-{:016x}", rand::random::<u64>()),
            hook: config.name.clone(),
            command: config.command.argv.clone(),
            subject: p.subject.clone(),
            created_ms: now,
            expires_ms: now.saturating_add(
                i64::try_from(config.approval_timeout.as_millis()).unwrap_or(i64::MAX),
            ),
            status: Status::Open,
            decided_by: None,
            decided_ms: None,
        };
        if let Err(e) = d.ledger.propose(proposal.clone()) {
            tracing::error!(hook = %config.name, event_id = %p.subject.event_id, error = %e,
                "cannot record the hook proposal in the state directory; it is not made");
            return;
        }
        tracing::info!(hook = %config.name, proposal_id = %proposal.id,
            event_id = %p.subject.event_id, expires_at = %format_ts(proposal.expires_ms),
            "hook proposed: it runs when a decision approves it");
        let tag = Tag {
            id: proposal.id.clone(),
            by: None,
            expires_ms: Some(proposal.expires_ms),
        };
        let mut proposed = step(
            HookPhase::Proposed,
            &config.name,
            &proposal.command,
            p,
            Some(&tag),
        );
        proposed.subject = serde_json::from_str(&p.subject.json).ok();
        self.pending.push_back(proposed);
    }

    /// The next step of a run (taking decisions and expiring proposals meanwhile); `None`
    /// once stopped and every run has reported. Cancel-safe.
    pub async fn next_outcome(&mut self) -> Option<HookOutcome> {
        loop {
            if let Some(o) = self.pending.pop_front() {
                return Some(o);
            }
            let expiry = self.decisions.as_ref().and_then(|d| d.ledger.next_expiry());
            let due = async {
                match expiry {
                    Some(at) => {
                        let wait = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
                        // Woken at least once a minute: the wall clock may have jumped.
                        tokio::time::sleep(Duration::from_millis(wait.min(60_000))).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                o = self.rx.recv() => return o,
                inbound = next_decision(&mut self.decisions) => match inbound {
                    Some(i) => self.decide(i),
                    None => {
                        if let Some(d) = &mut self.decisions {
                            d.rx = None;
                        }
                    }
                },
                () = due => self.expire(),
            }
        }
    }

    /// Starts no more runs and takes no more decisions; stops the running ones (SIGTERM, then
    /// SIGKILL after the grace period); their outcomes still come out of `next_outcome`.
    pub fn stop(&mut self) {
        self.run.tx = None;
        if let Some(d) = &mut self.decisions {
            d.rx = None;
        }
        self.run.stop.cancel();
    }

    /// Open proposals past their time: recorded and reported as expired; nothing runs.
    fn expire(&mut self) {
        let Some(d) = &mut self.decisions else { return };
        for p in d.ledger.expire_due(now_ms()) {
            tracing::warn!(hook = %p.hook, proposal_id = %p.id, event_id = %p.subject.event_id,
                "hook proposal expired without a decision: nothing runs");
            let tag = Tag {
                id: p.id.clone(),
                by: None,
                expires_ms: Some(p.expires_ms),
            };
            let payload = Payload::from_subject(&p.subject);
            self.pending.push_back(step(
                HookPhase::Expired,
                &p.hook,
                &p.command,
                &payload,
                Some(&tag),
            ));
        }
    }

    /// Checks, applies, counts, logs and answers one decision.
    fn decide(&mut self, inbound: Inbound) {
        let now = now_ms();
        let checked = match &self.decisions {
            Some(d) => {
                decisions::check(&inbound.body, inbound.source, d.key.as_ref(), d.window, now)
            }
            None => return,
        };
        let result = checked.and_then(|decision| {
            let by = decision.by();
            self.apply(&decision, now).map(|a| (a, by))
        });
        match &result {
            Ok((a, by)) => {
                self.stats.hook_decisions.add(a.result, 1);
                tracing::info!(result = a.result, id = %a.id, by = %by,
                    source = inbound.source.name(), "hook decision applied");
            }
            Err(r) => {
                self.stats.hook_decisions.add(r.label(), 1);
                if let Some(d) = &mut self.decisions {
                    let log = d
                        .logs
                        .entry(r.label())
                        .or_insert_with(|| LogLimiter::new(Duration::from_secs(60)));
                    if let Some(n) = log.hit() {
                        tracing::warn!(reason = r.label(), error = %r, refused = n,
                            source = inbound.source.name(),
                            "hook decision refused: nothing runs (logged at most once a minute per reason)");
                    }
                }
            }
        }
        if let Some(reply) = inbound.reply {
            let _ = reply.send(result.map(|(a, _)| a));
        }
    }

    fn apply(&mut self, d: &Decision, now: i64) -> Result<Applied, Refusal> {
        match d.decision {
            Verdict::Approve | Verdict::Reject => self.settle(d, now),
            Verdict::Run => self.request(d, now),
        }
    }

    /// Approves or rejects an open proposal this agent made.
    fn settle(&mut self, d: &Decision, now: i64) -> Result<Applied, Refusal> {
        let id = d.proposal_id.clone().unwrap_or_default();
        let Some(p) = self
            .decisions
            .as_ref()
            .and_then(|dec| dec.ledger.get(&id))
            .cloned()
        else {
            return Err(Refusal::Unknown(format!(
                "no proposal {id}: only an open proposal this agent made can be decided"
            )));
        };
        match p.status {
            Status::Approved | Status::Rejected => {
                return Err(Refusal::Duplicate(format!(
                    "proposal {id} was already {} by {}: nothing more runs",
                    if p.status == Status::Approved {
                        "approved"
                    } else {
                        "rejected"
                    },
                    p.decided_by.as_deref().unwrap_or("unknown")
                )))
            }
            Status::Expired => return Err(Refusal::Expired(id)),
            Status::Open if p.expires_ms <= now => {
                self.expire();
                return Err(Refusal::Expired(id));
            }
            Status::Open => {}
        }
        let tag = Tag {
            id: id.clone(),
            by: Some(d.by()),
            expires_ms: Some(p.expires_ms),
        };
        let payload = Arc::new(Payload::from_subject(&p.subject));
        let Some(dec) = &mut self.decisions else {
            return Err(Refusal::Unknown("no hook takes decisions".into()));
        };
        if d.decision == Verdict::Reject {
            dec.ledger
                .decide(&id, Status::Rejected, tag.by.clone(), now)
                .map_err(|e| Refusal::NotRecorded(e.to_string()))?;
            self.pending.push_back(step(
                HookPhase::Rejected,
                &p.hook,
                &p.command,
                &payload,
                Some(&tag),
            ));
            return Ok(Applied {
                result: "rejected",
                id,
            });
        }
        let Some(hook) = self.hooks.iter_mut().find(|h| h.config.name == p.hook) else {
            return Err(Refusal::Unknown(format!(
                "hook `{}` of proposal {id} is no longer configured: nothing runs",
                p.hook
            )));
        };
        if hook.config.command.argv != p.command {
            return Err(Refusal::Unknown(format!(
                "the command of hook `{}` changed since proposal {id} was made: nothing runs",
                p.hook
            )));
        }
        let started = Instant::now();
        limits(hook, &self.stats, started, &p.subject.event_id).map_err(Refusal::Busy)?;
        dec.ledger
            .decide(&id, Status::Approved, tag.by.clone(), now)
            .map_err(|e| Refusal::NotRecorded(e.to_string()))?;
        self.run
            .approved(&mut self.pending, hook, payload, tag, started)?;
        Ok(Applied {
            result: "approved",
            id,
        })
    }

    /// Runs an `on = "request"` hook for a known alert or incident, once per request id.
    fn request(&mut self, d: &Decision, now: i64) -> Result<Applied, Refusal> {
        let (name, event_id, request_id) = (
            d.hook.clone().unwrap_or_default(),
            d.event_id.clone().unwrap_or_default(),
            d.request_id.clone().unwrap_or_default(),
        );
        let Some(dec) = &mut self.decisions else {
            return Err(Refusal::Unknown("no hook takes decisions".into()));
        };
        let Some(hook) = self
            .hooks
            .iter_mut()
            .find(|h| h.config.name == name && h.config.on == HookOn::Request)
        else {
            return Err(Refusal::Unknown(format!(
                "no hook `{name}` with on = \"request\" is configured"
            )));
        };
        if let Some(r) = dec.ledger.request(&request_id) {
            return Err(Refusal::Duplicate(format!(
                "request {request_id} already ran hook `{}` for {} (by {}): nothing more runs",
                r.hook, r.event_id, r.by
            )));
        }
        let Some((payload, _)) = self.known.get(&event_id) else {
            return Err(Refusal::Unknown(format!(
                "no alert or incident {event_id} is known to this agent (since it started)"
            )));
        };
        let payload = Arc::clone(payload);
        if !payload
            .subject
            .signals
            .iter()
            .any(|s| seismo_config::any_match(&hook.config.signals, s))
        {
            return Err(Refusal::Unknown(format!(
                "hook `{name}` does not run for {event_id}: none of its signals matches the hook's `signals`"
            )));
        }
        let started = Instant::now();
        limits(hook, &self.stats, started, &event_id).map_err(Refusal::Busy)?;
        let by = d.by();
        dec.ledger
            .record_request(Request {
                id: request_id.clone(),
                hook: name.clone(),
                event_id,
                by: by.clone(),
                time_ms: now,
            })
            .map_err(|e| Refusal::NotRecorded(e.to_string()))?;
        let tag = Tag {
            id: request_id.clone(),
            by: Some(by),
            expires_ms: None,
        };
        self.run
            .approved(&mut self.pending, hook, payload, tag, started)?;
        Ok(Applied {
            result: "run",
            id: request_id,
        })
    }
}

/// The next decision; pending forever without a receiver (so `select!` skips it).
async fn next_decision(d: &mut Option<Decisions>) -> Option<Inbound> {
    match d.as_mut().and_then(|d| d.rx.as_mut()) {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// `input` rendered once (into `slot`) for every hook; `None` (logged) when it cannot be.
fn payload_for(input: &dyn HookInput, slot: &mut Option<Arc<Payload>>) -> Option<Arc<Payload>> {
    if let Some(p) = slot {
        return Some(Arc::clone(p));
    }
    match prepare(input) {
        Ok(p) => Some(Arc::clone(slot.insert(Arc::new(p)))),
        Err(e) => {
            tracing::error!(event_id = input.id(), error = %e, "cannot encode the event for hooks");
            None
        }
    }
}

/// Remembers `p` as a known alert or incident (its latest state), forgetting the oldest.
fn remember_known(
    known: &mut HashMap<String, (Arc<Payload>, u64)>,
    added: &mut u64,
    p: Arc<Payload>,
) {
    if known.len() >= REMEMBERED && !known.contains_key(&p.subject.event_id) {
        if let Some(oldest) = known
            .iter()
            .min_by_key(|(_, (_, n))| *n)
            .map(|(k, _)| k.clone())
        {
            known.remove(&oldest);
        }
    }
    *added += 1;
    known.insert(p.subject.event_id.clone(), (p, *added));
}

/// `Err(reason)` when `min_interval` or `max_concurrent` keeps `hook` from starting now
/// (counted, and logged at most once a minute per hook and reason).
fn limits(hook: &mut Hook, stats: &Stats, now: Instant, event_id: &str) -> Result<(), String> {
    let name = hook.config.name.as_str();
    if let Some(last) = hook.last_start {
        if now.duration_since(last) < hook.config.min_interval {
            Stats::add(&stats.hook_runs_skipped_interval, 1);
            if let Some(n) = hook.interval_log.hit() {
                tracing::warn!(
                    hook = name, event_id, skipped = n,
                    min_interval = %humantime::format_duration(hook.config.min_interval),
                    "hook not run: it started less than min_interval ago (logged at most once a minute)"
                );
            }
            return Err(format!(
                "hook `{name}` started less than min_interval ({}) ago: decide again later",
                humantime::format_duration(hook.config.min_interval)
            ));
        }
    }
    let running = hook.running.load(Ordering::Relaxed);
    if !hook.config.dry_run && running >= hook.config.max_concurrent {
        Stats::add(&stats.hook_runs_skipped_concurrency, 1);
        if let Some(n) = hook.concurrency_log.hit() {
            tracing::warn!(
                hook = name,
                event_id,
                skipped = n,
                running,
                "hook not run: max_concurrent runs are still going (logged at most once a minute)"
            );
        }
        return Err(format!(
            "hook `{name}` has max_concurrent ({}) runs going: decide again later",
            hook.config.max_concurrent
        ));
    }
    Ok(())
}

/// What every run starts with besides its hook: owned by [`Hooks`], one method starts a run.
struct RunContext {
    base_env: Arc<Vec<(String, String)>>,
    stats: Arc<Stats>,
    grace: Duration,
    stop: CancellationToken,
    /// `None` once stopped: no more runs start.
    tx: Option<mpsc::Sender<HookOutcome>>,
}

impl RunContext {
    /// Starts a run of `hook` for `payload` on its own task (or its dry run); nothing once
    /// stopped.
    fn start(&self, hook: &mut Hook, payload: Arc<Payload>, tag: Option<Tag>, now: Instant) {
        let Some(tx) = &self.tx else { return };
        hook.last_start = Some(now);
        let task = Task {
            config: Arc::clone(&hook.config),
            payload,
            tag,
            base_env: Arc::clone(&self.base_env),
            stats: Arc::clone(&self.stats),
            grace: self.grace,
            stop: self.stop.clone(),
            tx: tx.clone(),
        };
        if hook.config.dry_run {
            tokio::spawn(task.dry_run());
        } else {
            hook.running.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(task.run(Arc::clone(&hook.running)));
        }
    }
}

impl RunContext {
    /// A decided run (an approved proposal, a request): announces its `Approved` step in
    /// `pending`, then starts it; refused once the agent is stopping.
    fn approved(
        &self,
        pending: &mut VecDeque<HookOutcome>,
        hook: &mut Hook,
        payload: Arc<Payload>,
        tag: Tag,
        started: Instant,
    ) -> Result<(), Refusal> {
        pending.push_back(step(
            HookPhase::Approved,
            &hook.config.name,
            &hook.config.command.argv,
            &payload,
            Some(&tag),
        ));
        if self.tx.is_none() {
            return Err(Refusal::Busy("the agent is stopping".into()));
        }
        self.start(hook, payload, Some(tag), started);
        Ok(())
    }
}

/// One step of a run, as the sinks receive it (no result yet).
fn step(
    phase: HookPhase,
    hook: &str,
    command: &[String],
    p: &Payload,
    tag: Option<&Tag>,
) -> HookOutcome {
    HookOutcome {
        time: now_ms(),
        phase,
        hook: hook.to_owned(),
        event: p.event,
        event_id: p.subject.event_id.clone(),
        incident_id: p.subject.incident_id.clone(),
        state: p.state,
        host: p.subject.host.clone(),
        proposal_id: tag.map(|t| t.id.clone()),
        expires_at: tag.and_then(|t| t.expires_ms),
        decided_by: tag.and_then(|t| t.by.clone()),
        subject: None,
        result: None,
        command: command.to_vec(),
        exit_code: None,
        exit_signal: None,
        timed_out: false,
        duration_ms: 0,
        stdout: String::new(),
        stdout_truncated: false,
        stderr: String::new(),
        stderr_truncated: false,
        error: None,
    }
}

impl Hook {
    fn remember(&mut self, id: &str) {
        if self.ran_for.len() >= REMEMBERED {
            if let Some(oldest) = self
                .ran_for
                .iter()
                .min_by_key(|(_, &n)| n)
                .map(|(k, _)| k.clone())
            {
                self.ran_for.remove(&oldest);
            }
        }
        self.added += 1;
        self.ran_for.insert(id.to_owned(), self.added);
    }
}

fn prepare(input: &dyn HookInput) -> Result<Payload, serde_json::Error> {
    let state = input::state_name(input.state());
    let event = match input.kind() {
        HookOn::Incident => "incident",
        HookOn::Alert | HookOn::Request => "alert",
    };
    Ok(Payload {
        event,
        state,
        subject: Subject {
            event: event.to_owned(),
            event_id: input.id().to_owned(),
            incident_id: input.incident_id().map(str::to_owned),
            state: state.to_owned(),
            host: input.host().to_owned(),
            signals: input.signals().into_iter().map(str::to_owned).collect(),
            // serde_json writes UTF-8.
            json: String::from_utf8_lossy(&input.json()?).into_owned(),
            // No environment variable can carry a NUL.
            env: input
                .env()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.replace('\0', "")))
                .collect(),
        },
    })
}

/// One run of one hook, on its own task.
struct Task {
    config: Arc<HookConfig>,
    payload: Arc<Payload>,
    tag: Option<Tag>,
    base_env: Arc<Vec<(String, String)>>,
    stats: Arc<Stats>,
    grace: Duration,
    stop: CancellationToken,
    tx: mpsc::Sender<HookOutcome>,
}

impl Task {
    fn env(&self) -> Vec<(String, String)> {
        let mut env = (*self.base_env).clone();
        env.extend(self.payload.subject.env.iter().cloned());
        env.push(("SEISMO_HOOK".to_owned(), self.config.name.clone()));
        // Configured variables last, so they win over the passed-on ones (PATH, LANG...).
        env.extend(self.config.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }

    fn outcome(&self, result: HookResult) -> HookOutcome {
        let mut o = self.step(HookPhase::Finished);
        o.result = Some(result);
        o
    }

    fn step(&self, phase: HookPhase) -> HookOutcome {
        step(
            phase,
            &self.config.name,
            &self.config.command.argv,
            &self.payload,
            self.tag.as_ref(),
        )
    }

    async fn dry_run(self) {
        let env = self.env();
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        tracing::info!(
            hook = %self.config.name,
            event_id = %self.payload.subject.event_id,
            program = %self.config.command.program.display(),
            command = ?self.config.command.argv,
            env = ?names,
            stdin_bytes = self.payload.subject.json.len(),
            "hook dry run: this command would run now (dry_run = true); nothing was run"
        );
        Stats::add(&self.stats.hook_runs_dry_run, 1);
        let outcome = self.outcome(HookResult::DryRun);
        let _ = self.tx.send(outcome).await;
    }

    async fn run(self, running: Arc<AtomicU32>) {
        let env = self.env();
        let command = &self.config.command;
        let run = runner::Run {
            program: &command.program,
            args: command.argv.get(1..).unwrap_or_default(),
            env: &env,
            stdin: self.payload.subject.json.as_bytes(),
            timeout: self.config.timeout,
            grace: self.grace,
        };
        tracing::debug!(hook = %self.config.name, event_id = %self.payload.subject.event_id, "hook started");
        let _ = self.tx.send(self.step(HookPhase::Started)).await;
        let report = runner::run(&run, &self.stop).await;
        running.fetch_sub(1, Ordering::Relaxed);

        let result = if report.interrupted {
            HookResult::Interrupted
        } else if report.timed_out {
            HookResult::TimedOut
        } else if report.status.is_some_and(|s| s.success()) {
            HookResult::Ok
        } else {
            HookResult::Failed
        };
        let counter = match result {
            HookResult::Ok => &self.stats.hook_runs_ok,
            HookResult::Failed => &self.stats.hook_runs_failed,
            HookResult::TimedOut => &self.stats.hook_runs_timed_out,
            HookResult::Interrupted => &self.stats.hook_runs_interrupted,
            HookResult::DryRun => &self.stats.hook_runs_dry_run,
        };
        Stats::add(counter, 1);
        let mut o = self.outcome(result);
        {
            use std::os::unix::process::ExitStatusExt;
            o.exit_code = report.status.and_then(|s| s.code());
            o.exit_signal = report
                .status
                .and_then(|s| s.signal())
                .map(outcome::signal_name);
        }
        o.timed_out = report.timed_out;
        o.duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX);
        o.stdout = report.stdout.text();
        o.stdout_truncated = report.stdout.truncated();
        o.stderr = report.stderr.text();
        o.stderr_truncated = report.stderr.truncated();
        o.error = report.error;
        log(&o);
        let _ = self.tx.send(o).await;
    }
}

fn log(o: &HookOutcome) {
    macro_rules! outcome {
        ($level:ident) => {
            tracing::$level!(
                hook = %o.hook, event_id = %o.event_id, result = o.result.map_or("", HookResult::name),
                exit_code = o.exit_code, exit_signal = o.exit_signal.as_deref(),
                duration_ms = o.duration_ms, stdout = %o.stdout, stderr = %o.stderr,
                error = o.error.as_deref(), "hook finished"
            )
        };
    }
    match o.result {
        Some(HookResult::Ok | HookResult::DryRun) | None => outcome!(info),
        Some(HookResult::Failed | HookResult::TimedOut | HookResult::Interrupted) => outcome!(warn),
    }
}

#[cfg(test)]
mod decision_tests;
#[cfg(test)]
mod tests;
