#!/bin/sh
# As the official image: the first start creates the login from PGADMIN_DEFAULT_EMAIL / _PASSWORD.
set -eu
export PGADMIN_SETUP_EMAIL="${PGADMIN_DEFAULT_EMAIL:?PGADMIN_DEFAULT_EMAIL is required}"
export PGADMIN_SETUP_PASSWORD="${PGADMIN_DEFAULT_PASSWORD:?PGADMIN_DEFAULT_PASSWORD is required}"
exec /venv/bin/pgadmin4
