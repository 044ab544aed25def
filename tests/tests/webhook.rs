//! The webhook sink end to end: the real binary, real anomalies (a burst of processes moves
//! `host.processes.count`), and real peers on 127.0.0.1: Prometheus Alertmanager from Debian's
//! `prometheus-alertmanager` package, and a loopback HTTP receiver standing in for PagerDuty's
//! Events API and for a generic JSON endpoint (it records requests and can answer 429/500).
//!
//! The agent's stdout sink is the ground truth of what it raised.

use std::path::Path;
use std::time::{Duration, Instant};

use seismo_e2e::alertmanager::Alertmanager;
use seismo_e2e::anomaly::ProcessSpike;
use seismo_e2e::http_receiver::{HttpReceiver, Request};
use seismo_e2e::{process_burst_config, Agent, SLOW_PROCESS_BASELINE};
use serde_json::Value;

/// Host samples every second; 8 learned points after the first two readings.
const WARMUP: Duration = Duration::from_secs(11);
const SIGNAL: &str = "host.processes.count";

/// The tests that induce anomalies run one at a time: a burst held by one test (until
/// Alertmanager lists the alert) would keep the others' alerts from resolving, and a burst
/// during another agent's warm-up would be learned as normal.
static ANOMALIES: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ANOMALIES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Several bursts overlap across tests run in parallel: a slow-learning baseline keeps every
/// burst anomalous. Then `sinks`.
fn agent_config(dir: &Path, sinks: &str) -> String {
    agent_config_with(dir, &[], sinks)
}

/// [`agent_config`] with more `replacements` of the default config's lines.
fn agent_config_with(dir: &Path, replacements: &[(&str, &str)], sinks: &str) -> String {
    let mut all = vec![("resolve_after = 3", "resolve_after = 1")];
    all.extend_from_slice(replacements);
    process_burst_config(dir, "e2e", &all, &format!("{SLOW_PROCESS_BASELINE}{sinks}"))
}

/// After the warm-up, a burst of processes for 1.5 s; returns the printed events (stdout JSON
/// lines, alerts and incidents) once an alert about `SIGNAL` resolved.
fn burst_fired_and_resolved(agent: &mut Agent) -> Vec<Value> {
    std::thread::sleep(WARMUP);
    ProcessSpike::burst(150, Duration::from_millis(1500));
    let resolved = agent.wait_stdout(Duration::from_secs(40), |l| {
        l.contains(&format!("\"signal\":\"{SIGNAL}\"")) && l.contains("\"state\":\"resolved\"")
    });
    assert!(
        resolved.is_some(),
        "no resolved process-count alert; stdout: {:?}",
        agent.seen_stdout
    );
    printed_events(agent)
}

