//! Snapshots of what the pipeline learned: every signal's detector, every signal's alert
//! state and the open incidents, in one file of the state directory, so that a restart (clean,
//! SIGKILL, an upgrade) resumes scoring at once and firing alerts stay firing.
//!
//! Layout: magic `SMLS`, format version (u16 LE), then records, each `length (u32 LE) |
//! CRC-32 of the payload (u32 LE) | payload` (postcard): a header, one record per signal's
//! detector (its name, a hash of its effective detector settings, its state), one per signal's
//! alert state, the open incidents, and an end record with the number of records before it.
//! Records are checked one by one: a damaged record costs its own signal, a cut file the
//! signals after the cut, and the rest is restored. A whole file that cannot be used (bad
//! magic, another format version) is set aside as `learned.snapshot.unreadable`.
//!
//! The pipeline encodes a snapshot in its own task (a copy-free walk of its state, in slices
//! that take turns with its inputs: `stage.rs`) and hands each slice's bytes to a blocking
//! thread that appends them to a temporary file ([`Writer::open`]); at the end record it
//! fsyncs, renames over the snapshot and fsyncs the directory. The previous snapshot stays
//! whole until the new one is durable, also when the disk is full, and the memory a snapshot
//! takes is a few slices, never the whole state's encoding: at most [`PARTS_IN_FLIGHT`]
//! slices wait for the disk; past that the encoding waits (the inputs do not). Reading one
//! back goes record by record from the file, too.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seismo_config::DetectorSettings;
use seismo_detectors::{DetectorState, SavedDetector};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::alerting::incidents::SavedIncidents;
use crate::alerting::lifecycle::Track;
use crate::telemetry::stats::{LogLimiter, Stats};

/// The snapshot's file name in the state directory.
pub const SNAPSHOT_FILE: &str = "learned.snapshot";
const MAGIC: &[u8; 4] = b"SMLS";
/// Bumped whenever a saved structure changes shape (a detector's fields included): a
/// snapshot of another version is set aside and every signal learns afresh.
pub const FORMAT_VERSION: u16 = 9;
/// A record longer than this is damage, not data (an ensemble's state is a few KiB).
const MAX_RECORD: usize = 64 << 20;
/// Encoded slices a snapshot may have waiting for the disk.
pub const PARTS_IN_FLIGHT: usize = 2;

/// A record as written: borrowed from the running pipeline.
#[derive(Serialize)]
enum RecordOut<'a> {
    Header {
        written_ms: i64,
    },
    Signal {
        name: &'a str,
        settings: u64,
        detector: SavedDetector<'a>,
    },
    Alert {
        name: &'a str,
        track: &'a Track,
    },
    Incidents(&'a SavedIncidents),
    End {
        records: u32,
    },
}

/// A record as read back; the same variants in the same order as [`RecordOut`].
#[derive(Deserialize)]
enum RecordIn {
    Header {
        #[allow(dead_code)]
        written_ms: i64,
    },
    Signal {
        name: String,
        settings: u64,
        detector: DetectorState,
    },
    Alert {
        name: String,
        track: Track,
    },
    Incidents(SavedIncidents),
    End {
        records: u32,
    },
}

