#!/usr/bin/env bash
# bench/accept.sh — the accept path (POST /v1/emails) of the ingress, on this machine's PostgreSQL and RabbitMQ.
#
#   bench/accept.sh                      warm-up, a fixed 1,000 req/s (open loop), then saturation (closed loop); after
#                                        each closed loop it waits for the outbox to publish what was left in it
#   CONCURRENCY=32 RATE=2000 DURATION=30s bench/accept.sh
#
# It builds the ingress and the load generator in Release, creates a PostgreSQL database and a RabbitMQ virtual
# host of its own, runs the ingress's `migrate`, starts the ingress (Production, rate limit out of the way,
# logging at Warning) on a loopback port, runs the load, reads the ingress's peak RSS (VmHWM), its CPU and the bytes its GC
# allocated per accept at saturation (from /proc and its /metrics), prints a table and
# writes artifacts/bench/accept.json. The delivery lanes' queues are declared in the virtual host (no worker consumes
# them), so the outbox publisher does its production work while the accepts are measured. Everything it started or
# created is removed on exit.
# Needs the infra of `./build.sh infra-up` (PostgreSQL role emailplatform with CREATEDB, RabbitMQ guest).
#
# Settings (environment): DURATION (20s), WARMUP (10s), RATE_WARMUP (5s: the fixed rate run first, in the same
# load generator process, and not measured, so that the generator's own start is not in its latencies), DRAIN_TIMEOUT
# (300: seconds the outbox may take to publish what a closed loop left in it), OUTAGE (0: none; a duration such as 10s
# adds a last closed loop with RabbitMQ's application stopped on this machine's node, then times the outbox's catch-up),
# CONCURRENCY (64), RATE (1000), BODY_SIZE (2048: bytes of request JSON), BODY_KIND (text: a plain-text part fills
# it; html: an order confirmation's HTML table fills two thirds and its plain-text part the rest),
# IDEMPOTENCY_KEYS (0; 1 sends a unique Idempotency-Key with every request), NO_BUILD (0),
# PG_HOST/PG_PORT/PG_USER/PG_PASSWORD (127.0.0.1/5432/emailplatform/emailplatform), PG_OPTIONS (extra connection
# string settings for the ingress, e.g. "SSL Mode=Disable"), RABBITMQ_URI (amqp://guest:guest@127.0.0.1:5672),
# INGRESS_DLL (another build of the ingress to compare against, e.g. a `git worktree` of an earlier commit built in
# Release, with NO_BUILD=1), BENCH_DLL (likewise, another build of the load generator).
set -euo pipefail

cd "$(dirname "$0")/.."

DURATION="${DURATION:-20s}"
WARMUP="${WARMUP:-10s}"
RATE_WARMUP="${RATE_WARMUP:-5s}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-300}"
OUTAGE="${OUTAGE:-0}"
CONCURRENCY="${CONCURRENCY:-64}"
RATE="${RATE:-1000}"
BODY_SIZE="${BODY_SIZE:-2048}"
BODY_KIND="${BODY_KIND:-text}"
IDEMPOTENCY_KEYS="${IDEMPOTENCY_KEYS:-0}"
NO_BUILD="${NO_BUILD:-0}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-emailplatform}"
PG_PASSWORD="${PG_PASSWORD:-emailplatform}"
RABBITMQ_URI="${RABBITMQ_URI:-amqp://guest:guest@127.0.0.1:5672}"

OUT_DIR="artifacts/bench"
RUN_ID="$(date +%s)-$$"
DB_NAME="ep_bench_${RUN_ID//-/_}"
VHOST="ep-bench-$RUN_ID"
INGRESS_DLL="${INGRESS_DLL:-services/EmailPlatform.Ingress/bin/Release/net10.0/EmailPlatform.Ingress.dll}"
BENCH_DLL="${BENCH_DLL:-bench/EmailPlatform.Bench/bin/Release/net10.0/EmailPlatform.Bench.dll}"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { echo "==> $*" >&2; }
die() { echo "==> ERROR: $*" >&2; exit 1; }

SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
rabbitmqctl_() { timeout 60 "${SUDO[@]}" rabbitmqctl -q "$@" >/dev/null; }
psql_() { PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=10 psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres "$@"; }

INGRESS_PID=""
CREATED_DB=0
CREATED_VHOST=0
STOPPED_RABBITMQ=0
WORK_DIR="$(mktemp -d -t emailplatform-bench-XXXXXX)"

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ -n "$INGRESS_PID" ]] && kill -0 "$INGRESS_PID" 2>/dev/null; then
    log "stopping the ingress (pid $INGRESS_PID)"
    kill -TERM "$INGRESS_PID" 2>/dev/null
    for _ in $(seq 20); do kill -0 "$INGRESS_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$INGRESS_PID" 2>/dev/null
    wait "$INGRESS_PID" 2>/dev/null
  fi
  if [[ $CREATED_DB -eq 1 ]]; then
    log "dropping database $DB_NAME"
    psql_ -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >&2
  fi
  if [[ $STOPPED_RABBITMQ -eq 1 ]]; then
    log "starting RabbitMQ's application again"
    rabbitmqctl_ start_app
  fi
  if [[ $CREATED_VHOST -eq 1 ]]; then
    log "deleting RabbitMQ vhost $VHOST"
    rabbitmqctl_ delete_vhost "$VHOST"
  fi
  if [[ $rc -ne 0 && -f "$WORK_DIR/ingress.log" ]]; then
    log "ingress output (last 40 lines):"
    tail -n 40 "$WORK_DIR/ingress.log" >&2
  fi
  rm -rf "$WORK_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# ---------------------------------------------------------------- build

if [[ $NO_BUILD != 1 ]]; then
  log "building the ingress and the load generator (Release)"
  dotnet build services/EmailPlatform.Ingress/EmailPlatform.Ingress.csproj -c Release -v q -nologo >&2 || die "build of the ingress failed"
  dotnet build bench/EmailPlatform.Bench/EmailPlatform.Bench.csproj -c Release -v q -nologo >&2 || die "build of the load generator failed"
fi
[[ -f $INGRESS_DLL && -f $BENCH_DLL ]] || die "missing build output ($INGRESS_DLL, $BENCH_DLL)"

# ---------------------------------------------------------------- store and broker

pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || die "PostgreSQL is not accepting connections on $PG_HOST:$PG_PORT (./build.sh infra-up)"
log "creating database $DB_NAME"
psql_ -c "CREATE DATABASE \"$DB_NAME\"" >&2
CREATED_DB=1

log "creating RabbitMQ vhost $VHOST"
rabbit_user="${RABBITMQ_URI#amqp://}"; rabbit_user="${rabbit_user%%:*}"
rabbitmqctl_ add_vhost "$VHOST" || die "rabbitmqctl add_vhost failed (is RabbitMQ running? ./build.sh infra-up)"
CREATED_VHOST=1
rabbitmqctl_ set_permissions -p "$VHOST" "$rabbit_user" '.*' '.*' '.*'

API_KEY="bench_$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
export ConnectionStrings__Postgres="Host=$PG_HOST;Port=$PG_PORT;Username=$PG_USER;Password=$PG_PASSWORD;Database=$DB_NAME${PG_OPTIONS:+;$PG_OPTIONS}"
export ConnectionStrings__RabbitMq="${RABBITMQ_URI%/}/$VHOST"
export Auth__BootstrapKey="$API_KEY"
export DOTNET_ENVIRONMENT=Production ASPNETCORE_ENVIRONMENT=Production
export Logging__LogLevel__Default=Warning
export Ingress__RateLimit__PermitsPerSecond=1000000
unset OTEL_EXPORTER_OTLP_ENDPOINT

