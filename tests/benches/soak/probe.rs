//! What the soak measures of the agent: RSS (all of it, and its anonymous part), CPU and open
//! descriptors from /proc, and its own counters from its /metrics endpoint.

use std::net::SocketAddr;
use std::time::Instant;

use seismo_e2e::http_client;

/// One reading of the agent's process.
#[derive(Debug, Clone, Copy)]
pub struct ProcReading {
    pub at: Instant,
    pub rss_kib: u64,
    /// Anonymous memory (heap, stacks): what a leak grows. The rest of the RSS is mapped files,
    /// mostly the binary's pages, which grow as code runs for the first time.
    pub anon_kib: u64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub fds: u64,
}

/// Reads /proc/PID; `None` when the process is gone or a zombie (it exited).
pub fn read_proc(pid: i32) -> Option<ProcReading> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    if fields.first() == Some(&"Z") {
        return None;
    }
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |field: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    let (rss_kib, anon_kib) = (kib("VmRSS:")?, kib("RssAnon:")?);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(ProcReading {
        at: Instant::now(),
        rss_kib,
        anon_kib,
        cpu_ticks: utime + stime,
        fds,
    })
}

/// CPU between two readings, in percent of one core.
pub fn cpu_percent(before: &ProcReading, after: &ProcReading) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let secs = after.at.duration_since(before.at).as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    (after.cpu_ticks.saturating_sub(before.cpu_ticks)) as f64 / hz / secs * 100.0
}

/// The agent's self-metrics (Prometheus text) as `name{labels} value` pairs.
pub struct Metrics(String);

impl Metrics {
    pub fn fetch(addr: SocketAddr) -> Option<Metrics> {
        let r = http_client::request(addr, "GET", "/metrics", None).ok()?;
        (r.status == 200).then_some(Metrics(r.body))
    }

    /// The value of the series written exactly as `series` (`name` or `name{labels}`).
    pub fn get(&self, series: &str) -> Option<f64> {
        self.0.lines().find_map(|l| {
            let v = l.strip_prefix(series)?.strip_prefix(' ')?;
            v.trim().parse().ok()
        })
    }

    /// The sum over every label set of `name`.
    pub fn sum(&self, name: &str) -> f64 {
        self.0
            .lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// The counters the soak reads from /metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct AgentCounters {
    pub lines_processed: u64,
    pub outbox_queued: u64,
    pub outbox_delivered: u64,
    pub outbox_dropped: u64,
    pub outbox_corrupt: u64,
    pub alerts_firing: u64,
    pub alerts_resolved: u64,
    pub stdout_events: u64,
    /// Signals with live detectors (`seismo_detectors`): each new template adds one, and
    /// `detectors.idle_ttl` forgets those not seen since.
    pub signals: u64,
    /// Templates the log source's miner has created.
    pub templates: u64,
    /// The heap in use as the allocator counts it (`seismo_heap_in_use_bytes`), in KiB.
    pub heap_kib: u64,
}

impl AgentCounters {
    pub fn read(m: &Metrics) -> AgentCounters {
        let int = |v: Option<f64>| v.unwrap_or(0.0) as u64;
        AgentCounters {
            lines_processed: int(m.get("seismo_log_lines_total")),
            outbox_queued: int(m.get("seismo_sink_queued{sink=\"mqtt\"}")),
            outbox_delivered: int(m.get("seismo_sink_delivered_total{sink=\"mqtt\"}")),
            outbox_dropped: int(m.get("seismo_sink_dropped_total{sink=\"mqtt\"}")),
            outbox_corrupt: int(m.get("seismo_sink_corrupt_total{sink=\"mqtt\"}")),
            alerts_firing: m.sum("seismo_alerts_total") as u64,
            alerts_resolved: int(m.get("seismo_alerts_resolved_total")),
            stdout_events: int(m.get("seismo_stdout_events_total")),
            signals: int(m.get("seismo_detectors")),
            templates: m.sum("seismo_log_templates_created_total") as u64,
            heap_kib: int(m.get("seismo_heap_in_use_bytes")) / 1024,
        }
    }
}

/// One row of the CSV.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub t_s: f64,
    pub rss_kib: u64,
    pub anon_kib: u64,
    pub cpu_pct: f64,
    pub fds: u64,
    pub outbox_queued: u64,
    pub broker_up: bool,
    pub lines_written: u64,
    pub counters: AgentCounters,
}

pub const CSV_HEADER: &str = "t_s,rss_kib,anon_kib,cpu_pct,fds,outbox_queued,broker_up,lines_written,\
lines_processed,outbox_delivered,outbox_dropped,outbox_corrupt,alerts_firing,alerts_resolved,stdout_events,signals,templates,heap_kib";

impl Sample {
    pub fn csv(&self) -> String {
        let c = &self.counters;
        format!(
            "{:.1},{},{},{:.1},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            self.t_s,
            self.rss_kib,
            self.anon_kib,
            self.cpu_pct,
            self.fds,
            self.outbox_queued,
            u8::from(self.broker_up),
            self.lines_written,
            c.lines_processed,
            c.outbox_delivered,
            c.outbox_dropped,
            c.outbox_corrupt,
            c.alerts_firing,
            c.alerts_resolved,
            c.stdout_events,
            c.signals,
            c.templates,
            c.heap_kib,
        )
    }
}
