//! Approval mode and requests with real processes: proposals, decisions, expiry, limits.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::decisions::tests::{key, signed};
use super::decisions::{Applied, Inbound, Refusal, Source};
use super::input::tests::log_alert;
use super::runner::tests::script;
use super::*;
use crate::event::Severity;

struct Setup {
    hooks: Hooks,
    stats: Arc<Stats>,
    tx: mpsc::Sender<Inbound>,
}

fn setup(dir: &Path, extra: &str) -> Setup {
    let program = script(
        dir,
        "hook.sh",
        "echo \"$SEISMO_ALERT_ID\" >> \"$OUT/runs\"; echo ran",
    );
    let interval = if extra.contains("min_interval") {
        ""
    } else {
        "min_interval = \"0s\"\n"
    };
    let text = format!(
        "[[hooks]]\nname = \"fix\"\nsignals = [\"log.app.*\"]\ncommand = [\"{}\"]\n\
         {interval}env = {{ OUT = \"{}\" }}\n{extra}",
        program.display(),
        dir.display()
    );
    let config = seismo_config::parse(&text, "t").unwrap();
    let stats = Arc::new(Stats::default());
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let (tx, rx) = mpsc::channel(8);
    let hooks = Hooks::new(&config.hooks, Arc::clone(&stats)).with_decisions(
        rx,
        approval::Ledger::open(&dir.join("state")),
        Some(key()),
        Duration::from_secs(300),
    );
    Setup { hooks, stats, tx }
}

fn runs(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("runs"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn next(h: &mut Hooks) -> HookOutcome {
    tokio::time::timeout(Duration::from_secs(60), h.next_outcome())
        .await
        .expect("a step within 60 s")
        .expect("the channel is open")
}

/// Sends `body` and waits for the answer, driving the hooks meanwhile; returns the answer and
/// the steps seen until it came.
async fn decide(
    s: &mut Setup,
    body: Vec<u8>,
    source: Source,
) -> (Result<Applied, Refusal>, Vec<HookOutcome>) {
    let (reply, mut answer) = oneshot::channel();
    s.tx.send(Inbound {
        body,
        source,
        reply: Some(reply),
    })
    .await
    .unwrap();
    let mut steps = Vec::new();
    loop {
        tokio::select! {
            a = &mut answer => {
                // Steps the decision queued come out at once.
                while let Some(o) = s.hooks.pending.pop_front() {
                    steps.push(o);
                }
                return (a.unwrap(), steps);
            }
            o = s.hooks.next_outcome() => steps.push(o.unwrap()),
            () = tokio::time::sleep(Duration::from_secs(60)) => panic!("no answer"),
        }
    }
}

fn now_rfc3339() -> String {
    crate::clock::format_ts(now_ms())
}

fn approval(proposal: &str, verdict: &str) -> serde_json::Value {
    serde_json::json!({"decision": verdict, "proposal_id": proposal, "by": "alice", "time": now_rfc3339()})
}

#[tokio::test]
async fn a_proposal_runs_once_on_a_signed_approval_and_never_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = setup(dir.path(), "approval = \"required\"\n");
    let a = log_alert(
        "log.app.errors_per_s",
        Severity::Warning,
        AlertState::Firing,
    );
    s.hooks.dispatch(&a);
    let p = next(&mut s.hooks).await;
    assert_eq!(p.phase, HookPhase::Proposed);
    let id = p.proposal_id.clone().unwrap();
    assert!(p.expires_at.is_some() && p.subject.is_some());
    // The alert again (an escalation): no second proposal, nothing runs.
    s.hooks.dispatch(&a);
    assert!(s.hooks.pending.is_empty());
    assert!(
        runs(dir.path()).is_empty(),
        "nothing runs before a decision"
    );

    let body = signed(&key(), approval(&id, "approve"));
    let (answer, steps) = decide(&mut s, body.clone(), Source::Mqtt).await;
    assert_eq!(
        answer,
        Ok(Applied {
            result: "approved",
            id: id.clone()
        })
    );
    assert_eq!(steps[0].phase, HookPhase::Approved);
    assert_eq!(steps[0].decided_by.as_deref(), Some("alice"));
    let mut finished = None;
    while finished.is_none() {
        let o = next(&mut s.hooks).await;
        assert_eq!(o.proposal_id.as_deref(), Some(id.as_str()));
        if o.phase == HookPhase::Finished {
            finished = Some(o);
        }
    }
    let finished = finished.unwrap();
    assert_eq!(finished.result, Some(HookResult::Ok));
    assert_eq!(finished.stdout, "ran\n");
    assert_eq!(runs(dir.path()), [a.alert_id.as_str()]);

    // The same approval again (a replay within the window), and a rejection: nothing runs.
    let (answer, _) = decide(&mut s, body, Source::Mqtt).await;
    assert_eq!(answer.unwrap_err().label(), "duplicate");
    let (answer, _) = decide(
        &mut s,
        serde_json::to_vec(&approval(&id, "reject")).unwrap(),
        Source::Http,
    )
    .await;
    assert_eq!(answer.unwrap_err().label(), "duplicate");
    assert_eq!(runs(dir.path()).len(), 1);
    let counts: HashMap<String, u64> = s.stats.hook_decisions.snapshot().into_iter().collect();
    assert_eq!(counts["approved"], 1);
    assert_eq!(counts["duplicate"], 2);
}

#[tokio::test]
async fn refused_decisions_run_nothing_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = setup(dir.path(), "approval = \"required\"\n");
    s.hooks.dispatch(&log_alert(
        "log.app.errors_per_s",
        Severity::Warning,
        AlertState::Firing,
    ));
    let id = next(&mut s.hooks).await.proposal_id.unwrap();
    let unsigned = serde_json::to_vec(&approval(&id, "approve")).unwrap();
    let mut changed = approval(&id, "approve");
    changed["command"] = serde_json::json!(["/bin/sh", "-c", "touch pwned"]);
    let other = decisions::tests::signed(
        &DecisionKey::new(b"not the agent's key at all".to_vec()).unwrap(),
        approval(&id, "approve"),
    );
    let mut old = approval(&id, "approve");
    old["time"] = "2020-01-01T00:00:00Z".into();
    for (body, want) in [
        (unsigned, "unsigned"),
        (signed(&key(), changed), "invalid"),
        (other, "bad_signature"),
        (signed(&key(), old), "replayed"),
        (signed(&key(), approval("p-unknown", "approve")), "unknown"),
    ] {
        let (answer, steps) = decide(&mut s, body, Source::Mqtt).await;
        assert_eq!(answer.unwrap_err().label(), want);
        assert!(steps.is_empty(), "{steps:?}");
    }
    // The proposal is still open: a rejection closes it, and nothing ever ran.
    let (answer, steps) = decide(
        &mut s,
        signed(&key(), approval(&id, "reject")),
        Source::Mqtt,
    )
    .await;
    assert_eq!(answer.unwrap().result, "rejected");
    assert_eq!(steps[0].phase, HookPhase::Rejected);
    let (answer, _) = decide(
        &mut s,
        signed(&key(), approval(&id, "approve")),
        Source::Mqtt,
    )
    .await;
    assert_eq!(answer.unwrap_err().label(), "duplicate");
    assert!(runs(dir.path()).is_empty());
    assert!(!dir.path().join("pwned").exists());
    let counts: HashMap<String, u64> = s.stats.hook_decisions.snapshot().into_iter().collect();
    for label in [
        "unsigned",
        "invalid",
        "bad_signature",
        "replayed",
        "unknown",
        "rejected",
        "duplicate",
    ] {
        assert_eq!(counts.get(label), Some(&1), "{label}: {counts:?}");
    }
}

