#!/usr/bin/env bash
# Throw-away PostgreSQL and Redis servers on loopback, for the tests.
#
#   eval "$(scripts/services.sh start)"  install what is missing, start, set the URLs
#   scripts/services.sh stop [postgres] [redis]   stop them (default: both)
#   scripts/services.sh status
#
# start prints `export` lines on standard output and everything else on
# standard error:
#
#   ORDERBOT_TEST_POSTGRES_URL  a superuser on a cluster that trusts loopback
#   ORDERBOT_TEST_REDIS_URL     a server with many logical databases, one a test
#   ORDERBOT_SERVICES_STARTED   the services this call started, for stop
#
# It prints the exports of whatever runs and exits 1 if a service could not be
# installed or started. A URL already set in the environment that answers is
# kept, and nothing is started for it; so is a server already answering on the
# port (one this script started earlier). PostgreSQL and Redis are installed
# with apt-get only when their programs are missing: as root, or through
# sudo -n. PostgreSQL refuses to run as root, so root runs it as the postgres
# user. The servers favour speed over durability (no fsync, no snapshots) and
# keep their files in ORDERBOT_SERVICES_DIR, removed by stop.
#
# Ports: ORDERBOT_TEST_POSTGRES_PORT (15432), ORDERBOT_TEST_REDIS_PORT (16379).
set -uo pipefail

STATE=${ORDERBOT_SERVICES_DIR:-/tmp/orderbot-services-$(id -u)}
PG_PORT=${ORDERBOT_TEST_POSTGRES_PORT:-15432}
REDIS_PORT=${ORDERBOT_TEST_REDIS_PORT:-16379}
# REDIS_DATABASES is how many tests may hold a Redis database at once.
REDIS_DATABASES=1024

# Each service NAME has a TITLE, the ENV variable of its URL, and functions
# NAME_url (where this script runs it), NAME_answers URL, launch_NAME and
# stop_NAME.
SERVICES=(postgres redis)
declare -A TITLE=([postgres]=PostgreSQL [redis]=Redis)
declare -A ENV=([postgres]=ORDERBOT_TEST_POSTGRES_URL [redis]=ORDERBOT_TEST_REDIS_URL)

log() { echo "services: $*" >&2; }

# as_root runs a command as root: directly, or through sudo without a prompt.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo -n "$@"
  else
    log "not root and no sudo: cannot run $*"
    return 1
  fi
}

# apt_install installs a Debian package without questions; apt-get update runs
# once a call of this script.
APT_UPDATED=
apt_install() {
  log "installing $1 (apt-get)"
  if [ -z "$APT_UPDATED" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >&2 || return 1
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" </dev/null >&2
}

# wait_for CMD...: polls CMD for up to 30 s, until it succeeds, or gives up
# when it returns 2 or more.
wait_for() {
  for _ in $(seq 300); do
    "$@"
    case $? in
    0) return 0 ;;
    1) sleep 0.1 ;;
    *) return 1 ;;
    esac
  done
  return 1
}

# failed NAME WHAT LOG: says that WHAT failed, with the end of LOG; returns 1.
failed() {
  log "${TITLE[$1]}: $2 failed:"
  tail -n 20 "$3" >&2
  return 1
}

## PostgreSQL

# pg_bin prints the newest installed PostgreSQL's program directory.
pg_bin() {
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# as_pg runs a PostgreSQL program as the user that owns the cluster:
# PostgreSQL refuses to run as root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    "$(command -v runuser || echo /usr/sbin/runuser)" -u postgres -- "$@"
  else
    "$@"
  fi
}

postgres_url() { echo "postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"; }

postgres_answers() {
  local bin
  if bin=$(pg_bin); then
    "$bin/pg_isready" -q -t 3 -d "$1"
  elif command -v pg_isready >/dev/null; then
    pg_isready -q -t 3 -d "$1"
  else
    return 1
  fi
}

launch_postgres() {
  local bin dir=$STATE/postgres
  bin=$(pg_bin) || { apt_install postgresql && bin=$(pg_bin); } || return 1
  rm -rf "$dir" && mkdir -p "$dir" || return 1
  if [ "$(id -u)" = 0 ]; then
    chmod 755 "$STATE" && chown postgres: "$dir" || return 1
  fi
  as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
    </dev/null >"$dir/initdb.log" 2>&1 || failed postgres initdb "$dir/initdb.log" || return 1
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  # 9>&-: the server must not inherit the lock on the state directory.
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
    </dev/null >/dev/null 2>&1 9>&- || failed postgres start "$dir/postgres.log"
}

