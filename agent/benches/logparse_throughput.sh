#!/usr/bin/env bash
# Throughput of `seismo logparse` on a 1,000,000-line mixed syslog/nginx/application log, and of
# drain3 (PyPI) on the same file in the same run: its default configuration and its documented
# masking configuration. drain3 goes into a throwaway virtualenv under a temporary directory.
#
#   agent/benches/logparse_throughput.sh [LINES]
#
# Figures are lines per CPU second (user + sys, the process's own time: fair on a shared box)
# and per wall-clock second (seismo: the median of 5 runs; drain3's default: the median of 3),
# for seismo's plain release build and for the profile-guided build the .deb ships (see
# packaging/pgo-profile.sh, whose training log is not this benchmark's).
# Needs python3 with venv, network access to PyPI, and rustup's llvm-tools (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
LINES="${1:-1000000}"
DRAIN3_VERSION="0.9.11"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Two binaries: the plain release build (`cargo build --release`), and the profile-guided one the
# .deb and the image ship (packaging/pgo-profile.sh), built in a target directory of its own so
# that its RUSTFLAGS leave the plain build's artifacts alone.
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -p seismo >&2
PLAIN="$TARGET/release/seismo"
profile="$(packaging/pgo-profile.sh)"
RUSTFLAGS="-Cprofile-use=$profile" cargo build --release --locked -p seismo --target-dir "$TARGET/pgo-use" >&2
PGO="$TARGET/pgo-use/release/seismo"

python3 agent/benches/gen_mixed_log.py "$LINES" > "$WORK/mixed.log"
echo "input: $LINES lines, $(du -m "$WORK/mixed.log" | cut -f1) MB" >&2

python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "drain3==$DRAIN3_VERSION"

# drain3's documented masking (examples/drain3.ini of logpai/Drain3): the [MASKING] section only.
cat > "$WORK/masking.ini" <<'INI'
[MASKING]
masking = [
          {"regex_pattern":"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)", "mask_with": "ID"},
          {"regex_pattern":"((?<=[^A-Za-z0-9])|^)(\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3})((?=[^A-Za-z0-9])|$)", "mask_with": "IP"},
          {"regex_pattern":"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)", "mask_with": "SEQ"},
          {"regex_pattern":"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)", "mask_with": "SEQ"},
          {"regex_pattern":"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "mask_with": "HEX"},
          {"regex_pattern":"((?<=[^A-Za-z0-9])|^)([\\-\\+]?\\d+)((?=[^A-Za-z0-9])|$)", "mask_with": "NUM"},
          {"regex_pattern":"(?<=executed cmd )(\".+?\")", "mask_with": "CMD"}
          ]
mask_prefix = <:
mask_suffix = :>
INI

# seismo: 5 runs of each binary, the median by CPU time (and that run's wall time) reported,
# output discarded. CPU time is the child's rusage (microseconds; `time`'s %U/%S round to 10 ms,
# 3 % of a run). The two binaries alternate, so that a change in the machine's load falls on both.
runs_plain=""
runs_pgo=""
one_run() {
    python3 - "$1" "$WORK/mixed.log" "$WORK/summary" <<'PY'
import resource, subprocess, sys, time
# Two readings, subtracted: a python3 launcher (pyenv's) leaves its own children's time there.
cpu = lambda r: r.ru_utime + r.ru_stime
r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
with open(sys.argv[3], "wb") as err:
    subprocess.run([sys.argv[1], "logparse", sys.argv[2]], stdout=subprocess.DEVNULL, stderr=err, check=True)
wall = time.perf_counter() - t0
print(f"{cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - cpu(r0):.3f} {wall:.3f}")
PY
}
for _ in 1 2 3 4 5; do
    runs_plain="$runs_plain$(one_run "$PLAIN")
"
    runs_pgo="$runs_pgo$(one_run "$PGO")
"
done
read -r plain_cpu plain_wall <<< "$(printf '%s' "$runs_plain" | sort -n | sed -n 3p)"
read -r best_cpu best_wall <<< "$(printf '%s' "$runs_pgo" | sort -n | sed -n 3p)"
echo "seismo logparse (plain build), CPU seconds of the 5 runs: $(printf '%s' "$runs_plain" | sort -n | cut -d' ' -f1 | tr '\n' ' ')"
echo "seismo logparse (profile-guided), CPU seconds of the 5 runs: $(printf '%s' "$runs_pgo" | sort -n | cut -d' ' -f1 | tr '\n' ' ')"
templates=$(head -1 "$WORK/summary" | sed -E 's/^[0-9]+ lines, ([0-9]+) templates.*/\1/')
echo "seismo logparse: $LINES lines, $templates templates, profile-guided ${best_cpu} cpu_s ${best_wall} wall_s, plain ${plain_cpu} cpu_s ${plain_wall} wall_s"

# drain3's default: 3 runs, the median by CPU time (its own time varies by a quarter from run to
# run on a shared machine, so one run says little about the ratio).
d_runs=""
for _ in 1 2 3; do
    d=$(cd "$WORK" && "$WORK/venv/bin/python" "$OLDPWD/agent/benches/drain3_throughput.py" "$WORK/mixed.log" default)
    echo "$d"
    d_runs="$d_runs$d
"
done
d_default=$(printf '%s' "$d_runs" | sort -k5 -n | sed -n 2p)
echo "drain3 default, median of 3: $d_default"
d_masked=$(cd "$WORK" && "$WORK/venv/bin/python" "$OLDPWD/agent/benches/drain3_throughput.py" "$WORK/mixed.log" masked "$WORK/masking.ini")
echo "$d_masked"

python3 - "$LINES" "$best_cpu" "$best_wall" "$plain_cpu" "$plain_wall" "$d_default" "$d_masked" <<'PY'
import sys
n = int(sys.argv[1])
seismo = {"profile-guided": (float(sys.argv[2]), float(sys.argv[3])),
          "plain build": (float(sys.argv[4]), float(sys.argv[5]))}
def parse(s):
    f = s.split()
    return float(f[4]), float(f[6])
print()
print("| tool | lines/s (CPU) | lines/s (wall) | profile-guided seismo ahead (CPU) | (wall) "
      "| plain seismo ahead (CPU) | (wall) |")
print("|---|---|---|---|---|---|---|")
for name, (c, w) in seismo.items():
    print(f"| seismo logparse, {name} | {n / c:,.0f} | {n / w:,.0f} | | | | |")
(pc, pw), (qc, qw) = seismo["profile-guided"], seismo["plain build"]
for name, s in (("drain3, default", sys.argv[6]), ("drain3, masking", sys.argv[7])):
    dc, dw = parse(s)
    print(f"| {name} | {n / dc:,.0f} | {n / dw:,.0f} | {dc / pc:.1f}x | {dw / pw:.1f}x "
          f"| {dc / qc:.1f}x | {dw / qw:.1f}x |")
PY
