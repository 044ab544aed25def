//! Recovery at open: segments scanned, a torn tail cut off, corrupt records counted, the ack
//! cursor checked against what is on disk.

use std::fs::OpenOptions;

use super::*;

impl Inner {
    pub(super) fn recover(&mut self, stats: &SinkStats) -> Result<(), OutboxError> {
        let mut firsts = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            match name.strip_suffix(".seg").map(|n| {
                n.parse::<u64>()
                    .ok()
                    .filter(|&f| f <= MAX_SEQ && n == format!("{f:020}"))
            }) {
                Some(Some(first)) => firsts.push(first),
                Some(None) => {
                    // Not a name this outbox writes: left alone, never read.
                    SinkStats::add(&stats.corrupt, 1);
                    tracing::warn!(dir = %self.dir.display(), file = %name, "outbox file with a corrupt segment name ignored");
                }
                None => {}
            }
        }
        firsts.sort_unstable();
        for first in firsts {
            let path = self.seg_path(first);
            let bytes = fs::metadata(&path).map_err(io_err(&path))?.len();
            self.total += bytes;
            self.segments.push_back(Segment { first, bytes });
        }
        let stored_ack = self.read_ack(stats);
        let oldest = self.segments.front().map(|s| s.first);
        // Segments below a stored cursor may have been deleted after the cursor was written.
        self.ack = match (stored_ack, oldest) {
            (Some(a), Some(o)) => a.max(o),
            (a, o) => a.or(o).unwrap_or(0),
        };

        // Only the last segment was being written: find its end, cutting off a torn tail.
        self.next_seq = self.ack;
        if let Some(last) = self.segments.back().map(|s| s.first) {
            let (end_seq, valid_len) = self.scan_tail(last, stats)?;
            self.next_seq = self.next_seq.max(end_seq);
            let path = self.seg_path(last);
            let seg = self.segments.back_mut().map(|s| {
                let old = s.bytes;
                s.bytes = valid_len;
                old
            });
            if let Some(old) = seg.filter(|&old| old > valid_len) {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                f.set_len(valid_len).map_err(io_err(&path))?;
                f.sync_all().map_err(io_err(&path))?;
                self.total -= old - valid_len;
            }
            let writer = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(io_err(&path))?;
            self.writer = Some(writer);
        }
        if self.ack > self.next_seq {
            // The cursor names records that are gone (a torn tail after the ack): never reuse
            // their sequence numbers.
            self.next_seq = self.ack;
        }
        self.remove_acked_segments()?;
        Ok(())
    }

    /// Scans segment `first` to its last valid frame; returns (next seq, valid length).
    pub(super) fn scan_tail(
        &mut self,
        first: u64,
        stats: &SinkStats,
    ) -> Result<(u64, u64), OutboxError> {
        let path = self.seg_path(first);
        let data = fs::read(&path).map_err(io_err(&path))?;
        let mut off = 0usize;
        let mut next = first;
        let mut valid_end = 0usize;
        while off < data.len() {
            match decode(&data[off..], self.max_record) {
                Some((rec, len)) if rec.seq >= next => {
                    next = rec.seq + 1;
                    off += len;
                    valid_end = off;
                }
                _ => match find_frame(&data[off + 1..], next, self.max_record) {
                    Some(skip) => {
                        let after = decode(&data[off + 1 + skip..], self.max_record)
                            .map_or(next, |(rec, _)| rec.seq);
                        // A region behind the ack cursor was skipped (and counted) before;
                        // one ahead of it is counted here, once (see `peek`).
                        if after > self.ack && self.corrupt_seen.insert((first, off as u64)) {
                            SinkStats::add(&stats.corrupt, 1);
                            tracing::warn!(segment = %path.display(), offset = off, "corrupt outbox record skipped: delivery continues with the next valid record");
                        }
                        off += 1 + skip;
                    }
                    None => {
                        SinkStats::add(&stats.corrupt, 1);
                        tracing::warn!(
                            segment = %path.display(), offset = off, bytes = data.len() - off,
                            "torn record at the end of the outbox (a crash mid-write): cut off"
                        );
                        break;
                    }
                },
            }
        }
        Ok((next, valid_end as u64))
    }

    pub(super) fn read_ack(&self, stats: &SinkStats) -> Option<u64> {
        let path = self.dir.join(ACK_FILE);
        let bytes = fs::read(&path).ok()?;
        if bytes.len() == 12 {
            let seq = u64::from_le_bytes(bytes[..8].try_into().ok()?);
            let crc = u32::from_le_bytes(bytes[8..].try_into().ok()?);
            if crc32fast::hash(&bytes[..8]) == crc && seq <= MAX_SEQ {
                return Some(seq);
            }
        }
        SinkStats::add(&stats.corrupt, 1);
        tracing::warn!(path = %path.display(), "outbox ack cursor is corrupt: delivering from the oldest record kept (duplicates possible)");
        None
    }
}
