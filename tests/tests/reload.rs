//! Live reload end to end: the real binary is sent SIGHUP after its configuration file changed.
//! What it processed is read back from the lines sink up to the length in its checkpoint (each
//! line exactly once); its alerts are new log templates (deterministic: a line of a kind never
//! seen after warm-up), printed on stdout and, through the MQTT sink's outbox, to a real
//! Mosquitto.

use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use seismo_e2e::http_receiver::{HttpReceiver, Request};
use seismo_e2e::lines_sink::Workdir;
use seismo_e2e::mosquitto::{free_port, Broker, BrokerOptions};
use seismo_e2e::mqtt_subscriber::Subscriber;
use seismo_e2e::{outbox_segments, summary_counter as counter, Agent};

const ALERTS: &str = "seismo/e2e/alerts";

/// Writes the configuration: host metrics off, JSON logs, the lines sink, 1 s log intervals,
/// the EWMA detector with a short warm-up, then `rest`.
fn write_config(s: &Workdir, rest: &str) -> String {
    s.write_config(
        "host_name = \"e2e\"\n",
        &format!("[detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n{rest}"),
    )
}

/// A `[[sources.files]]` table over `glob`, read from the beginning, 1 s intervals, new
/// templates alerting after one interval.
fn source(s: &Workdir, name: &str, glob: &str) -> String {
    format!(
        "[[sources.files]]\nname = \"{name}\"\npaths = [\"{}\"]\nstart_at = \"beginning\"\n\
         interval = \"1s\"\nnew_template_warmup = 1\n",
        s.path(glob).display()
    )
}

/// Waits until `want` lines are committed (bounded); returns what is.
fn wait_committed(s: &Workdir, want: usize) -> Vec<(String, String)> {
    let start = Instant::now();
    loop {
        let got = s.committed("source");
        if got.len() >= want || start.elapsed() > Duration::from_secs(30) {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn append(path: &Path, lines: &[String]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    f.sync_all().unwrap();
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range
        .map(|i| format!("INFO {prefix} request {i} served"))
        .collect()
}

/// Sends SIGHUP and waits for the reload's outcome line (applied or refused).
fn reload(agent: &mut Agent) -> String {
    let before = agent.seen_stderr.len();
    agent.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        agent.wait_stderr(Duration::from_millis(100), |_| false);
        if let Some(l) = agent.seen_stderr[before..].iter().find(|l| {
            l.contains("configuration reloaded") || l.contains("configuration reload refused")
        }) {
            return l.clone();
        }
    }
    panic!("no reload outcome: {:?}", agent.seen_stderr);
}

/// Stops the agent with SIGTERM; returns its shutdown summary.
fn stop(agent: &mut Agent) -> String {
    agent.stop(Duration::from_secs(15));
    agent.stop_line().to_owned()
}

/// Every line of `want` committed exactly once, in order per source.
fn assert_exactly_once(got: &[(String, String)], want: &[(&str, &[String])]) {
    let mut by_source: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (source, line) in got {
        by_source.entry(source).or_default().push(line);
    }
    for (source, lines) in want {
        let seen = by_source.remove(source).unwrap_or_default();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(
            seen, lines,
            "source {source}: lines lost, repeated or out of order"
        );
    }
    assert!(by_source.is_empty(), "unexpected lines: {by_source:?}");
}

/// (a) A new file source starts being tailed; an unchanged one and one whose tailer restarts
/// (its paths changed) keep their positions: no line lost or repeated across the reload.
#[test]
fn a_reload_adds_a_file_source_and_keeps_the_positions_of_the_others() {
    let s = Workdir::new();
    let (a, u, b) = (s.path("a.log"), s.path("u.log"), s.path("b.log"));
    let (mut a_lines, mut u_lines) = (numbered("a", 0..20), numbered("u", 0..20));
    append(&a, &a_lines);
    append(&u, &u_lines);
    let sources = |a_glob: &str, extra: &str| {
        format!(
            "{}{}{extra}",
            source(&s, "a", a_glob),
            source(&s, "u", "u.log")
        )
    };
    let config = write_config(&s, &sources("a.log", ""));
    let mut agent = Agent::run(&config);
    assert_eq!(wait_committed(&s, 40).len(), 40);

    // More lines just before and after the reload, into files already watched and into the
    // file of the new source (read from its beginning).
    let more_a = numbered("a", 20..40);
    let more_u = numbered("u", 20..40);
    append(&a, &more_a[..10]);
    append(&u, &more_u[..10]);
    let b_lines = numbered("b", 0..10);
    append(&b, &b_lines[..5]);
    write_config(&s, &sources("a.lo[g]", &source(&s, "b", "b.log")));
    let outcome = reload(&mut agent);
    assert!(
        outcome.contains("configuration reloaded: changed: file sources ~a +b"),
        "{outcome}"
    );
    append(&a, &more_a[10..]);
    append(&u, &more_u[10..]);
    append(&b, &b_lines[5..]);
    a_lines.extend(more_a);
    u_lines.extend(more_u);

    let got = wait_committed(&s, 90);
    assert_exactly_once(&got, &[("a", &a_lines), ("u", &u_lines), ("b", &b_lines)]);
    let summary = stop(&mut agent);
    assert_eq!(counter(&summary, "log_lines"), 90, "{summary}");
    assert_eq!(counter(&summary, "reloads_ok"), 1);
    assert_eq!(counter(&summary, "reloads_refused"), 0);
}

/// The agent's tailer and inotify threads: (thread id, name), sorted.
fn tailer_threads(pid: i32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) else {
            continue; // the thread ended meanwhile
        };
        let comm = comm.trim().to_owned();
        if comm.starts_with("tail-") || comm.starts_with("notify") {
            let tid = task.file_name().to_str().unwrap().parse().unwrap();
            found.push((tid, comm));
        }
    }
    found.sort();
    found
}

