#!/usr/bin/env bash
# Diagnostics cannot exhaust CI (issue 11): generates hostile inputs and runs
# `berth check --format json` (and `berth place`) on each under
# `/usr/bin/time -v`, printing wall time, peak memory and output size.
# A benchmark, not a test: figures go to docs/performance.md.
#
#   cargo build --release -p berth
#   benches/diagnostics.sh [BERTH] [WORKDIR]
set -euo pipefail

BERTH=${1:-target/release/berth}
WORK=${2:-$(mktemp -d)}
mkdir -p "$WORK"

MIB=$((1024 * 1024))

# repeat LINE BYTES: LINE repeated until BYTES bytes.
repeat() {
    python3 - "$1" "$2" <<'PY'
import sys
line = sys.argv[1].encode().decode("unicode_escape").encode()
n = int(sys.argv[2]) // len(line)
sys.stdout.buffer.write(line * n)
PY
}

{ printf 'berth: 1\ncontainer: x\nneeds:\n'; repeat '  -\n' $((15 * MIB)); } > "$WORK/needs.yaml"
{ printf 'berth: 1\ncontainer: x\n'; repeat 'a: 1\n' $((400000 * 5)); } > "$WORK/dupkeys.yaml"
repeat '  -\n' $((15 * MIB)) > "$WORK/toplist.yaml"
{ printf 'berth: 1\nhost: h\nprovides:\n'; repeat '  -\n' $((32 * MIB)); } > "$WORK/host32.yaml"
printf 'berth: 1\ncontainer: web\n' > "$WORK/web.yaml"

measure() {
    local name=$1
    shift
    local out="$WORK/$name.out" err="$WORK/$name.time"
    /usr/bin/time -v "$@" > "$out" 2> "$err" || true
    local wall rss status
    wall=$(grep 'Elapsed (wall clock)' "$err" | awk '{print $NF}')
    rss=$(grep 'Maximum resident set size' "$err" | awk '{print $NF}')
    status=$(grep 'Exit status' "$err" | awk '{print $NF}')
    printf '%-28s wall %-8s peak %6d MiB  stdout %8d bytes  exit %s\n' \
        "$name" "$wall" $((rss / 1024)) "$(wc -c < "$out")" "$status"
}

ls -l "$WORK"/*.yaml
measure "check needs 15MiB" "$BERTH" check --format json "$WORK/needs.yaml"
measure "check dupkeys 400k" "$BERTH" check --format json "$WORK/dupkeys.yaml"
measure "check toplist 15MiB" "$BERTH" check --format json "$WORK/toplist.yaml"
measure "check needs human" "$BERTH" check "$WORK/needs.yaml"
measure "place host 32MiB" "$BERTH" place --format json --hosts "$WORK/host32.yaml" "$WORK/web.yaml"
