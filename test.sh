#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine with the Rust toolchain: installs the peers
# the end-to-end tests run for real when they are missing (Mosquitto, Prometheus Alertmanager,
# Chromium, openssl, systemd-analyze) and the Kubernetes schema validator (PyPI's
# kubernetes-validate, in a virtualenv under the target directory), then runs every test of the
# workspace.
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
if [ ${#need[@]} -gt 0 ]; then
    echo "test.sh: installing ${need[*]} (the end-to-end tests run them)" >&2
    $SUDO apt-get update
    $SUDO apt-get install -y "${need[@]}"
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
cargo test --workspace --locked --all-features
