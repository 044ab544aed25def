//! The soak benchmark: the release `seismo` binary left running under a steady load while its
//! surroundings misbehave on a schedule, measured every 10 s and checked at the end.
//!
//! ```text
//! cargo build --release -p seismo
//! SEISMO_SOAK_SECS=600 cargo bench -p seismo-e2e --bench soak
//! ```
//!
//! - 5,000 numbered lines/s over 20 files (paced per 100 ms), each file rotated every 30 s,
//!   staggered, alternately by rename + create and by copytruncate (two generations kept);
//! - a real Mosquitto on a free 127.0.0.1 port, SIGKILLed every 2 minutes and restarted 20 s
//!   later (the agent's MQTT sink keeps alerts in its outbox meanwhile);
//! - a SIGHUP every 5 minutes after the configuration file was rewritten (alternating the file
//!   source's `max_line_bytes`, which restarts its tailer, and the MQTT `keep_alive`, which
//!   reconnects the sink);
//! - host metrics every second; anomalies every 15 s after a 45 s warm-up (bursts of error
//!   lines, lines of a template never seen before), so alerts are raised throughout and
//!   across broker outages;
//! - the lines sink on.
//!
//! Every 10 s it records the agent's RSS and its anonymous part (`RssAnon`: heap and stacks,
//! where a leak shows; the rest is the binary's pages, mapped as code first runs), CPU (percent
//! of one core), open descriptors and MQTT outbox depth (`seismo_sink_queued{sink="mqtt"}` on
//! /metrics), the agent's live signals and templates created, and its heap in use as the
//! allocator counts it (`seismo_heap_in_use_bytes`: what RssAnon holds beyond it is memory the
//! allocator keeps), in a CSV. At the end it
//! stops the writer, lets the agent drain (bounded waits), stops it, and checks that every
//! written line is in the lines sink exactly once and that every event the agent printed
//! reached the subscriber; it exits 1 if not. Whether memory and descriptors are flat is
//! reported (the mean of the last fifth of the samples after warm-up against the first
//! fifth), not asserted.
//!
//! Each new template adds signals (its count and its novelty), which `detectors.idle_ttl`
//! forgets once they get no more samples; the soak sets it to 5 minutes (the default is an
//! hour) so that the signal count, and the memory that holds them, levels off within the run.
//! The drift comparison starts once that has happened (`idle_ttl` + 2 minutes).
//!
//! Environment: `SEISMO_SOAK_SECS` (default 1800), `SEISMO_SOAK_RELOAD_SECS` (the SIGHUP
//! period, default 300), `SEISMO_SOAK_IDLE_TTL_SECS` (default 300), `SEISMO_SOAK_DIR`
//! (default a new directory in the temporary directory; the CSV, the agent's log and the
//! broker's log stay there),
//! `SEISMO_SOAK_KEEP=1` (keep the log files and the lines sink too; they are large),
//! `SEISMO_BIN` (the agent binary; default the release binary next to this benchmark).
//! The agent gets the `GLIBC_TUNABLES` the packaged systemd unit sets, so that the soak measures
//! it as shipped, unless `GLIBC_TUNABLES` is set for the soak (empty: glibc's defaults).

mod probe;
mod verify;
mod writer;

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use seismo_e2e::mosquitto::{Broker, BrokerOptions};
use seismo_e2e::mqtt_subscriber::Subscriber;
use seismo_e2e::{default_config_with, seismo_bin, Agent};

use probe::{AgentCounters, Metrics, Sample};
use writer::{Load, Writer};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const HOST: &str = "soak";
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Samples before this are left out of the drift comparison: the agent's start, its first
/// templates and detectors, and the rotated generations (`.2` from the second rotation, at
/// 60 s and up to 30 s of stagger) that it holds open. The warm-up also lasts until the
/// signals have turned over once (see [`Settings::warmup`]).
const WARMUP: Duration = Duration::from_secs(90);
/// How long a new template's count signal keeps getting samples: its decayed rank stays in
/// the log source's top for about 80 one-second intervals after its burst.
const RANKED_FOR: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_millis(250);

struct Settings {
    duration: Duration,
    load: Load,
    broker_every: Duration,
    broker_outage: Duration,
    reload_every: Duration,
    /// `detectors.idle_ttl`: each new template adds signals, forgotten this long after their
    /// last sample, so the signal count levels off once this has passed.
    idle_ttl: Duration,
    dir: PathBuf,
    keep: bool,
}