stop_postgres() {
  local bin dir=$STATE/postgres
  if [ -f "$dir/data/postmaster.pid" ] && bin=$(pg_bin) &&
    as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop </dev/null >/dev/null 2>&1 9>&-; then
    log "PostgreSQL: stopped"
  fi
  rm -rf "$dir"
}

## Redis

redis_bin() { command -v redis-server || { [ -x /usr/bin/redis-server ] && echo /usr/bin/redis-server; }; }

redis_url() { echo "redis://127.0.0.1:$REDIS_PORT/0"; }

# redis_answers URL: a Redis server answers a PING at the URL's address (any
# reply, even one that asks for a password, shows a Redis is listening).
redis_answers() {
  local rest=${1#*://}
  rest=${rest#*@}
  rest=${rest%%/*}
  local host=${rest%:*} port=6379
  [ "$host" != "$rest" ] && port=${rest##*:}
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "PING\r\n" >&3 &&
    IFS= read -r reply <&3 && [[ $reply == [+-]* ]]' _ "$host" "$port" 2>/dev/null
}

launch_redis() {
  local bin dir=$STATE/redis
  bin=$(redis_bin) || { apt_install redis-server && bin=$(redis_bin); } || return 1
  rm -rf "$dir" && mkdir -p "$dir" || return 1
  # setsid: out of this script's process group, as a daemon, yet its pid is
  # known at once, so that a server that exits at start is seen at once.
  setsid "$bin" --bind 127.0.0.1 --port "$REDIS_PORT" --databases "$REDIS_DATABASES" \
    --save '' --appendonly no --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    </dev/null >/dev/null 2>&1 9>&- &
  wait_for redis_up "$!" || failed redis start "$dir/redis.log"
}

# redis_up PID: the server answers (0), is starting (1) or has exited (2).
redis_up() {
  redis_answers "$(redis_url)" && return 0
  kill -0 "$1" 2>/dev/null && return 1
  return 2
}

redis_gone() { ! kill -0 "$1" 2>/dev/null; }

stop_redis() {
  local pid dir=$STATE/redis
  if pid=$(cat "$dir/redis.pid" 2>/dev/null) && kill "$pid" 2>/dev/null; then
    wait_for redis_gone "$pid"
    log "Redis: stopped"
  fi
  rm -rf "$dir"
}

## Either

# start NAME sets URL[NAME] to a server that answers: the one in the
# environment, one already running where this script runs it, or one it
# starts there.
declare -A URL
STARTED=()
start() {
  local name=$1 title=${TITLE[$1]} env=${ENV[$1]} own
  local given=${!env:-}
  if [ -n "$given" ]; then
    if "${name}_answers" "$given"; then
      log "$title: using $env"
      URL[$name]=$given
      return 0
    fi
    log "$title: $env does not answer; starting one"
  fi
  own=$("${name}_url")
  if "${name}_answers" "$own"; then
    log "$title: already running at $own"
  else
    "launch_$name" || { log "$title: not started"; return 1; }
    log "$title: started at $own"
    STARTED+=("$name")
  fi
  URL[$name]=$own
}

# lock serialises runs of this script, so that two test runs starting at once
# neither start a server twice nor stop one the other is starting.
lock() {
  mkdir -p "$STATE" || exit 1
  exec 9>"$STATE/lock"
  if command -v flock >/dev/null; then
    flock -w 120 9 || { log "timed out waiting for $STATE/lock"; exit 1; }
  fi
}

case "${1:-start}" in
start)
  lock
  status=0
  for name in "${SERVICES[@]}"; do
    start "$name" || status=1
    if [ -n "${URL[$name]:-}" ]; then
      printf 'export %s=%q\n' "${ENV[$name]}" "${URL[$name]}"
    fi
  done
  printf 'export ORDERBOT_SERVICES_STARTED=%q\n' "${STARTED[*]}"
  exit $status
  ;;
stop)
  lock
  shift
  [ $# -gt 0 ] || set -- "${SERVICES[@]}"
  for name in "$@"; do
    case $name in
    postgres | redis) "stop_$name" ;;
    *) log "unknown service $name" ;;
    esac
  done
  ;;
status)
  for name in "${SERVICES[@]}"; do
    url=$("${name}_url")
    if "${name}_answers" "$url"; then echo "$name: $url"; else echo "$name: not running"; fi
  done
  ;;
*)
  echo "usage: $0 [start | stop [postgres] [redis] | status]" >&2
  exit 2
  ;;
esac
