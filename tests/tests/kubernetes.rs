//! The Kubernetes manifests under packaging/kubernetes/: both validate against the Kubernetes
//! API schema (PyPI's `kubernetes-validate`, which bundles the schemas and works offline;
//! `./test.sh` installs it), and the DaemonSet mounts, probes and configures what the agent
//! reads, as the agent's own config parser and environment overrides understand it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

const MANIFESTS: [&str; 2] = [
    "packaging/kubernetes/sidecar.yaml",
    "packaging/kubernetes/daemonset.yaml",
];

/// The validator: `$SEISMO_KUBERNETES_VALIDATE` (test.sh sets it, and then it must work), else
/// `kubernetes-validate` on PATH, else the virtualenv test.sh makes in the target directory.
fn validator() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SEISMO_KUBERNETES_VALIDATE") {
        return Some(PathBuf::from(p));
    }
    let works = |p: &Path| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let on_path = PathBuf::from("kubernetes-validate");
    if works(&on_path) {
        return Some(on_path);
    }
    // target/<profile>/deps/<test> → target/kubernetes-validate/bin/kubernetes-validate
    let exe = std::env::current_exe().ok()?;
    let venv = exe
        .ancestors()
        .nth(3)?
        .join("kubernetes-validate/bin/kubernetes-validate");
    works(&venv).then_some(venv)
}

#[test]
fn both_manifests_validate_against_the_kubernetes_api_schema() {
    let Some(validate) = validator() else {
        println!(
            "kubernetes-validate is not installed: manifests not validated \
             (./test.sh installs it; or `pip install kubernetes-validate`)"
        );
        return;
    };
    for manifest in MANIFESTS {
        let docs = YamlLoader::load_from_str(&seismo_e2e::repo_file(manifest))
            .unwrap_or_else(|e| panic!("{manifest} is not YAML: {e}"));
        // --strict: unknown fields (a misspelt key) are errors, not silently dropped.
        let out = Command::new(&validate)
            .args(["--strict", "--no-warn"])
            .arg(seismo_e2e::repo_root().join(manifest))
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", validate.display()));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{manifest}:\n{text}");
        // Every resource was checked against a schema (none skipped as unknown).
        let passed = text.lines().filter(|l| l.contains(" passed for ")).count();
        assert_eq!(passed, docs.len(), "{manifest}:\n{text}");
        println!("{}", text.trim_end());
    }
}

#[test]
fn the_validator_refuses_a_misspelt_field() {
    let Some(validate) = validator() else {
        println!("kubernetes-validate is not installed");
        return;
    };
    let text = seismo_e2e::repo_file("packaging/kubernetes/daemonset.yaml")
        .replace("readOnlyRootFilesystem", "readOnlyRootFileSystem");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("daemonset.yaml");
    std::fs::write(&bad, text).unwrap();
    let out = Command::new(&validate)
        .args(["--strict", "--no-warn"])
        .arg(&bad)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("readOnlyRootFileSystem"), "{stdout}");
}

fn kind<'a>(docs: &'a [Yaml], kind: &str) -> &'a Yaml {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn by_name(list: &Yaml) -> BTreeMap<String, &Yaml> {
    list.as_vec()
        .map(|v| v.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e))
        .collect()
}