/// The hash of a signal's effective detector settings, kept beside its state: a signal whose
/// settings changed since the snapshot starts afresh (as a reload does). FNV-1a over the
/// settings' `Debug` form: stable across runs (no random keys), and any new setting changes it.
pub fn settings_hash(s: &DetectorSettings) -> u64 {
    fnv1a(format!("{s:?}").as_bytes())
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A snapshot being encoded: the bytes since the last [`Encoder::take`].
pub struct Encoder {
    bytes: Vec<u8>,
    records: u32,
    signals: usize,
}

impl Encoder {
    pub fn new(written_ms: i64) -> Self {
        let mut e = Encoder {
            bytes: Vec::with_capacity(4096),
            records: 0,
            signals: 0,
        };
        e.bytes.extend_from_slice(MAGIC);
        e.bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        e.record(&RecordOut::Header { written_ms });
        e
    }

    pub fn signal(&mut self, name: &str, settings: u64, detector: SavedDetector<'_>) {
        self.signals += 1;
        self.record(&RecordOut::Signal {
            name,
            settings,
            detector,
        });
    }

    pub(crate) fn alert(&mut self, name: &str, track: &Track) {
        self.record(&RecordOut::Alert { name, track });
    }

    pub(crate) fn incidents(&mut self, incidents: &SavedIncidents) {
        self.record(&RecordOut::Incidents(incidents));
    }

    fn record(&mut self, r: &RecordOut<'_>) {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 8]);
        // Serializing plain data into a Vec cannot fail; were it ever to, the record is left
        // out (its signal learns afresh after a restart) rather than the whole snapshot.
        match postcard::to_extend(r, std::mem::take(&mut self.bytes)) {
            Ok(b) => self.bytes = b,
            Err(e) => {
                tracing::error!(error = %e, "a snapshot record could not be encoded; left out");
                return;
            }
        }
        let payload = &self.bytes[at + 8..];
        let Ok(len) = u32::try_from(payload.len()) else {
            self.bytes.truncate(at);
            return;
        };
        let crc = crc32fast::hash(payload);
        self.bytes[at..at + 4].copy_from_slice(&len.to_le_bytes());
        self.bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
        self.records += 1;
    }

    /// The bytes encoded since the last call (whole records), to be written in order.
    pub fn take(&mut self) -> Vec<u8> {
        // The next slice is about as long as this one.
        let room = self.bytes.len();
        std::mem::replace(&mut self.bytes, Vec::with_capacity(room))
    }

    /// The end of the snapshot: the bytes not taken yet, with the end record.
    pub fn finish(mut self) -> Encoded {
        let records = self.records;
        self.record(&RecordOut::End { records });
        Encoded {
            bytes: self.bytes,
            signals: self.signals,
        }
    }
}

/// The end of a snapshot (all of it when no slice was taken before): its last bytes, and the
/// signals the whole snapshot holds.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub signals: usize,
}

/// What a snapshot file held, as far as it could be read.
#[derive(Default)]
pub struct Loaded {
    pub(crate) signals: Vec<(Arc<str>, u64, DetectorState)>,
    pub(crate) alerts: Vec<(Arc<str>, Track)>,
    pub(crate) incidents: Option<SavedIncidents>,
    /// Why part or all of it was not used (empty: all of it was).
    pub problems: Vec<String>,
}

/// Reads the snapshot in `dir`. Never fails: what cannot be used is reported in
/// [`Loaded::problems`] (and a file that cannot be used at all is set aside).
pub fn load(dir: &Path) -> Loaded {
    let path = dir.join(SNAPSHOT_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::default(),
        Err(e) => {
            return Loaded {
                problems: vec![format!("cannot read {}: {e}", path.display())],
                ..Loaded::default()
            }
        }
    };
    let loaded = decode_from(BufReader::with_capacity(1 << 16, file));
    if loaded.signals.is_empty() && loaded.alerts.is_empty() && !loaded.problems.is_empty() {
        let aside = path.with_extension("snapshot.unreadable");
        if std::fs::rename(&path, &aside).is_ok() {
            tracing::warn!(moved_to = %aside.display(), "the unusable snapshot was set aside");
        }
    }
    loaded
}

/// Decodes a snapshot's bytes; see [`load`].
pub fn decode(bytes: &[u8]) -> Loaded {
    decode_from(bytes)
}

