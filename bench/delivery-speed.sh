#!/usr/bin/env bash
# bench/delivery-speed.sh — the delivery worker against a bare MailKit loop (issue 4, "done when": worker ≥ 70% of
# the bare loop), in the same run, with the same connection count, to the same SMTP sink.
#
#   bench/delivery-speed.sh
#   MESSAGES=20000 CONNECTIONS=8 bench/delivery-speed.sh
#   Delivery__Lanes__Normal__ConcurrentMessageLimit=16 bench/delivery-speed.sh   (any Delivery__* goes to the worker)
#
# Same set-up as bench/lanes.sh (Release builds, a database and a vhost of its own, the benchmark's own discarding
# sink on loopback, which notes when each message was accepted). First a bare MailKit loop sends MESSAGES messages
# over CONNECTIONS connections (one task per connection, back to back). Then MESSAGES SendEmail commands are queued
# in the normal lane with the worker stopped, and the worker (Delivery:Relays:0:MaxConnections = CONNECTIONS) drains
# them: claim in PostgreSQL, MIME build, SMTP, outcome recorded and published. WARMUP more are queued first and not
# measured (JIT, tiering, pools); the worker's rate is measured over the MESSAGES deliveries after them. Prints JSON (ratio = worker / bare) and writes artifacts/bench/delivery-speed.json.
# This is a quick check of the worker's own path; the load harness (bench/run.sh) has the full comparison.
#
# Settings (environment): MESSAGES (5000), WARMUP (1000), CONNECTIONS (4), BODY_SIZE (2048), NO_BUILD (0),
# PG_HOST/PG_PORT/PG_USER/PG_PASSWORD (127.0.0.1/5432/emailplatform/emailplatform), PG_OPTIONS (extra connection
# string settings for the worker, e.g. "SSL Mode=Disable"),
# RABBITMQ_URI (amqp://guest:guest@127.0.0.1:5672), WORKER_DLL (another build of the worker to compare against, e.g. a
# `git worktree` of an earlier commit built in Release, with NO_BUILD=1).
# worker_jit_cpu_ms_per_message is the part of worker_cpu_ms_per_message spent by the runtime's background tier-up JIT
# during the measured window: a start-up cost that a larger WARMUP shrinks, and the noisiest part on a loaded machine.
set -euo pipefail

cd "$(dirname "$0")/.."

MESSAGES="${MESSAGES:-5000}"
WARMUP="${WARMUP:-1000}"
CONNECTIONS="${CONNECTIONS:-4}"
BODY_SIZE="${BODY_SIZE:-2048}"
NO_BUILD="${NO_BUILD:-0}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-emailplatform}"
PG_PASSWORD="${PG_PASSWORD:-emailplatform}"
RABBITMQ_URI="${RABBITMQ_URI:-amqp://guest:guest@127.0.0.1:5672}"

OUT_DIR="artifacts/bench"
RUN_ID="$(date +%s)-$$"
DB_NAME="ep_speed_${RUN_ID//-/_}"
VHOST="ep-speed-$RUN_ID"
WORKER_DLL="${WORKER_DLL:-services/EmailPlatform.Delivery/bin/Release/net10.0/EmailPlatform.Delivery.dll}"
BENCH_DLL="bench/EmailPlatform.LaneBench/bin/Release/net10.0/EmailPlatform.LaneBench.dll"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { echo "==> $*" >&2; }
die() { echo "==> ERROR: $*" >&2; exit 1; }

SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
rabbitmqctl_() { timeout 60 "${SUDO[@]}" rabbitmqctl -q "$@" >/dev/null; }
psql_() { PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=10 psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres "$@"; }

CREATED_DB=0
CREATED_VHOST=0
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ $CREATED_DB -eq 1 ]]; then
    log "dropping database $DB_NAME"
    psql_ -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >&2
  fi
  if [[ $CREATED_VHOST -eq 1 ]]; then
    log "deleting RabbitMQ vhost $VHOST"
    rabbitmqctl_ delete_vhost "$VHOST"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ $NO_BUILD != 1 ]]; then
  log "building the delivery worker and the benchmark (Release)"
  dotnet build services/EmailPlatform.Delivery/EmailPlatform.Delivery.csproj -c Release -v q -nologo >&2 || die "build of the worker failed"
  dotnet build bench/EmailPlatform.LaneBench/EmailPlatform.LaneBench.csproj -c Release -v q -nologo >&2 || die "build of the benchmark failed"
fi
[[ -f $WORKER_DLL && -f $BENCH_DLL ]] || die "missing build output ($WORKER_DLL, $BENCH_DLL)"

pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || die "PostgreSQL is not accepting connections on $PG_HOST:$PG_PORT (./build.sh infra-up)"
log "creating database $DB_NAME"
psql_ -c "CREATE DATABASE \"$DB_NAME\"" >&2
CREATED_DB=1

log "creating RabbitMQ vhost $VHOST"
rabbit_user="${RABBITMQ_URI#amqp://}"; rabbit_user="${rabbit_user%%:*}"
rabbitmqctl_ add_vhost "$VHOST" || die "rabbitmqctl add_vhost failed (is RabbitMQ running? ./build.sh infra-up)"
CREATED_VHOST=1
rabbitmqctl_ set_permissions -p "$VHOST" "$rabbit_user" '.*' '.*' '.*'

POSTGRES="Host=$PG_HOST;Port=$PG_PORT;Username=$PG_USER;Password=$PG_PASSWORD;Database=$DB_NAME${PG_OPTIONS:+;$PG_OPTIONS}"
BROKER="${RABBITMQ_URI%/}/$VHOST"

log "migrating the worker's store"
MIGRATE_LOG="$(mktemp -t lanes-migrate-XXXXXX.log)"
ConnectionStrings__Postgres="$POSTGRES" DOTNET_ENVIRONMENT=Production timeout --foreground 120 dotnet "$WORKER_DLL" migrate >"$MIGRATE_LOG" 2>&1 \
  || { cat "$MIGRATE_LOG" >&2; rm -f "$MIGRATE_LOG"; die "migrate failed"; }
rm -f "$MIGRATE_LOG"

mkdir -p "$OUT_DIR"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
timeout 1800 dotnet "$BENCH_DLL" --worker-dll "$WORKER_DLL" --broker "$BROKER" --postgres "$POSTGRES" \
  --mode throughput --bulk "$MESSAGES" --warmup "$WARMUP" --connections "$CONNECTIONS" --body-size "$BODY_SIZE" --out "$OUT_DIR/delivery-speed.json"
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
