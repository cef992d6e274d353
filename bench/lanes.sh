#!/usr/bin/env bash
# bench/lanes.sh — priority lanes (issue 4 §7): how long high-priority email takes to reach the relay while a bulk
# backlog is queued. Target: with 50,000 bulk emails queued, high-priority p99 ≤ 1 s.
#
#   bench/lanes.sh
#   BULK=20000 HIGH=100 HIGH_RATE=5 bench/lanes.sh
#   Delivery__Relays__0__MaxConnections=8 bench/lanes.sh      (any Delivery__* variable is passed to the worker)
#
# It builds the delivery worker and the benchmark (bench/EmailPlatform.LaneBench) in Release, creates a PostgreSQL
# database and a RabbitMQ virtual host of its own and migrates the worker's store. The benchmark then runs its own
# discarding SMTP sink on loopback (it notes when each recipient's message was accepted), starts the worker once so
# it declares the lanes' quorum queues, stops it, queues BULK bulk emails through DeliveryLanes.SendAsync (as the
# ingress sends them), starts the worker again and, once bulk mail is flowing, sends HIGH high-priority emails at
# HIGH_RATE per second. Latency is from just before the send (publisher confirm included) to the sink's 250 after
# the final dot. The run is valid only if the bulk backlog is still queued when the last high-priority email arrived.
# Prints JSON and writes artifacts/bench/lanes.json. Everything it started or created is removed on exit.
# Needs the infra of `./build.sh infra-up` (PostgreSQL role emailplatform with CREATEDB, RabbitMQ guest).
#
# Settings (environment): BULK (50000), HIGH (200), HIGH_RATE (10), BODY_SIZE (2048), NO_BUILD (0),
# PG_HOST/PG_PORT/PG_USER/PG_PASSWORD (127.0.0.1/5432/emailplatform/emailplatform),
# RABBITMQ_URI (amqp://guest:guest@127.0.0.1:5672).
set -euo pipefail

cd "$(dirname "$0")/.."

BULK="${BULK:-50000}"
HIGH="${HIGH:-200}"
HIGH_RATE="${HIGH_RATE:-10}"
BODY_SIZE="${BODY_SIZE:-2048}"
NO_BUILD="${NO_BUILD:-0}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-emailplatform}"
PG_PASSWORD="${PG_PASSWORD:-emailplatform}"
RABBITMQ_URI="${RABBITMQ_URI:-amqp://guest:guest@127.0.0.1:5672}"

OUT_DIR="artifacts/bench"
RUN_ID="$(date +%s)-$$"
DB_NAME="ep_lanes_${RUN_ID//-/_}"
VHOST="ep-lanes-$RUN_ID"
WORKER_DLL="services/EmailPlatform.Delivery/bin/Release/net10.0/EmailPlatform.Delivery.dll"
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

POSTGRES="Host=$PG_HOST;Port=$PG_PORT;Username=$PG_USER;Password=$PG_PASSWORD;Database=$DB_NAME"
BROKER="${RABBITMQ_URI%/}/$VHOST"

log "migrating the worker's store"
MIGRATE_LOG="$(mktemp -t lanes-migrate-XXXXXX.log)"
ConnectionStrings__Postgres="$POSTGRES" DOTNET_ENVIRONMENT=Production timeout --foreground 120 dotnet "$WORKER_DLL" migrate >"$MIGRATE_LOG" 2>&1 \
  || { cat "$MIGRATE_LOG" >&2; rm -f "$MIGRATE_LOG"; die "migrate failed"; }
rm -f "$MIGRATE_LOG"

mkdir -p "$OUT_DIR"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
timeout 1800 dotnet "$BENCH_DLL" --worker-dll "$WORKER_DLL" --broker "$BROKER" --postgres "$POSTGRES" \
  --bulk "$BULK" --high "$HIGH" --high-rate "$HIGH_RATE" --body-size "$BODY_SIZE" --out "$OUT_DIR/lanes.json"
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
