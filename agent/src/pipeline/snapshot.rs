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
//! that take turns with its inputs: `stage.rs`); the write
//! (temporary file, fsync, rename, fsync of the directory) runs on a blocking thread, so the
//! previous snapshot stays whole until the new one is durable, also when the disk is full.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seismo_config::DetectorSettings;
use seismo_detectors::{DetectorState, SavedDetector};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::alerting::incidents::SavedIncidents;
use crate::alerting::lifecycle::Track;
use crate::atomic_file::atomic_write;
use crate::telemetry::stats::{LogLimiter, Stats};

/// The snapshot's file name in the state directory.
pub const SNAPSHOT_FILE: &str = "learned.snapshot";
const MAGIC: &[u8; 4] = b"SMLS";
/// Bumped whenever a saved structure changes shape (a detector's fields included): a
/// snapshot of another version is set aside and every signal learns afresh.
pub const FORMAT_VERSION: u16 = 6;
/// A record longer than this is damage, not data (an ensemble's state is a few KiB).
const MAX_RECORD: usize = 64 << 20;

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

/// A snapshot being encoded.
pub struct Encoder {
    bytes: Vec<u8>,
    records: u32,
    signals: usize,
    started: Instant,
}

impl Encoder {
    pub fn new(written_ms: i64) -> Self {
        let mut e = Encoder {
            bytes: Vec::with_capacity(4096),
            records: 0,
            signals: 0,
            started: Instant::now(),
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

    /// The finished snapshot.
    pub fn finish(mut self) -> Encoded {
        let records = self.records;
        self.record(&RecordOut::End { records });
        Encoded {
            bytes: self.bytes,
            signals: self.signals,
            encode_time: self.started.elapsed(),
        }
    }
}

/// A snapshot ready to be written.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub signals: usize,
    pub encode_time: Duration,
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
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::default(),
        Err(e) => {
            return Loaded {
                problems: vec![format!("cannot read {}: {e}", path.display())],
                ..Loaded::default()
            }
        }
    };
    let loaded = decode(&bytes);
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
    let mut out = Loaded::default();
    if bytes.len() < 6 || &bytes[..4] != MAGIC {
        out.problems
            .push("not a seismo snapshot (bad magic): ignored".to_owned());
        return out;
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != FORMAT_VERSION {
        out.problems.push(format!(
            "snapshot format version {version}, this agent reads version {FORMAT_VERSION}: ignored"
        ));
        return out;
    }
    let mut rest = &bytes[6..];
    let (mut index, mut damaged, mut ended) = (0u32, 0u32, false);
    while !rest.is_empty() {
        if rest.len() < 8 {
            break;
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len > MAX_RECORD || rest.len() - 8 < len {
            break;
        }
        let payload = &rest[8..8 + len];
        rest = &rest[8 + len..];
        let record = if crc32fast::hash(payload) == crc {
            postcard::from_bytes::<RecordIn>(payload).ok()
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
    if !ended {
        out.problems.push(format!(
            "truncated after {index} record(s): the signals after the cut learn afresh"
        ));
    } else if !rest.is_empty() {
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

    /// Starts writing `snapshot` on a blocking thread.
    pub fn start(&mut self, snapshot: Encoded) {
        let (path, tmp, stats, log) = (
            self.path.clone(),
            self.tmp.clone(),
            Arc::clone(&self.stats),
            Arc::clone(&self.error_log),
        );
        self.pending = Some(tokio::task::spawn_blocking(move || {
            write(&path, &tmp, snapshot, &stats, &log)
        }));
    }

    /// Waits for the write in flight, if any.
    pub async fn flush(&mut self) {
        if let Some(p) = self.pending.take() {
            let _ = p.await;
        }
    }
}

fn write(path: &Path, tmp: &Path, snapshot: Encoded, stats: &Stats, log: &Mutex<LogLimiter>) {
    let started = Instant::now();
    match atomic_write(path, tmp, &snapshot.bytes) {
        Ok(()) => {
            Stats::add(&stats.snapshots_written, 1);
            let store = |c: &std::sync::atomic::AtomicU64, v: u64| {
                c.store(v, std::sync::atomic::Ordering::Relaxed)
            };
            store(&stats.snapshot_bytes, snapshot.bytes.len() as u64);
            store(&stats.snapshot_signals, snapshot.signals as u64);
            let took = snapshot.encode_time + started.elapsed();
            store(
                &stats.snapshot_micros,
                u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            );
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
