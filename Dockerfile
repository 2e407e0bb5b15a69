# One image for the api, consumer, worker and webhooks processes; docker-compose.yml picks the command.
# Build stage: uv installs the locked runtime dependencies (no dev tools) into /opt/venv, then the
# project itself, editable from /app (where the runtime stage puts the source): that gives the
# console script `orders-admin` on PATH with a single copy of the code.
FROM python:3.13-slim AS build
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY README.md ./
COPY admin ./admin
COPY api ./api
COPY graph ./graph
COPY domain ./domain
COPY infra ./infra
COPY edge ./edge
COPY relay ./relay
COPY consumer ./consumer
COPY worker ./worker
COPY dispatcher ./dispatcher
RUN uv sync --frozen --no-dev

# Runtime stage: the venv and the source, nothing else (no uv, no compilers, no secrets).
FROM python:3.13-slim
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin orders
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root alembic.ini Procfile ./
COPY --chown=root:root admin ./admin
COPY --chown=root:root api ./api
COPY --chown=root:root graph ./graph
COPY --chown=root:root domain ./domain
COPY --chown=root:root infra ./infra
COPY --chown=root:root edge ./edge
COPY --chown=root:root relay ./relay
COPY --chown=root:root consumer ./consumer
COPY --chown=root:root worker ./worker
COPY --chown=root:root dispatcher ./dispatcher
COPY --chown=root:root migrations ./migrations
COPY --chown=root:root scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    LOG_FORMAT=json
USER orders
EXPOSE 8000
# Run as the app user it only execs the command; see the script for what it does when started as root.
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["sh", "-c", "{ [ \"${MIGRATE_ON_START:-true}\" = false ] || alembic upgrade head; } && exec python -m api --host ${HOST:-127.0.0.1} --port ${PORT:-8000}"]
