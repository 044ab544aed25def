//! Packaging: the systemd unit, sd_notify with the real binary, `SEISMO_*` environment
//! overrides, the sidecar Containerfile and Kubernetes manifest, and the SBOM (cargo-cyclonedx).
//! The .deb itself is built, installed, removed and purged by `.ci/deb` (it needs root and
//! dpkg), which also checks the cargo-auditable section of the packaged binary.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use seismo_e2e::{default_config_with, seismo_bin, Agent};
use yaml_rust2::{Yaml, YamlLoader};

const START: Duration = Duration::from_secs(30);

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What the unit and the image set in the agent's environment for glibc's malloc (the soak
/// benchmark reads the unit's too).
const TUNABLES: &str = "glibc.malloc.tcache_count=0";

/// `Key=value` lines of a systemd unit's [Service] section, in order (keys may repeat).
fn service_settings(unit: &str) -> Vec<(String, String)> {
    let mut in_service = false;
    let mut out = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            in_service = line == "[Service]";
        } else if in_service && !line.starts_with('#') {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.to_owned(), v.to_owned()));
            }
        }
    }
    out
}

#[test]
fn the_unit_is_notify_with_watchdog_reload_and_the_required_hardening() {
    let unit = seismo_e2e::repo_file("packaging/debian/seismo.service");
    let settings = service_settings(&unit);
    let get = |k: &str| -> Vec<&str> {
        settings
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let one = |k: &str| -> &str {
        let v = get(k);
        assert_eq!(v.len(), 1, "{k}= should be set once, found {v:?}");
        v[0]
    };
    assert_eq!(one("Type"), "notify");
    assert_eq!(
        one("ExecStartPre"),
        "/usr/bin/seismo check-config /etc/seismo/seismo.toml"
    );
    assert_eq!(
        one("ExecStart"),
        "/usr/bin/seismo run --config /etc/seismo/seismo.toml"
    );
    assert_eq!(one("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(one("Restart"), "on-failure");
    assert_eq!(one("StateDirectory"), "seismo");
    assert_eq!(one("User"), "seismo");
    assert_eq!(one("ReadWritePaths"), "/var/lib/seismo");
    assert_eq!(one("CapabilityBoundingSet"), "");
    assert_eq!(one("UMask"), "0077");
    assert_eq!(one("Environment"), format!("GLIBC_TUNABLES={TUNABLES}"));
    assert!(humantime::parse_duration(one("WatchdogSec")).is_ok());
    assert!(one("MemoryMax").ends_with('M'));
    for (k, v) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "read-only"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
    ] {
        assert_eq!(one(k), v, "{k}");
    }
    assert_eq!(get("SystemCallFilter")[0], "@system-service");
    let families = one("RestrictAddressFamilies");
    assert!(!families.contains("AF_NETLINK"), "{families}");
    // Host metrics need /proc/stat, /proc/meminfo...: ProcSubset=pid would hide them.
    assert!(get("ProcSubset").is_empty());
    assert!(
        one("SupplementaryGroups").contains("adm")
            && one("SupplementaryGroups").contains("systemd-journal")
    );
}

#[test]
fn the_unit_s_exposure_is_at_most_2() {
    if !have("systemd-analyze") {
        println!("systemd-analyze is not installed: exposure not checked (.ci/deb checks it)");
        return;
    }
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(seismo_e2e::repo_root().join("packaging/debian/seismo.service"))
        .output()
        .expect("systemd-analyze");
    let text = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for seismo.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure figure in:\n{text}"));
    println!("systemd-analyze security exposure: {exposure}");
    assert!(exposure <= 2.0, "exposure {exposure} > 2.0:\n{text}");
}

/// A notify socket that collects the datagrams the agent sends.
struct NotifySocket {
    _dir: tempfile::TempDir,
    path: PathBuf,
    socket: UnixDatagram,
    seen: Vec<String>,
}

impl NotifySocket {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        NotifySocket {
            _dir: dir,
            path,
            socket,
            seen: Vec::new(),
        }
    }

    /// Waits up to `timeout` for a datagram with the line `wanted`.
    fn wait(&mut self, wanted: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            self.socket
                .set_read_timeout(Some(left.max(Duration::from_millis(10))))
                .unwrap();
            let Ok(n) = self.socket.recv(&mut buf) else {
                return false;
            };
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let hit = msg.lines().any(|l| l == wanted);
            self.seen.push(msg);
            if hit {
                return true;
            }
        }
        false
    }
}

