#!/usr/bin/env bash
# End-to-end benchmark of the state store through the `berth` binary, the
# whole process as a user runs it (docs/performance.md, "Issue 14: each target
# and where it stands"): on a host holding HOLDINGS containers (default
# 5,000), `berth status` (human and JSON), `berth plan` of one spec, and
# `berth release` of one container followed by its `berth apply`. Two berth
# binaries (say, a release build of `main` and of this branch) run
# interleaved, round after round, each on its own copy of the same store, so
# that both see the same machine load. Prints one line per round, then the
# medians and minimums in milliseconds.
#
#   cargo build --release -p berth --bin berth
#   engine/benches/store_cli.sh OLD_BERTH NEW_BERTH [ROUNDS] [HOLDINGS]
#
# OLD_BERTH may be `-` to run the new binary alone. ROUNDS defaults to 21.
# The store is made once under $BENCH_DIR (default /tmp/berth-store-bench) by
# one `berth apply` of HOLDINGS specs (each an IPv6 address from a pool and a
# shared volume, as in `bench_store`), then copied for each binary.
set -euo pipefail

old=$1
new=$2
rounds=${3:-21}
holdings=${4:-5000}
dir=${BENCH_DIR:-/tmp/berth-store-bench}/$holdings
mkdir -p "$dir/specs"
{ echo "berth: 1"; cat "$(dirname "$0")/../examples/bench_host.yaml"; } >"$dir/host.yaml"
if [ ! -e "$dir/store/bench.db" ]; then
    for i in $(seq -f '%05g' 0 $((holdings - 1))); do
        printf 'berth: 1\ncontainer: c-%s\nneeds:\n  - ipv6: c-%s\n  - volume: shared\n    mount: /data\n' \
            "$i" "$i" >"$dir/specs/c-$i.yaml"
    done
    rm -rf "$dir/store.tmp"
    (cd "$dir/specs" && BERTH_STATE_DIR="$dir/store.tmp" "$new" apply -q -H ../host.yaml ./*.yaml >/dev/null)
    mv "$dir/store.tmp" "$dir/store"
fi

bins=(new)
[ "$old" != - ] && bins=(old new)
for b in "${bins[@]}"; do
    rm -rf "$dir/store-$b"
    cp -r "$dir/store" "$dir/store-$b"
done

# Milliseconds the command took, its output discarded; a failure stops the run.
ms() {
    local t0 t1
    t0=$EPOCHREALTIME
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) * 1000 }'
}

results="$dir/results.txt"
: >"$results"
cd "$dir/specs"
printf '%-5s %-3s %10s %10s %8s %9s %8s\n' round bin status_ms json_ms plan_ms release_ms apply_ms
for r in $(seq "$rounds"); do
    c=c-$(printf '%05d' $(((r * 37) % holdings)))
    for b in "${bins[@]}"; do
        exe=$new
        [ "$b" = old ] && exe=$old
        export BERTH_STATE_DIR="$dir/store-$b"
        line=$(printf '%-5s %-3s %10s %10s %8s %9s %8s' "$r" "$b" \
            "$(ms "$exe" status -H ../host.yaml)" \
            "$(ms "$exe" status -H ../host.yaml --format json)" \
            "$(ms "$exe" plan -H ../host.yaml "$c.yaml")" \
            "$(ms "$exe" release -q -H ../host.yaml "$c")" \
            "$(ms "$exe" apply -q -H ../host.yaml "$c.yaml")")
        echo "$line" | tee -a "$results"
    done
done

echo
echo "over $rounds rounds at $holdings holdings (median / minimum, ms):"
printf '%-3s %14s %14s %14s %14s %14s\n' bin status json plan release apply
for b in "${bins[@]}"; do
    awk -v b="$b" '$2 == b' "$results" | awk -v b="$b" '
        function sorted(col,   n, i, j, tmp) {
            n = 0
            for (i = 1; i <= NR; i++) v[++n] = row[i, col]
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                if (v[j] < v[i]) { tmp = v[i]; v[i] = v[j]; v[j] = tmp }
            return n
        }
        { for (c = 3; c <= 7; c++) row[NR, c] = $c }
        END {
            printf "%-3s", b
            for (c = 3; c <= 7; c++) {
                n = sorted(c)
                printf " %6.1f / %5.1f", v[int((n + 1) / 2)], v[1]
            }
            printf "\n"
        }'
done
