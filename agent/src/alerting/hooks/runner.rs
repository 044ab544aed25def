//! Runs one hook command: the configured argv directly (no shell), in a process group of its
//! own, with a clean environment, the event as JSON on stdin; the first 4 KiB of stdout and
//! stderr kept. At the timeout, or when the agent stops, every process of the run gets SIGTERM
//! and, after a grace period, SIGKILL: its group, and the descendants that left the group
//! (`setsid`, a double fork), found as `tree.rs` describes. A child that ignores SIGTERM and its
//! own children die too.
//!
//! The run ends when the main process exited and both output pipes closed. Processes the hook
//! leaves behind after that, with their output elsewhere, are left alone (a hook may start
//! something on purpose) and reaped once they exit; a leftover that keeps the pipes open
//! belongs to the run and is stopped with it at the timeout.

use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::outcome::Capture;
use super::tree::{self, Tree};

/// After SIGKILL, how long to wait for the main process and the pipes.
const KILL_WAIT: Duration = Duration::from_secs(1);
/// How often a running hook's processes are looked at, so that those that leave its group are
/// still known at the time-out.
const TRACK_EVERY: Duration = Duration::from_millis(100);

/// One command to run.
pub(crate) struct Run<'a> {
    pub program: &'a Path,
    /// Arguments after the program (argv[1..]).
    pub args: &'a [String],
    /// The whole environment of the command.
    pub env: &'a [(String, String)],
    pub stdin: &'a [u8],
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// How the run went.
#[derive(Debug)]
pub(crate) struct Report {
    pub status: Option<ExitStatus>,
    /// Why the command could not be started (or waited for).
    pub error: Option<String>,
    pub timed_out: bool,
    pub interrupted: bool,
    pub duration: Duration,
    pub stdout: Capture,
    pub stderr: Capture,
}

enum End {
    Exited(io::Result<ExitStatus>),
    TimedOut,
    Interrupted,
}

pub(crate) async fn run(r: &Run<'_>, stop: &CancellationToken) -> Report {
    let started = Instant::now();
    let mut report = Report {
        status: None,
        error: None,
        timed_out: false,
        interrupted: false,
        duration: Duration::ZERO,
        stdout: Capture::default(),
        stderr: Capture::default(),
    };
    tree::become_subreaper();
    tree::reap_adopted();
    let marker = tree::new_marker();
    let mut cmd = Command::new(r.program);
    cmd.args(r.args)
        .env_clear()
        .envs(r.env.iter().map(|(k, v)| (k, v)))
        .env(tree::MARKER, &marker)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(format!("cannot start {}: {e}", r.program.display()));
            report.duration = started.elapsed();
            return report;
        }
    };
    // The process group's id is the main process's pid (process_group(0)).
    let pgid = child.id().and_then(|p| i32::try_from(p).ok());
    let mut procs = pgid.map(|pid| Tree::new(pid, &marker));
    let stdin = child.stdin.take();
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let input = r.stdin;
    let feed = async move {
        if let Some(mut w) = stdin {
            // A hook that does not read its stdin is fine: a broken pipe is not an error.
            let _ = w.write_all(input).await;
        }
    };

    let end = {
        let work = async {
            tokio::join!(
                feed,
                read(&mut out, &mut report.stdout),
                read(&mut err, &mut report.stderr)
            );
            End::Exited(child.wait().await)
        };
        let track = async {
            loop {
                tokio::time::sleep(TRACK_EVERY).await;
                if let Some(t) = procs.as_mut() {
                    t.track();
                }
            }
        };
        tokio::select! {
            e = work => e,
            () = tokio::time::sleep(r.timeout) => End::TimedOut,
            () = stop.cancelled() => End::Interrupted,
            () = track => End::TimedOut,
        }
    };
    match end {
        End::Exited(Ok(status)) => report.status = Some(status),
        End::Exited(Err(e)) => report.error = Some(format!("cannot wait for the hook: {e}")),
        End::TimedOut | End::Interrupted => {
            report.timed_out = matches!(end, End::TimedOut);
            report.interrupted = matches!(end, End::Interrupted);
            // The main process is not reaped before the last signal, so its pid, which is
            // the group's id, cannot have been reused by an unrelated process.
            if let (Some(pgid), Some(procs)) = (pgid, procs.as_mut()) {
                signal_group(pgid, libc::SIGTERM);
                procs.signal(libc::SIGTERM);
                let settle = async {
                    tokio::join!(
                        read(&mut out, &mut report.stdout),
                        read(&mut err, &mut report.stderr)
                    );
                    while !exited(pgid) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                };
                let _ = tokio::time::timeout(r.grace, settle).await;
                // Whatever is left, in the group or out of it, including children ignoring
                // SIGTERM; those re-parented to the agent are reaped.
                signal_group(pgid, libc::SIGKILL);
                procs.kill_all().await;
            }
            match tokio::time::timeout(KILL_WAIT, child.wait()).await {
                Ok(Ok(status)) => report.status = Some(status),
                Ok(Err(e)) => report.error = Some(format!("cannot wait for the hook: {e}")),
                Err(_) => report.error = Some("the hook did not exit after SIGKILL".into()),
            }
            // Pipes held by a process the kill missed (none found in /proc) may stay open.
            let _ = tokio::time::timeout(KILL_WAIT, async {
                tokio::join!(
                    read(&mut out, &mut report.stdout),
                    read(&mut err, &mut report.stderr)
                )
            })
            .await;
            if let Some(procs) = procs.as_mut() {
                procs.kill_all().await;
            }
        }
    }
    if let Some(procs) = procs {
        procs.adopt_leftovers();
    }
    report.duration = started.elapsed();
    report
}

