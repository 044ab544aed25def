//! `seismo status`: what the local agent is doing, in a terminal: how many signals learn, are
//! scored by the early detectors or fully warmed (and when the next stage comes), and the
//! alerts firing. Reads `/api/v1/signals` and `/api/v1/incidents` from the listen address of
//! the configuration, as `seismo silence` does. Exit 0 with the summary, 1 when the agent
//! cannot be reached (with the reason), 2 for a bad configuration.

use std::process::ExitCode;

use seismo_config::Config;
use serde_json::Value;

use super::exit::EXIT_CONFIG;
use super::silence::{call, target};

/// Signals listed per stage that is not full, soonest first.
const LISTED: usize = 5;

pub fn main(config: &Config) -> ExitCode {
    if !config.http.enabled {
        eprintln!("error: the configuration turns the HTTP endpoint off ([http] enabled = false): `seismo status` reads the agent's HTTP API");
        return ExitCode::from(EXIT_CONFIG);
    }
    let Some(addr) = target(config.http.listen) else {
        eprintln!("error: the configuration listens on port 0 (a free port picked at start): give `seismo status` the config with the port the agent logged, or set [http] listen to a fixed port");
        return ExitCode::from(EXIT_CONFIG);
    };
    let answer = all_signals(addr).and_then(|signals| {
        call(addr, "GET", "/api/v1/incidents", None, None).map(|i| (signals, i))
    });
    match answer {
        Ok((signals, incidents)) => {
            println!("{}", render(&signals, &incidents));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Pages the API answers at most (5000 signals a page: 500,000 signals).
const MAX_PAGES: usize = 100;

/// `/api/v1/signals`, every page: the first answer with the later pages' signals appended.
fn all_signals(addr: std::net::SocketAddr) -> Result<Value, String> {
    let mut first = call(addr, "GET", "/api/v1/signals?limit=5000", None, None)?;
    let mut next = first["next"].as_str().map(str::to_owned);
    for _ in 1..MAX_PAGES {
        let Some(path) = next.take() else { break };
        let mut page = call(addr, "GET", &path, None, None)?;
        if let (Some(all), Some(more)) = (
            first["signals"].as_array_mut(),
            page["signals"].as_array_mut(),
        ) {
            all.append(more);
        }
        next = page["next"].as_str().map(str::to_owned);
    }
    Ok(first)
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The summary of the two API answers.
pub(crate) fn render(signals: &Value, incidents: &Value) -> String {
    let count = |stage: &str| signals["stages"][stage].as_u64().unwrap_or(0);
    let list = signals["signals"].as_array().cloned().unwrap_or_default();
    let mut out = format!(
        "seismo on {} at {}: {} signals ({} listed)\n",
        text(&signals["host"]),
        text(&signals["time"]),
        signals["signals_active"].as_u64().unwrap_or(0),
        list.len()
    );
    for (stage, what, next) in [
        ("learning", "learning, not scored yet", "early"),
        ("early", "scored by the early detectors", "full"),
        ("full", "fully warmed", ""),
    ] {
        let n = count(stage);
        out.push_str(&format!("  {stage:<9}{n:>6}  {what}"));
        let mut at: Vec<(&str, &str, u64)> = list
            .iter()
            .filter(|s| s["stage"] == stage)
            .filter_map(|s| {
                Some((
                    text(&s["signal"]),
                    s["next_stage_at"].as_str()?,
                    s["next_stage_points"].as_u64()?,
                ))
            })
            .collect();
        // RFC 3339 times in UTC sort as text.
        at.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
        if let (Some(first), Some(last)) = (at.first(), at.last()) {
            out.push_str(&format!(
                "; {next} from {} (first) to {} (last)",
                first.1, last.1
            ));
        }
        out.push('\n');
        for (signal, when, points) in at.iter().take(LISTED) {
            out.push_str(&format!(
                "      {signal}: {next} at {when} ({points} points)\n"
            ));
        }
        if at.len() > LISTED {
            out.push_str(&format!("      … and {} more\n", at.len() - LISTED));
        }
    }
    if let Some(history) = signals["history_learned"]
        .as_object()
        .filter(|h| !h.is_empty())
    {
        out.push_str("history learned at start:\n");
        for (source, h) in history {
            let n = |k: &str| h[k].as_u64().unwrap_or(0);
            let span = match (h["first"].as_str(), h["last"].as_str()) {
                (Some(a), Some(b)) => format!("{a} to {b}"),
                _ => "no timestamps".to_owned(),
            };
            out.push_str(&format!(
                "  {source}: {} lines, {} bytes, {} new templates, {} intervals ({span})",
                n("lines"),
                n("bytes"),
                n("templates"),
                n("intervals")
            ));
            if let Some(note) = h["note"].as_str() {
                out.push_str(&format!("; cut short: {note}"));
            }
            out.push('\n');
        }
    }
    let firing: Vec<&Value> = incidents["open"]
        .as_array()
        .map(|open| {
            open.iter()
                .flat_map(|i| i["timeline"].as_array().into_iter().flatten())
                .filter(|t| t["resolved_at"].is_null())
                .collect()
        })
        .unwrap_or_default();
    if firing.is_empty() {
        out.push_str("no alert firing");
    } else {
        out.push_str(&format!(
            "{} alert{} firing:",
            firing.len(),
            if firing.len() == 1 { "" } else { "s" }
        ));
        for t in firing {
            out.push_str(&format!(
                "\n  {} {} since {}: {}",
                text(&t["signal"]),
                text(&t["severity"]),
                text(&t["time"]),
                text(&t["evidence"])
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_page_of_the_signals_is_read() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        let config = seismo_config::HttpConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..seismo_config::HttpConfig::default()
        };
        let endpoint = crate::http::bind(&config).unwrap();
        let addr = endpoint.local_addr();
        let status = Arc::new(crate::http::status::Status::new("h".into()));
        let now = crate::clock::now_ms();
        for i in 0..12_345 {
            let stage = seismo_detectors::Stage::Learning { next_in: 3 };
            status.record(&format!("s{i:05}").into(), now, 1.0, None, false, stage);
        }
        let state = crate::http::HttpState::new(
            Arc::new(crate::telemetry::stats::Stats::default()),
            Arc::new(crate::alerting::silences::Silences::from_config(&[], 0)),
            Arc::new(AtomicBool::new(true)),
            false,
        )
        .with_status(status)
        .with_guard(crate::http::Guard::read_only(addr));
        let task = endpoint
            .serve(state, std::time::Duration::from_secs(10))
            .unwrap();
        let v = tokio::task::spawn_blocking(move || all_signals(addr))
            .await
            .unwrap()
            .unwrap();
        task.abort();
        let list = v["signals"].as_array().unwrap();
        assert_eq!(list.len(), 12_345);
        assert_eq!(list[12_344]["signal"], "s12344");
        let out = render(&v, &serde_json::json!({"open": []}));
        assert!(out.contains("signals (12345 listed)"), "{out}");
        assert!(out.contains("  learning  12345  learning"), "{out}");
    }

    #[test]
    fn the_summary_counts_stages_and_lists_firing_alerts() {
        let signals = serde_json::json!({
            "host": "web-1", "time": "2026-12-06T11:00:00.000Z", "signals_active": 3,
            "stages": {"learning": 1, "early": 1, "full": 1},
            "signals": [
                {"signal": "a", "stage": "learning", "next_stage_points": 4,
                 "next_stage_at": "2026-12-06T11:00:40.000Z"},
                {"signal": "b", "stage": "early", "next_stage_points": 200,
                 "next_stage_at": "2026-12-06T11:33:20.000Z"},
                {"signal": "c", "stage": "full", "next_stage_points": null, "next_stage_at": null},
            ]
        });
        let incidents = serde_json::json!({"open": [{"timeline": [
            {"signal": "b", "severity": "critical", "time": "2026-12-06T10:59:00.000Z",
             "evidence": "b is 100%", "resolved_at": null},
            {"signal": "c", "severity": "warning", "time": "2026-12-06T10:58:00.000Z",
             "evidence": "c is 3", "resolved_at": "2026-12-06T10:59:30.000Z"},
        ]}]});
        let out = render(&signals, &incidents);
        assert!(
            out.starts_with("seismo on web-1 at 2026-12-06T11:00:00.000Z: 3 signals (3 listed)\n"),
            "{out}"
        );
        assert!(out.contains("  learning      1  learning, not scored yet; early from 2026-12-06T11:00:40.000Z (first) to 2026-12-06T11:00:40.000Z (last)\n      a: early at 2026-12-06T11:00:40.000Z (4 points)\n"), "{out}");
        assert!(
            out.contains("  early         1  scored by the early detectors; full from"),
            "{out}"
        );
        assert!(out.contains("  full          1  fully warmed\n"), "{out}");
        assert!(
            out.ends_with(
                "1 alert firing:\n  b critical since 2026-12-06T10:59:00.000Z: b is 100%"
            ),
            "{out}"
        );
        let quiet = render(&signals, &serde_json::json!({"open": []}));
        assert!(quiet.ends_with("no alert firing"), "{quiet}");
    }

    #[test]
    fn history_learned_is_listed_per_source() {
        let signals = serde_json::json!({
            "host": "h", "time": "t", "signals_active": 0, "stages": {}, "signals": [],
            "history_learned": {
                "app": {"lines": 3000, "bytes": 120000, "templates": 3, "intervals": 60,
                        "first": "2026-12-06T10:00:00.000Z", "last": "2026-12-06T10:10:00.000Z",
                        "note": null},
                "journal": {"lines": 0, "bytes": 0, "templates": 0, "intervals": 0,
                            "first": null, "last": null, "note": "history_timeout (2s) reached"}
            }
        });
        let out = render(&signals, &serde_json::json!({"open": []}));
        assert!(out.contains("  app: 3000 lines, 120000 bytes, 3 new templates, 60 intervals (2026-12-06T10:00:00.000Z to 2026-12-06T10:10:00.000Z)\n"), "{out}");
        assert!(out.contains("  journal: 0 lines, 0 bytes, 0 new templates, 0 intervals (no timestamps); cut short: history_timeout (2s) reached\n"), "{out}");
    }
}
