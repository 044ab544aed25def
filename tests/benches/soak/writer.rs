//! The load: numbered lines at a fixed total rate over N files, paced per 100 ms, each file
//! rotated every `rotate` (staggered across files) alternately by rename + create and by
//! copytruncate, keeping two generations (`.1`, `.2`) as logrotate's `rotate 2` does. Anomalies
//! are written into the same stream (so their lines count in the exactly-once check too):
//! bursts of error lines, and lines of a template never seen before.
//!
//! Every line ends with ` seq=N`, N unique over the whole run (0, 1, 2, ...): the check reads
//! N back from the lines sink.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use seismo_e2e::{word, Rng};

/// The writer's pacing step.
const TICK: Duration = Duration::from_millis(100);
/// Normal traffic before the first anomaly (the detectors' warm-up).
const QUIET_START: Duration = Duration::from_secs(45);
/// Time between anomalies (alternating error burst and new template).
const ANOMALY_EVERY: Duration = Duration::from_secs(15);
/// An error burst lasts this long, with this share of the lines being errors.
const BURST: Duration = Duration::from_secs(3);
const BURST_ERROR_SHARE: u64 = 10; // percent
/// Lines of each new template.
const NEW_TEMPLATE_LINES: u64 = 20;
/// Background error lines, per mille (Poisson-like noise so the error rate has a spread).
const BACKGROUND_ERRORS: u64 = 2;

#[derive(Debug, Clone)]
pub struct Load {
    pub dir: PathBuf,
    pub files: usize,
    pub lines_per_s: u64,
    pub rotate: Duration,
}

/// What the writer did, shared with the orchestrator while it runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub written: AtomicU64,
    pub rotations_rename: AtomicU64,
    pub rotations_copytruncate: AtomicU64,
    pub bursts: AtomicU64,
    pub new_templates: AtomicU64,
    /// Ticks that started more than one tick late (the machine was busy).
    pub late_ticks: AtomicU64,
}

pub struct Writer {
    pub progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Load {
    pub fn path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("app-{i:02}.log"))
    }

    /// The glob the agent's source watches: live files and both rotated generations.
    pub fn glob(&self) -> String {
        format!("{}/*.log*", self.dir.display())
    }
}

