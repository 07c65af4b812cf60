#!/usr/bin/env bash
# Extra services for the CI suites that run the app on other topologies:
# a PgBouncer in transaction mode and a three-master Redis Cluster, both on
# loopback ports, their files under one state directory. Sourced by .ci/run
# (or run by hand: .ci/services.sh start|stop <state dir>).
#
#   start_pgbouncer <state dir> <port> <server pool size>
#   start_redis_cluster <state dir> <first port>    # ports first..first+2
#   stop_services <state dir>

start_pgbouncer() {
  local dir="$1/pgbouncer" port="$2" pool="$3"
  mkdir -p "$dir"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
; every database name goes to the local PostgreSQL (the test database too)
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
pidfile = $dir/pgbouncer.pid
logfile = $dir/pgbouncer.log
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = $pool
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
INI
  # The owner role and the test run's runtime role (<database>_test_runtime)
  printf '"%s" ""\n"%s" ""\n' "${DB_USER:-postgres}" "${DB_DATABASE:-commerce}_test_runtime" >"$dir/users.txt"
  # PgBouncer refuses to run as root; -u switches to an unprivileged user.
  local as_user=()
  if [ "$(id -u)" = 0 ]; then
    chmod 755 "$1" "$dir"
    chown -R postgres "$dir"
    as_user=(-u postgres)
  fi
  "$(command -v pgbouncer || echo /usr/sbin/pgbouncer)" -d "${as_user[@]}" "$dir/pgbouncer.ini"
  for _ in $(seq 1 50); do
    pg_isready -h 127.0.0.1 -p "$port" -q && return 0
    sleep 0.1
  done
  echo "PgBouncer did not start on port $port:"; cat "$dir/pgbouncer.log"; return 1
}

start_redis_cluster() {
  local dir="$1/redis-cluster" first="$2" nodes=()
  mkdir -p "$dir"
  for port in "$first" $((first + 1)) $((first + 2)); do
    mkdir -p "$dir/$port"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$dir/$port" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --save "" --appendonly no --maxmemory-policy noeviction \
      --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log"
    nodes+=("127.0.0.1:$port")
  done
  for port in "$first" $((first + 1)) $((first + 2)); do
    for _ in $(seq 1 50); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log"
  for _ in $(seq 1 100); do
    [[ "$(redis-cli -p "$first" cluster info)" == *cluster_state:ok* ]] && return 0
    sleep 0.1
  done
  echo "Redis Cluster did not become ready:"; cat "$dir/create.log"; return 1
}

stop_services() {
  local pidfile
  for pidfile in "$1"/pgbouncer/pgbouncer.pid "$1"/redis-cluster/*/redis.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start)
      start_pgbouncer "$2" "${PGBOUNCER_PORT:-6432}" "${PGBOUNCER_POOL_SIZE:-6}"
      start_redis_cluster "$2" "${REDIS_CLUSTER_PORT:-7001}"
      ;;
    stop) stop_services "$2" ;;
    *) echo "usage: $0 start|stop <state dir>"; exit 2 ;;
  esac
fi
