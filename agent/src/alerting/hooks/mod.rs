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
//! Every run's [`HookOutcome`] is logged, counted in `stats.rs` and handed back to the pipeline
//! (`next_outcome`), which exports it to the sinks.

pub mod input;
mod matcher;
pub mod outcome;
mod runner;
mod tree;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo_config::{HookConfig, HookOn};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use crate::event::{HookOutcome, HookResult};
pub use input::HookInput;

use crate::clock::now_ms;
use crate::event::AlertState;
use crate::telemetry::stats::{LogLimiter, Stats};

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
    base_env: Arc<Vec<(String, String)>>,
    stats: Arc<Stats>,
    grace: Duration,
    stop: CancellationToken,
    tx: Option<mpsc::Sender<HookOutcome>>,
    rx: mpsc::Receiver<HookOutcome>,
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
    id: String,
    state: &'static str,
    host: String,
    json: Vec<u8>,
    env: Vec<(String, String)>,
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
            base_env: Arc::new(base_env),
            stats,
            grace: KILL_GRACE,
            stop: CancellationToken::new(),
            tx: Some(tx),
            rx,
        }
    }

    pub fn len(&self) -> usize {
        self.hooks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    /// Starts the runs `input` asks for (each on its own task) and returns at once.
    pub fn dispatch(&mut self, input: &dyn HookInput) {
        let Some(tx) = &self.tx else { return };
        let now = Instant::now();
        let firing = input.state() == AlertState::Firing;
        let mut payload: Option<Arc<Payload>> = None;
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
            if let Some(last) = hook.last_start {
                if now.duration_since(last) < hook.config.min_interval {
                    Stats::add(&self.stats.hook_runs_skipped_interval, 1);
                    if let Some(n) = hook.interval_log.hit() {
                        tracing::warn!(
                            hook = name, event_id = input.id(), skipped = n,
                            min_interval = %humantime::format_duration(hook.config.min_interval),
                            "hook not run: it started less than min_interval ago (logged at most once a minute)"
                        );
                    }
                    continue;
                }
            }
            let running = hook.running.load(Ordering::Relaxed);
            if !hook.config.dry_run && running >= hook.config.max_concurrent {
                Stats::add(&self.stats.hook_runs_skipped_concurrency, 1);
                if let Some(n) = hook.concurrency_log.hit() {
                    tracing::warn!(
                        hook = name, event_id = input.id(), skipped = n, running,
                        "hook not run: max_concurrent runs are still going (logged at most once a minute)"
                    );
                }
                continue;
            }
            let payload = match &payload {
                Some(p) => Arc::clone(p),
                None => match prepare(input) {
                    Ok(p) => Arc::clone(payload.insert(Arc::new(p))),
                    Err(e) => {
                        tracing::error!(event_id = input.id(), error = %e, "cannot encode the event for hooks");
                        return;
                    }
                },
            };
            hook.last_start = Some(now);
            if firing {
                hook.remember(input.id());
            }
            let task = Task {
                config: Arc::clone(&hook.config),
                payload,
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

    /// The next finished run's outcome; `None` once stopped and every run has reported.
    pub async fn next_outcome(&mut self) -> Option<HookOutcome> {
        self.rx.recv().await
    }

    /// Starts no more runs and stops the running ones (SIGTERM, then SIGKILL after the grace
    /// period); their outcomes still come out of `next_outcome`.
    pub fn stop(&mut self) {
        self.tx = None;
        self.stop.cancel();
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
    Ok(Payload {
        event: match input.kind() {
            HookOn::Alert => "alert",
            HookOn::Incident => "incident",
        },
        id: input.id().to_owned(),
        state: input::state_name(input.state()),
        host: input.host().to_owned(),
        json: input.json()?,
        // No environment variable can carry a NUL.
        env: input
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.replace('\0', "")))
            .collect(),
    })
}

/// One run of one hook, on its own task.
struct Task {
    config: Arc<HookConfig>,
    payload: Arc<Payload>,
    base_env: Arc<Vec<(String, String)>>,
    stats: Arc<Stats>,
    grace: Duration,
    stop: CancellationToken,
    tx: mpsc::Sender<HookOutcome>,
}

impl Task {
    fn env(&self) -> Vec<(String, String)> {
        let mut env = (*self.base_env).clone();
        env.extend(self.payload.env.iter().cloned());
        env.push(("SEISMO_HOOK".to_owned(), self.config.name.clone()));
        // Configured variables last, so they win over the passed-on ones (PATH, LANG...).
        env.extend(self.config.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }

    fn outcome(&self, result: HookResult) -> HookOutcome {
        HookOutcome {
            time: now_ms(),
            hook: self.config.name.clone(),
            event: self.payload.event,
            event_id: self.payload.id.clone(),
            state: self.payload.state,
            host: self.payload.host.clone(),
            result,
            command: self.config.command.argv.clone(),
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

    async fn dry_run(self) {
        let env = self.env();
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        tracing::info!(
            hook = %self.config.name,
            event_id = %self.payload.id,
            program = %self.config.command.program.display(),
            command = ?self.config.command.argv,
            env = ?names,
            stdin_bytes = self.payload.json.len(),
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
            stdin: &self.payload.json,
            timeout: self.config.timeout,
            grace: self.grace,
        };
        tracing::debug!(hook = %self.config.name, event_id = %self.payload.id, "hook started");
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
                hook = %o.hook, event_id = %o.event_id, result = o.result.name(),
                exit_code = o.exit_code, exit_signal = o.exit_signal.as_deref(),
                duration_ms = o.duration_ms, stdout = %o.stdout, stderr = %o.stderr,
                error = o.error.as_deref(), "hook finished"
            )
        };
    }
    match o.result {
        HookResult::Ok | HookResult::DryRun => outcome!(info),
        HookResult::Failed | HookResult::TimedOut | HookResult::Interrupted => outcome!(warn),
    }
}

#[cfg(test)]
mod tests;
