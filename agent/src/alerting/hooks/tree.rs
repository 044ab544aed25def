//! Every process of one hook run, wherever it went: a child that calls `setsid` (or double-forks
//! into a group of its own) leaves the hook's process group, so a group kill misses it.
//!
//! The agent is a child subreaper (`PR_SET_CHILD_SUBREAPER`): an orphan of a hook is re-parented
//! to the agent, never to init, so it stays in reach. A run's processes are found in /proc as
//! the hook's main process, the members of its process group, the agent's adopted children that
//! carry the run's marker in their environment (`SEISMO_HOOK_RUN`), every process seen as one of
//! those earlier in the run (same pid and start time: tracked while the hook runs), and all
//! their descendants.
//!
//! Reaping: tokio reaps the children it spawned by their pid (`waitpid(pid)`, never
//! `waitpid(-1)`), so the processes here are reaped by their pid too, and only those found as
//! members of a run other than its main process (which tokio waits for): an exit status tokio
//! waits for is never taken.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

/// The environment variable that marks a run's processes.
pub(crate) const MARKER: &str = "SEISMO_HOOK_RUN";

/// One process as /proc shows it.
#[derive(Debug, Clone, Copy)]
struct Proc {
    pid: i32,
    ppid: i32,
    pgid: i32,
    zombie: bool,
    /// Start time in clock ticks since boot: with the pid, a process's identity.
    start: u64,
}

fn stat(pid: i32) -> Option<Proc> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(Proc {
        pid,
        zombie: matches!(f.first(), Some(&"Z") | Some(&"X")),
        ppid: f.get(1)?.parse().ok()?,
        pgid: f.get(2)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
    })
}

fn snapshot() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat)
        .collect()
}

fn has_marker(pid: i32, marker: &[u8]) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|kv| kv == marker))
}

/// Makes the agent a child subreaper, once (and starts the sweep of [`reap_adopted`]). Logged when the kernel refuses (then a hook child
/// that leaves the process group and is orphaned goes to init and may escape the time-out).
pub(crate) fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tokio::spawn(async {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                reap_adopted();
            }
        });
        // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes no pointer.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        if rc != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), "cannot become a child subreaper: hook processes that leave their group and are orphaned may outlive a time-out");
        }
    });
}

/// A marker value unique to one run in this agent.
pub(crate) fn new_marker() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The processes of one run.
pub(crate) struct Tree {
    main: i32,
    main_start: u64,
    /// `SEISMO_HOOK_RUN=value`, as it appears in /proc/PID/environ.
    marker: Vec<u8>,
    /// Every member seen, by pid: its start time.
    seen: HashMap<i32, u64>,
}

impl Tree {
    pub fn new(main: i32, marker: &str) -> Tree {
        let main_start = stat(main).map_or(0, |p| p.start);
        let mut seen = HashMap::new();
        seen.insert(main, main_start);
        Tree {
            main,
            main_start,
            marker: format!("{MARKER}={marker}").into_bytes(),
            seen,
        }
    }

    /// The run's processes now (zombies included), remembered for later scans.
    fn scan(&mut self) -> Vec<Proc> {
        let procs = snapshot();
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        // The group's id is the main process's pid: it names the run's group only while that
        // process (same start time) exists; after tokio reaped it the pid may be reused.
        let main_alive = procs
            .iter()
            .any(|p| p.pid == self.main && p.start == self.main_start);
        let mut members: HashSet<i32> = procs
            .iter()
            .filter(|p| p.pid != me && p.start >= self.main_start)
            .filter(|p| {
                (main_alive && (p.pid == self.main || p.pgid == self.main))
                    || self.seen.get(&p.pid) == Some(&p.start)
                    || (p.ppid == me && !p.zombie && has_marker(p.pid, &self.marker))
            })
            .map(|p| p.pid)
            .collect();
        // Their descendants, whatever group or session they moved to.
        loop {
            let before = members.len();
            for p in &procs {
                if p.pid != me && members.contains(&p.ppid) {
                    members.insert(p.pid);
                }
            }
            if members.len() == before {
                break;
            }
        }
        let found: Vec<Proc> = procs
            .into_iter()
            .filter(|p| members.contains(&p.pid))
            .collect();
        for p in &found {
            self.seen.insert(p.pid, p.start);
        }
        found
    }

    /// Looks at the run's processes so later scans know them after they moved away.
    pub fn track(&mut self) {
        self.scan();
    }

    /// Sends `sig` to every live process of the run but its main one (which the caller signals
    /// with its group); returns how many there were.
    pub fn signal(&mut self, sig: i32) -> usize {
        let live: Vec<i32> = self
            .scan()
            .iter()
            .filter(|p| !p.zombie && p.pid != self.main)
            .map(|p| p.pid)
            .collect();
        for &pid in &live {
            // SAFETY: kill(2) with a pid found a moment ago with the same start time; ESRCH
            // (it exited meanwhile) is fine.
            unsafe {
                libc::kill(pid, sig);
            }
        }
        live.len()
    }

    /// Reaps the run's exited processes that were re-parented to the agent; returns how many of
    /// its processes (its main one aside) are still in /proc.
    pub fn reap(&mut self) -> usize {
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let mut left = 0;
        for p in self.scan() {
            if p.pid == self.main {
                continue;
            }
            if p.zombie && p.ppid == me {
                reap_pid(p.pid);
            } else {
                left += 1;
            }
        }
        left
    }

    /// Kills every process of the run but the main one: SIGKILL until none is alive (bounded),
    /// then reaps those re-parented to the agent.
    pub async fn kill_all(&mut self) {
        for _ in 0..50 {
            if self.signal(libc::SIGKILL) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for _ in 0..50 {
            if self.reap() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The run ended by itself: processes it left running are let be, but reaped by
    /// [`reap_adopted`] once they exit.
    pub fn adopt_leftovers(mut self) {
        let main = self.main;
        if self.scan().iter().any(|p| p.pid != main) {
            let mut adopted = ADOPTED.lock().unwrap_or_else(|p| p.into_inner());
            adopted.push(self);
        }
    }
}

/// Runs whose leftovers are still alive.
static ADOPTED: Mutex<Vec<Tree>> = Mutex::new(Vec::new());

/// Reaps exited leftovers of earlier runs (at every run, and every 10 s from the first run on);
/// forgets runs with none left.
pub(crate) fn reap_adopted() {
    let mut adopted = ADOPTED.lock().unwrap_or_else(|p| p.into_inner());
    adopted.retain_mut(|t| t.reap() > 0);
}

fn reap_pid(pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid on one pid that is our exited child and not one tokio waits for.
    unsafe {
        libc::waitpid(pid, &mut status, libc::WNOHANG);
    }
}
