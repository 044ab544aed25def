//! The alert lifecycle of each signal: scored points in, alert events out.
//!
//! - fires when `fire_after` of the signal's last `fire_window` points are anomalous;
//! - one firing alert per signal (dedup); an escalation into the critical band is sent again
//!   under the same id;
//! - resolves after `resolve_after` consecutive normal points (hysteresis);
//! - after a resolve, the signal may not fire again for `cooldown`;
//! - a signal with `flap_transitions` fire/resolve transitions within `flap_window` is
//!   flapping: its alert is held open (sent again, marked flapping) instead of resolving and
//!   firing again, and resolves once the signal has been normal for a whole `flap_window`.
//!
//! All times are the points' own timestamps, so the same points give the same alerts (replay,
//! tests).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use seismo_config::AlertingConfig;
use seismo_detectors::Finding;
use serde::{Deserialize, Serialize};

use crate::alerting::significance::{move_of, Held, Judgement, Profile, Rules};
use crate::alerting::summary;
use crate::event::{
    AlertEvent, AlertState, Anomaly, Evidence, Normal, Range, Severity, Significance,
};

/// The lifecycle settings, in the units the state machine uses.
#[derive(Debug, Clone, Copy)]
struct Policy {
    fire_after: usize,
    fire_window: usize,
    resolve_after: u32,
    critical_score: f64,
    /// Anomalies scoring below this do not count (0 when every anomaly counts).
    warning_score: f64,
    cooldown_ms: i64,
    flap_window_ms: i64,
    flap_transitions: usize,
    significance: Rules,
}

impl Policy {
    fn severity(&self, score: f64) -> Severity {
        if score >= self.critical_score {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Firing {
    alert_id: String,
    started_at: i64,
    severity: Severity,
    detector: DetectorName,
    flapping: bool,
}

/// What is remembered of one signal, while it is reported. Saved as is in snapshots
/// (`pipeline/snapshot.rs`), so a firing alert stays firing across a restart and the signal's
/// long-horizon profile is not learned again.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Track {
    /// The last `fire_window` points: timestamp, and the score when the point was anomalous.
    recent: VecDeque<(i64, Option<f64>)>,
    /// Boxed: few signals fire, and every signal would otherwise hold its room (saved the
    /// same either way).
    firing: Option<Box<Firing>>,
    /// Consecutive normal points since the last anomalous one.
    normal_run: u32,
    last_anomaly: i64,
    /// The signal may not fire before this (cool-down after a resolve).
    quiet_until: i64,
    /// When its recent fire and resolve transitions happened, oldest first.
    transitions: VecDeque<i64>,
    /// Its levels over the long horizon, for the significance rules.
    profile: Profile,
    /// A small move held back and watched, with the detector that flagged it.
    held: Option<Box<(Held, DetectorName)>>,
}

impl Track {
    fn push(&mut self, ts_ms: i64, score: Option<f64>, window: usize) {
        // `while`: the window may have shrunk on a reload.
        while self.recent.len() >= window.max(1) {
            self.recent.pop_front();
        }
        // Room for exactly the window (a `VecDeque` grows to at least 4 by itself).
        if self.recent.capacity() < window {
            self.recent.reserve_exact(window - self.recent.len());
        }
        self.recent.push_back((ts_ms, score));
    }

    fn forget_transitions_before(&mut self, ts_ms: i64) {
        while self.transitions.front().is_some_and(|&t| t < ts_ms) {
            self.transitions.pop_front();
        }
    }

    /// Nothing left that could change a later decision, and no profile learned: a signal that
    /// is not a series (a template's `.new`) is never forgotten by the pipeline's sweep, so its
    /// state goes once idle, or every template ever seen would keep one.
    fn is_idle(&self, now_ms: i64) -> bool {
        self.firing.is_none()
            && self.held.is_none()
            && self.profile.is_empty()
            && self.transitions.is_empty()
            && now_ms >= self.quiet_until
            && self.recent.iter().all(|(_, s)| s.is_none())
    }
}

/// Anomalies the significance rules held back, per rule.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HeldBack {
    pub small_moves: u64,
    pub usual_levels: u64,
    pub relief: u64,
}

#[derive(Debug)]
pub struct Alerting {
    host: Arc<str>,
    policy: Policy,
    signals: HashMap<Arc<str>, Track>,
    held_back: HeldBack,
}

impl Policy {
    fn of(config: &AlertingConfig) -> Self {
        Policy {
            fire_after: config.fire_after.get() as usize,
            fire_window: config.fire_window.get() as usize,
            resolve_after: config.resolve_after,
            critical_score: config.critical_score.get(),
            warning_score: config.warning_score.map_or(0.0, |s| s.get()),
            cooldown_ms: millis(config.cooldown),
            flap_window_ms: millis(config.flap_window),
            flap_transitions: config.flap_transitions.get() as usize,
            significance: Rules::of(config),
        }
    }
}

/// The detector behind an alert, as the `&'static str` its events carry; saved as its text
/// and read back as one of the known names, else `"restored"` (a name from another version).
#[derive(Debug, Clone, Copy)]
struct DetectorName(&'static str);

impl Serialize for DetectorName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for DetectorName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const KNOWN: [&str; 9] = [
            "ensemble",
            "ewma",
            "mad",
            "seasonal",
            "cusum",
            "kmeans",
            "knn",
            "windowed_gaussian",
            "new_template",
        ];
        let name = String::deserialize(d)?;
        Ok(DetectorName(
            KNOWN.into_iter().find(|k| *k == name).unwrap_or("restored"),
        ))
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn human(ms: i64) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(u64::try_from(ms / 1000).unwrap_or(0)))
}

