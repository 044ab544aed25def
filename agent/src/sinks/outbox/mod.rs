//! The durable outbox: one per sink, so an alert survives outages, restarts and SIGKILL until
//! that sink's peer acknowledged it.
//!
//! # Guarantees
//! - `append` returns only after the records are written and `fsync`ed. The pipeline's hand-off
//!   to a sink *is* this append, so a dead sink never blocks the pipeline or the other sinks.
//! - Group commit: appends that arrive while another append's fsync runs wait for it to end and
//!   are then written together, with one fsync for all of them (the first waiter does the work,
//!   the others sleep until it says their records are durable). Concurrent producers so share
//!   fsyncs instead of queueing one ~4 ms fsync each, and the order of records is the order in
//!   which the appends joined the queue. A group that cannot be written or synced fails as a
//!   whole: none of its records is kept, and each caller gets the error.
//! - Records come back from [`Outbox::peek`] oldest first, in append order, until they are
//!   acknowledged with [`Outbox::ack`]; the ack cursor is written atomically (temp file, fsync,
//!   rename) on every `ack` call. After a crash the previous cursor may come back, so a sink
//!   can see a record twice: delivery is at least once, never silently lost below the bound.
//! - Each record is framed with its length and a CRC-32 over its sequence number, time, kind and
//!   payload. A torn last record (a crash mid-write) is found by its checksum at open and cut
//!   off; a corrupt record elsewhere is skipped by re-synchronising on the next valid frame.
//!   Either way it is counted (`corrupt`), once, and never handed to a sink; a corrupt region
//!   is then written over with a frame of kind `SKIPPED` (read back as nothing), and with
//!   nothing unacknowledged before it the ack cursor moves past it, so a restart does not meet
//!   it again.
//! - The outbox is bounded in bytes. When an append makes it exceed the bound, the oldest
//!   segment (1/16 of the bound) is deleted and its undelivered records counted as `dropped`.
//! - Memory stays flat whatever is queued: records live on disk and are read a batch at a time.
//!
//! # Layout
//! `{state_dir}/outbox/{sink}/` holds segment files `{first seq, 20 digits}.seg` and `ack`
//! (8-byte first-unacknowledged sequence number plus its CRC-32). A frame is
//! `len u32 | crc u32 | seq u64 | time_ms i64 | kind u8 | payload[len]`, little-endian.
//!
//! # Use from a sink
//! ```ignore
//! let outbox = Outbox::open(state.path(), "mqtt", 64 << 20, stats.sink("mqtt"))?; // Arc<Outbox>
//! outbox.append(KIND, &payload)?;         // blocking: call it from spawn_blocking in async code
//! let batch = outbox.peek(64)?;           // oldest unacknowledged records, in order
//! outbox.ack(batch[n - 1].seq)?;          // everything up to and including that seq is done
//! outbox.wait().await;                    // woken by the next append
//! ```
//! Delivery loops should use [`crate::sinks::deliver::run`], which does the above with retries.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::telemetry::stats::{LogLimiter, SinkStats};

mod commit;
mod frame;
mod recovery;

pub use frame::Record;
use frame::{decode, encode, find_frame, read_frame, HEADER, MAX_SEQ, SKIPPED};

/// The default bound of one sink's outbox.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;
/// The smallest bound accepted (a handful of alerts).
pub const MIN_MAX_BYTES: u64 = 4 << 10;

const SEGMENTS_PER_BOUND: u64 = 16;
const ACK_FILE: &str = "ack";

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("a record of {size} bytes does not fit an outbox of {max_bytes} bytes (at most a quarter of it per record)")]
    TooLarge { size: usize, max_bytes: u64 },
    #[error("`{0}` cannot name an outbox: use letters, digits, '-' and '_'")]
    BadName(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OutboxError + '_ {
    move |source| OutboxError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A sink's outbox. Shared (`Arc`) between the producer that appends and the sink that reads.
#[derive(Debug)]
pub struct Outbox {
    name: String,
    inner: Mutex<Inner>,
    notify: Notify,
    stats: Arc<SinkStats>,
    /// Largest frame accepted (checked before an append joins a group, so one oversized
    /// record never fails the others).
    max_record: u64,
    max_bytes: u64,
    commit: Mutex<Commit>,
    /// Signalled when a group commit ends.
    committed: Condvar,
}

/// The group-commit queue: appends waiting for the next fsync.
#[derive(Debug, Default)]
struct Commit {
    queue: Vec<Pending>,
    /// An append is writing and syncing a group right now.
    leader: bool,
    next_ticket: u64,
    /// Outcomes of committed appends not yet picked up by their callers: the first sequence
    /// number, or the error (as kind and text: `io::Error` cannot be cloned).
    done: HashMap<u64, Result<u64, (PathBuf, io::ErrorKind, String)>>,
}

#[derive(Debug)]
struct Pending {
    ticket: u64,
    kind: u8,
    payloads: Vec<Vec<u8>>,
}

#[derive(Debug)]
struct Segment {
    first: u64,
    bytes: u64,
}

/// Where the reader stands: segment (by first seq) and byte offset of the next frame.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cursor {
    seg: u64,
    offset: u64,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    max_record: u64,
    /// Oldest first; the last one is the one appended to.
    segments: VecDeque<Segment>,
    writer: Option<File>,
    next_seq: u64,
    /// The first unacknowledged sequence number.
    ack: u64,
    total: u64,
    /// Position of the first record at or after `ack`, when known.
    cursor: Option<Cursor>,
    /// The last record handed out by `peek` and the position after it.
    peeked: Option<(u64, Cursor)>,
    /// Append time of the oldest unacknowledged record (0 when empty).
    oldest_ms: i64,
    drop_log: LogLimiter,
    dropped_since_log: u64,
    /// Group fsyncs done by appends (for benchmarks and tests).
    syncs: u64,
    /// Corrupt regions already logged and counted, by (segment, offset): a region is counted
    /// once however often a retried batch reads past it.
    corrupt_seen: HashSet<(u64, u64)>,
}

