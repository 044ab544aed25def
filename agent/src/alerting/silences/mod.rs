//! Silences: time-boxed "do not alert on these signals", from the configuration (`[[silences]]`)
//! and from the HTTP API. The store keeps both; API silences are saved in the state directory
//! (atomically) so a restart keeps them. The gate applies them where alert events leave
//! alerting for the sinks: a silenced firing alert is held back, and sent once its silence ends
//! if the alert is still firing then.

mod gate;
mod model;
mod store;

pub use gate::SilenceGate;
pub use model::{
    NewSilence, Origin, Silence, SilenceError, SilenceView, MAX_API_GLOBS, MAX_API_SILENCES,
    MAX_GLOBS, MAX_PATTERN_CHARS, MAX_PATTERN_COMPLEXITY,
};
pub use store::Silences;

#[cfg(test)]
mod tests {
    use super::model::*;
    use super::store::*;
    use super::*;
    use crate::event::{AlertEvent, AlertState};
    use crate::telemetry::stats::Stats;
    use seismo_config::SilenceConfig;
    use std::sync::Arc;

    use crate::event::{Range, Severity};

    fn event(signal: &str, state: AlertState, id: &str) -> AlertEvent {
        AlertEvent {
            time: 1,
            state,
            alert_id: id.into(),
            incident_id: String::new(),
            flapping: false,
            host: "h".into(),
            signal: signal.into(),
            severity: Severity::Warning,
            observed: 1.0,
            expected: Range {
                low: 0.0,
                high: 0.5,
            },
            score: 0.6,
            detector: "ewma",
            started_at: 1,
            summary: String::new(),
            evidence: None,
            log: None,
        }
    }

    fn req(signals: &[&str], for_: Option<&str>, until: Option<&str>) -> NewSilence {
        NewSilence {
            signals: signals.iter().map(|s| s.to_string()).collect(),
            for_: for_.map(Into::into),
            until: until.map(Into::into),
            comment: "c".into(),
            created_by: "me".into(),
        }
    }

    fn config(text: &str) -> Vec<SilenceConfig> {
        seismo_config::parse(text, "x").unwrap().silences
    }

    #[test]
    fn config_silences_end_after_for_or_at_until() {
        let s = Silences::from_config(
            &config(
                "[[silences]]\nsignals = [\"host.cpu.*\"]\nfor = \"10s\"\n\
                 [[silences]]\nsignals = [\"log.*\"]\nuntil = \"1970-01-01T00:01:00Z\"\n",
            ),
            1_000,
        );
        assert_eq!(
            s.covering("host.cpu.utilization", 10_999).as_deref(),
            Some("config-1")
        );
        assert_eq!(s.covering("host.cpu.utilization", 11_000), None);
        assert_eq!(
            s.covering("log.app.lines_per_s", 59_999).as_deref(),
            Some("config-2")
        );
        assert_eq!(s.covering("log.app.lines_per_s", 60_000), None);
        assert_eq!(s.covering("host.memory.used_ratio", 0), None);
        assert_eq!(s.active(20_000).len(), 1);
        assert!(matches!(
            s.expire("config-2", 20_000),
            Err(SilenceError::FromConfig(_))
        ));
    }

    #[test]
    fn api_silences_are_validated() {
        let s = Silences::from_config(&[], 0);
        let now = 1_796_000_000_000;
        for (r, want) in [
            (req(&[], Some("1h"), None), "`signals` is empty"),
            (req(&["a["], Some("1h"), None), "not a valid glob"),
            (req(&["a"], None, None), "needs an end"),
            (
                req(&["a"], Some("1h"), Some("2026-12-01T08:00:00Z")),
                "not both",
            ),
            (req(&["a"], Some("soon"), None), "is not a duration"),
            (req(&["a"], Some("400d"), None), "out of range"),
            (
                req(&["a"], None, Some("2020-01-01T00:00:00Z")),
                "not in the future",
            ),
            (req(&["a"], None, Some("2099-01-01T00:00:00Z")), "366 days"),
            (req(&["a"], None, Some("noon")), "not an RFC 3339 time"),
        ] {
            let e = s.create(r, now).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        let mut long = req(&["a"], Some("1h"), None);
        long.comment = "x".repeat(MAX_TEXT + 1);
        assert!(s
            .create(long, now)
            .unwrap_err()
            .to_string()
            .contains("longer"));
        assert!(s.active(now).is_empty());
    }

    #[test]
    fn api_silences_survive_a_restart_until_they_end_or_are_expired() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_000_000;
        let s = Silences::open(&[], dir.path(), now);
        let a = s.create(req(&["host.*"], Some("1h"), None), now).unwrap();
        let b = s
            .create(req(&["log.app.*"], Some("10s"), None), now)
            .unwrap();
        assert_eq!(a.origin, Origin::Api);
        assert_eq!(
            s.covering("host.load.1m", now).as_deref(),
            Some(a.id.as_str())
        );
        drop(s);
        let s = Silences::open(&[], dir.path(), now + 1);
        let ids: Vec<String> = s.active(now + 1).into_iter().map(|v| v.id).collect();
        assert_eq!(ids, [a.id.clone(), b.id.clone()]);
        s.expire(&a.id, now + 2).unwrap();
        assert!(matches!(
            s.expire(&a.id, now + 3),
            Err(SilenceError::NotFound(_))
        ));
        // b ends by time; after the restart neither is back.
        let s = Silences::open(&[], dir.path(), now + 20_000);
        assert!(s.active(now + 20_000).is_empty());
        assert_eq!(s.covering("host.load.1m", now + 20_000), None);
    }

