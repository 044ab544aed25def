//! The agent's memory and CPU by the number of signals: a release `seismo run` on the embedded
//! default configuration (host metrics on, every 10 s) plus one Prometheus target that this
//! bench serves on loopback: N gauge series with realistic names and labels, every value
//! changing on every scrape. Per N it prints the resident set after the warm-up (every signal
//! created, about 30 points each), after the default ensemble's k-means hand-over (its first
//! fit is at point 256; every signal "full", i.e. past point 300), the peak, the CPU in steady
//! state as % of one core, and the bytes per signal against a run with no series.
//!
//! The k-means fit needs 256 points, 43 minutes at 10 s. So the target is scraped every second
//! until every signal has its fit (about 5 minutes), then the configuration is reloaded
//! (SIGHUP, learned state kept) to scrape every 10 s, and the steady state is measured there;
//! sizes in `SEISMO_RSS_FAST` are also measured at 1 s before that reload.
//!
//! Run: `cargo bench -p seismo --bench rss_curve`. Knobs (environment):
//! - `SEISMO_RSS_SIZES`: series per run, default `0,1000,5000,10000,50000` (0 is the
//!   baseline the bytes per signal are counted from; it is added when missing)
//! - `SEISMO_RSS_FAST`: sizes also measured at a 1 s interval, default `10000`
//! - `SEISMO_RSS_SECS`: seconds of each steady-state measurement, default 120
//! - `SEISMO_RSS_PARALLEL`: `1` runs the sizes at once (each agent's CPU is its own
//!   user+system time, so the figures hold; the machine is busier), default one after another
//! - `SEISMO_RSS_WARM`: the scrape interval until every signal is full, default `1s` (a
//!   pipeline that cannot keep up with the largest size at 1 s only drops samples: a slower
//!   warm-up interval spends less on parsing what would be dropped)
//! - `SEISMO_RSS_KIND`: the default detector kind (`ensemble`; `ewma` keeps ~100 B per
//!   signal, so its curve is the agent's own cost per signal: names, maps, status, alert state)
//!
//! Figures come from /proc/PID/status (VmRSS, RssAnon, VmHWM) and /proc/PID/stat, and from the
//! agent's /metrics at the end: the heap glibc counts as handed out (`seismo_heap_in_use_bytes`)
//! and as free inside its arenas (`seismo_heap_free_bytes`: holes between live buffers, what
//! fragmentation costs); the agent runs with `GLIBC_TUNABLES=glibc.malloc.tcache_count=0`, as the systemd unit and the image
//! start it. Prints figures; no assertions beyond the run itself working.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo_e2e::http_client::request;
use seismo_e2e::{default_config_with, write_config, Agent};

mod common;
use common::{
    cpu_ticks, env_number, gauge_body as body, gauge_series as series, scratch_dir, status_kib,
    ticks_per_second,
};

/// Serves the `n` series on a free loopback port, one request per connection; returns the URL
/// and the count of scrapes served.
fn serve(n: usize) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/metrics", listener.local_addr().expect("addr"));
    let served = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&served);
    std::thread::spawn(move || {
        let series = series(n);
        let mut text = String::with_capacity(n * 110 + 64);
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|r| r > 0) && line != "\r\n" {
                line.clear();
            }
            body(&series, count.fetch_add(1, Ordering::Relaxed), &mut text);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (url, served)
}

/// The agent's configuration: the embedded default, its state in `dir`, room for `n` signals
/// and one target scraped every `interval`.
fn config(dir: &Path, n: usize, url: &str, interval: &str, kind: &str) -> String {
    let max_signals = format!("max_signals = {}", n + 2000);
    let kind = format!("kind = \"{kind}\"");
    let mut text = default_config_with(
        &dir.join("state"),
        &[
            ("max_signals = 10000", max_signals.as_str()),
            ("kind = \"ensemble\"", kind.as_str()),
        ],
    );
    let _ = write!(
        text,
        "\n[[sources.scrape]]\nname = \"app\"\nurl = \"{url}\"\ninterval = \"{interval}\"\n\
         max_series = {}\nmax_body_bytes = {}\n",
        n.max(1),
        (n * 200).max(1 << 20)
    );
    text
}

fn get(addr: SocketAddr, path: &str) -> Option<String> {
    request(addr, "GET", path, None)
        .ok()
        .filter(|r| r.status == 200)
        .map(|r| r.body)
}

/// The value of the first sample of `name` (with its labels, if given) on /metrics.
fn metric(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// (signals of the target, of which full) from the signals API.
fn stages(addr: SocketAddr) -> Option<(u64, u64)> {
    let body = get(addr, "/api/v1/signals?prefix=scrape.app.&limit=1")?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some((v["total"].as_u64()?, v["stages"]["full"].as_u64()?))
}

/// Waits up to `limit` for `done`, checking every second; false on time-out.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    false
}