/// A number of seconds from the environment variable `name`, else `default`.
fn secs_from_env(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(s) => Ok(s
            .parse()
            .map_err(|_| format!("{name}={s:?} is not a number of seconds"))?),
        Err(_) => Ok(default),
    }
}

impl Settings {
    fn from_env() -> Result<Settings> {
        let secs = secs_from_env("SEISMO_SOAK_SECS", 1800)?;
        let dir = match std::env::var_os("SEISMO_SOAK_DIR") {
            Some(d) => PathBuf::from(d),
            None => std::env::temp_dir().join(format!(
                "seismo-soak-{}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_secs()
            )),
        };
        Ok(Settings {
            duration: Duration::from_secs(secs),
            load: Load {
                dir: dir.join("logs"),
                files: 20,
                lines_per_s: 5000,
                rotate: Duration::from_secs(30),
            },
            broker_every: Duration::from_secs(120),
            broker_outage: Duration::from_secs(20),
            reload_every: Duration::from_secs(secs_from_env("SEISMO_SOAK_RELOAD_SECS", 300)?),
            idle_ttl: Duration::from_secs(secs_from_env("SEISMO_SOAK_IDLE_TTL_SECS", 300)?),
            keep: std::env::var("SEISMO_SOAK_KEEP").is_ok_and(|v| v == "1"),
            dir,
        })
    }

    fn sink(&self) -> PathBuf {
        self.dir.join("lines.jsonl")
    }

    /// Samples before this are left out of the drift comparison: [`WARMUP`], and until the
    /// first new templates' signals have been forgotten, so that the signal count, and the
    /// memory that holds them, has reached its level.
    fn warmup(&self) -> Duration {
        WARMUP.max(self.idle_ttl + RANKED_FOR)
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("seismo.toml")
    }

    /// Writes the agent's configuration; `variant` alternates what a reload changes.
    fn write_config(&self, mqtt_port: u16, variant: u32) -> Result<()> {
        let mut text = default_config_with(
            &self.dir.join("state"),
            &[
                // [sources.host]: host metrics every second.
                ("interval = \"10s\"", "interval = \"1s\""),
                // As the MQTT e2e tests: the EWMA z-score with a short warm-up, every anomaly
                // its own alert.
                ("kind = \"ensemble\"", "kind = \"ewma\"\nwarmup = 8"),
                ("resolve_after = 3", "resolve_after = 1"),
                ("cooldown = \"1m\"", "cooldown = \"0s\""),
                ("flap_window = \"10m\"", "flap_window = \"1s\""),
                (
                    "idle_ttl = \"1h\"",
                    &format!("idle_ttl = \"{}s\"", self.idle_ttl.as_secs()),
                ),
                (
                    "# host_name = \"web-1\"",
                    &format!("host_name = \"{HOST}\""),
                ),
            ],
        );
        text.push_str(&format!(
            "\n# Reload variant {variant}.\n\
             [[sources.files]]\nname = \"soak\"\npaths = [\"{glob}\"]\nstart_at = \"beginning\"\n\
             interval = \"1s\"\nnew_template_warmup = 10\nmax_line_bytes = {max_line}\n\
             [sinks.lines]\npath = \"{sink}\"\n\
             [sinks.mqtt]\nenabled = true\nhost = \"127.0.0.1\"\nport = {mqtt_port}\n\
             retry_initial = \"200ms\"\nretry_max = \"2s\"\nkeep_alive = \"{keep_alive}s\"\nack_timeout = \"5s\"\n",
            glob = self.load.glob(),
            sink = self.sink().display(),
            max_line = 1_048_576 - variant % 2,
            keep_alive = 5 + variant % 2,
        ));
        // Written whole, then renamed: a SIGHUP never reads half a file.
        let tmp = self.dir.join("seismo.toml.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(tmp, self.config_path())?;
        Ok(())
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    if std::env::args().skip(1).any(|a| a != "--bench") {
        eprintln!("usage: SEISMO_SOAK_SECS=600 cargo bench -p seismo-e2e --bench soak");
        std::process::exit(2);
    }
    match run() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(2);
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} cores, {} MiB RAM, Linux {}, load average {}",
        mem_kib / 1024,
        kernel.trim(),
        loadavg()
    )
}

