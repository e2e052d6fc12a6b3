#!/usr/bin/env bash
# Run every fuzz target for SECONDS (default 600) in turn; print each target's executions.
set -euo pipefail
secs=${1:-600}
cd "$(dirname "$0")"
targets=$(cargo +nightly fuzz list)
cargo +nightly fuzz build -O
for t in $targets; do
    log=$(mktemp)
    status=0
    cargo +nightly fuzz run -O "$t" -- -max_total_time="$secs" -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    echo "$t: ${execs:-?} executions in ${secs}s, exit $status"
    if [ "$status" -ne 0 ]; then
        tail -40 "$log"
    fi
    rm -f "$log"
done
