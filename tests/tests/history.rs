//! Baselines from history, end to end with the real binary: a file source with
//! `start_at = "end"` learns the last part of its files (templates and per-interval rates,
//! from the lines' own timestamps) without exporting it or alerting on it; the journal reads its
//! recent history through journalctl (`journalctl-replay` stands in for it) and follows on after
//! the last record learned; a history read that fails or times out leaves the source live.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use seismo_e2e::lines_sink::Workdir;
use seismo_e2e::Agent;

const REPLAY: &str = env!("CARGO_BIN_EXE_journalctl-replay");
const WAIT: Duration = Duration::from_secs(60);

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

fn signals(agent: &mut Agent) -> serde_json::Value {
    let addr = agent
        .http_addr(Duration::from_secs(10))
        .expect("HTTP address");
    seismo_e2e::http_client::request(addr, "GET", "/api/v1/signals", None)
        .unwrap()
        .json()
}

/// Alert events (kind `alert`) on the agent's stdout so far.
fn alerts(agent: &Agent) -> Vec<serde_json::Value> {
    agent
        .stdout_json()
        .into_iter()
        .filter(|v| v["kind"] == "alert")
        .collect()
}

fn stderr_json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// Two hours of an application's log, 3000 lines of three templates up to now (0 to 2 lines
/// per 2 s interval), with ISO 8601 timestamps.
fn app_history() -> String {
    let end = now_s() - 1;
    let mut rng = seismo_e2e::Rng(7);
    let mut out = String::new();
    for i in 0..3000u64 {
        // Evenly spread with jitter, up to the last seconds: the history's rates are those of
        // the live log (a quiet last stretch would make one live line unusual, rightly).
        let t = end - 7200 + i * 12 / 5 + rng.below(2);
        let at = rfc3339(t.min(end));
        let line = match i % 3 {
            0 => format!("{at} INFO request {i} served in {} ms\n", rng.below(90)),
            1 => format!(
                "{at} INFO user u{} logged in from 10.0.0.{}\n",
                rng.below(500),
                rng.below(250)
            ),
            _ => format!(
                "{at} INFO cache refreshed with {} entries\n",
                rng.below(9000)
            ),
        };
        out.push_str(&line);
    }
    out
}

