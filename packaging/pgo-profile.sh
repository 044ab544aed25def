#!/usr/bin/env bash
# Profile-guided optimisation of the release binary, step one: builds an instrumented seismo,
# runs it on a training log and merges what it counted into one profile, whose path it prints.
# The release build then reads it:
#
#   profile="$(packaging/pgo-profile.sh)"
#   RUSTFLAGS="-Cprofile-use=$profile" cargo build --release --locked -p seismo
#
# The profile tells the compiler which branches are taken and which functions are hot, so it
# lays out and inlines the log path (header, masking, miner) for the common case: 8 % fewer
# instructions and about 10 % less CPU time a line (docs/performance.md, "Profile-guided
# build"). It changes no behaviour: the same source is compiled, only arranged differently.
#
# The training log (packaging/pgo_train_log.py) holds many common layouts, not the benchmark's
# three, so that no one log's paths are favoured. Needs rustup's llvm-tools component (for
# llvm-profdata, of the same LLVM as rustc: installed here when missing) and python3.
# Works under $CARGO_TARGET_DIR (default target/): target/pgo-gen/ for the instrumented build.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-$(pwd)/target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
gen="$target/pgo-gen"
raw="$target/pgo-raw"
profile="$target/pgo/seismo.profdata"

host="$(rustc -vV | sed -n 's/^host: //p')"
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
    rustup component add llvm-tools >&2
fi
[ -x "$profdata" ] || { echo "pgo-profile.sh: no llvm-profdata at $profdata" >&2; exit 1; }

# The instrumented build has a target directory of its own: its RUSTFLAGS would otherwise
# invalidate the normal release build's artifacts.
rm -rf "$raw"
RUSTFLAGS="-Cprofile-generate=$raw" \
    cargo build --release --locked -p seismo --target-dir "$gen" >&2

# Training: the miner on the raw lines (header recognition), with a format, and in the finer
# variable form, as `seismo logparse` and the agent's sources run it.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 packaging/pgo_train_log.py 200000 > "$work/train.log"
bin="$gen/release/seismo"
"$bin" logparse "$work/train.log" > /dev/null 2>&1
"$bin" logparse --template-variables parts "$work/train.log" > /dev/null 2>&1
"$bin" logparse --log-format '<Date> <Time> <Level> <Content>' "$work/train.log" > /dev/null 2>&1

mkdir -p "$(dirname "$profile")"
"$profdata" merge -o "$profile" "$raw"
echo "$profile"