/// The `name=N` counter of the agent's stop summary.
fn summary_counter(line: &str, name: &str) -> Option<u64> {
    let key = format!(" {name}=");
    let at = line.find(&key)? + key.len();
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Reads the agent's output so far (the channels are unbounded; this keeps them short).
fn pump(agent: &mut Agent) {
    agent.wait_stdout(Duration::ZERO, |_| false);
    agent.wait_stderr(Duration::ZERO, |_| false);
}

fn event_payloads(sub: &Subscriber) -> Vec<String> {
    let (alerts, incidents) = (
        format!("seismo/{HOST}/alerts"),
        format!("seismo/{HOST}/incidents"),
    );
    sub.messages()
        .into_iter()
        .filter(|m| m.topic == alerts || m.topic == incidents)
        .map(|m| m.payload)
        .collect()
}

fn printed_events(agent: &Agent) -> Vec<String> {
    agent
        .seen_stdout
        .iter()
        .filter(|l| l.starts_with('{'))
        .cloned()
        .collect()
}

fn all_received(agent: &Agent, sub: &Subscriber) -> bool {
    let got: std::collections::HashSet<String> = event_payloads(sub).into_iter().collect();
    printed_events(agent).iter().all(|p| got.contains(p))
}

/// Waits up to `limit` for `done`, pumping the agent's output; returns how long it took.
fn wait_until(
    agent: &mut Agent,
    limit: Duration,
    mut done: impl FnMut(&mut Agent) -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        pump(agent);
        if done(agent) {
            return Some(start.elapsed());
        }
        std::thread::sleep(STEP);
    }
    None
}