#[test]
fn a_file_history_is_learned_not_exported_and_a_new_template_live_is_still_news() {
    let w = Workdir::new();
    let app = w.path("app.log");
    let plain = w.path("plain.log");
    std::fs::write(&app, app_history()).unwrap();
    let untimed: String = (0..200)
        .map(|i| format!("worker {i} picked a job\n"))
        .collect();
    std::fs::write(&plain, untimed).unwrap();
    let config = w.write_config(
        "",
        &format!(
            "[[sources.files]]\nname = \"app\"\npaths = [\"{}\"]\ninterval = \"2s\"\nnew_template_warmup = 1\n\
             [[sources.files]]\nname = \"plain\"\npaths = [\"{}\"]\ninterval = \"2s\"\n",
            app.display(),
            plain.display()
        ),
    );
    let mut agent = Agent::run(&config);
    let learned = agent
        .wait_stderr(WAIT, |l| {
            l.contains("history learned") && l.contains("\"source\":\"app\"")
        })
        .unwrap_or_else(|| panic!("no history line for app: {:?}", agent.seen_stderr));
    let learned = stderr_json(&learned);
    assert_eq!(learned["lines"], 3000, "{learned}");
    assert_eq!(learned["templates"], 3, "{learned}");
    agent.expect_stderr(WAIT, "they taught templates only, rates learn live");

    // The API reports it per source; the untimed source learned templates only.
    let api = signals(&mut agent);
    let h = &api["history_learned"]["app"];
    assert_eq!(h["lines"], 3000, "{api}");
    assert_eq!(h["templates"], 3, "{api}");
    assert!(h["intervals"].as_u64().unwrap() >= 3500, "{api}");
    assert!(h["first"].is_string() && h["note"].is_null(), "{api}");
    let p = &api["history_learned"]["plain"];
    assert_eq!(
        (p["lines"].as_u64(), p["untimed_lines"].as_u64()),
        (Some(200), Some(200)),
        "{api}"
    );
    assert_eq!(p["intervals"], 0, "{api}");

    // A live line of a learned template: exported (history was not), and not news.
    let live = format!("{} INFO request 99999 served in 12 ms\n", rfc3339(now_s()));
    seismo_e2e::append(&app, &live);
    let deadline = std::time::Instant::now() + WAIT;
    while w.committed("source").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the live line was not processed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A few intervals: the learned template's count signal carries the live line.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        w.committed("source"),
        [("app".to_owned(), live.trim_end().to_owned())],
        "only the live line reaches the lines sink"
    );
    let api = signals(&mut agent);
    let learned_id = api["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["template"] == "request <*> served in <*> ms")
        .and_then(|s| s["signal"].as_str())
        .unwrap_or_else(|| panic!("no signal of the request template: {api}"))
        .to_owned();
    // Ids are given in order of first sight: the request template was the first line of history.
    assert_eq!(learned_id, "log.app.template.1.count", "{api}");
    assert_eq!(
        alerts(&agent),
        Vec::<serde_json::Value>::new(),
        "no alert from history"
    );

    // A template never seen, live: news.
    seismo_e2e::append(
        &app,
        &format!(
            "{} ERROR payment gateway refused the card\n",
            rfc3339(now_s())
        ),
    );
    let news = agent
        .wait_stdout(WAIT, |l| {
            l.contains("\"kind\":\"alert\"") && l.contains(".new\"")
        })
        .unwrap_or_else(|| panic!("no new-template alert: {:?}", agent.seen_stdout));
    assert!(news.contains("payment gateway refused the card"), "{news}");
    let all = alerts(&agent);
    assert!(
        all.iter()
            .all(|a| a["signal"].as_str().unwrap().ends_with(".new")),
        "only the new template alerts: {all:?}"
    );

    // An error burst: judged against the two hours the history taught the significance
    // profile (its scale and usual levels), not as a young signal.
    for _ in 0..3 {
        let at = rfc3339(now_s());
        let burst: String = (0..40)
            .map(|i| format!("{at} ERROR payment gateway refused card {i}\n"))
            .collect();
        seismo_e2e::append(&app, &burst);
        std::thread::sleep(Duration::from_secs(2));
    }
    let errors = agent
        .wait_stdout(WAIT, |l| {
            l.contains("\"kind\":\"alert\"") && l.contains("\"log.app.errors_per_s\"")
        })
        .unwrap_or_else(|| panic!("no errors_per_s alert: {:?}", agent.seen_stdout));
    let errors: serde_json::Value = serde_json::from_str(&errors).unwrap();
    let significance = &errors["evidence"]["significance"];
    assert_eq!(significance["rule"], "large_move", "{errors}");
    assert!(
        significance["horizon_points"].as_u64().unwrap() >= 2000,
        "{errors}"
    );
    agent.stop(Duration::from_secs(15));

    // A restart resumes from its checkpoint: history is not read again.
    let mut agent = Agent::run(&config);
    signals(&mut agent);
    std::thread::sleep(Duration::from_secs(3));
    agent.stop(Duration::from_secs(15));
    assert!(
        !agent
            .seen_stderr
            .iter()
            .any(|l| l.contains("history learned")),
        "{:?}",
        agent.seen_stderr
    );
}

/// A recorded journal stream: `n` records of unit app.service from `first` on, written at
/// recent times, with cursors `c{first}`...
fn journal_records(first: u64, n: u64, message: impl Fn(u64) -> String) -> String {
    let start_us = (now_s() - 3600) * 1_000_000;
    (first..first + n)
        .map(|i| {
            format!(
                "{{\"__CURSOR\":\"c{i}\",\"__REALTIME_TIMESTAMP\":\"{}\",\"_SYSTEMD_UNIT\":\"app.service\",\"PRIORITY\":\"6\",\"MESSAGE\":\"{}\"}}\n",
                start_us + i * 1_000_000,
                message(i)
            )
        })
        .collect()
}

struct Journal {
    w: Workdir,
    stream: PathBuf,
    args: PathBuf,
    config: String,
}

fn journal(extra: &str) -> Journal {
    let w = Workdir::new();
    let (stream, args) = (w.path("journal.jsonl"), w.path("args.log"));
    let config = w.write_config(
        "",
        &format!(
            "[sources.journal]\nenabled = true\njournalctl = \"{REPLAY}\"\ninterval = \"1s\"\nnew_template_warmup = 1\n{extra}"
        ),
    );
    Journal {
        w,
        stream,
        args,
        config,
    }
}

