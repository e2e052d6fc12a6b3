#!/usr/bin/env bash
# Throughput and memory of `flowdx analyze` beside the baselines of reference/anchors.md
# part 2 (cat, wc -l, xsv count, gzip -dc, serde_json into owned structs by the serde_lines
# example) and flowdx's decoding alone (the ingest_speed example), on generated data in one
# session, so the goals can be stated as ratios (this kind of VM swings +-30% between runs).
#
#   bash benches/throughput.sh            # ~1 GB files (FLOWDX_BENCH_SIZE), 3 rounds
#   bash benches/throughput.sh --quick    # 100 MB files, for a CI smoke run
#
# Environment:
#   FLOWDX_BENCH_SIZE    size of the large CSV and JSONL (default 1GB; --quick: 100MB)
#   FLOWDX_BENCH_SMALL   size of the small CSV for the memory ratio (default 100MB; --quick: 10MB)
#   FLOWDX_BENCH_DIR     where generated files live (default target/bench-data; reused if present)
#   FLOWDX_BENCH_ROUNDS  rounds per command (default 3); each round runs every command once
#   FLOWDX_BENCH_SEED    generator seed (default 42)
#   FLOWDX_ANALYZE_ARGS  arguments after the file (default: --format json; the report goes
#                        to stdout, which is sent to /dev/null. Never -o /dev/null: analyze
#                        replaces its output file atomically, by renaming over it)
#   FLOWDX_BENCH_TIMER   gnu (default: /usr/bin/time, installed with apt-get when root) or
#                        proc (wall time from date, peak RSS polled from /proc/PID/status)
#
# Exit status: 0 when every target passed or was skipped, 1 when one failed, 2 on error.
set -euo pipefail

quick=0
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        -h | --help)
            sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "throughput.sh: unknown argument '$arg' (try --help)" >&2
            exit 2
            ;;
    esac
done

if [[ $quick == 1 ]]; then
    size=${FLOWDX_BENCH_SIZE:-100MB}
    small=${FLOWDX_BENCH_SMALL:-10MB}
else
    size=${FLOWDX_BENCH_SIZE:-1GB}
    small=${FLOWDX_BENCH_SMALL:-100MB}
fi
rounds=${FLOWDX_BENCH_ROUNDS:-3}
seed=${FLOWDX_BENCH_SEED:-42}
analyze_args=${FLOWDX_ANALYZE_ARGS:---format json}

if [[ ! -c /dev/null ]]; then
    echo "throughput.sh: /dev/null is not a character device; fix it before measuring" >&2
    exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dir=${FLOWDX_BENCH_DIR:-target/bench-data}
mkdir -p "$dir"

echo "== build (release)"
# flowdx alone first, as users build it: an example brings in the dev-dependencies, whose
# features would change the libraries flowdx is built with.
cargo build --release --quiet
flowdx="$root/target/release/flowdx"
# The examples timed beside analyze, built after flowdx (which they leave as it is): the
# path of the built example, or nothing (and no row) when it does not build.
example() { # NAME ROW
    if cargo build --release --quiet --example "$1"; then
        echo "$root/target/release/examples/$1"
    else
        echo "   $1 example did not build: no '$2' row" >&2
    fi
}
# Decoding alone (every record read into a run, nothing classified or counted): the part of
# analyze that compares with `xsv count`, so the table shows how much of the CSV target's
# time budget the parse itself takes.
decode=$(example ingest_speed "decode csv")
# The JSON Lines reference: serde_json into owned structs on one core, which is how
# reference/anchors.md measured the 350 MB/s of the JSON Lines target; timed here, it shows
# what this host does now.
serde_lines=$(example serde_lines "serde jsonl")

# ---------------------------------------------------------------- data
csv="$dir/runs-$size-s$seed.csv"
jsonl="$dir/runs-$size-s$seed.jsonl"
gz="$dir/runs-$size-s$seed.csv.gz"
small_csv="$dir/runs-$small-s$seed.csv"
# The same tenant as the small file (--tenant-size), $size of runs: the memory ratio compares
# these two, so it measures growth with records, not with a tenant that grows with the size.
fixed_csv="$dir/runs-$size-tenant$small-s$seed.csv"