fn run() -> Result<bool> {
    let s = Settings::from_env()?;
    std::fs::create_dir_all(&s.dir)?;
    let bin = seismo_bin();
    println!(
        "soak: {} s, idle_ttl {} s, machine: {}",
        s.duration.as_secs(),
        s.idle_ttl.as_secs(),
        machine()
    );
    println!(
        "soak: agent binary {}{}",
        bin.display(),
        if std::env::var_os("SEISMO_BIN").is_some()
            || bin.components().any(|c| c.as_os_str() == "release")
        {
            ""
        } else {
            " (NOT a release build: build one with `cargo build --release -p seismo` or set SEISMO_BIN)"
        }
    );
    println!("soak: directory {}", s.dir.display());

    let mut broker = Broker::start(&s.dir.join("broker"), &BrokerOptions::default());
    let sub = Subscriber::start(broker.port, "soak-sub", "seismo/#", None);
    if !sub.wait_subscribed(Duration::from_secs(10)) {
        return Err(format!(
            "the subscriber did not subscribe; broker log:\n{}",
            broker.log()
        )
        .into());
    }
    // Let the broker's 1 s autosave persist the subscriber's session: messages for it are kept
    // across the broker's restarts.
    std::thread::sleep(Duration::from_millis(2500));

    s.write_config(broker.port, 0)?;
    let config = s.config_path().to_string_lossy().into_owned();
    let tunables = match std::env::var("GLIBC_TUNABLES") {
        Ok(set) => set,
        Err(_) => unit_tunables()?,
    };
    println!("soak: agent started with GLIBC_TUNABLES={tunables:?}");
    let (mut agent, addr) = Agent::start_serving_with_env(
        &config,
        &[("GLIBC_TUNABLES", &tunables)],
        Duration::from_secs(30),
    );
    let pid = agent.pid();
    let writer = Writer::start(s.load.clone())?;
    let t0 = Instant::now();
    println!(
        "soak: agent pid {pid}, /metrics on {addr}, broker on 127.0.0.1:{}",
        broker.port
    );

    let csv_path = s.dir.join("samples.csv");
    let mut csv = File::create(&csv_path)?;
    writeln!(csv, "{}", probe::CSV_HEADER)?;
    let mut samples: Vec<Sample> = Vec::new();
    let mut last_proc = probe::read_proc(pid).ok_or("the agent is not running")?;
    let mut counters = AgentCounters::default();
    let (mut broker_kills, mut reloads) = (0u32, 0u32);
    let mut broker_back_at: Option<Duration> = None;
    let mut next_sample = SAMPLE_EVERY;
    let mut died = false;
    println!(
        "{:>6} {:>9} {:>9} {:>6} {:>4} {:>7} {:>6} {:>10} {:>10} {:>7} {:>7}",
        "t_s",
        "rss_kib",
        "anon_kib",
        "cpu%",
        "fds",
        "outbox",
        "broker",
        "written",
        "processed",
        "events",
        "signals"
    );
    while t0.elapsed() < s.duration {
        std::thread::sleep(STEP);
        pump(&mut agent);
        let now = t0.elapsed();
        if !writer.is_running() {
            break; // its error is reported by `stop` below
        }
        if broker_back_at.is_none() && now >= s.broker_every * (broker_kills + 1) {
            broker.kill();
            broker_kills += 1;
            broker_back_at = Some(now + s.broker_outage);
        }
        if broker_back_at.is_some_and(|at| now >= at) {
            broker.restart();
            broker_back_at = None;
        }
        if now >= s.reload_every * (reloads + 1) {
            reloads += 1;
            s.write_config(broker.port, reloads)?;
            agent.signal(libc::SIGHUP);
        }
        if now >= next_sample {
            next_sample += SAMPLE_EVERY;
            let Some(p) = probe::read_proc(pid) else {
                died = true;
                break;
            };
            if let Some(m) = Metrics::fetch(addr) {
                counters = AgentCounters::read(&m);
            }
            let sample = Sample {
                t_s: now.as_secs_f64(),
                rss_kib: p.rss_kib,
                anon_kib: p.anon_kib,
                cpu_pct: probe::cpu_percent(&last_proc, &p),
                fds: p.fds,
                outbox_queued: counters.outbox_queued,
                broker_up: broker.is_running(),
                lines_written: writer
                    .progress
                    .written
                    .load(std::sync::atomic::Ordering::Relaxed),
                counters,
            };
            last_proc = p;
            writeln!(csv, "{}", sample.csv())?;
            println!(
                "{:>6.0} {:>9} {:>9} {:>6.1} {:>4} {:>7} {:>6} {:>10} {:>10} {:>7} {:>7}",
                sample.t_s,
                sample.rss_kib,
                sample.anon_kib,
                sample.cpu_pct,
                sample.fds,
                sample.outbox_queued,
                if sample.broker_up { "up" } else { "down" },
                sample.lines_written,
                counters.lines_processed,
                counters.stdout_events,
                counters.signals
            );
            samples.push(sample);
        }
    }
    let progress = std::sync::Arc::clone(&writer.progress);
    let written = writer.stop()?;
    let load_at_end = loadavg();
    if died || probe::read_proc(pid).is_none() {
        pump(&mut agent);
        std::fs::write(s.dir.join("agent.log"), agent.seen_stderr.join("\n"))?;
        println!(
            "soak: FAILED: the agent exited during the run; its log: {}",
            s.dir.join("agent.log").display()
        );
        return Ok(false);
    }
    if broker_back_at.is_some() {
        broker.restart();
    }
    let ran = t0.elapsed();

    // Drain: every written line processed, then every raised event delivered and nothing new
    // raised for a few seconds (the writer's stop is itself an anomaly of the line rate).
    let lines_done = wait_until(&mut agent, Duration::from_secs(180), |_| {
        Metrics::fetch(addr).is_some_and(|m| AgentCounters::read(&m).lines_processed >= written)
    });
    let mut quiet_since = (Instant::now(), printed_events(&agent).len());
    let events_done = wait_until(&mut agent, Duration::from_secs(120), |agent| {
        let n = printed_events(agent).len();
        if n != quiet_since.1 {
            quiet_since = (Instant::now(), n);
        }
        let queued = Metrics::fetch(addr).map(|m| AgentCounters::read(&m).outbox_queued);
        quiet_since.0.elapsed() >= Duration::from_secs(5)
            && queued == Some(0)
            && all_received(agent, &sub)
    });
    let before_stop = Metrics::fetch(addr).map(|m| AgentCounters::read(&m));
    agent.signal(libc::SIGTERM);
    let (status, _) = agent.wait_exit(Duration::from_secs(30));
    // Events raised after the last check go out during the agent's stop (its outbox drain).
    let start = Instant::now();
    while !all_received(&agent, &sub) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(STEP);
    }
    std::fs::write(s.dir.join("agent.log"), agent.seen_stderr.join("\n"))?;
    std::fs::write(
        s.dir.join("events.jsonl"),
        printed_events(&agent).join("\n"),
    )?;
    let stopped = agent
        .seen_stderr
        .iter()
        .find(|l| l.contains("seismo stopped"))
        .cloned()
        .unwrap_or_default();
    let reloaded = agent
        .seen_stderr
        .iter()
        .filter(|l| l.contains("configuration reloaded"))
        .count();
    let refused = agent
        .seen_stderr
        .iter()
        .filter(|l| l.contains("configuration reload refused"))
        .count();

    // The checks.
    let lines = verify::check_lines(&s.sink(), written)?;
    let delivery = verify::check_delivery(&agent.seen_stdout, &event_payloads(&sub));
    let mqtt = |n: &str| summary_counter(&stopped, &format!("mqtt.{n}"));

    println!(
        "\nsoak: ran {:.0} s; machine at the end: load average {load_at_end}",
        ran.as_secs_f64()
    );
    println!("soak: samples {}", csv_path.display());
    print_table(&samples);
    print_drift(&samples, s.warmup());
    let p = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "\nload: {written} lines written ({:.0}/s), {} rotations by rename, {} by copytruncate, \
         {} error bursts, {} new templates, {} writer ticks late; broker killed {broker_kills} times; \
         {reloads} SIGHUPs ({reloaded} applied, {refused} refused)",
        written as f64 / ran.as_secs_f64(),
        p(&progress.rotations_rename),
        p(&progress.rotations_copytruncate),
        p(&progress.bursts),
        p(&progress.new_templates),
        p(&progress.late_ticks),
    );
    println!(
        "drain: all lines processed {}, all events delivered {}",
        lines_done.map_or("NOT within 180 s".into(), |d| format!(
            "after {:.1} s",
            d.as_secs_f64()
        )),
        events_done.map_or("NOT within 120 s".into(), |d| format!(
            "after {:.1} s",
            d.as_secs_f64()
        )),
    );
    println!(
        "lines: written {written}, processed {} (seismo_log_lines_total at the end), in the lines \
         sink {} records, {} distinct; missing {}, duplicated {}, foreign {}",
        summary_counter(&stopped, "log_lines").map_or("?".into(), |n| n.to_string()),
        lines.records,
        lines.distinct,
        lines.missing,
        lines.duplicated,
        lines.foreign,
    );
    if !lines.first_missing.is_empty() {
        println!("  first missing seq: {:?}", lines.first_missing);
    }
    if !lines.first_duplicated.is_empty() {
        println!("  first duplicated seq: {:?}", lines.first_duplicated);
    }
    println!(
        "alerts: agent raised {} events ({} alert events, {} alert ids; {} firing + {} resolved \
         alert events on /metrics before the stop); MQTT sink delivered {} (acknowledged), \
         queued at stop {}, dropped {}, corrupt {}; subscriber received {} messages, {} distinct \
         ({} alert ids), {} missing, {} unexpected",
        delivery.raised,
        delivery.raised_alerts,
        delivery.raised_alert_ids,
        before_stop.map_or(0, |c| c.alerts_firing),
        before_stop.map_or(0, |c| c.alerts_resolved),
        mqtt("delivered").map_or("?".into(), |n| n.to_string()),
        mqtt("queued").map_or("?".into(), |n| n.to_string()),
        mqtt("dropped").map_or("?".into(), |n| n.to_string()),
        mqtt("corrupt").map_or("?".into(), |n| n.to_string()),
        delivery.received,
        delivery.received_distinct,
        delivery.received_alert_ids,
        delivery.missing.len(),
        delivery.unexpected,
    );
    for m in delivery.missing.iter().take(5) {
        println!("  never received: {m}");
    }

    let mut ok = true;
    let mut fail = |why: String| {
        println!("soak: FAILED: {why}");
        ok = false;
    };
    if status.code() != Some(0) {
        fail(format!("the agent exited with {status}"));
    }
    if !lines.ok() {
        fail("lines lost, duplicated or altered".into());
    }
    if !delivery.ok() {
        fail("events raised but not delivered (or delivered but never raised)".into());
    }
    let acked = mqtt("delivered").unwrap_or(0);
    if mqtt("dropped") != Some(0)
        || mqtt("corrupt") != Some(0)
        || mqtt("queued") != Some(0)
        || acked as usize != delivery.raised
        || delivery.received_distinct < delivery.raised
    {
        fail(format!(
            "the MQTT sink's count does not match: raised {}, acknowledged {acked}, received {} distinct; stop summary: {stopped}",
            delivery.raised, delivery.received_distinct
        ));
    }
    if refused > 0 || reloaded != reloads as usize {
        fail(format!(
            "{reloads} SIGHUPs, {reloaded} reloads applied, {refused} refused"
        ));
    }
    if !s.keep {
        let _ = std::fs::remove_dir_all(&s.load.dir);
        let _ = std::fs::remove_file(s.sink());
    }
    println!(
        "soak: {} (agent log {})",
        if ok { "PASSED" } else { "FAILED" },
        s.dir.join("agent.log").display()
    );
    Ok(ok)
}

