#!/bin/sh
# Patroni's post_bootstrap: the application's role and database (POSTGRES_USER, POSTGRES_PASSWORD,
# POSTGRES_DB), on the new cluster's first primary; $1 is the superuser's connection URL.
set -eu
psql "$1" -v ON_ERROR_STOP=1 -v user="$POSTGRES_USER" -v password="$POSTGRES_PASSWORD" \
  -v database="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"user";
SQL