generate() { # FORMAT SIZE FILE [--gzip]
    local format=$1 sz=$2 file=$3
    shift 3
    if [[ -s $file ]]; then
        echo "   reuse $file"
    else
        "$flowdx" generate --format "$format" --size "$sz" --seed "$seed" "$@" -o "$file.tmp"
        mv "$file.tmp" "$file"
    fi
}

echo "== data in $dir (seed $seed)"
generate csv "$size" "$csv"
generate jsonl "$size" "$jsonl"
generate csv "$size" "$gz" --gzip # the same bytes as $csv, compressed (gzip -6)
generate csv "$small" "$small_csv"
generate csv "$size" "$fixed_csv" --tenant-size "$small"

bytes_of() { stat -c %s "$1"; }
csv_bytes=$(bytes_of "$csv")
jsonl_bytes=$(bytes_of "$jsonl")
small_bytes=$(bytes_of "$small_csv")
fixed_bytes=$(bytes_of "$fixed_csv")

echo "== warm the page cache"
cat "$csv" "$jsonl" "$gz" "$small_csv" "$fixed_csv" > /dev/null

# ---------------------------------------------------------------- timer
gnu_time=""
if [[ ${FLOWDX_BENCH_TIMER:-gnu} == proc ]]; then
    :
elif [[ -x /usr/bin/time ]] && /usr/bin/time -f '%e' true 2> /dev/null; then
    gnu_time=/usr/bin/time
elif [[ $(id -u) == 0 ]] && command -v apt-get > /dev/null; then
    echo "== installing GNU time (apt-get install -y time)"
    if apt-get install -y -qq time > /dev/null 2>&1 && [[ -x /usr/bin/time ]]; then
        gnu_time=/usr/bin/time
    fi
fi
if [[ -z $gnu_time ]]; then
    echo "   GNU time not available: timing with date, peak RSS by polling /proc/PID/status (VmHWM)"
fi

# measure CMD -> prints "SECONDS RSS_KB EXIT". Wall time from date (ns; GNU time's %e has
# only 10 ms resolution), peak RSS from GNU time's %M or from polling VmHWM.
measure() {
    local cmd=$1 out rc t0 t1 kb=0
    rc=0
    t0=$(date +%s%N)
    if [[ -n $gnu_time ]]; then
        out=$(mktemp)
        "$gnu_time" -f '%M' -o "$out" bash -c "$cmd" > /dev/null 2>> "$dir/bench-stderr.log" || rc=$?
        t1=$(date +%s%N)
        kb=$(tail -n 1 "$out")
        rm -f "$out"
    else
        local pid v
        bash -c "$cmd" > /dev/null 2>> "$dir/bench-stderr.log" &
        pid=$!
        while kill -0 "$pid" 2> /dev/null; do
            v=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2> /dev/null || true)
            [[ -n $v && $v -gt $kb ]] && kb=$v
            sleep 0.01
        done
        wait "$pid" || rc=$?
        t1=$(date +%s%N)
    fi
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}') $kb $rc"
}

# ---------------------------------------------------------------- commands
labels=()
cmds=()
sizes=()
add() { # LABEL BYTES CMD
    labels+=("$1")
    sizes+=("$2")
    cmds+=("$3")
}
have_xsv=0
if command -v xsv > /dev/null; then
    have_xsv=1
else
    echo "   xsv: not installed (cargo install xsv)"
fi

add "cat csv" "$csv_bytes" "cat '$csv' > /dev/null"
add "wc -l csv" "$csv_bytes" "wc -l '$csv'"
if [[ $have_xsv == 1 ]]; then
    add "xsv count csv" "$csv_bytes" "xsv count '$csv'"
fi
add "gzip -dc csv.gz" "$csv_bytes" "gzip -dc '$gz' > /dev/null"
add "cat jsonl" "$jsonl_bytes" "cat '$jsonl' > /dev/null"
if [[ -n $serde_lines ]]; then
    add "serde jsonl" "$jsonl_bytes" "'$serde_lines' '$jsonl'"
fi
if [[ -n $decode ]]; then
    add "decode csv" "$csv_bytes" "'$decode' '$csv'"
