//! The end-of-run checks: every written line in the lines sink exactly once, and every event
//! the agent raised delivered to the MQTT subscriber.

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde_json::Value;

/// What the lines sink holds, against the `written` numbered lines.
#[derive(Debug, Default)]
pub struct LinesReport {
    pub records: u64,
    pub distinct: u64,
    pub missing: u64,
    pub duplicated: u64,
    /// Records that are not a numbered line of this run (malformed, altered, out of range).
    pub foreign: u64,
    /// The first few missing and duplicated numbers, for the report.
    pub first_missing: Vec<u64>,
    pub first_duplicated: Vec<u64>,
}

impl LinesReport {
    pub fn ok(&self) -> bool {
        self.missing == 0 && self.duplicated == 0 && self.foreign == 0
    }
}

/// The `seq=N` number at the end of a line the writer wrote.
fn seq_of(line: &str) -> Option<u64> {
    line.rsplit_once(" seq=")?.1.parse().ok()
}

pub fn check_lines(sink: &Path, written: u64) -> io::Result<LinesReport> {
    let len = usize::try_from(written).map_err(io::Error::other)?;
    let mut seen = vec![0u8; len];
    let mut r = LinesReport::default();
    for raw in BufReader::with_capacity(1 << 20, std::fs::File::open(sink)?).lines() {
        let raw = raw?;
        r.records += 1;
        let n = serde_json::from_str::<Value>(&raw)
            .ok()
            .and_then(|v| v.get("line")?.as_str().and_then(seq_of));
        match n.and_then(|n| usize::try_from(n).ok()).filter(|&n| n < len) {
            Some(n) => seen[n] = seen[n].saturating_add(1),
            None => {
                r.foreign += 1;
                if r.foreign <= 5 {
                    eprintln!("soak: a record that is no line of this run: {raw}");
                }
            }
        }
    }
    for (n, &c) in seen.iter().enumerate() {
        match c {
            0 => {
                r.missing += 1;
                if r.first_missing.len() < 10 {
                    r.first_missing.push(n as u64);
                }
            }
            1 => r.distinct += 1,
            _ => {
                r.distinct += 1;
                r.duplicated += 1;
                if r.first_duplicated.len() < 10 {
                    r.first_duplicated.push(n as u64);
                }
            }
        }
    }
    Ok(r)
}

/// Events raised (the agent's stdout) against events received by the subscriber.
#[derive(Debug, Default)]
pub struct DeliveryReport {
    /// Event lines the agent printed (alerts and incidents).
    pub raised: usize,
    pub raised_alerts: usize,
    /// Distinct alert ids among the raised alerts (firing, escalated and resolved share one).
    pub raised_alert_ids: usize,
    /// Messages received on the alert and incident topics, with repeats.
    pub received: usize,
    /// Distinct payloads received.
    pub received_distinct: usize,
    pub received_alert_ids: usize,
    /// Raised events never received.
    pub missing: Vec<String>,
    /// Received events the agent never printed.
    pub unexpected: usize,
}

impl DeliveryReport {
    pub fn ok(&self) -> bool {
        self.missing.is_empty() && self.unexpected == 0
    }
}

fn alert_id(payload: &str) -> Option<String> {
    let v: Value = serde_json::from_str(payload).ok()?;
    (v.get("kind")?.as_str()? == "alert").then(|| v.get("alert_id")?.as_str().map(str::to_owned))?
}

/// Compares the printed event lines with the received payloads (the MQTT payload is the stdout
/// line, byte for byte). Duplicates are allowed: QoS 1 is at-least-once.
pub fn check_delivery(printed: &[String], received: &[String]) -> DeliveryReport {
    let raised: Vec<&String> = printed.iter().filter(|l| l.starts_with('{')).collect();
    let got: HashSet<&String> = received.iter().collect();
    let raised_set: HashSet<&String> = raised.iter().copied().collect();
    let ids = |it: &mut dyn Iterator<Item = &String>| {
        it.filter_map(|p| alert_id(p)).collect::<HashSet<String>>()
    };
    DeliveryReport {
        raised: raised.len(),
        raised_alerts: raised.iter().filter(|p| alert_id(p).is_some()).count(),
        raised_alert_ids: ids(&mut raised.iter().copied()).len(),
        received: received.len(),
        received_distinct: got.len(),
        received_alert_ids: ids(&mut got.iter().copied()).len(),
        missing: raised
            .iter()
            .filter(|p| !got.contains(*p))
            .map(|p| (*p).clone())
            .collect(),
        unexpected: got.iter().filter(|p| !raised_set.contains(*p)).count(),
    }
}
