#!/usr/bin/env bash
# Local stack without Docker: installs what is missing, starts RabbitMQ, the docstore, the mail
# catcher, the four services and Prometheus, each with a pid file under var/run so `down` stops
# only what this script started. Usage: [REPLICAS=N] scripts/stack.sh {up|infra|down|clean|status}
# REPLICAS=N (default 1) runs N processes of each service: they share the service's HTTP port (and
# intake's SMTP port) through SO_REUSEPORT, compete for its quorum queue and claim timers and
# deliveries with leases, so any one of them may die.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"
RUN="$VAR/run"
LOG="$VAR/log"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
RABBIT_NODE="${RABBITMQ_NODENAME:-incidents@localhost}"
SERVICES_USER="${RABBITMQ_SERVICES_USER:-incidents}"
SERVICES_PASSWORD_FILE="$VAR/secrets/rabbitmq-services.password"
SERVICES=(intake triage escalation notifier)
declare -A PORTS=([intake]=8080 [triage]=8081 [escalation]=8082 [notifier]=8083)
REPLICAS="${REPLICAS:-1}"
[[ "$REPLICAS" =~ ^[1-9][0-9]?$ ]] || { echo "error: REPLICAS must be a number from 1 to 99, not '$REPLICAS'" >&2; exit 2; }

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    (( SECONDS < deadline )) || die "$what not ready after ${seconds}s (logs: $LOG)"
    sleep 0.3
  done
}

running() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

ensure_dirs() { mkdir -p "$RUN" "$LOG" "$VAR/mail" "$VAR/bin"; }

