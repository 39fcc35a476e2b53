#!/usr/bin/env bash
# Runs one libFuzzer harness for a bounded time on a copy of its seed corpus
# (the checked-in corpus is never written to).  Usage: run-fuzzer.sh BIN CORPUS SECONDS
set -euo pipefail
bin=$1 corpus=$2 secs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -d "$corpus" ]; then cp -r "$corpus"/. "$work"/; fi
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$work/" "$work" 2>&1 | tail -n 25
