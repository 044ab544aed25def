//! `[[sources.processes]]`: per-process metrics of a named group of processes, matched by
//! process name, command line, cgroup or systemd unit.

use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::files::Pattern;
use crate::values::{self, NameGlob};

/// One `[[sources.processes]]` table: a group of processes summed into one set of signals
/// (`process.{name}.cpu.utilization`, ...). A process belongs to the group when it matches
/// every matcher the table gives (at least one is required).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSourceConfig {
    /// Names the group in signals.
    #[serde(deserialize_with = "crate::files::source_name")]
    pub name: String,
    /// Glob over the process name: the kernel's `comm` (15 characters at most) or the file
    /// name of the command (`argv[0]`), e.g. `"nginx"` or `"postgres*"`.
    #[serde(default, deserialize_with = "glob_opt")]
    pub process_name: Option<NameGlob>,
    /// Regular expression searched in the command line (arguments joined by spaces).
    #[serde(default, deserialize_with = "pattern_opt")]
    pub cmdline: Option<Pattern>,
    /// Glob over the systemd unit: the last `*.service` component of the process's cgroup
    /// path, e.g. `"nginx.service"`.
    #[serde(default, deserialize_with = "glob_opt")]
    pub unit: Option<NameGlob>,
    /// Glob over the whole cgroup path (cgroup v2, or v1's systemd hierarchy), e.g.
    /// `"/system.slice/*"` or `"/kubepods.slice/*"`.
    #[serde(default, deserialize_with = "glob_opt")]
    pub cgroup: Option<NameGlob>,
    /// Sampling interval.
    #[serde(
        default = "default_interval",
        deserialize_with = "values::sample_interval"
    )]
    pub interval: Duration,
    /// Matched processes measured at most; the others (highest pids) are counted in
    /// `.count` only.
    #[serde(default = "default_max_pids", deserialize_with = "max_pids")]
    pub max_pids: usize,
}

fn default_interval() -> Duration {
    Duration::from_secs(10)
}

fn default_max_pids() -> usize {
    256
}

fn glob_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NameGlob>, D::Error> {
    NameGlob::deserialize(d).map(Some)
}

fn pattern_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Pattern>, D::Error> {
    Pattern::new(&String::deserialize(d)?)
        .map(Some)
        .map_err(de::Error::custom)
}

fn max_pids<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = i64::deserialize(d)?;
    match usize::try_from(n) {
        Ok(v) if (1..=65_536).contains(&v) => Ok(v),
        _ => Err(de::Error::custom(format!(
            "{n} is out of range: write a whole number from 1 to 65536, such as 256"
        ))),
    }
}

/// Checks each table (a matcher is required) and refuses two groups with the same name.
pub(crate) fn checked_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<ProcessSourceConfig>, D::Error> {
    let check = |p: &ProcessSourceConfig| {
        if p.process_name.is_none() && p.cmdline.is_none() && p.unit.is_none() && p.cgroup.is_none()
        {
            return Err(format!(
                "[[sources.processes]] `{}` matches nothing: give at least one of `process_name`, `cmdline`, `unit` and `cgroup`, such as `process_name = \"nginx\"`",
                p.name
            ));
        }
        Ok(())
    };
    values::named_list(
        d,
        |p: &ProcessSourceConfig| &p.name,
        check,
        |n| {
            format!("two [[sources.processes]] are named `{n}`: give each group a distinct name (it names its signals)")
        },
    )
}

#[cfg(test)]
mod tests {
    use crate::parse;
    use crate::tests::refusal as err;
    use std::time::Duration;

    #[test]
    fn a_group_with_defaults_and_every_matcher() {
        let c = parse(
            "[[sources.processes]]\nname = \"web\"\nprocess_name = \"nginx*\"\n\
             [[sources.processes]]\nname = \"db\"\ncmdline = 'postgres: .* writer'\nunit = \"postgresql*.service\"\ncgroup = \"/system.slice/*\"\ninterval = \"5s\"\nmax_pids = 8\n",
            "t",
        )
        .unwrap();
        let p = &c.sources.processes;
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].interval, Duration::from_secs(10));
        assert_eq!(p[0].max_pids, 256);
        assert!(p[0].process_name.as_ref().unwrap().is_match("nginx"));
        assert!(p[1]
            .cmdline
            .as_ref()
            .unwrap()
            .regex()
            .is_match("postgres: 16/main writer"));
        assert!(p[1]
            .unit
            .as_ref()
            .unwrap()
            .is_match("postgresql@16-main.service"));
        assert_eq!((p[1].interval, p[1].max_pids), (Duration::from_secs(5), 8));
    }

    #[test]
    fn bad_groups_are_explained() {
        let e = err("[[sources.processes]]\nname = \"web\"\n");
        assert!(e.contains("matches nothing"), "{e}");
        let e = err("[[sources.processes]]\nname = \"a\"\nprocess_name = \"x\"\n[[sources.processes]]\nname = \"a\"\nunit = \"y\"\n");
        assert!(e.contains("distinct name"), "{e}");
        let e = err("[[sources.processes]]\nname = \"a\"\ncmdline = \"(\"\n");
        assert!(
            e.contains("t.toml:3:") && e.contains("not a valid regular expression"),
            "{e}"
        );
        let e = err("[[sources.processes]]\nname = \"a\"\nprocess_name = \"[x\"\n");
        assert!(e.contains("not a valid glob"), "{e}");
        let e = err("[[sources.processes]]\nname = \"a.b\"\nprocess_name = \"x\"\n");
        assert!(e.contains("not a valid source name"), "{e}");
        let e = err("[[sources.processes]]\nname = \"a\"\nprocess_name = \"x\"\nmax_pids = 0\n");
        assert!(e.contains("from 1 to 65536"), "{e}");
        let e = err("[[sources.processes]]\nname = \"a\"\nprocess_name = \"x\"\ncomm = \"x\"\n");
        assert!(e.contains("unknown key `comm`"), "{e}");
    }
    #[test]
    fn the_documented_example_parses() {
        let c = crate::tests::documented_example("[[sources.processes]]");
        let p = &c.sources.processes[0];
        assert_eq!(p.name, "nginx");
        assert!(
            p.process_name.is_some()
                && p.cmdline.is_some()
                && p.unit.is_some()
                && p.cgroup.is_some()
        );
    }
}
