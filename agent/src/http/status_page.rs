//! `/`: the status page. Server-rendered HTML with inline CSS and inline SVG sparklines: no
//! script, no external asset (it works offline and in an air-gapped data centre), refreshed by
//! the browser every [`REFRESH_S`] seconds. Every string that may come from input (signal
//! names, templates, evidence, hook names, errors) goes through [`esc`]; the
//! Content-Security-Policy forbids scripts besides.

use std::fmt::Write;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::signal_query::SignalQuery;
use super::state::HttpState;
use crate::clock::{format_ts, now_ms};
use crate::http::status::{
    HookRun, IncidentView, IncidentsView, Overview, SignalView, Status, BUCKETS, BUCKET_MS,
};
use crate::telemetry::stats::{SinkStats, Stats};
use crate::unit::Unit;

/// Seconds between the browser's reloads of the page.
pub(super) const REFRESH_S: u32 = 10;
/// Signal rows on the page (anomalous, then highest scores); the API pages through them all.
pub(super) const MAX_ROWS: usize = 200;
const SPARK_W: f64 = 180.0;
const SPARK_H: f64 = 28.0;

const STYLE: &str = "\
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#1b1f24;color:#f6f7f9;padding:.8em 1.5em}
header h1{margin:0;font-size:1.3em}header p{margin:.2em 0 0;color:#b8c0cc}
main{padding:0 1.5em 2em}h2{font-size:1.1em;margin:1.5em 0 .5em}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #e3e6ea;vertical-align:middle}
th{background:#eef0f3;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.hi{color:#fff;background:#c62828;border-radius:3px;padding:0 .3em}.mid{color:#8a5a00}
.muted{color:#6b7280}.ok{color:#2e7d32}.bad{color:#c62828}
.incident{background:#fff;border-left:4px solid #e0a100;padding:.6em 1em;margin:.6em 0}
.incident.critical{border-color:#c62828}.incident.closed{border-color:#9aa3ad}
.incident h3{margin:0 0 .3em;font-size:1em}.incident ol{margin:.4em 0;padding-left:1.4em}
.incident li{margin:.2em 0}svg.spark{display:block}
";

/// The page; `?prefix=` and `?stage=` narrow its signals as they do the API's.
pub(super) async fn page(State(s): State<HttpState>, RawQuery(query): RawQuery) -> Response {
    let q = match SignalQuery::parse(query.as_deref()) {
        Ok(q) => q,
        Err(e) => {
            return super::respond::rejected(&s, axum::http::StatusCode::BAD_REQUEST, e);
        }
    };
    let Some(status) = s.status.clone() else {
        return super::respond::error(
            axum::http::StatusCode::NOT_FOUND,
            "the status page is not set up in this process".into(),
        );
    };
    let now = now_ms();
    let signals = status.overview(now, Stats::get(&s.stats.signals_active), &q, MAX_ROWS);
    let incidents = status.incident_views(now);
    let runs = status.hook_runs();
    let body = render(&Page {
        status: &status,
        stats: &s.stats,
        now,
        signals: &signals,
        query: &q,
        incidents: &incidents,
        runs: &runs,
    });
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        body,
    )
        .into_response()
}

/// What one rendering reads.
pub(super) struct Page<'a> {
    pub status: &'a Status,
    pub stats: &'a Stats,
    pub now: i64,
    pub signals: &'a Overview,
    /// The page's filters (for the links to the API).
    pub query: &'a SignalQuery,
    pub incidents: &'a IncidentsView,
    pub runs: &'a [HookRun],
}

/// Writes `s` escaped for HTML text and attribute values.
pub(super) fn esc(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Appends literal markup and escaped text in turn: `h(out, &["<b>", text, "</b>"])` escapes
/// the odd items.
fn h(out: &mut String, parts: &[&str]) {
    for (i, p) in parts.iter().enumerate() {
        if i % 2 == 0 {
            out.push_str(p);
        } else {
            esc(out, p);
        }
    }
}

pub(super) fn render(p: &Page<'_>) -> String {
    let mut o = String::with_capacity(16_384 + p.signals.rows.len() * 1_500);
    let host = p.status.host();
    let uptime = Duration::from_secs(
        u64::try_from(p.now.saturating_sub(p.status.started_ms()) / 1000).unwrap_or(0),
    );
    h(
        &mut o,
        &[
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
        ],
    );
    let _ = write!(o, "<meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">");
    h(&mut o, &["<title>seismo · ", host, "</title><style>"]);
    o.push_str(STYLE);
    h(
        &mut o,
        &[
            "</style></head><body><header><h1>seismo on <span id=\"host\">",
            host,
        ],
    );
    let open = p.incidents.open.len();
    let _ = write!(
        o,
        "</span></h1><p>version {} · up {} · {} signals · {} open incident{} · {} · refreshes every {REFRESH_S} s</p></header><main>",
        env!("CARGO_PKG_VERSION"),
        humantime::format_duration(uptime),
        p.signals.signals_active,
        open,
        if open == 1 { "" } else { "s" },
        format_ts(p.now),
    );
    incidents(&mut o, p.incidents);
    signals(&mut o, p.signals, p.query, p.now);
    hook_runs(&mut o, p.runs);
    sinks(&mut o, p.stats, p.now);
    o.push_str(
        "<p class=\"muted\">The same data as JSON: <a href=\"/api/v1/signals\">/api/v1/signals</a>, \
         <a href=\"/api/v1/incidents\">/api/v1/incidents</a>; self-metrics: \
         <a href=\"/metrics\">/metrics</a>.</p></main></body></html>\n",
    );
    o
}

fn incidents(o: &mut String, v: &IncidentsView) {
    o.push_str("<section id=\"incidents\"><h2>Open incidents</h2>");
    if v.open.is_empty() {
        o.push_str("<p class=\"muted\">None.</p>");
    }
    for i in &v.open {
        incident(o, i);
    }
    if !v.resolved.is_empty() {
        let _ = write!(
            o,
            "<details><summary>Recently resolved ({})</summary>",
            v.resolved.len()
        );
        for i in &v.resolved {
            incident(o, i);
        }
        o.push_str("</details>");
    }
    o.push_str("</section>");
}

fn incident(o: &mut String, view: &IncidentView) {
    let i = &view.last;
    let class = match (view.open, i.severity.name()) {
        (false, _) => "incident closed",
        (true, "critical") => "incident critical",
        _ => "incident",
    };
    h(
        o,
        &[
            "<article class=\"",
            class,
            "\" id=\"incident-",
            &i.incident_id,
            "\"><h3>",
            &i.incident_id,
            " · ",
            i.severity.name(),
            "</h3><p>Probable origin: <code class=\"origin\">",
            &i.origin,
            "</code> · started ",
            &format_ts(i.started_at),
        ],
    );
    if let Some(r) = view.resolved_at {
        h(o, &[" · resolved ", &format_ts(r)]);
    }
    h(o, &["</p><p>", &i.summary, "</p><ol class=\"timeline\">"]);
    for t in &i.timeline {
        let e = t;
        h(
            o,
            &[
                "<li><time>",
                &format_ts(e.time),
                "</time> <code>",
                &e.signal,
                "</code> ",
                e.severity.name(),
                ": ",
                &e.evidence,
            ],
        );
        if let Some(r) = e.resolved_at {
            h(
                o,
                &[" <span class=\"ok\">(resolved ", &format_ts(r), ")</span>"],
            );
        }
        if let Some(log) = &t.log {
            if let Some(tpl) = &log.template {
                h(
                    o,
                    &["<br>template: <code class=\"template\">", tpl, "</code>"],
                );
            }
            for line in &log.sample_lines {
                h(o, &["<br>line: <code>", line, "</code>"]);
            }
        }
        o.push_str("</li>");
    }
    o.push_str("</ol>");
    if i.timeline_omitted > 0 {
        let _ = write!(
            o,
            "<p class=\"muted\">{} later alerts not listed.</p>",
            i.timeline_omitted
        );
    }
    o.push_str("</article>");
}

fn signals(o: &mut String, v: &Overview, q: &SignalQuery, now: i64) {
    o.push_str("<section id=\"signals\"><h2>Signals</h2>");
    if let Some(p) = &q.prefix {
        h(o, &["<p>Signals starting with <code>", p, "</code>"]);
    }
    if let Some(st) = q.stage {
        let _ = write!(o, "<p>Signals at stage {st}");
    }
    if q.prefix.is_some() || q.stage.is_some() {
        let _ = write!(
            o,
            ": {} of {} (<a href=\"/\">all</a>).</p>",
            v.matched, v.signals_kept
        );
    }
    stages(o, v, now);
    let _ = write!(
        o,
        "<p id=\"anomalous\">{} anomalous at their latest point</p>",
        v.anomalous
    );
    groups(o, v);
    let _ = write!(
        o,
        "<h3>Top {} by anomaly score</h3><table><thead><tr>\
         <th>signal</th><th>score</th><th>stage</th><th>value</th><th>last hour (30 s buckets)</th><th>template</th>\
         </tr></thead><tbody>",
        v.rows.len()
    );
    let first_bucket = now / BUCKET_MS - (BUCKETS as i64 - 1);
    for s in &v.rows {
        signal_row(o, s, first_bucket);
    }
    o.push_str("</tbody></table>");
    let hidden = v.matched.saturating_sub(v.rows.len());
    if hidden > 0 {
        let api = format!("/api/v1/signals{}", q.at(0));
        h(
            o,
            &[
                &format!("<p class=\"muted\" id=\"more\">{hidden} more signals with lower scores: page through all {} at <a href=\"", v.matched),
                &api,
                "\">",
                &api,
                "</a> (by name, 500 a page, <code>next</code> links the next).</p>",
            ],
        );
    }
    let untracked = usize::try_from(v.signals_active)
        .unwrap_or(usize::MAX)
        .saturating_sub(v.signals_kept);
    if untracked > 0 {
        let _ = write!(
            o,
            "<p class=\"muted\">{untracked} signals are not kept here (the page keeps {}).</p>",
            crate::http::status::MAX_SIGNALS
        );
    }
    let no_history = v.signals_kept.saturating_sub(v.signals_with_history);
    if no_history > 0 {
        let _ = write!(
            o,
            "<p class=\"muted\">{no_history} signals show their latest point only (the page keeps a last hour for {}).</p>",
            crate::http::status::MAX_HISTORIES
        );
    }
    if v.rows.is_empty() {
        o.push_str("<p class=\"muted\">No signal yet.</p>");
    }
    o.push_str("</section>");
}

/// Signals per group (prefix), the largest first, each a link to the page narrowed to it.
fn groups(o: &mut String, v: &Overview) {
    if v.groups.len() < 2 && v.groups_total < 2 {
        return;
    }
    o.push_str(
        "<table id=\"groups\"><thead><tr><th>group</th><th>signals</th><th>anomalous</th></tr></thead><tbody>",
    );
    for g in &v.groups {
        let q = SignalQuery {
            prefix: Some(format!("{}.", g.prefix)),
            ..SignalQuery::default()
        };
        h(
            o,
            &[
                "<tr><td><a href=\"/",
                &q.at(0),
                "\"><code>",
                &g.prefix,
                "</code></a></td>",
            ],
        );
        let class = if g.anomalous > 0 { "n bad" } else { "n" };
        let _ = write!(
            o,
            "<td class=\"n\">{}</td><td class=\"{class}\">{}</td></tr>",
            g.signals, g.anomalous
        );
    }
    o.push_str("</tbody></table>");
    let more = v.groups_total.saturating_sub(v.groups.len());
    if more > 0 {
        let _ = write!(
            o,
            "<p class=\"muted\">{more} smaller groups not listed.</p>"
        );
    }
}

/// How many signals learn, score early, score fully, and when the last becomes fully warmed.
fn stages(o: &mut String, v: &Overview, now: i64) {
    let c = v.stages;
    let _ = write!(
        o,
        "<p id=\"stages\">{} learning · {} scored by the early detectors · {} fully warmed",
        c.learning, c.early, c.full
    );
    if c.learning + c.early > 0 {
        if let Some(at) = v.next_stage_last {
            let _ = write!(o, " · next stage of every signal by {}", in_time(at, now));
        }
    }
    o.push_str("</p>");
}

/// `at` for people: its time and how far from `now` it is.
fn in_time(at: i64, now: i64) -> String {
    let secs = u64::try_from((at - now).max(0) / 1000).unwrap_or(0);
    format!(
        "{} (in {})",
        format_ts(at),
        humantime::format_duration(Duration::from_secs(secs))
    )
}

fn signal_row(o: &mut String, s: &SignalView, first_bucket: i64) {
    h(
        o,
        &["<tr><td><code class=\"signal\">", &s.signal, "</code></td>"],
    );
    match s.score {
        None => o.push_str("<td class=\"muted\">learning</td>"),
        Some(score) => {
            let class = if s.anomalous {
                "n hi"
            } else if score >= 0.3 {
                "n mid"
            } else {
                "n"
            };
            let _ = write!(o, "<td class=\"{class}\">{score:.2}</td>");
        }
    }
    let next = match (s.stage, s.next_stage_points) {
        ("learning", Some(n)) => format!("early in {n} points"),
        ("early", Some(n)) => format!("full in {n} points"),
        _ => String::new(),
    };
    let class = if s.stage == "full" {
        ""
    } else {
        " class=\"muted\""
    };
    let _ = write!(o, "<td{class}>{} {next}</td>", s.stage);
    h(
        o,
        &[
            "<td class=\"n\">",
            &Unit::of(&s.signal).format(s.value),
            "</td><td>",
        ],
    );
    sparkline(o, s, first_bucket);
    o.push_str("</td><td>");
    if let Some(t) = &s.template {
        h(o, &["<code class=\"template\">", t, "</code>"]);
    }
    o.push_str("</td></tr>");
}

/// The bucket means over the whole hour (a new signal fills the right end), gaps left open,
/// buckets with anomalous points marked red.
fn sparkline(o: &mut String, s: &SignalView, first_bucket: i64) {
    let hist = &s.history;
    let offset = hist.start / BUCKET_MS - first_bucket;
    let values: Vec<(i64, f64)> = hist
        .values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (offset + i as i64, v)))
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let _ = write!(
        o,
        "<svg class=\"spark\" width=\"{SPARK_W}\" height=\"{SPARK_H}\" viewBox=\"0 0 {SPARK_W} {SPARK_H}\" role=\"img\">"
    );
    if values.is_empty() {
        o.push_str("</svg>");
        return;
    }
    h(
        o,
        &["<title>", &Unit::of(&s.signal).range(lo, hi), "</title>"],
    );
    let x = |slot: i64| {
        2.0 + (slot.clamp(0, BUCKETS as i64 - 1) as f64) * (SPARK_W - 4.0) / (BUCKETS as f64 - 1.0)
    };
    let y = |v: f64| {
        if hi > lo {
            SPARK_H - 3.0 - (v - lo) / (hi - lo) * (SPARK_H - 6.0)
        } else {
            SPARK_H / 2.0
        }
    };
    // One polyline per run of consecutive buckets.
    let mut run: Vec<(f64, f64)> = Vec::new();
    let flush = |o: &mut String, run: &mut Vec<(f64, f64)>| {
        match run.len() {
            0 => {}
            1 => {
                let _ = write!(
                    o,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.5\" fill=\"#2f6fb3\"/>",
                    run[0].0, run[0].1
                );
            }
            _ => {
                o.push_str(
                    "<polyline fill=\"none\" stroke=\"#2f6fb3\" stroke-width=\"1.5\" points=\"",
                );
                for (px, py) in run.iter() {
                    let _ = write!(o, "{px:.1},{py:.1} ");
                }
                o.push_str("\"/>");
            }
        }
        run.clear();
    };
    let mut prev: Option<i64> = None;
    for &(slot, v) in &values {
        if prev.is_some_and(|p| slot != p + 1) {
            flush(o, &mut run);
        }
        run.push((x(slot), y(v)));
        prev = Some(slot);
    }
    flush(o, &mut run);
    for (i, n) in hist.anomalous.iter().enumerate() {
        if let (true, Some(v)) = (*n > 0, hist.values[i]) {
            let _ = write!(
                o,
                "<circle class=\"anomaly\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#c62828\"/>",
                x(offset + i as i64),
                y(v)
            );
        }
    }
    o.push_str("</svg>");
}

fn hook_runs(o: &mut String, runs: &[HookRun]) {
    o.push_str("<section id=\"hooks\"><h2>Recent hook runs</h2>");
    if runs.is_empty() {
        o.push_str("<p class=\"muted\">None.</p></section>");
        return;
    }
    o.push_str(
        "<table><thead><tr><th>finished</th><th>hook</th><th>for</th><th>result</th>\
         <th>exit</th><th>duration</th></tr></thead><tbody>",
    );
    for r in runs {
        let class = match r.result {
            crate::event::HookResult::Ok | crate::event::HookResult::DryRun => "ok",
            _ => "bad",
        };
        let exit = match (&r.exit_code, &r.exit_signal, &r.error) {
            (Some(c), _, _) => c.to_string(),
            (None, Some(sig), _) => sig.clone(),
            (None, None, Some(e)) => e.clone(),
            _ => "–".to_owned(),
        };
        h(
            o,
            &[
                "<tr><td>",
                &format_ts(r.time),
                "</td><td><code>",
                &r.hook,
                "</code></td><td><code>",
                &r.event_id,
                "</code></td><td class=\"",
                class,
                "\">",
                r.result.name(),
                "</td><td>",
                &exit,
                "</td><td class=\"n\">",
                &format!("{} ms", r.duration_ms),
                "</td></tr>",
            ],
        );
    }
    o.push_str("</tbody></table></section>");
}

fn sinks(o: &mut String, stats: &Stats, now: i64) {
    o.push_str("<section id=\"sinks\"><h2>Sinks</h2>");
    let sinks: Vec<_> = stats
        .sinks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let (written, errors) = (
        Stats::get(&stats.stdout_written),
        Stats::get(&stats.stdout_errors),
    );
    if sinks.is_empty() && written + errors == 0 {
        o.push_str(
            "<p class=\"muted\">Nothing delivered yet, and no outbox-backed sink.</p></section>",
        );
        return;
    }
    o.push_str(
        "<table><thead><tr><th>sink</th><th>queued</th><th>oldest undelivered</th><th>delivered</th>\
         <th>retried</th><th>dropped</th><th>corrupt</th></tr></thead><tbody>",
    );
    for s in &sinks {
        let g = SinkStats::get;
        let age = s.oldest_age_ms(now);
        let age = if age == 0 {
            "–".to_owned()
        } else {
            format!("{:.1} s", age as f64 / 1000.0)
        };
        h(o, &["<tr><td><code>", &s.name, "</code></td>"]);
        let class = if g(&s.queued) > 0 { "n mid" } else { "n" };
        let _ = write!(
            o,
            "<td class=\"{class}\">{}</td><td class=\"n\">{age}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n{}\">{}</td><td class=\"n\">{}</td></tr>",
            g(&s.queued),
            g(&s.delivered),
            g(&s.retried),
            if g(&s.dropped) > 0 { " bad" } else { "" },
            g(&s.dropped),
            g(&s.corrupt),
        );
    }
    if written + errors > 0 {
        let _ = write!(
            o,
            "<tr><td><code>stdout</code></td><td class=\"n\">–</td><td class=\"n\">–</td><td class=\"n\">{written}</td><td class=\"n\">–</td><td class=\"n{}\">{errors}</td><td class=\"n\">–</td></tr>",
            if errors > 0 { " bad" } else { "" },
        );
    }
    o.push_str("</tbody></table></section>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AlertEvent, AlertState, LogEvidence, Range, Severity};
    use std::sync::Arc;

    const EVIL: &str = "<script>alert(1)</script> & \"q\" 'a'";

    #[test]
    fn every_string_from_input_is_escaped() {
        let status = Status::new(format!("host{EVIL}").into());
        let stats = Stats::default();
        stats.sink(&format!("sink{EVIL}"));
        let now = now_ms();
        let signal: Arc<str> = format!("log.app.template.1.count{EVIL}").into();
        for i in 0..50 {
            status.record(
                &signal,
                now - 1_500_000 + i * 30_000,
                i as f64,
                Some(0.9),
                i == 40,
                seismo_detectors::Stage::Full,
            );
        }
        let ev = Arc::new(LogEvidence {
            source: "app".into(),
            template_id: Some(1),
            template: Some(format!("template {EVIL}")),
            sample_lines: vec![format!("line {EVIL}")],
            sample_streams: Vec::new(),
            k8s: None,
        });
        status.note_templates([(&signal, &ev)]);
        let mut incidents =
            crate::alerting::incidents::Incidents::new("h".into(), Duration::from_secs(60));
        let alert = AlertEvent {
            time: now,
            state: AlertState::Firing,
            alert_id: format!("{signal}@1"),
            incident_id: String::new(),
            host: "h".into(),
            signal: Arc::clone(&signal),
            severity: Severity::Critical,
            observed: 1.0,
            expected: Range {
                low: 0.0,
                high: 0.5,
            },
            score: 1.0,
            detector: "ewma",
            started_at: now,
            flapping: false,
            summary: format!("summary {EVIL}"),
            evidence: None,
            log: Some(ev),
        };
        status.on_events(&incidents.on_alert(alert));
        status.on_hook(&crate::event::HookOutcome {
            time: now,
            hook: format!("hook{EVIL}"),
            event: "alert",
            event_id: format!("id{EVIL}"),
            incident_id: None,
            state: "firing",
            host: "h".into(),
            phase: crate::event::HookPhase::Finished,
            proposal_id: None,
            expires_at: None,
            decided_by: None,
            subject: None,
            result: Some(crate::event::HookResult::Failed),
            command: vec![],
            exit_code: None,
            exit_signal: None,
            timed_out: false,
            duration_ms: 1,
            stdout: String::new(),
            stdout_truncated: false,
            stderr: String::new(),
            stderr_truncated: false,
            error: Some(format!("error{EVIL}")),
        });
        // A signal in its early stage, every 10 s.
        let early: Arc<str> = "host.cpu.utilization".into();
        for i in 0..2 {
            let stage = seismo_detectors::Stage::Early { next_in: 200 };
            status.record(
                &early,
                now - 20_000 + i * 10_000,
                0.5,
                Some(0.1),
                false,
                stage,
            );
        }
        let html = render(&Page {
            status: &status,
            stats: &stats,
            now,
            signals: &status.overview(now, 2, &SignalQuery::default(), MAX_ROWS),
            query: &SignalQuery::default(),
            incidents: &status.incident_views(now),
            runs: &status.hook_runs(),
        });
        assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
        assert!(!html.contains("\"q\""), "{html}");
        let escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot; &#39;a&#39;";
        for what in [
            "host",
            "sink",
            "template ",
            "line ",
            "summary ",
            "hook",
            "id",
            "error",
            "log.app.template.1.count",
        ] {
            assert!(
                html.contains(&format!("{what}{escaped}")),
                "{what} not escaped in {html}"
            );
        }
        // Stages: per signal, and how many are at each.
        assert!(
            html.contains("<td class=\"muted\">early full in 200 points</td>"),
            "{html}"
        );
        assert!(
            html.contains("<p id=\"stages\">0 learning · 1 scored by the early detectors · 1 fully warmed · next stage of every signal by "),
            "{html}"
        );
        // The markup the page is made of: refresh, a sparkline with an anomaly marked.
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"10\">"));
        assert!(html.contains("<polyline"));
        assert!(html.contains("class=\"anomaly\""));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no external asset"
        );
    }

    #[test]
    fn sparklines_span_the_hour_and_leave_gaps_open() {
        let status = Status::new("h".into());
        let now = 1_795_633_200_000 + 119 * BUCKET_MS;
        let a: Arc<str> = "a".into();
        // Buckets 100..=104 and 110..=119 of the hour, and one lone point at 107.
        for b in (100..105).chain([107]).chain(110..120) {
            status.record(
                &a,
                now - (119 - b) * BUCKET_MS,
                b as f64,
                Some(0.1),
                false,
                seismo_detectors::Stage::Full,
            );
        }
        let v = status.signals(now, 1, &SignalQuery::default());
        let mut o = String::new();
        sparkline(&mut o, &v.signals[0], now / BUCKET_MS - 119);
        assert_eq!(o.matches("<polyline").count(), 2, "{o}");
        assert_eq!(o.matches("<circle").count(), 1, "{o}");
        // The last bucket is at the right edge.
        assert!(o.contains(&format!("{:.1},", SPARK_W - 2.0)), "{o}");
    }

    #[test]
    fn fifty_thousand_signals_give_summaries_and_a_bounded_number_of_rows() {
        let status = Status::new("h".into());
        let stats = Stats::default();
        let now = now_ms();
        let n = 50_000;
        for i in 0..n {
            let name: Arc<str> = format!("scrape.t{}.metric_{i}", i % 40).into();
            let stage = if i % 4 == 0 {
                seismo_detectors::Stage::Learning { next_in: 5 }
            } else {
                seismo_detectors::Stage::Full
            };
            status.record(&name, now, 1.0, Some(0.5), i % 1000 == 1, stage);
        }
        let q = SignalQuery::default();
        let html = render(&Page {
            status: &status,
            stats: &stats,
            now,
            signals: &status.overview(now, n as u64, &q, MAX_ROWS),
            query: &q,
            incidents: &status.incident_views(now),
            runs: &status.hook_runs(),
        });
        assert_eq!(html.matches("<code class=\"signal\">").count(), MAX_ROWS);
        assert_eq!(html.matches("<svg class=\"spark\"").count(), MAX_ROWS);
        assert!(html.contains("<p id=\"stages\">12500 learning · 0 scored by the early detectors · 37500 fully warmed"), "{html}");
        assert!(html.contains("<p id=\"anomalous\">50 anomalous at their latest point</p>"));
        // The anomalous rows come first.
        let first = html.find("<code class=\"signal\">").unwrap();
        assert!(
            html[first..].starts_with("<code class=\"signal\">scrape.t1.metric_1</code>"),
            "{}",
            &html[first..first + 80]
        );
        // Groups: the 40 targets, 30 listed, each linking to the page narrowed to it.
        assert_eq!(
            html.matches("<tr><td><a href=\"/?prefix=scrape.t").count(),
            30
        );
        assert!(html.contains("<a href=\"/?prefix=scrape.t1.\"><code>scrape.t1</code></a></td><td class=\"n\">1250</td><td class=\"n bad\">50</td>"), "{html}");
        assert!(html.contains("10 smaller groups not listed."));
        assert!(html.contains("49800 more signals with lower scores: page through all 50000 at <a href=\"/api/v1/signals\">"), "{html}");
        assert!(html.contains("49000 signals show their latest point only"));
        // Narrowed to one target.
        let t1 = SignalQuery::parse(Some("prefix=scrape.t1.")).unwrap();
        let html = render(&Page {
            status: &status,
            stats: &stats,
            now,
            signals: &status.overview(now, n as u64, &t1, MAX_ROWS),
            query: &t1,
            incidents: &status.incident_views(now),
            runs: &status.hook_runs(),
        });
        assert!(
            html.contains("<p>Signals starting with <code>scrape.t1.</code>: 1250 of 50000"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"/api/v1/signals?prefix=scrape.t1.\">"),
            "{html}"
        );
    }
}
