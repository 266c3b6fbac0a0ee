#!/usr/bin/env bash
# Run a real 3-node OpenSearch + k-NN cluster on loopback, from the same Maven artifacts as
# scripts/opensearch-node.sh (whose assembly and process helpers this script sources).
#
#   scripts/opensearch-cluster.sh start [N]|stop [N]|status|log N [LINES]
#
# `start` / `stop` without N act on every node; with N (1-3) on that node only (the cluster test
# stops one node mid-search and starts it again). `start` and `status` print the comma-separated
# URLs of the nodes, which DISCOVERY_OPENSEARCH_URL accepts as they are.
#
# The three nodes share one unpacked server and have their own config, data and logs folders
# (OPENSEARCH_PATH_CONF). Heaps are small (512 MB each by default): the cluster is for tests on a
# shared machine, not for load.
#
# Environment:
#   DISCOVERY_OPENSEARCH_CLUSTER_HOME     root folder (default /var/tmp/discovery-opensearch-cluster)
#   DISCOVERY_OPENSEARCH_CLUSTER_PORT     HTTP port of node 1 (default 9260; node N gets +N-1)
#   DISCOVERY_OPENSEARCH_CLUSTER_TRANSPORT_PORT  transport port of node 1 (default 9360)
#   DISCOVERY_OPENSEARCH_CLUSTER_HEAP     JVM heap per node (default 512m)
#   and DISCOVERY_OPENSEARCH_JAVA_HOME, DISCOVERY_OPENSEARCH_USER, MAVEN_REPO_LOCAL as for the node script.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DISCOVERY_OPENSEARCH_HOME=${DISCOVERY_OPENSEARCH_CLUSTER_HOME:-/var/tmp/discovery-opensearch-cluster}
# shellcheck source=scripts/opensearch-node.sh
source "$HERE/opensearch-node.sh"

NODES=3
CLUSTER=discovery-cluster
HTTP_BASE=${DISCOVERY_OPENSEARCH_CLUSTER_PORT:-9260}
TRANSPORT_BASE=${DISCOVERY_OPENSEARCH_CLUSTER_TRANSPORT_PORT:-9360}
HEAP=${DISCOVERY_OPENSEARCH_CLUSTER_HEAP:-512m}
START_TIMEOUT=300

log() { echo "[opensearch-cluster] $*" >&2; }

node_dir() { echo "$BASE/node-$1"; }
node_url() { echo "http://127.0.0.1:$((HTTP_BASE + $1 - 1))"; }
all_urls() {
  local i urls=()
  for i in $(seq 1 $NODES); do urls+=("$(node_url "$i")"); done
  (IFS=,; echo "${urls[*]}")
}

# Point the node script's globals (used by its die/log helpers) at node N.
select_node() {
  local dir
  dir=$(node_dir "$1")
  PIDFILE=$dir/opensearch.pid
  LOGS=$dir/logs
  NODE_LOG=$LOGS/$CLUSTER.log
  LAUNCH_LOG=$LOGS/launch.out
  URL=$(node_url "$1")
}

cluster_node_pid() {
  local dir pid=
  dir=$(node_dir "$1")
  [[ -f $dir/opensearch.pid ]] && pid=$(cat "$dir/opensearch.pid" 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]] \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'org.opensearch.bootstrap.OpenSearch'; then
    echo "$pid"
    return 0
  fi
  pgrep -o -f -- "-Dopensearch.path.conf=$dir/config .*org.opensearch.bootstrap.OpenSearch" 2>/dev/null
}

write_node_config() {
  local n=$1 dir seeds masters i
  dir=$(node_dir "$n")
  mkdir -p "$dir/config/jvm.options.d" "$dir/data" "$dir/logs" "$dir/tmp"
  # The stock config files (jvm.options, log4j2.properties, ...) once; ours rewritten on every start.
  [[ -f $dir/config/jvm.options ]] || cp -r "$DIST/config/." "$dir/config/"
  seeds=() masters=()
  for i in $(seq 1 $NODES); do
    seeds+=("\"127.0.0.1:$((TRANSPORT_BASE + i - 1))\"")
    masters+=("node-$i")
  done
  cat >"$dir/config/opensearch.yml" <<EOF
# Written by scripts/opensearch-cluster.sh: local 3-node test cluster, no security plugin.
cluster.name: $CLUSTER
node.name: node-$n
network.host: 127.0.0.1
http.port: $((HTTP_BASE + n - 1))
transport.port: $((TRANSPORT_BASE + n - 1))
discovery.seed_hosts: [$(IFS=,; echo "${seeds[*]}")]
cluster.initial_cluster_manager_nodes: [$(IFS=,; echo "${masters[*]}")]
path.data: $dir/data
path.logs: $dir/logs
cluster.routing.allocation.disk.threshold_enabled: false
indices.breaker.total.use_real_memory: false
EOF
  printf -- '-Xms%s\n-Xmx%s\n' "$HEAP" "$HEAP" >"$dir/config/jvm.options.d/heap.options"
  if [[ $(id -u) -eq 0 ]]; then chown -R "$OS_USER:" "$BASE"; fi
}