impl Alerting {
    pub fn new(host: Arc<str>, config: &AlertingConfig) -> Self {
        Self {
            host,
            policy: Policy::of(config),
            signals: HashMap::new(),
            held_back: HeldBack::default(),
        }
    }

    /// Reloaded parameters; firing alerts and the signals' recent history are kept.
    pub fn reconfigure(&mut self, config: &AlertingConfig) {
        self.policy = Policy::of(config);
    }

    /// Alerts firing now.
    pub fn firing(&self) -> usize {
        self.signals.values().filter(|t| t.firing.is_some()).count()
    }

    /// Signals whose state is kept (every signal reported since it was last forgotten).
    pub fn tracked(&self) -> usize {
        self.signals.len()
    }

    /// Every signal's state, for a snapshot.
    pub(crate) fn tracks(&self) -> impl Iterator<Item = (&Arc<str>, &Track)> {
        self.signals.iter()
    }

    /// A signal's state from a snapshot: its alert (if firing) keeps its id and resolves
    /// through the next normal points as if the agent had never stopped.
    pub(crate) fn restore(&mut self, signal: Arc<str>, track: Track) {
        self.signals.insert(signal, track);
    }

    /// Learns one value of a signal (every point it reports, before it is judged): its
    /// long-horizon profile.
    pub fn learn(&mut self, signal: &Arc<str>, value: f64) {
        match self.signals.get_mut(signal) {
            Some(t) => {
                t.profile.learn(value);
                if t.held.as_mut().is_some_and(|h| !h.0.learn(value)) {
                    t.held = None;
                }
            }
            None => {
                let mut t = Track::default();
                t.profile.learn(value);
                self.signals.insert(Arc::clone(signal), t);
            }
        }
    }

    /// Anomalies the significance rules held back, per rule.
    pub fn held_back(&self) -> HeldBack {
        self.held_back
    }

    /// An anomalous point of a signal's series.
    pub fn on_anomaly(&mut self, a: &Anomaly) -> Option<AlertEvent> {
        self.anomaly(a, false, None)
    }

    /// A one-off anomaly that is not part of a series (a log template seen for the first
    /// time): it fires at once, whatever `fire_after` and the cool-down say.
    pub fn on_novel(&mut self, a: &Anomaly) -> Option<AlertEvent> {
        self.anomaly(a, true, None)
    }

