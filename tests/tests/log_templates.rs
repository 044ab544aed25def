//! Cardinality controls of a log source, end to end: the real binary tails a file whose lines
//! keep inventing templates, with `max_templates = 3`, `top_templates = 1` and an
//! `exclude_templates` glob. The busiest template ("heartbeat") is left out by the glob, the
//! next busiest ("request served") takes a place; of 10 templates new after the warm-up only 2
//! find a place (and alert), 8 are refused: counted on /metrics and named in one WARN. 10 more
//! double the refusals (a second WARN), 2 more do not (no third); no template beyond the budget
//! or left out ever gets a signal of its own, and the agent keeps running and stops cleanly.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use seismo_e2e::http_client::request;
use seismo_e2e::{append, default_config_with, word, write_config, Agent, START};

const WAIT: Duration = Duration::from_secs(30);
const WARN: &str = "the source has more templates than max_templates";

fn get(addr: SocketAddr, path: &str) -> String {
    let r = request(addr, "GET", path, None).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    r.body
}

/// One line each of templates never seen before, one per length in `lengths`: template `k`
/// has `k` words of its own (so no two share a length, and the miner cannot merge them),
/// made of letters only.
fn novel(log: &Path, lengths: std::ops::Range<u64>) {
    let mut text = String::new();
    for k in lengths {
        let words: Vec<String> = (0..k).map(|t| word(k * 1000 + t)).collect();
        text.push_str(&words.join(" "));
        text.push('\n');
    }
    append(log, &text);
}

/// Waits for `seismo_log_templates_refused{source="app"}` to read `n`.
fn wait_refused(addr: SocketAddr, n: u64) -> String {
    let line = format!("seismo_log_templates_refused{{source=\"app\"}} {n}\n");
    let deadline = Instant::now() + WAIT;
    loop {
        let m = get(addr, "/metrics");
        if m.contains(&line) {
            return m;
        }
        assert!(Instant::now() < deadline, "no `{line}` on /metrics:\n{m}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The source's per-template signals (`log.app.template.{id}.*`, `other` aside): each one's
/// template id and the template text it shows.
fn template_signals(addr: SocketAddr) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(&get(
        addr,
        "/api/v1/signals?prefix=log.app.template.&limit=5000",
    ))
    .unwrap();
    v["signals"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| {
            let id = s["signal"].as_str()?.split('.').nth(3)?.to_owned();
            let text = s["template"].as_str().unwrap_or_default().to_owned();
            (id != "other").then_some((id, text))
        })
        .collect()
}

#[test]
fn templates_past_the_budget_or_left_out_get_no_signal_and_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let mut config = default_config_with(&dir.path().join("state"), &[]);
    config = config.replacen(
        "[sources.host]\n# Host metrics: CPU, load, memory, swap, file systems, disk and network I/O, process count.\nenabled = true",
        "[sources.host]\nenabled = false",
        1,
    );
    assert!(config.contains("[sources.host]\nenabled = false"));
    config.push_str(&format!(
        "\n[[sources.files]]\nname = \"app\"\npaths = [\"{}\"]\nstart_at = \"beginning\"\n\
         interval = \"1s\"\ntop_templates = 1\nnew_template_warmup = 1\nmax_templates = 3\n\
         exclude_templates = [\"heartbeat *\"]\n",
        log.display()
    ));
    let path = write_config(dir.path(), &config);
    let (mut agent, addr) = Agent::start_serving(&path, None, START);

    // Before the warm-up ends: a busy left-out template and a busy kept one.
    let mut warm = String::new();
    for i in 0..60 {
        warm.push_str(&format!("heartbeat ok from scheduler {i}\n"));
    }
    for i in 0..30 {
        warm.push_str(&format!("request served in {i} ms\n"));
    }
    append(&log, &warm);
    let deadline = Instant::now() + WAIT;
    while template_signals(addr).is_empty() {
        assert!(Instant::now() < deadline, "no template signal");
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(2));

    // 10 new templates: 2 places left, 8 refused.
    novel(&log, 4..14);
    let warn = agent.expect_stderr(WAIT, WARN);
    assert!(
        warn.contains("source=app")
            && warn.contains("refused=8")
            && warn.contains("max_templates=3"),
        "the WARN does not say which source, how many and the budget: {warn}"
    );
    wait_refused(addr, 8);
    let alerts = |agent: &Agent| -> BTreeSet<String> {
        agent
            .stdout_json()
            .iter()
            .filter(|e| e["kind"] == "alert" && e["state"] == "firing")
            .filter_map(|e| e["signal"].as_str().map(str::to_owned))
            .filter(|s| s.ends_with(".new"))
            .collect()
    };
    let deadline = Instant::now() + WAIT;
    while alerts(&agent).len() < 2 {
        agent.wait_stdout(Duration::from_millis(500), |_| false);
        assert!(
            Instant::now() < deadline,
            "not 2 new-template alerts: {:#?}",
            agent.seen_stdout
        );
    }

    // 10 more: 18 refused, twice the 8 logged: logged again. 2 more: 20, not logged again.
    novel(&log, 20..30);
    wait_refused(addr, 18);
    novel(&log, 40..42);
    wait_refused(addr, 20);
    std::thread::sleep(Duration::from_secs(3));
    agent.wait_stderr(Duration::from_secs(1), |_| false);
    let warns: Vec<&String> = agent
        .seen_stderr
        .iter()
        .filter(|l| l.contains(WARN))
        .collect();
    assert_eq!(warns.len(), 2, "{warns:#?}");
    assert!(warns[1].contains("refused=18"), "{}", warns[1]);

    // Only the 3 admitted templates ever alerted or had a signal; never the left-out one.
    let fired = alerts(&agent);
    assert_eq!(fired.len(), 2, "{fired:?}");
    let admitted: BTreeSet<String> = fired
        .iter()
        .map(|s| s.split('.').nth(3).unwrap().to_owned())
        .collect();
    let signals = template_signals(addr);
    assert!(
        signals.iter().any(|(_, t)| t.starts_with("request served")),
        "the kept busy template has no signal: {signals:?}"
    );
    for (id, text) in &signals {
        assert!(
            !text.contains("heartbeat")
                && (admitted.contains(id) || text.starts_with("request served")),
            "template {id} ({text}) has a signal without a place: {signals:?}"
        );
    }

    // The lines of every template still count in the source's totals: every line was read.
    let metrics = get(addr, "/metrics");
    assert!(
        metrics.contains("seismo_log_lines_total 112\n"),
        "not every line counted:\n{metrics}"
    );
    agent.stop(Duration::from_secs(10));
    assert_eq!(agent.summary_counter("log_templates_refused"), 20);
}
