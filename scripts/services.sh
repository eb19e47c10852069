#!/usr/bin/env bash
# Makes sure the servers the tests, the demo and the benchmarks use are up:
# the PostgreSQL of CACHEOPS_TEST_DATABASE, the Redis of CACHEOPS_TEST_REDIS
# and the Redis Cluster of CACHEOPS_TEST_CLUSTER (defaults: loopback, see the
# Makefile). Idempotent: when they answer it does nothing.
#
# What it may do, and says before doing it:
#   - install PostgreSQL or Redis from Debian's packages (apt-get: root or sudo);
#   - start them on loopback (root or sudo);
#   - create the test role and database (as the postgres superuser);
#   - allow passwordless (trust) logins on loopback, only for a PostgreSQL it
#     has just installed, or when CACHEOPS_ALLOW_TRUST=1 — never silently.
# Servers on other hosts are only checked. Anything it cannot do ends with a
# message saying what to do instead.
set -euo pipefail

DSN=${CACHEOPS_TEST_DATABASE:-postgres://root@127.0.0.1:5432/test?sslmode=disable}
REDIS_URL=${CACHEOPS_TEST_REDIS:-redis://127.0.0.1:6379/9}
CLUSTER_URL=${CACHEOPS_TEST_CLUSTER:-redis://127.0.0.1:7001?addr=127.0.0.1:7002&addr=127.0.0.1:7003}
CLUSTER_DIR=${CLUSTER_DIR:-/var/lib/redis-cluster}

say() { echo "services: $*" >&2; }
die() { say "$*"; exit 1; }

# postgres://user[:password]@host[:port]/db[?…]
if [[ $DSN =~ ^postgres(ql)?://([^:@/]+)(:[^@]*)?@([^:/?]+)(:([0-9]+))?/([^?]+) ]]; then
  PGUSER_NAME=${BASH_REMATCH[2]} PGHOST=${BASH_REMATCH[4]} PGPORT=${BASH_REMATCH[6]:-5432} PGDATABASE_NAME=${BASH_REMATCH[7]}
else
  die "CACHEOPS_TEST_DATABASE=$DSN: want postgres://user[:password]@host[:port]/database"
fi
# redis://[user:password@]host[:port][/db]
redis_addr() {
  [[ $1 =~ ^rediss?://([^@/]*@)?([^:/?]+)(:([0-9]+))? ]] || die "$2=$1: want redis://[user:password@]host[:port][/db]"
  echo "${BASH_REMATCH[2]} ${BASH_REMATCH[4]:-6379}"
}
read -r REDIS_HOST REDIS_PORT < <(redis_addr "$REDIS_URL" CACHEOPS_TEST_REDIS)
CLUSTER_PORTS=""
CLUSTER_HOST=""
for addr in $(echo "$CLUSTER_URL" | sed -E 's#^rediss?://([^@/]*@)?##' | grep -oE '[A-Za-z0-9.:-]+:[0-9]+'); do
  CLUSTER_HOST=${addr%%:*}
  CLUSTER_PORTS="$CLUSTER_PORTS ${addr##*:}"
done

loopback() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]; }

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    say "using sudo for: $*"
    sudo "$@"
  else
    die "needs root (or sudo) for: $*; run this script as root, or start the server yourself"
  fi
}

apt_updated=
apt_install() {
  command -v apt-get >/dev/null || die "$* is missing and this is not a Debian-like system: install it, or point CACHEOPS_TEST_* at servers that run"
  say "installing $* from Debian's packages"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h "$PGHOST" -p "$PGPORT"; }
# -w: never prompt for a password (a server that wants one fails at once).
pg_login() { psql "$DSN" -w -Atqc 'select 1' >/dev/null 2>&1; }
redis_up() { command -v redis-cli >/dev/null && [ "$(redis-cli -h "$1" -p "$2" ping 2>/dev/null)" = PONG ]; }

installed_pg=
start_postgres() {
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql postgresql-contrib
    installed_pg=1
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  say "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
}

allow_trust() {
  local version hba
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  say "changing authentication: adding 'trust' for loopback and local sockets at the top of $hba (passwordless logins from this machine)"
  as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
}

ensure_role_and_db() {
  pg_login && return
  local admin=(psql -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -w -Atq)
  if ! "${admin[@]}" -c 'select 1' >/dev/null 2>&1; then
    if loopback "$PGHOST" && { [ -n "$installed_pg" ] || [ "${CACHEOPS_ALLOW_TRUST:-}" = 1 ]; }; then
      allow_trust
    fi
  fi
  pg_login && return
  if ! "${admin[@]}" -c 'select 1' >/dev/null 2>&1; then
    die "PostgreSQL on $PGHOST:$PGPORT refuses $PGUSER_NAME (and postgres) without a password. Put the password in CACHEOPS_TEST_DATABASE (postgres://$PGUSER_NAME:PASSWORD@$PGHOST:$PGPORT/$PGDATABASE_NAME), create the role and database yourself, or rerun with CACHEOPS_ALLOW_TRUST=1 to let this script allow passwordless logins on loopback"
  fi
  say "creating role $PGUSER_NAME and database $PGDATABASE_NAME"
  "${admin[@]}" -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PGUSER_NAME') THEN CREATE ROLE \"$PGUSER_NAME\" SUPERUSER LOGIN; END IF; END\$\$"
  "${admin[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE_NAME'" | grep -q 1 ||
    "${admin[@]}" -c "CREATE DATABASE \"$PGDATABASE_NAME\" OWNER \"$PGUSER_NAME\""
  pg_login || die "cannot log in with CACHEOPS_TEST_DATABASE=$DSN even after creating the role and database"
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  say "starting Redis on $REDIS_PORT"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/cacheops.log
  for _ in $(seq 1 50); do redis_up "$REDIS_HOST" "$REDIS_PORT" && break; sleep 0.1; done
}

cluster_up() {
  local port
  for port in $CLUSTER_PORTS; do
    redis-cli -h "$CLUSTER_HOST" -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

# ours: the node on port answers and runs from our directory, so resetting
# it disturbs nobody else.
ours() {
  [ "$(redis-cli -h 127.0.0.1 -p "$1" config get dir 2>/dev/null | tail -n 1)" = "$CLUSTER_DIR/$1" ]
}

start_cluster() {
  local port addrs=()
  say "starting a Redis Cluster on ports$CLUSTER_PORTS"
  for port in $CLUSTER_PORTS; do
    addrs+=("127.0.0.1:$port")
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" != PONG ]; then
      as_root mkdir -p "$CLUSTER_DIR/$port"
      as_root redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
        --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
        --dir "$CLUSTER_DIR/$port" --logfile "$CLUSTER_DIR/$port/redis.log"
    fi
    for _ in $(seq 1 50); do [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
    ours "$port" || die "port $port answers, but not as a cluster node this script started: set CACHEOPS_TEST_CLUSTER to other ports"
  done
  # Restarted nodes find their cluster again from nodes.conf.
  for _ in $(seq 1 30); do cluster_up && return; sleep 0.2; done
  say "creating the cluster (its nodes are this script's own: emptied first)"
  for port in $CLUSTER_PORTS; do
    redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null
    redis-cli -h 127.0.0.1 -p "$port" cluster reset hard >/dev/null
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-yes >/dev/null
  for _ in $(seq 1 100); do cluster_up && return; sleep 0.1; done
}

if ! pg_up; then
  loopback "$PGHOST" || die "PostgreSQL on $PGHOST:$PGPORT (CACHEOPS_TEST_DATABASE) does not answer; this script starts servers on loopback only"
  start_postgres
  pg_up || die "PostgreSQL did not start"
fi
ensure_role_and_db
if ! redis_up "$REDIS_HOST" "$REDIS_PORT"; then
  loopback "$REDIS_HOST" || die "Redis on $REDIS_HOST:$REDIS_PORT (CACHEOPS_TEST_REDIS) does not answer; this script starts servers on loopback only"
  start_redis
  redis_up "$REDIS_HOST" "$REDIS_PORT" || die "Redis did not start"
fi
if ! cluster_up; then
  loopback "$CLUSTER_HOST" || die "the Redis Cluster at $CLUSTER_HOST (CACHEOPS_TEST_CLUSTER) is not up; this script starts servers on loopback only"
  start_cluster
  cluster_up || die "the Redis Cluster did not start"
fi