    /// `grown`: the anomaly is a held-back move that grew large enough (see [`Held`]).
    fn anomaly(
        &mut self,
        a: &Anomaly,
        at_once: bool,
        grown: Option<Significance>,
    ) -> Option<AlertEvent> {
        let p = self.policy;
        let expected = Range {
            low: a.expected_low,
            high: a.expected_high,
        };
        // Below the warning score, or held back by the significance rules: a normal point.
        let as_normal = Normal {
            ts_ms: a.ts_ms,
            observed: a.observed,
            score: a.score,
            expected,
        };
        if a.score < p.warning_score {
            return self.on_normal(&a.signal, &as_normal);
        }
        let track = self.signals.entry(Arc::clone(&a.signal)).or_default();
        // Practical significance decides whether a new alert may fire; a firing one is kept
        // open (and escalated) by every anomaly of its episode.
        let mut significance = grown;
        if p.significance.enabled && !at_once && track.firing.is_none() && !a.evidence.is_empty() {
            let primary = a.evidence.primary().map(|c| &c.finding);
            let expected = (a.expected_low, a.expected_high);
            match track
                .profile
                .judge(&p.significance, &a.signal, a.observed, primary, expected)
            {
                Judgement::Pages(s) => {
                    significance = Some(s);
                    track.held = None;
                }
                held => {
                    tracing::debug!(
                        signal = %a.signal, observed = a.observed, score = a.score,
                        detector = a.detector, reason = held.reason().unwrap_or_default(),
                        "anomaly held back by the significance rules: no alert"
                    );
                    if held == Judgement::SmallMove {
                        self.held_back.small_moves += 1;
                        // Watched: the episode may grow into a large move.
                        if track.held.is_none() {
                            let (now, from) = move_of(a.observed, primary, track.profile.usual());
                            track.held = from.map(|from| {
                                Box::new((Held::new(from, now, a.score), DetectorName(a.detector)))
                            });
                        }
                    } else if held == Judgement::UsualLevel {
                        self.held_back.usual_levels += 1;
                    } else {
                        self.held_back.relief += 1;
                    }
                    return self.on_normal(&a.signal, &as_normal);
                }
            }
        }
        let track = self.signals.entry(Arc::clone(&a.signal)).or_default();
        track.push(a.ts_ms, Some(a.score), p.fire_window);
        track.normal_run = 0;
        track.last_anomaly = a.ts_ms;
        let severity = p.severity(a.score);
        if let Some(f) = &mut track.firing {
            if severity <= f.severity {
                return None;
            }
            f.severity = severity;
            let evidence = Evidence::of(a);
            let summary = summary::firing(a, &evidence);
            return Some(self.event(&a.signal, a, expected, summary, evidence));
        }
        let anomalous: Vec<(i64, f64)> = track
            .recent
            .iter()
            .filter_map(|&(t, s)| s.map(|s| (t, s)))
            .collect();
        if !at_once && (anomalous.len() < p.fire_after || a.ts_ms < track.quiet_until) {
            return None;
        }
        let started_at = if at_once {
            a.ts_ms
        } else {
            anomalous.first().map_or(a.ts_ms, |&(t, _)| t)
        };
        let peak = anomalous.iter().map(|&(_, s)| s).fold(a.score, f64::max);
        track.firing = Some(Box::new(Firing {
            alert_id: format!("{}@{started_at}", a.signal),
            started_at,
            severity: p.severity(peak),
            detector: DetectorName(a.detector),
            flapping: false,
        }));
        track.transitions.push_back(a.ts_ms);
        let mut evidence = Evidence::of(a);
        evidence.significance = significance;
        let mut summary = summary::firing(a, &evidence);
        if p.fire_window > 1 && !at_once {
            summary.push_str(&format!(
                "; {} of its last {} points are anomalous",
                anomalous.len(),
                track.recent.len()
            ));
        }
        Some(self.event(&a.signal, a, expected, summary, evidence))
    }

    /// A normal point of a signal's series.
    pub fn on_normal(&mut self, signal: &Arc<str>, point: &Normal) -> Option<AlertEvent> {
        let p = self.policy;
        let track = self.signals.get_mut(signal)?;
        track.push(point.ts_ms, None, p.fire_window);
        track.forget_transitions_before(point.ts_ms.saturating_sub(p.flap_window_ms));
        let Some(firing) = &mut track.firing else {
            if track.is_idle(point.ts_ms) {
                self.signals.remove(signal);
                return None;
            }
            return self.grown(signal, point);
        };
        track.normal_run += 1;
        if track.normal_run < p.resolve_after {
            return None;
        }
        let summary = if firing.flapping {
            let calm = point.ts_ms.saturating_sub(track.last_anomaly);
            if calm < p.flap_window_ms {
                return None;
            }
            format!(
                "{signal} stopped flapping: normal for {}, its alert is resolved",
                human(calm)
            )
        } else if track.transitions.len() + 1 >= p.flap_transitions {
            firing.flapping = true;
            let summary = format!(
                "{signal} is flapping: {} fire/resolve transitions within {}; its alert stays open until it has been normal for {}",
                track.transitions.len() + 1,
                human(p.flap_window_ms),
                human(p.flap_window_ms)
            );
            let f = self.signals.get(signal)?.firing.as_ref()?;
            return Some(self.build(signal, AlertState::Firing, f, point, summary));
        } else {
            format!(
                "{signal} is back within its expected range after {}",
                human(point.ts_ms.saturating_sub(firing.started_at))
            )
        };
        let firing = track.firing.take()?;
        track.transitions.push_back(point.ts_ms);
        track.quiet_until = point.ts_ms.saturating_add(p.cooldown_ms);
        Some(self.build(signal, AlertState::Resolved, &firing, point, summary))
    }

    /// The alert of a held-back move that grew large enough by `point` (see [`Held`]).
    fn grown(&mut self, signal: &Arc<str>, point: &Normal) -> Option<AlertEvent> {
        let p = self.policy;
        let track = self.signals.get_mut(signal)?;
        let (held, detector) = *track.held.as_deref()?;
        if !p.significance.enabled || point.ts_ms < track.quiet_until {
            return None;
        }
        let finding = held.finding();
        let expected = (point.expected.low, point.expected.high);
        let Judgement::Pages(mut significance) = track.profile.judge(
            &p.significance,
            signal,
            point.observed,
            Some(&finding),
            expected,
        ) else {
            return None;
        };
        track.held = None;
        significance.rule = "grew";
        // The range it expected: the level the move started from, give or take the smallest
        // move that pages.
        let Finding::LevelShift { before, .. } = finding else {
            return None;
        };
        let (low, high) = (before - significance.needed, before + significance.needed);
        let a = Anomaly {
            signal: Arc::clone(signal),
            ts_ms: point.ts_ms,
            score: held.score,
            observed: point.observed,
            expected_low: low,
            expected_high: high,
            detector: detector.0,
            evidence: seismo_detectors::Evidence::single(seismo_detectors::Component {
                finding,
                score: held.score,
                expected_low: low,
                expected_high: high,
            }),
        };
        self.anomaly(&a, true, Some(significance))
    }