impl Writer {
    /// Creates the files (so the agent finds all of them at start) and starts the writer
    /// thread; it runs until [`Writer::stop`].
    pub fn start(load: Load) -> io::Result<Writer> {
        std::fs::create_dir_all(&load.dir)?;
        let mut files = Vec::with_capacity(load.files);
        for i in 0..load.files {
            files.push(open_append(&load.path(i))?);
        }
        let progress = Arc::new(Progress::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (progress, stop) = (Arc::clone(&progress), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("soak-writer".into())
                .spawn(move || run(&load, files, &progress, &stop))?
        };
        Ok(Writer {
            progress,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops writing (after the current tick) and returns the number of lines written.
    pub fn stop(mut self) -> io::Result<u64> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join()
                .map_err(|_| io::Error::other("the writer thread panicked"))??;
        }
        Ok(self.progress.written.load(Ordering::Relaxed))
    }

    /// False once the thread ended (it only ends early on an I/O error).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

fn open_append(p: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(p)
}

/// One normal line (no trailing newline, no `seq`).
fn normal_line(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write as _;
    let (a, b, c) = (rng.below(64), rng.below(5000), rng.below(100_000));
    let _ = match rng.below(8) {
        0 => write!(out, "INFO [http-{a}] GET /api/v1/items/{c} 200 {b}ms"),
        1 => write!(
            out,
            "INFO [http-{a}] POST /api/v1/orders 201 {b}ms user={c}"
        ),
        2 => write!(out, "DEBUG [db-pool] acquired connection {a} after {b}ms"),
        3 => write!(out, "INFO [scheduler] job cleanup-{a} finished in {b}ms"),
        4 => write!(out, "WARN [cache] eviction of {c} keys took {b}ms"),
        5 => write!(out, "INFO [auth] session {c:08x} renewed for user {a}"),
        6 => write!(
            out,
            "DEBUG [queue] consumer {a} polled {b} messages from partition {c}"
        ),
        _ => write!(out, "INFO [http-{a}] GET /healthz 200 {b}us"),
    };
}

fn error_line(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write as _;
    let (a, b) = (rng.below(64), rng.below(30_000));
    let _ = match rng.below(2) {
        0 => write!(out, "ERROR [http-{a}] upstream timeout after {b}ms"),
        _ => write!(
            out,
            "ERROR [db-pool] connection {a} reset by peer after {b}ms"
        ),
    };
}

/// What the next lines are, by elapsed time since the start.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Normal,
    Burst,
    /// New template `n`, with lines still to write.
    NewTemplate(u64, u64),
}

struct Anomalies {
    next_at: Duration,
    count: u64,
    phase: Phase,
    burst_until: Duration,
}

impl Anomalies {
    fn new() -> Self {
        Self {
            next_at: QUIET_START,
            count: 0,
            phase: Phase::Normal,
            burst_until: Duration::ZERO,
        }
    }

    fn advance(&mut self, elapsed: Duration, progress: &Progress) {
        if self.phase == Phase::Burst && elapsed >= self.burst_until {
            self.phase = Phase::Normal;
        }
        if self.phase == Phase::Normal && elapsed >= self.next_at {
            self.count += 1;
            self.next_at += ANOMALY_EVERY;
            if self.count % 2 == 1 {
                self.phase = Phase::Burst;
                self.burst_until = elapsed + BURST;
                progress.bursts.fetch_add(1, Ordering::Relaxed);
            } else {
                self.phase = Phase::NewTemplate(self.count / 2, NEW_TEMPLATE_LINES);
                progress.new_templates.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Writes the next line's text into `out`.
    fn line(&mut self, rng: &mut Rng, out: &mut String) {
        match self.phase {
            Phase::Burst if rng.below(100) < BURST_ERROR_SHARE => error_line(rng, out),
            Phase::NewTemplate(n, left) => {
                let w = word(n);
                out.push_str(&format!(
                    "CRIT [{w}] subsystem {w} lost quorum fencing node {w} now"
                ));
                self.phase = if left > 1 {
                    Phase::NewTemplate(n, left - 1)
                } else {
                    Phase::Normal
                };
            }
            _ if rng.below(1000) < BACKGROUND_ERRORS => error_line(rng, out),
            _ => normal_line(rng, out),
        }
    }
}

fn timestamp() -> String {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn run(
    load: &Load,
    mut files: Vec<File>,
    progress: &Progress,
    stop: &AtomicBool,
) -> io::Result<()> {
    let n = load.files;
    let start = Instant::now();
    let mut rng = Rng(0x5eed_50a4_2026_0001);
    let mut anomalies = Anomalies::new();
    let mut written: u64 = 0;
    // Rotation k of file i happens at rotate * (k + 1) + i * rotate / n.
    let mut rotations = vec![0u32; n];
    let stagger = load.rotate / u32::try_from(n.max(1)).unwrap_or(1);
    let mut buffers = vec![String::new(); n];
    let mut tick: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        tick += 1;
        let due_at = start + TICK * tick;
        let now = Instant::now();
        if now < due_at {
            std::thread::sleep(due_at - now);
        } else if now - due_at > TICK {
            progress.late_ticks.fetch_add(1, Ordering::Relaxed);
        }
        let elapsed = start.elapsed();
        // Rotations due by now, before this tick's lines.
        for i in 0..n {
            let due = load.rotate * (rotations[i] + 1) + stagger * i as u32;
            if elapsed >= due {
                let by_rename = (rotations[i] as usize + i).is_multiple_of(2);
                rotate(load, i, &mut files[i], by_rename)?;
                rotations[i] += 1;
                let counter = if by_rename {
                    &progress.rotations_rename
                } else {
                    &progress.rotations_copytruncate
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Lines due by now at the total rate (a late tick catches up).
        let due = (elapsed.as_millis() as u64) * load.lines_per_s / 1000;
        let ts = timestamp();
        for b in &mut buffers {
            b.clear();
        }
        while written < due {
            anomalies.advance(elapsed, progress);
            let b = &mut buffers[(written % n as u64) as usize];
            b.push_str(&ts);
            b.push(' ');
            anomalies.line(&mut rng, b);
            b.push_str(" seq=");
            b.push_str(&written.to_string());
            b.push('\n');
            written += 1;
        }
        for (f, b) in files.iter_mut().zip(&buffers) {
            if !b.is_empty() {
                f.write_all(b.as_bytes())?;
            }
        }
        progress.written.store(written, Ordering::Relaxed);
    }
    Ok(())
}

/// Rotates file `i`: `.1` → `.2` (the old `.2` deleted), then the live file to `.1` by rename
/// (and a new live file), or by copy and truncation of the live file in place. Nothing is
/// written to the file meanwhile (this runs on the writer thread), as an application that
/// logrotate rotates would do between two of its writes.
fn rotate(load: &Load, i: usize, live: &mut File, by_rename: bool) -> io::Result<()> {
    let path = load.path(i);
    let gen = |g: u32| PathBuf::from(format!("{}.{g}", path.display()));
    match std::fs::remove_file(gen(2)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    match std::fs::rename(gen(1), gen(2)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    if by_rename {
        std::fs::rename(&path, gen(1))?;
        *live = open_append(&path)?;
    } else {
        // Copied in chunks through a buffer, as logrotate does: the copy exists, short, while
        // it is being written.
        let mut src = File::open(&path)?;
        let mut dst = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(gen(1))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let got = src.read(&mut buf)?;
            if got == 0 {
                break;
            }
            dst.write_all(&buf[..got])?;
        }
        live.set_len(0)?;
    }
    Ok(())
}
