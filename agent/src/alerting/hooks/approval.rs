//! The ledger of approval mode: every proposal the agent made (open, approved, rejected,
//! expired) and every request it ran, saved in `{state_dir}/hook-decisions.json` (atomically)
//! before anything runs, so a restart or a SIGKILL keeps an open proposal open (or expires it)
//! and never runs a decided one twice.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic_file::atomic_write;

pub const FILE: &str = "hook-decisions.json";
const FILE_VERSION: u32 = 1;
/// Decided proposals and requests kept (for duplicates and the record); open ones are all kept.
const KEPT: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Approved,
    Rejected,
    Expired,
}

/// The alert or incident a run is for, as the hook receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// `alert` or `incident`.
    pub event: String,
    pub event_id: String,
    #[serde(default)]
    pub incident_id: Option<String>,
    /// `firing` or `resolved`.
    pub state: String,
    pub host: String,
    pub signals: Vec<String>,
    /// The JSON on the hook's stdin.
    pub json: String,
    /// The `SEISMO_*` variables.
    pub env: Vec<(String, String)>,
}

impl Subject {
    /// Drops what only a run needs (stdin and environment) once a proposal is decided, so the
    /// kept record stays small.
    fn forget_data(&mut self) {
        self.json.clear();
        self.env.clear();
    }
}

/// One proposal: made when an `approval = "required"` hook matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: String,
    pub hook: String,
    /// The argv as configured when it was proposed.
    pub command: Vec<String>,
    pub subject: Subject,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub status: Status,
    #[serde(default)]
    pub decided_by: Option<String>,
    #[serde(default)]
    pub decided_ms: Option<i64>,
}

/// One run of an `on = "request"` hook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: String,
    pub hook: String,
    pub event_id: String,
    pub by: String,
    pub time_ms: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    version: u32,
    proposals: Vec<Proposal>,
    requests: Vec<Request>,
}

#[derive(Debug)]
pub struct Ledger {
    saved: Saved,
    /// `None`: in memory only (tests).
    path: Option<PathBuf>,
}

impl Ledger {
    pub fn in_memory() -> Self {
        Self {
            saved: Saved {
                version: FILE_VERSION,
                ..Saved::default()
            },
            path: None,
        }
    }

    /// The ledger saved in `state_dir`. An unreadable or corrupt file is set aside
    /// (`.corrupt`) and logged: its proposals can no longer be approved, nothing runs.
    pub fn open(state_dir: &Path) -> Self {
        let path = state_dir.join(FILE);
        let mut ledger = Self::in_memory();
        match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Saved>(&bytes) {
                Ok(saved) if saved.version == FILE_VERSION => {
                    let open = saved
                        .proposals
                        .iter()
                        .filter(|p| p.status == Status::Open)
                        .count();
                    if open > 0 {
                        tracing::info!(open, file = %path.display(), "open hook proposals restored");
                    }
                    ledger.saved = saved;
                }
                Ok(saved) => set_aside(&path, &format!("version {} is unknown", saved.version)),
                Err(e) => set_aside(&path, &e.to_string()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => set_aside(&path, &e.to_string()),
        }
        ledger.path = Some(path);
        ledger
    }

    fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let bytes = serde_json::to_vec_pretty(&self.saved).map_err(std::io::Error::other)?;
        atomic_write(path, &path.with_extension("json.tmp"), &bytes)
    }

    /// Drops the oldest decided proposals and requests beyond [`KEPT`].
    fn trim(&mut self) {
        let decided = self
            .saved
            .proposals
            .iter()
            .filter(|p| p.status != Status::Open)
            .count();
        let mut excess = decided.saturating_sub(KEPT);
        self.saved.proposals.retain(|p| {
            if excess > 0 && p.status != Status::Open {
                excess -= 1;
                return false;
            }
            true
        });
        let n = self.saved.requests.len();
        if n > KEPT {
            self.saved.requests.drain(..n - KEPT);
        }
    }

    /// Records a new open proposal (saved before it is published).
    pub fn propose(&mut self, p: Proposal) -> std::io::Result<()> {
        self.saved.proposals.push(p);
        self.trim();
        self.save()
    }

    pub fn get(&self, id: &str) -> Option<&Proposal> {
        self.saved.proposals.iter().find(|p| p.id == id)
    }

    /// Records the decision on open proposal `id`; on a failed save the proposal stays open.
    pub fn decide(
        &mut self,
        id: &str,
        status: Status,
        by: Option<String>,
        now_ms: i64,
    ) -> std::io::Result<Proposal> {
        let Some(i) = self.saved.proposals.iter().position(|p| p.id == id) else {
            return Err(std::io::Error::other(format!("no proposal {id}")));
        };
        let before = self.saved.proposals[i].clone();
        let p = &mut self.saved.proposals[i];
        p.status = status;
        p.decided_by = by;
        p.decided_ms = Some(now_ms);
        let after = p.clone();
        p.subject.forget_data();
        if let Err(e) = self.save() {
            self.saved.proposals[i] = before;
            return Err(e);
        }
        Ok(after)
    }

