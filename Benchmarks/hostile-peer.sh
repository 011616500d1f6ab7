#!/usr/bin/env bash
# The webhook listener under a flood of idle connections (the test HostileNetworkTests opens 2,000; this opens
# as many as asked, 10,000 by default, if the descriptor limit allows): the host's open descriptors, /healthz on
# the admin port and signed deliveries are measured while the flood holds.
# Usage: Benchmarks/hostile-peer.sh [connections] [max-connections]   (after `swift build` or `swift build -c release`)
set -euo pipefail
cd "$(dirname "$0")/.."
flood=${1:-10000}
cap=${2:-1024}
bin=.build/release/mlhost
[ -x "$bin" ] || bin=.build/debug/mlhost
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
host_pid=""
cleanup() { [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cat > "$work/flood.lua" <<'LUA'
local c = mlhost.connector { name = "flood" }
c:on_webhook("shopify", "orders/create", function() end)
return c
LUA
"$bin" creds set flood.shopify --type webhook_secret --field secret=flood-secret --state "$work/state" >/dev/null
"$bin" run "$work/flood.lua" --state "$work/state" --webhook-port 0 --admin-port 0 --max-connections "$cap" \
  --header-timeout 10 --idle-timeout 60 > "$work/host.log" 2>&1 &
host_pid=$!
for _ in $(seq 100); do grep -q "webhooks listening" "$work/host.log" && grep -q "admin API listening" "$work/host.log" && break; sleep 0.1; done
webhooks=$(grep "webhooks listening" "$work/host.log" | sed 's/.*url=\([^ ]*\).*/\1/')
admin=$(grep "admin API listening" "$work/host.log" | sed 's/.*url=\([^ ]*\).*/\1/')

python3 - "$webhooks" "$admin" "$host_pid" "$flood" "$cap" <<'PY'
import base64, hashlib, hmac, os, socket, sys, time, urllib.request
webhooks, admin, pid, flood, cap = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
port = int(webhooks.rsplit(":", 1)[1])
def fds(): return len(os.listdir(f"/proc/{pid}/fd"))
def timed(request):
    t = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as r: status = r.status
    except Exception as e: status = str(e)
    return status, time.monotonic() - t
def delivery(n):
    body = b'{"id": %d}' % n
    sig = base64.b64encode(hmac.new(b"flood-secret", body, hashlib.sha256).digest()).decode()
    return urllib.request.Request(webhooks + "/hooks/flood/orders_create", data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Shopify-Hmac-Sha256": sig, "X-Shopify-Webhook-Id": f"flood-{n}"})
print(f"host descriptors before: {fds()}")
held, started = [], time.monotonic()
for _ in range(flood):
    s = socket.socket(); s.setblocking(False)
    try: s.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    held.append(s)
print(f"{len(held)} idle connections opened in {time.monotonic() - started:.1f} s (cap {cap})")
peak = 0
for n in range(10):
    time.sleep(0.5)
    peak = max(peak, fds())
    health, health_s = timed(admin + "/healthz")
    status, seconds = timed(delivery(n))
    print(f"t={time.monotonic() - started:4.1f}s  descriptors {fds():5d}  /healthz {health} in {health_s * 1000:.0f} ms  delivery {status} in {seconds * 1000:.0f} ms")
print(f"peak host descriptors during the flood: {peak}")
for s in held: s.close()
PY
