#!/usr/bin/env bash
# `make up`'s `.env`: made from `.env.example` when absent, and each of the four passwords the compose
# file requires generated where it is empty (letters and digits: they go into URLs). Values already
# set are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .env ] || { cp .env.example .env && chmod 600 .env && echo "wrote .env from .env.example"; }
for name in POSTGRES_PASSWORD RABBITMQ_DEFAULT_PASS REDIS_PASSWORD PGADMIN_DEFAULT_PASSWORD; do
  value=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
  if grep -q "^$name=$" .env; then
    sed -i "s/^$name=\$/$name=$value/" .env
    echo "generated $name in .env"
  elif ! grep -q "^$name=" .env; then
    echo "$name=$value" >>.env
    echo "generated $name in .env"
  fi
done