launch_node() {
  local n=$1 java_home=$2 dir
  dir=$(node_dir "$n")
  select_node "$n"
  if cluster_node_pid "$n" >/dev/null; then
    log "node-$n already running (pid $(cluster_node_pid "$n"))"
    return 0
  fi
  if curl -s -m 3 -o /dev/null "$URL" 2>/dev/null; then
    die "port of node-$n ($URL) is taken by another process"
  fi
  write_node_config "$n"
  rm -f "$PIDFILE" "$LAUNCH_LOG"
  log "starting node-$n on $URL"
  (cd "$DIST" && as_node env OPENSEARCH_JAVA_HOME="$java_home" OPENSEARCH_TMPDIR="$dir/tmp" \
      OPENSEARCH_PATH_CONF="$dir/config" bin/opensearch -d -p "$PIDFILE") >"$LAUNCH_LOG" 2>&1 \
    || die "bin/opensearch -d failed for node-$n"
}

# wait_nodes STATUS: until NODES nodes have joined and the cluster is at least STATUS.
wait_nodes() {
  local status=$1 deadline=$((SECONDS + START_TIMEOUT)) i
  while (( SECONDS < deadline )); do
    for i in $(seq 1 $NODES); do
      if curl -fsS -m 10 "$(node_url "$i")/_cluster/health?wait_for_nodes=$NODES&wait_for_status=$status&timeout=5s" \
        >/dev/null 2>&1; then
        return 0
      fi
    done
    for i in $(seq 1 $NODES); do
      select_node "$i"
      cluster_node_pid "$i" >/dev/null || die "node-$i exited during start-up"
    done
    sleep 2
  done
  select_node 1
  die "cluster not $status with $NODES nodes after ${START_TIMEOUT}s"
}

cluster_healthy() {
  local i
  for i in $(seq 1 $NODES); do
    curl -fsS -m 5 "$(node_url "$i")/_cluster/health?wait_for_nodes=$NODES&wait_for_status=yellow&timeout=1s" \
      >/dev/null 2>&1 && return 0
  done
  return 1
}

cmd_cluster_start() {
  local which=${1:-} java_home i
  java_home=$(find_java)
  assemble
  ensure_user
  if [[ -n $which ]]; then
    launch_node "$which" "$java_home"
  else
    for i in $(seq 1 $NODES); do launch_node "$i" "$java_home"; done
  fi
  wait_nodes yellow
  select_node 1
  URL=$(node_url 1)
  check_plugins
  log "cluster of $NODES nodes up, k-NN loaded"
  all_urls
}

cmd_cluster_stop() {
  local which=${1:-} nodes i pid
  if [[ -n $which ]]; then nodes=$which; else nodes=$(seq 1 $NODES); fi
  for i in $nodes; do
    select_node "$i"
    if ! pid=$(cluster_node_pid "$i"); then
      log "node-$i not running"
      continue
    fi
    log "stopping node-$i (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local t
    for t in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "node-$i still alive after 60s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
  done
}

cmd_cluster_status() {
  local i pid
  for i in $(seq 1 $NODES); do
    if pid=$(cluster_node_pid "$i"); then log "node-$i running (pid $pid)"; else log "node-$i not running"; fi
  done
  if cluster_healthy; then
    all_urls
    return 0
  fi
  log "cluster not healthy with $NODES nodes"
  return 3
}

cmd_cluster_log() {
  local n=${1:-1} lines=${2:-200}
  select_node "$n"
  [[ -f $NODE_LOG ]] || { log "no log at $NODE_LOG"; return 1; }
  tail -n "$lines" "$NODE_LOG"
}

cluster_main() {
  local cmd=${1:-}
  shift || true
  if [[ -n ${1:-} && ! $1 =~ ^[1-3]$ && $cmd != log ]]; then
    echo "node must be 1, 2 or 3" >&2
    exit 2
  fi
  case $cmd in
    start) cmd_cluster_start "$@" ;;
    stop) cmd_cluster_stop "$@" ;;
    status) cmd_cluster_status ;;
    log) cmd_cluster_log "$@" ;;
    *) echo "usage: $0 start [N]|stop [N]|status|log N [LINES]" >&2; exit 2 ;;
  esac
}

cluster_main "$@"
