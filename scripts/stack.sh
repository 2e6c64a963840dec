#!/usr/bin/env bash
# Jobyard's local stack, idempotent: installs and starts whatever is missing, never twice.
#   scripts/stack.sh infra     Docker engine, RabbitMQ, NATS, MongoDB and S3 stand-ins,
#                              Python 3.13 + uv + the workspace, the sandbox image
#   scripts/stack.sh up        infra, then every service as its own process; SCALE="agent=3
#                              gateway=2 sandbox-manager=2" runs replicas (gateway i on port
#                              8080+100*(i-1); each sandbox-manager replica is one more host)
#   scripts/stack.sh down      stop what `up` started (services and stand-ins)
#   scripts/stack.sh status    what runs
# Logs: var/log/<name>.log   pids: var/run/<name>.pid
# Honours MONGODB_URL / S3_ENDPOINT (real servers: the stand-ins are not started).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"; LOG="$VAR/log"; RUN="$VAR/run"; DATA="$VAR/data"
CACHE="${JOBYARD_CACHE:-/var/cache/jobyard}"
ROOTFS_PACKAGES="python3,ca-certificates,openssh-server"
# The rootfs image is named after its package list, so changing the list rebuilds it.
ROOTFS_IMAGE="jobyard/rootfs:bookworm-$(echo "$ROOTFS_PACKAGES" | md5sum | cut -c1-8)"
SANDBOX_IMAGE="jobyard/sandbox-minimal:latest"
BASE_IMAGE="jobyard/sandbox-base:latest"
MONGO_PORT="${JOBYARD_MONGO_STANDIN_PORT:-27017}"
S3_PORT="${JOBYARD_S3_STANDIN_PORT:-9000}"
GATEWAY_PORT="${JOBYARD_GATEWAY_PORT:-8080}"
SERVICES=(scheduler agent sandbox-manager file-sync notifications gateway)
mkdir -p "$LOG" "$RUN" "$DATA"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port name seconds
  for _ in $(seq "$(( $3 * 5 ))"); do listening "$1" && return 0; sleep 0.2; done
  echo "$2 did not open port $1; see $LOG/$2.log" >&2; return 1
}
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  if [ ! -f "$VAR/.apt-updated" ]; then apt-get update -qq && touch "$VAR/.apt-updated"; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$LOG/apt.log" 2>&1 \
    || { tail -20 "$LOG/apt.log" >&2; return 1; }
}
running() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
spawn() { # name command... : start in its own session, remember its pid
  local name=$1; shift
  running "$name" && return 0
  setsid "$@" >>"$LOG/$name.log" 2>&1 < /dev/null &
  echo $! >"$RUN/$name.pid"
}

real_python() { # prints the real executable of a working Python 3.13, or nothing
  local candidate
  for candidate in "${JOBYARD_PYTHON:-}" "$HOME"/.pyenv/versions/3.13*/bin/python3.13 \
      "$(command -v python3.13 || true)"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)' 2>/dev/null && return 0
  done
  return 0
}

python_and_uv() {
  local py; py="$(real_python)"
  if [ -n "$py" ] && [ -x "$(dirname "$py")/uv" ]; then
    UV="$(dirname "$py")/uv"
  elif uv --version >/dev/null 2>&1; then
    UV="$(command -v uv)"
  else
    say "installing uv"
    local pip_python="${py:-python3}"
    "$pip_python" -m pip install -q uv 2>/dev/null || "$pip_python" -m pip install -q --break-system-packages uv
    UV="$("$pip_python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/uv"
  fi
  if [ -z "$py" ]; then say "installing Python 3.13 with uv"; "$UV" python install 3.13; py="$("$UV" python find 3.13)"; fi
  export UV_PYTHON="$py" UV_NATIVE_TLS=1  # trust the system CA store (proxies, private CAs)
  say "syncing the uv workspace (python: $py)"
  (cd "$ROOT" && "$UV" sync --all-packages --frozen -q)
}

gvisor_runtimes() { # registers gVisor with dockerd: runtime `runsc` (no network), `runsc-host` (host network)
  local note="note: gVisor (runsc) unavailable on this machine; containers run with runc only"
  command -v runsc >/dev/null || apt_install runsc || { say "$note"; return 0; }
  (cd /tmp && timeout 30 runsc --network=none do true) >/dev/null 2>&1 || { say "$note"; return 0; }
  mkdir -p /etc/docker
  local changed pid
  changed="$(python3 - "$(command -v runsc)" <<'PY'
import json, os, sys
path, runsc = "/etc/docker/daemon.json", sys.argv[1]
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
# The root filesystem's writes stay in the sandbox's memory (counted against its limit), so a
# root job under gVisor cannot fill the host's disk outside its own.
overlay = "--overlay2=root:memory"
wanted = {"runsc": {"path": runsc, "runtimeArgs": ["--network=none", overlay]},
          "runsc-host": {"path": runsc, "runtimeArgs": ["--network=host", overlay]}}
runtimes = config.setdefault("runtimes", {})
if any(runtimes.get(name) != spec for name, spec in wanted.items()):
    runtimes.update(wanted)
    with open(path + ".tmp", "w") as f: json.dump(config, f, indent=2); f.write("\n")
    os.replace(path + ".tmp", path)
    print("changed")
PY
)"
  if [ -n "$changed" ] && pid="$(pgrep -x dockerd)"; then  # restart to load the runtimes
    say "restarting dockerd (gVisor runtimes registered)"
    kill "$pid"
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
}