    /// Open proposals whose time is up, marked expired (and saved).
    pub fn expire_due(&mut self, now_ms: i64) -> Vec<Proposal> {
        let mut due = Vec::new();
        for p in &mut self.saved.proposals {
            if p.status == Status::Open && p.expires_ms <= now_ms {
                p.status = Status::Expired;
                p.decided_ms = Some(now_ms);
                due.push(p.clone());
                p.subject.forget_data();
            }
        }
        if !due.is_empty() {
            if let Err(e) = self.save() {
                // In memory they are expired (nothing can approve them); the file catches up
                // with the next save, or expires them again after a restart.
                tracing::error!(error = %e, "cannot record expired hook proposals");
            }
        }
        due
    }

    /// The earliest expiry of an open proposal.
    pub fn next_expiry(&self) -> Option<i64> {
        self.saved
            .proposals
            .iter()
            .filter(|p| p.status == Status::Open)
            .map(|p| p.expires_ms)
            .min()
    }

    pub fn request(&self, id: &str) -> Option<&Request> {
        self.saved.requests.iter().find(|r| r.id == id)
    }

    /// Records a request before it runs; on a failed save it is forgotten (and does not run).
    pub fn record_request(&mut self, r: Request) -> std::io::Result<()> {
        self.saved.requests.push(r);
        if let Err(e) = self.save() {
            self.saved.requests.pop();
            return Err(e);
        }
        self.trim();
        Ok(())
    }
}

fn set_aside(path: &Path, why: &str) {
    let aside = path.with_extension("json.corrupt");
    let _ = std::fs::rename(path, &aside);
    tracing::error!(file = %path.display(), error = %why, set_aside = %aside.display(),
        "cannot read the hook decisions; open proposals in it can no longer be approved");
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn proposal(id: &str, expires_ms: i64) -> Proposal {
        Proposal {
            id: id.into(),
            hook: "fix".into(),
            command: vec!["/bin/true".into()],
            subject: Subject {
                event: "alert".into(),
                event_id: "a@1".into(),
                incident_id: None,
                state: "firing".into(),
                host: "h".into(),
                signals: vec!["log.app.errors_per_s".into()],
                json: "{}\n".into(),
                env: vec![("SEISMO_ALERT_ID".into(), "a@1".into())],
            },
            created_ms: 0,
            expires_ms,
            status: Status::Open,
            decided_by: None,
            decided_ms: None,
        }
    }

    #[test]
    fn proposals_and_decisions_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(dir.path());
        l.propose(proposal("p-1", 1000)).unwrap();
        l.propose(proposal("p-2", 2000)).unwrap();
        l.decide("p-1", Status::Approved, Some("alice".into()), 10)
            .unwrap();
        l.record_request(Request {
            id: "r-1".into(),
            hook: "diag".into(),
            event_id: "a@1".into(),
            by: "bob".into(),
            time_ms: 5,
        })
        .unwrap();
        let mut l = Ledger::open(dir.path());
        assert_eq!(l.get("p-1").unwrap().status, Status::Approved);
        assert_eq!(l.get("p-1").unwrap().decided_by.as_deref(), Some("alice"));
        assert!(
            l.get("p-1").unwrap().subject.json.is_empty(),
            "decided: data dropped"
        );
        assert_eq!(
            l.get("p-2").unwrap().subject.json,
            "{}\n",
            "open: data kept"
        );
        assert_eq!(l.get("p-2").unwrap().status, Status::Open);
        assert!(l.request("r-1").is_some());
        assert_eq!(l.next_expiry(), Some(2000));
        assert!(l.expire_due(1999).is_empty());
        let due = l.expire_due(2000);
        assert_eq!(due.len(), 1);
        let l = Ledger::open(dir.path());
        assert_eq!(l.get("p-2").unwrap().status, Status::Expired);
        assert_eq!(l.next_expiry(), None);
    }

    #[test]
    fn a_corrupt_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        let l = Ledger::open(dir.path());
        assert!(l.get("p-1").is_none());
        assert!(dir.path().join("hook-decisions.json.corrupt").exists());
    }

    #[test]
    fn a_failed_save_leaves_the_proposal_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(dir.path());
        l.propose(proposal("p-1", 1000)).unwrap();
        // The state directory is gone: the decision cannot be recorded.
        l.path = Some(dir.path().join("gone").join(FILE));
        assert!(l.decide("p-1", Status::Approved, None, 1).is_err());
        assert_eq!(l.get("p-1").unwrap().status, Status::Open);
    }
}
