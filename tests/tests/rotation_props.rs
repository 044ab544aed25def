//! Property-based test of the file source's checkpoint and rotation state machine: random
//! sequences of writes (some ending in half a line, completed later), rename rotation,
//! copytruncate, deletion, re-creation, and agent stops (SIGTERM or SIGKILL) and starts are
//! applied to real files while the real binary tails them. The property: the multiset of lines
//! in the lines sink (`[sinks.lines]`, exactly once by design) equals the multiset written,
//! also after one more clean restart at the end. A failure names every missing and duplicated
//! line and the operations as they were applied; proptest shrinks the sequence and prints it.
//!
//! `PROPTEST_CASES` sets the number of cases (default 12; a case costs a few seconds), and
//! `PROPTEST_MAX_SHRINK_ITERS` the shrinking steps (default 32).
//!
//! Only sequences inside the agent's guarantee are applied (README "Log files": exactly once
//! "as long as the file still exists when the agent comes back"). An operation outside it is
//! adapted or skipped by [`World::apply`], each time with the reason next to it:
//! - a file is deleted only while the agent holds it open (it then reads the rest through its
//!   handle), or when all its lines are already committed; and the agent is stopped only once
//!   the lines of the deleted file are committed (after a restart, a deleted file is gone);
//! - copytruncate happens only once the agent has committed the file's first 1 KiB, whose
//!   fingerprint recognises the copy (shorter files' copies are read again, as documented);
//!   while the agent runs the file is topped up and the test waits for that, while it is down
//!   the copytruncate is skipped when the checkpoint does not cover 1 KiB yet. The agent may
//!   stop or crash at any point after it, and a copytruncate may happen while it is down;
//! - the copy appears whole (written under a name the glob does not match, then renamed):
//!   a copy found while still shorter than 1 KiB, as logrotate writes it in place, is not
//!   recognised (the README's "files under 1 KiB at rotation") and is read from its start;
//! - a half-written line is completed before its file is rotated, truncated or deleted (the
//!   writer does that before it reopens; a line cut by copytruncate is cut in the data itself).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use seismo_e2e::{default_config_with, Agent};

/// Bound of every wait for the agent (start, catch-up, exit).
const WAIT: Duration = Duration::from_secs(30);

/// One case at a time: each starts and stops agents and writes many files.
static MACHINE: Mutex<()> = Mutex::new(());

/// Line `n`, about 80 bytes: 13 lines pass the 1 KiB fingerprint.
fn numbered(n: u64) -> String {
    format!(
        "line {n:07} pid=4242 user=u{:02} GET /api/items/{} took {:03}ms status=200",
        n % 97,
        n * 7919 % 100_000,
        n % 997
    )
}

fn number_of(line: &str) -> Option<u64> {
    line.strip_prefix("line ")?.get(..7)?.parse().ok()
}

#[derive(Debug, Clone)]
enum Op {
    /// Append `lines` complete lines; with `partial`, then the first half of one more line
    /// (no newline yet): the next operation that writes or moves the file completes it.
    Write { lines: u8, partial: bool },
    /// Let time pass (checkpoints every second, discovery every 5 s, a finished file closes
    /// after 2 s idle).
    Pause { ms: u16 },
    /// logrotate's `create`: app.log.N → app.log.N+1, app.log → app.log.1, a new app.log.
    RenameRotate,
    /// logrotate's `copytruncate`: app.log.N shifted, app.log copied to app.log.1 then cut to 0
    /// in place. `unread` lines are appended just before, likely unread when it is cut: the
    /// agent must read them from the copy.
    CopyTruncate { unread: u8 },
    /// app.log deleted; the writer closes it (the next write creates it again).
    Delete,
    /// An empty app.log created (when there is none) and opened by the writer.
    Recreate,
    /// The agent stopped: SIGKILL (`kill`) or SIGTERM (graceful, exit code 0).
    Stop { kill: bool },
    /// The agent started (when stopped).
    Start,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (1u8..=30, any::<bool>()).prop_map(|(lines, partial)| Op::Write { lines, partial }),
        1 => (0u16..=1200).prop_map(|ms| Op::Pause { ms }),
        2 => Just(Op::RenameRotate),
        2 => (0u8..=20).prop_map(|unread| Op::CopyTruncate { unread }),
        1 => Just(Op::Delete),
        1 => Just(Op::Recreate),
        2 => any::<bool>().prop_map(|kill| Op::Stop { kill }),
        2 => Just(Op::Start),
    ]
}

