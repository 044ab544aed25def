//! `[[hooks]]`: remediation commands run on alerts or incidents, at once or after an approval,
//! or on request. The command is an argv list run directly, never through a shell; its program
//! is resolved (absolute path, or found on PATH) when the configuration is loaded, so a typo is
//! refused at start-up, not at 3 am.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::values::{self, NameGlob};

/// One `[[hooks]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// Names the hook in logs, outcomes and the `SEISMO_HOOK` variable.
    #[serde(deserialize_with = "hook_name")]
    pub name: String,
    /// What the hook runs on: single alerts or incidents, or a request naming one of them.
    #[serde(default)]
    pub on: HookOn,
    /// Globs over signal names; an incident matches when any of its signals does. For
    /// `on = "request"`, the alerts and incidents a request may name.
    #[serde(deserialize_with = "non_empty_globs")]
    pub signals: Vec<NameGlob>,
    /// The least severity that runs the hook.
    #[serde(default)]
    pub min_severity: HookSeverity,
    /// Which events run the hook: `["firing"]` (the default), optionally `"resolved"`.
    #[serde(default = "default_states", deserialize_with = "states")]
    pub states: Vec<HookState>,
    /// The program and its arguments, run directly (no shell).
    pub command: HookCommand,
    /// A run still going after this is stopped: SIGTERM to its process group, then SIGKILL.
    #[serde(default = "default_timeout", deserialize_with = "timeout")]
    pub timeout: Duration,
    /// Runs of this hook at once; a match beyond it is skipped and counted.
    #[serde(
        default = "default_max_concurrent",
        deserialize_with = "max_concurrent"
    )]
    pub max_concurrent: u32,
    /// Least time between the starts of two runs; a match sooner is skipped and counted.
    #[serde(default = "default_min_interval", deserialize_with = "min_interval")]
    pub min_interval: Duration,
    /// Log what would run, run nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Extra environment variables for the command (`SEISMO_*` names are reserved).
    #[serde(default, deserialize_with = "env")]
    pub env: BTreeMap<String, String>,
    /// `"none"`: a match runs the hook; `"required"`: a match publishes a proposal that an
    /// approval must answer within `approval_timeout`.
    #[serde(default)]
    pub approval: HookApproval,
    /// How long a proposal stays open for a decision; then it expires, and nothing runs.
    #[serde(
        default = "default_approval_timeout",
        deserialize_with = "approval_timeout"
    )]
    pub approval_timeout: Duration,
}

impl HookConfig {
    /// True when an event in `state` runs this hook.
    pub fn runs_on(&self, state: HookState) -> bool {
        self.states.contains(&state)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookOn {
    #[default]
    Alert,
    Incident,
    /// Only when a decision names the hook and an alert or incident the agent knows.
    Request,
}

/// `approval`: whether a match runs the hook or proposes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookApproval {
    #[default]
    None,
    Required,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookSeverity {
    #[default]
    Warning,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookState {
    Firing,
    Resolved,
}

/// `command`: the argv as written, and the program it names, resolved at load time.
#[derive(Debug, Clone, PartialEq)]
pub struct HookCommand {
    /// As written in the file; `argv[0]` is the program as named there.
    pub argv: Vec<String>,
    /// The executable that runs: `argv[0]` if absolute, else where PATH found it.
    pub program: PathBuf,
}

impl<'de> Deserialize<'de> for HookCommand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let argv = Vec::<String>::deserialize(d)?;
        let Some(first) = argv.first() else {
            return Err(de::Error::custom(
                "`command` is empty: write the program and its arguments as a list, such as [\"/usr/local/bin/restart-app\", \"--graceful\"]",
            ));
        };
        if argv.iter().any(|a| a.contains('\0')) {
            return Err(de::Error::custom(
                "`command` holds a NUL character, which no program argument can carry: remove it",
            ));
        }
        let program = resolve_program(first, std::env::var_os("PATH").as_deref())
            .map_err(de::Error::custom)?;
        Ok(Self { argv, program })
    }
}

/// PATH when the agent's environment has none (the usual system directories).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Resolves `name` to an executable file: an absolute path as is, a bare name through `path`.
fn resolve_program(name: &str, path: Option<&std::ffi::OsStr>) -> Result<PathBuf, String> {
    if name.is_empty() {
        return Err("the program (first element of `command`) is empty: write an absolute path such as \"/usr/local/bin/restart-app\"".into());
    }
    let p = Path::new(name);
    if p.is_absolute() {
        return check_executable(p).map(|()| p.to_owned());
    }
    if name.contains('/') {
        return Err(format!(
            "`{name}` is a relative path: write an absolute path such as \"/usr/local/bin/restart-app\", or a bare program name found on PATH"
        ));
    }
    let path = path.unwrap_or(DEFAULT_PATH.as_ref());
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|c| check_executable(c).is_ok())
        .ok_or_else(|| {
            format!(
                "`{name}` is not found on PATH ({}): install it, or write the program's absolute path",
                path.to_string_lossy()
            )
        })
}

