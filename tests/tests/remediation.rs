//! Remediation over the wire, end to end: the real binary, a real Mosquitto, the OTLP receiver,
//! real hook processes. A log alert matches hooks with `approval = "required"`: the agent
//! publishes proposals (MQTT `hooks/proposals`, OTLP) and runs a hook only on a valid decision,
//! signed with the key of `[remediation] key_file`, from a second MQTT client (or through the
//! HTTP API with the token); `on = "request"` hooks run only on a valid request.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use rumqttc::{Client, Event, MqttOptions, Outgoing, QoS};
use seismo_e2e::http_client::{authed, request, token};
use seismo_e2e::mosquitto::{Broker, BrokerOptions};
use seismo_e2e::mqtt_subscriber::Subscriber;
use seismo_e2e::otlp_receiver::{OtlpReceiver, ReceivedLog};
use seismo_e2e::Agent;
use serde_json::{json, Value};

const KEY: &str = "an incident tool's shared key, 32+ bytes";
const HOOKS: &str = "seismo/e2e/hooks";
const PROPOSALS: &str = "seismo/e2e/hooks/proposals";
const DECISIONS: &str = "seismo/e2e/hooks/decisions";

struct World {
    dir: tempfile::TempDir,
    broker: Broker,
    otlp: OtlpReceiver,
    sub: Subscriber,
    log: PathBuf,
    config: String,
}

/// A hook script that records each run as a file `{name}.{pid}.run` in `runs/`.
fn hook(dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\necho \"$SEISMO_ALERT_ID\" > \"{}/{name}.$$.run\"\necho ran {name}\n",
            dir.join("runs").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// How many times hook `name` ran.
fn runs(w: &World, name: &str) -> usize {
    std::fs::read_dir(w.dir.path().join("runs"))
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&format!("{name}.")) && n.ends_with(".run")
        })
        .count()
}

/// Broker, receiver, subscriber and the agent's configuration with `hooks` (TOML, `{dir}`
/// replaced by the test's folder, where `hook(dir, name)` put the scripts).
fn world(hooks: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("runs")).unwrap();
    for name in ["fix", "slow-fix", "diag"] {
        hook(d, name);
    }
    std::fs::write(d.join("decisions.key"), format!("{KEY}\n")).unwrap();
    let broker = Broker::start(&d.join("broker"), &BrokerOptions::default());
    let otlp = OtlpReceiver::start();
    let sub = Subscriber::subscribed_to(&broker, "e2e-watch", "seismo/#", None);
    let log = d.join("app.log");
    std::fs::write(&log, b"").unwrap();
    let config = format!(
        "[agent]\nstate_dir = \"{state}\"\nhost_name = \"e2e\"\n\
         [logging]\nformat = \"json\"\n\
         [sources.host]\nenabled = false\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [[sources.files]]\nname = \"app\"\npaths = [\"{log}\"]\ninterval = \"1s\"\nnew_template_warmup = 3\n\
         [detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n\
         [sinks.mqtt]\nenabled = true\nhost = \"127.0.0.1\"\nport = {port}\ntopic_prefix = \"seismo\"\n\
         retry_initial = \"200ms\"\nretry_max = \"2s\"\n\
         [sinks.otlp]\nenabled = true\nendpoint = \"{otlp}\"\nretry_initial = \"100ms\"\nretry_max = \"1s\"\n\
         [remediation]\nkey_file = \"{key}\"\n{hooks}",
        state = d.join("state").display(),
        log = log.display(),
        port = broker.port,
        otlp = otlp.grpc_endpoint(),
        key = d.join("decisions.key").display(),
        hooks = hooks.replace("{dir}", &d.display().to_string()),
    );
    let config = seismo_e2e::write_config(d, &config);
    World {
        dir,
        broker,
        otlp,
        sub,
        log,
        config,
    }
}

/// Steady traffic, then an error line never seen before: a firing log alert; its id.
fn raise_alert(w: &World, agent: &mut Agent) -> String {
    seismo_e2e::steady_traffic(&w.log, 5);
    seismo_e2e::append(&w.log, "ERROR disk controller reset on /dev/sdb\n");
    let alert = agent
        .wait_stdout(Duration::from_secs(30), |l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| {
                v["kind"] == "alert"
                    && v["state"] == "firing"
                    && v["log"]["sample_lines"].as_array().is_some_and(|s| {
                        s.iter()
                            .any(|x| x.as_str().is_some_and(|x| x.contains("controller reset")))
                    })
            })
        })
        .unwrap_or_else(|| panic!("no alert: {:?}", agent.seen_stdout));
    let v: Value = serde_json::from_str(&alert).unwrap();
    v["alert_id"].as_str().unwrap().to_owned()
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// `fields` signed with `key`: the hex HMAC-SHA256 of the canonical JSON (sorted keys,
/// compact, without `signature`), as docs/alerts.md tells an incident tool to do it.
fn sign(key: &str, fields: Value) -> Vec<u8> {
    // serde_json's map keeps keys sorted.
    let canonical = serde_json::to_vec(&fields).unwrap();
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(&canonical);
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut v = fields;
    v["signature"] = sig.into();
    serde_json::to_vec(&v).unwrap()
}

