#!/usr/bin/env bash
# Server time of each dashboard request on a store (median of 5 after a warm-up), through
# `memory ui` on a free loopback port. See scripts/dashboard_store.py for a large store.
set -euo pipefail
bin=$1; db=$2
"$bin" --db "$db" ui --port 0 2> "${TMPDIR:-/tmp}/dashboard-timings-ui.err" &
pid=$!
trap 'kill $pid' EXIT
for _ in $(seq 50); do grep -q "http://" "${TMPDIR:-/tmp}/dashboard-timings-ui.err" 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "${TMPDIR:-/tmp}/dashboard-timings-ui.err" | head -1)
id=$(curl -s "$base/api/episodes?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
t() { # name, curl args...
  local name=$1; shift
  curl -s -o /dev/null "$@" >/dev/null
  local times=()
  for _ in 1 2 3 4 5; do times+=("$(curl -s -o /dev/null -w '%{time_total}' "$@")"); done
  printf '%-44s %s\n' "$name" "$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p | awk '{printf "%.1f ms", $1*1000}')"
}
t "GET / (page)" "$base/"
t "GET /ui/app.js" "$base/ui/app.js"
t "GET /api/session" "$base/api/session"
t "GET /api/overview" "$base/api/overview"
t "GET /api/episodes (first page of 25)" "$base/api/episodes"
t "GET /api/episodes?offset=50000" "$base/api/episodes?offset=50000"
t "GET /api/episodes?domain=infra&outcome=success" "$base/api/episodes?domain=infra&outcome=success"
t "GET /api/episodes?tag=demo&after=2020-01-01" "$base/api/episodes?tag=demo&after=2020-01-01"
t "GET /api/episodes?q=flaky+login" "$base/api/episodes?q=flaky+login"
t "GET /api/episodes/{id}" "$base/api/episodes/$id"
t "GET /api/graph/{id}" "$base/api/graph/$id"
t "GET /api/patterns" "$base/api/patterns"
t "POST /api/retrieve" -X POST -H 'content-type: application/json' -d '{"task":"kubernetes pods crash after a config change","domain":"infra"}' "$base/api/retrieve"
t "GET /api/perf" "$base/api/perf"
