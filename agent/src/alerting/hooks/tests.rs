//! The hook manager with real processes: limits, dry-run, once per alert, outcomes, stop.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::input::tests::log_alert;
use super::runner::tests::script;
use super::*;
use crate::event::{AlertEvent, Severity};

fn hooks(dir: &Path, body: &str, extra: &str) -> (Hooks, Arc<Stats>) {
    let program = script(dir, "hook.sh", body);
    // No interval limit unless the test sets one.
    let interval = if extra.contains("min_interval") {
        ""
    } else {
        "min_interval = \"0s\"\n"
    };
    let text = format!(
        "[[hooks]]\nname = \"fix\"\nsignals = [\"log.app.*\"]\ncommand = [\"{}\", \"--flag\"]\n\
         {interval}env = {{ OUT = \"{}\" }}\n{extra}",
        program.display(),
        dir.display()
    );
    let config = seismo_config::parse(&text, "t").unwrap();
    let stats = Arc::new(Stats::default());
    let mut h = Hooks::new(&config.hooks, Arc::clone(&stats));
    h.run.grace = Duration::from_millis(200);
    (h, stats)
}

fn alert(n: u32) -> AlertEvent {
    let mut a = log_alert(
        "log.app.errors_per_s",
        Severity::Warning,
        AlertState::Firing,
    );
    a.alert_id = format!("log.app.errors_per_s@{n}");
    a
}

/// The next finished run (the `started` steps before it skipped).
async fn next(h: &mut Hooks) -> HookOutcome {
    loop {
        let o = tokio::time::timeout(Duration::from_secs(60), h.next_outcome())
            .await
            .expect("an outcome within 60 s")
            .expect("the outcome channel is open");
        if o.phase == HookPhase::Finished {
            return o;
        }
        assert_eq!(o.phase, HookPhase::Started, "{o:?}");
    }
}

async fn wait_for(p: &Path) {
    for _ in 0..3000 {
        if p.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} never appeared", p.display());
}

#[tokio::test]
async fn env_and_stdin_carry_the_alert_and_the_outcome_describes_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, stats) = hooks(
        dir.path(),
        "cat > \"$OUT/stdin\"; env > \"$OUT/env\"; echo \"fixed $1\"",
        "",
    );
    let a = alert(1);
    h.dispatch(&a);
    let o = next(&mut h).await;
    assert_eq!(o.result, Some(HookResult::Ok), "{o:?}");
    assert_eq!(
        (o.hook.as_str(), o.event, o.state),
        ("fix", "alert", "firing")
    );
    assert_eq!(o.event_id, "log.app.errors_per_s@1");
    assert_eq!((o.exit_code, o.exit_signal.as_deref()), (Some(0), None));
    assert_eq!(o.stdout, "fixed --flag\n");
    assert!(o.command[0].ends_with("hook.sh") && o.command[1] == "--flag");
    assert_eq!(Stats::get(&stats.hook_runs_ok), 1);

    let stdin = std::fs::read(dir.path().join("stdin")).unwrap();
    assert_eq!(stdin, a.json().unwrap(), "stdin is the alert's JSON");
    let v: serde_json::Value = serde_json::from_slice(&stdin).unwrap();
    assert_eq!(
        v["log"]["sample_lines"][0],
        "error $(touch /tmp/x) `id`; rm -rf /"
    );
    let env = std::fs::read_to_string(dir.path().join("env")).unwrap();
    for want in [
        "SEISMO_HOOK=fix",
        "SEISMO_EVENT=alert",
        "SEISMO_ALERT_ID=log.app.errors_per_s@1",
        "SEISMO_SIGNAL=log.app.errors_per_s",
        "SEISMO_SEVERITY=warning",
        "SEISMO_STATE=firing",
        "SEISMO_HOST=web-1",
        "SEISMO_SCORE=0.93",
        "SEISMO_OBSERVED=12.5",
        "SEISMO_LOG_SOURCE=app",
    ] {
        assert!(env.lines().any(|l| l == want), "no {want} in\n{env}");
    }
    assert!(env
        .lines()
        .any(|l| l == format!("OUT={}", dir.path().display())));
    assert!(env.lines().any(|l| l.starts_with("PATH=")));

    let json: serde_json::Value = serde_json::to_value(&o).unwrap();
    assert_eq!(json["result"], "ok");
    assert_eq!(json["timed_out"], false);
    assert!(json["time"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn runs_beyond_max_concurrent_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, stats) = hooks(
        dir.path(),
        "while [ ! -e \"$OUT/release\" ]; do sleep 0.02; done",
        "max_concurrent = 2\n",
    );
    for n in 0..5 {
        h.dispatch(&alert(n));
    }
    assert_eq!(Stats::get(&stats.hook_runs_skipped_concurrency), 3);
    std::fs::write(dir.path().join("release"), b"").unwrap();
    let (a, b) = (next(&mut h).await, next(&mut h).await);
    let mut ids = [a.event_id, b.event_id];
    ids.sort();
    assert_eq!(ids, ["log.app.errors_per_s@0", "log.app.errors_per_s@1"]);
    // Both finished: there is room again.
    h.dispatch(&alert(9));
    assert_eq!(next(&mut h).await.result, Some(HookResult::Ok));
    assert_eq!(Stats::get(&stats.hook_runs_ok), 3);
    assert_eq!(Stats::get(&stats.hook_runs_skipped_concurrency), 3);
}

