//! `SEISMO_*` environment overrides: a short, fixed list of variables, each replacing one key
//! of the configuration file. They exist for containers (a sidecar configured from its pod
//! spec); a host install uses the file. Each value is checked exactly as the same key in a file
//! would be, and an error names the variable.

use crate::error::ConfigError;
use crate::Config;

/// The variable that names the configuration file (read by `seismo run`, not a key).
pub const CONFIG_VAR: &str = "SEISMO_CONFIG";

/// The TOML type of a key, so `true` and `8883` are not written as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Bool,
    Int,
}

/// One supported variable and the key it replaces.
#[derive(Debug, PartialEq, Eq)]
pub struct EnvOverride {
    pub var: &'static str,
    /// The table, dotted (`sinks.otlp`).
    pub table: &'static str,
    pub key: &'static str,
    kind: Kind,
}

const fn over(
    var: &'static str,
    table: &'static str,
    key: &'static str,
    kind: Kind,
) -> EnvOverride {
    EnvOverride {
        var,
        table,
        key,
        kind,
    }
}

/// Every supported variable, in the order they are applied (README: "Environment overrides").
pub const OVERRIDES: &[EnvOverride] = &[
    over("SEISMO_HOST_NAME", "agent", "host_name", Kind::Str),
    over("SEISMO_STATE_DIR", "agent", "state_dir", Kind::Str),
    over("SEISMO_LOG_FORMAT", "logging", "format", Kind::Str),
    over("SEISMO_LOG_LEVEL", "logging", "level", Kind::Str),
    over("SEISMO_HOST_METRICS", "sources.host", "enabled", Kind::Bool),
    over(
        "SEISMO_HOST_INTERVAL",
        "sources.host",
        "interval",
        Kind::Str,
    ),
    over("SEISMO_STDOUT", "sinks.stdout", "enabled", Kind::Bool),
    over("SEISMO_OTLP_ENABLED", "sinks.otlp", "enabled", Kind::Bool),
    over("SEISMO_OTLP_ENDPOINT", "sinks.otlp", "endpoint", Kind::Str),
    over("SEISMO_OTLP_PROTOCOL", "sinks.otlp", "protocol", Kind::Str),
    over("SEISMO_MQTT_ENABLED", "sinks.mqtt", "enabled", Kind::Bool),
    over("SEISMO_MQTT_HOST", "sinks.mqtt", "host", Kind::Str),
    over("SEISMO_MQTT_PORT", "sinks.mqtt", "port", Kind::Int),
    over("SEISMO_MQTT_USERNAME", "sinks.mqtt", "username", Kind::Str),
];

/// The overrides set in an environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    set: Vec<(&'static EnvOverride, String)>,
}

impl Overrides {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut vars = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().filter(|n| n.starts_with("SEISMO_")) else {
                continue;
            };
            if !OVERRIDES.iter().any(|o| o.var == name) {
                // Other SEISMO_* variables (a password_env, test settings) are not ours; a
                // near miss of ours is a typo that would otherwise be silently ignored.
                vars.push((name.to_owned(), String::new()));
                continue;
            }
            let value = value.into_string().map_err(|_| ConfigError::Env {
                var: name.to_owned(),
                message: "the value is not valid UTF-8".into(),
            })?;
            vars.push((name.to_owned(), value));
        }
        Self::from_vars(vars)
    }

    /// Builds from `(name, value)` pairs; names that are not `SEISMO_*` are ignored.
    pub fn from_vars<I: IntoIterator<Item = (String, String)>>(
        vars: I,
    ) -> Result<Self, ConfigError> {
        let mut set = Vec::new();
        for (name, value) in vars {
            // SEISMO_CONFIG names the file: the CLI reads it, it replaces no key.
            if !name.starts_with("SEISMO_") || name == CONFIG_VAR {
                continue;
            }
            match OVERRIDES.iter().find(|o| o.var == name) {
                Some(o) => set.push((o, value)),
                None => check_near_miss(&name)?,
            }
        }
        set.sort_by_key(|(o, _)| OVERRIDES.iter().position(|x| x == *o));
        Ok(Self { set })
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The variables in effect, e.g. for a log line.
    pub fn names(&self) -> Vec<&'static str> {
        self.set.iter().map(|(o, _)| o.var).collect()
    }

    /// Parses and validates `text` (named `origin` in errors), then applies the overrides.
    /// The file is checked alone first, so its errors point into it; each override is then
    /// checked alone, so its error names the variable; last, the merged configuration is
    /// checked as a whole (keys that must agree).
    pub fn apply(&self, text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config = crate::parse(text, origin)?;
        if self.is_empty() {
            return Ok(config);
        }
        let mut doc: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(origin, text, &e))?;
        for (o, raw) in &self.set {
            let value = o.value(raw);
            let snippet = format!("[{}]\n{} = {}\n", o.table, o.key, value);
            crate::parse(&snippet, &format!("${}", o.var))?;
            insert(&mut doc, o.table, o.key, value);
        }
        let merged = toml::to_string(&doc).map_err(|e| ConfigError::Env {
            var: self.names().join(", "),
            message: format!("cannot merge with {origin}: {e}"),
        })?;
        crate::parse(
            &merged,
            &format!("{origin} with {}", self.names().join(", ")),
        )
    }
}

