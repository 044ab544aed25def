//! The binary's command line, run as a user would.

mod common;
use common::seismo;

#[test]
fn version_and_help() {
    let out = seismo(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("seismo {}", env!("CARGO_PKG_VERSION"))
    );
    let out = seismo(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["run", "check-config", "print-config"] {
        assert!(help.contains(cmd), "{help}");
    }
}

#[test]
fn print_config_prints_the_embedded_default_which_checks_ok() {
    let out = seismo(&["print-config"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        seismo_config::DEFAULT_TOML
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seismo.toml");
    std::fs::write(&path, &out.stdout).unwrap();
    let out = seismo(&["check-config", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(": ok\n"));
}

#[test]
fn check_config_refuses_each_kind_of_mistake_with_exit_2_and_a_location() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown key",
            "[sources.host]\nintervall = \"1s\"\n",
            ":2:1:",
            "Did you mean `interval`?",
        ),
        (
            "wrong type",
            "[sources.host]\ninterval = 10\n",
            ":2:12:",
            "wrong type for `interval`",
        ),
        (
            "bad duration",
            "[sources.host]\ninterval = \"ten seconds\"\n",
            ":2:12:",
            "is not a duration",
        ),
        (
            "bad glob",
            "[[detectors.overrides]]\nsignals = [\"a[b\"]\n",
            ":2:12:",
            "is not a valid glob",
        ),
        (
            "missing required value",
            "[[detectors.overrides]]\nalpha = 0.1\n",
            ":1:1:",
            "missing required key `signals`",
        ),
        (
            "out of range",
            "[detectors.defaults]\nthreshold = 2\n",
            ":2:13:",
            "strictly between 0 and 1",
        ),
        ("not TOML", "[agent\n", ":1:7:", ""),
    ];
    for (what, text, location, needle) in cases {
        let path = dir.path().join(format!("{}.toml", what.replace(' ', "_")));
        std::fs::write(&path, text).unwrap();
        let out = seismo(&["check-config", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        let expected = format!("{}{location}", path.display());
        assert!(
            stderr.contains(&expected),
            "{what}: expected {expected} in {stderr}"
        );
        assert!(
            stderr.contains(needle),
            "{what}: expected {needle} in {stderr}"
        );
    }
}

#[test]
fn check_config_on_a_missing_file_exits_2() {
    let out = seismo(&["check-config", "/nonexistent/seismo.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/seismo.toml: cannot read"));
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(seismo(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(seismo(&[]).status.code(), Some(2));
}