impl Outbox {
    /// Opens (creating if needed) the outbox of sink `name` under `{state_dir}/outbox/`,
    /// recovering from a crash: a torn tail is cut off and counted.
    pub fn open(
        state_dir: &Path,
        name: &str,
        max_bytes: u64,
        stats: Arc<SinkStats>,
    ) -> Result<Arc<Outbox>, OutboxError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(OutboxError::BadName(name.to_owned()));
        }
        let dir = state_dir.join("outbox").join(name);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let max_bytes = max_bytes.max(MIN_MAX_BYTES);
        let mut inner = Inner {
            segment_bytes: (max_bytes / SEGMENTS_PER_BOUND).max(1024),
            max_record: max_bytes / 4,
            max_bytes,
            dir,
            segments: VecDeque::new(),
            writer: None,
            next_seq: 0,
            ack: 0,
            total: 0,
            cursor: None,
            peeked: None,
            oldest_ms: 0,
            drop_log: LogLimiter::new(std::time::Duration::from_secs(60)),
            dropped_since_log: 0,
            syncs: 0,
            corrupt_seen: HashSet::new(),
        };
        inner.recover(&stats)?;
        let outbox = Outbox {
            name: name.to_owned(),
            max_record: inner.max_record,
            max_bytes: inner.max_bytes,
            inner: Mutex::new(inner),
            notify: Notify::new(),
            stats,
            commit: Mutex::new(Commit::default()),
            committed: Condvar::new(),
        };
        {
            let mut inner = outbox.lock();
            inner.refresh_oldest(&outbox.stats)?;
            inner.publish(&outbox.stats);
        }
        Ok(Arc::new(outbox))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent on-disk state; keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one record durably (written and fsynced) and wakes the reader. Blocking.
    pub fn append(&self, kind: u8, payload: &[u8]) -> Result<u64, OutboxError> {
        self.append_batch(kind, &[payload])
    }

    /// Appends several records durably, consecutively; returns the first one's sequence number.
    /// Blocking. Shares its fsync with the appends that run at the same time (group commit, see
    /// the module's documentation). On error nothing of the batch is kept, and the records are
    /// counted dropped.
    pub fn append_batch(&self, kind: u8, payloads: &[&[u8]]) -> Result<u64, OutboxError> {
        if let Some(big) = payloads
            .iter()
            .find(|p| (HEADER + p.len()) as u64 > self.max_record)
        {
            SinkStats::add(&self.stats.dropped, payloads.len() as u64);
            return Err(OutboxError::TooLarge {
                size: big.len(),
                max_bytes: self.max_bytes,
            });
        }
        let result = self.group_commit(kind, payloads);
        if result.is_err() {
            SinkStats::add(&self.stats.dropped, payloads.len() as u64);
        }
        result
    }

    /// Up to `max` of the oldest unacknowledged records, in order. Does not consume them:
    /// the same records come back until acknowledged. Blocking.
    pub fn peek(&self, max: usize) -> Result<Vec<Record>, OutboxError> {
        let mut inner = self.lock();
        let out = inner.peek(max, &self.stats);
        inner.publish(&self.stats);
        out
    }

    /// Marks every record up to and including `seq` delivered and persists the cursor. Blocking.
    pub fn ack(&self, seq: u64) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        let out = inner.ack(seq, &self.stats);
        inner.publish(&self.stats);
        out
    }

    /// Records appended and not yet acknowledged (corrupt ones included until skipped).
    pub fn queued(&self) -> u64 {
        let inner = self.lock();
        inner.next_seq.saturating_sub(inner.ack)
    }

    /// How many fsyncs appends have done since open (one per group commit).
    pub fn append_syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// Bytes on disk in segment files.
    pub fn disk_bytes(&self) -> u64 {
        self.lock().total
    }

    /// Waits until an append happened since the last wait (returns at once if one did).
    pub async fn wait(&self) {
        self.notify.notified().await;
    }
}

impl Inner {
    fn seg_path(&self, first: u64) -> PathBuf {
        self.dir.join(format!("{first:020}.seg"))
    }

