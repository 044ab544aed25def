//! Cost of the process and scrape sources: `seismo run` at a 1 s interval with host metrics
//! only, then with 4 process groups (matched over the whole /proc) and a scrape target serving
//! 1,000 series (500 labelled counters, 50 histograms of 10 buckets, 450 gauges) from a local
//! HTTP server; each run's CPU (% of one core, user+system) and peak RSS from /proc.
//! Run: `cargo bench -p seismo --bench sources` (`SEISMO_SOURCES_SECS` sets each span,
//! default 60).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

/// A 1,000-series exposition; the n-th scrape's counters and histograms have grown.
fn exposition(n: u64) -> String {
    let mut out = String::with_capacity(96 * 1024);
    out.push_str("# TYPE http_requests_total counter\n");
    for i in 0..500 {
        out.push_str(&format!(
            "http_requests_total{{route=\"/api/v1/item/{i}\",code=\"200\",method=\"get\"}} {}\n",
            n * (i + 1)
        ));
    }
    out.push_str("# TYPE latency_seconds histogram\n");
    for h in 0..50 {
        let mut cum = 0;
        for (b, le) in [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
        ]
        .iter()
        .enumerate()
        {
            cum += n * (b as u64 + 1);
            out.push_str(&format!(
                "latency_seconds_bucket{{handler=\"h{h}\",le=\"{le}\"}} {cum}\n"
            ));
        }
        out.push_str(&format!(
            "latency_seconds_sum{{handler=\"h{h}\"}} {}\n",
            n * 3
        ));
        out.push_str(&format!(
            "latency_seconds_count{{handler=\"h{h}\"}} {cum}\n"
        ));
    }
    out.push_str("# TYPE queue_depth gauge\n");
    for i in 0..450 {
        out.push_str(&format!("queue_depth{{queue=\"q{i}\"}} {}\n", (n + i) % 17));
    }
    out
}

fn serve() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/metrics", listener.local_addr().expect("addr"));
    let served = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let body = exposition(count.fetch_add(1, Ordering::Relaxed));
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, served)
}

/// (CPU ticks of user+system, peak RSS in kB) of `pid`.
fn usage(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = fields
        .get(11)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (ticks, hwm)
}

/// Runs the agent on `extra` for `secs` and returns (% of one core, peak RSS in MB).
fn measure(name: &str, extra: &str, secs: u64) -> (f64, f64) {
    let dir = common::scratch_dir(&format!("sources-{name}"));
    let mut config = common::default_config_every_second(&dir.join("state"));
    config.push_str(extra);
    let mut child = common::spawn_agent(&dir, &config, Stdio::null(), Stdio::null());
    let pid = child.id();
    // Skip start-up, so the figure is the steady state.
    std::thread::sleep(Duration::from_secs(3));
    let (t0_ticks, _) = usage(pid);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let (t1_ticks, hwm) = usage(pid);
    let elapsed = t0.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (
        (t1_ticks - t0_ticks) as f64 / hz / elapsed * 100.0,
        hwm as f64 / 1024.0,
    )
}

fn main() {
    let secs: u64 = common::env_number("SEISMO_SOURCES_SECS", 60);
    let processes = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.parse::<u32>().is_ok())
                })
                .count()
        })
        .unwrap_or(0);
    let (url, served) = serve();
    let groups = "\n[[sources.processes]]\nname = \"shells\"\nprocess_name = \"*sh\"\ninterval = \"1s\"\n\
         [[sources.processes]]\nname = \"cargo\"\ncmdline = 'cargo (build|test|bench)'\ninterval = \"1s\"\n\
         [[sources.processes]]\nname = \"root_cgroup\"\ncgroup = \"/*\"\nprocess_name = \"seismo\"\ninterval = \"1s\"\n\
         [[sources.processes]]\nname = \"all\"\nprocess_name = \"*\"\ninterval = \"1s\"\n";
    let scrape =
        format!("\n[[sources.scrape]]\nname = \"app\"\nurl = \"{url}\"\ninterval = \"1s\"\n");
    println!(
        "seismo run at a 1 s interval, {secs} s per run, {processes} processes on the machine, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for (name, extra) in [
        ("host metrics only", String::new()),
        ("+ 4 process groups", groups.to_owned()),
        ("+ 1 scrape target, 1,000 series", scrape.clone()),
        ("+ both", format!("{groups}{scrape}")),
    ] {
        let before = served.load(Ordering::Relaxed);
        let (cpu, rss) = measure(&name.replace([' ', ',', '+'], ""), &extra, secs);
        let scrapes = served.load(Ordering::Relaxed) - before;
        println!("{name:<34} CPU {cpu:6.3} % of one core   peak RSS {rss:5.1} MB   scrapes served {scrapes}");
    }
}
