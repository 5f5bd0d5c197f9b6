#!/usr/bin/env bash
# RUSTC_WRAPPER for the fuzz build (see build.sh): compiles the crates whose code the targets
# exercise with AFL++'s coverage instrumentation (LLVM SanitizerCoverage, the flags
# `cargo afl build` passes to every crate), and every other crate plainly. Instrumenting only
# these keeps the coverage map on the parsers and the build within CI's time: the transports
# (tokio, hyper, rmcp) are linked in but never run by a target.
set -euo pipefail
rustc="$1"
shift
crate=""
prev=""
for arg in "$@"; do
  if [ "$prev" = "--crate-name" ]; then
    crate="$arg"
    break
  fi
  prev="$arg"
done
case "$crate" in
  memory_core | memory_mcp | memory_fuzz | serde_json | chrono | uuid)
    exec "$rustc" "$@" ${AFL_INSTRUMENT_FLAGS:?}
    ;;
  import | mcp | handoff)
    # The targets' binaries: instrumented, and linked with AFL++'s runtime.
    exec "$rustc" "$@" ${AFL_INSTRUMENT_FLAGS:?} "-Clink-arg=${AFL_RUNTIME:?}"
    ;;
  *)
    exec "$rustc" "$@"
    ;;
esac
