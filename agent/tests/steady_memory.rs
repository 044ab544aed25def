//! The alert path's memory is flat under a steady load: three simulated hours of what the soak
//! benchmark feeds the agent (host signals every second, log intervals, an error burst or a
//! template never seen before every 15 s, each new template's signals forgotten after
//! `idle_ttl`) through the pipeline, its detectors and alerting, incidents and the status page.
//! Everything they keep is bounded (the status page's history fills for its first hour), so
//! the third hour must end where the second did.
//!
//! The binary counts every byte allocated and freed (`seismo_e2e::counting_alloc`), so the
//! figure is the program's own, exact, and free of malloc's caching; the simulation's clock is
//! its own, so three hours take seconds. One test only: a second one beside it would be counted.
//!
//! `cargo test -p seismo --test steady_memory -- --nocapture` prints the figures.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo::alerting::incidents::Incidents;
use seismo::clock::now_ms;
use seismo::event::Normal;
use seismo::event::{AlertEvent, Anomaly, LogEvidence, Range, Sample};
use seismo::http::status::Status;
use seismo::logs::LogUpdate;
use seismo::pipeline::Pipeline;
use seismo::telemetry::stats::Stats;
use seismo_e2e::counting_alloc::{live, Counting};
use seismo_e2e::Rng;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The soak's settings (`tests/benches/soak/main.rs`): EWMA with a short warm-up, every
/// anomaly its own alert, new templates' signals forgotten after 5 minutes.
const CONFIG: &str = r#"
[detectors]
idle_ttl = "5m"
[detectors.defaults]
kind = "ewma"
warmup = 8
[alerting]
resolve_after = 1
cooldown = "0s"
flap_window = "1s"
"#;

const HOURS: u64 = 3;
/// How often the pipeline's sweep forgets idle signals (the daemon's: `idle_ttl / 4`, at most
/// a minute).
const SWEEP_EVERY: u64 = 60;
/// A new template's count keeps getting samples this long (its decayed rank stays above the
/// floor for about a minute in the daemon).
const TEMPLATE_LIVES: u64 = 60;

/// A number in `[0, 1)`.
fn unit(rng: &mut Rng) -> f64 {
    rng.below(1 << 20) as f64 / (1u64 << 20) as f64
}

fn evidence(template_id: Option<u64>, line: &str) -> Arc<LogEvidence> {
    Arc::new(LogEvidence {
        source: "soak".into(),
        template_id,
        template: template_id.map(|_| line.to_owned()),
        sample_lines: vec![line.to_owned(); 3],
        sample_streams: Vec::new(),
        k8s: None,
    })
}

/// The pipeline and what the daemon's loop puts after it, on a simulated clock.
struct Harness {
    pipeline: Pipeline,
    incidents: Incidents,
    status: Arc<Status>,
    start: Instant,
    t0_ms: i64,
    alerts: u64,
}

impl Harness {
    fn deliver(&mut self, alerts: Vec<AlertEvent>) {
        self.alerts += alerts.len() as u64;
        let events: Vec<_> = alerts
            .into_iter()
            .flat_map(|a| self.incidents.on_alert(a))
            .collect();
        self.status.on_events(&events);
    }

