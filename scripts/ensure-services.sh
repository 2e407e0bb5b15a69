#!/usr/bin/env bash
# Start any local server the tests need that is down (PostgreSQL, Redis, RabbitMQ), then wait for it.
set -euo pipefail

wait_for() {  # wait_for <what> <command...>: poll with a deadline
  local what=$1 deadline=$((SECONDS + 60)); shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then echo "$what did not come up" >&2; exit 1; fi
    sleep 0.5
  done
}

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432 -q
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
fi

if ! rabbitmqctl status >/dev/null 2>&1; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached
  wait_for RabbitMQ rabbitmqctl await_startup
fi