    #[test]
    fn a_corrupt_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        let s = Silences::open(&[], dir.path(), 0);
        assert!(s.active(0).is_empty());
        assert!(dir.path().join("silences.json.corrupt").exists());
        s.create(req(&["a"], Some("1h"), None), 0).unwrap();
        assert_eq!(Silences::open(&[], dir.path(), 0).active(0).len(), 1);
    }

    #[test]
    fn the_api_silence_count_is_bounded() {
        let s = Silences::from_config(&[], 0);
        for _ in 0..MAX_API_SILENCES {
            s.create(req(&["a"], Some("1h"), None), 0).unwrap();
        }
        let e = s.create(req(&["a"], Some("1h"), None), 0).unwrap_err();
        assert!(e.to_string().contains("expire some first"), "{e}");
    }

    #[test]
    fn globs_and_their_total_are_budgeted() {
        let s = Silences::from_config(&[], 0);
        for (glob, want) in [
            ("a".repeat(MAX_PATTERN_CHARS + 1), "at most 128"),
            ("{a,{b,c}}".to_owned(), "nests brace groups"),
            ("*".repeat(MAX_PATTERN_COMPLEXITY + 1), "at most 16"),
            (format!("{{{}}}", ["x"; 17].join(",")), "at most 16"),
        ] {
            let e = s.create(req(&[&glob], Some("1h"), None), 0).unwrap_err();
            assert!(e.to_string().contains(want), "{glob}: {e}");
        }
        assert!(check_pattern("host.[*?{].{a,b}\\*{c,d,e}").is_ok());
        let full: Vec<String> = (0..MAX_GLOBS).map(|i| format!("s{i}.*")).collect();
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        for _ in 0..MAX_API_GLOBS / MAX_GLOBS {
            s.create(req(&full, Some("1h"), None), 0).unwrap();
        }
        let e = s.create(req(&["a"], Some("1h"), None), 0).unwrap_err();
        assert!(e.to_string().contains("at most 1024 in all"), "{e}");
    }

    #[test]
    fn a_saved_file_over_the_budget_is_loaded_up_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let big = format!("{{{}}}", ["ab"; 64].join(","));
        let silence = |i: usize, globs: Vec<String>| {
            serde_json::json!({"id": format!("{i:016x}"), "signals": globs, "created_at_ms": 0,
                "ends_at_ms": 10_000, "comment": "", "created_by": ""})
        };
        let mut list = vec![silence(0, vec![big; 64])];
        for i in 1..=100 {
            list.push(silence(i, vec!["x.*".to_owned(); MAX_GLOBS]));
        }
        let text = serde_json::json!({"version": 1, "silences": list}).to_string();
        std::fs::write(dir.path().join(FILE), text).unwrap();
        let s = Silences::open(&[], dir.path(), 0);
        let active = s.active(0);
        assert_eq!(active.len(), MAX_API_GLOBS / MAX_GLOBS);
        assert_eq!(active[0].id, format!("{:016x}", 1));
    }

    #[test]
    fn the_gate_holds_silenced_alerts_and_releases_them_when_the_silence_ends() {
        let stats = Arc::new(Stats::default());
        let store = Arc::new(Silences::from_config(&[], 0));
        let mut gate = SilenceGate::new(Arc::clone(&store), Arc::clone(&stats));
        let id = store
            .create(req(&["host.processes.*"], Some("1h"), None), 0)
            .unwrap()
            .id;
        // Silenced: held, counted.
        let fire = event("host.processes.count", AlertState::Firing, "p@1");
        assert!(gate.admit(fire.clone(), 10).is_none());
        assert_eq!(Stats::get(&stats.alerts_silenced), 1);
        // Other signals pass.
        let other = event("host.load.1m", AlertState::Firing, "l@1");
        assert!(gate.admit(other, 10).is_some());
        assert!(gate.release(20).is_empty(), "still silenced");
        // The silence is expired while the alert still fires: it is sent.
        store.expire(&id, 30).unwrap();
        let released = gate.release(40);
        assert_eq!(released, vec![fire.clone()]);
        let sent = gate.admit(released[0].clone(), 40).unwrap();
        assert_eq!(sent.alert_id, "p@1");
        // Its resolution follows, even under a new silence.
        store
            .create(req(&["host.*"], Some("1h"), None), 50)
            .unwrap();
        let resolved = event("host.processes.count", AlertState::Resolved, "p@1");
        assert!(gate.admit(resolved, 60).is_some());
        // An alert that fires and resolves inside a silence sends nothing.
        assert!(gate
            .admit(event("host.x", AlertState::Firing, "x@1"), 70)
            .is_none());
        assert!(gate
            .admit(event("host.x", AlertState::Resolved, "x@1"), 80)
            .is_none());
        assert_eq!(Stats::get(&stats.alerts_silenced), 3);
        assert!(gate.release(10_000_000).is_empty(), "nothing left held");
    }

    #[test]
    fn a_silence_that_ends_by_time_releases_its_alert() {
        let stats = Arc::new(Stats::default());
        let store = Arc::new(Silences::from_config(
            &config("[[silences]]\nsignals = [\"s\"]\nfor = \"5s\"\n"),
            0,
        ));
        let mut gate = SilenceGate::new(store, stats);
        assert!(gate
            .admit(event("s", AlertState::Firing, "s@1"), 1_000)
            .is_none());
        assert!(gate.release(4_999).is_empty());
        assert_eq!(gate.release(5_000).len(), 1);
    }
}
