#!/usr/bin/env bash
# make demo: generate the synthetic registry, import it, start the zone on 127.0.0.1, run the
# example clients, stop the zone, verify the audit chain. Starts from a clean var/demo each time.
#
# The zone listens on 127.0.0.1:50051, or on a free port when another program holds 50051;
# ZONE_DEMO_LISTEN=HOST:PORT asks for an address (and stops the demo if it is taken). The
# clients check that they talk to the zone this script started: `zone serve` prints its
# per-start instance id, which every reply carries.
set -euo pipefail
umask 077  # the zone's files (data, state, logs) are private: 0600 in 0700 folders
cd "$(dirname "$0")/.."
BIN=.venv/bin
DEMO=var/demo
CONFIG=examples/zone.yaml
LISTEN=${ZONE_DEMO_LISTEN:-127.0.0.1:50051}

rm -rf "$DEMO" && mkdir -p "$DEMO"
echo "== 1. generating the synthetic enterprise registry (seeded, 100,000 rows)"
$BIN/python examples/generate_enterprises.py --rows 100000 --out "$DEMO/enterprises.csv"

echo "== 2. importing it into the zone (DuckDB), with its metadata"
$BIN/zone datasets import "$DEMO/enterprises.csv" --name enterprises \
    --meta examples/enterprises.meta.yaml --config "$CONFIG"

echo "== 3. checking products and policies"
$BIN/zone policy check --config "$CONFIG"

SERVER=
trap 'if [ -n "$SERVER" ]; then kill -TERM $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; fi' EXIT

# Start `zone serve` on $1; on success set SERVER, TARGET and INSTANCE from the lines it prints
# once SERVING ("zone: serving on HOST:PORT", "zone: instance ID"); on failure return 1.
start_zone() {
    : > "$DEMO/server.out"
    $BIN/zone --log-level WARNING serve --config "$CONFIG" --listen "$1" \
        > "$DEMO/server.out" 2> "$DEMO/server.log" &
    SERVER=$!
    for _ in $(seq 1200); do
        if { read -r _ _ _ TARGET && read -r _ _ INSTANCE; } < "$DEMO/server.out"; then
            return 0
        fi
        if ! kill -0 $SERVER 2>/dev/null; then
            wait $SERVER || true
            SERVER=
            return 1
        fi
        sleep 0.1
    done
    echo "the zone did not start within 120 s; see $DEMO/server.log" >&2
    exit 1
}

echo "== 4. starting the zone on $LISTEN"
if ! start_zone "$LISTEN"; then
    if [ -z "${ZONE_DEMO_LISTEN:-}" ] && grep -q "already in use" "$DEMO/server.log"; then
        echo "   $LISTEN is taken by another program: serving on a free port instead"
        start_zone 127.0.0.1:0 || { cat "$DEMO/server.log" >&2; exit 1; }
    else
        cat "$DEMO/server.log" >&2
        exit 1
    fi
fi
echo "   zone instance $INSTANCE serving on $TARGET"

echo "== 5. running the example clients"
$BIN/python examples/client_demo.py --target "$TARGET" --instance "$INSTANCE" \
    --tokens examples/demo_tokens.env

echo "== 6. stopping the zone (SIGTERM, graceful)"
kill -TERM $SERVER
wait $SERVER
SERVER=

echo "== 7. verifying the audit chain offline"
$BIN/zone audit verify --config "$CONFIG"