fn stats<T: Copy + PartialOrd>(samples: &[Sample], f: impl Fn(&Sample) -> T) -> Option<(T, T, T)> {
    let first = f(samples.first()?);
    let last = f(samples.last()?);
    let max = samples
        .iter()
        .map(&f)
        .fold(first, |m, v| if v > m { v } else { m });
    Some((first, last, max))
}

fn print_table(samples: &[Sample]) {
    println!("\n{:<22} {:>10} {:>10} {:>10}", "", "start", "end", "max");
    if let Some((a, b, c)) = stats(samples, |s| s.rss_kib) {
        println!("{:<22} {:>10} {:>10} {:>10}", "RSS (KiB)", a, b, c);
    }
    if let Some((a, b, c)) = stats(samples, |s| s.anon_kib) {
        println!("{:<22} {:>10} {:>10} {:>10}", "  anonymous (KiB)", a, b, c);
    }
    // The first sample's CPU covers the agent's start; the table starts at the second.
    if let Some((a, b, c)) = stats(samples.get(1..).unwrap_or_default(), |s| s.cpu_pct) {
        println!(
            "{:<22} {:>10.1} {:>10.1} {:>10.1}",
            "CPU (% of one core)", a, b, c
        );
    }
    if let Some((a, b, c)) = stats(samples, |s| s.counters.heap_kib) {
        println!(
            "{:<22} {:>10} {:>10} {:>10}",
            "  heap in use (KiB)", a, b, c
        );
    }
    if let Some((a, b, c)) = stats(samples, |s| s.fds) {
        println!("{:<22} {:>10} {:>10} {:>10}", "open fds", a, b, c);
    }
    if let Some((a, b, c)) = stats(samples, |s| s.outbox_queued) {
        println!("{:<22} {:>10} {:>10} {:>10}", "MQTT outbox depth", a, b, c);
    }
    if let Some((a, b, c)) = stats(samples, |s| s.counters.signals) {
        println!(
            "{:<22} {:>10} {:>10} {:>10}",
            "signals (detectors)", a, b, c
        );
    }
    if !samples.is_empty() {
        let cpu: Vec<f64> = samples.iter().skip(1).map(|s| s.cpu_pct).collect();
        if !cpu.is_empty() {
            println!(
                "{:<22} {:>10.1}",
                "CPU mean",
                cpu.iter().sum::<f64>() / cpu.len() as f64
            );
        }
    }
}

