//! `enabled = "auto"`: whether the journal is readable here, decided when a configuration is
//! started or reloaded. Readable means journalctl runs (`journalctl -n 0 -q` exits 0 within a
//! few seconds) and a journal directory (/var/log/journal or /run/log/journal) can be listed by
//! the agent; otherwise the `fallback` file is tailed as the file source `syslog`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use seismo_config::{Config, JournalEnabled, JournalSourceConfig};

const JOURNAL_DIRS: [&str; 2] = ["/var/log/journal", "/run/log/journal"];
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Turns `enabled = "auto"` into on or off (adding the fallback file source when off).
pub(crate) fn resolve(config: &mut Config) {
    let j = &config.sources.journal;
    if j.enabled != JournalEnabled::Auto {
        return;
    }
    match readable(j) {
        Ok(()) => {
            tracing::info!(journalctl = %j.journalctl.display(), "the journal is readable: following it (sources.journal enabled = \"auto\")");
            config.sources.journal.enabled = JournalEnabled::On;
        }
        Err(why) => {
            let fallback = j.fallback_source();
            config.sources.journal.enabled = JournalEnabled::Off;
            let taken = |name: &str| config.sources.files.iter().any(|f| f.name == name);
            match fallback {
                Some(f) if !taken(&f.name) => {
                    tracing::info!(reason = %why, fallback = f.paths[0].pattern(), "the journal is not readable: tailing the fallback file instead (sources.journal enabled = \"auto\")");
                    config.sources.files.push(f);
                }
                _ => {
                    tracing::info!(reason = %why, "the journal is not readable and no fallback file is used (sources.journal enabled = \"auto\")");
                }
            }
        }
    }
}

/// Ok when journalctl runs and a journal directory can be listed.
fn readable(cfg: &JournalSourceConfig) -> Result<(), String> {
    let dirs_ok = JOURNAL_DIRS
        .iter()
        .any(|d| std::fs::read_dir(Path::new(d)).is_ok());
    if !dirs_ok {
        return Err(format!(
            "no readable journal directory ({})",
            JOURNAL_DIRS.join(", ")
        ));
    }
    let mut child = Command::new(&cfg.journalctl)
        .args(["-n", "0", "-q", "--no-pager"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", cfg.journalctl.display()))?;
    let deadline = Instant::now() + PROBE_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(s)) if s.success() => return Ok(()),
            Ok(Some(s)) => return Err(format!("{} -n 0 failed: {s}", cfg.journalctl.display())),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} -n 0 did not answer", cfg.journalctl.display()));
            }
            Err(e) => return Err(format!("cannot wait for {}: {e}", cfg.journalctl.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_journalctl_means_the_fallback_file() {
        let mut c = seismo_config::parse(
            "[sources.journal]\nenabled = \"auto\"\njournalctl = \"/nonexistent/journalctl\"\n",
            "t",
        )
        .unwrap();
        resolve(&mut c);
        assert_eq!(c.sources.journal.enabled, JournalEnabled::Off);
        assert_eq!(c.sources.files.len(), 1);
        assert_eq!(c.sources.files[0].name, seismo_config::FALLBACK_SOURCE);
        // Resolving again (a reload) adds nothing twice.
        c.sources.journal.enabled = JournalEnabled::Auto;
        resolve(&mut c);
        assert_eq!(c.sources.files.len(), 1);
    }

    #[test]
    fn explicit_settings_are_kept() {
        let mut c = seismo_config::parse("[sources.journal]\nenabled = false\n", "t").unwrap();
        resolve(&mut c);
        assert!(c.sources.files.is_empty());
        assert_eq!(c.sources.journal.enabled, JournalEnabled::Off);
    }
}
