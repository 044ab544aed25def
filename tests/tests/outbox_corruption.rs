//! An outbox-backed sink meets a corrupt record: the real binary, a real outbox segment with 16
//! bytes of one record flipped, and a loopback HTTP receiver (it answers 500 first, so the batch
//! around the corrupt record is read again). The record is skipped and counted once, the rest
//! delivered in order, and a restart does not meet it again. Its own test binary: its agents
//! sample the host, kept apart from the anomaly tests of webhook.rs.

use std::time::Duration;

use seismo_e2e::http_receiver::{HttpReceiver, Request};
use seismo_e2e::{default_config_with, Agent};

/// CRC-32 (IEEE), as the outbox frames its records.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// One outbox frame as the agent writes it (docs/reliability.md, "Outboxes"):
/// `len u32 | crc u32 | seq u64 | time_ms i64 | kind u8 | payload`, little-endian.
fn outbox_frame(seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut body = seq.to_le_bytes().to_vec();
    body.extend_from_slice(&1_700_000_000_000i64.to_le_bytes());
    body.push(1); // an alert
    body.extend_from_slice(payload);
    let mut frame = (payload.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&crc32(&body).to_le_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// Issue 25: 16 flipped bytes in a webhook outbox segment made the agent log and count the
/// corrupt record on every retry while nothing behind it was delivered. Now the record is
/// skipped and counted once, every other record is delivered in order (also through failed
/// attempts that make the batch be read again), and a restart does not meet it again.
#[test]
fn a_corrupt_outbox_record_is_skipped_once_and_the_rest_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let outbox = state.join("outbox/webhook-hook");
    std::fs::create_dir_all(&outbox).unwrap();
    let payload = |n: u64| {
        format!(
            "{{\"kind\":\"alert\",\"n\":{n},\"pad\":\"{}\"}}",
            "x".repeat(300)
        )
    };
    let mut seg = Vec::new();
    let mut starts = Vec::new();
    for n in 0..20 {
        starts.push(seg.len());
        seg.extend_from_slice(&outbox_frame(n, payload(n).as_bytes()));
    }
    // 16 bytes of record 7 flipped, its header included.
    for b in &mut seg[starts[7] + 4..starts[7] + 20] {
        *b ^= 0x5a;
    }
    std::fs::write(outbox.join(format!("{:020}.seg", 0)), &seg).unwrap();

    let hook = HttpReceiver::start();
    // The first attempts fail: the batch around the corrupt record is read again each time.
    hook.script(&[500, 500, 500]);
    let config = default_config_with(&state, &[])
        + &format!(
            "\n[[sinks.webhook]]\nname = \"hook\"\nurl = \"{}/seismo\"\n\
             retry_initial = \"100ms\"\nretry_max = \"200ms\"\n",
            hook.url()
        );
    let config = seismo_e2e::write_config(dir.path(), &config);
    let delivered = |rs: &[Request]| -> Vec<u64> {
        rs.iter()
            .filter(|r| r.status < 300)
            .flat_map(|r| {
                r.json()
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|v| v["n"].as_u64())
            })
            .collect()
    };
    let mut agent = Agent::run(&config);
    let got = hook.wait(Duration::from_secs(30), |rs| delivered(rs).len() >= 19);
    let want: Vec<u64> = (0..20).filter(|&n| n != 7).collect();
    agent.stop(Duration::from_secs(15));
    assert_eq!(
        delivered(&got),
        want,
        "every record but the corrupt one, in order, once; stderr: {:?}",
        agent.seen_stderr
    );
    let skipped = |a: &Agent| {
        a.seen_stderr
            .iter()
            .filter(|l| l.contains("corrupt outbox record skipped"))
            .count()
    };
    assert_eq!(skipped(&agent), 1, "logged once: {:?}", agent.seen_stderr);
    assert_eq!(agent.summary_counter("webhook-hook.corrupt"), 1);
    assert_eq!(agent.summary_counter("webhook-hook.delivered"), 19);
    assert_eq!(agent.summary_counter("webhook-hook.queued"), 0);

    // A restart does not meet it again.
    let mut again = Agent::run(&config);
    std::thread::sleep(Duration::from_secs(2));
    again.stop(Duration::from_secs(15));
    assert_eq!(skipped(&again), 0, "{:?}", again.seen_stderr);
    assert_eq!(again.summary_counter("webhook-hook.corrupt"), 0);
    assert_eq!(delivered(&hook.requests()).len(), 19, "nothing sent twice");
}