/// The `GLIBC_TUNABLES` the packaged systemd unit runs the agent with.
fn unit_tunables() -> Result<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/debian/seismo.service"
    );
    let unit = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    unit.lines()
        .find_map(|l| l.trim().strip_prefix("Environment=GLIBC_TUNABLES="))
        .map(str::to_owned)
        .ok_or_else(|| format!("{path}: no Environment=GLIBC_TUNABLES=").into())
}

/// Means of the first and the last fifth of the samples taken after the warm-up.
fn drift(samples: &[Sample], warmup: Duration, f: impl Fn(&Sample) -> f64) -> Option<(f64, f64)> {
    let after: Vec<f64> = samples
        .iter()
        .filter(|s| s.t_s >= warmup.as_secs_f64())
        .map(f)
        .collect();
    let k = after.len() / 5;
    if k == 0 {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    Some((mean(&after[..k]), mean(&after[after.len() - k..])))
}

/// The least-squares slope of `f` after the warm-up, per hour: how fast a leak would climb.
fn slope(samples: &[Sample], warmup: Duration, f: impl Fn(&Sample) -> f64) -> Option<f64> {
    slope_between(samples, warmup.as_secs_f64(), f64::INFINITY, f)
}

/// The slopes of `f` over the first and the second half of the time after the warm-up: a
/// buffer that fills (a history of fixed length, caches) climbs in the first and levels off,
/// a leak climbs in both.
fn half_slopes(
    samples: &[Sample],
    warmup: Duration,
    f: impl Fn(&Sample) -> f64 + Copy,
) -> Option<(f64, f64)> {
    let start = warmup.as_secs_f64();
    let mid = (start + samples.last()?.t_s) / 2.0;
    Some((
        slope_between(samples, start, mid, f)?,
        slope_between(samples, mid, f64::INFINITY, f)?,
    ))
}

/// The least-squares slope of `f` over the samples taken in `[from, to)` seconds, per hour.
fn slope_between(
    samples: &[Sample],
    from: f64,
    to: f64,
    f: impl Fn(&Sample) -> f64,
) -> Option<f64> {
    let pts: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.t_s >= from && s.t_s < to)
        .map(|s| (s.t_s / 3600.0, f(s)))
        .collect();
    if pts.len() < 3 {
        return None;
    }
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

fn print_drift(samples: &[Sample], warmup: Duration) {
    let report = |name: &str,
                  unit: &str,
                  d: Option<(f64, f64)>,
                  flat: &dyn Fn(f64, f64) -> bool| {
        match d {
            Some((first, last)) => println!(
                "drift {name}: first fifth after warm-up {first:.0} {unit}, last fifth {last:.0} {unit}: {:+.0} {unit} ({:+.1} %), {}",
                last - first,
                if first > 0.0 { (last - first) / first * 100.0 } else { 0.0 },
                if flat(first, last) { "flat" } else { "NOT flat" }
            ),
            None => println!("drift {name}: too few samples after the {} s warm-up", warmup.as_secs()),
        }
    };
    println!();
    report(
        "RSS",
        "KiB",
        drift(samples, warmup, |s| s.rss_kib as f64),
        &|a, b| (b - a).abs() <= a * 0.10,
    );
    report(
        "anonymous RSS",
        "KiB",
        drift(samples, warmup, |s| s.anon_kib as f64),
        &|a, b| (b - a).abs() <= a * 0.10,
    );
    if let Some(kib_per_hour) = slope(samples, warmup, |s| s.anon_kib as f64) {
        println!(
            "trend anonymous RSS after the {} s warm-up: {kib_per_hour:+.0} KiB per hour (least squares)",
            warmup.as_secs()
        );
    }
    report(
        "heap in use",
        "KiB",
        drift(samples, warmup, |s| s.counters.heap_kib as f64),
        &|a, b| (b - a).abs() <= a * 0.10,
    );
    if let Some(kib_per_hour) = slope(samples, warmup, |s| s.counters.heap_kib as f64) {
        println!("trend heap in use: {kib_per_hour:+.0} KiB per hour (least squares)");
    }
    let halves = [
        (
            "anonymous RSS",
            half_slopes(samples, warmup, |s| s.anon_kib as f64),
        ),
        (
            "heap in use",
            half_slopes(samples, warmup, |s| s.counters.heap_kib as f64),
        ),
    ];
    for (name, halves) in halves {
        if let Some((first, second)) = halves {
            println!(
                "trend {name} by half after warm-up: first {first:+.0} KiB per hour, second {second:+.0} KiB per hour"
            );
        }
    }
    if let Some(d) = drift(samples, warmup, |s| s.counters.templates as f64) {
        println!(
            "templates created: first fifth after warm-up {:.0}, last fifth {:.0}",
            d.0, d.1
        );
    }
    if let Some(d) = drift(samples, warmup, |s| s.counters.signals as f64) {
        println!(
            "signals: first fifth after warm-up {:.0}, last fifth {:.0}",
            d.0, d.1
        );
    }
    report(
        "open fds",
        "fds",
        drift(samples, warmup, |s| s.fds as f64),
        &|a, b| (b - a).abs() <= 4.0,
    );
}
