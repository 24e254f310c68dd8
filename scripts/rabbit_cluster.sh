#!/usr/bin/env bash
# Three RabbitMQ nodes on this machine, clustered: Debian's rabbitmq-server, one data directory, one
# Erlang cookie and its own ports per node, nothing shared with the single node scripts/stack.sh runs.
#
#   scripts/rabbit_cluster.sh up | down | clean | status | urls | stop-node N | start-node N | kill-node N
#
# Node N (1..3) is <name>N@localhost with AMQP on PORT+N-1, management on PORT+10000+N-1 and Erlang
# distribution on PORT+20000+N-1, all on 127.0.0.1. Environment (defaults in brackets):
#   RABBIT_CLUSTER_DIR  [var/rabbit-cluster]  data, logs, configuration and the cookie
#   RABBIT_CLUSTER_PORT [5681]                AMQP port of node 1
#   RABBIT_CLUSTER_NAME [rabbit-c]            node name prefix
# The cookie is a random file in the cluster's own HOME (mode 400); every rabbitmq-server and
# rabbitmqctl this script runs gets that HOME, so ~/.erlang.cookie of the shared node is never read or
# written, and the cookie never appears on a command line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${RABBIT_CLUSTER_DIR:-$ROOT/var/rabbit-cluster}"
BASE_PORT="${RABBIT_CLUSTER_PORT:-5681}"
NAME="${RABBIT_CLUSTER_NAME:-rabbit-c}"
NODES=(1 2 3)
SBIN=/usr/lib/rabbitmq/bin

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

[[ "$BASE_PORT" =~ ^[0-9]+$ ]] && ((BASE_PORT >= 1024 && BASE_PORT + 30040 < 65536)) \
  || die "RABBIT_CLUSTER_PORT must be a port from 1024 to 35495 (node ports go up to it + 30039)"
[[ "$NAME" =~ ^[A-Za-z][A-Za-z0-9_-]{0,40}$ ]] || die "RABBIT_CLUSTER_NAME must be letters, digits, - or _"

node_name() { echo "$NAME$1@localhost"; }
amqp_port() { echo $((BASE_PORT + $1 - 1)); }
management_port() { echo $((BASE_PORT + 10000 + $1 - 1)); }
dist_port() { echo $((BASE_PORT + 20000 + $1 - 1)); }
node_dir() { echo "$DIR/node$1"; }
pid_file() { echo "$(node_dir "$1")/rabbitmq.pid"; }

check_node() { [[ "$1" =~ ^[123]$ ]] || die "node must be 1, 2 or 3, not '$1'"; }

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

node_env() { # node_env N: the environment rabbitmq-server and rabbitmqctl run with for node N
  local n=$1 dir
  dir=$(node_dir "$n")
  export HOME="$DIR/home"
  export RABBITMQ_NODENAME; RABBITMQ_NODENAME=$(node_name "$n")
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT; RABBITMQ_NODE_PORT=$(amqp_port "$n")
  export RABBITMQ_DIST_PORT; RABBITMQ_DIST_PORT=$(dist_port "$n")
  export RABBITMQ_CTL_DIST_PORT_MIN=$((BASE_PORT + 30020)) RABBITMQ_CTL_DIST_PORT_MAX=$((BASE_PORT + 30039))
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_PID_FILE; RABBITMQ_PID_FILE=$(pid_file "$n")
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq" RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
  export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
}

ctl() { # ctl N ARGS...: rabbitmqctl against node N
  local n=$1; shift
  (node_env "$n"; "$SBIN/rabbitmqctl" -n "$(node_name "$n")" "$@")
}

ensure_files() {
  command -v "$SBIN/rabbitmq-server" >/dev/null 2>&1 \
    || die "Debian's rabbitmq-server is not installed (scripts/stack.sh infra installs it as root)"
  mkdir -p "$DIR/home" && chmod 700 "$DIR/home"
  if [[ ! -s "$DIR/home/.erlang.cookie" ]]; then
    (umask 077; head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40 >"$DIR/home/.erlang.cookie")
  fi
  chmod 400 "$DIR/home/.erlang.cookie"
  local n dir
  for n in "${NODES[@]}"; do
    dir=$(node_dir "$n")
    mkdir -p "$dir/mnesia" "$dir/log"
    echo '[rabbitmq_management].' >"$dir/enabled_plugins"
    : >"$dir/rabbitmq-env.conf"
    echo '[].' >"$dir/advanced.config"
    cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$(amqp_port "$n")
loopback_users.guest = true
management.tcp.ip = 127.0.0.1
management.tcp.port = $(management_port "$n")
cluster_partition_handling = pause_minority
CONF
  done
}

running() { # running N: node N's Erlang VM is alive (its pid file names a live process)
  local file; file=$(pid_file "$1")
  [[ -s "$file" ]] && kill -0 "$(cat "$file")" 2>/dev/null
}

launch() { # launch N: start node N's VM and RabbitMQ in the background (returns at once)
  local n=$1
  running "$n" && return 0
  local port; port=$(amqp_port "$n")
  port_open "$port" && die "port $port is taken by another program; set RABBIT_CLUSTER_PORT to other ports"
  port_open "$(dist_port "$n")" && die "port $(dist_port "$n") is taken by another program; set RABBIT_CLUSTER_PORT"
  say "starting $(node_name "$n") (AMQP $port, management $(management_port "$n"), distribution $(dist_port "$n"))"
  (node_env "$n"; "$SBIN/rabbitmq-server" -detached >"$(node_dir "$n")/start.log" 2>&1)
}