/// Waits (bounded) until `pid` has `n` inotify threads; returns its tailer and inotify threads.
fn settled_threads(pid: i32, n: usize) -> Vec<(u32, String)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let threads = tailer_threads(pid);
        let inotify = threads
            .iter()
            .filter(|(_, c)| c.starts_with("notify"))
            .count();
        if inotify == n || Instant::now() > deadline {
            return threads;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A reload that restarts a tailer (its line rules changed) runs it again on the same thread
/// with the same inotify watch, so reloads cost no thread; one that changes its paths keeps
/// the thread and replaces the watch (the old one's thread ends). No line lost or repeated.
#[test]
fn a_tailer_restarted_by_a_reload_keeps_its_thread_and_its_watch() {
    let s = Workdir::new();
    let a = s.path("a.log");
    let mut a_lines = numbered("a", 0..10);
    append(&a, &a_lines);
    let source = |glob: &str, max_line: usize| {
        format!("{}max_line_bytes = {max_line}\n", source(&s, "a", glob))
    };
    let config = write_config(&s, &source("a.log", 4096));
    let mut agent = Agent::run(&config);
    assert_eq!(wait_committed(&s, 10).len(), 10);
    let before = settled_threads(agent.pid(), 1);
    assert_eq!(
        before.len(),
        2,
        "one tailer, one inotify thread: {before:?}"
    );

    for (round, (glob, max_line)) in [("a.log", 4097), ("a.log", 4096)].into_iter().enumerate() {
        write_config(&s, &source(glob, max_line));
        let outcome = reload(&mut agent);
        assert!(outcome.contains("file sources ~a"), "{outcome}");
        let more = numbered("a", 10 * (round + 1)..10 * (round + 2));
        append(&a, &more);
        a_lines.extend(more);
        assert_eq!(wait_committed(&s, a_lines.len()).len(), a_lines.len());
        assert_eq!(
            settled_threads(agent.pid(), 1),
            before,
            "reload {}",
            round + 1
        );
    }

    // New paths: the same tailer thread, a new watch in place of the old one.
    write_config(&s, &source("a.lo[g]", 4096));
    let outcome = reload(&mut agent);
    assert!(outcome.contains("file sources ~a"), "{outcome}");
    let more = numbered("a", 30..40);
    append(&a, &more);
    a_lines.extend(more);
    let got = wait_committed(&s, a_lines.len());
    let after = settled_threads(agent.pid(), 1);
    let tailers = |t: &[(u32, String)]| -> Vec<(u32, String)> {
        t.iter()
            .filter(|(_, c)| c.starts_with("tail-"))
            .cloned()
            .collect()
    };
    assert_eq!(tailers(&after), tailers(&before), "{after:?}");
    assert_eq!(after.len(), 2, "the old watch's thread ended: {after:?}");
    assert_exactly_once(&got, &[("a", &a_lines)]);
    let summary = stop(&mut agent);
    assert_eq!(counter(&summary, "reloads_ok"), 3, "{summary}");
}

/// A source removed by a reload stops; the others go on, and what it read before is kept.
#[test]
fn a_removed_file_source_stops_and_the_others_go_on() {
    let s = Workdir::new();
    let (a, u) = (s.path("a.log"), s.path("u.log"));
    let a_lines = numbered("a", 0..10);
    let mut u_lines = numbered("u", 0..10);
    append(&a, &a_lines);
    append(&u, &u_lines);
    let both = format!("{}{}", source(&s, "a", "a.log"), source(&s, "u", "u.log"));
    let config = write_config(&s, &both);
    let mut agent = Agent::run(&config);
    assert_eq!(wait_committed(&s, 20).len(), 20);

    write_config(&s, &source(&s, "u", "u.log"));
    let outcome = reload(&mut agent);
    assert!(outcome.contains("file sources -a"), "{outcome}");
    append(&a, &numbered("a", 10..20));
    let more_u = numbered("u", 10..20);
    append(&u, &more_u);
    u_lines.extend(more_u);
    let got = wait_committed(&s, 30);
    // Give a stopped tailer the time it would need to (wrongly) read a.log again.
    std::thread::sleep(Duration::from_secs(2));
    let got = if s.committed("source").len() > got.len() {
        s.committed("source")
    } else {
        got
    };
    assert_exactly_once(&got, &[("a", &a_lines), ("u", &u_lines)]);
    let cp = std::fs::read_to_string(s.path("state/logs/checkpoints.json")).unwrap();
    let cp: serde_json::Value = serde_json::from_str(&cp).unwrap();
    assert!(cp["sources"].get("a").is_none(), "{cp}");
    assert!(cp["sources"].get("u").is_some(), "{cp}");
    stop(&mut agent);
}

fn mqtt_table(port: u16) -> String {
    format!(
        "[sinks.mqtt]\nenabled = true\nhost = \"127.0.0.1\"\nport = {port}\nqos = 1\n\
         topic_prefix = \"seismo\"\nretry_initial = \"200ms\"\nretry_max = \"1s\"\n\
         connect_timeout = \"2s\"\n"
    )
}

/// Lines of kinds never seen before (each of its own length, so the template miner cannot
/// merge them with another), and a word each is recognised by.
const NOVEL: [(&str, &str); 4] = [
    ("ERROR disk full", "disk"),
    (
        "WARN certificate for example.org expires in 3 days",
        "certificate",
    ),
    (
        "FATAL connection pool exhausted after 30 retries, giving up",
        "exhausted",
    ),
    (
        "ERROR database replica lag is 300 seconds and growing fast now",
        "replica",
    ),
];

/// Writes `NOVEL[i]` into `log` and waits for its alert on stdout; returns the line.
fn raise_alert(agent: &mut Agent, log: &Path, i: usize) -> String {
    let (line, word) = NOVEL[i];
    append(log, &[line.to_owned()]);
    let fired = agent.wait_stdout(Duration::from_secs(20), |l| {
        l.contains("\"state\":\"firing\"") && l.contains(word)
    });
    assert!(
        fired.is_some(),
        "no alert for {line}: {:?}",
        agent.seen_stdout
    );
    line.to_owned()
}

fn firing(agent: &Agent) -> Vec<String> {
    agent
        .seen_stdout
        .iter()
        .filter(|l| l.contains("\"state\":\"firing\""))
        .cloned()
        .collect()
}

/// Waits until every one of `printed` arrived on the alerts topic; checks the order.
fn assert_delivered(sub: &Subscriber, printed: &[String]) {
    let start = Instant::now();
    let all_in = || {
        let got: HashSet<String> = sub.payloads(ALERTS).into_iter().collect();
        printed.iter().all(|p| got.contains(p))
    };
    while !all_in() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let received = sub.payloads(ALERTS);
    let mut it = received.iter();
    for p in printed {
        assert!(
            it.any(|r| r == p),
            "not delivered, or out of order: {p}\nreceived {received:#?}"
        );
    }
}

/// (b) The MQTT sink is pointed at another broker: the alerts its outbox held while the first
/// broker was unreachable are delivered to the new one, in order; the stdout sink goes on.
#[test]
fn a_changed_mqtt_sink_delivers_its_pending_alerts_with_the_new_settings() {
    let s = Workdir::new();
    let log = s.path("app.log");
    append(&log, &numbered("app", 0..5));
    let broker = Broker::start(&s.path("broker"), &BrokerOptions::default());
    let sub = Subscriber::subscribed_to(&broker, "e2e-sub", "seismo/#", None);
    // Nobody listens on the first port: alerts stay in the outbox.
    let dead = free_port();
    let source = source(&s, "app", "app.log");
    let config = write_config(&s, &format!("{source}{}", mqtt_table(dead)));
    let mut agent = Agent::run(&config);
    // Past the one-interval warm-up, new kinds of lines alert.
    std::thread::sleep(Duration::from_millis(2500));
    raise_alert(&mut agent, &log, 0);
    raise_alert(&mut agent, &log, 1);
    let pending = firing(&agent);
    assert!(pending.len() >= 2, "{pending:?}");
    assert!(
        sub.payloads(ALERTS).is_empty(),
        "nothing can have arrived yet"
    );
    let segments = outbox_segments(&s.path("state/outbox/mqtt"));
    assert!(segments > 0, "nothing queued in the outbox");

    write_config(&s, &format!("{source}{}", mqtt_table(broker.port)));
    let outcome = reload(&mut agent);
    assert!(outcome.contains("sinks ~mqtt"), "{outcome}");
    assert!(!outcome.contains("stdout"), "{outcome}");
    assert_delivered(&sub, &pending);

    // The stdout sink was left alone and the new connection carries new alerts too.
    raise_alert(&mut agent, &log, 2);
    assert_delivered(&sub, &firing(&agent));
    let summary = stop(&mut agent);
    assert_eq!(counter(&summary, "mqtt.dropped"), 0, "{summary}");
    assert_eq!(counter(&summary, "reloads_ok"), 1, "{summary}");
}

/// (c) An invalid file is refused with its location; the agent keeps running on the old
/// configuration: it still tails and alerts. A valid file after that is applied.
#[test]
fn an_invalid_configuration_is_refused_and_the_running_one_kept() {
    let s = Workdir::new();
    let log = s.path("app.log");
    let mut lines = numbered("app", 0..10);
    append(&log, &lines);
    let source = source(&s, "app", "app.log");
    let config = write_config(&s, &source);
    let mut agent = Agent::run(&config);
    assert_eq!(wait_committed(&s, 10).len(), 10);

    // A typo in the source table.
    let good = std::fs::read_to_string(&config).unwrap();
    let bad = good.replace("interval = \"1s\"", "intervall = \"1s\"");
    let line = bad
        .lines()
        .position(|l| l.starts_with("intervall"))
        .unwrap()
        + 1;
    std::fs::write(&config, &bad).unwrap();
    let outcome = reload(&mut agent);
    assert!(
        outcome.contains("configuration reload refused") && outcome.contains("\"ERROR\""),
        "{outcome}"
    );
    let at = format!("seismo.toml:{line}:1: unknown key `intervall`");
    assert!(outcome.contains(&at), "no `{at}` in {outcome}");
    // The same words as check-config.
    let check = std::process::Command::new(seismo_e2e::seismo_bin())
        .args(["check-config", &config])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    let check = String::from_utf8(check.stderr).unwrap();
    assert!(check.contains(&at), "{check}");

    // Still tailing and alerting on the old configuration.
    let more = numbered("app", 10..20);
    append(&log, &more);
    lines.extend(more);
    assert_eq!(wait_committed(&s, 20).len(), 20);
    std::thread::sleep(Duration::from_millis(1500));
    lines.push(raise_alert(&mut agent, &log, 3));

    // A valid file is applied after that.
    std::fs::write(&config, format!("{good}[alerting]\nresolve_after = 2\n")).unwrap();
    let outcome = reload(&mut agent);
    assert!(
        outcome.contains("configuration reloaded: changed: alerting"),
        "{outcome}"
    );
    let got = wait_committed(&s, 21);
    assert_exactly_once(&got, &[("app", &lines)]);
    let summary = stop(&mut agent);
    assert_eq!(counter(&summary, "reloads_refused"), 1, "{summary}");
    assert_eq!(counter(&summary, "reloads_ok"), 1, "{summary}");
}

/// Settings that only take effect at start-up are reported and keep their running value.
#[test]
fn restart_only_settings_are_reported_and_not_applied() {
    let s = Workdir::new();
    let config = write_config(&s, "");
    let mut agent = Agent::run(&config);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("host_name = \"e2e\"", "host_name = \"other\""),
    )
    .unwrap();
    let outcome = reload(&mut agent);
    assert!(
        outcome.contains("nothing changed; needs a restart (running value kept): agent.host_name"),
        "{outcome}"
    );
    let summary = stop(&mut agent);
    assert_eq!(counter(&summary, "reloads_ok"), 1, "{summary}");
}

