//! Time to first detection: how soon a freshly started agent (fresh state, the default
//! configuration at its default 10 s interval, plus a file source and two process groups)
//! alerts on plain faults, and how soon after a restart.
//!
//! For each injection time (default 3, 5 and 10 minutes after start; the runs go side by
//! side, each with its own agent, log file and processes) the faults are injected together and
//! each is timed from injection to its first firing alert:
//!
//! - **cpu**: a busy shell (one core) in the group `busy` (`process.busy.cpu.utilization`);
//! - **memory**: a process growing by 16 MiB a second in the group `hog`
//!   (`process.hog.memory.rss`);
//! - **log**: an error burst of a template never seen, 20 lines a second for 30 s, in the
//!   source `app` (`log.app.errors_per_s` or `log.app.template.*.new`);
//! - **filesystem**: a 256 MiB ext4 file system of the run's own (`fs`, an image file on a loop
//!   device, mounted before the agent starts; sysinfo lists no tmpfs) filled at 4 MiB a second
//!   to about 94 % (`host.filesystem.<mount>.used_ratio`). Mounting needs root and mkfs.ext4;
//!   without them the fault is reported as skipped.
//!
//! Then each agent is stopped (SIGTERM) and started again on the same state directory, and 1
//! minute after the restart the same kinds of fault are injected into signals that learned
//! before the restart but never saw a fault: a busy shell in the group `busy2`, a growing
//! process in `hog2`, the file system `fs2` filling, and an error burst of another template in the
//! source `app2` (which had
//! steady traffic all along). They are timed the same way (the target there, within 2
//! intervals, needs learned state that survives a restart; faults on signals that already saw
//! the same fault would measure nothing: a restored agent knows them). Finally a quiet run: a fresh agent
//! with the same sources and steady log traffic, no fault, for `SEISMO_TTFD_QUIET_MINUTES`;
//! every alert is a false one (host signals included: the machine's own load is printed).
//!
//! ```text
//! cargo build -p seismo
//! SEISMO_BIN=target/debug/seismo cargo bench --profile dev -p seismo-e2e --bench ttfd
//! ```
//!
//! Environment: `SEISMO_TTFD_AT` (minutes after start, comma-separated, default `3,5,10`;
//! `off` runs the quiet run alone),
//! `SEISMO_TTFD_RESTART_AT` (minutes after the restart, default 1; `off` skips the restart),
//! `SEISMO_TTFD_QUIET_MINUTES` (default 30; 0 skips the quiet run), `SEISMO_TTFD_WAIT`
//! (minutes to wait for each detection, default 6), `SEISMO_TTFD_INTERVAL` (seconds, default
//! 10), `SEISMO_BIN` (the agent; default the binary next to this benchmark).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo_e2e::{append, default_config_with, write_config, Agent};

/// The faults, in the order they are printed.
const FAULTS: [&str; 4] = ["cpu", "memory", "log", "filesystem"];

