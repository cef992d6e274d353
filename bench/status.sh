#!/usr/bin/env bash
# bench/status.sh — how fast the status service records events into PostgreSQL, on this machine's PostgreSQL and RabbitMQ.
#
#   bench/status.sh                      both runs below with the defaults
#   EVENTS=200000 bench/status.sh
#
# 1. recorder: the status service's writer and recorder in-process (no bus), fed EVENTS events by 1,000 concurrent
#    callers as the consumers would; events/s and the process's peak RSS.
# 2. bus: EVENTS events are published to a fresh RabbitMQ virtual host while the status service is stopped (its queues
#    declared by a first start), then the service is started and drains them; events/s is read from the store
#    (count / (last recorded_at - first recorded_at)), with the service's peak RSS (VmHWM). The drain starts cold, so
#    the rate of its second half (the later half of the events, by recorded_at) is reported too: a service that has
#    been running, as in production, works at that rate.
# Both report the CPU time the recording process itself spent per 1,000 events (not PostgreSQL's or RabbitMQ's), a
# figure that other load on the machine skews far less than events/s; the bus run also reports the service's managed
# allocations per event and its GC pause time (from its /metrics), and the recorder run its own (from the runtime), which other load does not skew at all.
# The bus run also reports, over the same window, the CPU of every postgres and beam.smp process and of the whole
# machine per 1,000 events: how the cost of recording splits between the service, PostgreSQL and RabbitMQ.
# Event mix (both runs): per email accepted + queued (one message, as the ingress sends them) and two recipients; 10% of recipients deferred once then
# delivered, 2% bounced (and suppressed), the rest delivered. A database and a vhost of its own for each run, removed
# on exit; writes artifacts/bench/status.json.
#
# Profiling the bus run: TRACE_PROFILE=gc-verbose (allocations sampled with their stacks), or
# dotnet-sampled-thread-time, or any other profile `dotnet-trace collect` takes, records the status service's first
# TRACE_SECONDS (20) of the drain with dotnet-trace (`dotnet tool install -g dotnet-trace`) into
# artifacts/bench/status-drain.nettrace, for PerfView or `dotnet-trace report`. The trace's own cost lowers that run's
# figures.
#
# Settings (environment): EVENTS (100000), BODY_SIZE (0: a one-line receipt; N: each email an HTML body of N characters
# and a text body of N/2, as a real receipt or password reset has), RUNS ("recorder bus": either or both), NO_BUILD (0),
# TRACE_PROFILE (none), TRACE_SECONDS (20), GC_GEN0SIZE (0x1000000, as the status image sets DOTNET_GCgen0size, for both runs; 0: the
# runtime's default), PG_HOST/PG_PORT/PG_USER/PG_PASSWORD
# (127.0.0.1/5432/emailplatform/emailplatform), RABBITMQ_URI (amqp://guest:guest@127.0.0.1:5672), STATUS_DLL (another
# build of the service to compare against, e.g. a ReadyToRun publish), extra service settings such as Status__Recording__MaxBatchSize pass through the environment.
set -euo pipefail

cd "$(dirname "$0")/.."

EVENTS="${EVENTS:-100000}"
BODY_SIZE="${BODY_SIZE:-0}"
# The first generation the service image sets (ENV DOTNET_GCgen0size in its Dockerfile); 0 for the runtime's default.
GC_GEN0SIZE="${GC_GEN0SIZE:-0x1000000}"
RUNS="${RUNS:-recorder bus}"
NO_BUILD="${NO_BUILD:-0}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-emailplatform}"
PG_PASSWORD="${PG_PASSWORD:-emailplatform}"
RABBITMQ_URI="${RABBITMQ_URI:-amqp://guest:guest@127.0.0.1:5672}"