/// The live file as the writer sees it.
struct Live {
    out: File,
    /// Complete lines of its current content: (number, end offset).
    lines: Vec<(u64, u64)>,
    len: u64,
    /// The line whose first half was written without its newline.
    partial: Option<u64>,
}

/// Real files, the real agent, and what was written.
struct World {
    _dir: tempfile::TempDir,
    logs: PathBuf,
    state: PathBuf,
    sink: PathBuf,
    config: String,
    agent: Option<Agent>,
    live: Option<Live>,
    /// app.log.1 ..= app.log.{rotated} exist.
    rotated: usize,
    /// Lines 0..next were written (each once).
    next: u64,
    /// Lines that must be committed before the agent may stop (they will not be in any file it
    /// can resume after a restart).
    before_stop: Vec<u64>,
    /// What was applied, for the failure message.
    done: Vec<String>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).expect("logs dir");
        let state = dir.path().join("state");
        let sink = dir.path().join("lines.jsonl");
        let mut text = default_config_with(
            &state,
            &[
                ("format = \"human\"", "format = \"json\""),
                // [sources.host]'s `enabled`, the first in the file.
                (
                    "enabled = true\n# Sampling interval",
                    "enabled = false\n# Sampling interval",
                ),
                (
                    "# [sinks.lines]\n# path = \"/var/lib/seismo/lines.jsonl\"",
                    &format!("[sinks.lines]\npath = \"{}\"", sink.display()),
                ),
            ],
        );
        // app.log and every rotated app.log.N, copies included (they are recognised).
        text.push_str(&format!(
            "\n[[sources.files]]\nname = \"app\"\npaths = [\"{}/app.log*\"]\nstart_at = \"beginning\"\n",
            logs.display()
        ));
        let config = dir.path().join("seismo.toml");
        std::fs::write(&config, text).expect("config");
        World {
            logs,
            state,
            sink,
            config: config.to_str().expect("UTF-8 path").to_owned(),
            _dir: dir,
            agent: None,
            live: None,
            rotated: 0,
            next: 0,
            before_stop: Vec::new(),
            done: Vec::new(),
        }
    }

    fn live_path(&self) -> PathBuf {
        self.logs.join("app.log")
    }

    fn rotated_path(&self, n: usize) -> PathBuf {
        self.logs.join(format!("app.log.{n}"))
    }

    fn start(&mut self) {
        let mut agent = Agent::start(&["run", "--config", &self.config]);
        if agent
            .wait_stderr(WAIT, |l| l.contains("seismo started"))
            .is_none()
        {
            panic!("no start line: {:?}", agent.seen_stderr);
        }
        self.agent = Some(agent);
    }

    /// Opens app.log for appending (creating it), as the application does.
    fn open_live(&mut self) -> &mut Live {
        if self.live.is_none() {
            let out = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.live_path())
                .expect("open app.log");
            self.live = Some(Live {
                out,
                lines: Vec::new(),
                len: 0,
                partial: None,
            });
        }
        self.live.as_mut().expect("live file")
    }

    fn write_lines(&mut self, k: u64) {
        let first = self.next;
        let live = self.open_live();
        let mut text = String::new();
        for n in first..first + k {
            text.push_str(&numbered(n));
            text.push('\n');
            live.lines.push((n, live.len + text.len() as u64));
        }
        live.out.write_all(text.as_bytes()).expect("write");
        live.len += text.len() as u64;
        self.next += k;
    }

    /// Writes the second half of a half-written line.
    fn complete_partial(&mut self) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let Some(n) = live.partial.take() else { return };
        let line = numbered(n);
        let rest = format!("{}\n", &line[line.len() / 2..]);
        live.out.write_all(rest.as_bytes()).expect("write");
        live.len += rest.len() as u64;
        live.lines.push((n, live.len));
        self.done.push(format!("  completed line {n}"));
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Write { lines, partial } => {
                self.complete_partial();
                let first = self.next;
                self.write_lines(u64::from(lines));
                let mut what = format!("write lines {first}..{}", self.next);
                if partial {
                    let n = self.next;
                    self.next += 1;
                    let line = numbered(n);
                    let half = &line[..line.len() / 2];
                    let live = self.open_live();
                    live.out.write_all(half.as_bytes()).expect("write");
                    live.len += half.len() as u64;
                    live.partial = Some(n);
                    what.push_str(&format!(" + half of line {n}"));
                }
                self.done.push(what);
            }
            Op::Pause { ms } => {
                std::thread::sleep(Duration::from_millis(u64::from(ms)));
                self.done.push(format!("pause {ms} ms"));
            }
            Op::RenameRotate => {
                self.complete_partial();
                if self.live.is_none() {
                    // logrotate's `missingok`: nothing to rotate.
                    self.done.push("rename-rotate skipped: no app.log".into());
                    return;
                }
                self.shift_rotated();
                std::fs::rename(self.live_path(), self.rotated_path(1)).expect("rename");
                self.live = None;
                self.open_live();
                self.done
                    .push("rename-rotate: app.log → app.log.1, new app.log".into());
            }
            Op::CopyTruncate { unread } => self.copy_truncate(u64::from(unread)),
            Op::Delete => {
                self.complete_partial();
                let Some(live) = &self.live else {
                    self.done.push("delete skipped: no app.log".into());
                    return;
                };
                let lines: Vec<u64> = live.lines.iter().map(|&(n, _)| n).collect();
                match &self.agent {
                    Some(agent) => {
                        // Only a file the agent holds open can be read after its deletion.
                        let pid = agent.pid();
                        let path = self.live_path();
                        wait_until("the agent holds app.log open", || holds_open(pid, &path));
                        self.before_stop.extend(&lines);
                    }
                    None => {
                        // The agent is down: deleting unread lines would lose them, which no
                        // tailer can prevent.
                        let committed = self.committed();
                        if lines.iter().any(|n| !committed.contains_key(n)) {
                            self.done
                                .push("delete skipped: agent down, lines not yet read".into());
                            return;
                        }
                    }
                }
                std::fs::remove_file(self.live_path()).expect("delete");
                self.live = None;
                self.done
                    .push(format!("delete app.log ({} lines)", lines.len()));
            }
            Op::Recreate => {
                if self.live.is_some() {
                    self.done.push("recreate skipped: app.log exists".into());
                    return;
                }
                self.open_live();
                self.done.push("recreate app.log (empty)".into());
            }
            Op::Stop { kill } => {
                let Some(mut agent) = self.agent.take() else {
                    self.done.push("stop skipped: not running".into());
                    return;
                };
                self.settle_obligations();
                if kill {
                    agent.signal(libc::SIGKILL);
                    agent.wait_exit(WAIT);
                } else {
                    agent.signal(libc::SIGTERM);
                    let (status, _) = agent.wait_exit(WAIT);
                    assert_eq!(status.code(), Some(0), "stderr: {:?}", agent.seen_stderr);
                }
                self.done
                    .push(if kill { "SIGKILL" } else { "SIGTERM" }.into());
            }
            Op::Start => {
                if self.agent.is_some() {
                    self.done.push("start skipped: running".into());
                    return;
                }
                self.start();
                self.done.push("start".into());
            }
        }
    }

    /// app.log.N → app.log.N+1, from the oldest, as logrotate numbers them.
    fn shift_rotated(&mut self) {
        for n in (1..=self.rotated).rev() {
            std::fs::rename(self.rotated_path(n), self.rotated_path(n + 1)).expect("shift");
        }
        self.rotated += 1;
    }

    fn copy_truncate(&mut self, unread: u64) {
        self.complete_partial();
        if self.live.is_none() {
            self.done.push("copytruncate skipped: no app.log".into());
            return;
        }
        // A copy is recognised by the original's first 1 KiB, which the agent must have read
        // and committed: while it runs, top the file up past 1 KiB and wait for that.
        let past_1k = |w: &World| -> Vec<u64> {
            w.live
                .as_ref()
                .map(|l| {
                    l.lines
                        .iter()
                        .filter(|&&(_, end)| end >= 1024)
                        .map(|&(n, _)| n)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut topped = 0;
        if self.agent.is_none() {
            let c = self.committed();
            if !past_1k(self).iter().any(|n| c.contains_key(n)) {
                self.done
                    .push("copytruncate skipped: agent down, first 1 KiB not committed".into());
                return;
            }
        } else {
            while self.live.as_ref().is_some_and(|l| l.len < 1200) {
                self.write_lines(1);
                topped += 1;
            }
            let past = past_1k(self);
            let deadline = Instant::now() + WAIT;
            loop {
                let c = self.committed();
                if past.iter().any(|n| c.contains_key(n)) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the agent never read app.log past 1 KiB; applied so far:\n{}",
                    self.done.join("\n")
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let first = self.next;
        self.write_lines(unread);
        self.shift_rotated();
        // The copy appears whole (written under a name the glob does not match, then renamed
        // into place): logrotate writes it in place, and a copy seen before its first 1 KiB
        // are written is not recognised.
        let tmp = self.logs.join("copy.tmp");
        std::fs::copy(self.live_path(), &tmp).expect("copy");
        std::fs::rename(&tmp, self.rotated_path(1)).expect("rename copy");
        let live = self.live.as_mut().expect("live file");
        live.out.set_len(0).expect("truncate");
        live.lines.clear();
        live.len = 0;
        let when = if self.agent.is_some() {
            ""
        } else {
            " (agent down)"
        };
        self.done.push(format!(
            "copytruncate{when}: topped up {topped} lines, lines {first}..{} appended just before",
            self.next
        ));
    }

    /// Waits (bounded) until every line of `before_stop` is committed; a failure says which
    /// lines are missing.
    fn settle_obligations(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            let c = self.committed();
            let missing: Vec<u64> = self
                .before_stop
                .iter()
                .copied()
                .filter(|n| !c.contains_key(n))
                .collect();
            if missing.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "before stopping: lines {} not committed; applied:\n{}",
                ranges(&missing),
                self.done.join("\n")
            );
            std::thread::sleep(Duration::from_millis(30));
        }
        self.before_stop.clear();
    }

    /// Committed lines (the sink up to the length in the checkpoint), counted by number.
    fn committed(&self) -> BTreeMap<u64, u32> {
        let Ok(cp) = std::fs::read(self.state.join("logs/checkpoints.json")) else {
            return BTreeMap::new();
        };
        let cp: serde_json::Value = serde_json::from_slice(&cp).expect("checkpoint JSON");
        let len = cp["lines_sink"]["len"].as_u64().unwrap_or(0) as usize;
        let data = std::fs::read(&self.sink).unwrap_or_default();
        assert!(data.len() >= len, "the sink is shorter than its checkpoint");
        count(&parse_sink(&data[..len]))
    }

    /// The whole sink (after a clean stop, all of it is committed).
    fn sink_lines(&self) -> Vec<(String, String)> {
        parse_sink(&std::fs::read(&self.sink).unwrap_or_default())
    }

    /// Completes the sequence (half line, agent running), waits until everything written is
    /// committed, stops the agent cleanly, restarts it once more and stops it again; returns
    /// what the sink holds then.
    fn finish(&mut self) -> Vec<(String, String)> {
        self.complete_partial();
        if self.agent.is_none() {
            self.start();
            self.done.push("start (end of sequence)".into());
        }
        let agent = self.agent.take().expect("running");
        // Bounded catch-up; a shortfall is reported line by line by the caller.
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let c = self.committed();
            if (0..self.next).all(|n| c.contains_key(&n)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Time for a line read twice to show up.
        std::thread::sleep(Duration::from_millis(800));
        stop_cleanly(agent);
        let lines = self.sink_lines();
        assert_eq!(
            count(&lines),
            self.committed(),
            "after a clean stop the whole sink is committed"
        );
        // One more start: nothing may be read again from what the checkpoint covers.
        self.start();
        let agent = self.agent.take().expect("running");
        std::thread::sleep(Duration::from_millis(800));
        stop_cleanly(agent);
        self.done.push("end: SIGTERM, start, SIGTERM".into());
        self.sink_lines()
    }
}

fn stop_cleanly(mut agent: Agent) {
    agent.signal(libc::SIGTERM);
    let (status, _) = agent.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "stderr: {:?}", agent.seen_stderr);
}

fn parse_sink(data: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(data)
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            (
                v["path"].as_str().unwrap_or_default().to_owned(),
                v["line"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Sink lines counted by number; a line that is not exactly a written line counts under
/// `u64::MAX` (reported as altered).
fn count(lines: &[(String, String)]) -> BTreeMap<u64, u32> {
    let mut out = BTreeMap::new();
    for (_, line) in lines {
        let n = number_of(line)
            .filter(|&n| *line == numbered(n))
            .unwrap_or(u64::MAX);
        *out.entry(n).or_default() += 1;
    }
    out
}

/// "3..=7, 12" for [3, 4, 5, 6, 7, 12].
fn ranges(ns: &[u64]) -> String {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &n in ns {
        match out.last_mut() {
            Some(r) if r.1 + 1 == n => r.1 = n,
            _ => out.push((n, n)),
        }
    }
    let parts: Vec<String> = out
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}..={b}")
            }
        })
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// True when process `pid` has `path` open (read from /proc, as an operator would check).
fn holds_open(pid: i32, path: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|p| p == path))
}

