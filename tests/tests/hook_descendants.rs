//! A hook's descendants die with it at the time-out (issue 25, item 5), end to end: the real
//! binary raises a log alert, the hook starts a child that calls `setsid` and a double-forked
//! grandchild (both out of its process group, with their output elsewhere), then hangs. After
//! the time-out the run is reported `timed_out` and no process of it is left: none in /proc
//! with the test's marker in its argv, none of the pids the hook wrote down, not even as a
//! zombie (the agent, their subreaper, reaped them).

use std::path::Path;
use std::time::{Duration, Instant};

use seismo_e2e::Agent;

fn executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Pids whose command line holds `marker`.
fn with_marker(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect()
}

fn read_pid(p: &Path) -> i32 {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_timed_out_hook_leaves_no_descendant_even_one_that_called_setsid() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let marker = format!("seismo-e2e-escapee-{}", std::process::id());
    let hook = d.join("escape-hook");
    // `$0` of the two escapees carries the marker, so they can be found by argv.
    executable(
        &hook,
        &format!(
            "#!/bin/sh\n\
             setsid sh -c 'echo $$ > \"$PIDS/setsid.pid\"; while :; do sleep 1; done' {marker}-setsid > /dev/null 2>&1 &\n\
             sh -c 'sh -c \"echo \\$\\$ > \\\"$PIDS/double.pid\\\"; trap \\\"\\\" TERM; while :; do sleep 1; done\" {marker}-double > /dev/null 2>&1 &'\n\
             while [ ! -s \"$PIDS/setsid.pid\" ] || [ ! -s \"$PIDS/double.pid\" ]; do sleep 0.05; done\n\
             touch \"$PIDS/ready\"\n\
             exec sleep 1000\n"
        ),
    );
    let pids = d.join("pids");
    std::fs::create_dir(&pids).unwrap();
    let log = d.join("app.log");
    std::fs::write(&log, b"").unwrap();
    let config = format!(
        "[agent]\nstate_dir = \"{state}\"\n[logging]\nformat = \"json\"\n\
         [sources.host]\nenabled = false\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [[sources.files]]\nname = \"app\"\npaths = [\"{log}\"]\ninterval = \"1s\"\nnew_template_warmup = 3\n\
         [detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n\
         [[hooks]]\nname = \"escape\"\nsignals = [\"log.app.*\"]\ncommand = [\"{hook}\"]\n\
         min_interval = \"1h\"\nmax_concurrent = 1\ntimeout = \"2s\"\n\
         env = {{ PIDS = \"{pids}\" }}\n",
        state = d.join("state").display(),
        log = log.display(),
        hook = hook.display(),
        pids = pids.display(),
    );
    let config_path = seismo_e2e::write_config(d, &config);
    let mut agent = Agent::run(&config_path);
    for i in 0..20 {
        seismo_e2e::append(&log, &format!("GET /index.html 200 served in {i} ms\n"));
        std::thread::sleep(Duration::from_millis(250));
    }
    seismo_e2e::append(&log, "ERROR disk controller reset on bus 3\n");
    let finished = agent
        .wait_stderr(Duration::from_secs(60), |l| {
            l.contains("hook finished") && l.contains("\"escape\"")
        })
        .unwrap_or_else(|| panic!("the hook did not finish: {:?}", agent.seen_stderr));
    let finished: serde_json::Value = serde_json::from_str(&finished).unwrap();
    assert!(pids.join("ready").exists(), "the hook did not get going");
    assert_eq!(finished["result"], "timed_out", "{finished}");

    // The kill and the reaping happen before the outcome is logged; allow /proc a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let left = loop {
        let left = with_marker(&marker);
        if left.is_empty() || Instant::now() > deadline {
            break left;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(left.is_empty(), "descendants still running: {left:?}");
    for name in ["setsid.pid", "double.pid"] {
        let pid = read_pid(&pids.join(name));
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{name} ({pid}) is still in /proc (alive or an unreaped zombie)"
        );
    }
    agent.stop(Duration::from_secs(15));
}