/// Every event the agent printed so far (alerts and incidents).
fn printed_events(agent: &mut Agent) -> Vec<Value> {
    agent.wait_stdout(Duration::from_millis(300), |_| false);
    agent
        .seen_stdout
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every alert event the agent printed so far: what the Alertmanager and PagerDuty formats
/// map (incidents go to the JSON format only).
fn printed(agent: &mut Agent) -> Vec<Value> {
    alerts(printed_events(agent))
}

/// The alert events among `events`.
fn alerts(events: Vec<Value>) -> Vec<Value> {
    events
        .into_iter()
        .filter(|v| v["kind"] == "alert")
        .collect()
}

fn stop(agent: &mut Agent) {
    agent.stop(Duration::from_secs(10));
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    f()
}

/// Alertmanager's active alerts about `SIGNAL`.
fn am_process_alerts(am: &Alertmanager) -> Vec<Value> {
    am.alerts()
        .into_iter()
        .filter(|a| a["labels"]["signal"] == SIGNAL)
        .collect()
}

/// After the agent stopped: the Alertmanager sink holds nothing queued, dropped nothing and
/// delivered every alert the agent printed (`what` says which, when it did not).
fn assert_am_delivered_all(agent: &mut Agent, what: &str) {
    assert_eq!(agent.summary_counter("webhook-am.queued"), 0);
    assert_eq!(agent.summary_counter("webhook-am.dropped"), 0);
    assert_eq!(
        agent.summary_counter("webhook-am.delivered"),
        printed(agent).len() as u64,
        "{what}"
    );
}

fn am_table(url: &str, extra: &str) -> String {
    format!(
        "\n[[sinks.webhook]]\nname = \"am\"\nformat = \"alertmanager\"\nurl = \"{url}\"\n\
         retry_initial = \"200ms\"\nretry_max = \"1s\"\ntimeout = \"5s\"\n{extra}"
    )
}

/// Holds a burst until Alertmanager lists the alert, checks its labels against what the agent
/// printed, ends the burst, and checks that the alert resolves in Alertmanager. The repeat
/// interval is long (firing alerts end 4 × 5 min after a post), so only seismo's resolve can
/// make it go away within the test.
fn fire_and_resolve_through(am: &Alertmanager, agent: &mut Agent) {
    // Twice the earlier bursts: a burst that landed among a young baseline's first points
    // widens its band enough to hold the same level again.
    let spike = ProcessSpike::start(300);
    let mut listed = Vec::new();
    let seen = wait_until(Duration::from_secs(60), || {
        listed = am_process_alerts(am);
        !listed.is_empty()
    });
    assert!(
        seen,
        "the alert never showed up in Alertmanager; agent stdout {:?}\nstderr {:?}\nalertmanager log:\n{}",
        agent.seen_stdout,
        agent.seen_stderr,
        am.log()
    );
    let a = &listed[0];
    let id = a["labels"]["alert_id"].as_str().unwrap().to_owned();
    let fired = printed(agent)
        .into_iter()
        .find(|e| e["alert_id"] == id.as_str() && e["state"] == "firing")
        .unwrap_or_else(|| panic!("Alertmanager has {id}, which the agent never printed"));
    assert_eq!(a["labels"]["alertname"], "SeismoAnomaly");
    assert_eq!(a["labels"]["host"], "e2e");
    assert_eq!(a["labels"]["detector"], "ewma");
    assert_eq!(a["labels"]["severity"], fired["severity"]);
    assert_eq!(a["annotations"]["summary"], fired["summary"]);
    assert!(a["annotations"]["description"]
        .as_str()
        .unwrap()
        .contains("expected"));
    let started = |s: &Value| humantime::parse_rfc3339(s.as_str().unwrap()).unwrap();
    assert_eq!(started(&a["startsAt"]), started(&fired["started_at"]));
    assert!(started(&a["endsAt"]) > std::time::SystemTime::now() + Duration::from_secs(600));
    assert_eq!(a["status"]["state"], "active");

    drop(spike);
    let resolved = agent.wait_stdout(Duration::from_secs(40), |l| {
        l.contains(&format!("\"alert_id\":\"{id}\"")) && l.contains("\"state\":\"resolved\"")
    });
    assert!(resolved.is_some(), "not resolved: {:?}", agent.seen_stdout);
    let gone = wait_until(Duration::from_secs(30), || {
        am_process_alerts(am)
            .iter()
            .all(|a| a["labels"]["alert_id"] != id.as_str())
    });
    assert!(
        gone,
        "{id} still active in Alertmanager: {:?}\nagent stdout {:?}\nstderr {:?}",
        am.alerts(),
        agent.seen_stdout,
        agent.seen_stderr
    );
}

#[test]
fn alerts_show_up_in_alertmanager_with_their_labels_and_resolve() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(&dir.path().join("am"));
    let config = agent_config(
        dir.path(),
        &am_table(&am.url(), "repeat_interval = \"5m\"\n"),
    );
    let mut agent = Agent::run(&config);
    std::thread::sleep(WARMUP);
    fire_and_resolve_through(&am, &mut agent);
    stop(&mut agent);
    assert_am_delivered_all(&mut agent, "every printed alert delivered");
}

