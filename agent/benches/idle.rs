//! Idle overhead of `seismo run` on the default config at a 1 s interval: CPU as % of one core
//! and peak RSS, measured from /proc. Run: `cargo bench -p seismo --bench idle`
//! (`SEISMO_IDLE_SECS` sets the measured span, default 120).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let secs: u64 = std::env::var("SEISMO_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let dir = std::env::temp_dir().join(format!("seismo-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = seismo_config::DEFAULT_TOML
        .replacen("interval = \"10s\"", "interval = \"1s\"", 1)
        .replacen("listen = \"127.0.0.1:9464\"", "listen = \"127.0.0.1:0\"", 1)
        .replacen(
            "# state_dir = \"/var/lib/seismo\"",
            &format!("state_dir = \"{}\"", dir.join("state").display()),
            1,
        );
    let config_path = dir.join("seismo.toml");
    std::fs::write(&config_path, config).expect("write config");

    let mut child = Command::new(env!("CARGO_BIN_EXE_seismo"))
        .args(["run", "--config"])
        .arg(&config_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn seismo");
    let pid = child.id();
    let stdout = child.stdout.take().expect("stdout");
    let alerts = std::thread::spawn(move || BufReader::new(stdout).lines().count());

    // Skip start-up (sysinfo's first scan) so the figure is the steady state.
    std::thread::sleep(Duration::from_secs(3));
    let t0 = Instant::now();
    let cpu0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(secs));
    let cpu1 = cpu_ticks(pid);
    let elapsed = t0.elapsed().as_secs_f64();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // SAFETY: sysconf has no preconditions.
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu_pct = (cpu1 - cpu0) as f64 / ticks_per_s / elapsed * 100.0;

    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.wait();
    let alerts = alerts.join().unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);

    println!("seismo idle, default config at a 1 s interval, {elapsed:.0} s measured:");
    println!("  cpu        {cpu_pct:.3} % of one core (user+system)");
    println!("  peak rss   {:.1} MB", kib("VmHWM:") / 1024.0);
    println!("  rss at end {:.1} MB", kib("VmRSS:") / 1024.0);
    println!("  alert events on stdout: {alerts}");
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0)
}
