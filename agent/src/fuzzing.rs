//! Entry points of the fuzz targets in `fuzz/` (one function per target; how to run them: the
//! comment at the top of `fuzz/run.sh`). Each takes arbitrary bytes, drives the same code the agent
//! runs on untrusted input (a configuration file, log lines, a scraped body, a CSV file, files
//! read back from the state directory) and panics only when an invariant that code promises is
//! broken; a graceful refusal (an error value, a counted record) is a pass.
//!
//! The regular test suite (`agent/tests/fuzz_corpus.rs`) runs every function on the committed
//! seed corpus and crash regressions, so the targets cannot rot while the fuzzer is not run.
//! Not part of the agent's API: nothing in the agent calls it.

use std::path::Path;
use std::sync::Arc;

use seismo_detectors::{LogFormat, MinerConfig, TemplateMiner};

use crate::sinks::outbox::Outbox;
use crate::sources::files::container::{decode_cri, decode_docker, Wrapper};
use crate::sources::journal::record;
use crate::sources::scrape::series;
use crate::telemetry::stats::SinkStats;

/// A target's body: any bytes in, a panic only for a broken invariant.
pub type Entry = fn(&[u8]);

/// Every target: its name (the file `fuzz/fuzz_targets/{name}.rs` and the folders
/// `fuzz/corpus/{name}/`, `fuzz/regressions/{name}/`) and its entry point.
pub const TARGETS: &[(&str, Entry)] = &[
    ("config", config),
    ("log_format", log_format),
    ("template_miner", template_miner),
    ("container_line", container_line),
    ("prometheus_text", prometheus_text),
    ("csv_series", csv_series),
    ("outbox_recovery", outbox_recovery),
    ("journal_record", journal_record),
];

/// Lines as the file tailer hands them out: split at `\n`, without a trailing `\r`, invalid
/// UTF-8 replaced.
fn lines(data: &[u8]) -> impl Iterator<Item = String> + '_ {
    data.split(|&b| b == b'\n').map(|l| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        String::from_utf8_lossy(l).into_owned()
    })
}

/// A configuration file (`seismo check-config`, `seismo run --config`): parsed and validated,
/// then with `SEISMO_*` overrides that repeat the file's own values, which must not change
/// the result (the overrides merge through a TOML round trip of the whole file).
pub fn config(data: &[u8]) {
    // `load` reads the file with `read_to_string`: other bytes are refused before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match seismo_config::parse(text, "fuzz.toml") {
        Ok(c) => c,
        Err(e) => {
            let shown = e.to_string();
            if let seismo_config::ConfigError::Invalid(located) = &e {
                let lines = text.split('\n').count();
                assert!(
                    (1..=lines).contains(&located.line) && located.column >= 1,
                    "error outside the text: {shown}"
                );
            }
            return;
        }
    };
    let level = match config.logging.level {
        seismo_config::LogLevel::Error => "error",
        seismo_config::LogLevel::Warn => "warn",
        seismo_config::LogLevel::Info => "info",
        seismo_config::LogLevel::Debug => "debug",
        seismo_config::LogLevel::Trace => "trace",
    };
    let same = seismo_config::Overrides::from_vars([
        ("SEISMO_LOG_LEVEL".to_owned(), level.to_owned()),
        (
            "SEISMO_HOST_METRICS".to_owned(),
            config.sources.host.enabled.to_string(),
        ),
    ]);
    let Ok(same) = same else {
        panic!("the override variables are refused");
    };
    match same.apply(text, "fuzz.toml") {
        Ok(merged) => assert_eq!(
            merged, config,
            "overrides that repeat the file's values changed the configuration"
        ),
        Err(e) => panic!("overrides that repeat the file's values are refused: {e}"),
    }
}