/// Host metrics restart with a new interval; a detector override resets exactly the signals
/// it matches, the others keep their detectors.
#[test]
fn host_metrics_and_detectors_are_reconciled_keeping_unchanged_signals() {
    let s = Workdir::new();
    let config = write_config(&s, "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[sources.host]\nenabled = false\n",
        "[sources.host]\ninterval = \"1s\"\n",
    );
    std::fs::write(&config, &text).unwrap();
    let mut agent = Agent::run(&config);
    // Two samples: every host signal is tracked (the load averages from the first).
    std::thread::sleep(Duration::from_secs(3));
    std::fs::write(
        &config,
        format!(
            "{}[[detectors.overrides]]\nsignals = [\"host.load.*\"]\nthreshold = 0.9\n",
            text.replace("interval = \"1s\"", "interval = \"2s\"")
        ),
    )
    .unwrap();
    let outcome = reload(&mut agent);
    assert!(
        outcome.contains("changed: host metrics; detectors ("),
        "{outcome}"
    );
    assert!(
        outcome.contains(" 3 reset, 0 disabled)"),
        "the three load averages, and only they, get a fresh detector: {outcome}"
    );
    assert!(!outcome.contains("(0 signals kept"), "{outcome}");
    // Still sampling after the restart of the collector.
    std::thread::sleep(Duration::from_secs(3));
    let summary = stop(&mut agent);
    assert!(counter(&summary, "samples") > 0, "{summary}");
    assert_eq!(counter(&summary, "host_errors"), 0, "{summary}");
    assert_eq!(counter(&summary, "reloads_ok"), 1, "{summary}");
}

