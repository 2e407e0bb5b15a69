#!/bin/sh
# Entrypoint of the app image (api, consumer and worker).
#
# As the app user (the image's default) it only runs the command. Started as root, which
# docker-compose.yml does for the api alone, it first hands the JWT keys to the app user: compose
# mounts its secrets as files keeping their host owner and mode (`openssl genrsa` writes the private
# key 0600), which the app user cannot read and should not be made to by a chmod on the host. So each
# file in /run/secrets is copied into /run/keys, a tmpfs (memory only) readable by the app user alone,
# and root is dropped for good (setpriv: no new privileges) before the command runs.
set -eu
if [ "$(id -u)" = 0 ]; then
  install -d -m 0700 -o orders -g orders /run/keys
  for secret in /run/secrets/*; do
    if [ -f "$secret" ]; then
      install -m 0400 -o orders -g orders "$secret" "/run/keys/$(basename "$secret")"
    fi
  done
  # HOME too: root's would stay set, and libraries look there for files (asyncpg: ~/.postgresql).
  HOME=$(getent passwd orders | cut -d: -f6)
  export HOME
  exec setpriv --reuid=orders --regid=orders --init-groups --no-new-privs -- "$@"
fi
exec "$@"
