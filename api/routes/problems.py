"""The pages Problem Details' `type` links to: `GET /problems/{name}`, one per error code."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import HTMLResponse

from api.problem_details import STATUS_BY_CODE, STATUS_BY_REASON
from api.schemas import error_responses
from edge.errors import ERROR_TYPES, ErrorType

router = APIRouter(tags=["problems"])


def _page(error_type: ErrorType) -> str:
    code = error_type.code
    rows = "".join(
        f"<tr><td><code>{escape(reason)}</code></td>"
        f"<td>{STATUS_BY_REASON.get(reason, STATUS_BY_CODE[code])}</td>"
        f"<td>{escape(meaning)}</td></tr>"
        for reason, meaning in error_type.reasons.items()
    )
    reasons = (
        "<h2>Reasons</h2><table><tr><th><code>reason</code></th><th>status</th><th>when</th></tr>"
        f"{rows}</table>"
        if rows
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(error_type.title)}</title></head><body>"
        f"<h1>{escape(error_type.title)}</h1>"
        f"<p><code>code</code>: <code>{code.value}</code> (REST, and GraphQL's "
        f"<code>extensions.code</code>); HTTP status {STATUS_BY_CODE[code]}.</p>"
        f"<p>{escape(error_type.meaning)}</p>"
        f"<h2>What to do</h2><p>{escape(error_type.advice)}</p>"
        f"{reasons}</body></html>"
    )


_PAGES = {error_type.slug: _page(error_type) for error_type in ERROR_TYPES}


@router.get(
    "/problems/{name}",
    operation_id="getProblemType",
    response_class=HTMLResponse,
    responses={
        **error_responses(404),
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
    },
)
async def problem_type(name: str) -> HTMLResponse:
    """What a problem type (the `type` of an error answer, `/problems/not-found`) means, and what a
    client should do about it: a short page for a human. Unknown names are 404."""
    page = _PAGES.get(name)
    if page is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No problem type is named {name!r}")
    return HTMLResponse(page)