#[test]
fn alertmanager_down_at_start_then_up_gets_everything() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let mut am = Alertmanager::prepare(&dir.path().join("am"));
    // Two alerts about one signal: the default one-minute cool-down after the first one's
    // resolve would hold the second back for most of the time the test waits for it (it
    // failed once in .ci/run when Alertmanager was slow to start).
    let config = agent_config_with(
        dir.path(),
        &[("cooldown = \"1m\"", "cooldown = \"1s\"")],
        &am_table(&am.url(), "repeat_interval = \"5m\"\n"),
    );
    let mut agent = Agent::run(&config);
    // An alert fires and resolves while Alertmanager is down: it waits in the outbox.
    let while_down = alerts(burst_fired_and_resolved(&mut agent));
    assert!(
        agent
            .wait_stderr(Duration::from_secs(10), |l| l.contains("delivery failed"))
            .is_some(),
        "no delivery failure logged: {:?}",
        agent.seen_stderr
    );
    am.spawn();
    assert!(
        agent
            .wait_stderr(Duration::from_secs(30), |l| l
                .contains("sink delivering again"))
            .is_some(),
        "the sink never recovered: {:?}",
        agent.seen_stderr
    );
    // A later alert goes straight through, fires and resolves in Alertmanager.
    fire_and_resolve_through(&am, &mut agent);
    stop(&mut agent);
    assert!(while_down.len() >= 2);
    assert_am_delivered_all(
        &mut agent,
        "everything printed, the outage's alerts included, was delivered",
    );
}

/// PagerDuty Events API v2, as documented: required fields, enums and lengths.
fn check_pagerduty_event(e: &Value, routing_key: &str) {
    let obj = e.as_object().expect("an event is a JSON object");
    for key in obj.keys() {
        assert!(
            [
                "routing_key",
                "event_action",
                "dedup_key",
                "payload",
                "client",
                "client_url",
                "images",
                "links"
            ]
            .contains(&key.as_str()),
            "unknown top-level field {key} in {e}"
        );
    }
    assert_eq!(e["routing_key"], routing_key);
    let action = e["event_action"].as_str().expect("event_action");
    assert!(
        ["trigger", "acknowledge", "resolve"].contains(&action),
        "{e}"
    );
    let dedup = e["dedup_key"].as_str().expect("dedup_key");
    assert!(!dedup.is_empty() && dedup.chars().count() <= 255, "{e}");
    if action != "trigger" {
        return;
    }
    let p = e["payload"].as_object().expect("a trigger has a payload");
    for key in p.keys() {
        assert!(
            [
                "summary",
                "source",
                "severity",
                "timestamp",
                "component",
                "group",
                "class",
                "custom_details"
            ]
            .contains(&key.as_str()),
            "unknown payload field {key} in {e}"
        );
    }
    let summary = p["summary"].as_str().expect("payload.summary");
    assert!(
        !summary.is_empty() && summary.chars().count() <= 1024,
        "{e}"
    );
    assert!(!p["source"].as_str().expect("payload.source").is_empty());
    assert!(
        ["critical", "error", "warning", "info"]
            .contains(&p["severity"].as_str().expect("payload.severity")),
        "{e}"
    );
    if let Some(ts) = p.get("timestamp") {
        humantime::parse_rfc3339(ts.as_str().expect("timestamp is a string"))
            .unwrap_or_else(|err| panic!("timestamp is not ISO 8601 ({err}): {e}"));
    }
    for key in ["component", "group", "class"] {
        if let Some(v) = p.get(key) {
            assert!(v.is_string(), "{key} is not a string: {e}");
        }
    }
    if let Some(d) = p.get("custom_details") {
        assert!(d.is_object(), "custom_details is not an object: {e}");
    }
}