fn wait_until(what: &str, pred: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Operations applied (and skipped) over the whole run, by kind: printed after each case
/// (`--nocapture`) to show what the generated sequences exercised.
static TALLY: Mutex<BTreeMap<String, u32>> = Mutex::new(BTreeMap::new());

fn tally(done: &[String]) {
    let mut t = TALLY.lock().unwrap_or_else(|e| e.into_inner());
    for d in done {
        let kind = d.trim_start().split([' ', ':']).next().unwrap_or_default();
        let key = if d.contains("skipped") {
            format!("{kind} (skipped)")
        } else if d.contains("(agent down)") {
            format!("{kind} (agent down)")
        } else {
            kind.to_owned()
        };
        *t.entry(key).or_default() += 1;
    }
    eprintln!("operations so far: {t:?}");
}

/// Applies `ops` and checks that every written line is in the sink exactly once.
fn run_case(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut w = World::new();
    w.start();
    for op in ops {
        w.apply(op);
    }
    let lines = w.finish();
    tally(&w.done);
    let seen = count(&lines);
    let missing: Vec<u64> = (0..w.next).filter(|n| !seen.contains_key(n)).collect();
    let twice: Vec<u64> = seen
        .iter()
        .filter(|&(&n, &c)| n < w.next && c > 1)
        .map(|(&n, _)| n)
        .collect();
    let altered: Vec<&String> = lines
        .iter()
        .filter(|(_, l)| number_of(l).is_none_or(|n| n >= w.next || *l != numbered(n)))
        .map(|(_, l)| l)
        .take(5)
        .collect();
    if missing.is_empty() && twice.is_empty() && altered.is_empty() {
        return Ok(());
    }
    let dup_detail: Vec<String> = twice
        .iter()
        .take(20)
        .map(|n| {
            let paths: Vec<&str> = lines
                .iter()
                .filter(|(_, l)| number_of(l) == Some(*n))
                .map(|(p, _)| p.rsplit('/').next().unwrap_or(p))
                .collect();
            format!("{n} ×{} from {paths:?}", seen[n])
        })
        .collect();
    Err(TestCaseError::fail(format!(
        "{} lines written; {} missing: {}; {} duplicated: {} (first: {}); altered: {altered:?}\napplied:\n{}",
        w.next,
        missing.len(),
        ranges(&missing),
        twice.len(),
        ranges(&twice),
        dup_detail.join("; "),
        w.done.join("\n")
    )))
}

fn config() -> ProptestConfig {
    let env = |name: &str, default: u32| {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    ProptestConfig {
        cases: env("PROPTEST_CASES", 12),
        // A case takes seconds: shrink for a bounded number of steps.
        max_shrink_iters: env("PROPTEST_MAX_SHRINK_ITERS", 32),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_line_once_whatever_the_rotations_and_restarts(ops in proptest::collection::vec(op(), 1..=12)) {
        let _machine = MACHINE.lock().unwrap_or_else(|e| e.into_inner());
        run_case(&ops)?;
    }
}

/// Found by the property: a copytruncate copy with nothing left to read (the agent had read
/// the original to its end before the truncation) got no checkpoint entry, so the next start
/// read it again from its start. The pause lets the agent read everything first.
#[test]
fn a_copy_read_to_its_end_is_not_read_again_after_a_restart() {
    let _machine = MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let ops = [
        Op::Write {
            lines: 20,
            partial: false,
        },
        Op::Pause { ms: 1500 },
        Op::CopyTruncate { unread: 0 },
        Op::Stop { kill: true },
        Op::Start,
    ];
    if let Err(e) = run_case(&ops) {
        panic!("{e}");
    }
}

/// A copytruncate with lines only the copy holds, while the agent is down, and one just before
/// a SIGKILL: the restarted agent reads the copy from where reading of the original stopped
/// (the checkpoint of the original, found truncated; or the end the agent checkpointed when
/// it saw the truncation), so every line is processed once.
#[test]
fn a_copy_made_while_the_agent_is_down_or_just_before_a_crash_is_read_once() {
    let _machine = MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let lines = |lines| Op::Write {
        lines,
        partial: false,
    };
    let down = [
        lines(20),
        Op::Pause { ms: 1500 },
        Op::Stop { kill: false },
        Op::CopyTruncate { unread: 15 },
        lines(5),
        Op::Start,
    ];
    let crash = [
        lines(20),
        Op::Pause { ms: 1500 },
        Op::CopyTruncate { unread: 10 },
        Op::Stop { kill: true },
        lines(5),
        Op::Start,
    ];
    for ops in [&down[..], &crash[..]] {
        if let Err(e) = run_case(ops) {
            panic!("{e}");
        }
    }
}
