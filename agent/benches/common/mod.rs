//! What the benchmarks share: their knobs, a scratch folder, the agent run as a child process,
//! figures read from /proc, and the async runtime the sink benchmarks drive a sink on. Each
//! benchmark uses its own part of it.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

/// The number in the environment variable `var`, or `default` when it is unset or not one.
pub fn env_number<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// An empty folder `seismo-{name}-{pid}` under the temp dir (what a previous run left there
/// is removed).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seismo-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The embedded default configuration at a 1 s interval, the HTTP endpoint on a free port, and
/// its state in `state_dir`.
pub fn default_config_every_second(state_dir: &Path) -> String {
    // A replacement that no longer matches would leave the agent on the default port.
    for from in [
        "interval = \"10s\"",
        seismo_e2e::DEFAULT_LISTEN,
        "# state_dir = ",
    ] {
        assert!(
            seismo_config::DEFAULT_TOML.contains(from),
            "the default config has no `{from}`"
        );
    }
    seismo_config::DEFAULT_TOML
        .replacen("interval = \"10s\"", "interval = \"1s\"", 1)
        .replacen(seismo_e2e::DEFAULT_LISTEN, seismo_e2e::FREE_LISTEN, 1)
        .replacen(
            "# state_dir = \"/var/lib/seismo\"",
            &format!("state_dir = \"{}\"", state_dir.display()),
            1,
        )
}

/// Writes `config` to `DIR/seismo.toml` and starts `seismo run` on it with that stdout and
/// stderr.
pub fn spawn_agent(dir: &Path, config: &str, stdout: Stdio, stderr: Stdio) -> Child {
    let config_path = dir.join("seismo.toml");
    std::fs::write(&config_path, config).expect("write config");
    Command::new(env!("CARGO_BIN_EXE_seismo"))
        .args(["run", "--config"])
        .arg(&config_path)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn seismo")
}

/// A thread that counts the lines of `child`'s piped stdout (the alert events) until it exits.
pub fn count_stdout(child: &mut Child) -> JoinHandle<usize> {
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || BufReader::new(stdout).lines().count())
}

/// utime + stime of `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0)
}

/// Clock ticks per second (`cpu_ticks`' unit).
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// A figure of `/proc/{pid}/status` in KiB (`key` as `VmRSS:` or `VmHWM:`; `pid` may be
/// `"self"`); 0 when it cannot be read.
pub fn status_kib(pid: impl std::fmt::Display, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The bench process's own resident set, in KiB.
pub fn rss_kib() -> u64 {
    status_kib("self", "VmRSS:")
}

/// A multi-threaded runtime with two workers, like the agent's.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Hands `payloads` to `append` 1,000 at a time (how a benchmark fills an outbox quickly).
pub fn in_batches(payloads: &[Vec<u8>], mut append: impl FnMut(&[&[u8]])) {
    for chunk in payloads.chunks(1000) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        append(&refs);
    }
}

/// The families the served series are spread over, with their labels (`{a}`, `{b}` make each
/// series unique) and a typical level.
const FAMILIES: [(&str, &str, f64); 8] = [
    (
        "http_server_requests_in_flight",
        "service=\"svc-{a}\",route=\"/api/v1/resource{b}\",method=\"GET\"",
        12.0,
    ),
    (
        "jvm_memory_used_bytes",
        "area=\"heap\",id=\"G1 Eden Space {b}\",instance=\"pod-{a}\"",
        3.0e8,
    ),
    (
        "db_pool_connections_active",
        "pool=\"pool-{b}\",database=\"orders-{a}\"",
        20.0,
    ),
    (
        "rabbitmq_queue_messages_ready",
        "queue=\"orders.{b}.retry\",vhost=\"vh-{a}\"",
        150.0,
    ),
    (
        "cache_hit_ratio",
        "cache=\"sessions-{b}\",node=\"node-{a}\"",
        0.93,
    ),
    (
        "node_filesystem_avail_bytes",
        "device=\"/dev/nvme{b}n1p1\",mountpoint=\"/data/{a}\",fstype=\"ext4\"",
        5.0e10,
    ),
    (
        "kafka_consumergroup_lag",
        "topic=\"events-{b}\",partition=\"{a}\",consumergroup=\"billing\"",
        40.0,
    ),
    (
        "process_open_fds",
        "job=\"worker-{b}\",instance=\"10.0.{a}.7:9100\"",
        230.0,
    ),
];

/// The series' `name{labels} ` prefixes and levels, built once.
pub fn gauge_series(n: usize) -> Vec<(String, f64)> {
    (0..n)
        .map(|i| {
            let (family, labels, level) = FAMILIES[i % FAMILIES.len()];
            let k = i / FAMILIES.len();
            let labels = labels
                .replace("{a}", &(k % 256).to_string())
                .replace("{b}", &(k / 256).to_string());
            // Levels differ per series, within the family's order of magnitude.
            let level = level * (0.5 + (i % 101) as f64 / 100.0);
            (format!("{family}{{{labels}}} "), level)
        })
        .collect()
}

/// The exposition of the `scrape`-th request: every gauge moves a little around its level.
pub fn gauge_body(series: &[(String, f64)], scrape: u64, out: &mut String) {
    out.clear();
    for (i, (prefix, level)) in series.iter().enumerate() {
        // A cheap hash of (series, scrape): noise of ±2 % around the level.
        let h = (i as u64 ^ scrape.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_mul(0xBF58_476D_1CE4_E5B9)
            >> 40;
        let noise = (h % 4001) as f64 / 100_000.0 - 0.02;
        let _ = writeln!(out, "{prefix}{}", level * (1.0 + noise));
    }
    if series.is_empty() {
        // A body with no sample is refused as a whole; one constant keeps the target up.
        out.push_str("bench_up 1\n");
    }
}
