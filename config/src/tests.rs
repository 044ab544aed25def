use std::time::Duration;

use super::*;

/// The located error `text`, read from a file named `origin`, is refused with.
pub(crate) fn located_in(origin: &str, text: &str) -> Located {
    match parse(text, origin) {
        Err(ConfigError::Invalid(l)) => *l,
        other => panic!("expected an invalid config, got {other:?}"),
    }
}

/// The located error `text`, read from `t.toml`, is refused with.
pub(crate) fn located(text: &str) -> Located {
    located_in("t.toml", text)
}

/// The error `text`, read from `t.toml`, is refused with, as the user sees it.
pub(crate) fn refusal(text: &str) -> String {
    parse(text, "t.toml").unwrap_err().to_string()
}

/// The commented-out example in seismo.toml that starts with `# {header}` (up to the next
/// blank line), uncommented and parsed.
pub(crate) fn documented_example(header: &str) -> Config {
    let start = DEFAULT_TOML.find(&format!("# {header}")).unwrap();
    let block = &DEFAULT_TOML[start..];
    let block = &block[..block.find("\n\n").unwrap_or(block.len())];
    let text: String = block
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap()))
        .collect();
    parse(&text, "example").unwrap()
}

fn err(text: &str) -> Located {
    located_in("test.toml", text)
}

#[test]
fn embedded_default_parses_and_equals_code_defaults() {
    let parsed = embedded_default().unwrap();
    let mut code = Config::default();
    // The documented file sets overrides the code does not have.
    code.detectors.overrides = parsed.detectors.overrides.clone();
    // It follows the journal when readable ("auto"); a file without [sources.journal] does not.
    assert_eq!(parsed.sources.journal.enabled, JournalEnabled::Auto);
    code.sources.journal.enabled = JournalEnabled::Auto;
    assert_eq!(parsed, code, "seismo.toml and the Default impls disagree");
    assert_eq!(parsed.sources.host.interval, Duration::from_secs(10));
    assert!(!parsed.detectors.overrides.is_empty());
}

#[test]
fn empty_file_is_all_defaults() {
    assert_eq!(parse("", "x").unwrap(), Config::default());
}

#[test]
fn unknown_key_names_line_column_and_nearest_key() {
    let e = err("[sources.host]\nenabled = true\nintervall = \"1s\"\n");
    assert_eq!((e.line, e.column), (3, 1));
    assert!(
        e.message
            .contains("unknown key `intervall` in [sources.host]"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("Did you mean `interval`?"),
        "{}",
        e.message
    );
    let shown = e.to_string();
    assert!(shown.starts_with("test.toml:3:1: "), "{shown}");
    assert!(shown.contains("3 | intervall = \"1s\""), "{shown}");
}

#[test]
fn unknown_table_lists_valid_keys() {
    let e = err("[sourcez.host]\n");
    assert_eq!(e.line, 1);
    assert!(
        e.message.contains("Did you mean `sources`?"),
        "{}",
        e.message
    );
    let e = err("[agent]\nfoo = 1\n");
    assert!(
        e.message
            .contains("Valid keys here: `host_name`, `state_dir`"),
        "{}",
        e.message
    );
}

#[test]
fn unknown_enum_value_suggests() {
    let e = err("[logging]\nformat = \"jsn\"\n");
    assert_eq!((e.line, e.column), (2, 10));
    assert!(e.message.contains("unknown value `jsn`"), "{}", e.message);
    assert!(e.message.contains("Did you mean `json`?"), "{}", e.message);
}

#[test]
fn wrong_type_says_what_to_write() {
    let e = err("[sources.host]\ninterval = 10\n");
    assert_eq!((e.line, e.column), (2, 12));
    assert!(
        e.message
            .starts_with("wrong type for `interval` in [sources.host]: "),
        "{}",
        e.message
    );
    assert!(e.message.contains("\"10s\""), "{}", e.message);
    let e = err("[sources.host]\nenabled = \"yes\"\n");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("expected a boolean"), "{}", e.message);
}

#[test]
fn bad_duration_is_located() {
    let e = err("[sources.host]\ninterval = \"10 parsecs\"\n");
    assert_eq!((e.line, e.column), (2, 12));
    assert!(e.message.contains("is not a duration"), "{}", e.message);
    let e = err("[sources.host]\ninterval = \"100ms\"\n");
    assert!(e.message.contains("from 1s to 1h"), "{}", e.message);
}

#[test]
fn bad_glob_is_located() {
    let e = err("[[detectors.overrides]]\nsignals = [\"host.ok\", \"host.[cpu\"]\nalpha = 0.1\n");
    assert_eq!(e.line, 2);
    assert_eq!(e.column, 23);
    assert!(
        e.message.contains("`host.[cpu` is not a valid glob"),
        "{}",
        e.message
    );
}

#[test]
fn missing_required_value_is_located() {
    let e = err("[detectors]\nmax_signals = 5\n\n[[detectors.overrides]]\nalpha = 0.1\n");
    assert_eq!(e.line, 4, "{e}");
    assert!(
        e.message
            .contains("missing required key `signals` in [detectors.overrides]"),
        "{}",
        e.message
    );
    let e = err("[[detectors.overrides]]\nsignals = []\n");
    assert!(
        e.message.contains("list at least one glob"),
        "{}",
        e.message
    );
}