#[test]
fn the_daemonset_runs_one_hardened_agent_per_node_with_its_logs_state_and_probes() {
    let docs = YamlLoader::load_from_str(&seismo_e2e::repo_file(
        "packaging/kubernetes/daemonset.yaml",
    ))
    .unwrap();
    let ds = kind(&docs, "DaemonSet");
    assert_eq!(ds["apiVersion"].as_str(), Some("apps/v1"));
    let cm = kind(&docs, "ConfigMap");
    assert_eq!(cm["metadata"]["namespace"], ds["metadata"]["namespace"]);

    // The config the pod mounts, as the agent parses it.
    let toml = cm["data"]["seismo.toml"].as_str().expect("seismo.toml");
    let config =
        seismo_config::parse(toml, "daemonset.yaml seismo.toml").unwrap_or_else(|e| panic!("{e}"));

    let spec = &ds["spec"]["template"]["spec"];
    // The node's processes and interfaces (host metrics read /proc and /sys/class/net).
    assert_eq!(spec["hostPID"].as_bool(), Some(true));
    assert_eq!(spec["hostNetwork"].as_bool(), Some(true));
    assert_eq!(spec["dnsPolicy"].as_str(), Some("ClusterFirstWithHostNet"));

    let containers = by_name(&spec["containers"]);
    assert_eq!(containers.len(), 1);
    let seismo = containers["seismo"];
    let volumes = by_name(&spec["volumes"]);
    let mounts: BTreeMap<String, (String, bool)> = by_name(&seismo["volumeMounts"])
        .into_iter()
        .map(|(name, m)| {
            (
                m["mountPath"].as_str().unwrap().to_owned(),
                (name, m["readOnly"].as_bool().unwrap_or(false)),
            )
        })
        .collect();
    let host_path = |mount: &str| -> (&str, bool) {
        let (volume, read_only) = mounts
            .get(mount)
            .unwrap_or_else(|| panic!("nothing mounted at {mount}: {mounts:?}"));
        let path = volumes[volume]["hostPath"]["path"]
            .as_str()
            .unwrap_or_else(|| panic!("{volume} is not a hostPath"));
        (path, *read_only)
    };
    // Container logs: the links kubelet names after the pod and the files they point to, from
    // the node, read-only, at the node's paths (so the links resolve).
    for dir in ["/var/log/containers", "/var/log/pods"] {
        assert_eq!(host_path(dir), (dir, true), "{dir}");
    }
    // /proc and /sys are the container's own (see the comments): never the node's mounted
    // over them, which would break /proc/self.
    assert!(!mounts.contains_key("/proc") && !mounts.contains_key("/sys"));

    let env: BTreeMap<String, &Yaml> = by_name(&seismo["env"]);
    for var in env.keys().filter(|k| k.starts_with("SEISMO_")) {
        assert!(
            var == seismo_config::CONFIG_VAR
                || seismo_config::OVERRIDES.iter().any(|o| o.var == var),
            "unknown {var}"
        );
    }
    let value = |var: &str| env[var]["value"].as_str().unwrap().to_owned();
    // State on the node, writable, where SEISMO_STATE_DIR points.
    let state_dir = value("SEISMO_STATE_DIR");
    let (state_host, read_only) = host_path(&state_dir);
    assert!(!read_only);
    assert!(state_host.starts_with("/var/lib/"), "{state_host}");
    // The config file is the ConfigMap.
    let config_path = value("SEISMO_CONFIG");
    let config_dir = Path::new(&config_path).parent().unwrap().to_str().unwrap();
    let (config_volume, read_only) = &mounts[config_dir];
    assert!(*read_only);
    assert_eq!(
        volumes[config_volume]["configMap"]["name"],
        cm["metadata"]["name"]
    );
    assert_eq!(
        env["SEISMO_HOST_NAME"]["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        Some("spec.nodeName")
    );

    // The file source reads the mounted kubelet names (pod metadata) and skips the agent's own
    // container (namespace and container "seismo").
    let namespace = ds["metadata"]["namespace"].as_str().unwrap();
    let pods = config
        .sources
        .files
        .iter()
        .find(|s| {
            s.paths
                .iter()
                .any(|p| p.pattern().starts_with("/var/log/containers/"))
        })
        .expect("a file source on /var/log/containers");
    let id = "4f1c2e9a8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e";
    let own = format!("/var/log/containers/seismo-x2bq7_{namespace}_seismo-{id}.log");
    let other = format!("/var/log/containers/web-7f9c4d-x2bq_shop_nginx-{id}.log");
    assert!(pods.paths.iter().any(|p| p.is_match(Path::new(&other))));
    assert!(pods.exclude.iter().any(|p| p.is_match(Path::new(&own))));
    assert!(!pods.exclude.iter().any(|p| p.is_match(Path::new(&other))));
    assert!(config.sources.host.enabled);

    // Hardened: not root, no privilege escalation, no capabilities, read-only root.
    let sc = &seismo["securityContext"];
    assert_ne!(sc["runAsUser"].as_i64(), Some(0));
    assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(
        sc["capabilities"]["drop"].as_vec().unwrap(),
        &[Yaml::String("ALL".into())]
    );
    assert!(sc["privileged"].is_badvalue());
    // The init container that hands the state directory to the agent's user.
    let init = by_name(&spec["initContainers"]);
    let owner = init.values().next().expect("an init container");
    let script = owner["command"].as_vec().unwrap().last().unwrap();
    assert!(
        script.as_str().unwrap().contains(&format!(
            "chown {0}:{0} {state_dir}",
            sc["runAsUser"].as_i64().unwrap()
        )),
        "{script:?}"
    );
    assert_eq!(
        owner["securityContext"]["capabilities"]["add"]
            .as_vec()
            .unwrap(),
        &[Yaml::String("CHOWN".into())]
    );

    for what in ["requests", "limits"] {
        for res in ["cpu", "memory"] {
            assert!(
                seismo["resources"][what][res].as_str().is_some(),
                "resources.{what}.{res}"
            );
        }
    }

    // Probes on /healthz and /readyz, at the address the agent's [http] listens on.
    assert!(config.http.enabled);
    let listen = config.http.listen;
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/readyz"),
    ] {
        let get = &seismo[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        assert_eq!(
            get["port"].as_i64(),
            Some(i64::from(listen.port())),
            "{probe}"
        );
        // kubelet connects to `host`, else to the pod's IP, which is the node's with
        // hostNetwork; an agent on loopback needs host 127.0.0.1.
        match get["host"].as_str() {
            Some(host) => assert_eq!(host.parse::<std::net::IpAddr>().ok(), Some(listen.ip())),
            None => assert!(listen.ip().is_unspecified(), "{probe}: {listen}"),
        }
    }
}
