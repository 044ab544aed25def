//! Idle overhead of `seismo run` on the default config at a 1 s interval: CPU as % of one core
//! and peak RSS, measured from /proc. Run: `cargo bench -p seismo --bench idle`
//! (`SEISMO_IDLE_SECS` sets the measured span, default 120).

use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{count_stdout, cpu_ticks, env_number, scratch_dir, spawn_agent, ticks_per_second};

fn main() {
    let secs: u64 = env_number("SEISMO_IDLE_SECS", 120);
    let dir = scratch_dir("idle");
    let config = common::default_config_every_second(&dir.join("state"));
    let mut child = spawn_agent(&dir, &config, Stdio::piped(), Stdio::null());
    let alerts = count_stdout(&mut child);
    let pid = child.id();

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
    let cpu_pct = (cpu1 - cpu0) as f64 / ticks_per_second() / elapsed * 100.0;

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