    fn write_ack(&self) -> Result<(), OutboxError> {
        let tmp = self.dir.join("ack.tmp");
        let mut buf = self.ack.to_le_bytes().to_vec();
        buf.extend_from_slice(&crc32fast::hash(&buf).to_le_bytes());
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&buf).map_err(io_err(&tmp))?;
        f.sync_data().map_err(io_err(&tmp))?;
        let path = self.dir.join(ACK_FILE);
        fs::rename(&tmp, &path).map_err(io_err(&path))
    }

    fn remove_acked_segments(&mut self) -> Result<(), OutboxError> {
        while self.segments.len() > 1 && self.segments[1].first <= self.ack {
            let seg = &self.segments[0];
            let (first, bytes) = (seg.first, seg.bytes);
            let path = self.seg_path(first);
            fs::remove_file(&path).map_err(io_err(&path))?;
            self.segments.pop_front();
            self.total -= bytes;
            if self.cursor.is_some_and(|c| c.seg == first) {
                self.cursor = None;
            }
        }
        Ok(())
    }

    fn peek(&mut self, max: usize, stats: &SinkStats) -> Result<Vec<Record>, OutboxError> {
        let mut out = Vec::new();
        if max == 0 || self.ack >= self.next_seq {
            return Ok(out);
        }
        let start = match self.cursor {
            Some(c) => c,
            None => {
                // The segment holding `ack`: the last one starting at or before it.
                let seg = self
                    .segments
                    .iter()
                    .rev()
                    .find(|s| s.first <= self.ack)
                    .or(self.segments.front())
                    .map_or(0, |s| s.first);
                Cursor { seg, offset: 0 }
            }
        };
        let Some(mut idx) = self.segments.iter().position(|s| s.first == start.seg) else {
            return Ok(out);
        };
        let mut offset = start.offset;
        let mut first_pos: Option<Cursor> = None;
        let mut expected = self.ack;
        // The smallest sequence number the next valid frame may carry: what a corrupt region
        // covers runs from it to the next valid frame's number.
        let mut floor = if offset == 0 { start.seg } else { self.ack };
        'segments: while idx < self.segments.len() {
            let seg = self.segments[idx].first;
            let len = self.segments[idx].bytes;
            // A segment holds the sequence numbers from its name up to the next one's.
            let limit = self
                .segments
                .get(idx + 1)
                .map_or(self.next_seq, |s| s.first);
            let path = self.seg_path(seg);
            let file = File::open(&path).map_err(io_err(&path))?;
            let mut r = BufReader::new(file);
            r.seek(SeekFrom::Start(offset)).map_err(io_err(&path))?;
            while offset < len {
                match read_frame(&mut r, len - offset, self.max_record).map_err(io_err(&path))? {
                    Some((rec, flen)) => {
                        let here = Cursor { seg, offset };
                        offset += flen;
                        floor = floor.max(rec.seq.saturating_add(1));
                        if rec.seq < self.ack || rec.kind == SKIPPED {
                            continue;
                        }
                        if rec.seq < seg.max(expected) || rec.seq >= limit {
                            // A valid frame this outbox cannot have written there (a segment
                            // renamed or copied): delivering it would hand out a sequence number
                            // twice or out of order, or one a new append will take.
                            if self.corrupt_seen.insert((seg, here.offset)) {
                                SinkStats::add(&stats.corrupt, 1);
                                tracing::warn!(segment = %path.display(), offset = here.offset, seq = rec.seq, "outbox record out of its segment's sequence range skipped");
                            }
                            continue;
                        }
                        expected = rec.seq + 1;
                        first_pos.get_or_insert(here);
                        out.push(rec);
                        if out.len() >= max {
                            self.peeked = Some((expected - 1, Cursor { seg, offset }));
                            break 'segments;
                        }
                    }
                    None => {
                        // Corrupt frame: re-synchronise on the next valid one in this segment.
                        let mut rest = Vec::new();
                        r.seek(SeekFrom::Start(offset + 1)).map_err(io_err(&path))?;
                        r.by_ref()
                            .take(len - offset - 1)
                            .read_to_end(&mut rest)
                            .map_err(io_err(&path))?;
                        let next = find_frame(&rest, floor, self.max_record).and_then(|skip| {
                            decode(&rest[skip..], self.max_record).map(|(rec, _)| (skip, rec.seq))
                        });
                        // The sequence numbers the region held end below `upto`.
                        let upto = next.map_or(limit, |(_, s)| s);
                        let at = offset;
                        match next {
                            Some((skip, _)) => {
                                offset += 1 + skip as u64;
                                r.seek(SeekFrom::Start(offset)).map_err(io_err(&path))?;
                            }
                            None => offset = len,
                        }
                        if floor < upto {
                            self.bury(seg, at, offset - at, floor)?;
                        }
                        if upto <= self.ack {
                            // Behind the ack cursor: skipped (and counted) before.
                            continue;
                        }
                        if self.corrupt_seen.insert((seg, at)) {
                            SinkStats::add(&stats.corrupt, 1);
                            tracing::warn!(
                                segment = %path.display(), offset = at, seqs_before = upto,
                                "corrupt outbox record skipped: delivery continues with the next valid record"
                            );
                        }
                        if out.is_empty() && upto > self.ack {
                            // Nothing before it is waiting: move the ack cursor past the region
                            // for good, so a restart does not meet it again.
                            self.ack = upto.min(self.next_seq);
                            expected = expected.max(self.ack);
                            self.write_ack()?;
                        }
                    }
                }
            }
            if let Some(last) = out.last() {
                self.peeked = Some((last.seq, Cursor { seg, offset }));
            }
            idx += 1;
            offset = 0;
        }
        if let Some(pos) = first_pos {
            self.cursor = Some(pos);
        }
        Ok(out)
    }

    /// Writes a [`SKIPPED`] frame numbered `seq` over the corrupt region of `len` bytes at
    /// `at` in segment `seg`, once it was counted: the segment is repaired, and a restart reads
    /// the region as nothing. A region too short or too long for a frame is left as it is (it
    /// is skipped again, and counted again after a restart). A crash during the write leaves it
    /// corrupt, as before.
    fn bury(&self, seg: u64, at: u64, len: u64, seq: u64) -> Result<(), OutboxError> {
        if len < HEADER as u64 || len > self.max_record {
            return Ok(());
        }
        let payload = vec![0u8; (len - HEADER as u64) as usize];
        let frame = encode(seq, 0, SKIPPED, &payload);
        let path = self.seg_path(seg);
        let f = fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        std::os::unix::fs::FileExt::write_all_at(&f, &frame, at).map_err(io_err(&path))?;
        f.sync_data().map_err(io_err(&path))
    }

    fn ack(&mut self, seq: u64, stats: &SinkStats) -> Result<(), OutboxError> {
        let new_ack = seq.saturating_add(1).min(self.next_seq);
        if new_ack <= self.ack {
            return Ok(());
        }
        self.ack = new_ack;
        self.write_ack()?;
        self.cursor = match self.peeked.take() {
            Some((last, after)) if last == seq => Some(after),
            _ => None,
        };
        self.remove_acked_segments()?;
        self.refresh_oldest(stats)
    }

    /// Reads the append time of the oldest unacknowledged record.
    fn refresh_oldest(&mut self, stats: &SinkStats) -> Result<(), OutboxError> {
        let peeked = self.peeked;
        let first = self.peek(1, stats)?;
        self.peeked = peeked;
        self.oldest_ms = first.first().map_or(0, |r| r.time_ms);
        if first.is_empty() {
            // Whatever remained was corrupt: nothing is queued.
            self.ack = self.ack.max(self.next_seq);
        }
        Ok(())
    }

    fn publish(&self, stats: &SinkStats) {
        SinkStats::set(&stats.queued, self.next_seq.saturating_sub(self.ack));
        SinkStats::set(&stats.oldest_ms, u64::try_from(self.oldest_ms).unwrap_or(0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    fn open(dir: &Path, max: u64) -> (Arc<Outbox>, Arc<SinkStats>) {
        let stats = Arc::new(SinkStats::new("t"));
        (
            Outbox::open(dir, "t", max, Arc::clone(&stats)).unwrap(),
            stats,
        )
    }

    fn payload(i: u64) -> Vec<u8> {
        format!("{{\"alert\":{i},\"pad\":\"{}\"}}", "x".repeat(100)).into_bytes()
    }

    fn seqs(records: &[Record]) -> Vec<u64> {
        records.iter().map(|r| r.seq).collect()
    }

    fn seg_files(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<_> = fs::read_dir(dir.join("outbox/t"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .collect();
        v.sort();
        v
    }

    /// An outbox with `n` records, acknowledged up to `acked`, closed: its last segment's
    /// path and bytes, and the length of one frame.
    fn closed_outbox(dir: &Path, n: u64, acked: Option<u64>) -> (PathBuf, Vec<u8>, usize) {
        {
            let (ob, _) = open(dir, 1 << 20);
            for i in 0..n {
                ob.append(1, &payload(i)).unwrap();
            }
            if let Some(seq) = acked {
                ob.ack(seq).unwrap();
            }
        }
        let seg = seg_files(dir).pop().unwrap();
        let bytes = fs::read(&seg).unwrap();
        (seg, bytes, HEADER + payload(0).len())
    }

    /// A full disk (ENOSPC, as `/dev/full` answers every write) half-way through an append:
    /// the error reaches the caller, the batch is counted dropped, the half frame is cut off,
    /// and the records before it, the ack cursor and later appends are unharmed.
    #[test]
    fn an_append_on_a_full_disk_fails_whole_and_harms_nothing_before_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (ob, stats) = open(tmp.path(), 1 << 20);
        for i in 0..5 {
            ob.append(1, &payload(i)).unwrap();
        }
        ob.ack(1).unwrap();
        let seg = seg_files(tmp.path()).pop().unwrap();
        let good_len = fs::metadata(&seg).unwrap().len();
        let good = {
            let mut inner = ob.lock();
            // What a write that ran out of space half-way leaves: half a frame.
            let frame = encode(5, 0, 1, &payload(5));
            let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
            f.write_all(&frame[..frame.len() / 2]).unwrap();
            let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
            inner.writer.replace(full).unwrap()
        };
        let e = ob
            .append_batch(1, &[&payload(5), &payload(6)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("No space left on device"), "{e}");
        assert_eq!(SinkStats::get(&stats.dropped), 2);
        assert_eq!(fs::metadata(&seg).unwrap().len(), good_len);
        assert_eq!(seqs(&ob.peek(10).unwrap()), vec![2, 3, 4]);
        // Space is back: appending goes on with the next sequence number.
        ob.lock().writer = Some(good);
        assert_eq!(ob.append(1, &payload(7)).unwrap(), 5);
        drop(ob);
        let (ob, stats) = open(tmp.path(), 1 << 20);
        assert_eq!(seqs(&ob.peek(10).unwrap()), vec![2, 3, 4, 5]);
        assert_eq!(SinkStats::get(&stats.corrupt), 0);
    }

    /// An ack that cannot be written (full disk) keeps the previous cursor: the records come
    /// again (at least once), none is lost.
    #[test]
    fn an_ack_on_a_full_disk_keeps_the_previous_cursor() {
        let tmp = tempfile::tempdir().unwrap();
        let (ob, _) = open(tmp.path(), 1 << 20);
        for i in 0..4 {
            ob.append(1, &payload(i)).unwrap();
        }
        ob.ack(0).unwrap();
        let ack_tmp = tmp.path().join("outbox/t/ack.tmp");
        std::os::unix::fs::symlink("/dev/full", &ack_tmp).unwrap();
        assert!(ob.ack(2).is_err());
        fs::remove_file(&ack_tmp).unwrap();
        drop(ob);
        let (ob, stats) = open(tmp.path(), 1 << 20);
        assert_eq!(seqs(&ob.peek(10).unwrap()), vec![1, 2, 3]);
        assert_eq!(SinkStats::get(&stats.corrupt), 0);
    }

    #[test]
    fn records_come_back_in_order_until_acked() {
        let tmp = tempfile::tempdir().unwrap();
        let (ob, stats) = open(tmp.path(), 1 << 20);
        for i in 0..10 {
            assert_eq!(ob.append(1, &payload(i)).unwrap(), i);
        }
        let batch = ob.peek(4).unwrap();
        assert_eq!(seqs(&batch), [0, 1, 2, 3]);
        assert_eq!(batch[2].payload, payload(2));
        assert_eq!(batch[2].kind, 1);
        assert_eq!(
            seqs(&ob.peek(4).unwrap()),
            [0, 1, 2, 3],
            "peek does not consume"
        );
        ob.ack(3).unwrap();
        assert_eq!(seqs(&ob.peek(100).unwrap()), (4..10).collect::<Vec<_>>());
        ob.ack(5).unwrap(); // a partial ack of the peeked batch
        assert_eq!(seqs(&ob.peek(2).unwrap()), [6, 7]);
        assert_eq!(ob.queued(), 4);
        assert_eq!(SinkStats::get(&stats.queued), 4);
        assert!(SinkStats::get(&stats.oldest_ms) > 0);
        ob.ack(9).unwrap();
        assert!(ob.peek(10).unwrap().is_empty());
        assert_eq!(SinkStats::get(&stats.oldest_ms), 0);
    }

    #[test]
    fn restart_resumes_after_the_last_ack() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let (ob, _) = open(tmp.path(), 64 << 10);
            for i in 0..50 {
                ob.append(1, &payload(i)).unwrap();
            }
            let b = ob.peek(20).unwrap();
            ob.ack(b[19].seq).unwrap();
        }
        let (ob, stats) = open(tmp.path(), 64 << 10);
        assert_eq!(ob.queued(), 30);
        let b = ob.peek(100).unwrap();
        assert_eq!(seqs(&b), (20..50).collect::<Vec<_>>());
        assert_eq!(b[0].payload, payload(20));
        // New appends continue the sequence.
        assert_eq!(ob.append(1, b"next").unwrap(), 50);
        assert_eq!(SinkStats::get(&stats.corrupt), 0);
    }

    #[test]
    fn ack_persists_across_reopen_and_a_fully_acked_outbox_stays_empty() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let (ob, _) = open(tmp.path(), 64 << 10);
            for i in 0..200 {
                ob.append(1, &payload(i)).unwrap();
            }
            ob.ack(199).unwrap();
            assert!(
                seg_files(tmp.path()).len() <= 1,
                "acked segments are deleted"
            );
        }
        let (ob, _) = open(tmp.path(), 64 << 10);
        assert_eq!(ob.queued(), 0);
        assert!(ob.peek(10).unwrap().is_empty());
        assert_eq!(ob.append(1, b"x").unwrap(), 200);
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_counted() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let (ob, _) = open(tmp.path(), 1 << 20);
            for i in 0..5 {
                ob.append(1, &payload(i)).unwrap();
            }
        }
        // A crash mid-write: half of a sixth frame.
        let seg = seg_files(tmp.path()).pop().unwrap();
        let frame = encode(5, 1, 1, &payload(5));
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&frame[..frame.len() / 2]).unwrap();
        drop(f);
        let (ob, stats) = open(tmp.path(), 1 << 20);
        assert_eq!(SinkStats::get(&stats.corrupt), 1);
        assert_eq!(seqs(&ob.peek(10).unwrap()), [0, 1, 2, 3, 4]);
        // The next append reuses seq 5 (it was never complete) and reads back cleanly.
        assert_eq!(ob.append(1, b"after").unwrap(), 5);
        let all = ob.peek(10).unwrap();
        assert_eq!(all.last().unwrap().payload, b"after");
        assert_eq!(all.len(), 6);
    }

    #[test]
    fn a_corrupt_middle_record_is_skipped_never_delivered() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let (ob, _) = open(tmp.path(), 1 << 20);
            for i in 0..5 {
                ob.append(1, &payload(i)).unwrap();
            }
        }
        let seg = seg_files(tmp.path()).pop().unwrap();
        let mut bytes = fs::read(&seg).unwrap();
        let frame_len = HEADER + payload(0).len();
        bytes[2 * frame_len + HEADER + 10] ^= 0xff; // flip a payload byte of record 2
        fs::write(&seg, &bytes).unwrap();
        let (ob, stats) = open(tmp.path(), 1 << 20);
        let got = ob.peek(10).unwrap();
        assert_eq!(seqs(&got), [0, 1, 3, 4]);
        for r in &got {
            assert_eq!(r.payload, payload(r.seq));
        }
        assert!(SinkStats::get(&stats.corrupt) >= 1);
        ob.ack(4).unwrap();
        assert_eq!(ob.queued(), 0);
    }

    /// Issue 25: a corrupt record was logged and counted on every retry of the batch around
    /// it, and again after each restart. It is counted once, the records behind it are
    /// delivered, and once the cursor passed it a restart does not meet it again.
    #[test]
    fn a_corrupt_record_is_counted_once_across_retries_and_restarts() {
        let tmp = tempfile::tempdir().unwrap();
        let (seg, mut bytes, frame_len) = closed_outbox(tmp.path(), 8, None);
        for b in &mut bytes[frame_len + 3..frame_len + 19] {
            *b ^= 0xa5; // 16 bytes of record 1, its length field included
        }
        for b in &mut bytes[5 * frame_len + HEADER..5 * frame_len + HEADER + 16] {
            *b ^= 0xa5; // and 16 of record 5's payload
        }
        fs::write(&seg, &bytes).unwrap();
        let (ob, stats) = open(tmp.path(), 1 << 20);
        for _ in 0..5 {
            // A sink that keeps failing: the same batch is read again and again.
            assert_eq!(seqs(&ob.peek(3).unwrap()), [0, 2, 3]);
        }
        ob.ack(3).unwrap();
        for _ in 0..5 {
            assert_eq!(seqs(&ob.peek(10).unwrap()), [4, 6, 7]);
        }
        assert_eq!(SinkStats::get(&stats.corrupt), 2, "each region once");
        ob.ack(7).unwrap();
        assert_eq!(ob.queued(), 0);
        drop(ob);
        let (ob, stats) = open(tmp.path(), 1 << 20);
        assert!(ob.peek(10).unwrap().is_empty());
        assert_eq!(SinkStats::get(&stats.corrupt), 0, "not met again");
    }

    /// A corrupt record in the middle of a batch that is never acknowledged (the peer stays
    /// down) is written over once counted: a restart delivers the same records and counts
    /// nothing, and new appends go on after them.
    #[test]
    fn a_corrupt_record_is_written_over_so_a_restart_does_not_count_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (seg, mut bytes, frame_len) = closed_outbox(tmp.path(), 5, None);
        for b in &mut bytes[2 * frame_len + 2..2 * frame_len + 18] {
            *b ^= 0x5a;
        }
        fs::write(&seg, &bytes).unwrap();
        {
            let (ob, stats) = open(tmp.path(), 1 << 20);
            assert_eq!(seqs(&ob.peek(10).unwrap()), [0, 1, 3, 4]);
            assert_eq!(SinkStats::get(&stats.corrupt), 1);
        }
        assert_eq!(fs::metadata(&seg).unwrap().len(), bytes.len() as u64);
        let (ob, stats) = open(tmp.path(), 1 << 20);
        let got = ob.peek(10).unwrap();
        assert_eq!(seqs(&got), [0, 1, 3, 4]);
        assert_eq!(got[2].payload, payload(3));
        assert_eq!(SinkStats::get(&stats.corrupt), 0, "repaired");
        assert_eq!(ob.append(1, b"next").unwrap(), 5);
        ob.ack(5).unwrap();
        assert_eq!(ob.queued(), 0);
    }

    /// A corrupt record with nothing unacknowledged before it moves the ack cursor past it at
    /// once (persisted), so a restart before the next delivery does not count it again.
    #[test]
    fn a_corrupt_record_at_the_head_moves_the_cursor_for_good() {
        let tmp = tempfile::tempdir().unwrap();
        let (seg, mut bytes, frame_len) = closed_outbox(tmp.path(), 4, Some(1));
        bytes[2 * frame_len + HEADER + 10] ^= 0xff;
        fs::write(&seg, &bytes).unwrap();
        {
            let (ob, stats) = open(tmp.path(), 1 << 20);
            assert_eq!(seqs(&ob.peek(10).unwrap()), [3]);
            assert_eq!(SinkStats::get(&stats.corrupt), 1);
            assert_eq!(ob.queued(), 1);
        }
        let (ob, stats) = open(tmp.path(), 1 << 20);
        assert_eq!(seqs(&ob.peek(10).unwrap()), [3]);
        assert_eq!(SinkStats::get(&stats.corrupt), 0);
    }

    #[test]
    fn a_corrupt_length_field_resynchronises_on_the_next_frame() {
        let tmp = tempfile::tempdir().unwrap();
        let (ob, stats) = open(tmp.path(), 1 << 20);
        for i in 0..4 {
            ob.append(1, &payload(i)).unwrap();
        }
        let seg = seg_files(tmp.path()).pop().unwrap();
        let mut bytes = fs::read(&seg).unwrap();
        let frame_len = HEADER + payload(0).len();
        bytes[frame_len..frame_len + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        fs::write(&seg, &bytes).unwrap();
        assert_eq!(seqs(&ob.peek(10).unwrap()), [0, 2, 3]);
        assert_eq!(SinkStats::get(&stats.corrupt), 1);
    }

    #[test]
    fn when_full_the_oldest_are_dropped_and_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let max = 32 << 10;
        let (ob, stats) = open(tmp.path(), max);
        let n = 600u64;
        for i in 0..n {
            ob.append(1, &payload(i)).unwrap();
            assert!(ob.disk_bytes() <= max, "bound kept after {i}");
        }
        let dropped = SinkStats::get(&stats.dropped);
        assert!(dropped > 0);
        let left = ob.peek(usize::MAX).unwrap();
        assert_eq!(
            dropped + left.len() as u64,
            n,
            "every record is delivered or counted"
        );
        // What is left is the newest, in order, contiguous.
        assert_eq!(left.last().unwrap().seq, n - 1);
        assert_eq!(left[0].seq, dropped);
        assert!(seqs(&left).windows(2).all(|w| w[1] == w[0] + 1));
        // And the drop survives a restart.
        drop(ob);
        let (ob, _) = open(tmp.path(), max);
        assert_eq!(ob.peek(1).unwrap()[0].seq, dropped);
    }

    #[test]
    fn oversized_records_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (ob, stats) = open(tmp.path(), 16 << 10);
        let err = ob.append(1, &vec![0u8; 8 << 10]).unwrap_err();
        assert!(matches!(err, OutboxError::TooLarge { .. }), "{err}");
        assert_eq!(SinkStats::get(&stats.dropped), 1);
        assert_eq!(ob.append(1, b"ok").unwrap(), 0);
    }

    #[test]
    fn a_corrupt_ack_file_means_redelivery_not_loss() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let (ob, _) = open(tmp.path(), 1 << 20);
            for i in 0..3 {
                ob.append(1, &payload(i)).unwrap();
            }
            ob.ack(1).unwrap();
        }
        fs::write(tmp.path().join("outbox/t/ack"), b"garbage").unwrap();
        let (ob, stats) = open(tmp.path(), 1 << 20);
        assert_eq!(seqs(&ob.peek(10).unwrap()), [0, 1, 2]);
        assert_eq!(SinkStats::get(&stats.corrupt), 1);
    }

    /// Found by fuzzing (fuzz/regressions/outbox_recovery/): a segment named for sequence
    /// number u64::MAX made the next append overflow `next_seq`. Sequence numbers past
    /// `MAX_SEQ` on disk are corrupt wherever they are: a segment's name, the ack cursor, a
    /// frame with a valid checksum.
    #[test]
    fn sequence_numbers_past_the_maximum_on_disk_are_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox/t");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("{:020}.seg", u64::MAX)), b"\xff\xff").unwrap();
        // A name that parses to a number but is not one this outbox writes.
        fs::write(dir.join("+7.seg"), encode(7, 1, 1, b"x")).unwrap();
        let (ob, stats) = open(tmp.path(), 1 << 20);
        assert_eq!(SinkStats::get(&stats.corrupt), 2);
        assert!(ob.peek(10).unwrap().is_empty());
        assert_eq!(ob.append(1, b"first").unwrap(), 0);
        drop(ob);

        // The ack cursor and a frame past MAX_SEQ, both with valid checksums.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox/t");
        fs::create_dir_all(&dir).unwrap();
        let mut ack = u64::MAX.to_le_bytes().to_vec();
        ack.extend_from_slice(&crc32fast::hash(&ack).to_le_bytes());
        fs::write(dir.join("ack"), ack).unwrap();
        let mut seg = encode(0, 1, 1, b"kept");
        seg.extend_from_slice(&encode(u64::MAX, 1, 1, b"corrupt"));
        fs::write(dir.join(format!("{:020}.seg", 0)), seg).unwrap();
        let (ob, stats) = open(tmp.path(), 1 << 20);
        assert_eq!(
            SinkStats::get(&stats.corrupt),
            2,
            "the ack and the last frame"
        );
        let kept = ob.peek(10).unwrap();
        assert_eq!(seqs(&kept), [0]);
        assert_eq!(kept[0].payload, b"kept");
        ob.ack(0).unwrap();
        assert_eq!(ob.append(1, b"next").unwrap(), 1);
        assert_eq!(seqs(&ob.peek(10).unwrap()), [1]);
    }

    /// Found by fuzzing (fuzz/regressions/outbox_recovery/): valid frames in a segment whose
    /// numbers reach past the next segment's name were delivered, and then an append after the
    /// restart took one of their numbers again. Frames outside their segment's range, or out of
    /// order, are corrupt.
    #[test]
    fn frames_outside_their_segments_range_are_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox/t");
        fs::create_dir_all(&dir).unwrap();
        let frames = |seqs: &[u64]| -> Vec<u8> {
            seqs.iter()
                .flat_map(|&s| encode(s, 1, 1, format!("r{s}").as_bytes()))
                .collect()
        };
        // Segment 0 holds 0, 1 and 3 legitimately (a gap is no harm), 12 (past segment 5's
        // name) and 2 (after 3: out of order); segment 5 holds 5 and 6.
        fs::write(
            dir.join(format!("{:020}.seg", 0)),
            frames(&[0, 1, 12, 3, 2]),
        )
        .unwrap();
        fs::write(dir.join(format!("{:020}.seg", 5)), frames(&[5, 6])).unwrap();
        let (ob, stats) = open(tmp.path(), 1 << 20);
        let got = ob.peek(100).unwrap();
        assert_eq!(seqs(&got), [0, 1, 3, 5, 6]);
        assert_eq!(got[2].payload, b"r3");
        assert!(SinkStats::get(&stats.corrupt) >= 2);
        ob.ack(6).unwrap();
        assert_eq!(ob.append(1, b"new").unwrap(), 7);
        assert_eq!(seqs(&ob.peek(100).unwrap()), [7]);
    }

    #[test]
    fn appends_queued_during_an_fsync_share_the_next_one_in_queue_order() {
        let tmp = tempfile::tempdir().unwrap();
        let (ob, _) = open(tmp.path(), 1 << 20);
        // Hold the log as a slow fsync would: the first append leads and waits on it, the
        // others queue behind it.
        let held = ob.lock();
        let first = {
            let ob = Arc::clone(&ob);
            std::thread::spawn(move || ob.append(1, b"first").unwrap())
        };
        let queued = |n: usize| {
            for _ in 0..1000 {
                let c = ob.lock_commit();
                if c.leader && c.queue.len() == n {
                    return;
                }
                drop(c);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            panic!("{n} appends never queued");
        };
        queued(0);
        let mut others = Vec::new();
        for i in 0..7u8 {
            let ob2 = Arc::clone(&ob);
            others.push(std::thread::spawn(move || {
                ob2.append_batch(2, &[&[i], &[i, i]]).unwrap()
            }));
            queued(i as usize + 1);
        }
        drop(held);
        assert_eq!(first.join().unwrap(), 0);
        let firsts: Vec<u64> = others.into_iter().map(|h| h.join().unwrap()).collect();
        // In queue order, each batch consecutive.
        assert_eq!(firsts, (0..7).map(|i| 1 + 2 * i).collect::<Vec<u64>>());
        assert_eq!(
            ob.append_syncs(),
            2,
            "one fsync for the first, one for the 7 queued"
        );
        let all = ob.peek(100).unwrap();
        assert_eq!(all.len(), 15);
        assert_eq!(all[0].payload, b"first");
        for i in 0..7u8 {
            let at = 1 + 2 * i as usize;
            assert_eq!(all[at].payload, [i]);
            assert_eq!(all[at + 1].payload, [i, i]);
            assert_eq!(all[at].kind, 2);
        }
        // And they are on disk: a reopen finds them.
        drop(ob);
        let (ob, _) = open(tmp.path(), 1 << 20);
        assert_eq!(ob.queued(), 15);
    }

    #[test]
    fn concurrent_appends_from_many_threads_all_land_in_order_per_thread() {
        let tmp = tempfile::tempdir().unwrap();
        let (ob, stats) = open(tmp.path(), 64 << 10);
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let ob = Arc::clone(&ob);
                std::thread::spawn(move || {
                    (0..50u64)
                        .map(|i| ob.append(1, &payload(t * 1000 + i)).unwrap())
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        let per_thread: Vec<Vec<u64>> = threads.into_iter().map(|h| h.join().unwrap()).collect();
        let mut all: Vec<u64> = per_thread.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..400).collect::<Vec<u64>>(),
            "every append got its own seq"
        );
        assert!(per_thread.iter().all(|s| s.windows(2).all(|w| w[0] < w[1])));
        assert!(ob.append_syncs() <= 400);
        // The bound (64 KiB) dropped the oldest; what is left reads back intact.
        let left = ob.peek(usize::MAX).unwrap();
        assert_eq!(left.len() as u64 + SinkStats::get(&stats.dropped), 400);
        for r in &left {
            let i = String::from_utf8_lossy(&r.payload);
            assert!(i.starts_with("{\"alert\":"), "{i}");
        }
    }

    #[tokio::test]
    async fn wait_returns_after_an_append() {
        let tmp = tempfile::tempdir().unwrap();
        let (ob, _) = open(tmp.path(), 1 << 20);
        let o2 = Arc::clone(&ob);
        let h = tokio::spawn(async move { o2.wait().await });
        ob.append(1, b"x").unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), h)
            .await
            .unwrap()
            .unwrap();
    }
}
