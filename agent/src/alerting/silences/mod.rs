//! Silences: time-boxed "do not alert on these signals", from the configuration (`[[silences]]`)
//! and from the HTTP API. The store keeps both; API silences are saved in the state directory
//! (atomically) so a restart keeps them. The gate applies them where alert events leave
//! alerting for the sinks: a silenced firing alert is held back, and sent once its silence ends
//! if the alert is still firing then.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use seismo_config::{NameGlob, SilenceConfig, SilenceEnd};
use serde::{Deserialize, Serialize};

use crate::atomic_file::atomic_write;
use crate::clock::format_ts;
use crate::event::{AlertEvent, AlertState};
use crate::telemetry::stats::Stats;

/// Active API silences kept at most: more is a runaway script, not an operator.
pub const MAX_API_SILENCES: usize = 1000;
/// Globs per silence, and characters of its comment and author, at most.
const MAX_GLOBS: usize = 64;
const MAX_TEXT: usize = 1024;
const FILE: &str = Silences::FILE_NAME;
const FILE_VERSION: u32 = 1;

/// Where a silence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Config,
    Api,
}

#[derive(Debug, Clone)]
pub struct Silence {
    pub id: String,
    pub signals: Vec<NameGlob>,
    pub created_at_ms: i64,
    pub ends_at_ms: i64,
    pub comment: String,
    pub created_by: String,
    pub origin: Origin,
}

impl Silence {
    pub fn covers(&self, signal: &str, now_ms: i64) -> bool {
        now_ms < self.ends_at_ms && self.signals.iter().any(|g| g.is_match(signal))
    }

    /// The silence as the API shows it.
    pub fn view(&self) -> SilenceView {
        SilenceView {
            id: self.id.clone(),
            signals: self
                .signals
                .iter()
                .map(|g| g.pattern().to_owned())
                .collect(),
            created_at: format_ts(self.created_at_ms),
            ends_at: format_ts(self.ends_at_ms),
            comment: self.comment.clone(),
            created_by: self.created_by.clone(),
            origin: self.origin,
        }
    }
}

/// A silence in API answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SilenceView {
    pub id: String,
    pub signals: Vec<String>,
    pub created_at: String,
    pub ends_at: String,
    pub comment: String,
    pub created_by: String,
    pub origin: Origin,
}

/// The body of `POST /api/v1/silences`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    pub signals: Vec<String>,
    #[serde(rename = "for", default)]
    pub for_: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub created_by: String,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    /// The request is wrong; the sentence says how.
    #[error("{0}")]
    Invalid(String),
    #[error("no active silence has the id `{0}`")]
    NotFound(String),
    #[error("silence `{0}` comes from the configuration file: remove it there and restart")]
    FromConfig(String),
    #[error("cannot save the silences to {path}: {source}")]
    Storage {
        path: String,
        source: std::io::Error,
    },
}

/// One API silence as saved on disk.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    id: String,
    signals: Vec<String>,
    created_at_ms: i64,
    ends_at_ms: i64,
    comment: String,
    created_by: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedFile {
    version: u32,
    silences: Vec<Saved>,
}

/// Every silence, config and API. Readers (the pipeline) take the list lock briefly; writers
/// (the API) serialize on `write` and save to disk without holding the list lock.
#[derive(Debug)]
pub struct Silences {
    list: Mutex<Vec<Silence>>,
    write: Mutex<()>,
    /// `{state_dir}/silences.json`; `None` keeps API silences in memory only.
    file: Option<PathBuf>,
}

impl Silences {
    /// The file API silences are saved in, in the state directory.
    pub const FILE_NAME: &'static str = "silences.json";

    /// The config silences alone (`for` counted from `started_ms`), kept in memory.
    pub fn from_config(config: &[SilenceConfig], started_ms: i64) -> Self {
        let list = config
            .iter()
            .enumerate()
            .map(|(i, c)| Silence {
                id: format!("config-{}", i + 1),
                signals: c.signals.clone(),
                created_at_ms: started_ms,
                ends_at_ms: match c.end {
                    SilenceEnd::For(d) => started_ms.saturating_add(ms(d)),
                    SilenceEnd::Until(t) => t.duration_since(UNIX_EPOCH).map_or(0, ms),
                },
                comment: c.comment.clone(),
                created_by: "config".to_owned(),
                origin: Origin::Config,
            })
            .collect();
        Self {
            list: Mutex::new(list),
            write: Mutex::new(()),
            file: None,
        }
    }

