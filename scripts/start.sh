#!/usr/bin/env bash
# `npm start`: set up (idempotent), build, apply the D1 migrations, and serve
# the demo shop, the dashboard, the tracker, the collector and the API on
# http://127.0.0.1:8787 with local Durable Objects/D1/Queues kept in .wrangler/state.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
PORT="${PORT:-8787}"
API_KEY="${TOUCHLINE_API_KEY:-touchline-dev-key}"
STATE="${TOUCHLINE_STATE:-.wrangler/state}"
bash scripts/build.sh
CI=true wrangler d1 migrations apply touchline --local --persist-to "$STATE" -c wrangler.prebuilt.toml >/dev/null
cat <<MSG

  Touchline is running on http://127.0.0.1:$PORT
    demo shop   http://127.0.0.1:$PORT/
    tracker     http://127.0.0.1:$PORT/t.js
    collector   POST http://127.0.0.1:$PORT/v1/collect
    dashboard   http://127.0.0.1:$PORT/dashboard/  (API key: $API_KEY)
    journeys    curl -H 'Authorization: Bearer $API_KEY' http://127.0.0.1:$PORT/v1/journeys
  State is kept in $STATE. Stop with Ctrl-C.

MSG
wrangler dev -c wrangler.prebuilt.toml --port "$PORT" --ip 127.0.0.1 --inspector-port 0 \
  --persist-to "$STATE" --var "API_KEY:$API_KEY" \
  --var "SITES:{\"demo\":{\"origins\":[\"http://127.0.0.1:$PORT\",\"http://localhost:$PORT\"]}}" \
  --var "EVENTS_KEY:${TOUCHLINE_EVENTS_KEY:-touchline-dev-events-key}" \
  --var "WHATSAPP_APP_SECRET:${WHATSAPP_APP_SECRET:-touchline-dev-app-secret}" \
  --var "WHATSAPP_VERIFY_TOKEN:${WHATSAPP_VERIFY_TOKEN:-touchline-dev-verify-token}" \
  --var "LINK_SECRET:${TOUCHLINE_LINK_SECRET:-touchline-dev-link-secret}" \
  --log-level "${LOG_LEVEL:-info}" &
WRANGLER_PID=$!
trap 'kill "$WRANGLER_PID" 2>/dev/null' INT TERM EXIT
# Fill a fresh local state with demo journeys once (the script skips when they
# are there); TOUCHLINE_DEMO=0 leaves the state empty.
if [ "${TOUCHLINE_DEMO:-1}" != "0" ]; then
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    sleep 0.5
  done
  TOUCHLINE_API_KEY="$API_KEY" node scripts/demo-data.mjs --url "http://127.0.0.1:$PORT" \
    || echo "demo data could not be loaded; the collector keeps running"
fi
wait "$WRANGLER_PID"