impl Journal {
    fn start(&self, env: &[(&str, &str)]) -> Agent {
        let counter = self.w.path("counter");
        let mut all = vec![
            ("SEISMO_REPLAY_FILE", self.stream.to_str().unwrap()),
            ("SEISMO_REPLAY_ARGS_LOG", self.args.to_str().unwrap()),
            ("SEISMO_REPLAY_COUNTER", counter.to_str().unwrap()),
        ];
        all.extend_from_slice(env);
        Agent::run_with_env(&self.config, &all)
    }

    fn append(&self, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stream)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn runs(&self) -> Vec<String> {
        std::fs::read_to_string(&self.args)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn wait_committed(&self, n: usize) -> Vec<(String, String)> {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let got = self.w.committed("source");
            if got.len() >= n {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {got:?} committed"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn wait_until(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !pred() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_journal_history_is_learned_then_followed_after_its_last_record() {
    let j = journal("");
    j.append(&journal_records(1, 600, |i| {
        format!("job {i} finished in {} ms", i % 70)
    }));
    let mut agent = j.start(&[]);
    let line = agent.expect_stderr(WAIT, "history learned");
    let v = stderr_json(&line);
    assert_eq!(v["source"], "journal", "{v}");
    assert_eq!(v["lines"], 600, "{v}");
    assert_eq!(v["templates"], 1, "{v}");
    wait_until("the live follower", || j.runs().len() >= 2);
    let runs = j.runs();
    let since = now_s() - 24 * 3600;
    let history_run = &runs[0];
    let at: u64 = history_run
        .split(' ')
        .find_map(|a| a.strip_prefix("--since=@"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no --since: {runs:?}"));
    assert!(at.abs_diff(since) < 120, "{runs:?}");
    assert!(!history_run.contains("--follow"), "{runs:?}");
    assert!(
        runs[1].contains("--after-cursor=c600") && runs[1].contains("--follow"),
        "{runs:?}"
    );

    // Live: a record of the learned template (not news) and one of a new template (news).
    j.append(&journal_records(601, 1, |_| {
        "job 601 finished in 9 ms".into()
    }));
    j.append(&journal_records(602, 1, |_| {
        "disk quota exceeded for volume data".into()
    }));
    let got = j.wait_committed(2);
    assert_eq!(
        got,
        [
            (
                "journal.app".to_owned(),
                "job 601 finished in 9 ms".to_owned()
            ),
            (
                "journal.app".to_owned(),
                "disk quota exceeded for volume data".to_owned()
            ),
        ],
        "history is not exported, live records once each"
    );
    let news = agent
        .wait_stdout(WAIT, |l| {
            l.contains("\"kind\":\"alert\"") && l.contains(".new\"")
        })
        .unwrap_or_else(|| panic!("no new-template alert: {:?}", agent.seen_stdout));
    assert!(news.contains("disk quota exceeded"), "{news}");
    std::thread::sleep(Duration::from_secs(3));
    let all = alerts(&agent);
    assert_eq!(all.len(), 1, "only the new template alerts: {all:?}");
    let api = signals(&mut agent);
    assert_eq!(api["history_learned"]["journal"]["lines"], 600, "{api}");
    agent.stop(Duration::from_secs(15));
}

#[test]
fn a_journal_whose_learned_state_was_restored_reads_no_history_even_without_a_cursor() {
    let j = journal("");
    j.append(&journal_records(1, 300, |i| {
        format!("job {i} finished in {} ms", i % 70)
    }));
    let mut agent = j.start(&[]);
    agent.expect_stderr(WAIT, "history learned");
    wait_until("the live follower", || j.runs().len() >= 2);
    // Its templates are saved with the checkpoints.
    let templates = j.w.state().join("logs/journal.app.templates");
    wait_until("the unit's template state", || templates.exists());
    agent.stop(Duration::from_secs(15));

    // The cursor is gone (checkpoints lost, say), the units' template state is not: the
    // journal has learned, so it follows from the end without reading its history again.
    let checkpoints = j.w.state().join("logs/checkpoints.json");
    let mut saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&checkpoints).unwrap()).unwrap();
    assert!(saved["journal_cursor"].is_string(), "{saved}");
    saved.as_object_mut().unwrap().remove("journal_cursor");
    std::fs::write(&checkpoints, saved.to_string()).unwrap();
    let before = j.runs().len();
    let mut agent = j.start(&[]);
    let why = agent.expect_stderr(WAIT, "journal history not read");
    let why = stderr_json(&why);
    assert!(
        why["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no saved cursor, but the learned template state of its units was restored"),
        "{why}"
    );
    wait_until("the live follower", || j.runs().len() > before);
    let runs = j.runs()[before..].to_vec();
    assert!(
        runs[0].contains("--follow") && runs[0].contains("--lines=0"),
        "followed from the end, no history read: {runs:?}"
    );
    // A live record of the learned template is processed, and it is not news.
    std::thread::sleep(Duration::from_secs(1));
    j.append(&journal_records(301, 1, |_| {
        "job 301 finished in 5 ms".into()
    }));
    wait_until("the live record", || {
        j.w.committed("source")
            .iter()
            .any(|(_, l)| l == "job 301 finished in 5 ms")
    });
    std::thread::sleep(Duration::from_secs(3));
    agent.stop(Duration::from_secs(15));
    assert!(
        !agent
            .seen_stderr
            .iter()
            .any(|l| l.contains("history learned")),
        "{:?}",
        agent.seen_stderr
    );
    assert_eq!(alerts(&agent), Vec::<serde_json::Value>::new());
}

fn history_cut_short(env: &[(&str, &str)], extra: &str, reason: &str) {
    let j = journal(extra);
    j.append(&journal_records(1, 40, |i| format!("job {i} finished")));
    let mut agent = j.start(env);
    let warn = agent.expect_stderr(WAIT, "history cut short");
    assert!(warn.contains(reason), "{warn}");
    // Followed live from the journal's end: an appended record is processed, nothing older.
    wait_until("the live follower", || {
        j.runs()
            .iter()
            .any(|r| r.contains("--follow") && r.contains("--lines=0"))
    });
    std::thread::sleep(Duration::from_secs(1));
    j.append(&journal_records(41, 1, |_| "job 41 finished".into()));
    let got = j.wait_committed(1);
    assert_eq!(
        got,
        [("journal.app".to_owned(), "job 41 finished".to_owned())]
    );
    let api = signals(&mut agent);
    assert!(
        api["history_learned"]["journal"]["note"]
            .as_str()
            .unwrap_or("")
            .contains(reason),
        "{api}"
    );
    agent.stop(Duration::from_secs(15));
}

#[test]
fn a_failing_history_read_leaves_the_journal_followed_live_and_says_why() {
    history_cut_short(
        &[("SEISMO_REPLAY_FAIL_TIMES", "1")],
        "",
        "simulated failure",
    );
}

#[test]
fn a_history_read_past_its_timeout_leaves_the_journal_followed_live_and_says_why() {
    history_cut_short(
        &[("SEISMO_REPLAY_DELAY_MS", "200")],
        "history_timeout = \"1s\"\n",
        "history_timeout (1s) reached",
    );
}

#[test]
fn a_file_source_added_by_a_reload_learns_its_history() {
    let w = Workdir::new();
    let app = w.path("app.log");
    std::fs::write(&app, app_history()).unwrap();
    let config = w.write_config("", "");
    let mut agent = Agent::run(&config);
    signals(&mut agent);
    w.write_config(
        "",
        &format!(
            "[[sources.files]]\nname = \"app\"\npaths = [\"{}\"]\ninterval = \"2s\"\nhistory_bytes = \"64KiB\"\n",
            app.display()
        ),
    );
    agent.signal(libc::SIGHUP);
    let learned = agent
        .wait_stderr(WAIT, |l| {
            l.contains("history learned") && l.contains("\"source\":\"app\"")
        })
        .unwrap_or_else(|| panic!("no history line for app: {:?}", agent.seen_stderr));
    let learned = stderr_json(&learned);
    // Bounded by history_bytes: the file's last 64 KiB (whole lines), not all of it.
    let bytes = learned["bytes"].as_u64().unwrap();
    assert!(bytes <= 64 << 10 && bytes > 60 << 10, "{learned}");
    let lines = learned["lines"].as_u64().unwrap();
    assert!(lines > 500 && lines < 3000, "{learned}");
    assert_eq!(learned["templates"], 3, "{learned}");
    std::thread::sleep(Duration::from_secs(3));
    assert!(w.committed("source").is_empty(), "history is not exported");
    agent.stop(Duration::from_secs(15));
}