/// A `format` header (first line of the input, as in `[[sources.files]] format` or
/// `seismo logparse --log-format`) applied to the lines that follow.
pub fn log_format(data: &[u8]) {
    let mut lines = lines(data);
    let Some(format) = lines.next() else {
        return;
    };
    let format = match LogFormat::parse(&format) {
        Ok(f) => f,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let names: Vec<&str> = format.names().collect();
    assert!(names.contains(&"Content"));
    for line in lines {
        let Some(fields) = format.split(&line) else {
            continue;
        };
        let within = |s: &str| {
            let (start, end) = (line.as_ptr() as usize, line.as_ptr() as usize + line.len());
            let p = s.as_ptr() as usize;
            p >= start && p + s.len() <= end
        };
        assert!(
            within(fields.content()),
            "the message is not part of the line"
        );
        if let Some(level) = fields.level() {
            assert!(within(level));
        }
        for (name, value) in fields.iter() {
            assert!(within(value));
            assert_eq!(fields.get(name), Some(value));
        }
    }
}

/// Log messages into the template miner, as the log stage does, with the default
/// configuration and with a tiny one (evictions, the `<*>` branch). Checked per line: the line
/// gets a live template with as many tokens as the line; the same line again gets the same
/// template, unchanged; at most `max_clusters` templates live. At the end the state survives
/// `to_bytes`/`from_bytes` unchanged.
///
/// An input that starts with the state magic `SMTM` is instead a saved miner state (what a
/// restart reads from the state directory), with its checksum appended here so that the
/// decoder behind it is reached: it is refused or yields a miner that works.
pub fn template_miner(data: &[u8]) {
    if data.starts_with(b"SMTM") {
        return miner_state(data);
    }
    let tiny = MinerConfig {
        depth: 3,
        similarity: 0.5,
        max_children: 2,
        max_clusters: 4,
        max_tokens: 8,
        variables: seismo_detectors::VariableForm::Parts,
    };
    for config in [MinerConfig::default(), tiny] {
        let mut miner = match TemplateMiner::new(config.clone()) {
            Ok(m) => m,
            Err(e) => panic!("a valid miner configuration is refused: {e}"),
        };
        let mut masked = String::new();
        let mut spans = Vec::new();
        for line in lines(data) {
            seismo_detectors::masking::mask_line(
                &line,
                config.max_tokens,
                config.variables,
                &mut masked,
                &mut spans,
            );
            let m = miner.add(&line);
            let template = miner.template(m.template_id);
            let Some(template) = template else {
                panic!("the line's template {} is not live", m.template_id);
            };
            assert_eq!(
                template.split_ascii_whitespace().count(),
                spans.len(),
                "template {template:?} and line {line:?} differ in length"
            );
            if let Some(gone) = m.evicted {
                assert!(gone != m.template_id && miner.template(gone).is_none());
            }
            assert!(miner.len() <= config.max_clusters);
            let count = miner.count(m.template_id);
            let again = miner.add(&line);
            assert_eq!(
                (
                    again.template_id,
                    again.is_new,
                    again.template_changed,
                    again.evicted
                ),
                (m.template_id, false, false, None),
                "the same line again got another template: {line:?}"
            );
            assert_eq!(miner.count(m.template_id), count.map(|c| c + 1));
        }
        let restored = match TemplateMiner::from_bytes(config, &miner.to_bytes()) {
            Ok(r) => r,
            Err(e) => panic!("the miner's own state is refused: {e}"),
        };
        assert!(
            restored.templates().eq(miner.templates()),
            "templates changed across to_bytes/from_bytes"
        );
    }
}

/// A miner state with a valid checksum (FNV-1a 64 of the bytes before it, see
/// `TemplateMiner::to_bytes`).
fn miner_state(data: &[u8]) {
    let sum = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut bytes = data.to_vec();
    bytes.extend_from_slice(&sum.to_le_bytes());
    let config = MinerConfig {
        max_clusters: 16,
        ..MinerConfig::default()
    };
    let Ok(mut miner) = TemplateMiner::from_bytes(config.clone(), &bytes) else {
        return;
    };
    assert!(miner.len() <= config.max_clusters);
    for line in ["a b c", "a b d", "x 1 2 3", ""] {
        let m = miner.add(line);
        assert!(miner.template(m.template_id).is_some());
    }
    let again = match TemplateMiner::from_bytes(config, &miner.to_bytes()) {
        Ok(r) => r,
        Err(e) => panic!("a restored miner's state is refused: {e}"),
    };
    assert!(again.templates().eq(miner.templates()));
}

/// Container log records (CRI, Docker json-file), one per line, as the tailer decodes them:
/// the wrapper detected on a record decodes it; a CRI message is the end of its record.
pub fn container_line(data: &[u8]) {
    for record in data.split(|&b| b == b'\n') {
        let record = record.strip_suffix(b"\r").unwrap_or(record);
        let cri = decode_cri(record);
        let docker = decode_docker(record);
        if let Ok(r) = &cri {
            assert!(record.ends_with(&r.message));
        }
        match Wrapper::detect(record) {
            Some(Wrapper::Cri) => assert!(cri.is_ok()),
            Some(Wrapper::Docker) => assert!(docker.is_ok()),
            None => assert!(cri.is_err() && (docker.is_err() || record.first() != Some(&b'{'))),
        }
    }
}

/// A scraped body, as `[[sources.scrape]]` handles it: read twice, ten seconds apart, by one
/// target's series. Checked: every sample is finite and named `scrape.fuzz.…` with
/// signal-safe characters; the second scrape of the same body gives rates of zero (the signals
/// it adds to the first); a body refused the first time is refused the second.
pub fn prometheus_text(data: &[u8]) {
    let mut series = series::Series::new("fuzz", 64, seismo_config::SeriesFilter::default());
    let mut dropped = series::Dropped::default();
    let Ok(first) = series.read(data, 1_000, &mut dropped) else {
        assert!(series.read(data, 11_000, &mut dropped).is_err());
        return;
    };
    let second = match series.read(data, 11_000, &mut dropped) {
        Ok(r) => r.samples,
        Err(e) => panic!("a body read once is refused the second time: {e}"),
    };
    let first = first.samples;
    for s in first.iter().chain(&second) {
        assert!(s.value.is_finite(), "{} = {}", s.signal, s.value);
        let name = s.signal.strip_prefix("scrape.fuzz.");
        assert!(
            name.is_some_and(|n| n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))),
            "signal name {:?}",
            s.signal
        );
    }
    // Rates need a previous scrape: the signals new in the second one are rates (a label may
    // be named `per_s`, so the name does not tell).
    let before: std::collections::HashSet<&str> = first.iter().map(|s| &*s.signal).collect();
    for s in second.iter().filter(|s| !before.contains(&*s.signal)) {
        assert!(
            s.value == 0.0,
            "{} = {} for an unchanged body",
            s.signal,
            s.value
        );
    }
}