#[test]
fn pagerduty_events_follow_the_schema_and_survive_429_and_500() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let pd = HttpReceiver::start();
    // PagerDuty throttles (429) and has bad moments (500): the first two requests fail.
    pd.script(&[429, 500]);
    let key_file = dir.path().join("routing-key");
    let routing_key = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey12";
    std::fs::write(&key_file, format!("{routing_key}\n")).unwrap();
    let config = agent_config(
        dir.path(),
        &format!(
            "\n[[sinks.webhook]]\nname = \"pd\"\nformat = \"pagerduty\"\nurl = \"{}/v2/enqueue\"\n\
             routing_key_file = \"{}\"\nretry_initial = \"100ms\"\nretry_max = \"500ms\"\n",
            pd.url(),
            key_file.display()
        ),
    );
    let mut agent = Agent::run(&config);
    let printed = alerts(burst_fired_and_resolved(&mut agent));
    let accepted = |rs: &[Request]| -> Vec<Value> {
        rs.iter()
            .filter(|r| r.status == 202)
            .map(Request::json)
            .collect()
    };
    let all_in = |rs: &[Request]| {
        let got = accepted(rs);
        printed.iter().all(|p| {
            got.iter()
                .any(|g| g["dedup_key"] == p["alert_id"] && is_action_for(g, p))
        })
    };
    let requests = pd.wait(Duration::from_secs(30), all_in);
    assert!(
        all_in(&requests),
        "not every printed alert reached PagerDuty:\nprinted {printed:#?}\ngot {:#?}",
        accepted(&requests)
    );
    // The two failures were retried: the same event came again and was accepted.
    assert_eq!(requests[0].status, 429);
    assert_eq!(requests[1].status, 500);
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(requests[1].body, requests[2].body);
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v2/enqueue");
        assert_eq!(r.headers["content-type"], "application/json");
        check_pagerduty_event(&r.json(), routing_key);
    }
    // In order: the accepted events follow the printed order (at-least-once may repeat).
    let got = accepted(&requests);
    let mut it = got.iter();
    for p in &printed {
        assert!(
            it.any(|g| g["dedup_key"] == p["alert_id"] && is_action_for(g, p)),
            "out of order at {p}: {got:#?}"
        );
    }
    let trigger = got
        .iter()
        .find(|g| g["event_action"] == "trigger" && g["payload"]["component"] == SIGNAL)
        .expect("a trigger for the process count");
    assert_eq!(trigger["payload"]["source"], "e2e");
    assert_eq!(trigger["payload"]["group"], "host.processes");
    assert_eq!(trigger["payload"]["custom_details"]["signal"], SIGNAL);
    stop(&mut agent);
    assert_eq!(agent.summary_counter("webhook-pd.dropped"), 0);
    assert!(agent.summary_counter("webhook-pd.retried") >= 2);
}

fn is_action_for(event: &Value, printed: &Value) -> bool {
    match printed["state"].as_str() {
        Some("firing") => event["event_action"] == "trigger",
        _ => event["event_action"] == "resolve",
    }
}

#[test]
fn json_webhook_posts_the_printed_events_with_headers_and_retries() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start();
    hook.script(&[503]);
    let token = dir.path().join("token");
    std::fs::write(&token, "Bearer s3cret\n").unwrap();
    let config = agent_config(
        dir.path(),
        &format!(
            "\n[[sinks.webhook]]\nname = \"hook\"\nurl = \"{}/seismo\"\n\
             headers = {{ \"X-Team\" = \"ops\" }}\nheaders_file = {{ Authorization = \"{}\" }}\n\
             retry_initial = \"100ms\"\nretry_max = \"500ms\"\n",
            hook.url(),
            token.display()
        ),
    );
    let mut agent = Agent::run(&config);
    let printed = burst_fired_and_resolved(&mut agent);
    let received = |rs: &[Request]| -> Vec<Value> {
        rs.iter()
            .filter(|r| r.status == 202)
            .flat_map(|r| r.json().as_array().expect("a JSON array").clone())
            .collect()
    };
    let requests = hook.wait(Duration::from_secs(30), |rs| {
        let got = received(rs);
        printed.iter().all(|p| got.contains(p))
    });
    let got = received(&requests);
    let mut it = got.iter();
    for p in &printed {
        assert!(
            it.any(|g| g == p),
            "missing or out of order: {p}\nreceived {got:#?}"
        );
    }
    assert_eq!(requests[0].status, 503);
    // The failed batch is sent again (with whatever was queued since).
    let failed = requests[0].json().as_array().unwrap().clone();
    let retried = requests[1].json().as_array().unwrap().clone();
    assert!(retried.starts_with(&failed), "{failed:?}\n{retried:?}");
    for r in &requests {
        assert_eq!(r.path, "/seismo");
        assert_eq!(r.headers["x-team"], "ops");
        assert_eq!(r.headers["authorization"], "Bearer s3cret");
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(r.headers["user-agent"].starts_with("seismo/"));
    }
    stop(&mut agent);
    assert_eq!(agent.summary_counter("webhook-hook.dropped"), 0);
}

