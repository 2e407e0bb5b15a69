#!/usr/bin/env bash
# What `make run` and `make test` need on this machine (CI runs the same script through them):
# PostgreSQL, Redis and RabbitMQ answering on localhost, and a database role with a password in `.env`.
# - a server that answers is used as it is; one that is installed but down is started (without systemd
#   where there is none) and waited for; a missing one is installed from the distribution's packages;
# - without `.env` (and without DATABASE_URL in the environment), the role and database `orders` get a
#   generated password, written into a new `.env` made from `.env.example`, so PostgreSQL's stock
#   scram-sha-256 authentication works; an existing `.env` is used as it is;
# - what needs root is done as root or with sudo; with neither, it stops at once and prints the
#   commands to run (or `make up`, the Docker way).
set -euo pipefail
cd "$(dirname "$0")/.."

ROLE=orders
DATABASE=orders
declare -A PACKAGES=([postgres]=postgresql [redis]=redis-server [rabbitmq]=rabbitmq-server)
declare -A PORTS=([postgres]=5432 [redis]=6379 [rabbitmq]=5672)
SERVERS=(postgres redis rabbitmq)

# Two setups at once (two checkouts on one machine) take turns rather than racing to start servers.
# The lock file is made writable by all, so any user's setup can take it (a read-only open is enough).
lock=/tmp/orders-setup.lock
[ -e "$lock" ] || (umask 000 && : >>"$lock")
exec 9<"$lock"
flock 9

answers() {  # answers <port>: something listens on 127.0.0.1:<port>
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

installed() {
  case $1 in
    postgres) command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /usr/lib/postgresql 2>/dev/null)" ] ;;
    redis) command -v redis-server >/dev/null 2>&1 ;;
    rabbitmq) command -v rabbitmq-server >/dev/null 2>&1 ;;
  esac
}

start_command() {  # the command that starts an installed server, systemd or not
  if [ -d /run/systemd/system ]; then
    echo "systemctl start ${PACKAGES[$1]}"
    return
  fi
  case $1 in
    postgres)
      local version
      version=$(ls /usr/lib/postgresql | sort -V | tail -1)
      if [ -d "/etc/postgresql/$version/main" ]; then
        echo "pg_ctlcluster --skip-systemctl-redirect $version main start"
      else
        echo "pg_createcluster --start $version main"
      fi
      ;;
    redis)
      echo "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no" \
        "--dir /var/lib/redis --logfile /var/log/redis/redis-server.log"
      ;;
    rabbitmq) echo "rabbitmq-server -detached" ;;
  esac
}

# What needs root runs as root itself or through sudo (which asks for a password only on a terminal).
as_root=()
privileged=1
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    as_root=(sudo)
  else
    privileged=
  fi
fi

# Where the app's URLs point at another machine (the environment or .env says so), nothing is set up.
url_of() {  # url_of <VARIABLE>: its value from the environment, else from .env, else empty
  if [ -n "${!1:-}" ]; then
    echo "${!1}"
  elif [ -f .env ]; then
    sed -n "s/^$1=//p" .env | tail -1
  fi
}
local_url() {  # empty URLs are the defaults, which are local
  case $1 in
    "" | *@127.0.0.1[:/]* | *@localhost[:/]* | *//127.0.0.1[:/]* | *//localhost[:/]* | *@\[::1\][:/]*) return 0 ;;
    *) return 1 ;;
  esac
}
declare -A URL_VARIABLE=([postgres]=DATABASE_URL [redis]=REDIS_URL [rabbitmq]=RABBITMQ_URL)

to_install=()
to_start=()
for server in "${SERVERS[@]}"; do
  if ! local_url "$(url_of "${URL_VARIABLE[$server]}")" || answers "${PORTS[$server]}"; then
    continue
  fi
  installed "$server" || to_install+=("${PACKAGES[$server]}")
  to_start+=("$server")
done

# The role: only when no .env says how to log in, and DATABASE_URL does not come from the environment.
make_role=
if [ ! -f .env ] && [ -z "${DATABASE_URL:-}" ]; then
  make_role=1
  password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
fi
role_sql() {
  cat <<SQL
DO \$\$ BEGIN
  CREATE ROLE $ROLE LOGIN CREATEDB;
EXCEPTION WHEN duplicate_object THEN NULL;
END \$\$;
ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$password';
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE') \gexec
ALTER DATABASE $DATABASE OWNER TO $ROLE;
SQL
}
write_env() {  # .env from .env.example: the role's URL set, every other setting left commented out
  # (an explicit value would beat a default that depends on ENVIRONMENT, e.g. GRAPHQL_PLAYGROUND).
  local url="postgresql+asyncpg://$ROLE:$password@127.0.0.1:5432/$DATABASE"
  sed -e "s|^DATABASE_URL=.*|DATABASE_URL=$url|" -e '/^DATABASE_URL=/!s/^\([A-Z][A-Z0-9_]*=\)/# \1/' \
    .env.example >.env.new
  chmod 600 .env.new
  mv .env.new .env
  echo "wrote .env (DATABASE_URL: role $ROLE, generated password)"
}

if [ -z "$privileged" ] && { ((${#to_start[@]})) || [ -n "$make_role" ]; }; then
  # Neither root nor sudo: say what root has to do, then stop.
  {
    [ -z "$make_role" ] || write_env
    echo "This needs root once (no sudo here). As root, run:"
    if ((${#to_install[@]})); then
      echo "  apt-get update && apt-get install -y ${to_install[*]}"
    fi
    for server in "${to_start[@]}"; do
      echo "  $(start_command "$server")"
    done
    if [ -n "$make_role" ]; then
      echo "  runuser -u postgres -- psql <<'SQL'"
      role_sql
      echo "SQL"
    fi
    echo "then run this command again. Or run the whole stack in Docker instead: make up"
  } >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ((${#to_install[@]})); then
  echo "installing ${to_install[*]}"
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq "${to_install[@]}" >/dev/null
fi

wait_for() {  # wait_for <server>: poll its port with a deadline
  local deadline=$((SECONDS + 120))
  until answers "${PORTS[$1]}"; do
    if ((SECONDS > deadline)); then echo "$1 did not come up on port ${PORTS[$1]}" >&2; exit 1; fi
    sleep 0.5
  done
}

for server in "${to_start[@]}"; do
  # A package's own scripts may have started it already.
  if ! answers "${PORTS[$server]}"; then
    echo "starting $server"
    "${as_root[@]}" bash -c "$(start_command "$server")" >/dev/null
  fi
done
for server in "${to_start[@]}"; do
  wait_for "$server"
done

if [ -n "$make_role" ]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "PostgreSQL answers on 127.0.0.1:5432 but is not this machine's own (no postgres user):" \
      "put its DATABASE_URL into .env (see .env.example)" >&2
    exit 1
  fi
  echo "creating the PostgreSQL role and database $ROLE"
  # From / : the postgres user may not enter the checkout.
  role_sql | (cd / && "${as_root[@]}" runuser -u postgres -- psql -q -X -v ON_ERROR_STOP=1 -d postgres >/dev/null)
  write_env
fi
