"""B1, the baseline: a bare FastAPI app (no middleware) returning a constant small JSON."""

from __future__ import annotations

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/bare")
    async def bare() -> dict[str, str]:
        return {"status": "ok"}

    return app