/// Whether an alert on `signal` detects `fault` injected into the groups and source named
/// with `suffix` (`""` fresh, `"2"` after the restart) of the run in folder `run`.
fn detects(fault: &str, run: &str, suffix: &str, signal: &str) -> bool {
    match fault {
        "cpu" => signal == format!("process.busy{suffix}.cpu.utilization"),
        "memory" => signal == format!("process.hog{suffix}.memory.rss"),
        // The mount's label is its path with `/` as `_`: it ends with the run's folder name.
        // Every run's file systems are host file systems to every agent: only this run's own
        // (`at-180s_fs`, not another run's filling or emptied one) counts.
        "filesystem" => {
            let own = |sep: &str| format!("_{}_fs{suffix}.used_ratio", run.replace('-', sep));
            signal.starts_with("host.filesystem.")
                && (signal.ends_with(&own("-")) || signal.ends_with(&own("_")))
        }
        _ => {
            let source = format!("log.app{suffix}.");
            signal == format!("{source}errors_per_s")
                || (signal.starts_with(&format!("{source}template.")) && signal.ends_with(".new"))
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn minutes(name: &str, default: f64) -> f64 {
    env(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The default configuration at `interval_s`, file sources `app` and `app2` on `dir/app.log` and
/// `dir/app2.log`, and the process groups `busy`, `hog`, `busy2` and `hog2` for command lines
/// holding `marker`.
fn config(dir: &Path, interval_s: u64, marker: &str) -> String {
    let interval = format!("interval = \"{interval_s}s\"");
    let mut text = default_config_with(
        &dir.join("state"),
        &[("interval = \"10s\"", interval.as_str())],
    );
    text.push_str(&format!(
        "\n[[sources.files]]\nname = \"app\"\npaths = [\"{}\"]\n{interval}\n\
         \n[[sources.processes]]\nname = \"busy\"\ncmdline = '{marker}-busy'\n{interval}\n\
         \n[[sources.processes]]\nname = \"hog\"\ncmdline = '{marker}-hog'\n{interval}\n\
         \n[[sources.files]]\nname = \"app2\"\npaths = [\"{}\"]\n{interval}\n\
         \n[[sources.processes]]\nname = \"busy2\"\ncmdline = '{marker}-busy2'\n{interval}\n\
         \n[[sources.processes]]\nname = \"hog2\"\ncmdline = '{marker}-hog2'\n{interval}\n",
        dir.join("app.log").display(),
        dir.join("app2.log").display()
    ));
    write_config(dir, &text)
}

/// The faults, running: the CPU and memory children, the error burst's and the filler's threads.
struct Faults {
    children: Vec<Child>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Faults {
    /// Round 1 (fresh) into `busy`, `hog` and `app.log`; round 2 (after the restart) into
    /// `busy2`, `hog2` and `app2.log`, with an error template of its own.
    fn inject(dir: &Path, marker: &str, round: u32) -> Faults {
        let suffix = if round == 1 { "" } else { "2" };
        let busy = Command::new("sh")
            .args([
                "-c",
                "while :; do :; done",
                &format!("{marker}-busy{suffix}"),
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn the busy shell");
        // 16 MiB a second, touched so it is resident, for at most 5 minutes.
        let hog = Command::new("python3")
            .args([
                "-c",
                "import sys, time\nheld = []\nfor _ in range(300):\n    held.append(bytearray(16 << 20))\n    time.sleep(1)\ntime.sleep(3600)",
                &format!("{marker}-hog{suffix}"),
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn python3 for the memory hog");
        let log = dir.join(format!("app{suffix}.log"));
        let burst = std::thread::spawn(move || {
            for s in 0..30 {
                let lines: String = (0..20)
                    .map(|j| {
                        if round == 1 {
                            format!("ERROR volume /data{s} full, write of block {j} failed\n")
                        } else {
                            format!("ERROR replica {s} lost quorum, election {j} timed out\n")
                        }
                    })
                    .collect();
                append(&log, &lines);
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        let mut threads = vec![burst];
        let fs = dir.join(format!("fs{suffix}"));
        if is_mounted(&fs) {
            threads.push(std::thread::spawn(move || fill(&fs)));
        }
        Faults {
            children: vec![busy, hog],
            threads,
        }
    }

    fn stop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Faults {
    fn drop(&mut self) {
        self.stop();
    }
}

/// 4 MiB a second into `fs` for 60 s (240 of its 256 MiB), then the file is removed again.
fn fill(fs: &Path) {
    use std::io::Write;
    let path = fs.join("fill");
    if let Ok(mut f) = std::fs::File::create(&path) {
        let block = vec![0x5a_u8; 4 << 20];
        for _ in 0..60 {
            if f.write_all(&block).and_then(|()| f.sync_data()).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let _ = std::fs::remove_file(path);
}

/// Whether `path` is a mount point (per /proc/self/mounts).
fn is_mounted(path: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mounts").is_ok_and(|m| {
        m.lines()
            .any(|l| l.split(' ').nth(1).is_some_and(|p| Path::new(p) == path))
    })
}

/// The image file behind the file system mounted at `path`.
fn image_of(path: &Path) -> std::path::PathBuf {
    path.with_extension("img")
}

/// Mounts a fresh 256 MiB ext4 image at `path` on a loop device (needs root and mkfs.ext4);
/// false, with the reason printed, when it cannot.
fn mount_image(path: &Path) -> bool {
    std::fs::create_dir_all(path).expect("mount point");
    let image = image_of(path);
    std::fs::File::create(&image)
        .and_then(|f| f.set_len(256 << 20))
        .expect("image file");
    let run = |program: &str, args: &[&std::ffi::OsStr]| {
        Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("{program}: {e}"))
            .and_then(|o| {
                if o.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "{program}: {}",
                        String::from_utf8_lossy(&o.stderr).trim()
                    ))
                }
            })
    };
    let made = run(
        "mkfs.ext4",
        &["-q".as_ref(), "-F".as_ref(), image.as_os_str()],
    )
    .and_then(|()| {
        run(
            "mount",
            &[
                "-o".as_ref(),
                "loop".as_ref(),
                image.as_os_str(),
                path.as_os_str(),
            ],
        )
    });
    if let Err(e) = &made {
        println!("filesystem fault skipped at {}: {e}", path.display());
    }
    made.is_ok()
}

fn unmount(path: &Path) {
    if is_mounted(path) {
        let _ = Command::new("umount").arg(path).status();
    }
    let _ = std::fs::remove_file(image_of(path));
}

/// Per fault, the seconds from `injected` to its first firing alert (None: not within `wait`).
/// Alerts about points before the injection (printed, not yet read) are not detections.
fn detect(
    agent: &mut Agent,
    injected: Instant,
    wait: Duration,
    run: &str,
    suffix: &str,
) -> Vec<(&'static str, Option<f64>)> {
    let since = std::time::SystemTime::now() - injected.elapsed();
    let mut found: Vec<(&'static str, Option<f64>)> = FAULTS.iter().map(|f| (*f, None)).collect();
    let mut seen = agent.seen_stdout.len();
    while injected.elapsed() < wait && found.iter().any(|f| f.1.is_none()) {
        agent.wait_stdout(Duration::from_millis(500), |_| false);
        for line in &agent.seen_stdout[seen..] {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if v["kind"] != "alert" || v["state"] != "firing" {
                continue;
            }
            let at = v["time"]
                .as_str()
                .and_then(|t| humantime::parse_rfc3339(t).ok());
            if at.is_some_and(|t| t < since) {
                continue;
            }
            let signal = v["signal"].as_str().unwrap_or_default();
            for slot in found.iter_mut() {
                if slot.1.is_none() && detects(slot.0, run, suffix, signal) {
                    slot.1 = Some(injected.elapsed().as_secs_f64());
                }
            }
        }
        seen = agent.seen_stdout.len();
    }
    found
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn print_round(label: &str, found: &[(&str, Option<f64>)]) {
    let cells: Vec<String> = found
        .iter()
        .map(|(f, s)| match s {
            Some(s) => format!("{f} {s:.0} s"),
            None => format!("{f} not detected"),
        })
        .collect();
    println!("{label}: {} (load {})", cells.join(", "), load());
}

/// One fresh agent: faults at `at` after start, then a restart and the faults again
/// `restart_at` after it.
fn fresh_and_restart(
    root: &Path,
    at: Duration,
    restart_at: Option<Duration>,
    wait: Duration,
    interval_s: u64,
) -> String {
    let run = format!("at-{}s", at.as_secs());
    let dir = root.join(&run);
    std::fs::create_dir_all(&dir).expect("run directory");
    let (log, log2) = (dir.join("app.log"), dir.join("app2.log"));
    std::fs::write(&log, "").expect("log file");
    std::fs::write(&log2, "").expect("log file");
    let marker = format!("seismo-ttfd-{}-{}", std::process::id(), at.as_secs());
    let config = config(&dir, interval_s, &marker);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = seismo_e2e::steady_traffic_until(&log, Arc::clone(&stop));
    let writer2 = seismo_e2e::steady_traffic_until(&log2, Arc::clone(&stop));
    // The groups of the restart's faults learn an idle process from the start.
    let idle = |name: &str| {
        Command::new("sh")
            .args(["-c", "sleep 100000", &format!("{marker}-{name}")])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn an idle process")
    };
    let mut idles = [idle("busy2"), idle("hog2")];
    // Mounted before the agent starts, so both file systems are learned empty.
    let (fs, fs2) = (dir.join("fs"), dir.join("fs2"));
    let _ = mount_image(&fs) && mount_image(&fs2);
    let mut out = String::new();
    let mut agent = Agent::run(&config);
    std::thread::sleep(at);
    let injected = Instant::now();
    let mut faults = Faults::inject(&dir, &marker, 1);
    let found = detect(&mut agent, injected, wait, &run, "");
    faults.stop();
    let label = format!("fresh, faults {} min after start", at.as_secs() / 60);
    print_round(&label, &found);
    out.push_str(&format!("{label}: {found:?}\n"));
    if let Some(after) = restart_at {
        // Back to normal before the restart, so the restarted agent sees a quiet signal.
        std::thread::sleep(Duration::from_secs(interval_s * 6));
        agent.stop(Duration::from_secs(30));
        let mut agent = Agent::run(&config);
        std::thread::sleep(after);
        let injected = Instant::now();
        let mut faults = Faults::inject(&dir, &marker, 2);
        let found = detect(&mut agent, injected, wait, &run, "2");
        faults.stop();
        let label = format!(
            "restarted, faults {} s after the restart (run of {} min)",
            after.as_secs(),
            at.as_secs() / 60
        );
        print_round(&label, &found);
        out.push_str(&format!("{label}: {found:?}\n"));
        agent.stop(Duration::from_secs(30));
    } else {
        agent.stop(Duration::from_secs(30));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = writer.join();
    let _ = writer2.join();
    for c in &mut idles {
        let _ = c.kill();
        let _ = c.wait();
    }
    unmount(&fs);
    unmount(&fs2);
    out
}

fn main() {
    // `off` (or an empty value) skips the fault runs, for a quiet run alone.
    let ats: Vec<Duration> = env("SEISMO_TTFD_AT")
        .unwrap_or_else(|| "3,5,10".into())
        .replace("off", "")
        .split(',')
        .filter_map(|m| m.trim().parse::<f64>().ok())
        .map(|m| Duration::from_secs_f64(m * 60.0))
        .collect();
    let restart_at = match env("SEISMO_TTFD_RESTART_AT").as_deref() {
        Some("off") => None,
        _ => Some(Duration::from_secs_f64(
            minutes("SEISMO_TTFD_RESTART_AT", 1.0) * 60.0,
        )),
    };
    let quiet = Duration::from_secs_f64(minutes("SEISMO_TTFD_QUIET_MINUTES", 30.0) * 60.0);
    let wait = Duration::from_secs_f64(minutes("SEISMO_TTFD_WAIT", 6.0) * 60.0);
    let interval_s = env("SEISMO_TTFD_INTERVAL")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10u64);
    let tmp = tempfile::tempdir().expect("temporary directory");
    let root = tmp.path().to_owned();
    println!(
        "time to first detection: interval {interval_s} s, faults at {:?} min after start, restart faults {:?} after it, quiet run {} min, load {}",
        ats.iter().map(|d| d.as_secs_f64() / 60.0).collect::<Vec<_>>(),
        restart_at,
        quiet.as_secs() / 60,
        load()
    );
    let runs: Vec<_> = ats
        .iter()
        .map(|&at| {
            let root = root.clone();
            std::thread::spawn(move || fresh_and_restart(&root, at, restart_at, wait, interval_s))
        })
        .collect();
    for r in runs {
        let _ = r.join();
    }

    if quiet > Duration::ZERO {
        let dir = root.join("quiet");
        std::fs::create_dir_all(&dir).expect("quiet directory");
        let log = dir.join("app.log");
        std::fs::write(&log, "").expect("log file");
        std::fs::write(dir.join("app2.log"), "").expect("log file");
        let config = config(
            &dir,
            interval_s,
            &format!("seismo-ttfd-quiet-{}", std::process::id()),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let writer = seismo_e2e::steady_traffic_until(&log, Arc::clone(&stop));
        let mut agent = Agent::run(&config);
        let start = Instant::now();
        while start.elapsed() < quiet {
            agent.wait_stdout(Duration::from_millis(500), |_| false);
        }
        agent.stop(Duration::from_secs(30));
        stop.store(true, Ordering::Relaxed);
        let _ = writer.join();
        let alerts: Vec<serde_json::Value> = agent
            .stdout_json()
            .into_iter()
            .filter(|e| e["kind"] == "alert" && e["state"] == "firing")
            .collect();
        let on_log = alerts
            .iter()
            .filter(|a| a["signal"].as_str().unwrap_or_default().starts_with("log."))
            .count();
        println!(
            "quiet run, {} min: {} false alerts ({on_log} on the log source, {} on host signals and process groups), load {}",
            quiet.as_secs() / 60,
            alerts.len(),
            alerts.len() - on_log,
            load()
        );
        for a in &alerts {
            println!(
                "  {} {}",
                a["time"].as_str().unwrap_or_default(),
                a["summary"].as_str().unwrap_or_default()
            );
        }
    }
}
