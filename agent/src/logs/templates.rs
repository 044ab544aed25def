//! A log source's learned state on disk (`logs/{source}.templates`): its templates as a list
//! (id, count, text, least recently used first), the next template id, the ranking weights
//! that choose which templates get a signal, and the new-template alerts still counting down to
//! their resolution. A list rather than the miner's tree, so the ids survive changes to the
//! miner itself: restoring re-inserts each template under its id
//! ([`TemplateMiner::with_templates`]).
//!
//! Layout: magic `SMTL`, version (u16 LE), CRC-32 of the payload (u32 LE), payload (postcard).
//! The miner's own format of earlier versions (magic `SMTM`) is still read, so an upgrade keeps
//! the ids.

use std::collections::HashMap;

use seismo_detectors::{MinerConfig, TemplateMiner};
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 4] = b"SMTL";
const VERSION: u16 = 1;
/// The miner's own state format, written by earlier versions.
const OLD_MAGIC: &[u8; 4] = b"SMTM";

#[derive(Serialize)]
struct SavedOut<'a> {
    next_id: u64,
    templates: Vec<(u64, u64, &'a str)>,
    rank: Vec<(u64, f64)>,
    resolving: Vec<(u64, u32)>,
}

#[derive(Deserialize)]
struct SavedIn {
    next_id: u64,
    templates: Vec<(u64, u64, String)>,
    rank: Vec<(u64, f64)>,
    resolving: Vec<(u64, u32)>,
}

/// The countdown of a restored new-template alert: the full `resolve_after`, whatever it is.
const RESTORED: u32 = u32::MAX;

/// A source's learned state, read back.
pub(crate) struct LearnedSource {
    pub(crate) miner: TemplateMiner,
    pub(crate) rank: HashMap<u64, f64>,
    pub(crate) resolving: HashMap<u64, u32>,
}

/// The bytes of a source's learned state.
pub(crate) fn save(
    miner: &TemplateMiner,
    rank: &HashMap<u64, f64>,
    resolving: &HashMap<u64, u32>,
) -> Vec<u8> {
    let mut templates: Vec<(u64, u64, &str)> = miner
        .templates()
        .map(|t| (t.id, t.count, t.template))
        .collect();
    templates.reverse();
    let mut rank: Vec<(u64, f64)> = rank.iter().map(|(k, v)| (*k, *v)).collect();
    rank.sort_by_key(|r| r.0);
    let mut resolving: Vec<(u64, u32)> = resolving.iter().map(|(k, v)| (*k, *v)).collect();
    resolving.sort_unstable();
    let saved = SavedOut {
        next_id: miner.next_id(),
        templates,
        rank,
        resolving,
    };
    // Plain data into a Vec: encoding cannot fail; were it ever to, an empty payload is
    // refused at the next start (with its reason) instead of stopping the log stage.
    let payload = postcard::to_allocvec(&saved).unwrap_or_default();
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Reads a source's learned state; `Err` says why it cannot be used.
pub(crate) fn load(config: MinerConfig, bytes: &[u8]) -> Result<LearnedSource, String> {
    if bytes.len() >= 4 && &bytes[..4] == OLD_MAGIC {
        let miner = TemplateMiner::from_bytes(config, bytes).map_err(|e| e.to_string())?;
        return Ok(LearnedSource {
            miner,
            rank: HashMap::new(),
            resolving: HashMap::new(),
        });
    }
    if bytes.len() < 10 || &bytes[..4] != MAGIC {
        return Err("not a seismo template state (bad magic)".to_owned());
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != VERSION {
        return Err(format!(
            "template state version {version}, this agent reads version {VERSION}"
        ));
    }
    let crc = u32::from_le_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]);
    let payload = &bytes[10..];
    if crc32fast::hash(payload) != crc {
        return Err("template state is corrupt: checksum mismatch".to_owned());
    }
    let saved: SavedIn =
        postcard::from_bytes(payload).map_err(|e| format!("template state is malformed: {e}"))?;
    let miner = TemplateMiner::with_templates(
        config,
        saved.next_id,
        saved
            .templates
            .iter()
            .map(|(id, count, text)| (*id, *count, text.as_str())),
    )
    .map_err(|e| e.to_string())?;
    // Only for templates the miner still holds (a smaller bound may have evicted some).
    let live = |id: &u64| miner.template(*id).is_some();
    Ok(LearnedSource {
        rank: saved.rank.into_iter().filter(|(id, _)| live(id)).collect(),
        // The alert's own count of normal intervals (in the pipeline's snapshot) was saved at
        // another moment than this countdown: the countdown starts again from the full
        // `resolve_after` (clamped at the next interval), so the alert gets all the normal
        // intervals it may still need. Extra ones after it resolved change nothing.
        resolving: saved
            .resolving
            .into_iter()
            .filter(|(id, _)| live(id))
            .map(|(id, _)| (id, RESTORED))
            .collect(),
        miner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miner() -> TemplateMiner {
        let mut m = TemplateMiner::default();
        for i in 0..20 {
            m.add(&format!("user {i} logged in from 10.0.0.{i}"));
            m.add(&format!("cache flushed {i} entries in {} ms", i * 3));
            m.add(&format!("worker {i} restarted after signal {}", i % 3));
        }
        m.add("disk /dev/sda1 is full");
        m
    }

    #[test]
    fn templates_come_back_under_their_ids_and_match_the_same_lines() {
        let m = miner();
        let rank = HashMap::from([(1, 3.5), (2, 0.5)]);
        let resolving = HashMap::from([(4, 2)]);
        let bytes = save(&m, &rank, &resolving);
        let mut back = load(MinerConfig::default(), &bytes).unwrap();
        let list = |m: &TemplateMiner| {
            m.templates()
                .map(|t| (t.id, t.count, t.template.to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            list(&back.miner),
            list(&m),
            "same ids, counts, texts, recency"
        );
        assert_eq!(back.rank, rank);
        assert_eq!(back.resolving, HashMap::from([(4, RESTORED)]));
        // New lines of the saved templates match them; a new template gets a new id.
        let mut live = m;
        for line in [
            "user 77 logged in from 10.0.0.9",
            "cache flushed 5 entries in 2 ms",
            "worker 3 restarted after signal 9",
            "disk /dev/sdb2 is full",
            "a line never seen before",
        ] {
            assert_eq!(back.miner.add(line), live.add(line), "{line}");
        }
    }

    #[test]
    fn damaged_or_foreign_state_is_refused_with_a_reason() {
        let bytes = save(&miner(), &HashMap::new(), &HashMap::new());
        let mut flipped = bytes.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x10;
        let err = |b: &[u8]| load(MinerConfig::default(), b).err().unwrap();
        assert!(err(&flipped).contains("checksum"));
        assert!(err(&bytes[..bytes.len() / 2]).contains("checksum"));
        let mut version = bytes.clone();
        version[4] = 9;
        assert!(err(&version).contains("version 9"));
        assert!(err(b"{}").contains("bad magic"));
    }

    #[test]
    fn the_miners_own_format_of_earlier_versions_is_read() {
        let m = miner();
        let back = load(MinerConfig::default(), &m.to_bytes()).unwrap();
        assert_eq!(back.miner.template(4), m.template(4));
        assert_eq!(back.miner.next_id(), m.next_id());
    }
}