log "declaring the delivery lanes' queues (as the workers would)"
timeout --foreground 60 dotnet "$BENCH_DLL" --declare-lanes "$ConnectionStrings__RabbitMq" >&2 || die "declaring the lanes failed"

log "migrating"
timeout --foreground 120 dotnet "$INGRESS_DLL" migrate >"$WORK_DIR/migrate.log" 2>&1 || { cat "$WORK_DIR/migrate.log" >&2; die "ingress migrate failed"; }

# ---------------------------------------------------------------- ingress

PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
log "starting the ingress on $URL"
dotnet "$INGRESS_DLL" --urls "$URL" >"$WORK_DIR/ingress.log" 2>&1 &
INGRESS_PID=$!
for _ in $(seq 120); do
  kill -0 "$INGRESS_PID" 2>/dev/null || die "the ingress exited while starting"
  curl -sf -o /dev/null "$URL/health/ready" && break
  sleep 0.5
done
curl -sf -o /dev/null "$URL/health/ready" || die "the ingress was not ready within 60 s"
rss_mb() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$INGRESS_PID/status"; }
IDLE_RSS="$(rss_mb VmRSS)"
log "ingress ready (pid $INGRESS_PID, RSS ${IDLE_RSS} MB)"

mkdir -p "$OUT_DIR"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
bench() { # label args...
  local label=$1; shift
  local extra=()
  [[ $IDEMPOTENCY_KEYS == 1 ]] && extra+=(--idempotency-keys)
  timeout --foreground 300 dotnet "$BENCH_DLL" --url "$URL" --key "$API_KEY" --body-size "$BODY_SIZE" --body-kind "$BODY_KIND" --label "$label" \
    --out "$WORK_DIR/$label.json" "${extra[@]}" "$@" >&2 || die "load generator failed ($label)"
  kill -0 "$INGRESS_PID" 2>/dev/null || die "the ingress died during $label"
}

# A closed loop accepts faster than the outbox publisher hands the emails to RabbitMQ, and leaves tens of thousands of
# outbox rows waiting when it ends (one per email sent at once, published as its two bus messages). drain waits until
# they are published and reports how many there were and how long they took (the publisher's catch-up rate):
# "label backlog seconds", appended to $WORK_DIR/drains.
pending() { psql_ -d "$DB_NAME" -At -c "SELECT count(*) FROM outbox_messages WHERE published_at IS NULL"; }
drain() { # label
  local backlog left start
  backlog="$(pending)"; left="$backlog"; start="$(date +%s.%N)"
  log "outbox: $backlog rows still to publish after $1; waiting for them (at most ${DRAIN_TIMEOUT}s)"
  while (( left > 0 )); do
    (( $(date +%s) - ${start%.*} < DRAIN_TIMEOUT )) || die "the outbox still had $left rows to publish after ${DRAIN_TIMEOUT}s"
    sleep 0.2
    left="$(pending)"
  done
  echo "$1 $backlog $(python3 -c "import sys, time; print(round(time.time() - float(sys.argv[1]), 2))" "$start")" >>"$WORK_DIR/drains"
}

log "warm-up: $WARMUP at concurrency $CONCURRENCY"
bench warmup --mode saturate --concurrency "$CONCURRENCY" --duration "$WARMUP"
drain warmup
# The fixed rate comes before saturation: right after it, PostgreSQL is still checkpointing the gigabyte of WAL that
# 100,000 accepts and their publication wrote and vacuuming the outbox, and a latency measured then is that aftermath's,
# not the accept path's at this rate (bench/HISTORY.md, 2026-12-07).
log "fixed rate: $RATE req/s for $DURATION, open loop (after $RATE_WARMUP at that rate, not measured)"
bench rate --mode rate --rate "$RATE" --duration "$DURATION" --warmup "$RATE_WARMUP"
# CPU seconds the ingress used (user + system), from /proc: CPU per accepted request is a figure that other work on a
# shared machine skews much less than requests per second.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$INGRESS_PID/stat"; }
# The runtime's own counters, as the ingress exports them: bytes allocated and seconds paused by the GC so far.
gc_counters() { curl -sf "$URL/metrics" | python3 bench/gc_counters.py || echo '{}'; }
log "saturation: $DURATION, closed loop, concurrency $CONCURRENCY"
gc_counters >"$WORK_DIR/gc-before.json"
CPU_BEFORE="$(cpu_s)"
bench saturate --mode saturate --concurrency "$CONCURRENCY" --duration "$DURATION"
CPU_AFTER="$(cpu_s)"
gc_counters >"$WORK_DIR/gc-after.json"
drain saturation