/// Reads up to `buf.len()` bytes; fewer only at the end of the input.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Decodes a snapshot record by record from `input` (one record in memory at a time); see
/// [`load`].
pub fn decode_from(mut input: impl Read) -> Loaded {
    let mut out = Loaded::default();
    let mut head = [0u8; 8];
    let got = read_full(&mut input, &mut head[..6]);
    if !matches!(got, Ok(6)) || &head[..4] != MAGIC {
        let why = match got {
            Err(e) => format!("cannot read it: {e}"),
            Ok(_) => "not a seismo snapshot (bad magic): ignored".to_owned(),
        };
        out.problems.push(why);
        return out;
    }
    let version = u16::from_le_bytes([head[4], head[5]]);
    if version != FORMAT_VERSION {
        out.problems.push(format!(
            "snapshot format version {version}, this agent reads version {FORMAT_VERSION}: ignored"
        ));
        return out;
    }
    let mut payload = Vec::new();
    let (mut index, mut damaged, mut ended) = (0u32, 0u32, false);
    let mut read_error = None;
    loop {
        match read_full(&mut input, &mut head) {
            Ok(8) => {}
            Ok(_) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len > MAX_RECORD {
            break;
        }
        payload.resize(len, 0);
        match read_full(&mut input, &mut payload) {
            Ok(n) if n == len => {}
            Ok(_) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        let record = if crc32fast::hash(&payload) == crc {
            postcard::from_bytes::<RecordIn>(&payload).ok()
        } else {
            None
        };
        match record {
            None => damaged += 1,
            Some(RecordIn::Header { .. }) => {}
            Some(RecordIn::Signal {
                name,
                settings,
                detector,
            }) => out.signals.push((name.into(), settings, detector)),
            Some(RecordIn::Alert { name, track }) => out.alerts.push((name.into(), track)),
            Some(RecordIn::Incidents(i)) => out.incidents = Some(i),
            Some(RecordIn::End { records }) => {
                if records != index {
                    out.problems.push(format!(
                        "the end record counts {records} records, {index} were found"
                    ));
                }
                ended = true;
                break;
            }
        }
        index += 1;
    }
    if damaged > 0 {
        out.problems.push(format!(
            "{damaged} damaged record(s) (checksum or content): their signals learn afresh"
        ));
    }
    if let Some(e) = read_error {
        out.problems.push(format!(
            "cannot read past record {index}: {e}; the signals after it learn afresh"
        ));
    } else if !ended {
        out.problems.push(format!(
            "truncated after {index} record(s): the signals after the cut learn afresh"
        ));
    } else if !matches!(read_full(&mut input, &mut head[..1]), Ok(0)) {
        out.problems
            .push("bytes after the end record: ignored".to_owned());
    }
    out
}

/// Writes snapshots off the pipeline's task, one at a time.
pub struct Writer {
    path: PathBuf,
    tmp: PathBuf,
    stats: Arc<Stats>,
    pending: Option<JoinHandle<()>>,
    error_log: Arc<Mutex<LogLimiter>>,
}

/// A part of a snapshot on its way to the file.
pub enum Part {
    /// Whole records, in order.
    Slice(Vec<u8>),
    /// The last bytes: once written, the file is made durable and replaces the snapshot.
    End(Encoded),
}

/// Where the parts of the snapshot being written go (see [`Writer::open`]). Dropped before
/// its [`Part::End`], the snapshot is abandoned: the temporary file is removed and the
/// previous snapshot stays.
pub struct Parts {
    tx: mpsc::Sender<Part>,
}

impl Parts {
    /// A sender for the next part: its `reserve_owned` waits while [`PARTS_IN_FLIGHT`] parts
    /// wait for the disk, and fails once the write failed (logged and counted there).
    pub fn sender(&self) -> mpsc::Sender<Part> {
        self.tx.clone()
    }

    /// Sends `part`, waiting for room; false when the write failed.
    pub async fn send(&self, part: Part) -> bool {
        self.tx.send(part).await.is_ok()
    }
}

impl Writer {
    pub fn new(dir: &Path, stats: Arc<Stats>) -> Self {
        let path = dir.join(SNAPSHOT_FILE);
        Writer {
            tmp: path.with_extension("snapshot.tmp"),
            path,
            stats,
            pending: None,
            error_log: Arc::new(Mutex::new(LogLimiter::new(Duration::from_secs(300)))),
        }
    }

    /// Whether the previous write is still running (a slow disk): the caller skips this
    /// interval's snapshot rather than queue them up.
    pub fn busy(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| !p.is_finished())
    }

    /// Starts writing a snapshot on a blocking thread: the parts sent to the returned
    /// [`Parts`] are appended to the temporary file in order, and [`Part::End`] makes it the
    /// snapshot.
    pub fn open(&mut self) -> Parts {
        let (tx, rx) = mpsc::channel(PARTS_IN_FLIGHT);
        let (path, tmp, stats, log) = (
            self.path.clone(),
            self.tmp.clone(),
            Arc::clone(&self.stats),
            Arc::clone(&self.error_log),
        );
        self.pending = Some(tokio::task::spawn_blocking(move || {
            write(&path, &tmp, rx, &stats, &log)
        }));
        Parts { tx }
    }

    /// Waits for the write in flight, if any.
    pub async fn flush(&mut self) {
        if let Some(p) = self.pending.take() {
            let _ = p.await;
        }
    }
}

/// What a finished write stored.
struct Written {
    bytes: u64,
    signals: usize,
}

/// Appends the parts from `rx` to `tmp`; at the end, fsync, rename over `path`, fsync of the
/// directory. `Ok(None)`: the sender went away before the end.
fn write_parts(
    path: &Path,
    tmp: &Path,
    rx: &mut mpsc::Receiver<Part>,
) -> io::Result<Option<Written>> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)?;
    let mut bytes = 0u64;
    while let Some(part) = rx.blocking_recv() {
        match part {
            Part::Slice(b) => {
                file.write_all(&b)?;
                bytes += b.len() as u64;
            }
            Part::End(end) => {
                file.write_all(&end.bytes)?;
                bytes += end.bytes.len() as u64;
                file.sync_all()?;
                drop(file);
                std::fs::rename(tmp, path)?;
                if let Some(dir) = path.parent() {
                    File::open(dir)?.sync_all()?;
                }
                return Ok(Some(Written {
                    bytes,
                    signals: end.signals,
                }));
            }
        }
    }
    Ok(None)
}

