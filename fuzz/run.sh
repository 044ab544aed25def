#!/usr/bin/env bash
# Fuzzing seismo's input parsers: builds the libFuzzer targets on stable Rust and runs each
# for a bounded time, one after the other. Not part of CI's test run.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s each, every target
#
# Tool choice. The targets use the cargo-fuzz layout (fuzz/Cargo.toml with libfuzzer-sys,
# fuzz/fuzz_targets/*.rs), built with stable Rust and no -Z flag: libFuzzer's coverage
# instrumentation is LLVM's SanitizerCoverage pass, which stable rustc runs with
# `-Cpasses=sancov-module` and `-Cllvm-args=-sanitizer-coverage-*` (the flags `cargo fuzz
# build --sanitizer none` passes; only AddressSanitizer needs `-Zsanitizer`, i.e. nightly).
# Safe Rust needs no AddressSanitizer: what the fuzzer looks for here is panics, overflows
# (debug assertions and overflow checks are on), hangs (-timeout) and unbounded allocation
# (-rss_limit_mb / -malloc_limit_mb). libfuzzer-sys compiles libFuzzer's C++ with the system
# C++ compiler (g++ is enough; no clang). So this script needs only stable Rust and g++, and
# drives cargo itself with those flags (cargo-fuzz need not be installed; `cargo fuzz run -s none
# TARGET` passes the same flags, but was not tried here). afl.rs was the alternative: it needs the AFL++ runtime built from
# source and a fork server per target, for no gain here. Each target's body is a plain function
# in `seismo::fuzzing`, which `cargo test` runs on the committed seeds (fuzz/corpus/TARGET/)
# and on every crash input found so far (fuzz/regressions/TARGET/), so the targets cannot rot
# unnoticed while nobody runs the fuzzer.
#
# Per target it prints executions, executions per second, seconds run, corpus size (inputs
# libFuzzer kept) and crashes (crash, timeout, out-of-memory and leak artifacts). New corpus
# inputs go to $FUZZ_WORK/corpus/TARGET (default fuzz/work/, not committed); the committed
# seeds are only read. A crash stops that target (libFuzzer's default); its input is kept
# in $FUZZ_WORK/artifacts/TARGET/RUN_TIME/ and the script exits 1 at the end. Reproduce one with
#   $CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/TARGET ARTIFACT
# Environment: CARGO_TARGET_DIR (default fuzz/target), FUZZ_WORK, FUZZ_ARGS (extra libFuzzer
# flags, e.g. "-max_len=65536"), FUZZ_NICE (niceness, default 10).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
seconds="${1:-60}"
shift || true
all=(config log_format template_miner container_line prometheus_text csv_series outbox_recovery journal_record)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi
case "$seconds" in ''|*[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;; esac

work="${FUZZ_WORK:-$here/work}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
triple="$(rustc -vV | sed -n 's/^host: //p')"
nice_level="${FUZZ_NICE:-10}"

# The flags of `cargo fuzz build --sanitizer none` (cargo-fuzz 0.13), all stable. `--target`
# keeps them off build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 \
-Cllvm-args=-sanitizer-coverage-stack-depth \
-Ccodegen-units=1 ${RUSTFLAGS:-}"

bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
echo "building ${targets[*]} (release, instrumented) in $CARGO_TARGET_DIR" >&2
# Not --locked: fuzz/Cargo.lock follows the root workspace's dependencies as they change.
nice -n "$nice_level" cargo build --release --manifest-path "$here/Cargo.toml" \
    --target "$triple" "${bins[@]}"

# Temporary outbox directories of outbox_recovery: in memory when possible.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR="$(mktemp -d /dev/shm/seismo-fuzz.XXXXXX)"
    trap 'rm -rf "$TMPDIR"' EXIT
fi

failed=0
results=()
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
for t in "${targets[@]}"; do
    corpus="$work/corpus/$t"
    artifacts="$work/artifacts/$t/$stamp"
    log="$work/logs/$t.log"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    seeds=("$here/corpus/$t")
    [ -d "$here/regressions/$t" ] && seeds+=("$here/regressions/$t")
    echo "fuzzing $t for ${seconds}s (log: $log)" >&2
    start=$(date +%s)
    set +e
    # shellcheck disable=SC2086
    nice -n "$nice_level" "$CARGO_TARGET_DIR/$triple/release/$t" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} \
        "$corpus" "${seeds[@]}" >"$log" 2>&1
    status=$?
    set -e
    ran=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    # The last status line's `corp: UNITS/BYTES`: the inputs libFuzzer keeps.
    corp=$({ grep -o 'corp: [0-9]*' "$log" || true; } | tail -1 | sed 's/corp: //')
    crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
    if [ "$status" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        failed=1
        echo "$t: libFuzzer exited $status; artifacts in $artifacts; see $log" >&2
    fi
    results+=("$(printf '%-16s %12s %9s %8s %8s %8s' "$t" "${execs:-?}" "${rate:-?}" "$ran" "${corp:-?}" "$crashes")")
done

printf '%-16s %12s %9s %8s %8s %8s\n' target executions exec/s seconds corpus crashes
printf '%s\n' "${results[@]}"
exit "$failed"
