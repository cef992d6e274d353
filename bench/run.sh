#!/usr/bin/env bash
# bench/run.sh — the platform's end-to-end benchmark against a bare MailKit baseline, on this machine's PostgreSQL and
# RabbitMQ and a Postfix smtp-sink of its own.
#
#   bench/run.sh                                   baseline, warm-up, throughput phase (5,000 emails, 32 clients,
#                                                  closed loop), latency phase (10,000 emails at 1,000/s, open loop)
#   bench/run.sh --workers 2 --connections 8 --emails 20000 --rate 0
#   bench/run.sh --mode delivery --emails 20000    issue 4's worker benchmark: queues pre-filled with the workers
#                                                  stopped, then the workers' throughput vs the bare loop
#
# Options (passed to bench/EmailPlatform.LoadBench): --mode e2e|delivery, --emails N, --concurrency C, --rate R
# (0 skips the fixed-rate phase), --rate-emails N, --workers W, --connections K (SMTP connections per worker; the
# baseline uses W × K), --message-size BYTES (JSON body, default 2048), --attachments N, --attachment-size BYTES,
# --recipients N, --same-recipients (every email to the same addresses; by default each has its own), --priority-mix high=1,normal=8,bulk=1, --warmup N, --baseline-emails N (default max(emails, 10000)),
# --out FILE.
# Environment: NO_BUILD=1 skips the Release build; SMTP_SINK_SESSIONS (1000) is smtp-sink's backlog.
#
# It builds in Release, starts `smtp-sink` on a free loopback port, and the driver creates a PostgreSQL database and
# a RabbitMQ virtual host of its own, runs each service's `migrate`, starts the services as processes, measures,
# prints a table and writes artifacts/bench/latest.json (delivery mode: artifacts/bench/delivery.json). Everything
# started or created is removed on exit, also when the driver dies. Needs the infra of `./build.sh infra-up`.
set -euo pipefail

cd "$(dirname "$0")/.."

NO_BUILD="${NO_BUILD:-0}"
SMTP_SINK_SESSIONS="${SMTP_SINK_SESSIONS:-1000}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-emailplatform}"
PG_PASSWORD="${PG_PASSWORD:-emailplatform}"
BENCH_DLL="bench/EmailPlatform.LoadBench/bin/Release/net10.0/EmailPlatform.LoadBench.dll"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export EMAILPLATFORM_TEST_POSTGRES="${EMAILPLATFORM_TEST_POSTGRES:-Host=$PG_HOST;Port=$PG_PORT;Username=$PG_USER;Password=$PG_PASSWORD;Database=postgres}"
export EMAILPLATFORM_TEST_RABBITMQ="${EMAILPLATFORM_TEST_RABBITMQ:-amqp://guest:guest@127.0.0.1:5672/}"

log() { echo "==> $*" >&2; }
die() { echo "==> ERROR: $*" >&2; exit 1; }

SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)

WORK_DIR="$(mktemp -d -t emailplatform-run-XXXXXX)"
SINK_PID=""
DRIVER_PID=""

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ -n "$DRIVER_PID" ]] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill -TERM "$DRIVER_PID" 2>/dev/null
    for _ in $(seq 20); do kill -0 "$DRIVER_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$DRIVER_PID" 2>/dev/null
  fi
  # The driver stops what it started; these are left only if it died first. A pid is killed only while it is still
  # one of the platform's hosts (not a reused pid).
  if [[ -f "$WORK_DIR/pids" ]]; then
    while read -r pid; do
      if [[ -n "$pid" ]] && grep -qa 'EmailPlatform\.' "/proc/$pid/cmdline" 2>/dev/null; then
        log "stopping leftover service process $pid"
        kill -KILL "$pid" 2>/dev/null
      fi
    done <"$WORK_DIR/pids"
  fi
  if [[ -f "$WORK_DIR/database" ]]; then
    PGPASSWORD="$PG_PASSWORD" psql -X -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres \
      -c "DROP DATABASE IF EXISTS \"$(cat "$WORK_DIR/database")\" WITH (FORCE)" >/dev/null 2>&1
  fi
  if [[ -f "$WORK_DIR/vhost" && "$(cat "$WORK_DIR/vhost")" != "/" ]]; then
    timeout 60 "${SUDO[@]}" rabbitmqctl -q delete_vhost "$(cat "$WORK_DIR/vhost")" >/dev/null 2>&1
  fi
  if [[ -n "$SINK_PID" ]]; then
    kill "$SINK_PID" 2>/dev/null
    wait "$SINK_PID" 2>/dev/null
  fi
  rm -rf "$WORK_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if [[ $NO_BUILD != 1 ]]; then
  log "building the services and the driver (Release)"
  dotnet build bench/EmailPlatform.LoadBench/EmailPlatform.LoadBench.csproj -c Release -v q -nologo >&2 || die "build failed"
fi
[[ -f $BENCH_DLL ]] || die "missing build output $BENCH_DLL"

pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || die "PostgreSQL is not accepting connections on $PG_HOST:$PG_PORT (./build.sh infra-up)"
timeout 60 "${SUDO[@]}" rabbitmqctl -q status >/dev/null 2>&1 || die "RabbitMQ is not running (./build.sh infra-up)"

SINK_BIN="$(command -v smtp-sink || echo /usr/sbin/smtp-sink)"
[[ -x $SINK_BIN ]] || die "smtp-sink not found (apt-get install postfix)"
SINK_PORT="$(free_port)"
user_opt=()
[[ $(id -u) -eq 0 ]] && user_opt=(-u nobody)
"$SINK_BIN" "${user_opt[@]}" -c "127.0.0.1:$SINK_PORT" "$SMTP_SINK_SESSIONS" >"$WORK_DIR/smtp-sink.log" 2>&1 &
SINK_PID=$!
for _ in $(seq 50); do port_open 127.0.0.1 "$SINK_PORT" && break; sleep 0.1; done
port_open 127.0.0.1 "$SINK_PORT" || die "smtp-sink did not start on 127.0.0.1:$SINK_PORT"
log "smtp-sink on 127.0.0.1:$SINK_PORT (pid $SINK_PID); load average $(cut -d' ' -f1-3 /proc/loadavg)"

dotnet "$BENCH_DLL" --sink "127.0.0.1:$SINK_PORT" --state-dir "$WORK_DIR" "$@" &
DRIVER_PID=$!
wait "$DRIVER_PID"