/// One steady-state span: CPU as % of one core, the largest RSS seen (KiB), and the RSS and
/// anonymous RSS at its end (KiB).
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    cpu_pct: f64,
    rss_max: u64,
    rss: u64,
    anon: u64,
}

fn steady(pid: u32, secs: u64) -> Span {
    let t0 = Instant::now();
    let c0 = cpu_ticks(pid);
    let mut rss_max = 0;
    while t0.elapsed() < Duration::from_secs(secs) {
        rss_max = rss_max.max(status_kib(pid, "VmRSS:"));
        std::thread::sleep(Duration::from_secs(1));
    }
    let cpu = (cpu_ticks(pid) - c0) as f64 / ticks_per_second() / t0.elapsed().as_secs_f64();
    Span {
        cpu_pct: cpu * 100.0,
        rss_max,
        rss: status_kib(pid, "VmRSS:"),
        anon: status_kib(pid, "RssAnon:"),
    }
}

/// What one size measured.
#[derive(Debug, Default)]
struct Point {
    series: usize,
    /// `seismo_detectors` at the end: every signal with a detector (host ones included).
    signals: u64,
    /// RSS (KiB) once every signal exists and has about 30 points.
    rss_warm: u64,
    /// RSS and anonymous RSS (KiB) once every signal is past its k-means fit.
    rss_fitted: u64,
    anon_fitted: u64,
    /// Seconds from the start until every signal was full.
    fitted_after: f64,
    fast: Option<Span>,
    slow: Span,
    /// VmHWM at the end (KiB).
    peak: u64,
    /// Samples dropped because the pipeline fell behind.
    dropped: f64,
    /// Size of the last snapshot of the learned state (bytes).
    snapshot: f64,
    /// Heap handed out and heap free inside the arenas at the end (bytes).
    heap_used: f64,
    heap_free: f64,
    problem: Option<String>,
}