    /// The config silences plus the API silences saved in `state_dir` that have not ended.
    /// An unreadable or corrupt file is set aside (`silences.json.corrupt`) and logged: the
    /// agent starts without those silences rather than not at all.
    pub fn open(config: &[SilenceConfig], state_dir: &Path, now_ms: i64) -> Self {
        let mut store = Self::from_config(config, now_ms);
        let path = state_dir.join(FILE);
        match load(&path, now_ms) {
            Ok(saved) => {
                if !saved.is_empty() {
                    tracing::info!(count = saved.len(), file = %path.display(), "silences restored");
                }
                store.lock().extend(saved);
            }
            Err(e) => {
                let aside = state_dir.join(format!("{FILE}.corrupt"));
                let _ = std::fs::rename(&path, &aside);
                tracing::error!(file = %path.display(), error = %e, set_aside = %aside.display(),
                    "cannot read the saved silences; starting without them");
            }
        }
        store.file = Some(path);
        store
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Silence>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The id of an active silence covering `signal`, if any.
    pub fn covering(&self, signal: &str, now_ms: i64) -> Option<String> {
        self.lock()
            .iter()
            .find(|s| s.covers(signal, now_ms))
            .map(|s| s.id.clone())
    }

    /// Active silences, config ones first, then API ones by creation.
    pub fn active(&self, now_ms: i64) -> Vec<SilenceView> {
        self.lock()
            .iter()
            .filter(|s| now_ms < s.ends_at_ms)
            .map(Silence::view)
            .collect()
    }

    /// Validates and adds an API silence; saved before it is answered.
    pub fn create(&self, req: NewSilence, now_ms: i64) -> Result<SilenceView, SilenceError> {
        let invalid = |m: String| SilenceError::Invalid(m);
        if req.signals.is_empty() {
            return Err(invalid(
                "`signals` is empty: give at least one signal glob, such as [\"host.cpu.*\"]"
                    .into(),
            ));
        }
        if req.signals.len() > MAX_GLOBS {
            return Err(invalid(format!(
                "`signals` has {} globs: at most {MAX_GLOBS} per silence",
                req.signals.len()
            )));
        }
        let signals = req
            .signals
            .iter()
            .map(|p| NameGlob::new(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("in `signals`: {e}")))?;
        let ends_at_ms = match (&req.for_, &req.until) {
            (Some(d), None) => {
                let d = seismo_config::parse_silence_for(d)
                    .map_err(|e| invalid(format!("`for`: {e}")))?;
                now_ms.saturating_add(ms(d))
            }
            (None, Some(t)) => {
                let t = seismo_config::parse_rfc3339(t)
                    .map_err(|e| invalid(format!("`until`: {e}")))?;
                let end = t.duration_since(UNIX_EPOCH).map_or(0, ms);
                if end <= now_ms {
                    return Err(invalid(format!(
                        "`until` ({}) is not in the future",
                        format_ts(end)
                    )));
                }
                if end - now_ms > ms(seismo_config::MAX_SILENCE) {
                    return Err(invalid(
                        "`until` is more than 366 days away: silence for less".into(),
                    ));
                }
                end
            }
            (Some(_), Some(_)) => {
                return Err(invalid("give either `for` or `until`, not both".into()))
            }
            (None, None) => {
                return Err(invalid(
                    "a silence needs an end: add \"for\": \"2h\" or \"until\": \"2026-12-01T08:00:00Z\""
                        .into(),
                ))
            }
        };
        for (name, text) in [("comment", &req.comment), ("created_by", &req.created_by)] {
            if text.chars().count() > MAX_TEXT {
                return Err(invalid(format!(
                    "`{name}` is longer than {MAX_TEXT} characters"
                )));
            }
        }
        let silence = Silence {
            id: format!("{:016x}", rand::random::<u64>()),
            signals,
            created_at_ms: now_ms,
            ends_at_ms,
            comment: req.comment,
            created_by: req.created_by,
            origin: Origin::Api,
        };
        let view = silence.view();
        self.change(now_ms, |list| {
            let api = list
                .iter()
                .filter(|s| s.origin == Origin::Api && now_ms < s.ends_at_ms)
                .count();
            if api >= MAX_API_SILENCES {
                return Err(invalid(format!(
                    "{api} API silences are active, the most this agent keeps: expire some first"
                )));
            }
            list.push(silence);
            Ok(())
        })?;
        Ok(view)
    }

    /// Ends an API silence now.
    pub fn expire(&self, id: &str, now_ms: i64) -> Result<(), SilenceError> {
        self.change(now_ms, |list| {
            let at = list
                .iter()
                .position(|s| s.id == id && now_ms < s.ends_at_ms)
                .ok_or_else(|| SilenceError::NotFound(id.to_owned()))?;
            if list[at].origin == Origin::Config {
                return Err(SilenceError::FromConfig(id.to_owned()));
            }
            list.remove(at);
            Ok(())
        })
    }

    /// Applies `edit` to a copy of the list (ended API silences pruned), saves the API
    /// silences, then installs the copy. Writers are serialized, so none is lost.
    fn change(
        &self,
        now_ms: i64,
        edit: impl FnOnce(&mut Vec<Silence>) -> Result<(), SilenceError>,
    ) -> Result<(), SilenceError> {
        let _writer = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut next: Vec<Silence> = self
            .lock()
            .iter()
            .filter(|s| s.origin == Origin::Config || now_ms < s.ends_at_ms)
            .cloned()
            .collect();
        edit(&mut next)?;
        if let Some(path) = &self.file {
            save(path, &next).map_err(|source| SilenceError::Storage {
                path: path.display().to_string(),
                source,
            })?;
        }
        *self.lock() = next;
        Ok(())
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn load(path: &Path, now_ms: i64) -> std::io::Result<Vec<Silence>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let file: SavedFile = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
    if file.version != FILE_VERSION {
        return Err(std::io::Error::other(format!(
            "unknown version {}",
            file.version
        )));
    }
    file.silences
        .into_iter()
        .filter(|s| now_ms < s.ends_at_ms)
        .map(|s| {
            let signals = s
                .signals
                .iter()
                .map(|p| NameGlob::new(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(std::io::Error::other)?;
            Ok(Silence {
                id: s.id,
                signals,
                created_at_ms: s.created_at_ms,
                ends_at_ms: s.ends_at_ms,
                comment: s.comment,
                created_by: s.created_by,
                origin: Origin::Api,
            })
        })
        .collect()
}

fn save(path: &Path, list: &[Silence]) -> std::io::Result<()> {
    let file = SavedFile {
        version: FILE_VERSION,
        silences: list
            .iter()
            .filter(|s| s.origin == Origin::Api)
            .map(|s| Saved {
                id: s.id.clone(),
                signals: s.signals.iter().map(|g| g.pattern().to_owned()).collect(),
                created_at_ms: s.created_at_ms,
                ends_at_ms: s.ends_at_ms,
                comment: s.comment.clone(),
                created_by: s.created_by.clone(),
            })
            .collect(),
    };
    let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    atomic_write(path, &path.with_extension("json.tmp"), &bytes)
}

/// Applies the silences to alert events on their way to the sinks (one per pipeline).
pub struct SilenceGate {
    store: Arc<Silences>,
    stats: Arc<Stats>,
    /// Firing alerts held back by a silence, by alert id: the latest event of each.
    held: HashMap<String, AlertEvent>,
    /// Alerts whose firing event reached the sinks and that have not resolved: their
    /// resolution is sent even when a silence started meanwhile, so no sink is left with an
    /// alert that never resolves.
    delivered: HashSet<String>,
}

impl SilenceGate {
    pub fn new(store: Arc<Silences>, stats: Arc<Stats>) -> Self {
        Self {
            store,
            stats,
            held: HashMap::new(),
            delivered: HashSet::new(),
        }
    }

    pub fn store(&self) -> &Arc<Silences> {
        &self.store
    }

    /// The event if it goes to the sinks; `None` when a silence keeps it back (counted).
    pub fn admit(&mut self, event: AlertEvent, now_ms: i64) -> Option<AlertEvent> {
        match event.state {
            AlertState::Firing => match self.store.covering(&event.signal, now_ms) {
                Some(silence) => {
                    self.suppressed(&event, &silence);
                    self.held.insert(event.alert_id.clone(), event);
                    None
                }
                None => {
                    self.held.remove(&event.alert_id);
                    self.delivered.insert(event.alert_id.clone());
                    Some(event)
                }
            },
            AlertState::Resolved => {
                let was_held = self.held.remove(&event.alert_id).is_some();
                if self.delivered.remove(&event.alert_id) || !was_held {
                    Some(event)
                } else {
                    // Its firing never left: neither does its resolution.
                    self.suppressed(&event, "(held)");
                    None
                }
            }
        }
    }

    /// Held alerts whose silences have ended (expired or deleted): they are still firing, so
    /// they go to the sinks now (through `admit`).
    pub fn release(&mut self, now_ms: i64) -> Vec<AlertEvent> {
        if self.held.is_empty() {
            return Vec::new();
        }
        let free: Vec<String> = self
            .held
            .iter()
            .filter(|(_, e)| self.store.covering(&e.signal, now_ms).is_none())
            .map(|(id, _)| id.clone())
            .collect();
        free.iter().filter_map(|id| self.held.remove(id)).collect()
    }

    fn suppressed(&self, event: &AlertEvent, silence: &str) {
        Stats::add(&self.stats.alerts_silenced, 1);
        tracing::debug!(alert_id = %event.alert_id, state = ?event.state, silence,
            "alert silenced: not sent to the sinks");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
