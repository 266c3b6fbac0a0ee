#!/usr/bin/env bash
# Run a real single-node OpenSearch + k-NN on this machine without Docker, built from
# Maven Central artifacts (OpenSearch's own download site is not reachable here).
#
#   scripts/opensearch-node.sh start|stop|status|log [N]|smoke
#
# Version choice: OpenSearch 3.5.0 on JDK 21+ (Temurin 25 here), k-NN 3.5.0.0.
#   * Its Maven integ-test zip (org.opensearch.distribution.integ-test-zip:opensearch:3.5.0)
#     already ships ALL core modules (lang-painless, analysis-common, transport-grpc, reindex, ...),
#     so nothing has to be hand-assembled: unzip it, unzip the k-NN plugin zip into plugins/, run.
#     The 2.19.1 integ-test zip has only transport-netty4, so the fallback would need hand-built
#     lang-painless / analysis-common modules and security policies: more moving parts, not needed.
#   * 3.x runs without the Java Security Manager (agent instead) and supports JDK 25.
#   * The Maven k-NN zip has no native libraries: only `"engine": "lucene"` works. A faiss
#     (default engine!) or nmslib field crashes the WHOLE NODE on the first indexed doc
#     (UnsatisfiedLinkError is fatal), so every knn_vector mapping must say engine lucene.
#
# Environment:
#   DISCOVERY_OPENSEARCH_HOME            root folder (default /var/tmp/discovery-opensearch);
#                                        the node lives in $DISCOVERY_OPENSEARCH_HOME/<version>
#   DISCOVERY_OPENSEARCH_PORT            HTTP port (default 9250; not 9200, to avoid a user's node)
#   DISCOVERY_OPENSEARCH_TRANSPORT_PORT  transport port (default 9350)
#   DISCOVERY_OPENSEARCH_JAVA_HOME       JDK >= 21 (default: Temurin 25, else any JDK >= 21 found)
#   DISCOVERY_OPENSEARCH_USER            unprivileged user used when run as root (default discovery-os)
#   DISCOVERY_OPENSEARCH_START_TIMEOUT   seconds `start` waits for a healthy node (default 180, 600 when
#                                        CI=true: a loaded CI machine may take minutes to recover shards)
#   MAVEN_REPO_LOCAL                     Maven cache (default ~/.m2/repository)
set -euo pipefail

OS_VERSION=3.5.0
KNN_VERSION=3.5.0.0
MIN_JAVA=21

ROOT_DIR=${DISCOVERY_OPENSEARCH_HOME:-/var/tmp/discovery-opensearch}
BASE=$ROOT_DIR/$OS_VERSION
DIST=$BASE/opensearch-$OS_VERSION   # the unpacked server
DATA=$BASE/data
LOGS=$BASE/logs
RUN_TMP=$BASE/tmp
PIDFILE=$BASE/opensearch.pid
PORTFILE=$BASE/http.port              # port the running node was started with
CLUSTER=discovery-local
NODE_LOG=$LOGS/$CLUSTER.log
LAUNCH_LOG=$LOGS/launch.out           # stdout/stderr of bin/opensearch itself
PORT=${DISCOVERY_OPENSEARCH_PORT:-9250}
TRANSPORT_PORT=${DISCOVERY_OPENSEARCH_TRANSPORT_PORT:-9350}
OS_USER=${DISCOVERY_OPENSEARCH_USER:-discovery-os}
M2=${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}
URL=http://127.0.0.1:$PORT
if [[ ${CI:-} == true ]]; then DEFAULT_START_TIMEOUT=600; else DEFAULT_START_TIMEOUT=180; fi
START_TIMEOUT=${DISCOVERY_OPENSEARCH_START_TIMEOUT:-$DEFAULT_START_TIMEOUT}
[[ $START_TIMEOUT =~ ^[1-9][0-9]*$ ]] || { echo "DISCOVERY_OPENSEARCH_START_TIMEOUT must be whole seconds" >&2; exit 2; }

DIST_ZIP=$M2/org/opensearch/distribution/integ-test-zip/opensearch/$OS_VERSION/opensearch-$OS_VERSION.zip
KNN_ZIP=$M2/org/opensearch/plugin/opensearch-knn/$KNN_VERSION/opensearch-knn-$KNN_VERSION.zip

log() { echo "[opensearch-node] $*" >&2; }

