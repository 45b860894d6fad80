#!/usr/bin/env bash
# Soak bench of the injector fleet (manual, not part of the test run; loopback only).
#
# Builds the binaries, then runs tests/soak/soak.py: two config servers and
# three injectors under steady admission load for DURATION (default 600 s),
# with a template rollout every 30 s (every fourth one broken), config
# server B killed and restarted, and the injectors' certificates rotated.
# It prints failed admissions, p99 latency per interval and the RSS of every
# process at the start and the end; see the script's header for the knobs.
#
# Usage: tests/soak/run.sh                      (10 minutes after the build)
#        DURATION=120 INTERVAL=15 tests/soak/run.sh
#        PROFILE=debug tests/soak/run.sh        (skip the release build)
set -euo pipefail
cd "$(dirname "$0")/../.."

PROFILE=${PROFILE:-release}
for tool in openssl python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is needed" >&2; exit 1; }
done
if [[ $PROFILE == release ]]; then
    cargo build --release --quiet -p injector -p config-server
else
    cargo build --quiet -p injector -p config-server
fi
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
SOAK_BIN_DIR="$target/$PROFILE" exec python3 tests/soak/soak.py
