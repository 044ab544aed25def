//! Kubernetes metadata end to end: files laid out as kubelet lays out /var/log/containers
//! (`<pod>_<namespace>_<container>-<id>.log`, CRI records) in a temporary directory; an alert on
//! a pod's log carries its pod, namespace and container, and the stream of its sample lines.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use seismo_e2e::Agent;

const ID: &str = "4f1c2e9a8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e";

fn append(path: &Path, stream: &str, msg: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    writeln!(f, "2026-11-26T01:00:00.000000001Z {stream} F {msg}").unwrap();
}

#[test]
fn alerts_on_container_logs_carry_the_pod_namespace_container_and_stream() {
    let dir = tempfile::tempdir().unwrap();
    let containers = dir.path().join("containers");
    std::fs::create_dir(&containers).unwrap();
    let pod_log = containers.join(format!("web-7f9c4d-x2bq_shop_nginx-{ID}.log"));
    let other_log = containers.join("not-a-pod.log");
    let config = dir.path().join("seismo.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nstate_dir = \"{}\"\n[logging]\nformat = \"json\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
             [sources.host]\nenabled = false\n\
             [[sources.files]]\nname = \"pods\"\npaths = [\"{}/*.log\"]\nformat = \"cri\"\n\
             start_at = \"beginning\"\ninterval = \"1s\"\nnew_template_warmup = 1\n",
            dir.path().join("state").display(),
            containers.display()
        ),
    )
    .unwrap();
    for i in 0..3 {
        append(&pod_log, "stdout", &format!("GET /api/orders/{i} 200"));
        append(&other_log, "stdout", &format!("GET /api/orders/{i} 200"));
    }
    let mut agent = Agent::start(&["run", "--config", config.to_str().unwrap()]);
    assert!(
        agent
            .wait_stderr(Duration::from_secs(20), |l| l.contains("seismo started"))
            .is_some(),
        "{:?}",
        agent.seen_stderr
    );
    // Past warm-up, a template never seen before alerts at once.
    std::thread::sleep(Duration::from_millis(2500));
    append(
        &pod_log,
        "stderr",
        "panic: runtime error: index out of range [3] with length 3",
    );
    let alert = agent
        .wait_stdout(Duration::from_secs(30), |l| {
            l.contains("index out of range")
        })
        .unwrap_or_else(|| panic!("no alert: {:?}", agent.seen_stdout));
    let alert: serde_json::Value = serde_json::from_str(&alert).unwrap();
    let log = &alert["log"];
    assert_eq!(log["source"], "pods");
    assert_eq!(log["k8s"]["pod"], "web-7f9c4d-x2bq", "{alert}");
    assert_eq!(log["k8s"]["namespace"], "shop");
    assert_eq!(log["k8s"]["container"], "nginx");
    assert_eq!(log["sample_streams"][0], "stderr", "{alert}");

    // A file under the same glob whose name is not a pod's: no Kubernetes metadata.
    append(
        &other_log,
        "stdout",
        "connection pool exhausted after 30 s, 12 waiting",
    );
    let alert = agent
        .wait_stdout(Duration::from_secs(30), |l| {
            l.contains("connection pool exhausted")
        })
        .unwrap_or_else(|| panic!("no alert: {:?}", agent.seen_stdout));
    let alert: serde_json::Value = serde_json::from_str(&alert).unwrap();
    assert!(alert["log"].get("k8s").is_none(), "{alert}");
    assert_eq!(alert["log"]["sample_streams"][0], "stdout", "{alert}");

    agent.signal(libc::SIGTERM);
    let (status, _) = agent.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{:?}", agent.seen_stderr);
}