/// A `[[sinks.webhook]]` table posting events as JSON to `url`.
fn webhook_table(name: &str, url: &str) -> String {
    format!(
        "[[sinks.webhook]]\nname = \"{name}\"\nformat = \"json\"\nurl = \"{url}/seismo\"\n\
         retry_initial = \"200ms\"\nretry_max = \"1s\"\ntimeout = \"5s\"\n"
    )
}

/// Writes `NOVEL[i]` into `log`, waits for its alert on stdout; returns the alert's id.
fn raise_alert_id(agent: &mut Agent, log: &Path, i: usize) -> String {
    raise_alert(agent, log, i);
    let word = NOVEL[i].1;
    let line = firing(agent)
        .into_iter()
        .rev()
        .find(|l| l.contains(word))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    v["alert_id"].as_str().unwrap().to_owned()
}

/// The ids of the firing alerts among the events a JSON webhook received.
fn webhook_alerts(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .flat_map(|r| r.json().as_array().expect("a JSON array").clone())
        .filter(|e| e["kind"] == "alert" && e["state"] == "firing")
        .map(|e| e["alert_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits (bounded) until `receiver` got the alert `id`; whether it did.
fn webhook_got(receiver: &HttpReceiver, id: &str, wait: Duration) -> bool {
    let requests = receiver.wait(wait, |rs| webhook_alerts(rs).iter().any(|a| a == id));
    webhook_alerts(&requests).iter().any(|a| a == id)
}

/// Writes the configuration `text`, reloads, checks that the summary lists exactly the sink
/// change `change`, then writes `NOVEL[i]` into `log`; returns the id of its alert.
fn reload_then_alert(
    s: &Workdir,
    agent: &mut Agent,
    text: &str,
    change: &str,
    log: &Path,
    i: usize,
) -> String {
    write_config(s, text);
    let outcome = reload(agent);
    let want = format!("configuration reloaded: changed: sinks {change}\"");
    assert!(outcome.contains(&want), "no `{want}` in {outcome}");
    raise_alert_id(agent, log, i)
}

/// (d) Webhooks are reloaded like the other sinks, without a restart: one added by a reload
/// delivers the next alerts, pointed at another receiver it delivers there (and no longer to
/// the first), removed it delivers nothing more.
#[test]
fn a_webhook_is_added_changed_and_removed_by_reloads() {
    let s = Workdir::new();
    let log = s.path("app.log");
    append(&log, &numbered("app", 0..5));
    let (first, second) = (HttpReceiver::start(), HttpReceiver::start());
    let source = source(&s, "app", "app.log");
    let config = write_config(&s, &source);
    let mut agent = Agent::run(&config);
    // Past the one-interval warm-up, new kinds of lines alert.
    std::thread::sleep(Duration::from_millis(2500));

    let to = |r: &HttpReceiver| format!("{source}{}", webhook_table("ops", &r.url()));
    let delivered = |receiver: &HttpReceiver, id: &str, agent: &Agent| {
        assert!(
            webhook_got(receiver, id, Duration::from_secs(20)),
            "{id} not delivered to {}: {:?}\nstderr {:?}",
            receiver.url(),
            receiver.requests(),
            agent.seen_stderr
        );
    };
    let added = reload_then_alert(&s, &mut agent, &to(&first), "+webhook-ops", &log, 0);
    delivered(&first, &added, &agent);
    // Pointed at the second receiver: the next alert goes there, and only there.
    let changed = reload_then_alert(&s, &mut agent, &to(&second), "~webhook-ops", &log, 1);
    delivered(&second, &changed, &agent);
    assert!(
        !webhook_alerts(&first.requests()).contains(&changed),
        "{changed} went to the old URL too"
    );

    let after = reload_then_alert(&s, &mut agent, &source, "-webhook-ops", &log, 2);
    // Give a webhook that was (wrongly) still running the time to deliver it.
    assert!(
        !webhook_got(&second, &after, Duration::from_secs(3)),
        "the removed webhook delivered {after}"
    );
    assert!(!webhook_alerts(&first.requests()).contains(&after));
    let summary = stop(&mut agent);
    assert_eq!(counter(&summary, "reloads_ok"), 3, "{summary}");
    assert_eq!(counter(&summary, "webhook-ops.dropped"), 0, "{summary}");
}