#[tokio::test]
async fn runs_within_min_interval_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, stats) = hooks(
        dir.path(),
        "echo run >> \"$OUT/runs\"",
        "min_interval = \"1h\"\nmax_concurrent = 10\n",
    );
    h.dispatch(&alert(1));
    assert_eq!(next(&mut h).await.result, Some(HookResult::Ok));
    h.dispatch(&alert(2));
    h.dispatch(&alert(3));
    assert_eq!(Stats::get(&stats.hook_runs_skipped_interval), 2);
    assert_eq!(Stats::get(&stats.hook_runs_ok), 1);
    let runs = std::fs::read_to_string(dir.path().join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 1);
}

#[tokio::test]
async fn dry_run_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, stats) = hooks(dir.path(), "touch \"$OUT/ran\"", "dry_run = true\n");
    h.dispatch(&alert(1));
    let o = next(&mut h).await;
    assert_eq!(o.result, Some(HookResult::DryRun));
    assert_eq!((o.exit_code, o.duration_ms), (None, 0));
    h.dispatch(&alert(2));
    assert_eq!(next(&mut h).await.result, Some(HookResult::DryRun));
    // Give a wrongly started process time to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !dir.path().join("ran").exists(),
        "a dry run ran the command"
    );
    assert_eq!(Stats::get(&stats.hook_runs_dry_run), 2);
    assert_eq!(
        Stats::get(&stats.hook_runs_ok) + Stats::get(&stats.hook_runs_failed),
        0
    );
}

#[tokio::test]
async fn one_alert_runs_a_hook_once_while_firing_and_resolved_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, stats) = hooks(
        dir.path(),
        "exit 0",
        "states = [\"firing\", \"resolved\"]\nmax_concurrent = 10\n",
    );
    let fired = alert(1);
    h.dispatch(&fired);
    assert_eq!(next(&mut h).await.state, "firing");
    let mut escalated = fired.clone();
    escalated.severity = Severity::Critical;
    h.dispatch(&escalated);
    let mut resolved = fired.clone();
    resolved.state = AlertState::Resolved;
    h.dispatch(&resolved);
    let o = next(&mut h).await;
    assert_eq!(
        (o.state, o.event_id.as_str()),
        ("resolved", "log.app.errors_per_s@1")
    );
    assert_eq!(
        Stats::get(&stats.hook_runs_ok),
        2,
        "the escalation ran nothing"
    );

    // Not asked for resolved: only the firing run.
    let dir = tempfile::tempdir().unwrap();
    let (mut h, stats) = hooks(dir.path(), "exit 0", "max_concurrent = 10\n");
    h.dispatch(&fired);
    h.dispatch(&resolved);
    assert_eq!(next(&mut h).await.state, "firing");
    h.stop();
    assert!(h.next_outcome().await.is_none());
    assert_eq!(Stats::get(&stats.hook_runs_ok), 1);
}

#[tokio::test]
async fn failures_and_timeouts_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, stats) = hooks(
        dir.path(),
        "if [ \"$SEISMO_ALERT_ID\" = log.app.errors_per_s@1 ]; then echo bad >&2; exit 4; fi; exec sleep 1000",
        "timeout = \"300ms\"\nmax_concurrent = 10\n",
    );
    h.dispatch(&alert(1));
    let o = next(&mut h).await;
    assert_eq!((o.result, o.exit_code), (Some(HookResult::Failed), Some(4)));
    assert_eq!(o.stderr, "bad\n");
    h.dispatch(&alert(2));
    let o = next(&mut h).await;
    assert_eq!(o.result, Some(HookResult::TimedOut));
    assert!(o.timed_out);
    assert_eq!(o.exit_signal.as_deref(), Some("SIGTERM"));
    assert_eq!(Stats::get(&stats.hook_runs_failed), 1);
    assert_eq!(Stats::get(&stats.hook_runs_timed_out), 1);
}

#[tokio::test]
async fn stopping_interrupts_running_hooks_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, stats) = hooks(
        dir.path(),
        "touch \"$OUT/started\"; exec sleep 1000",
        "timeout = \"1h\"\n",
    );
    h.dispatch(&alert(1));
    wait_for(&dir.path().join("started")).await;
    h.stop();
    h.dispatch(&alert(2));
    let o = next(&mut h).await;
    assert_eq!(
        (o.result, o.event_id.as_str()),
        (Some(HookResult::Interrupted), "log.app.errors_per_s@1")
    );
    assert!(
        h.next_outcome().await.is_none(),
        "nothing starts after stop"
    );
    assert_eq!(Stats::get(&stats.hook_runs_interrupted), 1);
}

#[tokio::test]
async fn alerts_the_hook_does_not_match_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, stats) = hooks(dir.path(), "exit 0", "min_severity = \"critical\"\n");
    h.dispatch(&alert(1));
    h.dispatch(&log_alert(
        "host.cpu.utilization",
        Severity::Critical,
        AlertState::Firing,
    ));
    h.stop();
    assert!(h.next_outcome().await.is_none());
    assert_eq!(Stats::get(&stats.hook_runs_ok), 0);
}