impl EnvOverride {
    /// The TOML value for `raw`: typed when it reads as the key's type, else a string, so a
    /// wrong type gets the same "wrong type" error as in a file.
    fn value(&self, raw: &str) -> toml::Value {
        match self.kind {
            Kind::Bool if raw == "true" || raw == "false" => toml::Value::Boolean(raw == "true"),
            Kind::Int => match raw.parse::<i64>() {
                Ok(n) => toml::Value::Integer(n),
                Err(_) => toml::Value::String(raw.to_owned()),
            },
            _ => toml::Value::String(raw.to_owned()),
        }
    }
}

/// Sets `table.key = value` in a document, creating the tables on the way.
fn insert(doc: &mut toml::Table, table: &str, key: &str, value: toml::Value) {
    let mut t = doc;
    for part in table.split('.') {
        let entry = t
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            // The file parsed, so a dotted table name is a table there; replace anything else.
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        t = next;
    }
    t.insert(key.to_owned(), value);
}

/// Refuses a `SEISMO_*` name within two edits of a supported one (`SEISMO_LOG_FROMAT`).
fn check_near_miss(name: &str) -> Result<(), ConfigError> {
    let known = OVERRIDES.iter().map(|o| o.var).chain([CONFIG_VAR]);
    let nearest = known
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .min()
        .filter(|(d, _)| *d <= 2);
    match nearest {
        Some((_, k)) => Err(ConfigError::Env {
            var: name.to_owned(),
            message: format!("not a seismo setting. Did you mean `{k}`?"),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Located, LoggingFormat};

    fn vars(pairs: &[(&str, &str)]) -> Overrides {
        Overrides::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    fn located(e: ConfigError) -> Located {
        match e {
            ConfigError::Invalid(l) => *l,
            other => panic!("expected a located error, got {other:?}"),
        }
    }

    #[test]
    fn overrides_replace_file_keys_and_keep_the_rest() {
        let text = "[logging]\nformat = \"human\"\nlevel = \"warn\"\n[sinks.mqtt]\nhost = \"broker\"\nqos = 2\n";
        let o = vars(&[
            ("SEISMO_LOG_FORMAT", "json"),
            ("SEISMO_STATE_DIR", "/data/seismo"),
            ("SEISMO_MQTT_ENABLED", "true"),
            ("SEISMO_MQTT_PORT", "8883"),
            ("SEISMO_OTLP_ENDPOINT", "http://collector:4317"),
            ("SEISMO_EVAL_DATA", "/not/ours"),
            ("SEISMO_CONFIG", "/etc/seismo/seismo.toml"),
            ("PATH", "/usr/bin"),
        ]);
        let c = o.apply(text, "f.toml").unwrap();
        assert_eq!(c.logging.format, LoggingFormat::Json);
        assert_eq!(c.logging.level, crate::LogLevel::Warn);
        assert_eq!(
            c.agent.state_dir.as_deref(),
            Some(std::path::Path::new("/data/seismo"))
        );
        assert!(c.sinks.mqtt.enabled);
        assert_eq!(
            (
                c.sinks.mqtt.host.as_str(),
                c.sinks.mqtt.port,
                c.sinks.mqtt.qos
            ),
            ("broker", Some(8883), 2)
        );
        assert_eq!(
            c.sinks.otlp.endpoint.as_deref(),
            Some("http://collector:4317")
        );
        assert!(
            !c.sinks.otlp.enabled,
            "an endpoint alone does not enable the sink"
        );
        // Applied to the embedded default (the container's case), detector overrides survive.
        let d = o.apply(crate::DEFAULT_TOML, crate::DEFAULT_ORIGIN).unwrap();
        assert_eq!(d.detectors, crate::embedded_default().unwrap().detectors);
        assert_eq!(d.logging.format, LoggingFormat::Json);
    }

    #[test]
    fn no_overrides_is_the_file() {
        let o = vars(&[("HOME", "/root")]);
        assert!(o.is_empty());
        assert_eq!(o.apply("", "x").unwrap(), Config::default());
    }

    #[test]
    fn a_bad_value_is_named_by_its_variable_with_the_file_s_advice() {
        let e = located(
            vars(&[("SEISMO_LOG_FORMAT", "jsn")])
                .apply("", "f.toml")
                .unwrap_err(),
        );
        assert_eq!(e.origin, "$SEISMO_LOG_FORMAT");
        assert!(
            e.message
                .contains("unknown value `jsn` in [logging]. Did you mean `json`?"),
            "{}",
            e.message
        );
        assert_eq!(e.source_line, "format = \"jsn\"");

        let e = located(
            vars(&[("SEISMO_HOST_METRICS", "yes")])
                .apply("", "f.toml")
                .unwrap_err(),
        );
        assert!(
            e.message
                .contains("wrong type for `enabled` in [sources.host]"),
            "{}",
            e.message
        );
        let e = located(
            vars(&[("SEISMO_STATE_DIR", "data")])
                .apply("", "f.toml")
                .unwrap_err(),
        );
        assert!(e.message.contains("relative path"), "{}", e.message);
        for (var, value, says) in [
            ("SEISMO_MQTT_PORT", "70000", "`port` in [sinks.mqtt]"),
            (
                "SEISMO_OTLP_ENDPOINT",
                "collector:4317",
                "not an http:// or https:// URL",
            ),
        ] {
            let e = located(vars(&[(var, value)]).apply("", "f.toml").unwrap_err());
            assert_eq!(e.origin, format!("${var}"));
            assert!(e.message.contains(says), "{}", e.message);
        }
    }

    #[test]
    fn the_file_is_checked_before_the_overrides() {
        let e = located(
            vars(&[("SEISMO_LOG_FORMAT", "json")])
                .apply("[agent]\nfoo = 1\n", "f.toml")
                .unwrap_err(),
        );
        assert_eq!((e.origin.as_str(), e.line), ("f.toml", 2));
    }

    #[test]
    fn keys_that_must_agree_are_checked_after_merging() {
        let text = "[sinks.otlp.tls]\nca_file = \"/etc/ca.pem\"\n[sinks.otlp]\nendpoint = \"https://c:4317\"\n";
        let e = located(
            vars(&[("SEISMO_OTLP_ENDPOINT", "http://c:4317")])
                .apply(text, "f.toml")
                .unwrap_err(),
        );
        assert_eq!(e.origin, "f.toml with SEISMO_OTLP_ENDPOINT");
        assert!(e.message.contains("not https://"), "{}", e.message);
    }

    #[test]
    fn a_misspelt_variable_is_refused_with_the_nearest_name() {
        let e = Overrides::from_vars([("SEISMO_LOG_FROMAT".to_string(), "json".to_string())])
            .unwrap_err();
        assert_eq!(e.to_string(), "environment variable SEISMO_LOG_FROMAT: not a seismo setting. Did you mean `SEISMO_LOG_FORMAT`?");
        let e = Overrides::from_vars([("SEISMO_CONFIGG".to_string(), String::new())]).unwrap_err();
        assert!(e.to_string().contains("SEISMO_CONFIG`"), "{e}");
    }

    #[test]
    fn every_override_names_a_real_key() {
        for o in OVERRIDES {
            let sample = match o.kind {
                Kind::Bool => "true",
                Kind::Int => "1883",
                Kind::Str => match o.key {
                    "state_dir" => "/tmp/s",
                    "format" => "json",
                    "level" => "debug",
                    "interval" => "5s",
                    "endpoint" => "http://c:4318",
                    "protocol" => "http",
                    _ => "name",
                },
            };
            vars(&[(o.var, sample)])
                .apply("", "f.toml")
                .unwrap_or_else(|e| panic!("{}: {e}", o.var));
        }
    }
}
