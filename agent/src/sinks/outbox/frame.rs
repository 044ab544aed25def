//! The on-disk frame of a record: length, checksum, sequence number, time, kind, payload;
//! written by appends, read back (and checked) by peeks and recovery.

use std::io::{self, Read};

pub(super) const HEADER: usize = 4 + 4 + 8 + 8 + 1;
/// The largest sequence number ever written: 2^63 appends would take ages. A number read from
/// disk above it (a segment file's name, the ack cursor, a frame) is corrupt, which also keeps
/// `seq + 1` from overflowing.
pub(super) const MAX_SEQ: u64 = i64::MAX as u64;
/// The kind of a frame written over a corrupt region once it was skipped and counted: read
/// back as nothing (not delivered, not counted again), so a restart does not meet the region
/// again. Producers' kinds start at 1.
pub(super) const SKIPPED: u8 = 0;

/// One queued record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Increasing by one per append, never reused for a sink.
    pub seq: u64,
    /// When it was appended, unix milliseconds.
    pub time_ms: i64,
    /// A tag chosen by the producer (see `sinks::EventKind`).
    pub kind: u8,
    pub payload: Vec<u8>,
}

pub(super) fn encode(seq: u64, time_ms: i64, kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(&seq.to_le_bytes());
    frame.extend_from_slice(&time_ms.to_le_bytes());
    frame.push(kind);
    frame.extend_from_slice(payload);
    let crc = crc32fast::hash(&frame[8..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    frame
}

/// Decodes the frame at the start of `buf`; `None` when it is short, oversized or corrupt.
pub(super) fn decode(buf: &[u8], max_record: u64) -> Option<(Record, usize)> {
    let len = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    if (HEADER + len) as u64 > max_record {
        return None;
    }
    let frame = buf.get(..HEADER + len)?;
    let crc = u32::from_le_bytes(frame[4..8].try_into().ok()?);
    if crc32fast::hash(&frame[8..]) != crc {
        return None;
    }
    let seq = u64::from_le_bytes(frame[8..16].try_into().ok()?);
    if seq > MAX_SEQ {
        return None;
    }
    Some((
        Record {
            seq,
            time_ms: i64::from_le_bytes(frame[16..24].try_into().ok()?),
            kind: frame[24],
            payload: frame[HEADER..].to_vec(),
        },
        HEADER + len,
    ))
}

/// Reads one frame of at most `remaining` bytes; `None` when it is corrupt or torn.
pub(super) fn read_frame(
    r: &mut impl Read,
    remaining: u64,
    max_record: u64,
) -> io::Result<Option<(Record, u64)>> {
    let mut head = [0u8; HEADER];
    if remaining < HEADER as u64 {
        return Ok(None);
    }
    r.read_exact(&mut head)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as u64;
    if HEADER as u64 + len > max_record.min(remaining) {
        return Ok(None);
    }
    let mut frame = head.to_vec();
    frame.resize(HEADER + len as usize, 0);
    r.read_exact(&mut frame[HEADER..])?;
    Ok(decode(&frame, max_record).map(|(rec, n)| (rec, n as u64)))
}

/// The offset in `buf` of the first valid frame with a sequence number of at least `min_seq`.
pub(super) fn find_frame(buf: &[u8], min_seq: u64, max_record: u64) -> Option<usize> {
    (0..buf.len().saturating_sub(HEADER - 1))
        .find(|&i| decode(&buf[i..], max_record).is_some_and(|(r, _)| r.seq >= min_seq))
}