OUT_DIR="artifacts/bench"
RUN_ID="$(date +%s)-$$"
STATUS_DLL="${STATUS_DLL:-services/EmailPlatform.Status/bin/Release/net10.0/EmailPlatform.Status.dll}"
BENCH_DLL="bench/EmailPlatform.StatusBench/bin/Release/net10.0/EmailPlatform.StatusBench.dll"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { echo "==> $*" >&2; }
die() { echo "==> ERROR: $*" >&2; exit 1; }

SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
rabbitmqctl_() { timeout 60 "${SUDO[@]}" rabbitmqctl -q "$@" >/dev/null; }
psql_() { PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=10 psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres "$@"; }
pg_conn() { echo "Host=$PG_HOST;Port=$PG_PORT;Username=$PG_USER;Password=$PG_PASSWORD;Database=$1"; }

STATUS_PID=""
DATABASES=()
VHOST=""
WORK_DIR="$(mktemp -d -t emailplatform-status-bench-XXXXXX)"

stop_status() {
  if [[ -n "$STATUS_PID" ]] && kill -0 "$STATUS_PID" 2>/dev/null; then
    kill -TERM "$STATUS_PID" 2>/dev/null
    for _ in $(seq 60); do kill -0 "$STATUS_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$STATUS_PID" 2>/dev/null || true
    wait "$STATUS_PID" 2>/dev/null || true
  fi
  STATUS_PID=""
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  stop_status
  for db in "${DATABASES[@]}"; do
    log "dropping database $db"
    psql_ -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >&2
  done
  if [[ -n "$VHOST" ]]; then
    log "deleting RabbitMQ vhost $VHOST"
    rabbitmqctl_ delete_vhost "$VHOST"
  fi
  if [[ $rc -ne 0 && -f "$WORK_DIR/status.log" ]]; then
    log "status service output (last 40 lines):"
    tail -n 40 "$WORK_DIR/status.log" >&2
  fi
  rm -rf "$WORK_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

new_database() { # name
  psql_ -c "CREATE DATABASE \"$1\"" >&2
  DATABASES+=("$1")
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# ---------------------------------------------------------------- build

if [[ $NO_BUILD != 1 ]]; then
  log "building the status service and the benchmark (Release)"
  dotnet build services/EmailPlatform.Status/EmailPlatform.Status.csproj -c Release -v q -nologo >&2 || die "build of the status service failed"
  dotnet build bench/EmailPlatform.StatusBench/EmailPlatform.StatusBench.csproj -c Release -v q -nologo >&2 || die "build of the benchmark failed"
fi
[[ -f $STATUS_DLL && -f $BENCH_DLL ]] || die "missing build output ($STATUS_DLL, $BENCH_DLL)"
pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || die "PostgreSQL is not accepting connections on $PG_HOST:$PG_PORT (./build.sh infra-up)"
mkdir -p "$OUT_DIR"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- 1. the recorder alone

echo '{"events": 0, "events_per_s": 0, "peak_rss_mb": 0, "skipped": true}' >"$WORK_DIR/recorder.json"
echo '{"events": 0, "published_per_s": 0, "skipped": true}' >"$WORK_DIR/publish.json"
echo '{"expected": 0, "recorded": 0, "complete": false, "events_per_s": 0, "skipped": true}' >"$WORK_DIR/bus.json"
PEAK_RSS=0
IDLE_RSS=0
STATUS_URL=""
echo '{}' >"$WORK_DIR/gc-before.json"
echo '{}' >"$WORK_DIR/gc-after.json"
SERVICE_CPU_MS=0
PG_CPU_MS=0
RABBIT_CPU_MS=0
MACHINE_CPU_MS=0

if [[ " $RUNS " == *" recorder "* ]]; then
DB_RECORDER="ep_bench_status_rec_${RUN_ID//-/_}"
new_database "$DB_RECORDER"
log "recorder alone: $EVENTS events"
DOTNET_GCgen0size="$GC_GEN0SIZE" timeout --foreground 900 dotnet "$BENCH_DLL" recorder --postgres "$(pg_conn "$DB_RECORDER")" --events "$EVENTS" --body-size "$BODY_SIZE" --out "$WORK_DIR/recorder.json" \
  >"$WORK_DIR/recorder.log" 2>&1 || { tail -n 40 "$WORK_DIR/recorder.log" >&2; die "recorder run failed"; }
log "recorder alone: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.0f events/s, peak RSS %.0f MB" % (r["events_per_s"], r["peak_rss_mb"]))' "$WORK_DIR/recorder.json")"
fi

# ---------------------------------------------------------------- 2. from the bus

if [[ " $RUNS " == *" bus "* ]]; then
DB_BUS="ep_bench_status_bus_${RUN_ID//-/_}"
new_database "$DB_BUS"
VHOST="ep-bench-status-$RUN_ID"
rabbit_user="${RABBITMQ_URI#amqp://}"; rabbit_user="${rabbit_user%%:*}"
rabbitmqctl_ add_vhost "$VHOST" || die "rabbitmqctl add_vhost failed (is RabbitMQ running? ./build.sh infra-up)"
rabbitmqctl_ set_permissions -p "$VHOST" "$rabbit_user" '.*' '.*' '.*'

export ConnectionStrings__Postgres="$(pg_conn "$DB_BUS")"
export ConnectionStrings__RabbitMq="${RABBITMQ_URI%/}/$VHOST"
export Auth__BootstrapKey="bench_$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
export DOTNET_ENVIRONMENT=Production ASPNETCORE_ENVIRONMENT=Production
export Logging__LogLevel__Default=Warning
unset OTEL_EXPORTER_OTLP_ENDPOINT

timeout --foreground 120 dotnet "$STATUS_DLL" migrate >"$WORK_DIR/migrate.log" 2>&1 || { cat "$WORK_DIR/migrate.log" >&2; die "status migrate failed"; }

start_status() {
  local port url
  port="$(free_port)"; url="http://127.0.0.1:$port"
  DOTNET_GCgen0size="$GC_GEN0SIZE" dotnet "$STATUS_DLL" --urls "$url" >>"$WORK_DIR/status.log" 2>&1 &
  STATUS_PID=$!
  for _ in $(seq 120); do
    kill -0 "$STATUS_PID" 2>/dev/null || die "the status service exited while starting"
    curl -sf -o /dev/null "$url/health/ready" && { STATUS_URL="$url"; return 0; }
    sleep 0.5
  done
  die "the status service was not ready within 60 s"
}

log "declaring the status queues (first start of the service)"
start_status
stop_status

log "publishing $EVENTS events to vhost $VHOST while the service is stopped"
timeout --foreground 900 dotnet "$BENCH_DLL" publish --rabbitmq "${RABBITMQ_URI%/}/$VHOST" --events "$EVENTS" --body-size "$BODY_SIZE" --out "$WORK_DIR/publish.json" \
  >"$WORK_DIR/publish.log" 2>&1 || { tail -n 40 "$WORK_DIR/publish.log" >&2; die "publishing failed"; }
EXPECTED="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"])' "$WORK_DIR/publish.json")"

