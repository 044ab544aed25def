//! Per-process metrics: each `[[sources.processes]]` group is the set of processes matching its
//! matchers (name, command line, cgroup, systemd unit), measured from /proc and summed into
//! `process.{name}.cpu.utilization` (percent of one core), `.memory.rss` (bytes), `.fds`,
//! `.threads`, `.count` and `.restarts` (matched pids replaced by new ones in the interval).
//!
//! /proc is read directly rather than through sysinfo: matching needs each process's name,
//! command line and cgroup (sysinfo has no cgroup), and one read of /proc/<pid>/stat then
//! gives CPU time, threads and RSS of a matched process; open descriptors are only in
//! /proc/<pid>/fd.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use seismo_config::ProcessSourceConfig;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::event::Sample;
use crate::sources::queue::SampleSender;
use crate::sources::tasks::SourceTasks;
use crate::telemetry::stats::{LogLimiter, Stats};

const PROC: &str = "/proc";

/// What one read of /proc/<pid>/stat says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub comm: String,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub threads: u64,
    /// Start time in clock ticks after boot: tells a reused pid from the process it replaced.
    pub start_ticks: u64,
    pub rss_pages: u64,
}

/// Parses /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses, so the
/// fields are counted from the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let f: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // f[0] is field 3 (state): utime is field 14, stime 15, num_threads 20, starttime 22, rss 24.
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(ProcStat {
        comm,
        cpu_ticks: num(11)?.saturating_add(num(12)?),
        threads: num(17)?,
        start_ticks: num(19)?,
        rss_pages: num(21)?,
    })
}

/// The cgroup path of a process from /proc/<pid>/cgroup: the cgroup v2 line (`0::/path`), or
/// under cgroup v1 the systemd hierarchy (`1:name=systemd:/path`).
pub(crate) fn parse_cgroup(text: &str) -> Option<&str> {
    let mut v1 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            return Some(path);
        }
        if controllers == "name=systemd" {
            v1 = Some(path);
        }
    }
    v1
}

/// The systemd service a cgroup path belongs to: its last `*.service` component
/// (`/system.slice/nginx.service` → `nginx.service`; a service's sub-cgroups and the user
/// manager's services count too).
pub(crate) fn unit_of(cgroup: &str) -> Option<&str> {
    cgroup
        .split('/')
        .rev()
        .find(|c| c.ends_with(".service") && c.len() > ".service".len())
}

/// The command line with its NUL separators turned into spaces.
fn cmdline_text(raw: &[u8]) -> String {
    let trimmed = raw.strip_suffix(b"\0").unwrap_or(raw);
    String::from_utf8_lossy(trimmed).replace('\0', " ")
}

/// The file name of argv[0]: the process name beyond comm's 15 characters.
fn argv0_name(raw: &[u8]) -> String {
    let argv0 = raw.split(|b| *b == 0).next().unwrap_or_default();
    let argv0 = String::from_utf8_lossy(argv0);
    argv0.rsplit('/').next().unwrap_or_default().to_owned()
}

/// Clock ticks per second and bytes per page.
fn system_units() -> (u64, u64) {
    // SAFETY: sysconf has no preconditions.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (
        u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100),
        u64::try_from(page).ok().filter(|p| *p > 0).unwrap_or(4096),
    )
}

