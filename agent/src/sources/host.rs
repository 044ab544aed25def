//! Host metrics sampled with sysinfo: CPU, load, memory, swap, file systems, disk and network
//! I/O, process count. Counters become per-second rates; a counter's first reading yields none.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use seismo_config::{any_match, HostSourceConfig};
use sysinfo::{CpuRefreshKind, Disks, Networks, System};
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::event::Sample;
use crate::sources::queue::SampleSender;
use crate::sources::rate::Rates;
use crate::telemetry::stats::{LogLimiter, Stats};

/// Samples the host on each call to [`HostCollector::collect`].
pub struct HostCollector {
    config: HostSourceConfig,
    system: System,
    disks: Disks,
    networks: Networks,
    rates: Rates,
    /// CPU usage needs two refreshes; the first collection only primes it.
    cpu_primed: bool,
}

impl HostCollector {
    pub fn new(config: HostSourceConfig) -> anyhow::Result<Self> {
        let system = System::new().map_err(|e| anyhow::anyhow!("cannot read host metrics: {e}"))?;
        let disks = Disks::new().map_err(|e| anyhow::anyhow!("cannot list disks: {e}"))?;
        let networks =
            Networks::new().map_err(|e| anyhow::anyhow!("cannot list network interfaces: {e}"))?;
        Ok(Self {
            config,
            system,
            disks,
            networks,
            rates: Rates::default(),
            cpu_primed: false,
        })
    }

    /// Takes one sample of everything. Failures of single readings are counted in `errors` and
    /// skip that reading only.
    pub fn collect(&mut self, ts_ms: i64, errors: &mut u64) -> Vec<Sample> {
        let mut out = Vec::with_capacity(64);
        self.cpu(ts_ms, &mut out);
        self.memory(ts_ms, &mut out);
        match System::load_average() {
            Ok(l) => {
                push(&mut out, "host.load.1m", ts_ms, l.one);
                push(&mut out, "host.load.5m", ts_ms, l.five);
                push(&mut out, "host.load.15m", ts_ms, l.fifteen);
            }
            Err(_) => *errors += 1,
        }
        self.disks(ts_ms, &mut out);
        self.networks(ts_ms, &mut out);
        match process_count() {
            Ok(n) => push(&mut out, "host.processes.count", ts_ms, n as f64),
            Err(_) => *errors += 1,
        }
        self.rates.end_sweep();
        out
    }

    fn cpu(&mut self, ts_ms: i64, out: &mut Vec<Sample>) {
        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        if !self.cpu_primed {
            self.cpu_primed = true;
            return;
        }
        let ratio = |pct: f32| f64::from(pct) / 100.0;
        push(
            out,
            "host.cpu.utilization",
            ts_ms,
            ratio(self.system.global_cpu_usage()),
        );
        if self.config.per_core {
            for (i, cpu) in self.system.cpus().iter().enumerate() {
                let name = format!("host.cpu.core.{i}.utilization");
                push(out, &name, ts_ms, ratio(cpu.usage()));
            }
        }
    }

    fn memory(&mut self, ts_ms: i64, out: &mut Vec<Sample>) {
        self.system.refresh_memory();
        let (total, used) = (self.system.total_memory(), self.system.used_memory());
        if total > 0 {
            push(
                out,
                "host.memory.used_ratio",
                ts_ms,
                used as f64 / total as f64,
            );
        }
        let (total, used) = (self.system.total_swap(), self.system.used_swap());
        if total > 0 {
            push(
                out,
                "host.swap.used_ratio",
                ts_ms,
                used as f64 / total as f64,
            );
        }
    }

    fn disks(&mut self, ts_ms: i64, out: &mut Vec<Sample>) {
        self.disks.refresh(true);
        let mut devices_seen = HashSet::new();
        for disk in self.disks.iter() {
            let mount = disk.mount_point().to_string_lossy();
            let fs_type = disk.file_system().to_string_lossy();
            if any_match(&self.config.exclude_mounts, &mount)
                || any_match(&self.config.exclude_fs_types, &fs_type)
            {
                continue;
            }
            let total = disk.total_space();
            if total > 0 {
                let used = total.saturating_sub(disk.available_space());
                let name = format!("host.filesystem.{}.used_ratio", mount_label(&mount));
                push(out, &name, ts_ms, used as f64 / total as f64);
            }
            // Several mounts can share a device (bind mounts, btrfs subvolumes): count its
            // I/O once.
            let device = device_label(&disk.name().to_string_lossy());
            if any_match(&self.config.exclude_disks, &device)
                || !devices_seen.insert(device.clone())
            {
                continue;
            }
            let usage = disk.usage();
            for (what, counter) in [
                ("read_bytes_per_s", usage.total_read_bytes),
                ("write_bytes_per_s", usage.total_written_bytes),
            ] {
                let name: Arc<str> = format!("host.disk.{device}.{what}").into();
                push_rate(&mut self.rates, out, name, ts_ms, counter);
            }
        }
    }

    fn networks(&mut self, ts_ms: i64, out: &mut Vec<Sample>) {
        self.networks.refresh(true);
        for (iface, data) in self.networks.iter() {
            let iface = iface.to_string_lossy();
            if any_match(&self.config.exclude_interfaces, &iface) {
                continue;
            }
            let iface = sanitize(&iface);
            for (what, counter) in [
                ("rx_bytes_per_s", data.total_received()),
                ("tx_bytes_per_s", data.total_transmitted()),
                ("rx_errors_per_s", data.total_errors_on_received()),
                ("tx_errors_per_s", data.total_errors_on_transmitted()),
            ] {
                let name: Arc<str> = format!("host.network.{iface}.{what}").into();
                push_rate(&mut self.rates, out, name, ts_ms, counter);
            }
        }
    }
}