fn write(
    path: &Path,
    tmp: &Path,
    mut rx: mpsc::Receiver<Part>,
    stats: &Stats,
    log: &Mutex<LogLimiter>,
) {
    let started = Instant::now();
    let outcome = write_parts(path, tmp, &mut rx);
    // The pipeline's next part finds the channel closed and stops encoding this snapshot.
    drop(rx);
    match outcome {
        Ok(Some(written)) => {
            Stats::add(&stats.snapshots_written, 1);
            let store = |c: &std::sync::atomic::AtomicU64, v: u64| {
                c.store(v, std::sync::atomic::Ordering::Relaxed)
            };
            store(&stats.snapshot_bytes, written.bytes);
            store(&stats.snapshot_signals, written.signals as u64);
            store(
                &stats.snapshot_micros,
                u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            );
        }
        // Abandoned (the agent is stopping): the previous snapshot stays.
        Ok(None) => {
            let _ = std::fs::remove_file(tmp);
        }
        Err(e) => {
            // The previous snapshot is untouched (the rename did not happen); a partial
            // temporary file would only hold on to the space a full disk needs.
            let _ = std::fs::remove_file(tmp);
            Stats::add(&stats.snapshot_errors, 1);
            let hit = log.lock().unwrap_or_else(|p| p.into_inner()).hit();
            if let Some(n) = hit {
                tracing::error!(
                    path = %path.display(), error = %e, failed = n,
                    "cannot write the snapshot of the learned state; the previous one stays valid (logged at most every 5 minutes)"
                );
            }
        }
    }
}

/// What a restore did, for the start-up log line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Restored {
    pub signals: usize,
    /// Signals whose detector settings changed since the snapshot: they learn afresh.
    pub settings_changed: usize,
    /// Signals now disabled, or past `max_signals`: no detector restored.
    pub dropped: usize,
    pub alerts_firing: usize,
    pub incidents_open: usize,
    /// A few of the signals that learn afresh, for the log line.
    pub examples: Vec<String>,
}

