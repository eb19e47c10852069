#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis run on loopback, as the tests, the demo and
# the benchmarks expect. Idempotent: when both already answer it does nothing.
# On a fresh Debian machine it installs them from Debian's packages.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER_NAME=${PGUSER_NAME:-root}
PGDATABASE_NAME=${PGDATABASE_NAME:-test}
REDIS_PORT=${REDIS_PORT:-6379}
# A 3-master Redis Cluster for the cluster runs and the benchmarks' cluster rows.
CLUSTER_PORTS=${CLUSTER_PORTS:-"7001 7002 7003"}
CLUSTER_DIR=${CLUSTER_DIR:-/var/lib/redis-cluster}

say() { echo "services: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h "$PGHOST" -p "$PGPORT"; }
redis_up() { command -v redis-cli >/dev/null && [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

start_postgres() {
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    say "installing PostgreSQL"
    apt_install postgresql postgresql-contrib
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  local hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! as_root grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    say "allowing trust auth on loopback"
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
  fi
  say "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
}

ensure_role_and_db() {
  local psql=(psql -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -Atq)
  if ! psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER_NAME" -d "$PGDATABASE_NAME" -Atqc 'select 1' >/dev/null 2>&1; then
    say "creating role $PGUSER_NAME and database $PGDATABASE_NAME"
    "${psql[@]}" -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PGUSER_NAME') THEN CREATE ROLE \"$PGUSER_NAME\" SUPERUSER LOGIN; END IF; END\$\$" 
    "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE_NAME'" | grep -q 1 ||
      "${psql[@]}" -c "CREATE DATABASE \"$PGDATABASE_NAME\" OWNER \"$PGUSER_NAME\""
  fi
}

start_redis() {
  if ! command -v redis-server >/dev/null; then
    say "installing Redis"
    apt_install redis-server
  fi
  say "starting Redis on $REDIS_PORT"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/cacheops.log
  for _ in $(seq 1 50); do redis_up && break; sleep 0.1; done
}

cluster_up() {
  local port
  for port in $CLUSTER_PORTS; do
    redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

# ours: the node on port answers and runs from our directory, so resetting
# it disturbs nobody else.
ours() {
  [ "$(redis-cli -h 127.0.0.1 -p "$1" config get dir 2>/dev/null | tail -n 1)" = "$CLUSTER_DIR/$1" ]
}

start_cluster() {
  local port addrs=()
  say "starting a Redis Cluster on ports $CLUSTER_PORTS"
  for port in $CLUSTER_PORTS; do
    addrs+=("127.0.0.1:$port")
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" != PONG ]; then
      as_root mkdir -p "$CLUSTER_DIR/$port"
      as_root redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
        --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
        --dir "$CLUSTER_DIR/$port" --logfile "$CLUSTER_DIR/$port/redis.log"
    fi
    for _ in $(seq 1 50); do [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
    ours "$port" || { say "port $port answers, but not as our cluster node (CLUSTER_PORTS picks others)"; exit 1; }
  done
  # Restarted nodes find their cluster again from nodes.conf.
  for _ in $(seq 1 30); do cluster_up && return; sleep 0.2; done
  say "creating the cluster"
  for port in $CLUSTER_PORTS; do
    redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null
    redis-cli -h 127.0.0.1 -p "$port" cluster reset hard >/dev/null
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-yes >/dev/null
  for _ in $(seq 1 100); do cluster_up && return; sleep 0.1; done
}

pg_up || start_postgres
pg_up || { say "PostgreSQL did not start"; exit 1; }
ensure_role_and_db
redis_up || start_redis
redis_up || { say "Redis did not start"; exit 1; }
cluster_up || start_cluster
cluster_up || { say "the Redis Cluster did not start"; exit 1; }