/// Seconds since boot, from /proc/uptime.
fn uptime_s() -> Option<f64> {
    std::fs::read_to_string(format!("{PROC}/uptime"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// What a collection step could not read, for the self-metrics.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Problems {
    /// /proc could not be listed.
    pub errors: u64,
    /// /proc/<pid>/fd reads refused for lack of permission.
    pub fds_denied: u64,
    /// Matched processes beyond `max_pids`, not measured.
    pub pids_capped: u64,
}

/// One group's state between collection steps.
pub(crate) struct ProcessGroup {
    config: ProcessSourceConfig,
    ticks_per_s: u64,
    page_bytes: u64,
    /// Signal names, made once.
    names: Names,
    /// The previous step: its time, uptime in ticks, and each measured pid's start and CPU ticks.
    previous: Option<Previous>,
    /// Pids that disappeared without a new one replacing them yet.
    pending_gone: usize,
}

struct Previous {
    ts_ms: i64,
    uptime_ticks: Option<u64>,
    pids: HashMap<i32, (u64, u64)>,
}

struct Names {
    cpu: Arc<str>,
    rss: Arc<str>,
    fds: Arc<str>,
    threads: Arc<str>,
    count: Arc<str>,
    restarts: Arc<str>,
}

impl ProcessGroup {
    pub(crate) fn new(config: ProcessSourceConfig) -> Self {
        let (ticks_per_s, page_bytes) = system_units();
        let n = |what: &str| -> Arc<str> { format!("process.{}.{what}", config.name).into() };
        let names = Names {
            cpu: n("cpu.utilization"),
            rss: n("memory.rss"),
            fds: n("fds"),
            threads: n("threads"),
            count: n("count"),
            restarts: n("restarts"),
        };
        Self {
            config,
            ticks_per_s,
            page_bytes,
            names,
            previous: None,
            pending_gone: 0,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether a process matches every matcher of the group.
    fn matches(&self, pid_dir: &Path, stat: &ProcStat) -> bool {
        let c = &self.config;
        // Read at most once, and only when a matcher needs it.
        let cmdline = std::cell::OnceCell::new();
        let read_cmdline = || -> &[u8] {
            cmdline.get_or_init(|| std::fs::read(pid_dir.join("cmdline")).unwrap_or_default())
        };
        if let Some(glob) = &c.process_name {
            if !glob.is_match(&stat.comm) && !glob.is_match(&argv0_name(read_cmdline())) {
                return false;
            }
        }
        if let Some(re) = &c.cmdline {
            let raw = read_cmdline();
            // Kernel threads have no command line: nothing to match.
            if raw.is_empty() || !re.regex().is_match(&cmdline_text(raw)) {
                return false;
            }
        }
        if c.unit.is_some() || c.cgroup.is_some() {
            let Ok(text) = std::fs::read_to_string(pid_dir.join("cgroup")) else {
                return false;
            };
            let Some(path) = parse_cgroup(&text) else {
                return false;
            };
            if c.cgroup.as_ref().is_some_and(|g| !g.is_match(path)) {
                return false;
            }
            if let Some(glob) = &c.unit {
                if !unit_of(path).is_some_and(|u| glob.is_match(u)) {
                    return false;
                }
            }
        }
        true
    }

    /// One step: finds the group's processes and measures them. Problems are counted in
    /// `problems`; a process that exits meanwhile is simply not there.
    pub(crate) fn collect(&mut self, ts_ms: i64, problems: &mut Problems) -> Vec<Sample> {
        let entries = match std::fs::read_dir(PROC) {
            Ok(e) => e,
            Err(_) => {
                problems.errors += 1;
                return Vec::new();
            }
        };
        let mut matched: Vec<(i32, ProcStat)> = Vec::new();
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            let dir = entry.path();
            let Some(stat) = std::fs::read_to_string(dir.join("stat"))
                .ok()
                .and_then(|t| parse_stat(&t))
            else {
                continue;
            };
            if self.matches(&dir, &stat) {
                matched.push((pid, stat));
            }
        }
        matched.sort_unstable_by_key(|(pid, _)| *pid);
        let count = matched.len();
        if count > self.config.max_pids {
            problems.pids_capped += (count - self.config.max_pids) as u64;
            matched.truncate(self.config.max_pids);
        }

        let uptime_ticks = uptime_s().map(|s| (s * self.ticks_per_s as f64) as u64);
        let mut out = Vec::with_capacity(6);
        let mut push = |name: &Arc<str>, value: f64| {
            out.push(Sample {
                signal: Arc::clone(name),
                ts_ms,
                value,
            })
        };
        let (mut rss, mut threads, mut fds, mut fds_known) = (0u64, 0u64, 0u64, true);
        let mut cpu_ticks = 0u64;
        for (pid, stat) in &matched {
            rss = rss.saturating_add(stat.rss_pages.saturating_mul(self.page_bytes));
            threads += stat.threads;
            match std::fs::read_dir(format!("{PROC}/{pid}/fd")) {
                Ok(d) => fds += d.count() as u64,
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    problems.fds_denied += 1;
                    fds_known = false;
                }
                // Exited since it was listed.
                Err(_) => {}
            }
            if let Some(prev) = &self.previous {
                cpu_ticks += match prev.pids.get(pid) {
                    Some((start, ticks)) if *start == stat.start_ticks => {
                        stat.cpu_ticks.saturating_sub(*ticks)
                    }
                    // A process born since the previous step: all its CPU time is in this
                    // interval. One that was already running (it just began to match) has no
                    // baseline and adds nothing.
                    _ => match prev.uptime_ticks {
                        Some(up) if stat.start_ticks >= up => stat.cpu_ticks,
                        _ => 0,
                    },
                };
            }
        }
        push(&self.names.count, count as f64);
        push(&self.names.rss, rss as f64);
        push(&self.names.threads, threads as f64);
        if fds_known {
            push(&self.names.fds, fds as f64);
        }

        let pids: HashMap<i32, (u64, u64)> = matched
            .iter()
            .map(|(pid, s)| (*pid, (s.start_ticks, s.cpu_ticks)))
            .collect();
        if let Some(prev) = &self.previous {
            let elapsed_s = (ts_ms - prev.ts_ms) as f64 / 1000.0;
            if elapsed_s > 0.0 {
                let cores = cpu_ticks as f64 / self.ticks_per_s as f64 / elapsed_s;
                push(&self.names.cpu, cores * 100.0);
            }
            // A pid is the same process only with the same start time (pids are reused).
            let same = |a: &HashMap<i32, (u64, u64)>, b: &HashMap<i32, (u64, u64)>| {
                a.iter()
                    .filter(|(pid, (start, _))| b.get(pid).is_some_and(|(s, _)| s == start))
                    .count()
            };
            let kept = same(&pids, &prev.pids);
            let gone = prev.pids.len() - kept;
            let appeared = pids.len() - kept;
            self.pending_gone = (self.pending_gone + gone).min(self.config.max_pids);
            let restarts = appeared.min(self.pending_gone);
            self.pending_gone -= restarts;
            push(&self.names.restarts, restarts as f64);
        }
        self.previous = Some(Previous {
            ts_ms,
            uptime_ticks,
            pids,
        });
        out
    }
}

/// Runs one group every `interval` until `cancel`, publishing each batch like the host source.
async fn run(
    mut group: ProcessGroup,
    tx: SampleSender,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(group.config.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut errors_log = LogLimiter::new(Duration::from_secs(300));
    let mut denied_logged = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        // Reading /proc is blocking work, kept off the async workers.
        let step = tokio::task::spawn_blocking(move || {
            let mut problems = Problems::default();
            let batch = group.collect(now_ms(), &mut problems);
            (group, batch, problems)
        })
        .await;
        let (back, batch, problems) = match step {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "process metrics collector failed; it stops");
                break;
            }
        };
        group = back;
        Stats::add(&stats.process_errors, problems.errors);
        Stats::add(&stats.process_fds_denied, problems.fds_denied);
        Stats::add(&stats.process_pids_capped, problems.pids_capped);
        if problems.errors > 0 {
            if let Some(n) = errors_log.hit() {
                tracing::warn!(group = group.name(), failures = n, "cannot list /proc");
            }
        }
        if problems.fds_denied > 0 && !denied_logged {
            denied_logged = true;
            tracing::warn!(
                group = group.name(),
                "cannot read the open file descriptors of some processes (permission denied): process.{}.fds is not reported while that lasts; run the agent as the processes' user or with CAP_SYS_PTRACE to see them",
                group.name()
            );
        }
        if !batch.is_empty() && tx.send(Arc::new(batch)).is_err() {
            break;
        }
    }
}

