//! The diff of a reload: what the new configuration changes, component by component.

use seismo_config::{Config, FileSourceConfig};

use crate::pipeline::DetectorsReloaded;
use crate::sinks::running::configured;

/// Settings that only take effect at start-up: a reload keeps their running value.
pub const RESTART_ONLY: [&str; 15] = [
    "agent.state_dir",
    "agent.host_name",
    "agent.snapshot_interval",
    "logging.format",
    "sources.host.queue",
    "sources.host.queue_samples",
    "sinks.mqtt.outbox_max_bytes",
    "sinks.otlp.outbox_max_bytes",
    "sinks.otlp.metrics",
    "sinks.otlp.metrics_max_signals",
    "http",
    "silences",
    "hooks",
    "remediation",
    "sinks.webhook.outbox_max_bytes",
];

/// How a named component (file source or sink) changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    /// Still there with other settings. For a file source, `tailer`: the settings of its
    /// tailer (paths, excludes, line rules) changed, not only those of the log stage.
    Changed {
        tailer: bool,
    },
}

impl Change {
    fn mark(self) -> char {
        match self {
            Change::Added => '+',
            Change::Removed => '-',
            Change::Changed { .. } => '~',
        }
    }
}

/// What a reload changes: the configuration to run and the components to reconcile.
#[derive(Debug)]
pub struct Plan {
    /// The new configuration, with the [`RESTART_ONLY`] settings kept at their running value.
    pub config: Config,
    /// [`RESTART_ONLY`] settings the file changed (not applied).
    pub needs_restart: Vec<&'static str>,
    /// File sources by name.
    pub sources: Vec<(String, Change)>,
    pub lines_sink: bool,
    /// `[sources.journal]` changed (started, stopped or reconfigured).
    pub journal: bool,
    /// Sinks by name (`stdout`, `mqtt`, `otlp`, `webhook-{name}`).
    pub sinks: Vec<(String, Change)>,
    pub host: bool,
    /// `[[sources.processes]]` / `[[sources.scrape]]` changed: their tasks are reconciled.
    pub processes: bool,
    pub scrapes: bool,
    pub detectors: bool,
    pub alerting: bool,
    pub logging_level: bool,
}

impl Plan {
    /// True when nothing is to be done (restart-only changes aside).
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
            && !self.lines_sink
            && !self.journal
            && self.sinks.is_empty()
            && !self.host
            && !self.processes
            && !self.scrapes
            && !self.detectors
            && !self.alerting
            && !self.logging_level
    }

    /// One line for the log: what changed, and what needs a restart.
    pub fn summary(&self, detectors: Option<DetectorsReloaded>) -> String {
        let mut parts = Vec::new();
        let list = |items: Vec<String>| items.join(" ");
        if !self.sources.is_empty() {
            parts.push(format!(
                "file sources {}",
                list(
                    self.sources
                        .iter()
                        .map(|(n, c)| format!("{}{n}", c.mark()))
                        .collect()
                )
            ));
        }
        if self.lines_sink {
            parts.push("lines sink".to_owned());
        }
        if self.journal {
            parts.push("journal".to_owned());
        }
        if !self.sinks.is_empty() {
            parts.push(format!(
                "sinks {}",
                list(
                    self.sinks
                        .iter()
                        .map(|(n, c)| format!("{}{n}", c.mark()))
                        .collect()
                )
            ));
        }
        if self.host {
            parts.push("host metrics".to_owned());
        }
        if self.processes {
            parts.push("process groups".to_owned());
        }
        if self.scrapes {
            parts.push("scrape targets".to_owned());
        }
        if self.detectors {
            parts.push(match detectors {
                Some(d) => format!(
                    "detectors ({} signals kept, {} reset, {} disabled)",
                    d.kept, d.reset, d.disabled
                ),
                None => "detectors".to_owned(),
            });
        }
        if self.alerting {
            parts.push("alerting".to_owned());
        }
        if self.logging_level {
            parts.push("logging level".to_owned());
        }
        let mut line = if parts.is_empty() {
            "nothing changed".to_owned()
        } else {
            format!("changed: {}", parts.join("; "))
        };
        if !self.needs_restart.is_empty() {
            line.push_str(&format!(
                "; needs a restart (running value kept): {}",
                self.needs_restart.join(", ")
            ));
        }
        line
    }
}

