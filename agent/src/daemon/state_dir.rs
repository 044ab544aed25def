//! The state directory: where durable state lives, held by one agent at a time.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// Where state goes when the configuration does not say: systemd's `$STATE_DIRECTORY`, else
/// `/var/lib/seismo` for root, else the user's XDG state directory.
pub fn resolve(configured: Option<&Path>) -> PathBuf {
    if let Some(p) = configured {
        return p.to_owned();
    }
    let env = |k| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(dirs) = env("STATE_DIRECTORY") {
        // systemd separates several directories with ':'; ours is the first.
        let first = dirs
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or("")
            .to_owned();
        if !first.is_empty() {
            return PathBuf::from(first);
        }
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/seismo");
    }
    if let Some(xdg) = env("XDG_STATE_HOME") {
        return PathBuf::from(xdg).join("seismo");
    }
    match env("HOME") {
        Some(home) => PathBuf::from(home).join(".local/state/seismo"),
        None => PathBuf::from("/var/lib/seismo"),
    }
}

/// An open state directory. The lock is released when this is dropped (or the process dies).
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    _lock: File,
}

impl StateDir {
    /// Creates the directory (mode 0750) if needed and takes its lock, so two agents can never
    /// share checkpoints or outboxes.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(path)
            .with_context(|| format!("cannot create the state directory {}", path.display()))?;
        let lock_path = path.join("seismo.lock");
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = lock.read_to_string(&mut holder);
                bail!(
                    "another seismo (pid {}) is using the state directory {}; stop it or set a different agent.state_dir",
                    holder.trim(),
                    path.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()))
            }
        }
        lock.set_len(0)?;
        lock.rewind()?;
        writeln!(lock, "{}", std::process::id())?;
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_agent_cannot_take_the_same_state_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let first = StateDir::open(&dir).unwrap();
        let err = StateDir::open(&dir).unwrap_err().to_string();
        assert!(err.contains("another seismo"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        StateDir::open(&dir).unwrap();
    }

    #[test]
    fn configured_path_wins() {
        assert_eq!(resolve(Some(Path::new("/x"))), PathBuf::from("/x"));
    }
}
