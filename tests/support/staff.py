"""Staff members for tests: made staff the way operators do it (`orders-admin grant-staff`)."""

from __future__ import annotations

import contextlib
import io

import httpx

from admin.main import run
from admin.settings import AdminProcessSettings
from infra.settings import DatabaseSettings


async def orders_admin(database_url: str, *argv: str) -> tuple[int, str, str]:
    """`orders-admin ARGV…` in this process against `database_url`: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    settings = AdminProcessSettings(database=DatabaseSettings(url=database_url))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = await run(list(argv), settings)
    return status, out.getvalue(), err.getvalue()


async def login(
    client: httpx.AsyncClient, email: str, password: str, scope: str | None = None
) -> dict[str, str]:
    """A fresh token's Authorization header (`scope`: the OAuth2 form field)."""
    form = {"username": email, "password": password}
    if scope is not None:
        form["scope"] = scope
    response = await client.post("/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