/// A recorded series (`seismo replay FILE.csv`): read in both orders; a file accepted in time
/// order is accepted the same in any order, and an error names a line of the file.
pub fn csv_series(data: &[u8]) {
    use crate::cli::csv_series::{parse, Order};
    let path = Path::new("fuzz.csv");
    let lines = data.split(|&b| b == b'\n').count() as u64;
    let sorted = parse(path, data, "value", Order::NonDecreasing);
    let any = parse(path, data, "value", Order::Any);
    for r in [&sorted, &any] {
        match r {
            Ok(s) => {
                assert!(!s.ts_ms.is_empty());
                assert_eq!(s.ts_ms.len(), s.values.len());
                assert_eq!(s.ts_ms.len(), s.texts.len());
            }
            Err(e) => {
                assert!(
                    (1..=lines).contains(&e.line),
                    "line {} of {lines}: {e}",
                    e.line
                );
            }
        }
    }
    if let Ok(s) = &sorted {
        assert!(s.ts_ms.windows(2).all(|w| w[0] <= w[1]));
        // Compared bit for bit: NaN values are kept.
        let bits = |s: &crate::cli::csv_series::Series| {
            let values: Vec<u64> = s.values.iter().map(|v| v.to_bits()).collect();
            (s.ts_ms.clone(), values, s.texts.clone())
        };
        assert!(
            any.as_ref().is_ok_and(|a| bits(a) == bits(s)),
            "accepted in time order but not the same in any order"
        );
    }
}

