#!/usr/bin/env bash
# Server time of each dashboard request on a store, through `memory ui` on a free loopback
# port: the median of 5 after a first call, which is shown too (the server caches what it
# read: a repeated request costs less than the first). The deep pages are timed at 5
# different depths instead, each asked once, as a reader paging down meets them. See
# scripts/dashboard_store.py for a large store; the namespace's graph needs relationships
# (`memory relate`) to draw.
set -euo pipefail
bin=$1; db=$2
"$bin" --db "$db" ui --port 0 2> "${TMPDIR:-/tmp}/dashboard-timings-ui.err" &
pid=$!
trap 'kill $pid' EXIT
for _ in $(seq 50); do grep -q "http://" "${TMPDIR:-/tmp}/dashboard-timings-ui.err" 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "${TMPDIR:-/tmp}/dashboard-timings-ui.err" | head -1)
id=$(curl -s "$base/api/episodes?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
# Pages 50,000 episodes deep and more, reached as the page reaches them: by cursor (the
# `next` of each page, 200 a page, the API's largest): the cursors after 50,000, 50,200, …
# 50,800 episodes. None when the namespace holds fewer.
deep=$(python3 - "$base" <<'PY'
import json, sys, urllib.request
base, seen, cursor, found = sys.argv[1], 0, None, []
while len(found) < 5:
    url = f"{base}/api/episodes?limit=200" + (f"&cursor={cursor}" if cursor else "")
    with urllib.request.urlopen(url) as r:
        page = json.load(r)
    seen += len(page["items"])
    cursor = page["next"]
    if not cursor:
        break
    if seen >= 50_000:
        found.append(cursor)
print(" ".join(found) if len(found) == 5 else "")
PY
)
ms() { awk '{printf "%.1f ms", $1*1000}'; }
median() { printf '%s\n' "$@" | sort -n | sed -n 3p | ms; }
t() { # name, curl args...: the median of 5 after a first call
  local name=$1; shift
  local first times=()
  first=$(curl -s -o /dev/null -w '%{time_total}' "$@" | ms)
  for _ in 1 2 3 4 5; do times+=("$(curl -s -o /dev/null -w '%{time_total}' "$@")"); done
  printf '%-52s %9s  (first %s)\n' "$name" "$(median "${times[@]}")" "$first"
}
tu() { # name, 5 URLs: the median of one call of each
  local name=$1; shift
  local times=()
  for url in "$@"; do times+=("$(curl -s -o /dev/null -w '%{time_total}' "$url")"); done
  printf '%-52s %9s  (5 depths, each once)\n' "$name" "$(median "${times[@]}")"
}
t "GET / (page)" "$base/"
t "GET /ui/app.js" "$base/ui/app.js"
t "GET /api/session" "$base/api/session"
t "GET /api/overview" "$base/api/overview"
t "GET /api/episodes (first page of 25)" "$base/api/episodes"
if [ -n "$deep" ]; then
  urls=()
  for c in $deep; do urls+=("$base/api/episodes?cursor=$c"); done
  tu "GET /api/episodes?cursor=<next> (50,000+ deep)" "${urls[@]}"
else
  echo "(fewer than 51,000 episodes: no deep page by cursor)"
fi
urls=()
for o in 50000 50200 50400 50600 50800; do urls+=("$base/api/episodes?offset=$o"); done
tu "GET /api/episodes?offset=50000+" "${urls[@]}"
t "GET /api/episodes?domain=infra&outcome=success" "$base/api/episodes?domain=infra&outcome=success"
t "GET /api/episodes?outcome=failure" "$base/api/episodes?outcome=failure"
t "GET /api/episodes?domain=none-such (nothing matches)" "$base/api/episodes?domain=none-such"
t "GET /api/episodes?tag=demo&after=2020-01-01" "$base/api/episodes?tag=demo&after=2020-01-01"
t "GET /api/episodes?q=flaky+login" "$base/api/episodes?q=flaky+login"
t "GET /api/episodes/{id}" "$base/api/episodes/$id"
t "GET /api/graph/{id}" "$base/api/graph/$id"
t "GET /api/graph (the namespace's newest 300 edges)" "$base/api/graph"
t "GET /api/patterns" "$base/api/patterns"
t "POST /api/retrieve" -X POST -H 'content-type: application/json' -d '{"task":"kubernetes pods crash after a config change","domain":"infra"}' "$base/api/retrieve"
t "GET /api/perf" "$base/api/perf"
