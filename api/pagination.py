"""Keyset pages over REST: the `Link` header that names the next page, and its OpenAPI description."""

from __future__ import annotations

from typing import Any

from fastapi import Request

# `responses={200: {"headers": {"Link": NEXT_PAGE_HEADER}}}` on every paginated route.
NEXT_PAGE_HEADER: dict[str, Any] = {
    "description": 'The next page, with the same query: `<url>; rel="next"`',
    "schema": {"type": "string"},
}


def next_page_link(request: Request, cursor: str | None, **params: object) -> dict[str, str]:
    """`{"Link": …}` naming the next page (this request's query with `params` and `cursor`), or
    nothing when there is no next page (`cursor` None)."""
    if cursor is None:
        return {}
    next_url = request.url.include_query_params(**params, cursor=cursor)
    return {"Link": f'<{next_url}>; rel="next"'}