ensure_apt_packages() {
  local missing=()
  command -v /usr/lib/rabbitmq/bin/rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
  command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
  command -v promtool >/dev/null 2>&1 || [[ " ${missing[*]} " == *" prometheus "* ]] || missing+=(prometheus)
  # Alertmanager and amtool (Debian's 0.25): the e2e tests run it as a process against intake's webhook
  { command -v prometheus-alertmanager >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1; } || missing+=(prometheus-alertmanager)
  if [[ "${WITH_COMPOSE_CHECK:-0}" == 1 ]]; then command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose); fi
  # wrk: the benchmarks' HTTP load generator (bench/wrk.py), and the test of its script
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  # the portal's browser tests drive Debian's Chromium through Playwright (Playwright's own browser download cannot reach its CDN here)
  [[ -x /usr/bin/chromium ]] || missing+=(chromium)
  ((${#missing[@]})) || return 0
  [[ $(id -u) == 0 ]] || die "missing ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}"
  say "installing ${missing[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$LOG/apt.log" 2>&1 || { tail -20 "$LOG/apt.log"; die "apt-get install failed"; }
}

ensure_python() {
  local stamp="$VENV/.installed" want
  want=$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)
  if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  say "installing the Python environment in .venv"
  [[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >"$LOG/pip.log" 2>&1
  "$VENV/bin/pip" install -q -e "$ROOT[test]" >>"$LOG/pip.log" 2>&1 || { tail -20 "$LOG/pip.log"; die "pip install failed"; }
  echo "$want" >"$stamp"
}

ensure_docstore() {
  local bin="$VAR/bin/docstore"
  if [[ -x "$bin" && -z "$(find "$ROOT/tools/docstore" -newer "$bin" -type f 2>/dev/null)" ]]; then return 0; fi
  command -v go >/dev/null 2>&1 || die "Go is needed to build tools/docstore"
  say "building the docstore (FerretDB embedded) with go build"
  (cd "$ROOT/tools/docstore" && go build -o "$bin" .) >"$LOG/docstore-build.log" 2>&1 || { tail -20 "$LOG/docstore-build.log"; die "go build of tools/docstore failed"; }
}

rabbit_env() {
  export RABBITMQ_NODENAME="$RABBIT_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672
  export RABBITMQ_MNESIA_BASE="$VAR/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$LOG/rabbitmq"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$VAR/rabbitmq/enabled_plugins" RABBITMQ_PID_FILE="$RUN/rabbitmq.pid"
  export RABBITMQ_CONFIG_FILE="$VAR/rabbitmq/rabbitmq" RABBITMQ_ADVANCED_CONFIG_FILE="$VAR/rabbitmq/advanced.config"
  export HOME="${HOME:-/root}"
}

start_rabbitmq() {
  if running rabbitmq; then return 0; fi
  if port_open 127.0.0.1 5672; then say "RabbitMQ already answers on 5672; using it"; return 0; fi
  say "starting RabbitMQ"
  mkdir -p "$VAR/rabbitmq/mnesia" "$LOG/rabbitmq"
  echo '[rabbitmq_management,rabbitmq_prometheus].' >"$VAR/rabbitmq/enabled_plugins"
  cat >"$VAR/rabbitmq/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:5672
loopback_users.guest = true
management.tcp.ip = 127.0.0.1
management.tcp.port = 15672
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = 15692
CONF
  echo '[].' >"$VAR/rabbitmq/advanced.config"
  (rabbit_env; /usr/lib/rabbitmq/bin/rabbitmq-server -detached >"$LOG/rabbitmq-start.log" 2>&1)
  (rabbit_env; /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBIT_NODE" wait "$RUN/rabbitmq.pid" --timeout 90 >>"$LOG/rabbitmq-start.log" 2>&1) \
    || { tail -20 "$LOG/rabbitmq-start.log"; die "RabbitMQ did not start"; }
  wait_for 30 "RabbitMQ management" port_open 127.0.0.1 15672
}

provision_broker() { # the services connect as their own user (never guest), its password kept under var/secrets
  if [[ -n "${AMQP_URL:-}" ]]; then
    say "AMQP_URL is set; the services connect with it as given"; BROKER_LOGIN="as AMQP_URL says"; return 0
  fi
  mkdir -p "$VAR/secrets" && chmod 700 "$VAR/secrets"
  local url
  # the broker this script uses is on loopback, where guest administers it (RabbitMQ's default)
  url=$(RABBITMQ_ADMIN_USER="${RABBITMQ_ADMIN_USER:-guest}" RABBITMQ_ADMIN_PASSWORD="${RABBITMQ_ADMIN_PASSWORD:-guest}" \
        RABBITMQ_MANAGEMENT_URL="${RABBITMQ_MANAGEMENT_URL:-http://127.0.0.1:15672}" \
        "$VENV/bin/incidents" broker provision --user "$SERVICES_USER" --password-file "$SERVICES_PASSWORD_FILE" \
        --print-url 2>>"$LOG/broker.log") \
    || { tail -5 "$LOG/broker.log"; die "could not provision the services' RabbitMQ user through the management API"; }
  export AMQP_URL="$url"
  BROKER_LOGIN="as \"$SERVICES_USER\" (password in ${SERVICES_PASSWORD_FILE#"$ROOT"/})"
}

start_docstore() {
  if [[ -n "${MONGODB_URL:-}" ]]; then say "MONGODB_URL is set; not starting the docstore"; return 0; fi
  if running docstore; then return 0; fi
  if port_open 127.0.0.1 27017; then say "a MongoDB-protocol server already answers on 27017; using it"; return 0; fi
  say "starting the docstore on 127.0.0.1:27017"
  nohup "$VAR/bin/docstore" -listen 127.0.0.1:27017 -data "$VAR/docstore" >>"$LOG/docstore.log" 2>&1 &
  echo $! >"$RUN/docstore.pid"
  wait_for 30 "docstore" port_open 127.0.0.1 27017
}

start_daemon() { # start_daemon NAME PORT COMMAND...  (PORT "-": a replica joining a port its first one holds)
  local name=$1 port=$2; shift 2
  if running "$name"; then return 0; fi
  [[ "$port" != - ]] && port_open 127.0.0.1 "$port" && die "port $port is taken by another program; cannot start $name"
  nohup "$@" >>"$LOG/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

replica_name() { # replica_name SERVICE N: the first replica keeps the service's name (pid file, log)
  if (( $2 == 1 )); then echo "$1"; else echo "$1-$2"; fi
}

start_mailcatcher() {
  start_daemon mailcatcher 1025 "$VENV/bin/incidents" mailcatcher --port 1025 --dir "$VAR/mail"
}

start_services() {
  local reuse=0 i
  (( REPLICAS > 1 )) && reuse=1
  for service in "${SERVICES[@]}"; do
    for ((i = 1; i <= REPLICAS; i++)); do
      start_daemon "$(replica_name "$service" "$i")" "$( ((i == 1)) && echo "${PORTS[$service]}" || echo -)" \
        env REUSE_PORT=$reuse REPLICAS="$REPLICAS" "$VENV/bin/incidents" run "$service"
    done
  done
}

extra_replicas() { # the pid-file names of SERVICE's replicas after the first, as started so far
  local file
  for file in "$RUN/$1"-[0-9]*.pid; do
    if [[ -f "$file" ]]; then basename "$file" .pid; fi
  done
}

start_example_host() { # a page of an imaginary host platform with the portal's Help button
  start_daemon example-host 8090 "$VENV/bin/incidents" example-host --port 8090
}

start_prometheus() {
  if running prometheus; then return 0; fi
  port_open 127.0.0.1 9090 && { say "something already answers on 9090; not starting Prometheus"; return 0; }
  mkdir -p "$VAR/prometheus/data"
  start_daemon prometheus 9090 prometheus \
    --config.file="$ROOT/deploy/prometheus/prometheus.yml" \
    --storage.tsdb.path="$VAR/prometheus/data" \
    --web.listen-address=127.0.0.1:9090 --web.enable-lifecycle
}

ready() { curl -fs -o /dev/null "http://127.0.0.1:$1/readyz"; }
prometheus_ready() { curl -fs -o /dev/null http://127.0.0.1:9090/-/ready; }

infra() {
  ensure_dirs; ensure_apt_packages; ensure_python; ensure_docstore
  start_rabbitmq; start_docstore
}

up() {
  local started=$SECONDS
  infra
  provision_broker
  start_mailcatcher; start_services; start_example_host; start_prometheus
  for service in "${SERVICES[@]}"; do wait_for 60 "$service" ready "${PORTS[$service]}"; done
  running prometheus && wait_for 30 "Prometheus" prometheus_ready
  cat <<INFO

The incident platform is up ($((SECONDS - started)) s).
  Replicas         $REPLICAS of each service (pids: scripts/stack.sh status)
  Portal           http://127.0.0.1:8080/   (sign in with the link the mail catcher stores in var/mail)
  Help button      http://127.0.0.1:8090/   (an example host page; /anonymous without a signed-in user)
  API (intake)     http://127.0.0.1:8080/v1/tickets    docs: http://127.0.0.1:8080/docs
  triage           http://127.0.0.1:8081/metrics
  escalation       http://127.0.0.1:8082/metrics
  notifier         http://127.0.0.1:8083/metrics
  Prometheus       http://127.0.0.1:9090/targets
  RabbitMQ         amqp://127.0.0.1:5672   management: http://127.0.0.1:15672 (guest/guest, loopback only)
                   services connect $BROKER_LOGIN
  Database         ${MONGODB_URL:-mongodb://127.0.0.1:27017/ (docstore, data in var/docstore)}
  Logs             $LOG/<service>.log
  Mail             $VAR/mail/*.eml (SMTP catcher on 127.0.0.1:1025)

Get an API key:   .venv/bin/incidents keys create --role reporter --name "Ada" --email ada@example.com
Add a vendor:     .venv/bin/incidents vendors add acme     (prints its AMQP URL once)
Stop:             make down
INFO
}

stop_pid() { # stop_pid NAME
  local name=$1 pid
  [[ -f "$RUN/$name.pid" ]] || return 0
  pid=$(cat "$RUN/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping $name ($pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
}

down() {
  local service name
  for name in prometheus example-host; do stop_pid "$name"; done
  for service in "${SERVICES[@]}"; do
    for name in "$service" $(extra_replicas "$service"); do stop_pid "$name"; done
  done
  for name in mailcatcher docstore; do stop_pid "$name"; done
  if [[ -f "$RUN/rabbitmq.pid" ]]; then
    say "stopping RabbitMQ"
    (rabbit_env; /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBIT_NODE" stop "$RUN/rabbitmq.pid" >/dev/null 2>&1) || stop_pid rabbitmq
    rm -f "$RUN/rabbitmq.pid"
  fi
}

status() {
  local service names=(rabbitmq docstore mailcatcher)
  for service in "${SERVICES[@]}"; do names+=("$service" $(extra_replicas "$service")); done
  for name in "${names[@]}" example-host prometheus; do
    if running "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"; else echo "$name: not running"; fi
  done
}

case "${1:-}" in
  up) up ;;
  infra) infra ;;
  down) down ;;
  clean) down; say "removing data under var/"; rm -rf "$VAR/docstore" "$VAR/rabbitmq" "$VAR/mail" "$VAR/prometheus" "$LOG" ;;
  status) status ;;
  *) echo "usage: $0 {up|infra|down|clean|status}" >&2; exit 2 ;;
esac
