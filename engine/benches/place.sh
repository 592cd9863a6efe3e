#!/usr/bin/env bash
# End-to-end `berth place` benchmark of docs/performance.md ("Fleet placement"):
# generates the 1x, 2x and 4x fleets (5,000 hosts x 150,000 containers, then
# twice and four times that, YAML and JSON), then runs two berth binaries
# (say, a release build of `main` and of this branch) interleaved, round after
# round, so that both see the same machine load; each run goes through
# `/usr/bin/time` for its wall time and peak RSS, with BERTH_PLACE_TIMINGS=1 for
# the phase times. Prints one line per run, then the medians.
#
#   cargo build --release -p berth --bin berth
#   cargo build --release -p berth-engine --example genfleet
#   engine/benches/place.sh OLD_BERTH NEW_BERTH [ROUNDS] [SCALES]
#
# OLD_BERTH may be `-` to run the new binary alone. ROUNDS defaults to 3,
# SCALES to "1 2 4". Fleets are written once under $BENCH_DIR
# (default /tmp/berth-place-bench): about 0.5 GB for all three scales.
set -euo pipefail

old=$1
new=$2
rounds=${3:-3}
scales=${4:-1 2 4}
dir=${BENCH_DIR:-/tmp/berth-place-bench}
gen=${GENFLEET:-target/release/examples/genfleet}

for s in $scales; do
    for fmt in yaml json; do
        out="$dir/${s}x-$fmt"
        if [ ! -e "$out/containers.$fmt" ]; then
            flag=()
            [ "$fmt" = json ] && flag=(--json)
            "$gen" --hosts $((5000 * s)) --containers $((150000 * s)) --out "$out" "${flag[@]}"
        fi
    done
done

bins=(new)
[ "$old" != - ] && bins=(old new)
results="$dir/results.txt"
: >"$results"
printf '%-5s %-5s %-4s %-3s %8s %9s %8s %8s %8s\n' round scale fmt bin wall_s peak_MiB load_ms place_ms output_ms
for r in $(seq "$rounds"); do
    for s in $scales; do
        for fmt in yaml json; do
            for b in "${bins[@]}"; do
                exe=$new
                [ "$b" = old ] && exe=$old
                f="$dir/${s}x-$fmt"
                err="$dir/stderr"
                BERTH_PLACE_TIMINGS=1 /usr/bin/time -f 'time: %e %M' \
                    "$exe" place --hosts "$f/hosts.$fmt" "$f/containers.$fmt" >/dev/null 2>"$err" || true
                line=$(awk -v r="$r" -v s="${s}x" -v fmt="$fmt" -v b="$b" '
                    $1 == "timing:" { t[$2] = $3 }
                    $1 == "time:" { wall = $2; rss = $3 / 1024 }
                    END { printf "%-5s %-5s %-4s %-3s %8.2f %9.0f %8.0f %8.0f %8.0f\n",
                          r, s, fmt, b, wall, rss, t["load"], t["place"], t["output"] }' "$err")
                echo "$line" | tee -a "$results"
            done
        done
    done
done

echo
echo "medians over $rounds rounds:"
printf '%-5s %-4s %-3s %8s %9s %8s %8s\n' scale fmt bin wall_s peak_MiB load_ms place_ms
for s in $scales; do
    for fmt in yaml json; do
        for b in "${bins[@]}"; do
            awk -v s="${s}x" -v fmt="$fmt" -v b="$b" '$2 == s && $3 == fmt && $4 == b' "$results" |
                awk -v s="${s}x" -v fmt="$fmt" -v b="$b" '
                    function med(col,   n, i, j, v, tmp) {
                        n = 0
                        for (i = 1; i <= NR; i++) v[++n] = row[i, col]
                        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                            if (v[j] < v[i]) { tmp = v[i]; v[i] = v[j]; v[j] = tmp }
                        return v[int((n + 1) / 2)]
                    }
                    { for (c = 5; c <= 8; c++) row[NR, c] = $c }
                    END { printf "%-5s %-4s %-3s %8.2f %9.0f %8.0f %8.0f\n",
                          s, fmt, b, med(5), med(6), med(7), med(8) }'
        done
    done
done
