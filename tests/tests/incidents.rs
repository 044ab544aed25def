//! Incidents end to end: the real binary tails two real log files; their error rates burst
//! together; the agent prints one incident on stdout that holds both signals, names every
//! alert's incident, and resolves it once both are back to normal.

use std::path::Path;
use std::time::{Duration, Instant};

use seismo_e2e::{append, write_config, Agent};
use serde_json::Value;

const WEB: &str = "log.web.errors_per_s";
const DB: &str = "log.db.errors_per_s";

/// `seconds` of ordinary traffic on both files, four lines a second each.
fn steady(web: &Path, db: &Path, seconds: u32) {
    for i in 0..seconds * 4 {
        append(
            web,
            &format!("GET /index.html 200 served in {} ms\n", i % 7),
        );
        append(db, &format!("query ok rows={} took {} ms\n", i % 5, i % 3));
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The incident event that holds both error signals, if printed yet.
fn joint_incident(lines: &[Value]) -> Option<Value> {
    lines
        .iter()
        .find(|v| {
            v["kind"] == "incident"
                && v["signals"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|x| x == WEB) && s.iter().any(|x| x == DB))
        })
        .cloned()
}

#[test]
fn error_bursts_on_two_files_are_one_incident_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.log");
    let db = dir.path().join("db.log");
    std::fs::write(&web, b"").unwrap();
    std::fs::write(&db, b"").unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[agent]\nstate_dir = \"{state}\"\nhost_name = \"e2e-inc\"\n\
             [sources.host]\nenabled = false\n[http]\nlisten = \"127.0.0.1:0\"\n\
             [[sources.files]]\nname = \"web\"\npaths = [\"{web}\"]\ninterval = \"1s\"\n\
             [[sources.files]]\nname = \"db\"\npaths = [\"{db}\"]\ninterval = \"1s\"\n\
             [detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n",
            state = dir.path().join("state").display(),
            web = web.display(),
            db = db.display(),
        ),
    );
    let mut agent = Agent::run(&config);
    steady(&web, &db, 10);
    // Both services fail at once.
    let burst = |what: &str| {
        (0..60)
            .map(|i| format!("ERROR {what} connection refused to 10.0.0.{}\n", i % 4))
            .collect::<String>()
    };
    append(&db, &burst("db pool"));
    append(&web, &burst("upstream"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut incident = None;
    while incident.is_none() && Instant::now() < deadline {
        steady(&web, &db, 1);
        agent.wait_stdout(Duration::from_millis(10), |_| false);
        incident = joint_incident(&agent.stdout_json());
    }
    let incident = incident.unwrap_or_else(|| {
        panic!(
            "no incident with both error signals: {:#?}",
            agent.seen_stdout
        )
    });
    let id = incident["incident_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("e2e-inc@"), "{id}");
    assert_eq!(incident["host"], "e2e-inc");
    let origin = incident["origin"].as_str().unwrap();
    assert_eq!(incident["timeline"][0]["signal"], origin);
    let times: Vec<&str> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    // Both alerts name the incident; it resolves once every alert in it has.
    steady(&web, &db, 8);
    let resolved = |lines: &[Value]| {
        lines
            .iter()
            .any(|v| v["kind"] == "incident" && v["incident_id"] == id && v["state"] == "resolved")
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !resolved(&agent.stdout_json()) && Instant::now() < deadline {
        steady(&web, &db, 1);
        agent.wait_stdout(Duration::from_millis(10), |_| false);
    }
    let lines = agent.stdout_json();
    assert!(resolved(&lines), "never resolved: {:#?}", agent.seen_stdout);
    for signal in [WEB, DB] {
        let alerts: Vec<&Value> = lines
            .iter()
            .filter(|v| v["kind"] == "alert" && v["signal"] == signal)
            .collect();
        assert!(
            alerts.iter().any(|v| v["incident_id"] == id),
            "{signal}: {alerts:#?}"
        );
    }
    // Every alert names an incident that was announced on stdout.
    for v in lines.iter().filter(|v| v["kind"] == "alert") {
        let inc = v["incident_id"].as_str().unwrap();
        assert!(
            lines
                .iter()
                .any(|i| i["kind"] == "incident" && i["incident_id"] == inc),
            "{v}"
        );
    }
    agent.stop(Duration::from_secs(15));
}