fn approve(proposal: &str, verdict: &str) -> Value {
    json!({"decision": verdict, "proposal_id": proposal, "by": "oncall", "time": now()})
}

/// Publishes `payload` on the decisions topic from a second client, at QoS 1, and waits for
/// the broker's acknowledgement.
fn publish(port: u16, payload: Vec<u8>) {
    let mut o = MqttOptions::new(
        format!("e2e-decider-{}", std::process::id()),
        "127.0.0.1",
        port,
    );
    o.set_keep_alive(Duration::from_secs(5));
    let (client, mut conn) = Client::new(o, 8);
    client
        .publish(DECISIONS, QoS::AtLeastOnce, false, payload)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    for event in conn.iter() {
        assert!(Instant::now() < deadline, "no PUBACK within 10 s");
        match event {
            Ok(Event::Incoming(rumqttc::Packet::PubAck(_))) => break,
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => panic!("publishing the decision: {e}"),
        }
    }
    let _ = client.disconnect();
}

/// The JSON messages received on `topic`.
fn on(w: &World, topic: &str) -> Vec<Value> {
    w.sub
        .payloads(topic)
        .iter()
        .filter_map(|p| serde_json::from_str(p).ok())
        .collect()
}

/// Waits for a message on `topic` matching `pred`; fails the test without one.
fn wait_message(w: &World, topic: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let found = w.sub.wait_for(Duration::from_secs(40), |msgs| {
        msgs.iter().any(|m| {
            m.topic == topic && serde_json::from_str::<Value>(&m.payload).is_ok_and(|v| pred(&v))
        })
    });
    assert!(found, "no {what} on {topic}: {:#?}", w.sub.messages());
    on(w, topic).into_iter().find(|v| pred(v)).unwrap()
}

/// The proposal of hook `name`.
fn proposal_of(w: &World, name: &str) -> Value {
    wait_message(w, PROPOSALS, &format!("proposal of {name}"), |v| {
        v["hook"] == name && v["phase"] == "proposed"
    })
}

fn hook_otlp<'a>(logs: &'a [ReceivedLog], phase: &str, proposal: &str) -> Option<&'a ReceivedLog> {
    logs.iter().find(|l| {
        l.record.event_name == "seismo.hook"
            && l.attr("seismo.hook.phase").as_deref() == Some(phase)
            && l.attr("seismo.hook.proposal_id").as_deref() == Some(proposal)
    })
}