    /// The signal is no longer reported (device gone, detector evicted): resolve its alert.
    pub fn forget(&mut self, signal: &Arc<str>, ts_ms: i64) -> Option<AlertEvent> {
        let firing = self.signals.remove(signal)?.firing?;
        let point = Normal {
            ts_ms,
            observed: f64::NAN,
            score: 0.0,
            expected: Range {
                low: f64::NAN,
                high: f64::NAN,
            },
        };
        let summary = format!("{signal} is no longer reported; its alert is resolved");
        Some(self.build(signal, AlertState::Resolved, &firing, &point, summary))
    }

    /// The firing event of the alert of `signal` at anomaly `a`.
    fn event(
        &self,
        signal: &Arc<str>,
        a: &Anomaly,
        expected: Range,
        summary: String,
        evidence: Evidence,
    ) -> AlertEvent {
        let state = AlertState::Firing;
        let point = Normal {
            ts_ms: a.ts_ms,
            observed: a.observed,
            score: a.score,
            expected,
        };
        let mut event = match self.signals.get(signal).and_then(|t| t.firing.as_ref()) {
            Some(f) => self.build(signal, state, f, &point, summary),
            // Unreachable: callers hold a firing alert. Keep the event rather than lose it.
            None => self.build(
                signal,
                state,
                &Firing {
                    alert_id: format!("{signal}@{}", a.ts_ms),
                    started_at: a.ts_ms,
                    severity: self.policy.severity(a.score),
                    detector: DetectorName(a.detector),
                    flapping: false,
                },
                &point,
                summary,
            ),
        };
        event.evidence = Some(Arc::new(evidence));
        event
    }