if [[ $OUTAGE != 0 ]]; then
  # RabbitMQ's application stopped on this machine's node (every vhost: nothing else may be using it) for a closed loop:
  # the ingress keeps accepting into its outbox, and once the broker is back the publisher reconnects and publishes
  # what waited; the drain's time runs from the broker being back, reconnection included.
  log "broker outage: RabbitMQ stopped (rabbitmqctl stop_app) for a closed loop of $OUTAGE"
  rabbitmqctl_ stop_app || die "rabbitmqctl stop_app failed"
  STOPPED_RABBITMQ=1
  bench outage --mode saturate --concurrency "$CONCURRENCY" --duration "$OUTAGE"
  rabbitmqctl_ start_app || die "rabbitmqctl start_app failed"
  STOPPED_RABBITMQ=0
  drain outage
fi

LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
PEAK_RSS="$(rss_mb VmHWM)"
END_RSS="$(rss_mb VmRSS)"
# What an accepted email costs the outbox: the mean size of its rows' JSON (published rows stay until cleaned up).
OUTBOX_BYTES="$(psql_ -d "$DB_NAME" -At -c "SELECT coalesce(round(avg(octet_length(payload))), 0) FROM outbox_messages")"

# ---------------------------------------------------------------- report

python3 - "$WORK_DIR" "$OUT_DIR/accept.json" "$PEAK_RSS" "$IDLE_RSS" "$END_RSS" "$LOAD_BEFORE" "$LOAD_AFTER" "$CPU_BEFORE" "$CPU_AFTER" \
  "$BODY_SIZE" "$BODY_KIND" "$OUTBOX_BYTES" <<'PY'
import json, os, platform, sys, datetime
work, out, peak, idle, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
load_before, load_after = sys.argv[6], sys.argv[7]
cpu_used = float(sys.argv[9]) - float(sys.argv[8])
gc0, gc1 = (json.load(open(os.path.join(work, f))) for f in ("gc-before.json", "gc-after.json"))
gc = {k: gc1[k] - gc0[k] for k in ("allocated_bytes", "pause_s") if k in gc0 and k in gc1}
body_size, body_kind, outbox_bytes = int(sys.argv[10]), sys.argv[11], int(sys.argv[12])
drains = {label: {"backlog_rows": int(n), "seconds": float(t), "rows_per_s": round(int(n) / float(t)) if float(t) > 0 else None}
          for label, n, t in (line.split() for line in open(os.path.join(work, "drains")))}
runs = {name: json.load(open(os.path.join(work, name + ".json"))) for name in ("warmup", "saturate", "rate", "outage")
        if os.path.exists(os.path.join(work, name + ".json"))}