#[test]
fn notifies_ready_watchdog_reloading_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("seismo.toml");
    std::fs::write(
        &config,
        default_config_with(
            &dir.path().join("state"),
            &[("interval = \"10s\"", "interval = \"1s\"")],
        ),
    )
    .unwrap();
    let mut notify = NotifySocket::new();
    let socket = notify.path.to_str().unwrap().to_owned();
    let mut agent = Agent::start_with_env(
        &["run", "--config", config.to_str().unwrap()],
        // 1 s watchdog: WATCHDOG=1 every 500 ms.
        &[
            ("NOTIFY_SOCKET", socket.as_str()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    assert!(
        notify.wait("READY=1", START),
        "no READY=1: {:?}",
        notify.seen
    );
    // READY comes once sources and sinks run, i.e. after the start-up log line.
    assert!(agent
        .wait_stderr(Duration::from_secs(5), |l| l.contains("seismo started"))
        .is_some());
    for _ in 0..3 {
        assert!(
            notify.wait("WATCHDOG=1", Duration::from_secs(10)),
            "WATCHDOG=1 stopped: {:?}",
            notify.seen
        );
    }
    agent.signal(libc::SIGHUP);
    assert!(
        notify.wait("RELOADING=1", Duration::from_secs(10)),
        "{:?}",
        notify.seen
    );
    let reloading = notify.seen.last().unwrap().clone();
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    assert!(
        notify.wait("READY=1", Duration::from_secs(10)),
        "{:?}",
        notify.seen
    );
    agent.signal(libc::SIGTERM);
    assert!(
        notify.wait("STOPPING=1", Duration::from_secs(10)),
        "{:?}",
        notify.seen
    );
    let (status, _) = agent.wait_exit(Duration::from_secs(15));
    assert!(
        status.success(),
        "{status:?}: {}",
        agent.seen_stderr.join("\n")
    );
}

#[test]
fn without_a_notify_socket_nothing_is_sent_and_the_agent_runs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = dir.path().join("seismo.toml");
    std::fs::write(&config, default_config_with(&state, &[])).unwrap();
    let mut agent = Agent::start_with_env(
        &["run", "--config", config.to_str().unwrap()],
        &[("WATCHDOG_USEC", "1000000")],
    );
    assert!(agent
        .wait_stderr(START, |l| l.contains("seismo started"))
        .is_some());
    agent.signal(libc::SIGTERM);
    let (status, _) = agent.wait_exit(Duration::from_secs(15));
    assert!(status.success());
    assert!(
        !agent
            .seen_stderr
            .iter()
            .any(|l| l.contains("NOTIFY_SOCKET")),
        "{}",
        agent.seen_stderr.join("\n")
    );
}

#[test]
fn seismo_env_overrides_configure_the_running_agent() {
    let dir = tempfile::tempdir().unwrap();
    let file_state = dir.path().join("file-state");
    let env_state = dir.path().join("env-state");
    let config = dir.path().join("seismo.toml");
    std::fs::write(&config, default_config_with(&file_state, &[])).unwrap();
    let mut agent = Agent::start_with_env(
        &["run"],
        &[
            ("SEISMO_CONFIG", config.to_str().unwrap()),
            ("SEISMO_LOG_FORMAT", "json"),
            ("SEISMO_STATE_DIR", env_state.to_str().unwrap()),
            ("SEISMO_HOST_INTERVAL", "1s"),
        ],
    );
    let started = agent
        .wait_stderr(START, |l| l.contains("seismo started"))
        .unwrap_or_else(|| panic!("no start line: {}", agent.seen_stderr.join("\n")));
    let started: serde_json::Value = serde_json::from_str(&started)
        .unwrap_or_else(|e| panic!("SEISMO_LOG_FORMAT=json gave a non-JSON line ({e}): {started}"));
    assert_eq!(started["state_dir"], env_state.to_str().unwrap());
    assert_eq!(started["interval"], "1s");
    assert!(env_state.join("seismo.lock").exists());
    assert!(!file_state.exists(), "the file's state_dir was used");
    let overridden = agent
        .seen_stderr
        .iter()
        .find(|l| l.contains("overridden from the environment"))
        .expect("the overrides are logged");
    assert!(
        overridden.contains("SEISMO_STATE_DIR") && overridden.contains("SEISMO_LOG_FORMAT"),
        "{overridden}"
    );
    agent.signal(libc::SIGTERM);
    assert!(agent.wait_exit(Duration::from_secs(15)).0.success());
}

#[test]
fn a_bad_override_is_refused_like_a_bad_file() {
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let out = Command::new(seismo_bin())
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, err, _) = run(&[("SEISMO_LOG_FORMAT", "jsn")], &["run"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "$SEISMO_LOG_FORMAT:2:10: unknown value `jsn` in [logging]. Did you mean `json`?"
        ),
        "{err}"
    );
    let (code, err, _) = run(&[("SEISMO_LOG_FROMAT", "json")], &["run"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("Did you mean `SEISMO_LOG_FORMAT`?"), "{err}");
    let (code, err, _) = run(&[("SEISMO_CONFIG", "/nonexistent/seismo.toml")], &["run"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("/nonexistent/seismo.toml: cannot read"),
        "{err}"
    );
    // check-config applies what `run` would apply, and says so.
    let file = seismo_e2e::repo_root().join("config/seismo.toml");
    let (code, err, out) = run(
        &[("SEISMO_MQTT_PORT", "nope")],
        &["check-config", file.to_str().unwrap()],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(
        err.contains("$SEISMO_MQTT_PORT") && err.contains("wrong type for `port` in [sinks.mqtt]"),
        "{err}"
    );
    let (code, _, out) = run(
        &[("SEISMO_LOG_LEVEL", "debug")],
        &["check-config", file.to_str().unwrap()],
    );
    assert_eq!(code, Some(0));
    assert!(out.ends_with("ok (with SEISMO_LOG_LEVEL)\n"), "{out}");
}

/// Containerfile instructions: (stage index, INSTRUCTION, arguments), line continuations joined.
fn instructions(text: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut stage = 0usize;
    let mut pending = String::new();
    for line in text.lines() {
        let t = line.trim();
        if pending.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(cont) = t.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        pending.push_str(t);
        let full = std::mem::take(&mut pending);
        let (op, args) = full.split_once(char::is_whitespace).unwrap_or((&full, ""));
        let op = op.to_ascii_uppercase();
        if op == "FROM" {
            stage += 1;
        }
        out.push((stage, op, args.trim().to_owned()));
    }
    out
}

#[test]
fn the_containerfile_is_a_multi_stage_non_root_build() {
    let text = seismo_e2e::repo_file("packaging/Containerfile");
    let ins = instructions(&text);
    let froms: Vec<&str> = ins
        .iter()
        .filter(|(_, op, _)| op == "FROM")
        .map(|(_, _, a)| a.as_str())
        .collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(
        froms[0].contains("rust:")
            && froms[0].contains("bookworm")
            && froms[0].ends_with(" AS builder"),
        "{froms:?}"
    );
    assert!(
        froms[1].contains("debian:bookworm-slim") || froms[1].contains("distroless"),
        "{froms:?}"
    );
    let final_stage: Vec<(&str, &str)> = ins
        .iter()
        .filter(|(s, _, _)| *s == 2)
        .map(|(_, op, a)| (op.as_str(), a.as_str()))
        .collect();
    let builder: Vec<&str> = ins
        .iter()
        .filter(|(s, op, _)| *s == 1 && op == "RUN")
        .map(|(_, _, a)| a.as_str())
        .collect();
    assert!(
        builder
            .iter()
            .any(|r| r.contains("cargo auditable build --release --locked -p seismo")),
        "{builder:?}"
    );
    // Profile-guided, as the .deb's binary (.ci/deb): the profile of packaging/pgo-profile.sh.
    assert!(
        builder
            .iter()
            .any(|r| r.contains("packaging/pgo-profile.sh")
                && r.contains("RUSTFLAGS=\"-Cprofile-use=$profile\" cargo auditable build")),
        "{builder:?}"
    );
    // The runtime stage gets only the binary from the builder, no toolchain.
    assert!(final_stage.iter().any(|(op, a)| *op == "COPY"
        && a.starts_with("--from=builder")
        && a.ends_with("/usr/bin/seismo")));
    // The last USER is a numeric non-root uid (Kubernetes' runAsNonRoot needs a number).
    let user = final_stage
        .iter()
        .rev()
        .find(|(op, _)| *op == "USER")
        .expect("a USER in the runtime stage")
        .1;
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("numeric USER");
    assert_ne!(uid, 0);
    let entry = final_stage
        .iter()
        .find(|(op, _)| *op == "ENTRYPOINT")
        .expect("ENTRYPOINT")
        .1;
    let entry: Vec<String> = serde_json::from_str(entry).expect("ENTRYPOINT in exec (JSON) form");
    assert_eq!(entry, ["/usr/bin/seismo"]);
    let cmd: Vec<String> =
        serde_json::from_str(final_stage.iter().find(|(op, _)| *op == "CMD").unwrap().1).unwrap();
    assert_eq!(cmd, ["run"]);
    // Every SEISMO_* variable it sets is one the agent knows, and logs are JSON.
    let env: Vec<&str> = final_stage
        .iter()
        .filter(|(op, _)| *op == "ENV")
        .map(|(_, a)| *a)
        .collect();
    let vars: BTreeMap<&str, &str> = env
        .iter()
        .flat_map(|a| a.split_whitespace())
        .filter_map(|kv| kv.split_once('='))
        .collect();
    assert_eq!(vars.get("SEISMO_LOG_FORMAT"), Some(&"json"));
    assert_eq!(vars.get("GLIBC_TUNABLES"), Some(&TUNABLES));
    for var in vars.keys().filter(|k| k.starts_with("SEISMO_")) {
        assert!(
            seismo_config::OVERRIDES.iter().any(|o| o.var == *var),
            "unknown {var}"
        );
    }
    // The build context filter keeps target/ out.
    assert!(
        seismo_e2e::repo_file("packaging/Containerfile.dockerignore")
            .lines()
            .any(|l| l.trim() == "target")
    );
}

fn docs(text: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("sidecar.yaml is not YAML: {e}"))
}

#[test]
fn the_kubernetes_sidecar_shares_the_app_s_log_volume() {
    let docs = docs(&seismo_e2e::repo_file("packaging/kubernetes/sidecar.yaml"));
    let kind = |d: &Yaml| d["kind"].as_str().unwrap_or("").to_owned();
    let cm = docs
        .iter()
        .find(|d| kind(d) == "ConfigMap")
        .expect("a ConfigMap");
    let pod = docs.iter().find(|d| kind(d) == "Pod").expect("a Pod");
    for d in &docs {
        assert_eq!(d["apiVersion"].as_str(), Some("v1"));
    }
    // The config it mounts is valid for the real parser.
    let toml = cm["data"]["seismo.toml"]
        .as_str()
        .expect("seismo.toml in the ConfigMap");
    let config =
        seismo_config::parse(toml, "sidecar.yaml seismo.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.sources.files.len(), 1);

    let spec = &pod["spec"];
    let containers = spec["containers"].as_vec().expect("containers");
    assert_eq!(containers.len(), 2);
    let seismo = containers
        .iter()
        .find(|c| c["name"].as_str() == Some("seismo"))
        .expect("a seismo container");
    let app = containers
        .iter()
        .find(|c| c["name"].as_str() != Some("seismo"))
        .unwrap();
    let empty_dirs: BTreeSet<&str> = spec["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .filter(|v| !v["emptyDir"].is_badvalue())
        .filter_map(|v| v["name"].as_str())
        .collect();
    let mounts = |c: &Yaml| -> BTreeMap<String, (String, bool)> {
        c["volumeMounts"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap().to_owned(),
                    (
                        m["mountPath"].as_str().unwrap().to_owned(),
                        m["readOnly"].as_bool().unwrap_or(false),
                    ),
                )
            })
            .collect()
    };
    let (sm, am) = (mounts(seismo), mounts(app));
    let shared: Vec<&String> = sm
        .keys()
        .filter(|n| am.contains_key(*n) && empty_dirs.contains(n.as_str()))
        .collect();
    assert_eq!(
        shared.len(),
        1,
        "one emptyDir shared by the app and seismo: {sm:?} {am:?}"
    );
    let (log_dir, read_only) = &sm[shared[0]];
    assert!(*read_only, "seismo mounts the app's logs read-only");
    // The file source watches that shared directory.
    for p in &config.sources.files[0].paths {
        assert!(
            p.pattern().starts_with(log_dir.as_str()),
            "{} is not under {log_dir}",
            p.pattern()
        );
    }
    // The config file SEISMO_CONFIG names is the mounted ConfigMap.
    let env: BTreeMap<&str, &Yaml> = seismo["env"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e))
        .collect();
    let config_path = env["SEISMO_CONFIG"]["value"].as_str().unwrap();
    let (config_dir, _) = sm
        .values()
        .find(|(path, _)| config_path.starts_with(path.as_str()))
        .expect("SEISMO_CONFIG under a mount");
    assert_eq!(
        Path::new(config_path).parent().unwrap(),
        Path::new(config_dir)
    );
    for var in env
        .keys()
        .filter(|k| k.starts_with("SEISMO_") && **k != seismo_config::CONFIG_VAR)
    {
        assert!(
            seismo_config::OVERRIDES.iter().any(|o| o.var == *var),
            "unknown {var}"
        );
    }
    // Non-root, no privilege escalation, read-only root file system.
    let sc = &seismo["securityContext"];
    assert_ne!(sc["runAsUser"].as_i64(), Some(0));
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(
        spec["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
    // With a read-only root, the state directory must be a volume.
    assert!(sm.values().any(|(p, ro)| p == "/var/lib/seismo" && !ro));
}

/// Copies a directory tree but for `target/` directories.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            if entry.file_name() != "target" {
                copy_tree(&src, &dst);
            }
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// `(name, version)` of the crates `cargo tree` prints, one per line (`--prefix none`).
fn tree_crates(stdout: &[u8]) -> BTreeSet<(String, String)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?.to_owned();
            let version = it.next()?.trim_start_matches('v').to_owned();
            Some((name, version))
        })
        .collect()
}

