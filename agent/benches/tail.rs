//! Tail throughput through the whole pipeline: `seismo run` tails a file that a writer appends
//! to as fast as it can; lines carry 10,000 distinct templates. Progress is read from the
//! agent's own checkpoint file (the offset it has fully processed), CPU time and peak RSS from
//! /proc. On a shared machine the wall-clock figure follows the load; lines per CPU-second
//! does much less.
//! Run: `cargo bench -p seismo --bench tail` (`SEISMO_TAIL_LINES` sets the line count, default
//! 3,000,000; `SEISMO_TAIL_SINK=1` also writes every line to the lines sink).

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{count_stdout, cpu_ticks, env_number, scratch_dir, spawn_agent, ticks_per_second};

const TEMPLATES: usize = 10_000;

/// A word of letters that no masking rule takes for a number or a hex id.
fn word(i: usize) -> String {
    const L: &[u8] = b"ghijklmnopqrstuvwxyz";
    let a = L[i % L.len()] as char;
    let b = L[(i / L.len()) % L.len()] as char;
    format!("x{a}{b}")
}

/// Line `n`: template `n % TEMPLATES` (its first two words), variables masked by the miner.
fn line(n: usize, out: &mut Vec<u8>) {
    let t = n % TEMPLATES;
    let _ = writeln!(
        out,
        "{} {} request {} from 10.0.{}.{} finished in {} ms status {}",
        word(t / 100),
        word(100 + t % 100),
        n,
        n % 250,
        n % 200,
        n % 997,
        if n.is_multiple_of(1000) {
            "error"
        } else {
            "ok"
        }
    );
}

fn main() {
    let lines: usize = env_number("SEISMO_TAIL_LINES", 3_000_000);
    let with_sink = std::env::var("SEISMO_TAIL_SINK").is_ok_and(|v| v == "1");
    let dir = scratch_dir("tail");
    let log = dir.join("app.log");
    std::fs::write(&log, b"").expect("log file");
    let state = dir.join("state");
    let sink = if with_sink {
        format!(
            "[sinks.lines]\npath = \"{}\"\n",
            dir.join("lines.jsonl").display()
        )
    } else {
        String::new()
    };
    let config = format!(
        "[agent]\nstate_dir = \"{}\"\n[sources.host]\nenabled = false\n[http]\nlisten = \"127.0.0.1:0\"\n{sink}\
         [[sources.files]]\nname = \"bench\"\npaths = [\"{}\"]\nstart_at = \"beginning\"\ninterval = \"1s\"\n",
        state.display(),
        log.display()
    );
    let mut child = spawn_agent(&dir, &config, Stdio::piped(), Stdio::piped());
    let alerts = count_stdout(&mut child);
    let pid = child.id();
    let stderr = child.stderr.take().expect("stderr");
    let logs = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    // Let it start (and take its first, empty checkpoint).
    std::thread::sleep(Duration::from_secs(2));

    let t0 = Instant::now();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open log");
    let mut buf = Vec::with_capacity(1 << 20);
    let mut size = 0u64;
    for n in 0..lines {
        line(n, &mut buf);
        if buf.len() >= 1 << 20 {
            file.write_all(&buf).expect("append");
            size += buf.len() as u64;
            buf.clear();
        }
    }
    file.write_all(&buf).expect("append");
    size += buf.len() as u64;
    let written = t0.elapsed();

    // Done when the checkpoint says every byte is processed.
    let checkpoint = state.join("logs/checkpoints.json");
    let deadline = Instant::now() + Duration::from_secs(600);
    let done = loop {
        let offset = std::fs::read(&checkpoint)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["sources"]["bench"][0]["pos"]["offset"].as_u64())
            .unwrap_or(0);
        if offset >= size {
            break t0.elapsed();
        }
        assert!(Instant::now() < deadline, "not done after 10 minutes");
        std::thread::sleep(Duration::from_millis(20));
    };
    let cpu_secs = cpu_ticks(pid) as f64 / ticks_per_second();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let hwm_kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.wait();
    let alerts = alerts.join().unwrap_or(0);
    let logs = logs.join().unwrap_or_default();
    let summary = logs
        .iter()
        .find(|l| l.contains("seismo stopped"))
        .cloned()
        .unwrap_or_default();
    let templates = summary
        .split("log_templates_new=")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap_or("?")
        .to_owned();
    let _ = std::fs::remove_dir_all(&dir);

    let secs = done.as_secs_f64();
    println!(
        "seismo tail, whole pipeline (`run`), {lines} lines ({:.0} MB) appended as fast as possible{}:",
        size as f64 / 1e6,
        if with_sink { ", lines sink on" } else { "" }
    );
    println!("  writer finished after {:.2} s", written.as_secs_f64());
    println!("  all lines processed and checkpointed after {secs:.2} s");
    println!("  throughput {:.0} lines/s", lines as f64 / secs);
    println!(
        "  cpu        {cpu_secs:.2} s of the agent (user+system, start-up included): {:.0} lines per cpu-second",
        lines as f64 / cpu_secs
    );
    println!("  peak rss   {:.1} MB", hwm_kib / 1024.0);
    println!("  templates  {templates} mined; alert events on stdout: {alerts}");
}