impl Restored {
    /// One line for the log: what was restored, and what learns afresh.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} signal(s) restored, {} alert(s) firing, {} incident(s) open",
            self.signals, self.alerts_firing, self.incidents_open
        );
        if self.settings_changed > 0 {
            let _ = write!(
                s,
                "; {} signal(s) learn afresh: their detector settings changed (e.g. {})",
                self.settings_changed,
                self.examples.join(", ")
            );
        }
        if self.dropped > 0 {
            let _ = write!(
                s,
                "; {} signal(s) not restored (disabled or past detectors.max_signals)",
                self.dropped
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seismo_detectors::{Detector, Learned, RobustEwma};

    fn snapshot() -> Vec<u8> {
        let mut e = Encoder::new(5);
        for name in ["a", "b", "c"] {
            let mut d = RobustEwma::new(Default::default()).unwrap();
            for i in 0..100 {
                d.observe(i, f64::from(i as i32 % 7));
            }
            e.signal(name, 42, d.save());
        }
        e.incidents(&SavedIncidents::default());
        e.finish().bytes
    }

    /// A detector state to save many times.
    fn learned() -> RobustEwma {
        let mut d = RobustEwma::new(Default::default()).unwrap();
        for i in 0..100 {
            d.observe(i, f64::from(i as i32 % 7));
        }
        d
    }

    /// Waits (bounded) for `done`.
    async fn until(mut done: impl FnMut() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("not within 5 s");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_snapshot_streamed_in_slices_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Arc::new(Stats::default());
        let mut w = Writer::new(dir.path(), Arc::clone(&stats));
        let tmp = dir.path().join("learned.snapshot.tmp");
        let parts = w.open();
        let d = learned();
        let mut e = Encoder::new(7);
        let n = 50_000u64;
        let mut largest = 0;
        for i in 0..n {
            e.signal(&format!("scrape.app.series_{i}"), i, d.save());
            if i % 500 == 499 {
                let slice = e.take();
                largest = largest.max(slice.len());
                assert!(parts.send(Part::Slice(slice)).await);
            }
        }
        // Written as it goes: the slices are in the temporary file before the end, and the
        // snapshot is not there yet.
        until(|| std::fs::metadata(&tmp).is_ok_and(|m| m.len() > 0)).await;
        assert!(!dir.path().join(SNAPSHOT_FILE).exists());
        e.incidents(&SavedIncidents::default());
        assert!(parts.send(Part::End(e.finish())).await);
        drop(parts);
        w.flush().await;

        let size = std::fs::metadata(dir.path().join(SNAPSHOT_FILE))
            .unwrap()
            .len();
        assert!(
            size > 40 * largest as u64,
            "a slice is a small part of the whole: {largest} of {size} bytes"
        );
        assert_eq!(Stats::get(&stats.snapshots_written), 1);
        assert_eq!(Stats::get(&stats.snapshot_bytes), size);
        assert_eq!(Stats::get(&stats.snapshot_signals), n);
        assert!(!tmp.exists());
        let l = load(dir.path());
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        assert_eq!(l.signals.len(), n as usize);
        for (i, (name, settings, _)) in l.signals.iter().enumerate() {
            assert_eq!(&**name, format!("scrape.app.series_{i}"));
            assert_eq!(*settings, i as u64);
        }
        assert!(l.incidents.is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_or_failed_snapshot_leaves_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Arc::new(Stats::default());
        let mut w = Writer::new(dir.path(), Arc::clone(&stats));
        let (path, tmp) = (
            dir.path().join(SNAPSHOT_FILE),
            dir.path().join("learned.snapshot.tmp"),
        );
        let parts = w.open();
        assert!(parts.send(Part::End(Encoder::new(1).finish())).await);
        drop(parts);
        w.flush().await;
        let good = std::fs::read(&path).unwrap();
        let d = learned();
        let slice = || {
            let mut e = Encoder::new(2);
            for i in 0..1000 {
                e.signal(&format!("s{i}"), 0, d.save());
            }
            e.take()
        };

        // Dropped before its end (the agent stopping mid-snapshot): nothing replaced.
        let parts = w.open();
        assert!(parts.send(Part::Slice(slice())).await);
        drop(parts);
        w.flush().await;
        assert_eq!(std::fs::read(&path).unwrap(), good);
        assert!(!tmp.exists());
        assert_eq!(Stats::get(&stats.snapshot_errors), 0);

        // A full disk: `/dev/full` answers every write with ENOSPC. The sender learns that
        // the write failed, the error is counted, the previous snapshot stays.
        std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
        let parts = w.open();
        let mut sent = 0;
        while parts.send(Part::Slice(slice())).await {
            sent += 1;
            assert!(sent < 1000, "the failed write was not noticed");
        }
        drop(parts);
        w.flush().await;
        assert_eq!(Stats::get(&stats.snapshot_errors), 1);
        assert_eq!(Stats::get(&stats.snapshots_written), 1);
        assert_eq!(std::fs::read(&path).unwrap(), good);
        assert!(std::fs::symlink_metadata(&tmp).is_err());
        assert!(load(dir.path()).problems.is_empty());
    }

    #[test]
    fn a_snapshot_reads_the_same_from_a_file_in_small_reads() {
        // A reader that returns a few bytes at a time, as a pipe or a slow disk may.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(3);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let whole = snapshot();
        let l = decode_from(Trickle(&whole));
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        assert_eq!(l.signals.len(), 3);
        let mut longer = whole.clone();
        longer.push(0);
        assert!(decode_from(Trickle(&longer)).problems[0].contains("bytes after the end"));
    }

    #[test]
    fn a_whole_snapshot_reads_back_without_problems() {
        let l = decode(&snapshot());
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        let names: Vec<&str> = l.signals.iter().map(|s| &*s.0).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(l.signals.iter().all(|s| s.1 == 42));
        assert!(l.incidents.is_some());
    }

    #[test]
    fn any_cut_or_flipped_byte_is_reported_never_a_panic() {
        let whole = snapshot();
        for cut in 0..whole.len() {
            let l = decode(&whole[..cut]);
            assert!(!l.problems.is_empty(), "a cut at {cut} went unnoticed");
        }
        for at in 0..whole.len() {
            let mut b = whole.clone();
            b[at] ^= 0x41;
            let l = decode(&b);
            assert!(
                !l.problems.is_empty() || l.signals.len() == 3,
                "a flip at {at} lost a signal silently"
            );
        }
    }

    #[test]
    fn damage_costs_only_what_it_touches() {
        let whole = snapshot();
        // A flipped byte in the second signal's record: the others are restored.
        let mut flipped = whole.clone();
        let second = {
            let mut at = 6;
            for _ in 0..2 {
                let len = u32::from_le_bytes(whole[at..at + 4].try_into().unwrap()) as usize;
                at += 8 + len;
            }
            at
        };
        flipped[second + 20] ^= 0xff;
        let l = decode(&flipped);
        let names: Vec<&str> = l.signals.iter().map(|s| &*s.0).collect();
        assert_eq!(names, ["a", "c"]);
        assert!(
            l.problems[0].contains("1 damaged record"),
            "{:?}",
            l.problems
        );

        // Cut in the middle: the signals before the cut are restored.
        let l = decode(&whole[..second + 30]);
        assert_eq!(l.signals.len(), 1);
        assert!(
            l.problems[0].contains("truncated after 2 record"),
            "{:?}",
            l.problems
        );

        // Another version, or not a snapshot at all: nothing, with the reason.
        let mut old = whole.clone();
        old[4] = 0;
        let l = decode(&old);
        assert!(l.signals.is_empty());
        assert!(
            l.problems[0].contains("format version 0"),
            "{:?}",
            l.problems
        );
        let l = decode(b"{\"json\": true}");
        assert!(l.problems[0].contains("bad magic"), "{:?}", l.problems);
        assert!(decode(&[]).problems[0].contains("bad magic"));
    }
}