#[test]
fn the_sbom_is_cargo_cyclonedx_s_description_of_the_binary() {
    // .ci/deb makes the package's SBOM with exactly this command (then checks the packaged
    // file); this test runs it on a copy of the workspace, so the source tree stays clean.
    const ARGS: [&str; 7] = [
        "--format",
        "json",
        "--spec-version",
        "1.5",
        "--describe",
        "binaries",
        "--target",
    ];
    let ci = seismo_e2e::repo_file(".ci/deb").replace("\\\n", " ");
    let ci = ci.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        ci.contains(&format!(
            "cargo cyclonedx --manifest-path agent/Cargo.toml {} \"$host\"",
            ARGS.join(" ")
        )),
        ".ci/deb no longer runs the command this test checks"
    );
    let cargo = env!("CARGO");
    let installed = Command::new(cargo)
        .args(["cyclonedx", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        println!(
            "cargo-cyclonedx is not installed: SBOM not checked (.ci/deb installs it and checks \
             the packaged SBOM)"
        );
        return;
    }
    let rustc = Command::new("rustc").arg("-vV").output().unwrap();
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc -vV names the host");

    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    for file in ["Cargo.toml", "Cargo.lock"] {
        std::fs::copy(seismo_e2e::repo_root().join(file), ws.join(file)).unwrap();
    }
    for member in ["config", "detectors", "agent", "tests"] {
        copy_tree(&seismo_e2e::repo_root().join(member), &ws.join(member));
    }
    let out = Command::new(cargo)
        .arg("cyclonedx")
        .arg("--manifest-path")
        .arg(ws.join("agent/Cargo.toml"))
        .args(ARGS)
        .arg(&host)
        .arg("-q")
        .current_dir(ws)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(ws.join("agent/seismo_bin.cdx.json"))
        .expect("cargo cyclonedx wrote agent/seismo_bin.cdx.json");
    let bom: serde_json::Value = serde_json::from_str(&text).expect("the SBOM is JSON");
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    assert!(bom["serialNumber"]
        .as_str()
        .is_some_and(|s| s.starts_with("urn:uuid:")));
    let root = &bom["metadata"]["component"];
    assert_eq!(root["name"], "seismo");
    assert_eq!(root["type"], "application");
    let workspace: toml::Table = toml::from_str(&seismo_e2e::repo_file("Cargo.toml")).unwrap();
    let version = workspace["workspace"]["package"]["version"]
        .as_str()
        .unwrap();
    assert_eq!(root["version"], version);

    // Every component is a locked crate, named by its purl.
    let lock: toml::Table = toml::from_str(&seismo_e2e::repo_file("Cargo.lock")).unwrap();
    let locked: BTreeSet<(String, String)> = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let components = bom["components"].as_array().unwrap();
    let mut by_ref = BTreeMap::new();
    for c in components {
        let key = (
            c["name"].as_str().unwrap().to_owned(),
            c["version"].as_str().unwrap().to_owned(),
        );
        assert!(locked.contains(&key), "{key:?} is not in Cargo.lock");
        assert!(
            c["purl"]
                .as_str()
                .unwrap()
                .starts_with(&format!("pkg:cargo/{}@{}", key.0, key.1)),
            "{c}"
        );
        by_ref.insert(c["bom-ref"].as_str().unwrap().to_owned(), key);
    }
    let names: BTreeSet<&str> = by_ref.values().map(|(n, _)| n.as_str()).collect();
    for dev_only in ["criterion", "seismo-e2e", "yaml-rust2", "proptest"] {
        assert!(
            !names.contains(dev_only),
            "{dev_only} is a dev-dependency, not in the binary"
        );
    }

    // seismo's direct dependencies, with their versions, are what cargo resolves for it.
    let root_ref = root["bom-ref"].as_str().unwrap();
    let direct: BTreeSet<(String, String)> = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == root_ref)
        .expect("the binary's dependency entry")["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| by_ref[r.as_str().unwrap()].clone())
        .collect();
    let tree = Command::new(cargo)
        .args(["tree", "--locked", "-p", "seismo", "-e", "normal,build"])
        .args(["--depth", "1", "--prefix", "none", "--target", &host])
        .current_dir(seismo_e2e::repo_root())
        .output()
        .unwrap();
    assert!(
        tree.status.success(),
        "{}",
        String::from_utf8_lossy(&tree.stderr)
    );
    let mut from_tree = tree_crates(&tree.stdout);
    from_tree.retain(|(name, _)| name != "seismo");
    assert_eq!(direct, from_tree);
    for linked in [
        "tokio",
        "sysinfo",
        "rumqttc",
        "seismo-config",
        "seismo-detectors",
    ] {
        assert!(
            direct.iter().any(|(n, _)| n == linked),
            "{linked} is not listed"
        );
    }
    // And everything the binary links, transitively, is a component.
    let all = Command::new(cargo)
        .args(["tree", "--locked", "-p", "seismo", "-e", "normal"])
        .args(["--prefix", "none", "--target", &host])
        .current_dir(seismo_e2e::repo_root())
        .output()
        .unwrap();
    for (name, version) in tree_crates(&all.stdout) {
        if name != "seismo" {
            assert!(
                by_ref
                    .values()
                    .any(|k| k == &(name.clone(), version.clone())),
                "{name} {version} is linked but not in the SBOM"
            );
        }
    }
}