#[test]
fn out_of_range_numbers_are_refused() {
    for (text, needle) in [
        (
            "[detectors.defaults]\nthreshold = 1.5\n",
            "strictly between 0 and 1",
        ),
        (
            "[detectors.defaults]\nalpha = 0\n",
            "greater than 0 and at most 1",
        ),
        ("[detectors.defaults]\nwarmup = 1\n", "from 2 to 100000"),
        (
            "[detectors.defaults]\nearly_warmup = 1\n",
            "from 2 to 100000",
        ),
        (
            "[[detectors.overrides]]\nearly_warmup = 100001\nsignals = [\"a\"]\n",
            "early_warmup = 100001 is out of range",
        ),
        ("[detectors.defaults]\nmin_scale = -1\n", "0 or more"),
        ("[detectors.defaults]\nmin_scale = nan\n", "0 or more"),
        ("[alerting]\nresolve_after = 0\n", "at least 1"),
        ("[agent]\nstate_dir = \"relative/dir\"\n", "absolute path"),
        ("[agent]\nhost_name = \"\"\n", "empty"),
    ] {
        let e = err(text);
        assert_eq!(e.line, 2, "{text}: {e}");
        assert!(e.message.contains(needle), "{text}: {}", e.message);
    }
}

#[test]
fn overrides_apply_in_order_key_by_key() {
    let c = parse(
        r#"
[detectors.defaults]
threshold = 0.5
[[detectors.overrides]]
signals = ["host.cpu.*"]
threshold = 0.7
alpha = 0.2
[[detectors.overrides]]
signals = ["host.cpu.core.*"]
threshold = 0.9
[[detectors.overrides]]
signals = ["host.network.lo.*"]
enabled = false
"#,
        "x",
    )
    .unwrap();
    let d = &c.detectors;
    let total = d.settings_for("host.cpu.utilization").unwrap();
    assert_eq!((total.threshold.get(), total.alpha.get()), (0.7, 0.2));
    let core = d.settings_for("host.cpu.core.3.utilization").unwrap();
    assert_eq!((core.threshold.get(), core.alpha.get()), (0.9, 0.2));
    let mem = d.settings_for("host.memory.used_ratio").unwrap();
    assert_eq!(mem, d.defaults);
    assert!(d.settings_for("host.network.lo.rx_bytes_per_s").is_none());
}

#[test]
fn unreadable_file_names_the_path() {
    let e = load(Path::new("/nonexistent/seismo.toml")).unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.starts_with("/nonexistent/seismo.toml: cannot read"),
        "{shown}"
    );
}

#[test]
fn detector_kinds_and_their_parameters() {
    let c = parse(
        r#"
[detectors.defaults]
window = 64
[[detectors.overrides]]
signals = ["app.*"]
kind = "kmeans"
clusters = 4
retrain_every = 1000
[[detectors.overrides]]
signals = ["app.latency"]
kind = "knn"
memory = 256
[[detectors.overrides]]
signals = ["app.batch"]
period = "15m"
"#,
        "x",
    )
    .unwrap();
    let d = &c.detectors;
    assert_eq!(d.defaults.kind, DetectorKind::Ensemble);
    let host = d.settings_for("host.load.1m").unwrap();
    assert_eq!(
        (host.window.map(|w| w.get()), host.clusters),
        (Some(64), None)
    );
    let app = d.settings_for("app.errors").unwrap();
    assert_eq!(app.kind, DetectorKind::Kmeans);
    assert_eq!(app.clusters.map(|k| k.get()), Some(4));
    let latency = d.settings_for("app.latency").unwrap();
    assert_eq!(latency.kind, DetectorKind::Knn);
    assert_eq!(latency.memory.map(|m| m.get()), Some(256));
    assert_eq!(latency.retrain_every.map(|r| r.get()), Some(1000));
    assert_eq!(latency.period, None);
    let batch = d.settings_for("app.batch").unwrap();
    assert_eq!(batch.period, Some(Duration::from_secs(900)));
}

#[test]
fn detector_parameters_out_of_range_are_located() {
    for (text, needle) in [
        ("[detectors.defaults]\nwindow = 4\n", "from 8 to 4096"),
        ("[detectors.defaults]\nclusters = 64\n", "from 2 to 32"),
        ("[detectors.defaults]\nneighbours = -1\n", "from 1 to 16"),
        ("[detectors.defaults]\ndrift = 0\n", "greater than 0"),
        ("[detectors.defaults]\nkind = \"forest\"\n", "ensemble"),
        (
            "[detectors.defaults]\nperiod = \"500ms\"\n",
            "from 1s to 28days",
        ),
        ("[detectors.defaults]\nperiod = 60\n", "a duration string"),
    ] {
        let e = err(text);
        assert_eq!((e.line, e.column), (2, e.column), "{text}: {e}");
        assert!(e.message.contains(needle), "{text}: {}", e.message);
    }
    let e = err("[[detectors.overrides]]\nsignals = [\"a\"]\nquiet = 1e9\n");
    assert_eq!(e.line, 3, "{e}");
}