log "starting the status service to drain them"
start_status
IDLE_RSS="$(awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }' "/proc/$STATUS_PID/status")"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$STATUS_PID/stat"; }
# Every process of that name (PostgreSQL's postmaster and backends, RabbitMQ's beam.smp), whoever it serves: its own
# CPU ticks and those of its children that have exited (a backend that closed during the drain counts in the postmaster's).
named_ticks() {
  local sum=0 pid ticks
  for pid in $(pgrep -x "$1"); do
    ticks="$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat" 2>/dev/null)" || continue
    sum=$(( sum + ${ticks:-0} ))
  done
  echo "$sum"
}
# The machine's busy ticks (user, nice, system, irq, softirq, steal), to show what the parts above leave out.
machine_ticks() { awk 'NR == 1 { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
CPU_BEFORE="$(cpu_ticks)"
PG_BEFORE="$(named_ticks postgres)"
RABBIT_BEFORE="$(named_ticks beam.smp)"
MACHINE_BEFORE="$(machine_ticks)"
# The runtime's own counters, as the service exports them: bytes allocated and seconds paused by the GC so far.
gc_counters() { curl -sf "$STATUS_URL/metrics" | python3 bench/gc_counters.py || echo '{}'; }
gc_counters >"$WORK_DIR/gc-before.json"
TRACE_PID=""
if [[ -n "${TRACE_PROFILE:-}" ]]; then
  command -v dotnet-trace >/dev/null || die "TRACE_PROFILE needs dotnet-trace (dotnet tool install -g dotnet-trace)"
  dotnet-trace collect -p "$STATUS_PID" --profile "$TRACE_PROFILE" --duration "00:00:00:${TRACE_SECONDS:-20}" \
    -o "$OUT_DIR/status-drain.nettrace" </dev/null >"$WORK_DIR/trace.log" 2>&1 &
  TRACE_PID=$!
fi
timeout --foreground 900 dotnet "$BENCH_DLL" measure --postgres "$(pg_conn "$DB_BUS")" --expect "$EXPECTED" --timeout 600 --out "$WORK_DIR/bus.json" \
  >"$WORK_DIR/measure.log" 2>&1 || { tail -n 40 "$WORK_DIR/measure.log" >&2; die "measuring failed"; }
gc_counters >"$WORK_DIR/gc-after.json"
if [[ -n "$TRACE_PID" ]]; then
  wait "$TRACE_PID" || { cat "$WORK_DIR/trace.log" >&2; die "dotnet-trace failed"; }
  log "trace of the drain: $OUT_DIR/status-drain.nettrace"
fi
PEAK_RSS="$(awk '$1 == "VmHWM:" { printf "%.1f", $2 / 1024 }' "/proc/$STATUS_PID/status")"
TICK_MS=$(( 1000 / $(getconf CLK_TCK) ))
SERVICE_CPU_MS=$(( ( $(cpu_ticks) - CPU_BEFORE ) * TICK_MS ))
PG_CPU_MS=$(( ( $(named_ticks postgres) - PG_BEFORE ) * TICK_MS ))
RABBIT_CPU_MS=$(( ( $(named_ticks beam.smp) - RABBIT_BEFORE ) * TICK_MS ))
MACHINE_CPU_MS=$(( ( $(machine_ticks) - MACHINE_BEFORE ) * TICK_MS ))
stop_status
fi
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- report

python3 - "$WORK_DIR" "$OUT_DIR/status.json" "$PEAK_RSS" "$LOAD_BEFORE" "$LOAD_AFTER" "$IDLE_RSS" "$SERVICE_CPU_MS" \
  "$PG_CPU_MS" "$RABBIT_CPU_MS" "$MACHINE_CPU_MS" "$BODY_SIZE" <<'PY'
import json, os, sys, datetime
work, out, peak, load_before, load_after, idle = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5], float(sys.argv[6])
service_cpu_ms, pg_cpu_ms, rabbit_cpu_ms, machine_cpu_ms = (float(a) for a in sys.argv[7:11])
body_size = int(sys.argv[11])
rec, pub, bus, gc0, gc1 = (json.load(open(os.path.join(work, n + ".json"))) for n in ("recorder", "publish", "bus", "gc-before", "gc-after"))
gc = {k: gc1[k] - gc0[k] for k in ("allocated_bytes", "pause_s") if k in gc0 and k in gc1}
result = {
    "benchmark": "status",
    "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": load_after},
    # Characters of each email's HTML body (its text body has half as many); 0: a one-line receipt.
    "body_size": body_size,
    "recorder_events_per_s": rec["events_per_s"],
    "recorder_peak_rss_mb": rec["peak_rss_mb"],
    "bus_events_per_s": bus["events_per_s"],
    "bus_second_half_events_per_s": bus.get("second_half_events_per_s", 0),
    "bus_complete": bus["complete"],
    "status_service_peak_rss_mb": peak,
    "status_service_ready_rss_mb": idle,
    "status_service_cpu_ms_per_1000_events": round(service_cpu_ms * 1000 / bus["recorded"], 1) if bus["recorded"] else 0,
    # The same window's CPU of every postgres and beam.smp process, and of the whole machine (the service, PostgreSQL,
    # RabbitMQ, the measuring process and anything else running): how the drain's cost splits between the three.
    "drain_cpu_ms_per_1000_events": {
        name: round(ms * 1000 / bus["recorded"], 1) if bus["recorded"] else 0
        for name, ms in (("status", service_cpu_ms), ("postgresql", pg_cpu_ms), ("rabbitmq", rabbit_cpu_ms), ("machine", machine_cpu_ms))
    },
    "status_service_allocated_kb_per_event": round(gc["allocated_bytes"] / 1024 / bus["recorded"], 1) if bus["recorded"] and "allocated_bytes" in gc else 0,
    "status_service_gc_pause_s": round(gc.get("pause_s", 0), 2),
    "published_per_s": pub["published_per_s"],
    # A run that was not asked for (RUNS) measured nothing: its targets are null, neither met nor missed.
    "targets": {
        "bus_events_per_s >= 10000": None if bus.get("skipped") else bus["events_per_s"] >= 10000,
        "recorder_events_per_s >= 10000": None if rec.get("skipped") else rec["events_per_s"] >= 10000,
        "status service peak rss < 250 MB": None if bus.get("skipped") else peak < 250,
    },
    "runs": {"recorder": rec, "publish": pub, "bus": bus},
}
json.dump(result, open(out, "w"), indent=2)
print("%-44s %12s %14s %18s" % ("run", "events/s", "peak RSS (MB)", "CPU ms/1000 events"))
print("%-44s %12.0f %14.0f %18.1f" % ("recorder alone (%d events, in-process)" % rec["events"], rec["events_per_s"], rec["peak_rss_mb"], rec.get("cpu_ms_per_1000_events", 0)))
print("%-44s %12.0f %14.0f %18.1f" % ("from RabbitMQ (%d of %d recorded)" % (bus["recorded"], bus["expected"]), bus["events_per_s"], peak, result["status_service_cpu_ms_per_1000_events"]))
if bus.get("second_half_events_per_s"):
    print("%-44s %12.0f" % ("  its second half (%d s, the JIT warmed up)" % bus["second_half_seconds"], bus["second_half_events_per_s"]))