await_node() { # await_node N: wait until RabbitMQ on node N has booted
  local n=$1
  ctl "$n" wait "$(pid_file "$n")" --timeout 180 >>"$(node_dir "$n")/start.log" 2>&1 \
    || { tail -20 "$(node_dir "$n")/start.log" >&2; die "$(node_name "$n") did not start (logs: $(node_dir "$n")/log)"; }
  local deadline=$((SECONDS + 60))
  until port_open "$(amqp_port "$n")" && port_open "$(management_port "$n")"; do
    ((SECONDS < deadline)) || die "$(node_name "$n") runs but does not listen on its ports"
    sleep 0.3
  done
}

members() { # members N: the disc nodes of node N's cluster, one a line
  ctl "$1" cluster_status --formatter json 2>/dev/null \
    | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["disk_nodes"]))'
}

running_members() { # running_members N: the running nodes of node N's cluster, one a line
  ctl "$1" cluster_status --formatter json 2>/dev/null \
    | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["running_nodes"]))'
}

join() { # join N: make node N a member of node 1's cluster (nothing if it is one)
  local n=$1 seed; seed=$(node_name 1)
  if members "$n" | grep -qx "$seed"; then return 0; fi
  say "joining $(node_name "$n") to $seed"
  ctl "$n" stop_app >/dev/null
  ctl "$n" join_cluster "$seed" >/dev/null || die "$(node_name "$n") could not join $seed"
  ctl "$n" start_app >/dev/null
}

urls() { # the AMQP URL of every node, comma-separated: the value AMQP_URL takes for the cluster
  local n out=()
  for n in "${NODES[@]}"; do out+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$n")/"); done
  (IFS=,; echo "${out[*]}")
}

await_running() { # await_running COUNT: wait until node 1 (or another live node) sees COUNT running members
  local want=$1 deadline=$((SECONDS + 120)) n count
  while ((SECONDS < deadline)); do
    for n in "${NODES[@]}"; do
      running "$n" || continue
      count=$(running_members "$n" | grep -c . || true)
      ((count >= want)) && return 0
    done
    sleep 0.5
  done
  die "the cluster did not reach $want running nodes in 120 s"
}

up() {
  local started=$SECONDS n
  ensure_files
  for n in "${NODES[@]}"; do launch "$n"; done  # together: a restarted member waits for its peers
  for n in "${NODES[@]}"; do await_node "$n"; done
  join 2; join 3
  await_running 3
  cat <<INFO

RabbitMQ cluster of three nodes is up ($((SECONDS - started)) s): $(node_name 1), $(node_name 2), $(node_name 3)
  AMQP_URL=$(urls)
  RABBITMQ_MANAGEMENT_URL=http://127.0.0.1:$(management_port 1)   (also :$(management_port 2), :$(management_port 3); guest/guest, loopback)
  data and logs: $DIR/node{1,2,3}
Quorum queues declared while the three are members get a replica on each (their default group size).
Stop:  scripts/rabbit_cluster.sh down  (make cluster-down)
INFO
}

stop_node() { # stop_node N: stop node N's RabbitMQ and its VM gracefully
  local n=$1
  running "$n" || { say "$(node_name "$n") is not running"; return 0; }
  say "stopping $(node_name "$n")"
  ctl "$n" stop "$(pid_file "$n")" >/dev/null 2>&1 || kill_node "$n"
  rm -f "$(pid_file "$n")"
}

kill_node() { # kill_node N: SIGKILL node N's VM, as in a crash
  local n=$1 pid
  running "$n" || { say "$(node_name "$n") is not running"; return 0; }
  pid=$(cat "$(pid_file "$n")")
  say "killing $(node_name "$n") (pid $pid) with SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$(pid_file "$n")"
}

start_node() { # start_node N: start node N again; it rejoins the cluster it belongs to
  local n=$1
  ensure_files
  launch "$n"
  await_node "$n"
}

down() { # all three together: each waits for the others' goodbyes anyway, and `up` starts them together
  local n pids=()
  for n in "${NODES[@]}"; do stop_node "$n" & pids+=($!); done
  wait "${pids[@]}"
}

status() {
  local n
  for n in "${NODES[@]}"; do
    if running "$n"; then
      echo "$(node_name "$n"): running (pid $(cat "$(pid_file "$n")"), AMQP $(amqp_port "$n"), management $(management_port "$n"))"
    else
      echo "$(node_name "$n"): not running"
    fi
  done
  for n in "${NODES[@]}"; do
    if running "$n"; then echo "running members: $(running_members "$n" | paste -sd ' ')"; break; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  clean) for n in "${NODES[@]}"; do kill_node "$n"; done; say "removing $DIR"; rm -rf "$DIR" ;;  # its data goes too
  status) status ;;
  urls) urls ;;
  stop-node) check_node "${2:-}"; stop_node "$2" ;;
  start-node) check_node "${2:-}"; start_node "$2" ;;
  kill-node) check_node "${2:-}"; kill_node "$2" ;;
  *) echo "usage: $0 {up|down|clean|status|urls|stop-node N|start-node N|kill-node N}" >&2; exit 2 ;;
esac