docker_engine() {
  if ! command -v dockerd >/dev/null; then apt_install docker.io; fi
  command -v ssh >/dev/null || apt_install openssh-client  # tests log in to persistent jobs
  command -v chromium >/dev/null || apt_install chromium fonts-liberation  # dashboard browser tests
  gvisor_runtimes
  if ! docker info >/dev/null 2>&1; then
    say "starting dockerd"
    setsid dockerd --iptables=false --ip6tables=false --bridge=none >>"$LOG/dockerd.log" 2>&1 < /dev/null &
    for _ in $(seq 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start; see $LOG/dockerd.log" >&2; return 1; }
  fi
}

rabbitmq() {
  listening 5672 && return 0
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  say "starting RabbitMQ"
  rabbitmq-server -detached >>"$LOG/rabbitmq.log" 2>&1 || true
  wait_port 5672 rabbitmq 90
}

nats() {
  listening 4222 && return 0
  command -v nats-server >/dev/null || apt_install nats-server
  say "starting NATS (JetStream)"
  mkdir -p "$DATA/nats"
  spawn nats nats-server -a 127.0.0.1 -p 4222 -js -sd "$DATA/nats"
  wait_port 4222 nats 20
}

mongo_answers() { # the stand-in can read and write (a port alone may hide a broken one)
  "$ROOT/.venv/bin/python" - "$MONGO_PORT" <<'PY' >/dev/null 2>&1
import sys
from pymongo import MongoClient
client = MongoClient(f"mongodb://127.0.0.1:{sys.argv[1]}/?directConnection=true", serverSelectionTimeoutMS=3000)
client["jobyard-health"]["probe"].replace_one({"_id": 1}, {"_id": 1}, upsert=True)
client.list_database_names()
PY
}

standins() {
  if [ -z "${MONGODB_URL:-}" ] && listening "$MONGO_PORT" && ! mongo_answers; then
    echo "something on port $MONGO_PORT is not a working MongoDB stand-in; stop it first" >&2
    return 1
  fi
  if [ -z "${MONGODB_URL:-}" ] && ! listening "$MONGO_PORT"; then
    say "starting the MongoDB stand-in (mongoeco) on $MONGO_PORT"
    # mongoeco's memory engine: with a SQLite file, its file lock outlived an operation cut
    # short by a client that stopped mid-request, and every later write failed ("database is
    # locked"); and beside SQLite in memory it is 12x faster per update. What it holds goes
    # when it stops (`down` stops it).
    spawn mongo-standin "$ROOT/.venv/bin/jobyard-mongo-standin" --port "$MONGO_PORT" --path :memory:
    wait_port "$MONGO_PORT" mongo-standin 60
  fi
  if [ -z "${S3_ENDPOINT:-}" ] && ! listening "$S3_PORT"; then
    say "starting the S3 stand-in (moto) on $S3_PORT"
    spawn s3-standin "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT"
    wait_port "$S3_PORT" s3-standin 60
  fi
}

link_checker() { # s3rver: an S3 server that enforces presigned-link expiry (moto does not)
  [ -x "$CACHE/s3rver/node_modules/.bin/s3rver" ] && return 0
  command -v npm >/dev/null || apt_install nodejs npm
  say "installing s3rver with npm (the link-expiry tests use it)"
  mkdir -p "$CACHE/s3rver"
  npm install --prefix "$CACHE/s3rver" --no-audit --no-fund --loglevel=error s3rver@3.7.1 >"$LOG/npm.log" 2>&1 \
    || { tail -20 "$LOG/npm.log" >&2; return 1; }
}

sandbox_images() {
  if ! docker image inspect "$ROOTFS_IMAGE" >/dev/null 2>&1; then
    apt_install debootstrap
    local dir="$CACHE/${ROOTFS_IMAGE##*:}"
    if [ ! -f "$dir/.complete" ]; then
      say "building the Debian rootfs with debootstrap (about a minute)"
      rm -rf "$dir"; mkdir -p "$CACHE"
      debootstrap --variant=minbase --include="$ROOTFS_PACKAGES" bookworm "$dir" \
        http://deb.debian.org/debian >"$LOG/debootstrap.log" 2>&1 || { tail -20 "$LOG/debootstrap.log" >&2; return 1; }
      touch "$dir/.complete"
    fi
    tar -C "$dir" --exclude=./.complete -c . | docker import - "$ROOTFS_IMAGE" >/dev/null
  fi
  build_image minimal "$SANDBOX_IMAGE"
  # The scientific `base` image: a few minutes the first time on a machine, seconds after.
  build_image base "$BASE_IMAGE"
}

build_image() { # folder tag: one Dockerfile per image, shared files in sandbox-images/common
  say "building $2 (cached)"
  local started=$SECONDS
  # Host network only for the build's apt-get (Debian's registry); jobs never get it from here.
  DOCKER_BUILDKIT=0 docker build --network=host -q --build-arg "BASE=$ROOTFS_IMAGE" \
    -f "$ROOT/sandbox-images/$1/Dockerfile" -t "$2" "$ROOT/sandbox-images" >"$LOG/build-$1.log" 2>&1 \
    || { tail -30 "$LOG/build-$1.log" >&2; return 1; }
  echo "$1 image: $((SECONDS - started)) s, $(docker image inspect -f '{{.Size}}' "$2" | awk '{printf "%.0f MB", $1/1e6}')" >&2
}

infra() {
  python_and_uv
  docker_engine
  rabbitmq
  nats
  standins
  link_checker
  sandbox_images
}

env_for_services() {
  export JOBYARD_MONGODB_URL="${MONGODB_URL:-mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true}"
  export JOBYARD_S3_ENDPOINT="${S3_ENDPOINT:-http://127.0.0.1:$S3_PORT}"
  export JOBYARD_GATEWAY_PORT="$GATEWAY_PORT"
  # The operators' token for creating users, made once per checkout and kept out of git.
  [ -s "$VAR/admin-token" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$VAR/admin-token")
  JOBYARD_GATEWAY_ADMIN_TOKEN="$(cat "$VAR/admin-token")"
  export JOBYARD_GATEWAY_ADMIN_TOKEN
}

replicas() { # service: how many SCALE asks for ("agent=3 gateway=2"; 1 when unnamed)
  local want
  want=$(tr ' ' '\n' <<<"${SCALE:-}" | sed -n "s/^$1=\([0-9][0-9]*\)$/\1/p" | tail -1)
  echo "${want:-1}"
}

declare -A PORT_VAR=([gateway]=JOBYARD_GATEWAY_PORT [scheduler]=JOBYARD_SCHEDULER_HEALTH_PORT
  [agent]=JOBYARD_AGENT_HEALTH_PORT [sandbox-manager]=JOBYARD_SANDBOX_HEALTH_PORT
  [file-sync]=JOBYARD_FILESYNC_HEALTH_PORT [notifications]=JOBYARD_NOTIFICATIONS_HEALTH_PORT)
declare -A PORT=([gateway]=$GATEWAY_PORT [scheduler]=8081 [agent]=8082 [sandbox-manager]=8083
  [file-sync]=8084 [notifications]=8085)

start_replica() { # service index: replica i listens 100*(i-1) above the defaults; a second
  # sandbox-manager is a second host (its own host id), and each host has its file-sync
  local svc=$1 i=$2 name=$1
  local settings=("${PORT_VAR[$svc]}=$(( PORT[$svc] + 100 * (i - 1) ))")
  if [ "$i" -gt 1 ]; then
    name="$svc-$i"
    case "$svc" in sandbox-manager|file-sync)
      settings+=("JOBYARD_SANDBOX_HOST_ID=$(hostname | tr -c 'A-Za-z0-9_\n-' -)-$i") ;;
    esac
  fi
  running "$name" && return 0
  say "starting $name"
  spawn "$name" env "${settings[@]}" "$ROOT/.venv/bin/jobyard-$svc"
}

up() {
  infra
  env_for_services
  local hosts; hosts=$(replicas sandbox-manager)
  for svc in "${SERVICES[@]}"; do
    local n; n=$(replicas "$svc")
    [ "$svc" = file-sync ] && n=$hosts  # one file-sync per sandbox host
    for i in $(seq "$n"); do start_replica "$svc" "$i"; done
  done
  for _ in $(seq 150); do
    curl -fsS "http://127.0.0.1:$GATEWAY_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$GATEWAY_PORT/readyz" >/dev/null || { echo "gateway not ready; see $LOG/gateway.log" >&2; return 1; }
  say "Jobyard is up: http://127.0.0.1:$GATEWAY_PORT (logs in var/log/, admin token in var/admin-token)"
}

started() { # every service and replica `up` started, then the stand-ins
  local svc pid
  for svc in "${SERVICES[@]}"; do
    for pid in "$RUN/$svc.pid" "$RUN/$svc"-[0-9]*.pid; do [ -f "$pid" ] && basename "$pid" .pid; done
  done
  echo s3-standin mongo-standin nats | tr ' ' '\n'
}

down() {
  for name in $(started); do
    if running "$name"; then say "stopping $name"; kill -TERM -- "-$(cat "$RUN/$name.pid")" 2>/dev/null || kill "$(cat "$RUN/$name.pid")"; fi
    rm -f "$RUN/$name.pid"
  done
}

status() {
  for name in $(started); do
    if running "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"; else echo "$name: stopped"; fi
  done
}

case "${1:-up}" in
  infra) infra ;;
  up) up ;;
  down) down ;;
  status) status ;;
  env) env_for_services; env | grep '^JOBYARD_' | grep -v ADMIN_TOKEN ;;
  *) echo "usage: $0 infra|up|down|status" >&2; exit 2 ;;
esac