/// Reads `r` to its end (or error) into `cap`, then drops it; cancel-safe.
async fn read<R: AsyncRead + Unpin>(r: &mut Option<R>, cap: &mut Capture) {
    let Some(reader) = r.as_mut() else { return };
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => cap.push(&buf[..n]),
        }
    }
    *r = None;
}

fn signal_group(pgid: i32, sig: i32) {
    // SAFETY: kill(2) on a negative pid signals that process group; no memory is involved.
    // ESRCH (nobody left in the group) is the expected outcome when everything already exited.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// True when our child `pid` has exited, without reaping it (WNOWAIT), or is already reaped.
fn exited(pid: i32) -> bool {
    // SAFETY: waitid writes only into `info`, a zeroed siginfo_t we own.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        rc != 0 || info.si_pid() != 0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;
    use std::path::PathBuf;

    use super::*;

    /// Writes an executable `/bin/sh` script.
    pub(crate) fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn env(dir: &Path) -> Vec<(String, String)> {
        vec![
            ("PATH".into(), seismo_config::DEFAULT_PATH.into()),
            ("DIR".into(), dir.display().to_string()),
            ("SEISMO_SIGNAL".into(), "host.cpu.utilization".into()),
        ]
    }

    async fn run_script(dir: &Path, body: &str, stdin: &[u8], timeout: Duration) -> Report {
        let program = script(dir, "hook.sh", body);
        let env = env(dir);
        let args = vec!["first arg".to_owned(), "$(second)".to_owned()];
        let r = Run {
            program: &program,
            args: &args,
            env: &env,
            stdin,
            timeout,
            grace: Duration::from_millis(300),
        };
        run(&r, &CancellationToken::new()).await
    }

    /// `/proc/{pid}/stat` says the process is gone or a zombie (a zombie is dead: it waits only
    /// for its parent, possibly an init that does not reap, to collect it).
    pub(crate) fn dead(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        }
    }

    fn read_pid(p: &Path) -> i32 {
        std::fs::read_to_string(p).unwrap().trim().parse().unwrap()
    }

    #[tokio::test]
    async fn stdin_env_and_args_arrive_and_output_is_captured() {
        let dir = tempfile::tempdir().unwrap();
        let r = run_script(
            dir.path(),
            "cat > \"$DIR/stdin\"; env > \"$DIR/env\"; printf '%s\\n' \"$@\" > \"$DIR/args\"; echo out; echo err >&2; exit 3",
            b"{\"alert\":\"$(touch x)\"}\n",
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(r.status.and_then(|s| s.code()), Some(3), "{r:?}");
        assert!(!r.timed_out && r.error.is_none());
        assert_eq!(r.stdout.text(), "out\n");
        assert_eq!(r.stderr.text(), "err\n");
        let stdin = std::fs::read_to_string(dir.path().join("stdin")).unwrap();
        assert_eq!(stdin, "{\"alert\":\"$(touch x)\"}\n");
        let env = std::fs::read_to_string(dir.path().join("env")).unwrap();
        assert!(env
            .lines()
            .any(|l| l == "SEISMO_SIGNAL=host.cpu.utilization"));
        // Only what we set (the shell adds PWD, SHLVL and `_`): the agent's own environment,
        // which may hold credentials, is not passed on.
        let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
        assert!(
            names.iter().all(|n| [
                "PATH",
                "DIR",
                "SEISMO_SIGNAL",
                "SEISMO_HOOK_RUN",
                "PWD",
                "SHLVL",
                "_"
            ]
            .contains(n)),
            "{names:?}"
        );
        let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
        assert_eq!(args, "first arg\n$(second)\n");
    }

    #[tokio::test]
    async fn output_beyond_4_kib_is_cut_and_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let r = run_script(
            dir.path(),
            "head -c 100000 /dev/zero | tr '\\0' a",
            b"",
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(r.status.and_then(|s| s.code()), Some(0));
        assert_eq!(r.stdout.head.len(), 4096);
        assert_eq!(r.stdout.total, 100_000);
        assert!(r.stdout.truncated() && !r.stderr.truncated());
    }

    #[tokio::test]
    async fn the_timeout_kills_the_whole_group_even_children_ignoring_sigterm() {
        let dir = tempfile::tempdir().unwrap();
        // The main process and its child ignore SIGTERM (an ignored signal stays ignored across
        // fork and exec); the grandchild is a sleep with its output sent elsewhere.
        let body = r#"trap '' TERM
echo $$ > "$DIR/main.pid"
sh -c 'sleep 1000 > /dev/null 2>&1 & echo $! > "$DIR/grandchild.pid"; while :; do sleep 1; done' &
echo $! > "$DIR/child.pid"
echo started
while [ ! -s "$DIR/grandchild.pid" ]; do sleep 0.05; done
touch "$DIR/ready"
while :; do sleep 1; done"#;
        let r = run_script(dir.path(), body, b"", Duration::from_secs(3)).await;
        assert!(
            dir.path().join("ready").exists(),
            "the hook did not get going: {r:?}"
        );
        assert!(r.timed_out && !r.interrupted, "{r:?}");
        assert!(r.duration >= Duration::from_secs(3));
        assert_eq!(
            r.status.and_then(|s| s.signal()),
            Some(libc::SIGKILL),
            "the main process ignored SIGTERM, so SIGKILL ended it: {r:?}"
        );
        assert_eq!(
            r.stdout.text(),
            "started\n",
            "output before the timeout is kept"
        );
        for name in ["main.pid", "child.pid", "grandchild.pid"] {
            let pid = read_pid(&dir.path().join(name));
            // Reparented processes are reaped by init asynchronously: allow it a moment.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while !dead(pid) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(dead(pid), "{name} ({pid}) survived the timeout");
        }
    }

    /// Gone from /proc: dead and reaped (not a zombie left to the agent).
    fn gone(pid: i32) -> bool {
        !Path::new(&format!("/proc/{pid}")).exists()
    }

    /// Descendants that leave the hook's process group (setsid, a double fork whose middle
    /// process exits at once, both) are killed at the time-out and, re-parented to the agent
    /// (a subreaper), reaped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_timeout_kills_descendants_that_left_the_group_and_reaps_them() {
        let dir = tempfile::tempdir().unwrap();
        let body = r#"echo $$ > "$DIR/main.pid"
setsid sh -c 'echo $$ > "$DIR/setsid.pid"; exec sleep 300' > /dev/null 2>&1 &
sh -c 'sh -c "echo \$\$ > "$DIR/double.pid"; exec sleep 301" > /dev/null 2>&1 &'
sh -c 'setsid sh -c "echo \$\$ > "$DIR/both.pid"; trap "" TERM; while :; do sleep 1; done" > /dev/null 2>&1 &'
while [ ! -s "$DIR/setsid.pid" ] || [ ! -s "$DIR/double.pid" ] || [ ! -s "$DIR/both.pid" ]; do sleep 0.05; done
touch "$DIR/ready"
exec sleep 1000"#;
        let r = run_script(dir.path(), body, b"", Duration::from_secs(3)).await;
        assert!(dir.path().join("ready").exists(), "not started: {r:?}");
        assert!(r.timed_out, "{r:?}");
        for name in ["main.pid", "setsid.pid", "double.pid", "both.pid"] {
            let pid = read_pid(&dir.path().join(name));
            assert!(
                gone(pid),
                "{name} ({pid}) outlived the time-out or was not reaped"
            );
        }
    }

    /// Reaping a run's orphans takes no exit status tokio waits for: a run that ends while
    /// another one's orphans are killed and reaped still gets its own status.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reaping_orphans_keeps_the_exit_status_of_other_runs() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let orphans = r#"setsid sh -c 'exec sleep 300' > /dev/null 2>&1 &
sh -c 'sh -c "exec sleep 301" > /dev/null 2>&1 &'
exec sleep 1000"#;
        let (ra, rb) = tokio::join!(
            run_script(a.path(), orphans, b"", Duration::from_millis(1500)),
            run_script(b.path(), "sleep 1.5; exit 7", b"", Duration::from_secs(30)),
        );
        assert!(ra.timed_out, "{ra:?}");
        assert_eq!(rb.status.and_then(|s| s.code()), Some(7), "{rb:?}");
        assert!(rb.error.is_none(), "{rb:?}");
    }

    /// A hook's background job that outlives it is left running, and reaped once it exits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_leftover_is_let_be_and_reaped_when_it_exits() {
        let dir = tempfile::tempdir().unwrap();
        let body = r#"setsid sh -c 'echo $$ > "$DIR/left.pid"; sleep 1' > /dev/null 2>&1 &
