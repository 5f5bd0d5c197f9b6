#!/usr/bin/env bash
# Fuzzes each target for a bounded time with AFL++ and fails if any input crashes or hangs
# one. Installs what it needs first: cargo-afl (whose install builds AFL++ from the source it
# ships, with make and cc) into a cache directory, then the targets, into fuzz/target.
#
#   fuzz/run.sh [TARGET...]        targets: import mcp handoff (default: all three)
#
#   MEMORY_FUZZ_SECONDS   seconds of fuzzing per target (default 60)
#   MEMORY_FUZZ_JOBS      targets fuzzed at once (default: the number of cores)
#   MEMORY_FUZZ_CACHE     where cargo-afl and AFL++ go
#                         (default ${XDG_CACHE_HOME:-~/.cache}/self-learning-memory/afl)
#   MEMORY_FUZZ_OUT       AFL++'s output directories (default fuzz/target/afl)
#
# Each target starts from its corpus, fuzz/corpus/<target>/, with the dictionary
# fuzz/dict/<target>.dict. A crash or hang is left in $MEMORY_FUZZ_OUT/<target>/default/ and
# printed (base64); replay it with `fuzz/target/release/<target> < FILE`.
set -euo pipefail
cd "$(dirname "$0")"

AFL_VERSION=0.18.2 # the `afl` crate's version in Cargo.toml
seconds="${MEMORY_FUZZ_SECONDS:-60}"
jobs="${MEMORY_FUZZ_JOBS:-$(nproc)}"
cache="${MEMORY_FUZZ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/self-learning-memory/afl}"
out="${MEMORY_FUZZ_OUT:-target/afl}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(import mcp handoff)

# cargo-afl keeps AFL++ in $XDG_DATA_HOME/afl.rs/rustc-VERSION-COMMIT/afl.rs-VERSION/.
export XDG_DATA_HOME="$cache/data"
export PATH="$cache/cargo/bin:$PATH"
release="$(rustc -vV | sed -n 's/^release: //p')"
commit="$(rustc -vV | sed -n 's/^commit-hash: //p' | cut -c1-7)"
afl_home="$XDG_DATA_HOME/afl.rs/rustc-${release}${commit:+-$commit}/afl.rs-$AFL_VERSION"
runtime="$afl_home/afl-llvm/afl-compiler-rt.o"

started=$SECONDS
if ! cargo-afl afl --version 2>/dev/null | grep -q "^cargo-afl $AFL_VERSION"; then
  echo "installing cargo-afl $AFL_VERSION and AFL++ into $cache"
  cargo install --quiet --locked --force --root "$cache/cargo" "cargo-afl@$AFL_VERSION"
fi
if [ ! -f "$runtime" ] || [ ! -x "$afl_home/afl/bin/afl-fuzz" ]; then
  # The install builds AFL++ for the rustc it ran under; another rustc needs its own.
  cargo afl config --build --force
fi
echo "cargo-afl and AFL++ ready in $((SECONDS - started)) s: $(cargo-afl afl --version)"

# The build: the crates the targets run (see instrument.sh) with the SanitizerCoverage flags
# `cargo afl build` uses, linked with AFL++'s runtime; fuzz/ is its own workspace, with its
# own target directory, so the workspace's builds are not disturbed.
started=$SECONDS
AFL_INSTRUMENT_FLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=3 \
-Cllvm-args=-sanitizer-coverage-trace-pc-guard \
-Cllvm-args=-sanitizer-coverage-prune-blocks=0 \
-Cllvm-args=-sanitizer-coverage-trace-compares" \
  AFL_RUNTIME="$runtime" \
  RUSTC_WRAPPER="$PWD/instrument.sh" \
  RUSTFLAGS="--cfg fuzzing" \
  CARGO_TARGET_DIR="$PWD/target" \
  cargo build --quiet --release --bins
echo "targets built in $((SECONDS - started)) s"

export AFL_SKIP_CPUFREQ=1                     # no CPU frequency governor to check in a VM
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 # core_pattern may pipe cores elsewhere
export AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_FAST_CAL=1

fuzz_one() {
  local target="$1" dir="$out/$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  # As `cargo afl fuzz` runs it (-c0: comparison logging through the target itself), with
  # -t 1000: an input that keeps a parser busy for a second is a hang; -V: the time limit.
  timeout --kill-after=10 $((seconds + 300)) \
    "$afl_home/afl/bin/afl-fuzz" -c0 -i "corpus/$target" -o "$dir" -x "dict/$target.dict" \
    -t 1000 -V "$seconds" -- "target/release/$target" >"$dir.log" 2>&1 || true
}

echo "fuzzing ${targets[*]}: $seconds s each, $jobs at once"
started=$SECONDS
for target in "${targets[@]}"; do
  [ -d "corpus/$target" ] || {
    echo "no target $target (corpus/$target is missing)" >&2
    exit 2
  }
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  fuzz_one "$target" &
done
wait
echo "fuzzed in $((SECONDS - started)) s"

failed=0
printf '%-8s %8s %12s %10s %8s %8s %14s %8s %6s\n' \
  target seconds execs execs/s paths corpus edges crashes hangs
for target in "${targets[@]}"; do
  stats="$out/$target/default/fuzzer_stats"
  if [ ! -f "$stats" ]; then
    echo "$target: AFL++ did not run; the end of its log ($out/$target.log):" >&2
    tail -n 30 "$out/$target.log" >&2
    failed=1
    continue
  fi
  field() { sed -n "s/^$1 *: //p" "$stats"; }
  printf '%-8s %8s %12s %10s %8s %8s %14s %8s %6s\n' "$target" "$(field run_time)" \
    "$(field execs_done)" "$(field execs_per_sec)" "$(field corpus_found)" \
    "$(field corpus_count)" "$(field edges_found)/$(field total_edges)" \
    "$(field saved_crashes)" "$(field saved_hangs)"
  for kind in crashes hangs; do
    found=("$out/$target/default/$kind"/id:*)
    [ -e "${found[0]}" ] || continue
    failed=1
    echo "$target: ${#found[@]} input(s) in $out/$target/default/$kind; the first (base64):" >&2
    head -c 4096 "${found[0]}" | base64 >&2
  done
done
if [ "$failed" -ne 0 ]; then
  echo "FUZZING FAILED: fix the bug, then add the input to fuzz/corpus/<target>/" >&2
  exit 1
fi