/// Compares the running configuration with a new, valid one.
pub fn plan(old: &Config, mut new: Config) -> Plan {
    let mut needs_restart = Vec::new();
    macro_rules! keep_running_value {
        ($name:literal, $($field:ident).+) => {
            if old.$($field).+ != new.$($field).+ {
                needs_restart.push($name);
                new.$($field).+ = old.$($field).+.clone();
            }
        };
    }
    keep_running_value!("agent.state_dir", agent.state_dir);
    keep_running_value!("agent.host_name", agent.host_name);
    keep_running_value!("agent.snapshot_interval", agent.snapshot_interval);
    keep_running_value!("logging.format", logging.format);
    keep_running_value!("sources.host.queue", sources.host.queue);
    keep_running_value!("sources.host.queue_samples", sources.host.queue_samples);
    keep_running_value!("sinks.mqtt.outbox_max_bytes", sinks.mqtt.outbox_max_bytes);
    keep_running_value!("sinks.otlp.outbox_max_bytes", sinks.otlp.outbox_max_bytes);
    keep_running_value!("sinks.otlp.metrics", sinks.otlp.metrics);
    keep_running_value!(
        "sinks.otlp.metrics_max_signals",
        sinks.otlp.metrics_max_signals
    );
    // The endpoint, the silences of the file (those made through the API are live anyway) and
    // the hooks are set up once; a change to them is reported, not applied.
    keep_running_value!("http", http);
    keep_running_value!("silences", silences);
    keep_running_value!("hooks", hooks);
    keep_running_value!("remediation", remediation);
    // A webhook's outbox is opened with its bound once per run, like those of MQTT and OTLP.
    for n in &mut new.sinks.webhook {
        let Some(o) = old.sinks.webhook.iter().find(|o| o.name == n.name) else {
            continue;
        };
        if o.outbox_max_bytes != n.outbox_max_bytes {
            if !needs_restart.contains(&"sinks.webhook.outbox_max_bytes") {
                needs_restart.push("sinks.webhook.outbox_max_bytes");
            }
            n.outbox_max_bytes = o.outbox_max_bytes;
        }
    }

    let sources = by_name(
        &old.sources.files,
        &new.sources.files,
        |s| &s.name,
        |o, n| {
            (o != n).then(|| Change::Changed {
                tailer: tailer_changed(o, n),
            })
        },
    );
    // Sinks by name (a disabled sink is not in the list: its settings do not matter).
    let sinks = by_name(
        &configured(old),
        &configured(&new),
        |(name, _)| name,
        |(_, o), (_, n)| (o != n).then_some(Change::Changed { tailer: false }),
    );

    Plan {
        needs_restart,
        sources,
        lines_sink: old.sinks.lines != new.sinks.lines,
        journal: old.sources.journal != new.sources.journal,
        sinks,
        host: old.sources.host != new.sources.host,
        processes: old.sources.processes != new.sources.processes,
        scrapes: old.sources.scrape != new.sources.scrape,
        detectors: old.detectors != new.detectors,
        alerting: old.alerting != new.alerting,
        logging_level: old.logging.level != new.logging.level,
        config: new,
    }
}

