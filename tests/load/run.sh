#!/usr/bin/env bash
# Load bench of `injector serve` (manual, not part of the test run).
#
# Starts the release binary on loopback with a throwaway certificate and the
# hidden bench route, then drives it over TLS with keep-alive using wrk:
# first /bench/trivial (a fixed `allowed: true` behind the same TLS, HTTP and
# admission layers: the cost of the server stack), then /inject with a
# realistic AdmissionReview (a Deployment's pod as kube-apiserver sends it,
# tests/data/ratings-review.json): the same pod every time (replicas of
# one workload: the response cache answers); "unique", a different pod every
# time by a label the templates do not read (the response cache misses, the
# render cache hits); "new", a different image every time (the first pod of
# a new workload version: both caches miss, so their byte budgets are what
# bounds memory). All run against the same process in the same run. Reports requests/s, p50/p99 latency, the ratios, and the
# server's RSS idle and under load (VmRSS, and the peak VmHWM).
#
# The server is pinned to one CPU and wrk to the other, so the two do not
# compete for a core; with more CPUs, SERVER_CPUS/WRK_CPUS choose them.
#
# Usage: tests/load/run.sh   (defaults: 3 rounds of 10 s per target, 32 connections;
#                             about 3 minutes after the release build)
#        ROUNDS=5 DURATION=20s CONNECTIONS=64 tests/load/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
WARMUP=${WARMUP:-3s}
SERVER_CPUS=${SERVER_CPUS:-0}
WRK_CPUS=${WRK_CPUS:-1}

if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
for tool in openssl python3 taskset; do
    command -v "$tool" >/dev/null || { echo "error: $tool is needed" >&2; exit 1; }
done

cargo build --release --quiet -p injector --bin injector
binary=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/injector

work=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
python3 -c 'import json,sys; sys.stdout.write(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")))' \
    tests/data/ratings-review.json >"$work/review.json"
cat >"$work/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = file:read("*a")
file:close()
local unique = os.getenv("UNIQUE")
if unique == "label" or unique == "image" then
    local sequence = 0
    request = function()
        sequence = sequence + 1
        local body
        if unique == "label" then
            body = string.gsub(wrk.body, '"labels":{', '"labels":{"bench-seq":"' .. sequence .. '",', 1)
        else
            body = string.gsub(wrk.body, '"image":"', '"image":"r' .. sequence .. '/', 1)
        end
        return wrk.format(nil, nil, nil, body)
    end
end
EOF

RUST_LOG=warn,injector::serve=info taskset -c "$SERVER_CPUS" "$binary" serve \
    --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
    --max-concurrent-requests 64 --max-queued-requests 1024 \
    --bench-trivial-route 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
    grep -q 'admin listening' "$work/server.log" && break
    sleep 0.1
done
webhook=$(grep 'webhook listening' "$work/server.log" | sed 's/.*addr=\([0-9.:]*\).*/\1/')
admin=$(grep 'admin listening' "$work/server.log" | sed 's/.*addr=\([0-9.:]*\).*/\1/')
[[ -n $webhook && -n $admin ]] || { cat "$work/server.log"; exit 1; }
base=https://localhost:${webhook##*:}

# The bench is only meaningful if /inject really injects.
curl -sf --cacert "$work/tls.crt" -H 'Content-Type: application/json' \
    --data-binary @"$work/review.json" "$base/inject" | grep -q '"patchType":"JSONPatch"' ||
    { echo "error: /inject did not answer with a patch" >&2; exit 1; }

rss() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$server_pid/status"; }

run_wrk() { # path duration [unique] -> wrk output
    BODY_FILE="$work/review.json" UNIQUE="${3:-}" taskset -c "$WRK_CPUS" \
        wrk -t1 -c"$CONNECTIONS" -d"$2" --latency -s "$work/post.lua" "$base$1"
}

# Latency as printed by wrk (850.00us, 1.20ms, 2.00s) in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}

# Per target, one line per round: requests/s p50 p99 max-RSS.
measure() { # name path [unique]
    run_wrk "$2" "$WARMUP" "${3:-}" >/dev/null
    local samples="$work/rss.$1"
    (while kill -0 "$server_pid" 2>/dev/null; do rss VmRSS; sleep 0.2; done) >"$samples" &
    local sampler=$!
    local out
    out=$(run_wrk "$2" "$DURATION" "${3:-}")
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    echo "--- round $round: $1 ($2)"
    echo "$out"
    if grep -q 'Non-2xx' <<<"$out"; then
        echo "error: $1 answered non-2xx responses" >&2
        exit 1
    fi
    printf '%s %s %s %s\n' \
        "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")" \
        "$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")" \
        "$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")" \
        "$(sort -n "$samples" | tail -1)" >>"$work/results.$1"
}

# Column $2 of target $1's rounds: the median (the middle round by requests/s).
median() { sort -n -k1,1 "$work/results.$1" | awk -v c="$2" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'; }

# Targets interleaved round by round, so a neighbour's load on a shared
# machine hits all of them alike; the medians are reported.
idle_rss=$(rss VmRSS)
for round in $(seq "$ROUNDS"); do
    measure trivial /bench/trivial
    measure inject /inject
    measure unique /inject label
    measure new /inject image
done
peak=$(rss VmHWM)
idle_after=$(rss VmRSS)

echo
echo "injector load bench: $CONNECTIONS connections, keep-alive, TLS, $ROUNDS rounds of $DURATION per target, $(nproc) CPUs"
echo "server on CPU $SERVER_CPUS, wrk on CPU $WRK_CPUS; body $(wc -c <"$work/review.json") bytes; medians of the rounds;"
echo "RSS: the server's largest VmRSS while the target ran in the first round (targets run in this order)"
printf '%-10s %12s %10s %10s %14s   %s\n' target 'requests/s' 'p50 ms' 'p99 ms' 'RSS KiB (1st)' 'requests/s by round'
for name in trivial inject unique new; do
    printf '%-10s %12s %10s %10s %14s   %s\n' "$name" "$(median $name 1)" "$(median $name 2)" \
        "$(median $name 3)" "$(head -1 "$work/results.$name" | cut -d' ' -f4)" \
        "$(cut -d' ' -f1 "$work/results.$name" | paste -sd' ')"
done
awk -v i="$(median inject 1)" -v u="$(median unique 1)" -v n="$(median new 1)" -v t="$(median trivial 1)" 'BEGIN {
    printf "inject / trivial throughput: %.1f%% (same pod; goal: at least 30%%), %.1f%% (unique pods; goal: at least 10%%), %.1f%% (new pods)\n",
        100 * i / t, 100 * u / t, 100 * n / t }'
echo "RSS idle: ${idle_rss} KiB before load, ${idle_after} KiB after; peak (VmHWM): ${peak} KiB"
curl -s "http://$admin/metrics" | grep -E '^sidecar_injection_(requests|success)_total|^sidecar_injection_failure_total' || true
