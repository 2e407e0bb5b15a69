"""What every REST error answer is: Problem Details (RFC 9457) in this API's vocabulary."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "request_id", "code"}


def problem(
    response: httpx.Response,
    status: int,
    code: str,
    reason: str | None = None,
    *,
    detail: str | None = None,
) -> dict[str, Any]:
    """The answer's body, once checked to be the Problem Details of `status`, `code` and `reason`
    (and `detail`, when given) for this request."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_MEMBERS, body
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"] == f"/problems/{code.lower().replace('_', '-')}"
    assert body.get("reason") == reason, body
    assert body["instance"] == response.request.url.path
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert isinstance(body["detail"], str)
    if detail is not None:
        assert body["detail"] == detail, body
    return body


def same_problem(response: httpx.Response) -> dict[str, Any]:
    """The answer's body but what each request has of its own (its id, its path), to compare the
    answers of two requests."""
    body: dict[str, Any] = response.json()
    return {name: value for name, value in body.items() if name not in {"request_id", "instance"}}