print("(CPU: the benchmark's or the status service's own process, not PostgreSQL's or RabbitMQ's)")
if not bus.get("skipped"):
    drain = result["drain_cpu_ms_per_1000_events"]
    print("(the drain's CPU ms per 1000 events: status %.1f, PostgreSQL %.1f, RabbitMQ %.1f; the whole machine %.1f)"
          % (drain["status"], drain["postgresql"], drain["rabbitmq"], drain["machine"]))
if not rec.get("skipped"):
    print("(recorder alone: %.1f KB allocated per event, %.2f s in GC pauses)" % (rec.get("allocated_kb_per_event", 0), rec.get("gc_pause_s", 0)))
print("(status service while draining: %.1f KB allocated per event, %.2f s in GC pauses)" % (result["status_service_allocated_kb_per_event"], result["status_service_gc_pause_s"]))
print("(published beforehand at %.0f events/s; the service's RSS when ready to drain: %.0f MB)" % (pub["published_per_s"], idle))
print("load average (1/5/15 min): before %s, after %s (%d CPUs; other work on the machine skews the figures)" % (load_before, load_after, os.cpu_count()))
for name, ok in result["targets"].items():
    print("target %-36s %s" % (name, "not measured" if ok is None else "met" if ok else "MISSED"))
print("written: " + out)
PY