/// `seismo_hook_decisions_total{result}` from /metrics.
fn decisions(addr: std::net::SocketAddr, result: &str) -> u64 {
    let body = request(addr, "GET", "/metrics", None).unwrap().body;
    let prefix = format!("seismo_hook_decisions_total{{result=\"{result}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until `seismo_hook_decisions_total{result}` reaches `n`.
fn wait_decisions(addr: std::net::SocketAddr, result: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while decisions(addr, result) < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(decisions(addr, result), n, "decisions counted as {result}");
}

const APPROVED_FIX: &str =
    "[[hooks]]\nname = \"fix\"\nsignals = [\"log.app.*\"]\ncommand = [\"{dir}/fix\", \"--now\"]\n\
     approval = \"required\"\napproval_timeout = \"10m\"\nmin_interval = \"0s\"\n";

#[test]
fn a_signed_approval_runs_the_proposal_once_and_its_steps_reach_mqtt_and_otlp() {
    let w = world(APPROVED_FIX);
    let mut agent = Agent::run(&w.config);
    let addr = agent.http_addr(Duration::from_secs(20)).unwrap();
    let alert_id = raise_alert(&w, &mut agent);

    let p = proposal_of(&w, "fix");
    let id = p["proposal_id"].as_str().unwrap().to_owned();
    assert_eq!(p["event_id"], alert_id.as_str());
    assert_eq!(p["subject"]["alert_id"], alert_id.as_str(), "{p}");
    assert!(p["command"][0].as_str().unwrap().ends_with("/fix"));
    assert_eq!(p["command"][1], "--now");
    assert!(p["expires_at"].as_str().is_some(), "{p}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(runs(&w, "fix"), 0, "nothing runs before a decision");

    let approval = sign(KEY, approve(&id, "approve"));
    publish(w.broker.port, approval.clone());
    let finished = wait_message(&w, HOOKS, "finished run", |v| {
        v["phase"] == "finished" && v["proposal_id"] == id.as_str()
    });
    assert_eq!(finished["result"], "ok", "{finished}");
    assert_eq!(finished["decided_by"], "oncall");
    assert_eq!(finished["stdout"], "ran fix\n");
    assert_eq!(runs(&w, "fix"), 1);
    for phase in ["approved", "started"] {
        assert!(
            on(&w, HOOKS)
                .iter()
                .any(|v| v["phase"] == phase && v["proposal_id"] == id.as_str()),
            "no {phase} step: {:#?}",
            on(&w, HOOKS)
        );
    }

    // Every step is an OTLP record, joined to the alert by its id.
    let logs = w
        .otlp
        .wait_logs(Duration::from_secs(30), |logs| {
            ["proposed", "approved", "started", "finished"]
                .iter()
                .all(|phase| hook_otlp(logs, phase, &id).is_some())
        })
        .unwrap_or_else(|logs| panic!("hook records missing: {logs:#?}"));
    let rec = hook_otlp(&logs, "finished", &id).unwrap();
    assert_eq!(
        rec.attr("seismo.alert.id").as_deref(),
        Some(alert_id.as_str())
    );
    assert_eq!(rec.attr("seismo.hook.name").as_deref(), Some("fix"));
    assert_eq!(rec.attr("seismo.hook.result").as_deref(), Some("ok"));
    assert_eq!(rec.attr("seismo.hook.stdout").as_deref(), Some("ran fix\n"));
    let alert_rec = logs
        .iter()
        .find(|l| l.record.event_name == "seismo.alert")
        .expect("the alert's own record");
    assert_eq!(
        alert_rec.attr("seismo.alert.id"),
        rec.attr("seismo.alert.id"),
        "the hook record joins its alert"
    );

    // The same approval again (a duplicate delivery, or a replay inside the window): counted,
    // nothing runs.
    publish(w.broker.port, approval);
    wait_decisions(addr, "duplicate", 1);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        runs(&w, "fix"),
        1,
        "a duplicate approval ran the hook again"
    );
    assert_eq!(decisions(addr, "approved"), 1);
}

#[test]
fn refused_rejected_and_expired_decisions_run_nothing_and_are_counted() {
    let w = world(&format!(
        "{APPROVED_FIX}[[hooks]]\nname = \"slow-fix\"\nsignals = [\"log.app.*\"]\ncommand = [\"{{dir}}/slow-fix\"]\n\
         approval = \"required\"\napproval_timeout = \"3s\"\nmin_interval = \"0s\"\n"
    ));
    let mut agent = Agent::run(&w.config);
    let addr = agent.http_addr(Duration::from_secs(20)).unwrap();
    let alert_id = raise_alert(&w, &mut agent);
    let id = proposal_of(&w, "fix")["proposal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let short = proposal_of(&w, "slow-fix")["proposal_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Unsigned; signed with another key; replayed (an old time); for an unknown proposal; and
    // one whose body tries to change the command.
    publish(
        w.broker.port,
        serde_json::to_vec(&approve(&id, "approve")).unwrap(),
    );
    publish(
        w.broker.port,
        sign(
            "not the agent's key, but long enough",
            approve(&id, "approve"),
        ),
    );
    let mut old = approve(&id, "approve");
    old["time"] = "2020-01-01T00:00:00Z".into();
    publish(w.broker.port, sign(KEY, old));
    publish(
        w.broker.port,
        sign(KEY, approve("p-00000000deadbeef", "approve")),
    );
    let mut hijack = approve(&id, "approve");
    hijack["command"] = json!([
        "/bin/sh",
        "-c",
        format!("touch {}/pwned", w.dir.path().display())
    ]);
    publish(w.broker.port, sign(KEY, hijack));
    // Not even JSON (nor UTF-8): refused, and the agent goes on.
    publish(w.broker.port, b"\xff\xfe{not json".to_vec());
    for (result, n) in [
        ("unsigned", 1),
        ("bad_signature", 1),
        ("replayed", 1),
        ("unknown", 1),
        ("invalid", 2),
    ] {
        wait_decisions(addr, result, n);
    }
    agent.expect_stderr(Duration::from_secs(5), "hook decision refused");

    // The short proposal expires unanswered; approving it after is refused.
    let expired = wait_message(&w, HOOKS, "expiry", |v| {
        v["phase"] == "expired" && v["proposal_id"] == short.as_str()
    });
    assert_eq!(expired["hook"], "slow-fix");
    assert_eq!(expired["event_id"], alert_id.as_str());
    publish(w.broker.port, sign(KEY, approve(&short, "approve")));
    wait_decisions(addr, "expired", 1);

    // The first is still open: a rejection closes it, and an approval after it is a duplicate.
    publish(w.broker.port, sign(KEY, approve(&id, "reject")));
    let rejected = wait_message(&w, HOOKS, "rejection", |v| {
        v["phase"] == "rejected" && v["proposal_id"] == id.as_str()
    });
    assert_eq!(rejected["decided_by"], "oncall");
    publish(w.broker.port, sign(KEY, approve(&id, "approve")));
    wait_decisions(addr, "duplicate", 1);

    // The same refusals through the HTTP API: without the token, and an unknown proposal.
    let body = serde_json::to_string(&approve(&id, "approve")).unwrap();
    let r = request(addr, "POST", "/api/v1/hooks/decisions", Some(&body)).unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    let t = token(&w.dir.path().join("state"));
    let unknown = serde_json::to_string(&approve("p-0000000000000001", "approve")).unwrap();
    let r = authed(addr, &t, "POST", "/api/v1/hooks/decisions", Some(&unknown)).unwrap();
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["reason"], "unknown");
    let r = authed(addr, &t, "POST", "/api/v1/hooks/decisions", Some(&body)).unwrap();
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["reason"], "duplicate");
    let hijack = serde_json::to_string(&json!({"decision": "approve", "proposal_id": id,
        "command": ["/bin/sh", "-c", "id"]}))
    .unwrap();
    let r = authed(addr, &t, "POST", "/api/v1/hooks/decisions", Some(&hijack)).unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["reason"], "invalid");
    assert!(
        r.json()["error"].as_str().unwrap().contains("command"),
        "{}",
        r.body
    );

    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        runs(&w, "fix") + runs(&w, "slow-fix"),
        0,
        "a refused decision ran a hook"
    );
    assert!(!w.dir.path().join("pwned").exists());
    assert!(
        !on(&w, HOOKS).iter().any(|v| v["phase"] == "started"),
        "{:#?}",
        on(&w, HOOKS)
    );
    // The expiry and the rejection are OTLP records too.
    w.otlp
        .wait_logs(Duration::from_secs(30), |logs| {
            hook_otlp(logs, "expired", &short).is_some()
                && hook_otlp(logs, "rejected", &id).is_some()
        })
        .unwrap_or_else(|logs| panic!("no expired/rejected records: {logs:#?}"));
}

