//! The group commit: appends queued while an fsync runs share the next one, in queue order;
//! the bound is kept by rolling segments and dropping the oldest.

use std::fs::OpenOptions;
use std::io::Write;

use super::*;
use crate::clock::now_ms;

impl Outbox {
    pub(super) fn lock_commit(&self) -> MutexGuard<'_, Commit> {
        self.commit.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues the records, then either waits for the append that is syncing to commit them
    /// (with whatever else queued meanwhile), or, when none is, commits the queue itself.
    pub(super) fn group_commit(&self, kind: u8, payloads: &[&[u8]]) -> Result<u64, OutboxError> {
        let mut commit = self.lock_commit();
        let ticket = commit.next_ticket;
        commit.next_ticket += 1;
        commit.queue.push(Pending {
            ticket,
            kind,
            payloads: payloads.iter().map(|p| p.to_vec()).collect(),
        });
        loop {
            if let Some(outcome) = commit.done.remove(&ticket) {
                return outcome.map_err(|(path, kind, text)| OutboxError::Io {
                    path,
                    source: io::Error::new(kind, text),
                });
            }
            if commit.leader {
                commit = self
                    .committed
                    .wait(commit)
                    .unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Lead: commit everything queued so far, ours included, with one fsync.
            commit.leader = true;
            let group = std::mem::take(&mut commit.queue);
            drop(commit);
            let records: Vec<(u8, &[u8])> = group
                .iter()
                .flat_map(|p| p.payloads.iter().map(move |b| (p.kind, b.as_slice())))
                .collect();
            let result = {
                let mut inner = self.lock();
                let r = inner.append_batch(&records, &self.stats);
                inner.publish(&self.stats);
                r
            };
            if result.is_ok() {
                self.notify.notify_one();
            }
            commit = self.lock_commit();
            let mut next = result.as_ref().copied().unwrap_or(0);
            for p in &group {
                let outcome = match &result {
                    Ok(_) => Ok(next),
                    Err(e) => Err(match e {
                        OutboxError::Io { path, source } => {
                            (path.clone(), source.kind(), source.to_string())
                        }
                        other => (PathBuf::new(), io::ErrorKind::Other, other.to_string()),
                    }),
                };
                next += p.payloads.len() as u64;
                commit.done.insert(p.ticket, outcome);
            }
            commit.leader = false;
            self.committed.notify_all();
        }
    }
}

impl Inner {
    /// Writes `records` (kind, payload) and fsyncs once; all or nothing.
    pub(super) fn append_batch(
        &mut self,
        records: &[(u8, &[u8])],
        stats: &SinkStats,
    ) -> Result<u64, OutboxError> {
        if let Some((_, big)) = records
            .iter()
            .find(|(_, p)| (HEADER + p.len()) as u64 > self.max_record)
        {
            return Err(OutboxError::TooLarge {
                size: big.len(),
                max_bytes: self.max_bytes,
            });
        }
        let first_seq = self.next_seq;
        let was_empty = self.ack >= self.next_seq;
        let time_ms = now_ms();
        let mut written: Vec<(u64, u64)> = Vec::new(); // (segment, bytes before) to undo
        let result = (|| {
            for &(kind, p) in records {
                let frame = encode(self.next_seq, time_ms, kind, p);
                let needs_roll = match (self.writer.as_ref(), self.segments.back()) {
                    (Some(_), Some(seg)) => {
                        seg.bytes > 0 && seg.bytes + frame.len() as u64 > self.segment_bytes
                    }
                    _ => true,
                };
                if needs_roll {
                    self.roll()?;
                }
                let (Some(w), Some(seg)) = (self.writer.as_mut(), self.segments.back_mut()) else {
                    return Err(io_err(&self.dir)(io::Error::other(
                        "no segment to append to",
                    )));
                };
                if written.last().map(|w| w.0) != Some(seg.first) {
                    written.push((seg.first, seg.bytes));
                }
                let path = self.dir.join(format!("{:020}.seg", seg.first));
                w.write_all(&frame).map_err(io_err(&path))?;
                seg.bytes += frame.len() as u64;
                self.total += frame.len() as u64;
                self.next_seq += 1;
            }
            if let Some(w) = self.writer.as_ref() {
                w.sync_data().map_err(io_err(&self.dir))?;
                self.syncs += 1;
            }
            Ok(())
        })();
        if let Err(e) = result {
            // Undo the partial batch so no half-written frame stays behind.
            for (first, len) in written {
                let path = self.seg_path(first);
                if let Ok(f) = OpenOptions::new().write(true).open(&path) {
                    let _ = f.set_len(len);
                }
                if let Some(seg) = self.segments.iter_mut().find(|s| s.first == first) {
                    self.total -= seg.bytes - len;
                    seg.bytes = len;
                }
            }
            self.next_seq = first_seq;
            return Err(e);
        }
        if was_empty {
            self.oldest_ms = time_ms;
        }
        while self.total > self.max_bytes && self.segments.len() > 1 {
            self.drop_oldest(stats)?;
        }
        Ok(first_seq)
    }

    pub(super) fn roll(&mut self) -> Result<(), OutboxError> {
        // The batch being appended may have written to the old segment: only the new one gets
        // the batch's final fsync, so sync the old one now.
        if let Some(w) = self.writer.as_ref() {
            w.sync_data().map_err(io_err(&self.dir))?;
        }
        let first = self.next_seq;
        let path = self.seg_path(first);
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        // Make the new name durable, so a crash cannot leave records in an unnamed file.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))?;
        self.segments.push_back(Segment { first, bytes: 0 });
        self.writer = Some(f);
        Ok(())
    }

    /// Deletes the oldest segment to respect the bound; its undelivered records are counted.
    pub(super) fn drop_oldest(&mut self, stats: &SinkStats) -> Result<(), OutboxError> {
        let (Some(seg), Some(next)) = (self.segments.front(), self.segments.get(1)) else {
            return Ok(());
        };
        let (first, bytes, end) = (seg.first, seg.bytes, next.first);
        let lost = end.saturating_sub(self.ack.max(first));
        if lost > 0 {
            SinkStats::add(&stats.dropped, lost);
            self.dropped_since_log += lost;
            if self.drop_log.hit().is_some() {
                tracing::warn!(
                    outbox = %self.dir.display(), dropped = std::mem::take(&mut self.dropped_since_log),
                    max_bytes = self.max_bytes,
                    "outbox full: oldest undelivered records dropped (logged at most once a minute)"
                );
            }
        }
        if end > self.ack {
            self.ack = end;
            self.write_ack()?;
        }
        let path = self.seg_path(first);
        fs::remove_file(&path).map_err(io_err(&path))?;
        self.segments.pop_front();
        self.total -= bytes;
        if self.cursor.is_some_and(|c| c.seg == first) {
            self.cursor = None;
        }
        if self.peeked.is_some_and(|(_, c)| c.seg == first) {
            self.peeked = None;
        }
        self.refresh_oldest(stats)
    }
}
