//! Alerts say why they fired, end to end: the real binary scrapes a scripted gauge every second
//! from a loopback server (one value per request) with the default ensemble, and its stdout
//! alerts are read. The gauge wanders around 10 with spikes to 0 and 20, then its level drops
//! to 5, inside the range it has seen: the alert names a level shift from 10 to 5 and says the
//! value is below the expected range of levels. Later a value of 40 is a new maximum: its alert
//! names the previous maximum, 20.

use std::time::Duration;

use seismo_e2e::{default_config_with, write_config, Agent};

const SIGNAL: &str = "scrape.e2e.level";
/// The request at which the level drops, and the one that sets a new maximum.
const SHIFT_AT: u64 = 60;
const MAXIMUM_AT: u64 = 100;

/// The gauge's value at the `n`-th scrape.
fn value(n: u64) -> f64 {
    const NOISE: [f64; 11] = [0.0, 0.4, -0.3, 0.2, -0.5, 0.1, 0.3, -0.2, -0.1, 0.5, -0.4];
    match n {
        MAXIMUM_AT => 40.0,
        n if n < 45 && n % 15 == 7 => 20.0,
        n if n < 45 && n % 15 == 12 => 0.0,
        n if n >= SHIFT_AT => 5.0 + NOISE[(n % 11) as usize],
        n => 10.0 + NOISE[(n % 11) as usize],
    }
}

/// Serves `level {value(n)}` to the n-th request on a loopback port; returns the URL.
fn serve_gauge() -> String {
    seismo_e2e::gauges::serve(|n| format!("level {}\n", value(n as u64)))
}

/// The first firing alert on [`SIGNAL`] the agent printed that holds `text` (waiting for it).
fn firing(agent: &mut Agent, text: &str) -> serde_json::Value {
    let timeout = Duration::from_secs(MAXIMUM_AT + 90);
    let line = agent
        .wait_stdout(timeout, |l| {
            l.contains("\"kind\":\"alert\"")
                && l.contains("\"state\":\"firing\"")
                && l.contains(SIGNAL)
                && l.contains(text)
        })
        .unwrap_or_else(|| panic!("no alert with {text}: {:#?}", agent.seen_stdout));
    serde_json::from_str(&line).unwrap()
}

#[test]
fn alerts_name_a_level_shift_inside_the_range_and_the_previous_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = default_config_with(
        &dir.path().join("state"),
        &[("cooldown = \"1m\"", "cooldown = \"0s\"")],
    );
    // Only the scripted gauge: no host signals.
    config = config.replacen(
        "[sources.host]\n# Host metrics: CPU, load, memory, swap, file systems, disk and network I/O, process count.\nenabled = true",
        "[sources.host]\nenabled = false",
        1,
    );
    assert!(config.contains("[sources.host]\nenabled = false"));
    config.push_str(&format!(
        "\n[[sources.scrape]]\nname = \"e2e\"\nurl = \"{}\"\ninterval = \"1s\"\n\n[[detectors.overrides]]\nsignals = [\"{SIGNAL}\"]\nwarmup = 30\n",
        serve_gauge()
    ));
    let path = write_config(dir.path(), &config);
    let mut agent = Agent::run(&path);

    // The level shift: 10 before, 5 after, over the points since the drop.
    let shift = firing(&mut agent, "level_shift");
    let summary = shift["summary"].as_str().unwrap();
    eprintln!("{summary}");
    let evidence = &shift["evidence"];
    let first = &evidence["components"][0];
    assert_eq!(first["kind"], "level_shift", "{shift}");
    let before = first["before"].as_f64().unwrap();
    let after = first["after"].as_f64().unwrap();
    assert!((before - 10.0).abs() < 0.5, "{shift}");
    assert!((after - 5.0).abs() < 0.7, "{shift}");
    let points = first["points"].as_u64().unwrap();
    assert!((2..=16).contains(&points), "{shift}");
    assert!(
        summary.contains(&format!("a level shift, from 10 to {}", round(after)))
            && summary.contains(&format!("over the last {points} points")),
        "{summary}"
    );
    // The value is inside the range seen (0..20) but below the range of earlier levels.
    let observed = shift["observed"].as_f64().unwrap();
    assert!(observed > 0.0 && observed < 20.0, "{shift}");
    assert_eq!(evidence["position"], "below", "{shift}");
    assert!(
        observed < shift["expected"]["low"].as_f64().unwrap(),
        "{shift}"
    );
    assert!(summary.contains("below the expected range"), "{summary}");

    // The new maximum names the previous one.
    let maximum = firing(&mut agent, "new_extreme");
    let summary = maximum["summary"].as_str().unwrap();
    eprintln!("{summary}");
    let first = &maximum["evidence"]["components"][0];
    assert_eq!(first["kind"], "new_extreme", "{maximum}");
    assert_eq!(first["extreme"], "maximum", "{maximum}");
    assert_eq!(first["previous"], 20.0, "{maximum}");
    assert_eq!(maximum["observed"], 40.0, "{maximum}");
    assert!(
        summary.starts_with(&format!(
            "{SIGNAL} is 40, above the expected range 0..20: a new maximum (previous maximum 20)"
        )),
        "{summary}"
    );
    agent.stop(Duration::from_secs(10));
}

/// `v` as the summary renders a plain number (three significant digits).
fn round(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        s
    };
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