    /// One simulated second.
    fn second(&mut self, t: u64, rng: &mut Rng, host: &[Arc<str>]) {
        let now = self.start + Duration::from_secs(t);
        let ts_ms = self.t0_ms + t as i64 * 1000;
        let sample = |signal: &Arc<str>, value: f64| Sample {
            signal: Arc::clone(signal),
            ts_ms,
            value,
        };
        let mut alerts = Vec::new();
        for s in host {
            let value = 50.0 + unit(rng);
            alerts.extend(self.pipeline.process(&sample(s, value), now));
        }

        // The log source's interval: an error burst or a new template every 15 s, alternately.
        let anomaly = t / 15;
        let burst = anomaly % 2 == 1 && t % 15 < 5;
        let mut samples = vec![
            sample(&"log.soak.lines_per_s".into(), 5_000.0 + unit(rng) * 10.0),
            sample(
                &"log.soak.errors_per_s".into(),
                if burst { 400.0 } else { 5.0 + unit(rng) },
            ),
            sample(&"log.soak.template.other.count".into(), 20.0 + unit(rng)),
        ];
        let mut evidence_for = HashMap::new();
        let mut novel = Vec::new();
        let mut normals = Vec::new();
        // Templates born at the last TEMPLATE_LIVES / 30 even anomalies still get counts.
        for born in (0..=anomaly).rev().filter(|a| a % 2 == 0).take(2) {
            let age = t - born * 15;
            if born == 0 || age >= TEMPLATE_LIVES {
                continue;
            }
            let id = 1_000 + born;
            let line = format!("CRIT [x{id}] subsystem lost quorum");
            let count: Arc<str> = format!("log.soak.template.{id}.count").into();
            samples.push(sample(&count, if age < 10 { 20.0 } else { 0.0 }));
            evidence_for.insert(count, evidence(Some(id), &line));
            let new: Arc<str> = format!("log.soak.template.{id}.new").into();
            if age == 0 {
                let a = Anomaly {
                    signal: new,
                    ts_ms,
                    score: 1.0,
                    observed: 20.0,
                    expected_low: 0.0,
                    expected_high: 0.0,
                    detector: "new_template",
                    evidence: seismo_detectors::Evidence::default(),
                };
                novel.push((a, evidence(Some(id), &line)));
            } else if age < 4 {
                let point = Normal {
                    ts_ms,
                    observed: 0.0,
                    score: 0.0,
                    expected: Range {
                        low: 0.0,
                        high: 0.0,
                    },
                };
                normals.push((new, point, evidence(Some(id), &line)));
            }
        }
        let update = LogUpdate {
            source: "soak".into(),
            samples,
            evidence: evidence_for,
            novel,
            normals,
            learn_only: false,
        };
        alerts.extend(self.pipeline.process_logs(update, now));
        if t.is_multiple_of(SWEEP_EVERY) {
            alerts.extend(self.pipeline.evict_idle(now));
        }
        self.deliver(alerts);
    }
}

#[test]
fn the_alert_path_holds_no_more_memory_in_its_third_hour_than_in_its_second() {
    let config = seismo_config::parse(CONFIG, "steady_memory").expect("config");
    let before = live();
    let status = Arc::new(Status::new("soak".into()));
    let host: Vec<Arc<str>> = (0..35)
        .map(|i| match i {
            0 => "host.cpu.utilization".to_owned(),
            1 => "host.memory.used_ratio".to_owned(),
            2 => "host.load.1m".to_owned(),
            _ => format!("host.disk.dev{i}.read_bytes_per_s"),
        })
        .map(Arc::from)
        .collect();
    let mut h = Harness {
        pipeline: Pipeline::new("soak".into(), &config, Arc::new(Stats::default()))
            .with_observer(Arc::clone(&status) as Arc<dyn seismo::pipeline::observer::Observer>),
        incidents: Incidents::new("soak".into(), config.alerting.correlation_window),
        status,
        start: Instant::now(),
        t0_ms: now_ms(),
        alerts: 0,
    };
    let mut rng = Rng(7);
    let mut live_at_hour = Vec::new();
    for t in 0..HOURS * 3600 {
        h.second(t, &mut rng, &host);
        if (t + 1) % 3600 == 0 {
            live_at_hour.push(live() - before);
        }
    }
    let alerts_per_hour = h.alerts / HOURS;
    println!(
        "alert path: {alerts_per_hour} alert events an hour, {} signals; live bytes at the end of \
         each hour: {live_at_hour:?}",
        h.pipeline.signal_count()
    );
    // The load must raise alerts throughout, or the test would prove nothing.
    assert!(alerts_per_hour >= 200, "{alerts_per_hour} alerts an hour");
    let (second, third) = (live_at_hour[1] as f64, live_at_hour[2] as f64);
    assert!(
        third <= second * 1.01,
        "the alert path grew in its third hour: {second} -> {third} bytes"
    );
}