/// Starts or reconciles the process groups, one task each (see [`SourceTasks::reconcile`]).
pub fn reconcile(
    tasks: &mut SourceTasks<ProcessSourceConfig>,
    configs: &[ProcessSourceConfig],
    tx: &SampleSender,
    stats: &Arc<Stats>,
    parent: &CancellationToken,
) {
    tasks.reconcile(configs, parent, |cfg, cancel| {
        tokio::spawn(run(
            ProcessGroup::new(cfg.clone()),
            tx.clone(),
            Arc::clone(stats),
            cancel,
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_with_odd_names() {
        let line = "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 50 0 0 20 0 3 0 98765 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.comm, "my (odd) proc");
        assert_eq!(
            (s.cpu_ticks, s.threads, s.start_ticks, s.rss_pages),
            (200, 3, 98765, 2048)
        );
        assert_eq!(parse_stat("12 (x) S 1 2"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn cgroup_paths_and_units() {
        assert_eq!(
            parse_cgroup("0::/system.slice/nginx.service\n"),
            Some("/system.slice/nginx.service")
        );
        let v1 = "12:cpu,cpuacct:/system.slice/a.service\n1:name=systemd:/system.slice/a.service\n";
        assert_eq!(parse_cgroup(v1), Some("/system.slice/a.service"));
        // Hybrid: the unified line wins.
        let hybrid = "1:name=systemd:/x.slice/old.service\n0::/system.slice/new.service\n";
        assert_eq!(parse_cgroup(hybrid), Some("/system.slice/new.service"));
        assert_eq!(parse_cgroup("0::/\n"), Some("/"));
        assert_eq!(parse_cgroup("garbage\n\n3:cpu:/x\n"), None);
        assert_eq!(parse_cgroup(""), None);

        assert_eq!(
            unit_of("/system.slice/nginx.service"),
            Some("nginx.service")
        );
        assert_eq!(
            unit_of("/system.slice/postgresql@16-main.service/sub"),
            Some("postgresql@16-main.service")
        );
        assert_eq!(
            unit_of("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service"),
            Some("foo.service")
        );
        assert_eq!(unit_of("/system.slice/docker-abc.scope"), None);
        assert_eq!(unit_of("/"), None);
        assert_eq!(unit_of("/.service"), None);
    }

    #[test]
    fn command_lines_and_names() {
        assert_eq!(
            cmdline_text(b"/usr/bin/python3\0-c\0x = 1\0"),
            "/usr/bin/python3 -c x = 1"
        );
        assert_eq!(argv0_name(b"/usr/sbin/nginx\0-g\0"), "nginx");
        assert_eq!(argv0_name(b"postgres: writer\0"), "postgres: writer");
        assert_eq!(argv0_name(b""), "");
    }

    fn config(text: &str) -> ProcessSourceConfig {
        let c = seismo_config::parse(&format!("[[sources.processes]]\nname = \"g\"\n{text}"), "t")
            .unwrap();
        c.sources.processes[0].clone()
    }

    /// The test process itself, matched by its cgroup and its pid's command line.
    #[test]
    fn measures_this_test_process() {
        let exe = std::env::current_exe().unwrap();
        let name = exe.file_name().unwrap().to_string_lossy().into_owned();
        let own_cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let cgroup = parse_cgroup(&own_cgroup).unwrap().to_owned();
        let mut g = ProcessGroup::new(config(&format!(
            "cmdline = '{}'\ncgroup = \"{}\"\n",
            regex::escape(&exe.to_string_lossy()),
            cgroup.replace('[', "[[]")
        )));
        let mut p = Problems::default();
        let first = g.collect(now_ms(), &mut p);
        let get = |batch: &[Sample], what: &str| {
            batch
                .iter()
                .find(|s| *s.signal == format!("process.g.{what}"))
                .map(|s| s.value)
        };
        assert_eq!(get(&first, "count"), Some(1.0), "{name}: {first:?}");
        assert!(get(&first, "memory.rss").unwrap() > 0.0);
        assert!(get(&first, "threads").unwrap() >= 1.0);
        assert!(get(&first, "fds").unwrap() >= 3.0);
        assert_eq!(
            get(&first, "cpu.utilization"),
            None,
            "no CPU before two readings"
        );
        assert_eq!(get(&first, "restarts"), None);
        // Burn some CPU, then the second reading has a rate.
        let until = std::time::Instant::now() + Duration::from_millis(300);
        let mut x = 0u64;
        while std::time::Instant::now() < until {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let second = g.collect(now_ms(), &mut p);
        assert!(get(&second, "cpu.utilization").unwrap() > 0.0, "{second:?}");
        assert_eq!(get(&second, "restarts"), Some(0.0));
        assert_eq!(p, Problems::default());
    }
}
