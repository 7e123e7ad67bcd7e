#!/usr/bin/env bash
# make demo: generate the synthetic registry, import it, start the zone on 127.0.0.1, run the
# example clients, stop the zone, verify the audit chain. Starts from a clean var/demo each time.
set -euo pipefail
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

echo "== 4. starting the zone on $LISTEN"
$BIN/zone --log-level WARNING serve --config "$CONFIG" --listen "$LISTEN" > "$DEMO/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT

echo "== 5. running the example clients"
$BIN/python examples/client_demo.py --target "$LISTEN" --tokens examples/demo_tokens.env

echo "== 6. stopping the zone (SIGTERM, graceful)"
kill -TERM $SERVER
wait $SERVER
trap - EXIT

echo "== 7. verifying the audit chain offline"
$BIN/zone audit verify --config "$CONFIG"