/// An outbox directory as a crash may leave it (what `Outbox::open` recovers from): an optional
/// `ack` file and up to three segment files with arbitrary content. The input is
/// `flags u8` (bit 0: an ack file follows, bits 1-2: segments, bit 3: a 64 KiB bound instead of
/// 4 KiB), `ack [u8; 12]` if flagged, then per segment `first_seq u64 LE | len u16 LE | bytes`,
/// the last segment taking the rest. Checked: the delivery loop (peek, ack the last) ends,
/// hands out increasing sequence numbers, and after it a new record gets a fresh number, is
/// handed out alone, and survives a reopen until acknowledged.
pub fn outbox_recovery(data: &[u8]) {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let sink_dir = dir.path().join("outbox").join("fuzz");
    if std::fs::create_dir_all(&sink_dir).is_err() {
        return;
    }
    let mut take = |n: usize| {
        let n = n.min(rest.len());
        let (head, tail) = rest.split_at(n);
        rest = tail;
        head
    };
    if flags & 1 != 0 {
        let _ = std::fs::write(sink_dir.join("ack"), take(12));
    }
    let segments = (flags >> 1) & 3;
    for i in 0..segments {
        let mut first = [0u8; 8];
        let head = take(8);
        first[..head.len()].copy_from_slice(head);
        let first = u64::from_le_bytes(first);
        let len = match take(2) {
            [a, b] if i + 1 < segments => usize::from(u16::from_le_bytes([*a, *b])),
            _ => usize::MAX,
        };
        let body = take(len);
        let _ = std::fs::write(sink_dir.join(format!("{first:020}.seg")), body);
    }
    let max_bytes = if flags & 8 != 0 { 64 << 10 } else { 4 << 10 };
    let open = || {
        let stats = Arc::new(SinkStats::new("fuzz"));
        match Outbox::open(dir.path(), "fuzz", max_bytes, stats) {
            Ok(o) => o,
            Err(e) => panic!("the outbox cannot be opened: {e}"),
        }
    };
    let outbox = open();
    let mut last: Option<u64> = None;
    let mut rounds = 0;
    loop {
        let batch = match outbox.peek(8) {
            Ok(b) => b,
            Err(e) => panic!("peek failed: {e}"),
        };
        let Some(end) = batch.last().map(|r| r.seq) else {
            break;
        };
        for r in &batch {
            assert!(
                last.is_none_or(|l| r.seq > l),
                "sequence {} handed out after {last:?}",
                r.seq
            );
            last = Some(r.seq);
        }
        if let Err(e) = outbox.ack(end) {
            panic!("ack failed: {e}");
        }
        rounds += 1;
        assert!(rounds <= 10_000, "the delivery loop does not end");
    }
    assert_eq!(outbox.queued(), 0);
    let seq = match outbox.append(7, b"after recovery") {
        Ok(s) => s,
        Err(e) => panic!("append after recovery failed: {e}"),
    };
    assert!(last.is_none_or(|l| seq > l), "sequence {seq} reused");
    drop(outbox);
    let outbox = open();
    match outbox.peek(8) {
        Ok(b) => {
            let got: Vec<(u64, &[u8])> = b.iter().map(|r| (r.seq, &r.payload[..])).collect();
            assert_eq!(got, [(seq, &b"after recovery"[..])]);
        }
        Err(e) => panic!("peek after reopen failed: {e}"),
    }
}

/// Lines of `journalctl -o json`: a record or a refusal; a record's unit becomes a
/// signal-safe name.
pub fn journal_record(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let Ok(r) = record::parse(line) else {
            continue;
        };
        assert!(!r.cursor.is_empty());
        assert!(r.priority.is_none_or(|p| p <= 7));
        let name = record::signal_name(&r.unit);
        assert!(
            !name.is_empty()
                && name.len() <= 64
                && !name.starts_with('_')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "unit {:?} gave signal name {name:?}",
            r.unit
        );
    }
}
