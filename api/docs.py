"""Swagger UI at /docs, served with its own pinned assets (no CDN) and a strict CSP."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from edge.security import page_csp

_VENDOR = Path(__file__).parent / "static" / "vendor" / "swagger-ui-dist-5.35.0"
_ASSETS = "/docs/assets"
_OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def _csp_for(html: str) -> str:
    """Allow exactly this page's inline scripts (by hash) and same-origin files, nothing else."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    )
    return page_csp(script_src=f"'self' {hashes}")


def _html(response: HTMLResponse) -> str:
    return bytes(response.body).decode()


def install_docs(app: FastAPI) -> None:
    """Call with `FastAPI(docs_url=None, redoc_url=None)`; serves /docs and its OAuth2 redirect."""
    app.mount(_ASSETS, StaticFiles(directory=_VENDOR), name="docs-assets")
    page = _html(
        get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API docs",
            swagger_js_url=f"{_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{_ASSETS}/favicon-32x32.png",
            oauth2_redirect_url=_OAUTH2_REDIRECT,
        )
    )
    redirect = _html(get_swagger_ui_oauth2_redirect_html())
    page_headers = {"Content-Security-Policy": _csp_for(page)}
    redirect_headers = {"Content-Security-Policy": _csp_for(redirect)}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page, headers=page_headers)

    @app.get(_OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return HTMLResponse(redirect, headers=redirect_headers)
