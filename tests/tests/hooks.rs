//! Remediation hooks end to end: the real binary tails a real file; a log line full of shell
//! syntax raises a log alert carrying it as a sample line; the configured hook (a shell script
//! that records its stdin, environment and arguments) receives the line only as data, nothing
//! the line says is executed, and the run's outcome is logged and published on MQTT.

use std::path::Path;
use std::time::Duration;

use seismo_e2e::mosquitto::{Broker, BrokerOptions};
use seismo_e2e::mqtt_subscriber::Subscriber;
use seismo_e2e::Agent;

fn executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// What each hook run recorded: (stdin, env, args), in no particular order.
fn captured(dir: &Path) -> Vec<(String, String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut runs = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "done") {
            let read = |ext: &str| std::fs::read_to_string(p.with_extension(ext)).unwrap();
            runs.push((read("stdin"), read("env"), read("args")));
        }
    }
    runs
}

#[test]
fn hostile_log_text_reaches_the_hook_only_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let capture = d.join("capture");
    std::fs::create_dir(&capture).unwrap();
    // What the injection would destroy or create, if any of it ran.
    let victim = d.join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("keep"), b"still here").unwrap();
    let marker = |name: &str| d.join(format!("pwned-{name}"));
    let hostile = format!(
        "ERROR upload failed for user $(touch {}) `touch {}`; rm -rf {}; touch {} && touch {} | tee {} > {} 'quoted' \"double\"",
        marker("dollar").display(),
        marker("backtick").display(),
        victim.display(),
        marker("semicolon").display(),
        marker("and").display(),
        marker("pipe").display(),
        marker("redirect").display(),
    );

    let hook = d.join("record-hook");
    executable(
        &hook,
        "#!/bin/sh\n\
         out=\"$CAPTURE/$$\"\n\
         cat > \"$out.stdin\"\n\
         env > \"$out.env\"\n\
         printf '%s\\n' \"$@\" > \"$out.args\"\n\
         touch \"$out.done\"\n\
         echo recorded\n",
    );

    let broker = Broker::start(&d.join("broker"), &BrokerOptions::default());
    let sub = Subscriber::subscribed_to(&broker, "e2e-hooks", "seismo/#", None);

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
         [[hooks]]\nname = \"record\"\nsignals = [\"log.app.*\"]\ncommand = [\"{hook}\", \"--static-arg\"]\n\
         min_interval = \"0s\"\nmax_concurrent = 8\ntimeout = \"20s\"\n\
         env = {{ CAPTURE = \"{capture}\" }}\n",
        state = d.join("state").display(),
        log = log.display(),
        port = broker.port,
        hook = hook.display(),
        capture = capture.display(),
    );
    let config_path = seismo_e2e::write_config(d, &config);

    let mut agent = Agent::run(&config_path);
    let append = |text: &str| seismo_e2e::append(&log, text);
    // 5 s of steady lines: past the 3-interval template warm-up and the detectors' warm-up.
    for i in 0..20 {
        append(&format!("GET /index.html 200 served in {i} ms\n"));
        std::thread::sleep(Duration::from_millis(250));
    }
    append(&format!("{hostile}\n"));

    let carries_hostile = |l: &str| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
        v["state"] == "firing"
            && v["log"]["sample_lines"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x.as_str() == Some(hostile.as_str())))
    };
    let alert = agent
        .wait_stdout(Duration::from_secs(20), carries_hostile)
        .unwrap_or_else(|| panic!("no alert carried the line: {:?}", agent.seen_stdout));
    let alert: serde_json::Value = serde_json::from_str(&alert).unwrap();
    let alert_id = alert["alert_id"].as_str().unwrap().to_owned();

    // The run for that alert is logged with its outcome.
    let finished = agent
        .wait_stderr(Duration::from_secs(30), |l| {
            l.contains("hook finished") && l.contains(&alert_id)
        })
        .unwrap_or_else(|| panic!("no outcome for {alert_id}: {:?}", agent.seen_stderr));
    let finished: serde_json::Value = serde_json::from_str(&finished).unwrap();
    assert_eq!(finished["result"], "ok", "{finished}");
    assert_eq!(finished["stdout"], "recorded\n", "{finished}");
    // The exit status as a number (not `Some(0)`), and no signal or error fields at all.
    assert_eq!(finished["exit_code"], 0, "{finished}");
    assert!(finished.get("exit_signal").is_none(), "{finished}");
    assert!(finished.get("error").is_none(), "{finished}");

    // What the hook received: the line verbatim on stdin, never in its arguments.
    let runs = captured(&capture);
    let (stdin, env, args) = runs
        .iter()
        .find(|(stdin, _, _)| {
            serde_json::from_str::<serde_json::Value>(stdin)
                .is_ok_and(|v| v["alert_id"] == alert_id.as_str())
        })
        .unwrap_or_else(|| panic!("no recorded run for {alert_id}: {runs:#?}"));
    let received: serde_json::Value = serde_json::from_str(stdin).unwrap();
    assert!(
        received["log"]["sample_lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str() == Some(hostile.as_str())),
        "the line did not arrive verbatim: {received}"
    );
    assert_eq!(received["signal"], alert["signal"]);
    assert!(env
        .lines()
        .any(|l| l == format!("SEISMO_ALERT_ID={alert_id}")));
    assert!(env.lines().any(|l| l == "SEISMO_HOOK=record"));
    assert!(env.lines().any(|l| l == "SEISMO_HOST=e2e"));
    assert!(env.lines().any(|l| l == "SEISMO_STATE=firing"));
    assert!(
        !env.contains("rm -rf"),
        "log text reached the environment:\n{env}"
    );
    for (_, _, args) in &runs {
        assert_eq!(
            args, "--static-arg\n",
            "the arguments are the configured ones"
        );
    }
    assert_eq!(args, "--static-arg\n");

    // Nothing the line said was executed.
    for name in ["dollar", "backtick", "semicolon", "and", "pipe", "redirect"] {
        assert!(
            !marker(name).exists(),
            "{} exists: the log line was executed",
            marker(name).display()
        );
    }
    assert_eq!(
        std::fs::read(victim.join("keep")).unwrap(),
        b"still here",
        "the victim directory was touched"
    );

    // The outcome is exported as an event: MQTT publishes it on the hooks topic, after the
    // run's `started` step.
    let finished_for =
        |v: &serde_json::Value| v["event_id"] == alert_id.as_str() && v["phase"] == "finished";
    let published = sub.wait_for(Duration::from_secs(30), |msgs| {
        msgs.iter().any(|m| {
            m.topic == "seismo/e2e/hooks"
                && serde_json::from_str::<serde_json::Value>(&m.payload)
                    .is_ok_and(|v| finished_for(&v))
        })
    });
    assert!(
        published,
        "no outcome on seismo/e2e/hooks: {:?}",
        sub.messages()
    );
    let outcome: serde_json::Value = sub
        .payloads("seismo/e2e/hooks")
        .iter()
        .filter_map(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .find(finished_for)
        .unwrap();
    assert_eq!(outcome["hook"], "record");
    assert_eq!(outcome["result"], "ok");
    assert_eq!(outcome["exit_code"], 0);
    assert_eq!(outcome["event"], "alert");
    assert_eq!(outcome["stdout"], "recorded\n");
    assert_eq!(outcome["command"][1], "--static-arg");

    agent.stop(Duration::from_secs(15));
    let stopped = agent.stop_line();
    let ok = agent.summary_counter("hook_runs_ok");
    assert!(ok >= 1, "{stopped}");
    assert_eq!(agent.summary_counter("hook_runs_failed"), 0, "{stopped}");
}

#[test]
fn a_hook_with_an_unknown_program_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("seismo.toml");
    std::fs::write(
        &config,
        "[[hooks]]\nname = \"x\"\nsignals = [\"*\"]\ncommand = [\"/nonexistent/restart-app\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(seismo_e2e::seismo_bin())
        .args(["check-config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("seismo.toml:4:11") && err.contains("does not exist"),
        "{err}"
    );
}