fn check_executable(p: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = p.display();
    let meta = std::fs::metadata(p).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("`{shown}` does not exist: install the program, or correct the path")
        }
        _ => format!("cannot read `{shown}` ({e}): check the path and its permissions"),
    })?;
    if !meta.is_file() {
        return Err(format!("`{shown}` is not a file: name the program to run"));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!(
            "`{shown}` is not executable: make it so (chmod +x) or name another program"
        ));
    }
    Ok(())
}

fn default_states() -> Vec<HookState> {
    vec![HookState::Firing]
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_concurrent() -> u32 {
    1
}
fn default_min_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_approval_timeout() -> Duration {
    Duration::from_secs(15 * 60)
}

fn approval_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    values::duration_in(
        d,
        Duration::from_secs(1),
        Duration::from_secs(7 * 24 * 3600),
    )
}

fn hook_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        return Err(de::Error::custom(format!(
            "`{s}` is not a valid hook name: use 1 to 64 letters, digits, `_`, `-` or `.`, such as \"restart-app\""
        )));
    }
    Ok(s)
}

fn non_empty_globs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<NameGlob>, D::Error> {
    let globs = Vec::<NameGlob>::deserialize(d)?;
    if globs.is_empty() {
        return Err(de::Error::custom(
            "`signals` is empty, so the hook would never run: list signal globs, such as [\"log.app.*\"] (or [\"*\"] for every signal)",
        ));
    }
    Ok(globs)
}

fn states<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<HookState>, D::Error> {
    let mut list = Vec::<HookState>::deserialize(d)?;
    if list.is_empty() {
        return Err(de::Error::custom(
            "`states` is empty, so the hook would never run: write [\"firing\"], or [\"firing\", \"resolved\"]",
        ));
    }
    list.dedup();
    Ok(list)
}

fn timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    values::duration_in(d, Duration::from_millis(100), Duration::from_secs(3600))
}

fn min_interval<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    values::duration_in(d, Duration::ZERO, Duration::from_secs(7 * 24 * 3600))
}

fn max_concurrent<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = i64::deserialize(d)?;
    match u32::try_from(n) {
        Ok(v @ 1..=1000) => Ok(v),
        _ => Err(de::Error::custom(format!(
            "{n} is out of range: write a whole number from 1 to 1000, such as 1"
        ))),
    }
}

fn env<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map = BTreeMap::<String, String>::deserialize(d)?;
    for (k, v) in &map {
        let valid_name = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(de::Error::custom(format!(
                "`{k}` is not a valid environment variable name: use letters, digits and `_`, not starting with a digit"
            )));
        }
        if k.starts_with("SEISMO_") {
            return Err(de::Error::custom(format!(
                "`{k}`: names starting with SEISMO_ are reserved for the alert's data; choose another name"
            )));
        }
        if v.contains('\0') {
            return Err(de::Error::custom(format!(
                "the value of `{k}` holds a NUL character, which no environment variable can carry: remove it"
            )));
        }
    }
    Ok(map)
}

