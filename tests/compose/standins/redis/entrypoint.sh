#!/bin/sh
# As the official image does: the data directory belongs to redis, and the server runs as redis, PID 1.
set -eu
if [ "$(id -u)" = 0 ]; then
  chown -R redis:redis /data
  exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