# Print the node's log (or the launcher's output if the node never got that far) and exit 1.
die() {
  log "ERROR: $*"
  if [[ -s $NODE_LOG ]]; then
    log "---- last 200 lines of $NODE_LOG ----"
    tail -n 200 "$NODE_LOG" >&2
  fi
  if [[ -s $LAUNCH_LOG ]]; then
    log "---- last 50 lines of $LAUNCH_LOG ----"
    tail -n 50 "$LAUNCH_LOG" >&2
  fi
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------------------------

# Fetch one artifact into the Maven cache unless it is already there (mvn itself costs seconds).
fetch() {
  local coords=$1 file=$2
  [[ -s $file ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (needed once to download $coords)"
  log "downloading $coords from Maven Central"
  local out
  # Quiet on success; on failure show Maven's own error (it prints [ERROR] lines on stdout).
  out=$(mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$M2" dependency:get \
          -Dartifact="$coords" -Dtransitive=false 2>&1) \
    || { echo "$out" >&2; die "mvn could not fetch $coords"; }
  [[ -s $file ]] || die "mvn succeeded but $file is missing"
}

# Pick a JDK the server supports (3.x needs >= 21).
java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }
find_java() {
  local candidates=() j v
  [[ -n ${DISCOVERY_OPENSEARCH_JAVA_HOME:-} ]] && candidates+=("$DISCOVERY_OPENSEARCH_JAVA_HOME")
  candidates+=(/usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*)
  for j in "${candidates[@]}"; do
    [[ -x $j/bin/java ]] || continue
    v=$(java_major "$j")
    if [[ $v =~ ^[0-9]+$ ]] && (( v >= MIN_JAVA )); then echo "$j"; return 0; fi
  done
  die "no JDK >= $MIN_JAVA found (set DISCOVERY_OPENSEARCH_JAVA_HOME)"
}

# Unpack server + k-NN plugin once; a marker file makes later starts skip this step.
assemble() {
  local marker=$BASE/.assembled-$OS_VERSION-$KNN_VERSION
  [[ -f $marker && -x $DIST/bin/opensearch ]] && return 0
  fetch "org.opensearch.distribution.integ-test-zip:opensearch:$OS_VERSION:zip" "$DIST_ZIP"
  fetch "org.opensearch.plugin:opensearch-knn:$KNN_VERSION:zip" "$KNN_ZIP"
  command -v unzip >/dev/null || die "unzip not found"

  log "assembling OpenSearch $OS_VERSION + k-NN $KNN_VERSION in $BASE"
  mkdir -p "$BASE"
  local stage=$BASE/.stage
  rm -rf "$stage" "$DIST"
  mkdir -p "$stage"
  unzip -q "$DIST_ZIP" -d "$stage"
  # k-NN extends lang-painless and transport-grpc: both must be present as modules.
  local m
  for m in lang-painless analysis-common transport-grpc transport-netty4; do
    [[ -f $stage/opensearch-$OS_VERSION/modules/$m/plugin-descriptor.properties ]] \
      || die "module $m missing from the integ-test zip"
  done
  mkdir -p "$stage/opensearch-$OS_VERSION/plugins/opensearch-knn"
  unzip -q "$KNN_ZIP" -d "$stage/opensearch-$OS_VERSION/plugins/opensearch-knn"
  # Exec bits are kept by Info-ZIP unzip, but be safe (other unzippers drop them).
  chmod +x "$stage/opensearch-$OS_VERSION"/bin/*
  mv "$stage/opensearch-$OS_VERSION" "$DIST"
  rmdir "$stage"
  touch "$marker"
}

# OpenSearch refuses to run as root: when we are root, run it as a system user.
ensure_user() {
  [[ $(id -u) -eq 0 ]] || return 0
  if ! id "$OS_USER" >/dev/null 2>&1; then
    log "creating system user $OS_USER"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$OS_USER"
  fi
}

# as_node CMD...: run a command as the user that owns the node.
as_node() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u "$OS_USER" -- "$@"; else "$@"; fi
}

# Settings rewritten on every start so port overrides take effect.
write_config() {
  mkdir -p "$DATA" "$LOGS" "$RUN_TMP"
  cat >"$DIST/config/opensearch.yml" <<EOF
# Written by scripts/opensearch-node.sh: local single-node test cluster, no security plugin.
cluster.name: $CLUSTER
node.name: node-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: $PORT
transport.port: $TRANSPORT_PORT
path.data: $DATA
path.logs: $LOGS
# Small CI disks must not flip indices to read-only.
cluster.routing.allocation.disk.threshold_enabled: false
# The real-memory breaker trips spuriously with a small heap.
indices.breaker.total.use_real_memory: false
EOF
  printf -- '-Xms1g\n-Xmx1g\n' >"$DIST/config/jvm.options.d/heap.options"
  if [[ $(id -u) -eq 0 ]]; then
    chown -R "$OS_USER:" "$BASE"
    # Every parent must be traversable by the node user (e.g. not under /root).
    as_node test -x "$DIST/bin/opensearch" \
      || die "$OS_USER cannot reach $DIST; put DISCOVERY_OPENSEARCH_HOME somewhere world-traversable"
  fi
}

# ---------------------------------------------------------------------------------------------
# Process helpers
# ---------------------------------------------------------------------------------------------

# PID of our node: from the pidfile, or (before the JVM has written it, or if it was lost)
# the JVM whose command line carries this install's path.home.
node_pid() {
  local pid=
  [[ -f $PIDFILE ]] && pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]] \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'org.opensearch.bootstrap.OpenSearch'; then
    echo "$pid"
    return 0
  fi
  pgrep -o -f -- "-Dopensearch.path.home=$DIST .*org.opensearch.bootstrap.OpenSearch" 2>/dev/null
}

# True when something on $PORT is an OpenSearch node with the k-NN plugin.
healthy() {
  curl -fsS -m 5 "$URL/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1 \
    && curl -fsS -m 5 "$URL/_cat/plugins?h=component" 2>/dev/null | grep -q '^opensearch-knn *$'
}

wait_healthy() {
  local deadline=$((SECONDS + START_TIMEOUT))
  while (( SECONDS < deadline )); do
    if curl -fsS -m 10 "$URL/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null 2>&1; then
      return 0
    fi
    # Fail fast if the JVM died (bin/opensearch -d only returns once it has forked the JVM).
    node_pid >/dev/null || die "OpenSearch exited during start-up"
    sleep 1
  done
  die "cluster not yellow after ${START_TIMEOUT}s (DISCOVERY_OPENSEARCH_START_TIMEOUT waits longer)"
}

check_plugins() {
  local plugins
  plugins=$(curl -fsS -m 10 "$URL/_cat/plugins?h=component") || die "_cat/plugins failed"
  grep -q '^opensearch-knn *$' <<<"$plugins" || die "opensearch-knn not loaded; plugins: $plugins"
}

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

cmd_start() {
  if healthy; then
    log "already running and healthy"
    echo "$URL"
    return 0
  fi
  # A node of ours may still be starting: just wait for it instead of launching a second one.
  if node_pid >/dev/null; then
    if [[ $(cat "$PORTFILE" 2>/dev/null) != "$PORT" ]]; then
      die "a node from $BASE (pid $(node_pid)) runs on port $(cat "$PORTFILE" 2>/dev/null); stop it first"
    fi
    log "node (pid $(node_pid)) is starting; waiting"
  else
    if curl -s -m 3 -o /dev/null "$URL" 2>/dev/null; then
      die "port $PORT is taken by something that is not a healthy OpenSearch+k-NN node"
    fi
    local java_home
    java_home=$(find_java)
    assemble
    ensure_user
    write_config
    rm -f "$PIDFILE" "$LAUNCH_LOG"
    echo "$PORT" >"$PORTFILE"
    log "starting OpenSearch $OS_VERSION (java: $java_home, port $PORT)"
    # bin/opensearch uses relative paths (bin/opensearch-keystore): run it from the dist folder.
    (cd "$DIST" && as_node env OPENSEARCH_JAVA_HOME="$java_home" OPENSEARCH_TMPDIR="$RUN_TMP" \
        bin/opensearch -d -p "$PIDFILE") >"$LAUNCH_LOG" 2>&1 \
      || die "bin/opensearch -d failed"
  fi
  wait_healthy
  check_plugins
  log "healthy, k-NN loaded"
  echo "$URL"
}

cmd_stop() {
  local pid
  if ! pid=$(node_pid); then
    log "not running"
    rm -f "$PIDFILE"
    return 0
  fi
  log "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; log "stopped"; return 0; }
    sleep 1
  done
  log "still alive after 60s; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 1
  rm -f "$PIDFILE"
}

cmd_status() {
  local pid
  if pid=$(node_pid); then
    log "process running (pid $pid), home $BASE"
  else
    log "no process from $PIDFILE"
  fi
  if healthy; then
    curl -fsS -m 5 "$URL/_cluster/health?pretty"
    echo "$URL"
    return 0
  fi
  log "not healthy on $URL"
  return 3
}

cmd_log() {
  local n=${1:-200}
  [[ -f $NODE_LOG ]] || { log "no log at $NODE_LOG"; return 1; }
  tail -n "$n" "$NODE_LOG"
}

# --- smoke test: the index features the Discovery client relies on --------------------------

SMOKE_INDEX=discovery-smoke
# req METHOD PATH [BODY] [CONTENT_TYPE]: prints the body; fails on HTTP >= 300 showing it.
req() {
  local method=$1 path=$2 body=${3:-} ctype=${4:-application/json} out code
  out=$(mktemp)
  # $(...) strips the final newline that _bulk/_msearch bodies require.
  [[ $ctype == application/x-ndjson ]] && body+=$'\n'
  if [[ -n $body ]]; then
    code=$(curl -sS -m 30 -o "$out" -w '%{http_code}' -X "$method" -H "Content-Type: $ctype" \
      --data-binary "$body" "$URL$path") || code=000
  else
    code=$(curl -sS -m 30 -o "$out" -w '%{http_code}' -X "$method" "$URL$path") || code=000
  fi
  cat "$out"; rm -f "$out"
  [[ $code =~ ^2 ]] || { echo >&2; log "$method $path -> HTTP $code"; return 1; }
}

# fail STEP RESPONSE: show the response, drop the test index, exit 1.
fail() {
  log "smoke FAILED at $1; response:"
  echo "$2" >&2
  req DELETE "/$SMOKE_INDEX" >/dev/null 2>&1 || true
  exit 1
}
# expect STEP RESPONSE PATTERN: fail unless the extended regex matches the response.
expect() { grep -Eq "$3" <<<"$2" || fail "$1 (expected /$3/)" "$2"; }

# 384-d deterministic vector: vec SEED
vec() { awk -v s="$1" 'BEGIN{printf "["; for(i=0;i<384;i++){printf "%s%.5f", (i?",":""), sin(s*(i+1))}; printf "]"}'; }

cmd_smoke() {
  local r v1 v2
  v1=$(vec 1); v2=$(vec 7)
  req DELETE "/$SMOKE_INDEX" >/dev/null 2>&1 || true

  r=$(req PUT "/$SMOKE_INDEX" '{
    "settings": {"index": {"knn": true, "number_of_shards": 1, "number_of_replicas": 0}},
    "mappings": {"properties": {
      "title": {"type": "text", "analyzer": "english",
                "fields": {"std": {"type": "text", "analyzer": "standard"}}},
      "lang": {"type": "keyword"},
      "embedding": {"type": "knn_vector", "dimension": 384,
        "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil",
                   "parameters": {"m": 16, "ef_construction": 128}}}}}}') \
    || fail "create index" "$r"
  expect "create index" "$r" '"acknowledged":true'

  r=$(req POST "/$SMOKE_INDEX/_bulk?refresh=true" "$(printf '%s\n' \
    '{"index":{"_id":"1"}}' "{\"title\":\"Running experiments on spiral galaxies\",\"lang\":\"en\",\"embedding\":$v1}" \
    '{"index":{"_id":"2"}}' "{\"title\":\"Les chats et les chiens\",\"lang\":\"fr\",\"embedding\":$v2}")" \
    application/x-ndjson) || fail "bulk index" "$r"
  expect "bulk index" "$r" '"errors":false'

  # knn with an efficient filter inside the clause: query = doc 1's vector, filter keeps only "fr",
  # so the only correct hit is doc 2.
  r=$(req POST "/$SMOKE_INDEX/_search" "{\"size\":5,\"_source\":[\"title\"],
    \"query\":{\"knn\":{\"embedding\":{\"vector\":$v1,\"k\":5,
      \"filter\":{\"bool\":{\"filter\":[{\"term\":{\"lang\":\"fr\"}}]}}}}}}") \
    || fail "knn+filter" "$r"
  expect "knn+filter" "$r" '"hits":\[\{"_index":"'"$SMOKE_INDEX"'","_id":"2"'
  expect "knn+filter (only 1 hit)" "$r" '"total":\{"value":1,'

  # match through the english analyzer (run/galaxy stem to Running/galaxies) with highlight.
  r=$(req POST "/$SMOKE_INDEX/_search" '{"query":{"match":{"title":"run galaxy"}},
    "highlight":{"fields":{"title":{}}}}') || fail "match" "$r"
  expect "match" "$r" '"_id":"1"'
  expect "highlight" "$r" '<em>Running</em>.*<em>galaxies</em>'

  # _msearch: BM25 + knn in one round trip (the client-side hybrid baseline).
  r=$(req POST "/$SMOKE_INDEX/_msearch" "$(printf '%s\n' '{}' '{"query":{"match":{"title":"experiment"}}}' \
    '{}' "{\"query\":{\"knn\":{\"embedding\":{\"vector\":$v1,\"k\":2}}}}")" application/x-ndjson) \
    || fail "msearch" "$r"
  expect "msearch" "$r" '^\{"took":[0-9]+,"responses":\[\{.*"_id":"1".*"status":200\},\{.*"_id":"1".*"status":200\}\]\}$'

  r=$(req DELETE "/$SMOKE_INDEX") || fail "delete index" "$r"
  expect "delete index" "$r" '"acknowledged":true'
  echo OK
}

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    log) cmd_log "$@" ;;
    smoke) cmd_smoke ;;
    *) echo "usage: $0 start|stop|status|log [N]|smoke" >&2; exit 2 ;;
  esac
}

# scripts/opensearch-cluster.sh sources this file for its assembly and process helpers.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
