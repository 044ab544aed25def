//! `/metrics`: the self-metrics in the Prometheus text exposition format 0.0.4.
//!
//! Every family has `# HELP` and `# TYPE` lines, counters end in `_total`, label values are
//! escaped (`\\`, `\"`, `\n`), and every series of a family is written together.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::process::ProcessStats;
use super::state::HttpState;
use crate::clock::now_ms;
use crate::telemetry::catalog::{self, Exposed, Kind, Value};

pub(super) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    let body = render(&s, &ProcessStats::read());
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body)
}

/// A text exposition being written.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: Value) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                self.0.push_str(k);
                self.0.push_str("=\"");
                escape_label_value(&mut self.0, v);
                self.0.push('"');
            }
            self.0.push('}');
        }
        self.0.push(' ');
        match value {
            Value::Int(n) => {
                let _ = write!(self.0, "{n}");
            }
            Value::Float(f) => write_float(&mut self.0, f),
        }
        self.0.push('\n');
    }

    /// A family with one unlabelled sample.
    fn single(&mut self, name: &str, kind: Kind, help: &str, value: Value) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{f}");
    }
}

fn render(s: &HttpState, process: &ProcessStats) -> String {
    use Kind::{Counter, Gauge};
    use Value::{Float, Int};
    let mut e = Exposition(String::with_capacity(8192));

    // The agent's state, outside `Stats`.
    e.family("seismo_build_info", Gauge, "The agent's version; always 1.");
    e.sample(
        "seismo_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        Int(1),
    );
    let now = now_ms();
    let sink_blocked = s
        .stats
        .lines_sink_blocked_now(u64::try_from(now).unwrap_or(0))
        .is_some();
    e.single(
        "seismo_ready",
        Gauge,
        "1 once sources and sinks are started and the lines sink writes (what /readyz answers), else 0.",
        Int(u64::from(s.ready.load(Ordering::Relaxed) && !sink_blocked)),
    );
    e.single(
        "seismo_silences_active",
        Gauge,
        "Silences in force (configuration and API).",
        Int(s.silences.active(now).len() as u64),
    );

    // Every self-metric kept in `Stats`, as the catalog describes it.
    for family in catalog::FAMILIES {
        let shown = match family.exposed {
            Exposed::Always => true,
            Exposed::WithScores => s.scores,
            Exposed::No => false,
        };
        let Some(samples) = shown.then(|| family.samples(&s.stats, now)).flatten() else {
            continue;
        };
        e.family(family.name, family.kind, family.help);
        for sample in samples {
            let labels: Vec<(&str, &str)> = sample
                .labels
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect();
            e.sample(family.name, &labels, sample.value);
        }
    }

    if let Some(h) = process.heap {
        e.single(
            "seismo_heap_in_use_bytes",
            Gauge,
            "Heap bytes allocated and not yet freed, as the allocator counts them (chunk overhead and per-thread caches included).",
            Int(h.in_use),
        );
        e.single(
            "seismo_heap_free_bytes",
            Gauge,
            "Heap bytes free in the allocator's arenas, kept for reuse rather than returned to the system.",
            Int(h.free),
        );
    }

    // The process, under the names Prometheus client libraries use.
    if let Some(v) = process.cpu_seconds {
        e.single(
            "process_cpu_seconds_total",
            Counter,
            "User and system CPU time spent, in seconds.",
            Float(v),
        );
    }
    if let Some(v) = process.resident_bytes {
        e.single(
            "process_resident_memory_bytes",
            Gauge,
            "Resident memory size in bytes.",
            Int(v),
        );
    }
    if let Some(v) = process.virtual_bytes {
        e.single(
            "process_virtual_memory_bytes",
            Gauge,
            "Virtual memory size in bytes.",
            Int(v),
        );
    }
    if let Some(v) = process.start_time_seconds {
        e.single(
            "process_start_time_seconds",
            Gauge,
            "Start time of the process since the unix epoch, in seconds.",
            Float(v),
        );
    }
    if let Some(v) = process.open_fds {
        e.single("process_open_fds", Gauge, "Open file descriptors.", Int(v));
    }
    if let Some(v) = process.threads {
        e.single(
            "process_threads",
            Gauge,
            "Operating system threads.",
            Int(v),
        );
    }
    e.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::stats::Stats;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    fn state(scores: bool) -> HttpState {
        HttpState::new(
            Arc::new(Stats::default()),
            Arc::new(crate::alerting::silences::Silences::from_config(&[], 0)),
            Arc::new(AtomicBool::new(true)),
            scores,
        )
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut e = Exposition(String::new());
        e.family("m", Kind::Gauge, "a \\ b\nc");
        e.sample("m", &[("a", "x\"y\\z\nw"), ("b", "ü")], Value::Float(0.5));
        e.sample("m", &[], Value::Float(f64::NAN));
        e.sample("m", &[], Value::Float(f64::NEG_INFINITY));
        assert_eq!(
            e.0,
            "# HELP m a \\\\ b\\nc\n# TYPE m gauge\nm{a=\"x\\\"y\\\\z\\nw\",b=\"ü\"} 0.5\nm NaN\nm -Inf\n"
        );
    }

    #[test]
    fn every_family_has_help_and_type_once_and_its_samples_follow() {
        let s = state(true);
        s.stats.sink("mqtt");
        s.stats.sink("otlp");
        s.stats.anomalies_by_severity.add("critical", 2);
        s.stats.scrape_series_refused.set(
            "app",
            1,
            vec![("go_gc".into(), 3), ("(other)".into(), 1)],
        );
        Stats::add(&s.stats.heartbeat_ms, u64::try_from(now_ms()).unwrap());
        s.stats
            .scores
            .lock()
            .unwrap()
            .insert("log.a\"b.count".into(), 0.25);
        let text = render(&s, &ProcessStats::read());
        let mut seen = std::collections::HashSet::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap().to_owned();
                assert!(seen.insert(name.clone()), "{name} twice");
                current = name;
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut it = rest.split(' ');
                assert_eq!(it.next(), Some(current.as_str()));
                let kind = it.next().unwrap();
                assert_eq!(current.ends_with("_total"), kind == "counter", "{line}");
            } else {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(name, current, "{line} outside its family");
            }
        }
        for family in catalog::FAMILIES {
            let shown = family.exposed != Exposed::No;
            assert_eq!(seen.contains(family.name), shown, "{}", family.name);
        }
        assert!(text.contains("seismo_anomalies_total{severity=\"critical\"} 2\n"));
        assert!(text.contains("seismo_anomalies_total{severity=\"warning\"} 0\n"));
        assert!(text.contains("seismo_sink_queued{sink=\"otlp\"} 0\n"));
        assert!(text.contains(
            "seismo_scrape_series_refused{target=\"app\",family=\"go_gc\"} 3\n\
             seismo_scrape_series_refused{target=\"app\",family=\"(other)\"} 1\n"
        ));
        assert!(text.contains("seismo_anomaly_score{signal=\"log.a\\\"b.count\"} 0.25\n"));
        assert!(text.contains("process_resident_memory_bytes "));
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(
            text.contains("seismo_heap_in_use_bytes ") && text.contains("seismo_heap_free_bytes ")
        );
        assert!(!render(&state(false), &ProcessStats::default()).contains("seismo_anomaly_score"));
    }
}
