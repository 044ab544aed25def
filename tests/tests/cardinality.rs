//! Cardinality controls of a scrape target, end to end: the real binary scrapes a scripted
//! loopback target every second with `include` / `exclude` patterns, `detector = "ewma"` and a
//! budget (`max_series = 4`) the included series exceed. Excluded series never become signals
//! (nor take a place in the budget); the refused series are reported by metric family on
//! /metrics and in one WARN line; the target's signal alerts through the EWMA detector; the
//! agent keeps running and stops cleanly.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use seismo_e2e::http_client::request;
use seismo_e2e::{default_config_with, write_config, Agent, START};

/// The scrape at which `app_level` jumps from about 10 to 100 (for good).
const SPIKE_AT: usize = 25;

/// The target's exposition for its n-th request.
fn body(n: usize) -> String {
    const NOISE: [f64; 7] = [0.0, 0.3, -0.2, 0.1, -0.4, 0.2, -0.1];
    let level = if n >= SPIKE_AT {
        100.0
    } else {
        10.0 + NOISE[n % NOISE.len()]
    };
    let mut text = format!(
        "app_level {level}\napp_debug_cache 1\ngo_goroutines 7\n\
         # TYPE http_requests_total counter\n\
         http_requests_total{{code=\"200\"}} {}\nhttp_requests_total{{code=\"500\"}} {n}\n",
        n * 10
    );
    // Included, but past the budget: 10 queue series (2 admitted, 8 refused), 3 zz_extra.
    for q in 0..10 {
        text.push_str(&format!("queue_depth{{q=\"{q}\"}} {q}\n"));
    }
    for i in 0..3 {
        text.push_str(&format!("zz_extra{{i=\"{i}\"}} 1\n"));
    }
    text
}

fn get(addr: SocketAddr, path: &str) -> String {
    let r = request(addr, "GET", path, None).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    r.body
}

#[test]
fn filters_a_cheap_detector_and_a_budget_reported_by_family() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = default_config_with(&dir.path().join("state"), &[]);
    config = config.replacen(
        "[sources.host]\n# Host metrics: CPU, load, memory, swap, file systems, disk and network I/O, process count.\nenabled = true",
        "[sources.host]\nenabled = false",
        1,
    );
    assert!(config.contains("[sources.host]\nenabled = false"));
    let url = seismo_e2e::gauges::serve(body);
    config.push_str(&format!(
        "\n[[sources.scrape]]\nname = \"app\"\nurl = \"{url}\"\ninterval = \"1s\"\nmax_series = 4\n\
         detector = \"ewma\"\n\
         include = [\"app_*\", 'http_requests_total{{code=\"5*\"}}', \"queue_*\", \"zz_*\"]\n\
         exclude = [\"app_debug_*\"]\n\n\
         # Sets no kind: the target's stays.\n\
         [[detectors.overrides]]\nsignals = [\"scrape.app.*\"]\nwarmup = 10\n"
    ));
    let path = write_config(dir.path(), &config);
    let (mut agent, addr) = Agent::start_serving(&path, None, START);

    // The budget: one WARN naming the refused families with their counts.
    let warn = agent.expect_stderr(Duration::from_secs(30), "more series than max_series");
    assert!(
        warn.contains("queue_depth: 8, zz_extra: 3"),
        "the WARN does not name the refused families: {warn}"
    );

    // ... and the same on /metrics, with the excluded series counted apart.
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let m = get(addr, "/metrics");
        if m.contains("seismo_scrape_series_dropped_total{reason=\"excluded\"}") {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "no excluded series counted:\n{m}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    for line in [
        "seismo_scrape_series_refused{target=\"app\",family=\"queue_depth\"} 8\n",
        "seismo_scrape_series_refused{target=\"app\",family=\"zz_extra\"} 3\n",
    ] {
        assert!(metrics.contains(line), "no {line} in:\n{metrics}");
    }

    // The level jump alerts through the target's detector, EWMA (the default is the ensemble).
    let alert = agent
        .wait_stdout(Duration::from_secs(90), |l| {
            l.contains("\"kind\":\"alert\"")
                && l.contains("\"state\":\"firing\"")
                && l.contains("scrape.app.app_level")
        })
        .unwrap_or_else(|| panic!("no alert on app_level: {:#?}", agent.seen_stdout));
    let alert: serde_json::Value = serde_json::from_str(&alert).unwrap();
    assert_eq!(alert["detector"], "ewma", "{alert}");

    // Only included, admitted series are signals.
    let signals = get(addr, "/api/v1/signals");
    for kept in [
        "\"scrape.app.app_level\"",
        "\"scrape.app.http_requests_total.per_s.code_500\"",
        "\"scrape.app.queue_depth.q_0\"",
        "\"scrape.app.queue_depth.q_1\"",
        "\"scrape.app.up\"",
    ] {
        assert!(signals.contains(kept), "{kept} missing: {signals}");
    }
    for never in [
        "app_debug",
        "go_goroutines",
        "code_200",
        "queue_depth.q_2",
        "zz_extra",
    ] {
        assert!(
            !signals.contains(never),
            "{never} became a signal: {signals}"
        );
    }

    agent.stop(Duration::from_secs(10));
}
