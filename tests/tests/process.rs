//! Per-process metrics end to end: the real binary watches real child processes (idle `sleep`s
//! with a unique command line, a busy `sh` loop), and its signals are read where a user reads
//! them: as OTLP gauges on a real receiver. A child killed and replaced counts as a restart; an
//! agent without the right to read other users' descriptors counts that and keeps running.

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use seismo_e2e::http_client::request;
use seismo_e2e::otlp_receiver::{signal_values, OtlpReceiver};
use seismo_e2e::{default_config_with, Agent};

const START: Duration = Duration::from_secs(20);
const WAIT: Duration = Duration::from_secs(30);

/// The tests start and kill processes: one at a time.
static MACHINE: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    MACHINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Host metrics off, 1 s process groups given by `groups`, signals exported as OTLP gauges
/// every second (the export follows the host interval).
fn config(dir: &std::path::Path, receiver: &OtlpReceiver, groups: &str) -> String {
    let mut text = default_config_with(
        &dir.join("state"),
        &[
            ("interval = \"10s\"", "interval = \"1s\""),
            ("kind = \"ensemble\"", "kind = \"ewma\"\nwarmup = 8"),
        ],
    );
    text.push_str(&format!(
        "\n[sinks.otlp]\nenabled = true\nprotocol = \"http\"\nendpoint = \"{}\"\nmetrics = true\n\n{groups}\n",
        receiver.http_endpoint()
    ));
    let path = dir.join("seismo.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn start(config: &str, uid: Option<u32>) -> (Agent, std::net::SocketAddr) {
    Agent::start_serving(config, uid, START)
}

fn wait_value(
    receiver: &OtlpReceiver,
    signal: &str,
    what: &str,
    pred: impl Fn(f64) -> bool,
) -> f64 {
    match receiver.wait_gauges(WAIT, |g| signal_values(g, signal).into_iter().any(&pred)) {
        Ok(g) => signal_values(&g, signal)
            .into_iter()
            .rfind(|v| pred(*v))
            .unwrap(),
        Err(g) => panic!(
            "{signal}: never {what}; got {:?}",
            signal_values(&g, signal)
        ),
    }
}

/// Children killed when dropped.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(program: &str, args: &[&str]) -> Child {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"))
}

/// A `sleep` whose command line no other process has.
fn tag() -> String {
    format!("31{}7", std::process::id())
}

#[test]
fn groups_report_cpu_memory_fds_threads_count_and_restarts() {
    let _machine = serial();
    let dir = tempfile::tempdir().unwrap();
    let receiver = OtlpReceiver::start();
    let tag = tag();
    let own_cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let cgroup = own_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .or_else(|| {
            own_cgroup
                .lines()
                .find_map(|l| l.strip_prefix("1:name=systemd:"))
        })
        .unwrap_or("/")
        .to_owned();
    let busy_tag = format!("seismo-busy-{tag}");
    let groups = format!(
        "[[sources.processes]]\nname = \"sleepers\"\nprocess_name = \"sleep\"\ncmdline = '^sleep {tag}$'\ninterval = \"1s\"\n\
         [[sources.processes]]\nname = \"busy\"\ncmdline = '{busy_tag}'\ninterval = \"1s\"\n\
         [[sources.processes]]\nname = \"by_cgroup\"\ncgroup = \"{}\"\ncmdline = '^sleep {tag}$'\ninterval = \"1s\"\n",
        cgroup.replace('[', "[[]")
    );
    let path = config(dir.path(), &receiver, &groups);
    let mut children = Children(vec![spawn("sleep", &[&tag]), spawn("sleep", &[&tag])]);
    // `sh -c 'while :; do :; done' seismo-busy-...`: $0 carries the tag into the command line.
    children
        .0
        .push(spawn("sh", &["-c", "while :; do :; done", &busy_tag]));
    let (mut agent, addr) = start(&path, None);

    wait_value(&receiver, "process.sleepers.count", "2", |v| v == 2.0);
    wait_value(&receiver, "process.by_cgroup.count", "2", |v| v == 2.0);
    wait_value(&receiver, "process.sleepers.threads", "at least 2", |v| {
        v >= 2.0
    });
    wait_value(&receiver, "process.sleepers.memory.rss", "positive", |v| {
        v > 0.0
    });
    // stdin, stdout and stderr of each sleep.
    wait_value(&receiver, "process.sleepers.fds", "at least 6", |v| {
        v >= 6.0
    });
    wait_value(&receiver, "process.sleepers.restarts", "0", |v| v == 0.0);
    let cpu = wait_value(&receiver, "process.busy.cpu.utilization", "busy", |v| {
        v > 1.0
    });
    assert!(cpu <= 100.0 * 2.0 + 10.0, "one sh on 2 cores: {cpu}");
    let idle = signal_values(&receiver.gauges(), "process.sleepers.cpu.utilization");
    assert!(
        !idle.is_empty() && idle.iter().all(|v| *v < 5.0),
        "{idle:?}"
    );

    // One sleeper dies and a new one takes its place: a restart.
    let mut first = children.0.remove(0);
    first.kill().unwrap();
    first.wait().unwrap();
    children.0.push(spawn("sleep", &[&tag]));
    wait_value(&receiver, "process.sleepers.restarts", "1", |v| v >= 1.0);
    wait_value(&receiver, "process.sleepers.count", "2 again", |v| v == 2.0);

    // Both gone: the count drops to 0 and the agent goes on.
    drop(children);
    wait_value(&receiver, "process.sleepers.count", "0", |v| v == 0.0);
    let metrics = request(addr, "GET", "/metrics", None).unwrap().body;
    assert!(
        metrics.contains("seismo_process_errors_total{kind=\"fds_denied\"} 0"),
        "{metrics}"
    );
    agent.signal(libc::SIGTERM);
    let (status, _) = agent.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{:?}", agent.seen_stderr);
}

/// Run as root, the test runs the agent as `nobody`, which may not list the descriptors of
/// root's processes: that is counted and said once, and everything else is still reported.
#[test]
fn unreadable_descriptors_are_counted_and_logged_once() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run the agent as another user");
        return;
    }
    let _machine = serial();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
    let receiver = OtlpReceiver::start();
    let tag = tag();
    let groups = format!(
        "[[sources.processes]]\nname = \"rootsleep\"\ncmdline = '^sleep {tag}$'\ninterval = \"1s\"\n"
    );
    let path = config(dir.path(), &receiver, &groups);
    let _children = Children(vec![spawn("sleep", &[&tag])]);
    let (mut agent, addr) = start(&path, Some(65534));
    wait_value(&receiver, "process.rootsleep.count", "1", |v| v == 1.0);
    wait_value(&receiver, "process.rootsleep.threads", "1", |v| v == 1.0);
    let denied = |body: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix("seismo_process_errors_total{kind=\"fds_denied\"} "))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut body = String::new();
    for _ in 0..50 {
        body = request(addr, "GET", "/metrics", None).unwrap().body;
        if denied(&body) >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(denied(&body) >= 2, "{body}");
    assert!(
        signal_values(&receiver.gauges(), "process.rootsleep.fds").is_empty(),
        "no fds signal while they cannot be read"
    );
    agent.signal(libc::SIGTERM);
    let (status, _) = agent.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{:?}", agent.seen_stderr);
    let warnings = agent
        .seen_stderr
        .iter()
        .filter(|l| l.contains("cannot read the open file descriptors"))
        .count();
    assert_eq!(warnings, 1, "{:?}", agent.seen_stderr);
}