#[test]
fn a_decision_sent_while_the_agent_is_down_applies_after_restart_and_open_proposals_survive_sigkill(
) {
    let w = world(&format!(
        "{APPROVED_FIX}[[hooks]]\nname = \"slow-fix\"\nsignals = [\"log.app.*\"]\ncommand = [\"{{dir}}/slow-fix\"]\n\
         approval = \"required\"\napproval_timeout = \"10m\"\nmin_interval = \"0s\"\n\
         [[hooks]]\nname = \"diag\"\nsignals = [\"log.app.*\"]\ncommand = [\"{{dir}}/diag\"]\n\
         approval = \"required\"\napproval_timeout = \"5s\"\nmin_interval = \"0s\"\n"
    ));
    let mut agent = Agent::run(&w.config);
    raise_alert(&w, &mut agent);
    let first = proposal_of(&w, "fix")["proposal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = proposal_of(&w, "slow-fix")["proposal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let short = proposal_of(&w, "diag")["proposal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    agent.expect_stderr(Duration::from_secs(10), "subscribed to hook decisions");

    agent.signal(libc::SIGKILL);
    agent.wait_exit(Duration::from_secs(10));
    // Sent while nobody is subscribed: the broker keeps it for the agent's session.
    publish(w.broker.port, sign(KEY, approve(&first, "approve")));

    let mut agent = Agent::run(&w.config);
    let addr = agent.http_addr(Duration::from_secs(20)).unwrap();
    let finished = wait_message(&w, HOOKS, "the run approved while down", |v| {
        v["phase"] == "finished" && v["proposal_id"] == first.as_str()
    });
    assert_eq!(finished["result"], "ok", "{finished}");
    assert_eq!(runs(&w, "fix"), 1);
    // The short one expired, before the SIGKILL or after the restart: reported, never run.
    wait_message(&w, HOOKS, "the short proposal's expiry", |v| {
        v["phase"] == "expired" && v["proposal_id"] == short.as_str()
    });
    assert_eq!(runs(&w, "diag"), 0);

    // The other proposal is still open after the SIGKILL: the HTTP API approves it.
    let t = token(&w.dir.path().join("state"));
    let body = serde_json::to_string(&approve(&second, "approve")).unwrap();
    let r = authed(addr, &t, "POST", "/api/v1/hooks/decisions", Some(&body)).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["result"], "approved");
    wait_message(&w, HOOKS, "the run approved after restart", |v| {
        v["phase"] == "finished" && v["proposal_id"] == second.as_str()
    });

    // Killed and restarted again: nothing decided runs twice.
    agent.signal(libc::SIGKILL);
    agent.wait_exit(Duration::from_secs(10));
    let mut agent = Agent::run(&w.config);
    agent.expect_stderr(Duration::from_secs(20), "subscribed to hook decisions");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!((runs(&w, "fix"), runs(&w, "slow-fix")), (1, 1));
    // (The MQTT sink delivers at least once: after a SIGKILL a step may arrive twice.)
    let mut started: Vec<String> = on(&w, HOOKS)
        .into_iter()
        .filter(|v| v["phase"] == "started")
        .map(|v| v["proposal_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    started.sort();
    started.dedup();
    let mut want = vec![first, second];
    want.sort();
    assert_eq!(started, want);
}

#[test]
fn a_request_hook_runs_only_on_a_valid_request_within_its_limits() {
    let w = world(
        "[[hooks]]\nname = \"diag\"\non = \"request\"\nsignals = [\"log.app.*\"]\ncommand = [\"{dir}/diag\"]\n\
         min_interval = \"1h\"\n",
    );
    let mut agent = Agent::run(&w.config);
    let addr = agent.http_addr(Duration::from_secs(20)).unwrap();
    agent.expect_stderr(Duration::from_secs(20), "subscribed to hook decisions");
    let run = |request: &str, event: &str| {
        sign(
            KEY,
            json!({"decision": "run", "hook": "diag", "event_id": event, "request_id": request,
                   "by": "incident-bot", "time": now()}),
        )
    };
    publish(w.broker.port, run("r-0", "log.app.errors_per_s@1"));
    wait_decisions(addr, "unknown", 1);
    let alert_id = raise_alert(&w, &mut agent);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        runs(&w, "diag"),
        0,
        "a request hook does not run on a match"
    );
    assert!(on(&w, PROPOSALS).is_empty());

    publish(w.broker.port, run("r-1", &alert_id));
    let finished = wait_message(&w, HOOKS, "the requested run", |v| {
        v["phase"] == "finished" && v["proposal_id"] == "r-1"
    });
    assert_eq!(finished["decided_by"], "incident-bot");
    assert_eq!(finished["event_id"], alert_id.as_str());
    // The same request again: a duplicate; a new one within min_interval: busy; unsigned:
    // refused.
    publish(w.broker.port, run("r-1", &alert_id));
    wait_decisions(addr, "duplicate", 1);
    publish(w.broker.port, run("r-2", &alert_id));
    wait_decisions(addr, "busy", 1);
    let unsigned = json!({"decision": "run", "hook": "diag", "event_id": alert_id,
        "request_id": "r-3", "by": "x", "time": now()});
    publish(w.broker.port, serde_json::to_vec(&unsigned).unwrap());
    wait_decisions(addr, "unsigned", 1);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(runs(&w, "diag"), 1);
    assert_eq!(decisions(addr, "run"), 1);
}

#[test]
fn a_missing_or_short_key_file_stops_the_start_with_the_file_named() {
    let w = world(APPROVED_FIX);
    let key = w.dir.path().join("decisions.key");
    for (content, want) in [
        (None, "No such file"),
        (Some("short\n"), "at least 16 random bytes"),
    ] {
        match content {
            None => std::fs::remove_file(&key).unwrap(),
            Some(text) => std::fs::write(&key, text).unwrap(),
        }
        let mut agent = Agent::start(&["run", "--config", &w.config]);
        let (status, _) = agent.wait_exit(Duration::from_secs(20));
        assert!(!status.success(), "started without a usable key");
        let said = agent
            .wait_stderr(Duration::from_secs(5), |l| l.contains("key_file"))
            .unwrap_or_else(|| panic!("no sentence about key_file: {:?}", agent.seen_stderr));
        assert!(said.contains(&key.display().to_string()), "{said}");
        assert!(said.contains(want), "{said}");
    }
}