while [ ! -s "$DIR/left.pid" ]; do sleep 0.05; done"#;
        let r = run_script(dir.path(), body, b"", Duration::from_secs(30)).await;
        assert_eq!(r.status.and_then(|s| s.code()), Some(0), "{r:?}");
        let pid = read_pid(&dir.path().join("left.pid"));
        assert!(!dead(pid), "the leftover was killed");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !dead(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(dead(pid));
        tree::reap_adopted();
        assert!(gone(pid), "the exited leftover ({pid}) was not reaped");
    }

    #[tokio::test]
    async fn a_hook_that_exits_on_sigterm_is_not_waited_for_until_the_grace_ends() {
        let dir = tempfile::tempdir().unwrap();
        let program = script(dir.path(), "hook.sh", "exec sleep 1000");
        let env = env(dir.path());
        let stop = CancellationToken::new();
        let r = Run {
            program: &program,
            args: &[],
            env: &env,
            stdin: b"",
            timeout: Duration::from_secs(600),
            grace: Duration::from_secs(600),
        };
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stopper.cancel();
        });
        // Bounded by the test's own timeout: a run that waited for the grace would hang here.
        let report = tokio::time::timeout(Duration::from_secs(60), run(&r, &stop))
            .await
            .expect("the run ended promptly after SIGTERM");
        assert!(report.interrupted && !report.timed_out);
        assert_eq!(report.status.and_then(|s| s.signal()), Some(libc::SIGTERM));
    }

    #[tokio::test]
    async fn a_program_that_cannot_start_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        let r = Run {
            program: &missing,
            args: &[],
            env: &[],
            stdin: b"",
            timeout: Duration::from_secs(5),
            grace: Duration::from_secs(1),
        };
        let report = run(&r, &CancellationToken::new()).await;
        assert!(report.status.is_none());
        assert!(report.error.unwrap().contains("cannot start"));
    }
}