fn run(n: usize, fast: bool, secs: u64, kind: &str, warm: &str) -> Point {
    let dir = scratch_dir(&format!("rss-{n}"));
    let (url, served) = serve(n);
    let path = write_config(&dir, &config(&dir, n, &url, warm, kind));
    let started = Instant::now();
    let (mut agent, addr) = Agent::start_serving_with_env(
        &path,
        &[("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0")],
        Duration::from_secs(60),
    );
    let pid = agent.pid() as u32;
    let mut point = Point {
        series: n,
        ..Point::default()
    };
    let warm_limit = Duration::from_secs(120 + n as u64 / 500);
    // Warm-up: every series is a signal, about 30 scrapes in.
    let all = wait_until(warm_limit, || {
        stages(addr).is_some_and(|(total, _)| total > n as u64)
    });
    if !all {
        point.problem = Some(format!("not all {n} series became signals"));
    }
    let at = served.load(Ordering::Relaxed);
    wait_until(warm_limit, || served.load(Ordering::Relaxed) >= at.max(30));
    point.rss_warm = status_kib(pid, "VmRSS:");
    // The k-means hand-over: every signal full (past point 300, the fit was at 256).
    let fitted = wait_until(Duration::from_secs(900 + n as u64 / 50), || {
        stages(addr).is_some_and(|(total, full)| total > 0 && full >= total)
    });
    point.fitted_after = started.elapsed().as_secs_f64();
    if !fitted && point.problem.is_none() {
        point.problem = Some("not every signal reached the full stage".into());
    }
    // Let the fits' garbage go (the daemon trims the heap every minute).
    std::thread::sleep(Duration::from_secs(5));
    point.rss_fitted = status_kib(pid, "VmRSS:");
    point.anon_fitted = status_kib(pid, "RssAnon:");
    if fast {
        point.fast = Some(steady(pid, secs));
    }
    // Reload to the 10 s interval: the target's task restarts, the learned state stays.
    std::fs::write(&path, config(&dir, n, &url, "10s", kind)).expect("rewrite config");
    agent.signal(libc::SIGHUP);
    if agent
        .wait_stderr(Duration::from_secs(30), |l| {
            l.contains("configuration reloaded")
        })
        .is_none()
        && point.problem.is_none()
    {
        point.problem = Some("the reload to 10 s was not confirmed".into());
    }
    std::thread::sleep(Duration::from_secs(10));
    point.slow = steady(pid, secs);
    point.peak = status_kib(pid, "VmHWM:");
    let metrics = get(addr, "/metrics").unwrap_or_default();
    point.signals = metric(&metrics, "seismo_detectors").unwrap_or(0.0) as u64;
    point.dropped =
        metric(&metrics, "seismo_dropped_total{reason=\"host_queue_full\"}").unwrap_or(0.0);
    point.snapshot = metric(&metrics, "seismo_snapshot_bytes").unwrap_or(0.0);
    point.heap_used = metric(&metrics, "seismo_heap_in_use_bytes").unwrap_or(0.0);
    point.heap_free = metric(&metrics, "seismo_heap_free_bytes").unwrap_or(0.0);
    // A stop past the agent's 4.5 s budget (a large snapshot on a busy machine) exits with 1:
    // noted, not fatal, so the other sizes' figures are still printed.
    agent.signal(libc::SIGTERM);
    let (status, took) = agent.wait_exit(Duration::from_secs(120));
    if !status.success() && point.problem.is_none() {
        point.problem = Some(format!("the stop took {took:.1?} and exited with {status}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    // Each size as soon as it is measured, in case a later one fails.
    println!("done: {point:?}");
    point
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let list = |var: &str, default: &str| -> Vec<usize> {
        std::env::var(var)
            .unwrap_or_else(|_| default.to_owned())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    };
    let mut sizes = list("SEISMO_RSS_SIZES", "0,1000,5000,10000,50000");
    if !sizes.contains(&0) {
        sizes.insert(0, 0);
    }
    let fast = list("SEISMO_RSS_FAST", "10000");
    let secs: u64 = env_number("SEISMO_RSS_SECS", 120);
    let parallel = std::env::var("SEISMO_RSS_PARALLEL").is_ok_and(|v| v == "1");
    let kind = std::env::var("SEISMO_RSS_KIND").unwrap_or_else(|_| "ensemble".into());
    let warm = std::env::var("SEISMO_RSS_WARM").unwrap_or_else(|_| "1s".into());
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "seismo run, default config ({kind}) + one target of N changing gauges; {warm} scrapes until \
         every signal is past its k-means fit, then reloaded to 10 s; {secs} s per steady span; \
         {} cores; load at start: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load().trim()
    );
    let started = Instant::now();
    let points: Vec<Point> = if parallel {
        let handles: Vec<_> = sizes
            .iter()
            .map(|&n| {
                let (f, kind, warm) = (fast.contains(&n), kind.clone(), warm.clone());
                std::thread::spawn(move || run(n, f, secs, &kind, &warm))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a run panicked"))
            .collect()
    } else {
        sizes
            .iter()
            .map(|&n| run(n, fast.contains(&n), secs, &kind, &warm))
            .collect()
    };
    let base = &points[0];
    println!(
        "\n{:>7} {:>8} {:>10} {:>11} {:>10} {:>9} {:>9} {:>10} {:>10} {:>11} {:>9} {:>8}",
        "series",
        "signals",
        "warm MB",
        "fitted MB",
        "anon MB",
        "peak MB",
        "full at",
        "CPU 10 s",
        "CPU 1 s",
        "B/signal",
        "snap B/s",
        "dropped"
    );
    for p in &points {
        let per_signal = if p.series == 0 {
            "-".to_owned()
        } else {
            format!(
                "{:.0}",
                (p.slow.rss as f64 - base.slow.rss as f64) * 1024.0 / p.series as f64
            )
        };
        println!(
            "{:>7} {:>8} {:>10.1} {:>11.1} {:>10.1} {:>9.1} {:>8.0}s {:>9.3}% {:>10} {:>11} {:>9.0} {:>8}",
            p.series,
            p.signals,
            mb(p.rss_warm),
            mb(p.rss_fitted),
            mb(p.anon_fitted),
            mb(p.peak),
            p.fitted_after,
            p.slow.cpu_pct,
            p.fast
                .map_or("-".to_owned(), |f| format!("{:.3}%", f.cpu_pct)),
            per_signal,
            p.snapshot / p.signals.max(1) as f64,
            p.dropped
        );
    }
    println!(
        "\nheap at the end (handed out / free inside the arenas, MB; per signal over N = 0, B):"
    );
    for p in &points {
        let per = |v: f64, base: f64| {
            if p.series == 0 {
                "-".to_owned()
            } else {
                format!("{:.0}", (v - base) / p.series as f64)
            }
        };
        println!(
            "  {:>6} series: {:.1} / {:.1}; {} / {}",
            p.series,
            p.heap_used / 1048576.0,
            p.heap_free / 1048576.0,
            per(p.heap_used, base.heap_used),
            per(p.heap_free, base.heap_free)
        );
    }
    println!("\nsteady spans (RSS at the end / largest seen, MB):");
    for p in &points {
        let fast = p.fast.map_or(String::new(), |f| {
            format!(
                "; at 1 s {:.1} / {:.1}, anon {:.1}",
                mb(f.rss),
                mb(f.rss_max),
                mb(f.anon)
            )
        });
        println!(
            "  {:>6} series: at 10 s {:.1} / {:.1}, anon {:.1}{fast}{}",
            p.series,
            mb(p.slow.rss),
            mb(p.slow.rss_max),
            mb(p.slow.anon),
            p.problem
                .as_ref()
                .map_or(String::new(), |e| format!("  PROBLEM: {e}"))
        );
    }
    println!(
        "\n{:.0} s in all; load at end: {}",
        started.elapsed().as_secs_f64(),
        load().trim()
    );
}
