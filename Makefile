# Every routine command has one short name here; README and .ci/run use these same names.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# uv uses the machine's Python and downloads none, unless told otherwise (UV_PYTHON_DOWNLOADS=automatic).
UV_PYTHON_DOWNLOADS ?= never
export UV_PYTHON_DOWNLOADS
# The machine's uv, else the pinned one scripts/install_uv.py unpacks from PyPI (no pip needed).
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
# The command line's or the environment's PORT, else .env's, else 8000.
PORT ?= $(or $(shell sed -n 's/^PORT=//p' .env 2>/dev/null | tail -n 1),8000)
# The chart checks' tools (tests/charts), pinned in tools/ and unpacked into the git-ignored .tools/.
HELM := .tools/bin/helm
CHECKOV := .tools/checkov/bin/checkov

.PHONY: help install keys db migrate run lint test test-unit tools compose-test soak bench bench-tracing bench-pipeline check-uv schema graphiql docs
.PHONY: backup restore
.PHONY: setup up down newcomer-test
.PHONY: bench-search bench-compare ha-test

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

check-uv:
	@command -v $(UV) >/dev/null 2>&1 || python3 scripts/install_uv.py .tools/bin/uv
	@[ "$$UV_PYTHON_DOWNLOADS" != never ] || $(UV) python find --quiet '>=3.11' >/dev/null 2>&1 || { \
	  echo "This needs Python 3.11, 3.12 or 3.13 (python3 here: $$(python3 -V 2>&1))."; \
	  echo "Install one from your distribution (Debian 12: python3, Debian 13: python3, Ubuntu: python3.12),"; \
	  echo "or let uv download one: make $(MAKECMDGOALS) UV_PYTHON_DOWNLOADS=automatic"; exit 1; } >&2

setup:  ## PostgreSQL, Redis, RabbitMQ running (installed if missing) and a database role in .env (scripts/setup.sh)
	scripts/setup.sh

install: check-uv  ## install runtime and dev dependencies from uv.lock
	$(UV) sync --frozen

keys: .secret_key/jwt-private.pem  ## generate dev RSA keys into .secret_key/ (if absent)

.secret_key/jwt-private.pem:
	mkdir -p .secret_key
	openssl genrsa -out .secret_key/jwt-private.pem 2048
	openssl rsa -in .secret_key/jwt-private.pem -pubout -out .secret_key/jwt-public.pem

db: install  ## create the database named in DATABASE_URL if missing
	$(UV) run python -m scripts.create_database

migrate: db  ## apply migrations (alembic upgrade head)
	$(UV) run alembic upgrade head

run: setup install keys db  ## run the service natively: every Procfile process (the api migrates first), on $PORT
	@# honcho lets .env's PORT beat --port: a last env file (read twice, so not a pipe) puts it back.
	@mkdir -p .tools && echo 'PORT=$(PORT)' > .tools/port.env
	$(UV) run honcho start --env .env,.tools/port.env --port $(PORT)

lint: install  ## formatting, lint, types, import layers
	$(UV) run ruff format --check .
	$(UV) run ruff check .
	$(UV) run mypy .
	$(UV) run lint-imports

test: setup lint tools  ## every check, then every test against the local servers
	$(UV) run pytest

test-unit: install  ## the pure rules only (tests/unit): no server needed, a few seconds
	$(UV) run pytest tests/unit

tools: $(HELM) $(CHECKOV)  ## helm and checkov for the Helm chart's tests, pinned (tools/), into .tools/

$(HELM): scripts/install-helm.sh tools/helm.txt
	UV=$(UV) scripts/install-helm.sh $@

$(CHECKOV): tools/checkov.txt
	rm -rf .tools/checkov
	$(UV) venv --quiet .tools/checkov
	VIRTUAL_ENV=.tools/checkov $(UV) pip install --quiet --require-hashes -r tools/checkov.txt
	touch $@

up: keys  ## the whole stack in Docker (docker-compose.yml): .env and its passwords, keys, build, start, wait
	scripts/compose-env.sh
	docker compose up --build --detach --wait

down:  ## stop the compose stack (its volumes are kept; `docker compose down -v` drops them)
	docker compose down

compose-test: install  ## docker-compose.yml under a real Docker Engine, end to end (installs and starts Docker if missing)
	scripts/ensure-docker.sh
	$(UV) run pytest tests/compose/compose_stack.py -x

ha-test: install  ## deploy/ha/compose.yaml under Docker: a RabbitMQ, Redis, PostgreSQL node SIGKILLed in turn under load
	scripts/ensure-docker.sh
	$(UV) run pytest tests/compose/ha_stack.py -x

newcomer-test: install  ## the README's "Run it" on bare Debian 12 and 13 containers, then tests/api on 3.13 (needs Docker)
	scripts/ensure-docker.sh
	$(UV) run pytest tests/compose/newcomer.py

soak: install  ## SOAK_ORDERS=5000 orders while consumer and worker are SIGKILLed: all processed once? (not in test)
	$(UV) run pytest tests/soak/soak_pipeline.py -s

bench: install keys  ## load benchmark of the real stack against a same-run baseline (needs wrk)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(UV) run python -m bench.run
	$(UV) run python -m bench.search

bench-search: install keys  ## the order search over 1,000,000 seeded orders: six shapes, first and 50th page, count (needs wrk)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(UV) run python -m bench.search

bench-compare: install keys  ## the request rows for BEFORE=<revision> and this tree (or AFTER=<revision>), alternating in one run (needs wrk)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(UV) run python -m bench.compare $(BEFORE) $(AFTER)

bench-tracing: install keys  ## what tracing costs a cached read, per request and by part, in one process (no wrk)
	$(UV) run python -m bench.tracing_cost

bench-pipeline: install keys  ## N orders (BENCH_ORDERS=2000) through the event pipeline: time to all processed, commit→task latency
	$(UV) run python -m bench.pipeline

backup: install  ## pg_dump (custom format) of DATABASE_URL's database into backups/orders-<UTC time>.dump
	$(UV) run python -m scripts.backup backup

restore: install  ## make restore FILE=backups/….dump: pg_restore into DATABASE_URL's database (created if missing)
	@test -n "$(FILE)" || { echo "usage: make restore FILE=backups/orders-….dump"; exit 2; }
	$(UV) run python -m scripts.backup restore "$(FILE)"

docs:  ## draw docs/architecture.svg from docs/architecture.dot (Graphviz; a test checks it is current)
	dot -Tsvg docs/architecture.dot -o docs/architecture.svg

schema: install  ## write the GraphQL schema (SDL) to graph/schema.graphql; a test checks it is current
	$(UV) run python -m graph.export_schema

graphiql:  ## re-fetch the playground's pinned GraphiQL and React from npm into graph/static/vendor
	scripts/vendor-npm.sh graph/vendor.txt