/// Refuses two hooks with the same name (their logs and outcomes would be confused).
pub(crate) fn unique_hooks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<HookConfig>, D::Error> {
    values::named_list(
        d,
        |h: &HookConfig| &h.name,
        |h| {
            if h.on == HookOn::Request && h.approval == HookApproval::Required {
                return Err(format!(
                    "hook `{}`: approval = \"required\" does not apply to on = \"request\" (the request is the decision): remove `approval`",
                    h.name
                ));
            }
            Ok(())
        },
        |n| format!("two [[hooks]] are named `{n}`: give each hook a distinct name"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::tests::located as err;

    const SH: &str = "[[hooks]]\nname = \"h\"\nsignals = [\"host.*\"]\n";

    #[test]
    fn a_hook_with_defaults() {
        let c = parse(
            &format!("{SH}command = [\"/bin/sh\", \"-c\", \"x\"]\n"),
            "t",
        )
        .unwrap();
        let h = &c.hooks[0];
        assert_eq!(h.on, HookOn::Alert);
        assert_eq!(h.min_severity, HookSeverity::Warning);
        assert_eq!(h.states, [HookState::Firing]);
        assert!(h.runs_on(HookState::Firing) && !h.runs_on(HookState::Resolved));
        assert_eq!(h.timeout, Duration::from_secs(30));
        assert_eq!(
            (h.max_concurrent, h.min_interval),
            (1, Duration::from_secs(60))
        );
        assert!(!h.dry_run && h.env.is_empty());
        assert_eq!(h.approval, HookApproval::None);
        assert_eq!(h.approval_timeout, Duration::from_secs(900));
        assert_eq!(h.command.program, Path::new("/bin/sh"));
        assert_eq!(h.command.argv, ["/bin/sh", "-c", "x"]);
    }

    #[test]
    fn a_full_hook_parses_and_a_bare_name_is_found_on_path() {
        let c = parse(
            &format!(
                "{SH}on = \"incident\"\nmin_severity = \"critical\"\nstates = [\"firing\", \"resolved\"]\n\
                 command = [\"sh\", \"-c\", \"x\"]\ntimeout = \"500ms\"\nmax_concurrent = 3\n\
                 min_interval = \"0s\"\ndry_run = true\nenv = {{ TEAM = \"ops\" }}\n"
            ),
            "t",
        )
        .unwrap();
        let h = &c.hooks[0];
        assert_eq!(
            (h.on, h.min_severity),
            (HookOn::Incident, HookSeverity::Critical)
        );
        assert!(h.runs_on(HookState::Resolved));
        assert!(h.command.program.is_absolute() && h.command.program.ends_with("sh"));
        assert_eq!(h.command.argv[0], "sh");
        assert_eq!((h.max_concurrent, h.min_interval), (3, Duration::ZERO));
        assert_eq!(h.env["TEAM"], "ops");
    }

    #[test]
    fn an_empty_command_is_refused_with_its_location() {
        let e = err(&format!("{SH}command = []\n"));
        assert_eq!((e.line, e.column), (4, 11));
        assert!(e.message.contains("`command` is empty"), "{}", e.message);
    }

    #[test]
    fn an_unknown_binary_is_refused_with_its_location() {
        let e = err(&format!(
            "{SH}command = [\"/nonexistent/seismo-hook\", \"a\"]\n"
        ));
        assert_eq!(e.line, 4);
        assert!(e.message.contains("does not exist"), "{}", e.message);
        let e = err(&format!("{SH}command = [\"no-such-program-seismo\"]\n"));
        assert!(e.message.contains("not found on PATH"), "{}", e.message);
        let e = err(&format!("{SH}command = [\"bin/restart\"]\n"));
        assert!(e.message.contains("relative path"), "{}", e.message);
        let e = err(&format!("{SH}command = [\"/etc\"]\n"));
        assert!(e.message.contains("not a file"), "{}", e.message);
        let e = err(&format!("{SH}command = [\"/etc/passwd\"]\n"));
        assert!(e.message.contains("not executable"), "{}", e.message);
    }

    #[test]
    fn a_zero_timeout_and_other_bad_values_are_refused() {
        let cmd = "command = [\"/bin/true\"]\n";
        let e = err(&format!("{SH}{cmd}timeout = \"0s\"\n"));
        assert_eq!((e.line, e.column), (5, 11));
        assert!(e.message.contains("out of range"), "{}", e.message);
        let e = err(&format!("{SH}{cmd}max_concurrent = 0\n"));
        assert!(e.message.contains("from 1 to 1000"), "{}", e.message);
        let e = err(&format!("{SH}{cmd}env = {{ SEISMO_SIGNAL = \"x\" }}\n"));
        assert!(e.message.contains("reserved"), "{}", e.message);
        let e = err(&format!("{SH}{cmd}states = []\n"));
        assert!(e.message.contains("never run"), "{}", e.message);
        let e = err(&format!("{SH}{cmd}on = \"incidnet\"\n"));
        assert!(
            e.message.contains("Did you mean `incident`?"),
            "{}",
            e.message
        );
        let e = err("[[hooks]]\nname = \"h\"\nsignals = []\ncommand = [\"/bin/true\"]\n");
        assert!(e.message.contains("`signals` is empty"), "{}", e.message);
        let e = err("[[hooks]]\nname = \"h\"\ncommand = [\"/bin/true\"]\n");
        assert!(
            e.message.contains("missing required key `signals`"),
            "{}",
            e.message
        );
        let e = err(&format!("{SH}{cmd}{SH}{cmd}"));
        assert!(
            e.message.contains("two [[hooks]] are named `h`"),
            "{}",
            e.message
        );
        let e = err(&format!("{SH}{cmd}shell = true\n"));
        assert!(e.message.contains("unknown key `shell`"), "{}", e.message);
    }

    #[test]
    fn approval_and_requests_parse_and_bad_combinations_are_refused() {
        let cmd = "command = [\"/bin/true\"]\n";
        let c = parse(
            &format!("{SH}{cmd}approval = \"required\"\napproval_timeout = \"2m\"\n"),
            "t",
        )
        .unwrap();
        assert_eq!(c.hooks[0].approval, HookApproval::Required);
        assert_eq!(c.hooks[0].approval_timeout, Duration::from_secs(120));
        let c = parse(&format!("{SH}{cmd}on = \"request\"\n"), "t").unwrap();
        assert_eq!(c.hooks[0].on, HookOn::Request);
        let e = err(&format!("{SH}{cmd}approval_timeout = \"0s\"\n"));
        assert!(e.message.contains("out of range"), "{}", e.message);
        let e = err(&format!("{SH}{cmd}approval = \"maybe\"\n"));
        assert!(e.message.contains("required"), "{}", e.message);
        let e = err(&format!(
            "{SH}{cmd}on = \"request\"\napproval = \"required\"\n"
        ));
        assert!(
            e.message.contains("the request is the decision"),
            "{}",
            e.message
        );
    }

    #[test]
    fn program_resolution() {
        let path = std::ffi::OsStr::new("relative/dir:/bin:/usr/bin");
        let found = resolve_program("sh", Some(path)).unwrap();
        assert!(found.starts_with("/bin") || found.starts_with("/usr/bin"));
        assert!(resolve_program("sh", Some(std::ffi::OsStr::new("/nonexistent"))).is_err());
        assert!(resolve_program("", None).is_err());
    }
}