fi
add "analyze csv" "$csv_bytes" "'$flowdx' analyze '$csv' $analyze_args"
add "analyze csv -j1" "$csv_bytes" "'$flowdx' analyze -j 1 '$csv' $analyze_args"
add "analyze csv -j2" "$csv_bytes" "'$flowdx' analyze -j 2 '$csv' $analyze_args"
add "analyze jsonl" "$jsonl_bytes" "'$flowdx' analyze '$jsonl' $analyze_args"
add "analyze csv.gz" "$csv_bytes" "'$flowdx' analyze '$gz' $analyze_args"
add "analyze small csv" "$small_bytes" "'$flowdx' analyze '$small_csv' $analyze_args"
add "analyze fixed csv" "$fixed_bytes" "'$flowdx' analyze '$fixed_csv' $analyze_args"
add "generate csv" "$csv_bytes" "'$flowdx' generate -q --format csv --size $size --seed $seed -o /dev/null"

n=${#cmds[@]}
declare -A times rss status
for ((i = 0; i < n; i++)); do
    times[$i]=""
    rss[$i]=0
    status[$i]=0
done

echo "== measuring: $n commands x $rounds rounds (interleaved), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$dir/bench-stderr.log"
for ((r = 1; r <= rounds; r++)); do
    for ((i = 0; i < n; i++)); do
        read -r secs kb rc <<< "$(measure "${cmds[$i]}")"
        times[$i]="${times[$i]} $secs"
        ((kb > rss[$i])) && rss[$i]=$kb
        ((rc != 0)) && status[$i]=$rc
    done
    echo "   round $r done"
done

median() { tr ' ' '\n' <<< "$1" | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

declare -A med mbs rss_mb
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "flowdx:  $("$flowdx" --version) ($(git rev-parse --short HEAD 2> /dev/null || echo '?')), $rounds rounds, MB = 10^6 bytes"
echo "files:   csv $csv_bytes B, jsonl $jsonl_bytes B, csv.gz $(bytes_of "$gz") B (MB/s on decompressed bytes), small csv $small_bytes B, fixed csv $fixed_bytes B (tenant of $small)"
echo
printf '| %-18s | %9s | %9s | %9s | %13s |\n' "command" "MB" "median s" "MB/s" "peak RSS MB"
printf '|%s|%s|%s|%s|%s|\n' "--------------------" "-----------" "-----------" "-----------" "---------------"
for ((i = 0; i < n; i++)); do
    m=$(median "${times[$i]}")
    med[$i]=$m
    mbs[$i]=$(awk -v b="${sizes[$i]}" -v s="$m" 'BEGIN {printf "%.0f", (s > 0) ? b / 1e6 / s : 0}')
    rss_mb[$i]=$(awk -v k="${rss[$i]}" 'BEGIN {printf "%.1f", k / 1024}')
    if ((status[$i] != 0)); then
        printf '| %-18s | %9.0f | %9s | %9s | %13s |\n' "${labels[$i]}" "$(awk -v b="${sizes[$i]}" 'BEGIN {print b / 1e6}')" "exit ${status[$i]}" "-" "-"
    else
        printf '| %-18s | %9.0f | %9.3f | %9s | %13s |\n' "${labels[$i]}" "$(awk -v b="${sizes[$i]}" 'BEGIN {print b / 1e6}')" "$m" "${mbs[$i]}" "${rss_mb[$i]}"
    fi
done

# ---------------------------------------------------------------- targets
idx() { # LABEL -> index or -1
    local i
    for ((i = 0; i < n; i++)); do
        if [[ ${labels[$i]} == "$1" ]]; then
            echo "$i"
            return
        fi
    done
    echo -1
}
ok() { # LABEL -> true if it ran and exited 0
    local i
    i=$(idx "$1")
    ((i >= 0)) && ((status[$i] == 0))
}
failed=0
verdict() { # PASS|FAIL|SKIP|INFO TEXT (INFO: a figure without a target)
    [[ $1 == FAIL ]] && failed=1
    printf '%-4s  %s\n' "$1" "$2"
}
check() { # NAME VALUE OP LIMIT   (awk comparison)
    if awk -v v="$2" -v l="$4" "BEGIN {exit !(v $3 l)}"; then
        verdict PASS "$1: $2 $3 $4"
    else
        verdict FAIL "$1: $2, want $3 $4"
    fi
}

echo
echo "targets:"
a=$(idx "analyze csv")
if ! ok "analyze csv"; then
    verdict FAIL "analyze csv did not run (see $dir/bench-stderr.log)"
elif [[ $have_xsv == 0 ]]; then
    verdict SKIP "analyze csv / xsv count >= 0.8: xsv: not installed (cargo install xsv)"
elif ! ok "xsv count csv"; then
    verdict SKIP "analyze csv / xsv count >= 0.8: xsv count failed (see $dir/bench-stderr.log)"
else
    x=$(idx "xsv count csv")
    check "analyze csv / xsv count" "$(awk -v a="${mbs[$a]}" -v b="${mbs[$x]}" 'BEGIN {printf "%.2f", a / b}')" ">=" 0.8
    if ok "decode csv"; then
        d=$(idx "decode csv")
        verdict INFO "$(awk -v x="${med[$x]}" -v d="${med[$d]}" -v a="${med[$a]}" 'BEGIN {
            printf "budget at 0.8x: analyze within %.2f s; decoding alone takes %.2f s (%.2fx the speed of xsv count), ", x / 0.8, d, x / d
            if (x / 0.8 > d) printf "leaving %.2f s for classifying, joining, timing and grouping, which take %.2f s now", x / 0.8 - d, a - d
            else printf "more than all of it" }')"
    fi
fi

if ok "analyze jsonl"; then
    check "analyze jsonl MB/s" "${mbs[$(idx "analyze jsonl")]}" ">=" 350
    if ok "serde jsonl"; then
        verdict INFO "serde_json into owned structs on one core (the reference behind the 350 MB/s target; anchors.md: 340 MB/s on records of about 450 bytes, these average 1 KB): ${mbs[$(idx "serde jsonl")]} MB/s here now; analyze jsonl on all cores is $(awk -v a="${med[$(idx "serde jsonl")]}" -v b="${med[$(idx "analyze jsonl")]}" 'BEGIN {printf "%.2f", a / b}')x of it"
    fi
else
    verdict FAIL "analyze jsonl did not run"
fi

if ok "analyze csv.gz"; then
    check "analyze csv.gz s / gzip -dc s" "$(awk -v a="${med[$(idx "analyze csv.gz")]}" -v b="${med[$(idx "gzip -dc csv.gz")]}" 'BEGIN {printf "%.2f", a / b}')" "<" 1
else
    verdict FAIL "analyze csv.gz did not run"
fi

peak=0
for label in "analyze csv" "analyze csv -j1" "analyze csv -j2" "analyze jsonl" "analyze csv.gz" "analyze small csv" "analyze fixed csv"; do
    i=$(idx "$label")
    if ok "$label"; then
        peak=$(awk -v a="$peak" -v b="${rss_mb[$i]}" 'BEGIN {print (b > a) ? b : a}')
    fi
done
if ok "analyze csv"; then
    check "peak RSS of analyze (MB)" "$peak" "<" 100
else
    verdict FAIL "peak RSS: analyze did not run"
fi

if ok "analyze fixed csv" && ok "analyze small csv"; then
    check "RSS($size, tenant of $small) / RSS($small)" "$(awk -v a="${rss[$(idx "analyze fixed csv")]}" -v b="${rss[$(idx "analyze small csv")]}" 'BEGIN {printf "%.2f", a / b}')" "<=" 1.5
else
    verdict FAIL "RSS ratio: analyze did not run"
fi
if ok "analyze csv" && ok "analyze small csv"; then
    verdict INFO "RSS($size) / RSS($small) with the tenant grown to $size: $(awk -v a="${rss[$(idx "analyze csv")]}" -v b="${rss[$(idx "analyze small csv")]}" 'BEGIN {printf "%.2f", a / b}')"
fi

if ok "analyze csv -j1" && ok "analyze csv -j2"; then
    j1=$(idx "analyze csv -j1")
    j2=$(idx "analyze csv -j2")
    verdict INFO "jobs: -j1 ${mbs[$j1]} MB/s, -j2 ${mbs[$j2]} MB/s, speed-up $(awk -v a="${med[$j1]}" -v b="${med[$j2]}" 'BEGIN {printf "%.2f", a / b}')x"
fi
g=$(idx "generate csv")
verdict INFO "generator: ${mbs[$g]} MB/s writing csv to /dev/null"

exit $failed
