//! The silences store: configuration and API silences, API ones saved in the state directory
//! (atomically) so a restart keeps them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use seismo_config::{NameGlob, SilenceConfig, SilenceEnd};
use serde::{Deserialize, Serialize};

use super::model::*;
use crate::atomic_file::atomic_write;
use crate::clock::format_ts;

pub(crate) const FILE: &str = Silences::FILE_NAME;
const FILE_VERSION: u32 = 1;

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
        for p in &req.signals {
            check_pattern(p).map_err(|e| invalid(format!("in `signals`: {e}")))?;
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
            let globs: usize = list
                .iter()
                .filter(|s| s.origin == Origin::Api && now_ms < s.ends_at_ms)
                .map(|s| s.signals.len())
                .sum();
            if globs + silence.signals.len() > MAX_API_GLOBS {
                return Err(invalid(format!(
                    "the active API silences hold {globs} globs and this one {} more: at most {MAX_API_GLOBS} in all; expire some first",
                    silence.signals.len()
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
                .ok_or_else(|| SilenceError::NotFound(crate::excerpt::excerpt(id)))?;
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

pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A silences file larger than this is set aside unread: the budgets keep the agent's own far
/// smaller (about 2.3 MiB at most), so only a file from before them or a foreign one is.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// The saved API silences that have not ended, within the budgets: a silence whose globs are
/// over the per-glob or per-silence budget, or that would pass the count or total-glob budget,
/// is left out with a warning (the file is rewritten without it at the next change).
fn load(path: &Path, now_ms: i64) -> std::io::Result<Vec<Silence>> {
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if size > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "it holds {size} bytes, more than the {MAX_FILE_BYTES} the silence budgets allow"
        )));
    }
    let bytes = std::fs::read(path)?;
    let file: SavedFile = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
    if file.version != FILE_VERSION {
        return Err(std::io::Error::other(format!(
            "unknown version {}",
            file.version
        )));
    }
    let (mut kept, mut globs, mut left_out) = (Vec::new(), 0usize, 0usize);
    for s in file.silences.into_iter().filter(|s| now_ms < s.ends_at_ms) {
        let within = kept.len() < MAX_API_SILENCES
            && !s.signals.is_empty()
            && s.signals.len() <= MAX_GLOBS
            && globs + s.signals.len() <= MAX_API_GLOBS
            && s.signals.iter().all(|p| check_pattern(p).is_ok());
        let signals = match within {
            true => s
                .signals
                .iter()
                .map(|p| NameGlob::new(p))
                .collect::<Result<Vec<_>, _>>()
                .ok(),
            false => None,
        };
        let Some(signals) = signals else {
            left_out += 1;
            continue;
        };
        globs += signals.len();
        kept.push(Silence {
            id: s.id,
            signals,
            created_at_ms: s.created_at_ms,
            ends_at_ms: s.ends_at_ms,
            comment: s.comment.chars().take(MAX_TEXT).collect(),
            created_by: s.created_by.chars().take(MAX_TEXT).collect(),
            origin: Origin::Api,
        });
    }
    if left_out > 0 {
        tracing::warn!(file = %path.display(), kept = kept.len(), left_out,
            max_silences = MAX_API_SILENCES, max_globs = MAX_API_GLOBS, max_globs_per_silence = MAX_GLOBS,
            "saved silences over the budget were left out (see docs/http.md, \"Budgets\")");
    }
    Ok(kept)
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