    fn build(
        &self,
        signal: &Arc<str>,
        state: AlertState,
        f: &Firing,
        point: &Normal,
        summary: String,
    ) -> AlertEvent {
        AlertEvent {
            time: point.ts_ms,
            state,
            alert_id: f.alert_id.clone(),
            incident_id: String::new(),
            host: Arc::clone(&self.host),
            signal: Arc::clone(signal),
            severity: f.severity,
            observed: point.observed,
            expected: point.expected,
            score: point.score,
            detector: f.detector.0,
            started_at: f.started_at,
            flapping: f.flapping,
            summary,
            evidence: None,
            log: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lifecycle under `[alerting]` keys `extra` (the rest default).
    fn alerting(extra: &str) -> Alerting {
        let config = seismo_config::parse(&format!("[alerting]\n{extra}"), "t").unwrap();
        Alerting::new("h".into(), &config.alerting)
    }

    fn anomaly(ts: i64, score: f64) -> Anomaly {
        Anomaly {
            signal: "s".into(),
            ts_ms: ts,
            score,
            observed: 10.0,
            expected_low: 0.0,
            expected_high: 1.0,
            detector: "ewma",
            evidence: seismo_detectors::Evidence::default(),
        }
    }

    fn normal(ts: i64) -> Normal {
        Normal {
            ts_ms: ts,
            observed: 0.5,
            score: 0.1,
            expected: Range {
                low: 0.0,
                high: 1.0,
            },
        }
    }

    /// Feeds a scripted score sequence, one point a second from `t0` (a score of 0 is a normal
    /// point), and returns `(second, state, severity, flapping)` of every event.
    fn script(a: &mut Alerting, t0: i64, scores: &[f64]) -> Vec<(i64, AlertState, Severity, bool)> {
        let s: Arc<str> = "s".into();
        let mut out = Vec::new();
        for (i, &score) in scores.iter().enumerate() {
            let ts = t0 + i as i64 * 1000;
            let e = if score > 0.0 {
                a.on_anomaly(&anomaly(ts, score))
            } else {
                a.on_normal(&s, &normal(ts))
            };
            out.extend(e.map(|e| (ts / 1000, e.state, e.severity, e.flapping)));
        }
        out
    }

    use AlertState::{Firing as F, Resolved as R};
    use Severity::{Critical as C, Warning as W};

    #[test]
    fn fires_once_escalates_then_resolves_after_a_normal_run() {
        let mut a = alerting("");
        let s: Arc<str> = "s".into();
        let fired = a.on_anomaly(&anomaly(1_000, 0.6)).unwrap();
        assert_eq!(
            (fired.state, fired.severity),
            (AlertState::Firing, Severity::Warning)
        );
        assert_eq!(fired.alert_id, "s@1000");
        assert!(a.on_anomaly(&anomaly(2_000, 0.6)).is_none(), "deduplicated");
        let up = a.on_anomaly(&anomaly(3_000, 0.9)).unwrap();
        assert_eq!(
            (up.severity, up.alert_id.as_str()),
            (Severity::Critical, "s@1000")
        );
        assert!(
            a.on_anomaly(&anomaly(4_000, 0.6)).is_none(),
            "no downgrade event"
        );
        assert!(a.on_normal(&s, &normal(5_000)).is_none());
        assert!(a.on_normal(&s, &normal(6_000)).is_none());
        assert!(
            a.on_anomaly(&anomaly(7_000, 0.6)).is_none(),
            "the normal run restarts"
        );
        assert!(a.on_normal(&s, &normal(8_000)).is_none());
        assert!(a.on_normal(&s, &normal(9_000)).is_none());
        let done = a.on_normal(&s, &normal(10_000)).unwrap();
        assert_eq!(done.state, AlertState::Resolved);
        assert_eq!((done.alert_id.as_str(), done.started_at), ("s@1000", 1_000));
        assert_eq!(done.severity, Severity::Critical);
        assert!(!done.flapping);
        assert_eq!(a.firing(), 0);
        // After the one-minute cool-down, a new alert.
        let again = a.on_anomaly(&anomaly(71_000, 0.6)).unwrap();
        assert_eq!(again.alert_id, "s@71000", "a new alert after resolution");
    }

    #[test]
    fn k_of_n_fires_on_the_kth_anomaly_within_the_window_only() {
        let mut a = alerting("fire_after = 3\nfire_window = 5\ncooldown = \"0s\"\n");
        // Anomalies at 0, 2 and 5: never 3 within 5 points (0..=4 holds 2; 1..=5 holds 2).
        assert!(script(&mut a, 0, &[0.6, 0.0, 0.6, 0.0, 0.0, 0.6, 0.0, 0.0]).is_empty());
        // Then 3 within 5 (at 10, 12, 13): it fires at the third, started at the first.
        let mut a = alerting("fire_after = 3\nfire_window = 5\ncooldown = \"0s\"\n");
        let e = a.on_anomaly(&anomaly(10_000, 0.6));
        assert!(e.is_none());
        a.on_normal(&"s".into(), &normal(11_000));
        assert!(a.on_anomaly(&anomaly(12_000, 0.9)).is_none());
        let fired = a.on_anomaly(&anomaly(13_000, 0.6)).unwrap();
        assert_eq!(fired.state, AlertState::Firing);
        assert_eq!((fired.time, fired.started_at), (13_000, 10_000));
        assert_eq!(fired.alert_id, "s@10000");
        assert_eq!(
            fired.severity,
            Severity::Critical,
            "the window's peak sets the severity"
        );
        assert!(
            fired
                .summary
                .ends_with("3 of its last 4 points are anomalous"),
            "{}",
            fired.summary
        );
    }

    #[test]
    fn hysteresis_resolves_only_after_m_consecutive_normal_points() {
        let mut a = alerting("resolve_after = 4\ncooldown = \"0s\"\n");
        let events = script(
            &mut a,
            0,
            &[0.6, 0.0, 0.0, 0.0, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0],
        );
        // Three normal points are not enough; the anomaly at 4 restarts the count.
        assert_eq!(events, [(0, F, W, false), (8, R, W, false)]);
    }

    #[test]
    fn dedup_keeps_one_firing_alert_per_signal() {
        let mut a = alerting("");
        let mut scores = vec![0.6; 50];
        scores[20] = 0.9;
        let events = script(&mut a, 0, &scores);
        // One alert; only its escalation into the critical band is sent again.
        assert_eq!(events, [(0, F, W, false), (20, F, C, false)]);
        assert_eq!(a.firing(), 1);
        // Another signal has its own alert.
        let mut other = anomaly(60_000, 0.6);
        other.signal = "t".into();
        assert!(a.on_anomaly(&other).is_some());
        assert_eq!(a.firing(), 2);
    }

    #[test]
    fn cool_down_holds_a_new_alert_back_until_it_ends() {
        let mut a = alerting("resolve_after = 1\ncooldown = \"10s\"\n");
        let mut scores = vec![0.6, 0.0]; // fires at 0, resolves at 1: quiet until 11
        scores.extend([0.6, 0.0, 0.0, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]); // 2..=11
        scores.extend([0.6, 0.0]); // 12: fires
        let events = script(&mut a, 0, &scores);
        assert_eq!(
            events,
            [
                (0, F, W, false),
                (1, R, W, false),
                (12, F, W, false),
                (13, R, W, false)
            ]
        );
        // Anomalies during the cool-down still count: when it ends (at 12), it fires.
        let mut a =
            alerting("resolve_after = 1\ncooldown = \"10s\"\nfire_after = 2\nfire_window = 3\n");
        let mut scores = vec![0.6, 0.6, 0.0]; // fires at 1, resolves at 2: quiet until 12
        scores.extend([0.0; 7]); // 3..=9
        scores.extend([0.6, 0.6, 0.6]); // 10, 11, 12
        let events = script(&mut a, 0, &scores);
        assert_eq!(
            events,
            [(1, F, W, false), (2, R, W, false), (12, F, W, false)]
        );
    }

    #[test]
    fn a_flapping_signal_is_held_open_instead_of_re_firing() {
        let mut a = alerting(
            "resolve_after = 1\ncooldown = \"0s\"\nflap_window = \"20s\"\nflap_transitions = 4\n",
        );
        // Fire/resolve, fire/resolve..., one point each: the fourth transition (the second
        // resolve) is held, the alert is sent again marked flapping and stays open.
        let mut scores = vec![0.6, 0.0, 0.6, 0.0, 0.6, 0.0, 0.6, 0.0, 0.6, 0.0];
        // Then normal: it resolves once normal for the whole 20 s window (last anomaly at 8).
        scores.extend([0.0; 25]);
        let events = script(&mut a, 0, &scores);
        assert_eq!(
            events,
            [
                (0, F, W, false),
                (1, R, W, false),
                (2, F, W, false),
                (3, F, W, true),
                (28, R, W, true)
            ]
        );
        // One alert id from the re-fire to the end: nothing fired again while flapping.
        let mut a = alerting(
            "resolve_after = 1\ncooldown = \"0s\"\nflap_window = \"20s\"\nflap_transitions = 4\n",
        );
        let s: Arc<str> = "s".into();
        let mut ids = Vec::new();
        for i in 0..40i64 {
            let e = if i < 10 && i % 2 == 0 {
                a.on_anomaly(&anomaly(i * 1000, 0.6))
            } else {
                a.on_normal(&s, &normal(i * 1000))
            };
            ids.extend(e.map(|e| e.alert_id));
        }
        assert_eq!(ids, ["s@0", "s@0", "s@2000", "s@2000", "s@2000"]);
        // Stably normal again, it is an ordinary signal: the next anomaly fires a fresh alert.
        assert!(a
            .on_anomaly(&anomaly(100_000, 0.6))
            .is_some_and(|e| !e.flapping));
    }

    #[test]
    fn slow_transitions_are_not_flapping() {
        let mut a = alerting(
            "resolve_after = 1\ncooldown = \"0s\"\nflap_window = \"5s\"\nflap_transitions = 4\n",
        );
        let mut scores = Vec::new();
        for _ in 0..5 {
            scores.extend([0.6, 0.0, 0.0, 0.0, 0.0, 0.0]);
        }
        let events = script(&mut a, 0, &scores);
        assert_eq!(events.len(), 10);
        assert!(events.iter().all(|e| !e.3));
    }

    #[test]
    fn severity_bands_and_the_warning_floor() {
        let mut a = alerting("critical_score = 0.9\nwarning_score = 0.6\n");
        assert!(
            a.on_anomaly(&anomaly(0, 0.55)).is_none(),
            "below the warning band"
        );
        assert_eq!(a.tracked(), 0, "a discounted anomaly leaves no state");
        let e = a.on_anomaly(&anomaly(1_000, 0.7)).unwrap();
        assert_eq!(e.severity, Severity::Warning);
        let e = a.on_anomaly(&anomaly(2_000, 0.95)).unwrap();
        assert_eq!(e.severity, Severity::Critical);
    }

    #[test]
    fn novel_events_fire_at_once_whatever_k_of_n_says() {
        let mut a = alerting("fire_after = 3\nfire_window = 3\n");
        assert!(a.on_anomaly(&anomaly(0, 0.9)).is_none());
        let e = a.on_novel(&anomaly(1_000, 1.0)).unwrap();
        assert_eq!((e.state, e.started_at), (AlertState::Firing, 1_000));
    }

    #[test]
    fn normal_points_emit_nothing_and_state_is_kept_until_the_signal_is_forgotten() {
        let mut a = alerting("resolve_after = 1\ncooldown = \"5s\"\nflap_window = \"5s\"\n");
        let s: Arc<str> = "s".into();
        assert!(a.on_normal(&s, &normal(1)).is_none());
        assert!(a.forget(&s, 1).is_none());
        script(&mut a, 0, &[0.6, 0.0]);
        assert_eq!(a.tracked(), 1, "cooling down");
        script(&mut a, 2_000, &[0.0; 10]);
        // The signal's profile is learned state: kept while the signal is reported.
        a.learn(&s, 1.0);
        assert_eq!(a.tracked(), 1);
        assert!(a.forget(&s, 20_000).is_none(), "nothing was firing");
        assert_eq!(a.tracked(), 0);
    }

    /// A seeded pseudo-random value in -1..1 (xorshift), for noise without a dependency.
    fn jitter(state: &mut u64) -> f64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// `signal`'s series through the default ensemble, one point a second, and through the
    /// lifecycle under `[alerting]` keys `extra`: the point and evidence of every alert fired.
    fn fired(signal: &str, extra: &str, series: &[f64]) -> Vec<(usize, Evidence)> {
        use seismo_detectors::{Detector, Ensemble, EnsembleParams, Verdict};
        let mut d = Ensemble::new(EnsembleParams::default()).unwrap();
        let mut a = alerting(extra);
        let s: Arc<str> = signal.into();
        let mut out = Vec::new();
        for (i, &x) in series.iter().enumerate() {
            let ts = i as i64 * 1000;
            let v = d.observe(ts, x);
            a.learn(&s, x);
            let e = match v {
                Verdict::Scored(o) if o.anomalous => a.on_anomaly(&Anomaly {
                    signal: Arc::clone(&s),
                    ts_ms: ts,
                    score: o.score,
                    observed: x,
                    expected_low: o.expected_low,
                    expected_high: o.expected_high,
                    detector: "ensemble",
                    evidence: o.evidence,
                }),
                Verdict::Scored(o) => a.on_normal(
                    &s,
                    &Normal {
                        ts_ms: ts,
                        observed: x,
                        score: o.score,
                        expected: Range {
                            low: o.expected_low,
                            high: o.expected_high,
                        },
                    },
                ),
                _ => None,
            };
            if let Some(e) = e.filter(|e| e.state == AlertState::Firing) {
                out.push((i, e.evidence.as_deref().cloned().unwrap()));
            }
        }
        out
    }

    /// `n` points of `level(i)` plus noise of half-width `noise`, clamped to `0..=1` when
    /// `ratio`.
    fn series(
        seed: u64,
        n: usize,
        noise: f64,
        ratio: bool,
        level: impl Fn(usize) -> f64,
    ) -> Vec<f64> {
        let mut state = seed.max(1);
        (0..n)
            .map(|i| {
                let v = level(i) + noise * jitter(&mut state);
                if ratio {
                    v.clamp(0.0, 1.0)
                } else {
                    v
                }
            })
            .collect()
    }

    const OFF: &str = "significance = false\n";

    #[test]
    fn small_true_moves_and_returns_to_idle_do_not_page() {
        // The root filesystem shifts from 82.9% to 83.4%: true, and the detector says so.
        let fs = series(
            1,
            3000,
            2e-5,
            true,
            |i| if i < 2000 { 0.829 } else { 0.834 },
        );
        let name = "host.filesystem.root.used_ratio";
        let off = fired(name, OFF, &fs);
        assert!(off.iter().any(|(i, _)| *i >= 2000), "{off:?}");
        let on = fired(name, "", &fs);
        assert!(on.iter().all(|(i, _)| *i < 2000), "{on:?}");
        // The CPU idles at 5%, a build holds it at 100% for 5 minutes, then it idles again.
        let build = |i: usize| {
            if (1500..1800).contains(&i) {
                0.99
            } else {
                0.05
            }
        };
        let cpu = series(2, 2400, 0.02, true, build);
        let name = "host.cpu.utilization";
        let off = fired(name, OFF, &cpu);
        assert!(off.iter().any(|(i, _)| (1800..1850).contains(i)), "{off:?}");
        let on = fired(name, "", &cpu);
        assert!(on.iter().all(|(i, _)| *i < 1800), "{on:?}");
        // The build's start is a saturation it had not seen: that one pages.
        let (i, e) = on.first().unwrap_or_else(|| panic!("{on:?}"));
        assert!((1500..1510).contains(i), "{on:?}");
        let s = e.significance.unwrap();
        assert_eq!(s.rule, "large_move");
        assert!(
            s.moved > 0.9 && s.needed >= 0.05 && s.usual_share < 0.1,
            "{s:?}"
        );
    }

    #[test]
    fn saturation_climbs_fast_filling_and_error_bursts_still_page() {
        let first_after = |name: &str, v: &[f64], at: usize| {
            let on = fired(name, "", v);
            let hit = on.iter().find(|(i, _)| *i >= at).cloned();
            hit.unwrap_or_else(|| panic!("{name}: {on:?}"))
        };
        // A CPU that idled for half an hour saturates.
        let cpu = series(3, 2200, 0.02, true, |i| if i < 2000 { 0.08 } else { 1.0 });
        let (i, e) = first_after("host.cpu.utilization", &cpu, 2000);
        assert!(i < 2010, "{i}");
        assert_eq!(e.significance.map(|s| s.rule), Some("large_move"));
        // Memory climbs by 0.05 points a second from 40%.
        let climb = |i: usize| 0.4 + 0.0005 * i.saturating_sub(1500) as f64;
        let mem = series(4, 2300, 0.002, true, climb);
        let (i, _) = first_after("host.memory.used_ratio", &mem, 1500);
        assert!(i < 1800, "{i}");
        // The filesystem fills by 0.1 points a second from 83%.
        let fill = |i: usize| 0.83 + 0.001 * i.saturating_sub(1500) as f64;
        let fs = series(5, 1700, 2e-5, true, fill);
        let (i, _) = first_after("host.filesystem.root.used_ratio", &fs, 1500);
        assert!(i < 1600, "{i}");
        // An error rate of 0 to 2 a second bursts to 40.
        let burst = |i: usize| if (1500..1530).contains(&i) { 40.0 } else { 1.0 };
        let errors = series(6, 1600, 1.0, false, burst);
        let (i, _) = first_after("log.app.errors_per_s", &errors, 1500);
        assert!(i < 1505, "{i}");
    }

    #[test]
    fn relief_does_not_page_a_rise_still_does() {
        // Busy from the start (the early stage learns it busy), then idle, then busy again
        // after the idle stretch has become its usual level.
        let level = |i: usize| {
            if (120..2600).contains(&i) {
                0.04
            } else {
                0.98
            }
        };
        let cpu = series(7, 2700, 0.01, true, level);
        for name in ["host.cpu.utilization", "process.busy.cpu.utilization"] {
            let off = fired(name, "page_relief = true\n", &cpu);
            assert!(
                off.iter().any(|(i, _)| (120..130).contains(i)),
                "{name}: the fall pages when relief may: {off:?}"
            );
            let on = fired(name, "", &cpu);
            assert!(
                on.iter().all(|(i, _)| !(120..2600).contains(i)),
                "{name}: relief paged: {on:?}"
            );
            assert!(
                on.iter().any(|(i, _)| (2600..2610).contains(i)),
                "{name}: the rise must page: {on:?}"
            );
        }
        // A line rate's fall may be an outage: it pages.
        let lines = series(8, 400, 0.5, false, |i| if i < 200 { 50.0 } else { 0.0 });
        let on = fired("log.app.lines_per_s", "", &lines);
        assert!(on.iter().any(|(i, _)| (200..210).contains(i)), "{on:?}");
    }

    #[test]
    fn a_held_back_anomaly_is_counted_under_its_rule() {
        let mut a = alerting("");
        let mut fall = anomaly(1_000, 0.9);
        fall.signal = "host.cpu.utilization".into();
        (fall.observed, fall.expected_low, fall.expected_high) = (0.05, 0.9, 1.0);
        // A band without a reference level: the direction is the value against the range.
        let band = |low, high| {
            seismo_detectors::Evidence::single(seismo_detectors::Component {
                finding: Finding::Band,
                score: 0.9,
                expected_low: low,
                expected_high: high,
            })
        };
        fall.evidence = band(0.9, 1.0);
        assert!(a.on_anomaly(&fall).is_none());
        let rise = Anomaly {
            observed: 1.0,
            expected_low: 0.0,
            expected_high: 0.1,
            ts_ms: 2_000,
            evidence: band(0.0, 0.1),
            ..fall.clone()
        };
        assert!(a.on_anomaly(&rise).is_some());
        assert_eq!(
            a.held_back(),
            HeldBack {
                relief: 1,
                ..HeldBack::default()
            }
        );
    }

    #[test]
    fn a_signal_that_learns_no_profile_is_dropped_once_idle() {
        // A template's `.new`: a novel alert, then normal points, never a series point.
        let mut a = alerting("resolve_after = 1\ncooldown = \"2s\"\nflap_window = \"2s\"\n");
        let s: Arc<str> = "s".into();
        assert!(a.on_novel(&anomaly(0, 1.0)).is_some());
        assert!(a.on_normal(&s, &normal(1_000)).is_some(), "resolved");
        assert_eq!(a.tracked(), 1, "cooling down");
        for t in 2..12 {
            a.on_normal(&s, &normal(t * 1_000));
        }
        assert_eq!(a.tracked(), 0, "idle, nothing learned: dropped");
        // A series signal keeps its profile until the pipeline forgets it.
        a.learn(&s, 1.0);
        for t in 12..30 {
            a.on_normal(&s, &normal(t * 1_000));
        }
        assert_eq!(a.tracked(), 1);
    }

    #[test]
    fn forgetting_a_firing_signal_resolves_it() {
        let mut a = alerting("");
        a.on_anomaly(&anomaly(1_000, 0.6));
        let e = a.forget(&"s".into(), 5_000).unwrap();
        assert_eq!(e.state, AlertState::Resolved);
        assert!(e.summary.contains("no longer reported"));
        assert_eq!(a.tracked(), 0);
    }
}