/// Pushes the rate of a counter, once it has one.
fn push_rate(rates: &mut Rates, out: &mut Vec<Sample>, signal: Arc<str>, ts_ms: i64, counter: u64) {
    if let Some(value) = rates.rate(&signal, ts_ms, counter) {
        out.push(Sample {
            signal,
            ts_ms,
            value,
        });
    }
}

fn push(out: &mut Vec<Sample>, signal: &str, ts_ms: i64, value: f64) {
    out.push(Sample {
        signal: signal.into(),
        ts_ms,
        value,
    });
}

/// Counts the processes in /proc (cheaper than a sysinfo process refresh, which reads every
/// process's stat file).
fn process_count() -> std::io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir("/proc")? {
        let name = entry?.file_name();
        if name
            .to_str()
            .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()))
        {
            n += 1;
        }
    }
    Ok(n)
}

/// `/` → `root`, `/var/lib` → `var_lib`: a mount point as one segment of a signal name.
fn mount_label(mount: &str) -> String {
    let trimmed = mount.trim_matches('/');
    if trimmed.is_empty() {
        "root".to_owned()
    } else {
        sanitize(trimmed)
    }
}

/// `/dev/nvme0n1p1` → `nvme0n1p1`.
fn device_label(device: &str) -> String {
    let base = Path::new(device)
        .file_name()
        .map_or_else(|| device.to_owned(), |n| n.to_string_lossy().into_owned());
    sanitize(&base)
}

/// Keeps a name usable as one dot-separated segment of a signal name.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The running host metrics task. A reload that changes `[sources.host]` replaces it: the old
/// one stops, then a new collector starts with the new settings (its first reading primes CPU
/// and rates again, so one interval carries no rates; the detectors keep what they learned).
pub struct HostTask {
    cancel: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl HostTask {
    /// The collector for `config`, or `None` when host metrics are off. Fallible, so a reload
    /// prepares it before changing anything.
    pub fn prepare(config: &HostSourceConfig) -> anyhow::Result<Option<HostCollector>> {
        if !config.enabled {
            return Ok(None);
        }
        HostCollector::new(config.clone()).map(Some)
    }

    /// Starts sampling with `collector`; stops with `parent` or [`HostTask::stop`].
    pub fn start(
        collector: HostCollector,
        tx: SampleSender,
        stats: Arc<Stats>,
        parent: &CancellationToken,
    ) -> HostTask {
        let cancel = parent.child_token();
        let interval = collector.config.interval;
        let handle = tokio::spawn(run(collector, interval, tx, stats, cancel.clone()));
        HostTask { cancel, handle }
    }

    /// Stops the task and waits for it (at most one collection step).
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.handle.await;
    }
}

/// Runs the collector every `interval` until `cancel`, publishing each batch. The queue
/// drops the oldest batches when the pipeline lags, and counts those drops.
pub async fn run(
    mut collector: HostCollector,
    interval: Duration,
    tx: SampleSender,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut limiter = LogLimiter::new(Duration::from_secs(300));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        // sysinfo reads /proc and calls statvfs: blocking work, kept off the async workers.
        let step = tokio::task::spawn_blocking(move || {
            let mut errors = 0;
            let batch = collector.collect(now_ms(), &mut errors);
            (collector, batch, errors)
        })
        .await;
        let (back, batch, errors) = match step {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "host metrics collector failed; host metrics stop");
                break;
            }
        };
        collector = back;
        if errors > 0 {
            Stats::add(&stats.host_errors, errors);
            if let Some(n) = limiter.hit() {
                tracing::warn!(failures = n, "some host metrics could not be read");
            }
        }
        if !batch.is_empty() {
            // Err means no receiver: the pipeline is gone, we are shutting down.
            if tx.send(Arc::new(batch)).is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_one_name_segment() {
        assert_eq!(mount_label("/"), "root");
        assert_eq!(mount_label("/var/lib"), "var_lib");
        assert_eq!(mount_label("/mnt/my disk"), "mnt_my_disk");
        assert_eq!(device_label("/dev/nvme0n1p1"), "nvme0n1p1");
        assert_eq!(device_label("tank/data"), "data");
        assert_eq!(sanitize("eth0.100"), "eth0_100");
    }

    #[test]
    fn collects_real_host_metrics_with_rates_from_the_second_sample() {
        let mut c = HostCollector::new(HostSourceConfig::default()).unwrap();
        let mut errors = 0;
        let first = c.collect(now_ms(), &mut errors);
        let names: HashSet<&str> = first.iter().map(|s| &*s.signal).collect();
        assert!(names.contains("host.memory.used_ratio"), "{names:?}");
        assert!(names.contains("host.load.1m"));
        assert!(names.contains("host.processes.count"));
        assert!(
            !names
                .iter()
                .any(|n| n.ends_with("_per_s") || n.starts_with("host.cpu.")),
            "first sample must carry no rates and no CPU usage: {names:?}"
        );
        std::thread::sleep(Duration::from_millis(1100));
        let second = c.collect(now_ms(), &mut errors);
        let names: HashSet<&str> = second.iter().map(|s| &*s.signal).collect();
        assert!(names.contains("host.cpu.utilization"), "{names:?}");
        assert!(names.contains("host.cpu.core.0.utilization"), "{names:?}");
        assert!(
            names.iter().any(|n| n.starts_with("host.filesystem.")),
            "{names:?}"
        );
        for s in &second {
            assert!(s.value.is_finite() && s.value >= 0.0, "{s:?}");
            if s.signal.ends_with("utilization") || s.signal.ends_with("used_ratio") {
                assert!(s.value <= 1.0, "{s:?}");
            }
        }
        assert_eq!(errors, 0);
    }
}