#[test]
fn a_missing_secret_is_refused_at_start_up_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(
        dir.path(),
        "\n[[sinks.webhook]]\nname = \"pd\"\nformat = \"pagerduty\"\nrouting_key_env = \"SEISMO_E2E_UNSET_ROUTING_KEY\"\n",
    );
    let mut agent = Agent::start(&["run", "--config", &config]);
    let (status, _) = agent.wait_exit(Duration::from_secs(20));
    assert!(!status.success());
    let err = agent.seen_stderr.join("\n");
    assert!(
        err.contains("SEISMO_E2E_UNSET_ROUTING_KEY") && err.contains("`pd`"),
        "{err}"
    );
}

#[test]
fn https_with_the_configured_ca_delivers_and_a_wrong_ca_is_retried_without_loss() {
    let _serial = one_at_a_time();
    use seismo_e2e::tls_certs::{make_ca, make_server_cert};
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path(), "ca");
    let other_ca = make_ca(dir.path(), "other-ca");
    let (cert, key) = make_server_cert(dir.path(), &ca, "server");
    let hook = HttpReceiver::start_tls(&cert, &key);
    assert!(hook.url().starts_with("https://127.0.0.1:"));
    let table = |ca_file: &Path| {
        format!(
            "\n[[sinks.webhook]]\nname = \"tls\"\nurl = \"{}/in\"\nca_file = \"{}\"\n\
             retry_initial = \"100ms\"\nretry_max = \"500ms\"\n",
            hook.url(),
            ca_file.display()
        )
    };
    // The wrong CA: the handshake fails, the events stay queued and the failure is logged.
    let config = agent_config(dir.path(), &table(&other_ca.0));
    let mut agent = Agent::run(&config);
    let printed = burst_fired_and_resolved(&mut agent);
    assert!(
        agent
            .wait_stderr(Duration::from_secs(10), |l| l.contains("delivery failed"))
            .is_some(),
        "{:?}",
        agent.seen_stderr
    );
    stop(&mut agent);
    assert!(hook.requests().is_empty());
    assert!(agent.summary_counter("webhook-tls.queued") >= printed.len() as u64);
    // The right CA: what was kept is delivered.
    let config = agent_config(dir.path(), &table(&ca.0));
    let mut agent = Agent::run(&config);
    let requests = hook.wait(Duration::from_secs(30), |rs| {
        let got: Vec<Value> = rs
            .iter()
            .flat_map(|r| r.json().as_array().unwrap().clone())
            .collect();
        printed.iter().all(|p| got.contains(p))
    });
    let got: Vec<Value> = requests
        .iter()
        .flat_map(|r| r.json().as_array().unwrap().clone())
        .collect();
    assert!(
        printed.iter().all(|p| got.contains(p)),
        "kept events not delivered over TLS:\nprinted {printed:#?}\ngot {got:#?}"
    );
    stop(&mut agent);
    assert_eq!(agent.summary_counter("webhook-tls.dropped"), 0);
}