/// Compares two lists of named components: the removed and changed ones in the old list's
/// order, then the added ones in the new list's. `changed` says how one still there changed,
/// if it did.
fn by_name<T>(
    old: &[T],
    new: &[T],
    name: impl Fn(&T) -> &str,
    changed: impl Fn(&T, &T) -> Option<Change>,
) -> Vec<(String, Change)> {
    let find = |list: &'_ [T], wanted: &str| list.iter().position(|x| name(x) == wanted);
    let mut out = Vec::new();
    for o in old {
        match find(new, name(o)) {
            None => out.push((name(o).to_owned(), Change::Removed)),
            Some(i) => out.extend(changed(o, &new[i]).map(|c| (name(o).to_owned(), c))),
        }
    }
    for n in new {
        if find(old, name(n)).is_none() {
            out.push((name(n).to_owned(), Change::Added));
        }
    }
    out
}

/// Whether the settings the tailer thread uses differ (the others are the log stage's).
/// `start_at` only matters the first time a source is watched, so it is not one of them.
fn tailer_changed(a: &FileSourceConfig, b: &FileSourceConfig) -> bool {
    a.paths != b.paths
        || a.exclude != b.exclude
        || a.multiline_start != b.multiline_start
        || a.max_line_bytes != b.max_line_bytes
        || a.max_open_files != b.max_open_files
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[agent]
state_dir = "/var/lib/a"
[sources.host]
interval = "10s"
[[sources.files]]
name = "app"
paths = ["/var/log/app/*.log"]
[[sources.files]]
name = "web"
paths = ["/var/log/web/*.log"]
[[sources.files]]
name = "old"
paths = ["/var/log/old/*.log"]
[detectors.defaults]
kind = "ewma"
[sinks.mqtt]
enabled = true
host = "127.0.0.1"
port = 1883
"#;

    fn config(text: &str) -> Config {
        seismo_config::parse(text, "test").unwrap()
    }

    /// The plan's sinks, names borrowed (for comparing with literals).
    fn sinks(p: &Plan) -> Vec<(&str, Change)> {
        p.sinks.iter().map(|(n, c)| (n.as_str(), *c)).collect()
    }

    fn edit(pairs: &[(&str, &str)]) -> Config {
        let mut text = BASE.to_owned();
        for (from, to) in pairs {
            assert!(text.contains(from), "{from}");
            text = text.replacen(from, to, 1);
        }
        config(&text)
    }

    #[test]
    fn the_same_configuration_changes_nothing() {
        let p = plan(&config(BASE), config(BASE));
        assert!(p.is_empty());
        assert!(p.needs_restart.is_empty());
        assert_eq!(p.summary(None), "nothing changed");
    }

    #[test]
    fn file_sources_are_added_removed_and_changed_by_name() {
        let new = edit(&[
            // `app`: a stage setting only; `web`: its paths (the tailer restarts).
            (
                "paths = [\"/var/log/app/*.log\"]",
                "paths = [\"/var/log/app/*.log\"]\ninterval = \"5s\"",
            ),
            ("/var/log/web/*.log", "/srv/web/*.log"),
            (
                "[[sources.files]]\nname = \"old\"\npaths = [\"/var/log/old/*.log\"]",
                "[[sources.files]]\nname = \"new\"\npaths = [\"/var/log/new/*.log\"]",
            ),
        ]);
        let p = plan(&config(BASE), new);
        assert_eq!(
            p.sources,
            [
                ("app".to_owned(), Change::Changed { tailer: false }),
                ("web".to_owned(), Change::Changed { tailer: true }),
                ("old".to_owned(), Change::Removed),
                ("new".to_owned(), Change::Added),
            ]
        );
        assert!(p.sinks.is_empty() && !p.host && !p.detectors && !p.alerting);
        assert_eq!(p.summary(None), "changed: file sources ~app ~web -old +new");
    }

    #[test]
    fn sinks_are_added_removed_changed_or_left_alone() {
        let base = config(BASE);
        let p = plan(&base, edit(&[("port = 1883", "port = 1884")]));
        assert_eq!(sinks(&p), [("mqtt", Change::Changed { tailer: false })]);
        let p = plan(
            &base,
            edit(&[(
                "[sinks.mqtt]\nenabled = true",
                "[sinks.mqtt]\nenabled = false",
            )]),
        );
        assert_eq!(sinks(&p), [("mqtt", Change::Removed)]);
        let p = plan(
            &base,
            edit(&[(
                "[sinks.mqtt]",
                "[sinks.stdout]\nenabled = false\n[sinks.otlp]\nenabled = true\n[sinks.mqtt]",
            )]),
        );
        assert_eq!(
            sinks(&p),
            [("stdout", Change::Removed), ("otlp", Change::Added)]
        );
        // A disabled sink's settings do not matter.
        let off = edit(&[(
            "[sinks.mqtt]\nenabled = true",
            "[sinks.mqtt]\nenabled = false",
        )]);
        let mut off2 = off.clone();
        off2.sinks.mqtt.port = Some(9999);
        assert!(plan(&off, off2).is_empty());
    }

    #[test]
    fn host_detectors_alerting_and_logging_level_are_seen() {
        let p = plan(
            &config(BASE),
            edit(&[
                (
                    "interval = \"10s\"",
                    "interval = \"2s\"\nexclude_disks = [\"sd*\"]",
                ),
                ("kind = \"ewma\"", "kind = \"mad\""),
                (
                    "[agent]",
                    "[alerting]\nresolve_after = 5\n[logging]\nlevel = \"debug\"\n[agent]",
                ),
            ]),
        );
        assert!(p.host && p.detectors && p.alerting && p.logging_level);
        assert!(p.sources.is_empty() && p.sinks.is_empty());
        let summary = p.summary(Some(DetectorsReloaded {
            kept: 3,
            reset: 2,
            disabled: 0,
        }));
        assert_eq!(
            summary,
            "changed: host metrics; detectors (3 signals kept, 2 reset, 0 disabled); alerting; logging level"
        );
    }

    #[test]
    fn restart_only_settings_keep_their_running_value_and_are_reported() {
        let old = config(BASE);
        let new = edit(&[
            (
                "state_dir = \"/var/lib/a\"",
                "state_dir = \"/var/lib/b\"\nhost_name = \"x\"",
            ),
            ("interval = \"10s\"", "interval = \"10s\"\nqueue = 8"),
            ("port = 1883", "port = 1883\noutbox_max_bytes = 100000"),
        ]);
        let p = plan(&old, new);
        assert_eq!(
            p.needs_restart,
            [
                "agent.state_dir",
                "agent.host_name",
                "sources.host.queue",
                "sinks.mqtt.outbox_max_bytes"
            ]
        );
        // Kept at their running value, so nothing else is seen as changed.
        assert_eq!(p.config, old);
        assert!(p.is_empty());
        assert!(p.summary(None).ends_with(
            "needs a restart (running value kept): agent.state_dir, agent.host_name, sources.host.queue, sinks.mqtt.outbox_max_bytes"
        ));
        for name in &p.needs_restart {
            assert!(RESTART_ONLY.contains(name));
        }
    }

    #[test]
    fn process_groups_and_scrape_targets_are_reconciled_not_restart_only() {
        let group = "[[sources.processes]]\nname = \"web\"\nprocess_name = \"nginx\"\n";
        let target =
            "[[sources.scrape]]\nname = \"app\"\nurl = \"http://127.0.0.1:8080/metrics\"\n";
        let base = config(&format!("{BASE}{group}{target}"));
        assert!(plan(&base, base.clone()).is_empty());
        let p = plan(
            &base,
            config(&format!(
                "{BASE}{}{target}",
                group.replace("nginx", "nginx*")
            )),
        );
        assert!(p.processes && !p.scrapes && p.needs_restart.is_empty());
        assert_eq!(p.summary(None), "changed: process groups");
        let p = plan(&base, config(&format!("{BASE}{group}")));
        assert!(p.scrapes && !p.processes);
        assert_eq!(p.summary(None), "changed: scrape targets");
    }

    #[test]
    fn every_sink_has_a_name_the_plan_uses() {
        let p = plan(
            &config("[sinks.stdout]\nenabled = false\n"),
            config(
                "[sinks.otlp]\nenabled = true\n[sinks.mqtt]\nenabled = true\nhost = \"h\"\n\
                 [[sinks.webhook]]\nname = \"ops\"\nformat = \"json\"\nurl = \"http://h/\"\n",
            ),
        );
        // The names `RunningSinks` starts them by, in its order.
        let running: Vec<String> = configured(&p.config).into_iter().map(|(n, _)| n).collect();
        assert_eq!(running, ["stdout", "mqtt", "otlp", "webhook-ops"]);
        let added: Vec<(&str, Change)> = running
            .iter()
            .map(|n| (n.as_str(), Change::Added))
            .collect();
        assert_eq!(sinks(&p), added);
    }

    fn webhook(name: &str, url: &str, extra: &str) -> String {
        format!("[[sinks.webhook]]\nname = \"{name}\"\nformat = \"json\"\nurl = \"{url}\"\n{extra}")
    }

    #[test]
    fn webhooks_are_added_removed_and_changed_by_name() {
        let base = config(&format!(
            "{BASE}{}{}",
            webhook("a", "http://a/", ""),
            webhook("b", "http://b/", "")
        ));
        assert!(plan(&base, base.clone()).is_empty());
        // `a` to another URL, `b` removed, `c` added.
        let p = plan(
            &base,
            config(&format!(
                "{BASE}{}{}",
                webhook("a", "http://a2/", ""),
                webhook("c", "http://c/", "")
            )),
        );
        assert_eq!(
            sinks(&p),
            [
                ("webhook-a", Change::Changed { tailer: false }),
                ("webhook-b", Change::Removed),
                ("webhook-c", Change::Added),
            ]
        );
        assert!(p.needs_restart.is_empty());
        assert_eq!(
            p.summary(None),
            "changed: sinks ~webhook-a -webhook-b +webhook-c"
        );
        // The order of the tables does not matter, their names do.
        let swapped = config(&format!(
            "{BASE}{}{}",
            webhook("b", "http://b/", ""),
            webhook("a", "http://a/", "")
        ));
        assert!(plan(&base, swapped).is_empty());
    }

    #[test]
    fn a_webhooks_outbox_bound_needs_a_restart_and_its_other_settings_apply() {
        let base = config(&format!("{BASE}{}", webhook("a", "http://a/", "")));
        let p = plan(
            &base,
            config(&format!(
                "{BASE}{}",
                webhook(
                    "a",
                    "http://a2/",
                    "outbox_max_bytes = 2000000\ntimeout = \"2s\""
                )
            )),
        );
        assert_eq!(p.needs_restart, ["sinks.webhook.outbox_max_bytes"]);
        assert_eq!(
            sinks(&p),
            [("webhook-a", Change::Changed { tailer: false })]
        );
        let a = &p.config.sinks.webhook[0];
        assert_eq!(
            a.outbox_max_bytes, base.sinks.webhook[0].outbox_max_bytes,
            "the running bound is kept"
        );
        assert_eq!(a.timeout, std::time::Duration::from_secs(2));
        assert_eq!(
            p.summary(None),
            "changed: sinks ~webhook-a; needs a restart (running value kept): sinks.webhook.outbox_max_bytes"
        );
        // The bound alone: nothing to apply.
        let p = plan(
            &base,
            config(&format!(
                "{BASE}{}",
                webhook("a", "http://a/", "outbox_max_bytes = 2000000")
            )),
        );
        assert!(p.is_empty());
        assert_eq!(p.needs_restart, ["sinks.webhook.outbox_max_bytes"]);
        assert!(RESTART_ONLY.contains(&"sinks.webhook.outbox_max_bytes"));
    }
}
