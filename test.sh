#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine with the Rust toolchain: installs the peers
# the end-to-end tests run for real when they are missing (Mosquitto, Prometheus Alertmanager,
# promtool, Chromium, openssl, systemd-analyze) and the Kubernetes schema validator (PyPI's
# kubernetes-validate, in a virtualenv under the target directory), then runs every test of the
# workspace beside a seismo on the default port 127.0.0.1:9464 (see below).
#
# The labelled evaluation data (NAB, Loghub) is read from $SEISMO_EVAL_DATA when it is set;
# without it those tests are skipped (ignored), so a fresh clone of the project alone passes.
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export PATH="$PATH:/usr/sbin"

need=()
command -v mosquitto >/dev/null 2>&1 || need+=(mosquitto)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# Debian's python3 makes virtualenvs only with python3-venv (ensurepip).
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
# promtool (Debian's prometheus package) checks /metrics and the example alerting rules
# (tests/tests/prometheus.rs). Without recommends: they add node-exporter, another daemon.
need_bare=()
command -v promtool >/dev/null 2>&1 || need_bare+=(prometheus)
if [ ${#need[@]} -gt 0 ] || [ ${#need_bare[@]} -gt 0 ]; then
    echo "test.sh: installing ${need[*]} ${need_bare[*]} (the end-to-end tests run them)" >&2
    $SUDO apt-get update
    if [ ${#need[@]} -gt 0 ]; then $SUDO apt-get install -y "${need[@]}"; fi
    if [ ${#need_bare[@]} -gt 0 ]; then $SUDO apt-get install -y --no-install-recommends "${need_bare[@]}"; fi
fi

# The manifests under packaging/kubernetes/ are validated against the Kubernetes API schemas
# that kubernetes-validate bundles (offline once installed; tests/tests/kubernetes.rs).
target="${CARGO_TARGET_DIR:-$(pwd)/target}"
venv="$target/kubernetes-validate"
if ! "$venv/bin/kubernetes-validate" --version >/dev/null 2>&1; then
    echo "test.sh: installing kubernetes-validate in $venv (the manifest tests run it)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'kubernetes-validate==1.37.*'
fi
export SEISMO_KUBERNETES_VALIDATE="$venv/bin/kubernetes-validate"

# --all-features: the fuzz targets' entry points (feature `fuzzing`) run on their corpus too.
# Built first (the same build the run below uses) for the agent started next.
cargo test --workspace --locked --all-features --no-run

# Tests share a machine: no test may bind or expect the default port. To prove it, the suite
# runs beside a seismo serving HTTP on 127.0.0.1:9464 (the embedded default config, its state
# in a temporary folder), stopped afterwards. When something holds that port already (an
# installed seismo service, say), that is the same proof and none is started.
seismo_bin="$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug/seismo"
answers() { # answers PATH: 0 when GET http://127.0.0.1:9464/PATH is 200
    python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
sys.exit(0 if opener.open("http://127.0.0.1:9464/" + sys.argv[1], timeout=2).status == 200 else 1)
PY
}
port_taken() {
    python3 -c 'import socket; socket.create_connection(("127.0.0.1", 9464), timeout=2).close()' 2>/dev/null
}
agent_pid=""
agent_dir=""
stop_agent() {
    if [ -n "$agent_pid" ]; then
        kill -TERM "$agent_pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$agent_pid" 2>/dev/null || true
        wait "$agent_pid" 2>/dev/null || true
        agent_pid=""
    fi
    if [ -n "$agent_dir" ]; then rm -rf "$agent_dir"; agent_dir=""; fi
}
trap stop_agent EXIT
trap 'stop_agent; exit 130' INT
trap 'stop_agent; exit 143' TERM
if port_taken; then
    echo "test.sh: 127.0.0.1:9464 is taken (an installed seismo?): the suite runs beside it" >&2
else
    agent_dir="$(mktemp -d)"
    SEISMO_STATE_DIR="$agent_dir/state" "$seismo_bin" run >"$agent_dir/stdout" 2>"$agent_dir/stderr" &
    agent_pid=$!
    for _ in $(seq 300); do
        answers healthz && break
        kill -0 "$agent_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! answers healthz; then
        echo "test.sh: the seismo started on 127.0.0.1:9464 does not answer /healthz; its stderr:" >&2
        cat "$agent_dir/stderr" >&2
        exit 1
    fi
    echo "test.sh: seismo (pid $agent_pid) serves 127.0.0.1:9464; the suite runs beside it" >&2
fi

cargo test --workspace --locked --all-features

if [ -n "$agent_pid" ]; then
    answers healthz || { echo "test.sh: the seismo on 127.0.0.1:9464 stopped answering /healthz during the suite" >&2; exit 1; }
fi
stop_agent