#[tokio::test]
async fn an_unanswered_proposal_expires_and_cannot_be_approved_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = setup(
        dir.path(),
        "approval = \"required\"\napproval_timeout = \"1s\"\n",
    );
    s.hooks.dispatch(&log_alert(
        "log.app.errors_per_s",
        Severity::Warning,
        AlertState::Firing,
    ));
    let id = next(&mut s.hooks).await.proposal_id.unwrap();
    let expired = next(&mut s.hooks).await;
    assert_eq!(expired.phase, HookPhase::Expired);
    assert_eq!(expired.proposal_id.as_deref(), Some(id.as_str()));
    let (answer, _) = decide(
        &mut s,
        signed(&key(), approval(&id, "approve")),
        Source::Mqtt,
    )
    .await;
    assert_eq!(answer.unwrap_err().label(), "expired");
    assert!(runs(dir.path()).is_empty());
    // Recorded: a restart finds it expired.
    let ledger = approval::Ledger::open(&dir.path().join("state"));
    assert_eq!(ledger.get(&id).unwrap().status, Status::Expired);
}

#[tokio::test]
async fn a_request_runs_a_request_hook_for_a_known_alert_once_within_its_limits() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = setup(dir.path(), "on = \"request\"\nmin_interval = \"1h\"\n");
    let a = log_alert(
        "log.app.errors_per_s",
        Severity::Warning,
        AlertState::Firing,
    );
    let run = |request: &str, event: &str| {
        signed(
            &key(),
            serde_json::json!({"decision": "run", "hook": "fix", "event_id": event,
                "request_id": request, "by": "bot", "time": now_rfc3339()}),
        )
    };
    // Not yet seen: unknown.
    let (answer, _) = decide(&mut s, run("r-1", &a.alert_id), Source::Mqtt).await;
    assert_eq!(answer.unwrap_err().label(), "unknown");
    s.hooks.dispatch(&a);
    assert!(
        s.hooks.pending.is_empty(),
        "a request hook does not run on a match"
    );
    let (answer, steps) = decide(&mut s, run("r-1", &a.alert_id), Source::Mqtt).await;
    assert_eq!(answer.unwrap().result, "run");
    assert_eq!(steps[0].phase, HookPhase::Approved);
    let mut done = false;
    while !done {
        done = next(&mut s.hooks).await.phase == HookPhase::Finished;
    }
    assert_eq!(runs(dir.path()), [a.alert_id.as_str()]);
    // The same request again: a duplicate; a new one within min_interval: busy.
    let (answer, _) = decide(&mut s, run("r-1", &a.alert_id), Source::Mqtt).await;
    assert_eq!(answer.unwrap_err().label(), "duplicate");
    let (answer, _) = decide(&mut s, run("r-2", &a.alert_id), Source::Mqtt).await;
    assert_eq!(answer.unwrap_err().label(), "busy");
    assert_eq!(runs(dir.path()).len(), 1);
}