sat, rate = runs["saturate"], runs["rate"]
def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
result = {
    "benchmark": "accept",
    "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": {"cpus": os.cpu_count(), "cpu": cpu(), "loadavg_before": load_before, "loadavg_after": load_after},
    "body_bytes": body_size,
    "body_kind": body_kind,
    "outbox_payload_bytes_mean": outbox_bytes,
    "saturate_accepted_per_s": sat["accepted_per_s"],
    "saturate_p50_ms": sat["latency_ms"]["p50"],
    "saturate_p99_ms": sat["latency_ms"]["p99"],
    "saturate_ingress_cpu_ms_per_accept": round(1000 * cpu_used / max(1, sat["accepted"]), 3),
    "saturate_ingress_allocated_kb_per_accept": round(gc["allocated_bytes"] / 1024 / sat["accepted"], 1) if sat["accepted"] and "allocated_bytes" in gc else 0,
    "saturate_ingress_gc_pause_s": round(gc.get("pause_s", 0), 2),
    "outbox_drains": drains,
    "rate_target_per_s": rate["target_rate"],
    "rate_accepted_per_s": rate["accepted_per_s"],
    "accept_p50_ms": rate["latency_ms"]["p50"],
    "accept_p95_ms": rate["latency_ms"]["p95"],
    "accept_p99_ms": rate["latency_ms"]["p99"],
    "accept_max_ms": rate["latency_ms"]["max"],
    "ingress_rss_mb": {"idle": idle, "peak": peak, "end": end},
    "targets": {
        "saturate_accepted_per_s >= 5000": sat["accepted_per_s"] >= 5000,
        "accept_p99_ms <= 25 at 1000/s": rate["latency_ms"]["p99"] <= 25,
        "ingress peak rss < 250 MB": peak < 250,
    },
    "runs": runs,
}
json.dump(result, open(out, "w"), indent=2)
def errors(r):
    return ", ".join(f"{k}×{v}" for k, v in r["errors"].items()) or "none"
rows = [
    ("saturation (closed loop, concurrency %s)" % sat["concurrency"], "%.0f/s" % sat["accepted_per_s"],
     sat["latency_ms"]["p50"], sat["latency_ms"]["p95"], sat["latency_ms"]["p99"], sat["latency_ms"]["max"], errors(sat)),
    ("fixed rate (open loop, %g/s)" % rate["target_rate"], "%.0f/s" % rate["accepted_per_s"],
     rate["latency_ms"]["p50"], rate["latency_ms"]["p95"], rate["latency_ms"]["p99"], rate["latency_ms"]["max"], errors(rate)),
]
if "outage" in runs:
    o = runs["outage"]
    rows.append(("RabbitMQ stopped (closed loop, %s)" % o["concurrency"], "%.0f/s" % o["accepted_per_s"],
                 o["latency_ms"]["p50"], o["latency_ms"]["p95"], o["latency_ms"]["p99"], o["latency_ms"]["max"], errors(o)))
print("request body: %d bytes of JSON (%s); outbox row payload: %d bytes on average" % (body_size, body_kind, outbox_bytes))
print("%-42s %10s %8s %8s %8s %8s  %s" % ("run", "accepted", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"))
for r in rows:
    print("%-42s %10s %8.2f %8.2f %8.2f %8.2f  %s" % r)
for label, d in drains.items():
    print("outbox after %s: %d rows (emails, two bus messages each) still to publish, published in %.1f s (%s rows/s)" % (
        label, d["backlog_rows"], d["seconds"], d["rows_per_s"] or "-"))
print("ingress RSS: idle %.0f MB, peak (VmHWM) %.0f MB, end %.0f MB" % (idle, peak, end))
print("ingress CPU during saturation: %.1f s for %d accepted = %.3f ms per accept" % (cpu_used, sat["accepted"], result["saturate_ingress_cpu_ms_per_accept"]))
print("ingress GC during saturation: %.1f KB allocated per accept, %.2f s paused" % (result["saturate_ingress_allocated_kb_per_accept"], result["saturate_ingress_gc_pause_s"]))
print("load average (1/5/15 min): before %s, after %s (%d CPUs; other work on the machine skews the figures)" % (load_before, load_after, os.cpu_count()))
for name, ok in result["targets"].items():
    print("target %-36s %s" % (name, "met" if ok else "MISSED"))
print("written: " + out)
PY
