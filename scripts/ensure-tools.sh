#!/usr/bin/env bash
# Install the Debian tools the test suite uses when they are missing (a fresh machine has none of them):
# docker-compose validates docker-compose.yml; chromium + chromium-driver load the GraphQL playground.
set -euo pipefail

missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# Node.js and npm generate and type-check the API's TypeScript clients (tests/clients); jq runs
# docs/api.md's walkthrough.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v jq >/dev/null 2>&1 || missing+=(jq)
# Graphviz draws docs/architecture.svg from docs/architecture.dot (make docs; a test checks it is current).
command -v dot >/dev/null 2>&1 || missing+=(graphviz)

if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
