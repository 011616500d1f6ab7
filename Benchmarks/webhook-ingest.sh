#!/usr/bin/env bash
# Webhook ingest throughput and latency with wrk: mlhost (signature checked, delivery durably queued, jobs
# running) against a bare Hummingbird handler that answers 200, in the same run, same wrk settings.
# Usage: Benchmarks/webhook-ingest.sh [seconds] [connections]   (after `swift build -c release`; MLHOST_BIN=dir
# runs the mlhost and mlhost-bench of another build, e.g. an earlier commit's, for a before/after comparison)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
bin=${MLHOST_BIN:-.build/release}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cat > "$work/ingest.lua" <<'LUA'
local c = mlhost.connector { name = "ingest" }
c:on_webhook("shopify", "orders/create", function() end)
return c
LUA
# 1,000 Shopify-style orders of 1 KB, each signed (wrk cannot compute HMACs): requests rotate through them, each
# with a delivery id of its own (a random UUID, as Shopify sends), so every delivery is new and queued, and jobs
# spread over many ordering keys as real traffic does. wrk's Lua generator starts from the same seed in every
# thread and every run, so each thread seeds it from /dev/urandom: otherwise the second thread and the second
# round would repeat the first one's ids and be answered as duplicates, which costs far less.
python3 - "$work" <<'PY'
import base64, hashlib, hmac, json, sys
work = sys.argv[1]
bodies, sigs = [], []
for n in range(1000):
    order = {"id": 5678900000 + n, "email": "zoe@example.com", "total_price": "124.95", "currency": "EUR",
             "line_items": [{"id": 1000 + i, "sku": f"SKU-{i}", "quantity": 1, "price": "41.65",
                             "title": "Produit n°%d — édition limitée" % i} for i in range(5)]}
    body = json.dumps(order, ensure_ascii=False)
    body += " " * max(0, 1024 - len(body.encode()))
    bodies.append(body)
    sigs.append(base64.b64encode(hmac.new(b"bench-secret", body.encode(), hashlib.sha256).digest()).decode())
with open(f"{work}/post.lua", "w") as f:
    f.write("local bodies, sigs = {}, {}\n")
    for body, sig in zip(bodies, sigs):
        f.write(f"bodies[#bodies + 1] = [==[{body}]==]\nsigs[#sigs + 1] = \"{sig}\"\n")
    f.write("""
local counter = 0
function init()
  local f = assert(io.open("/dev/urandom", "rb"))
  local seed = 0
  for b in f:read(6):gmatch(".") do seed = seed * 256 + b:byte() end
  f:close()
  math.randomseed(seed)
end
local function uuid()
  local r = math.random
  return string.format("%08x-%04x-4%03x-%04x-%06x%06x", r(0, 0xffffffff), r(0, 0xffff), r(0, 0xfff),
    r(0x8000, 0xbfff), r(0, 0xffffff), r(0, 0xffffff))
end
function request()
  counter = counter + 1
  local i = counter % #bodies + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Shopify-Hmac-Sha256"] = sigs[i],
    ["X-Shopify-Webhook-Id"] = uuid(),
  }, bodies[i])
end
""")
PY

# Server CPU (user + system, from /proc) per request beside wrk's figures: the cost that decides the ratio when
# wrk and the server share the cores.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# mlhost keeps running the jobs a round queued after wrk stops: measuring the next server before it idles would
# take that CPU from it and flatter the ratio.
settle() {
  local a b
  b=$(cpu_ticks "$1")
  while sleep 0.5; a=$b; b=$(cpu_ticks "$1"); [ $((b - a)) -gt 2 ]; do :; done
}
measure() {
  local before after p
  for p in "${pids[@]}"; do settle "$p"; done
  before=$(cpu_ticks "$2")
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/post.lua" "$1" > "$work/wrk.out" 2>&1
  after=$(cpu_ticks "$2")
  awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '/requests in/ {n=$1} /Requests\/sec/ {rps=$2}
    /^ +99%/ {p99=$2} /^ +50%/ {p50=$2} /Non-2xx/ {bad=$NF}
    END {printf "%s req/s, p50 %s, p99 %s, non-2xx %s, server CPU %.1f us/request\n", rps, p50, p99,
      (bad==""?0:bad), ticks / hz * 1e6 / n}' "$work/wrk.out"
  [ "$2" != "${host:-}" ] || awk '/requests in/ {n=$1} /Non-2xx/ {bad=$NF} END {print n - bad}' "$work/wrk.out" >> "$work/answered"
}

"$bin/mlhost-bench" serve-bare 18790 & bare=$!; pids+=($bare)
"$bin/mlhost" creds set ingest.shopify --type webhook_secret --field secret=bench-secret --state "$work/state" >/dev/null
"$bin/mlhost" run "$work/ingest.lua" --state "$work/state" --webhook-port 18791 --admin-port 18792 --log-level warning ${MLHOST_ARGS:-} & host=$!; pids+=($host)
sleep 2
for round in 1 2; do
  echo "round $round"
  echo -n "  bare Hummingbird 200: "; measure http://127.0.0.1:18790/hooks/ingest/orders_create "$bare"
  echo -n "  mlhost ingest:        "; measure http://127.0.0.1:18791/hooks/ingest/orders_create "$host"
done
# Every delivery is new, so mlhost stores one per 2xx, plus those still in flight when wrk stopped (≤ connections).
echo "mlhost: $(awk '{n += $1} END {print n}' "$work/answered") requests answered 2xx," \
  "$(sqlite3 "$work/state/mlhost.sqlite" 'select count(*) from deliveries') deliveries stored"
