"""PostgreSQL away: GraphQL answers SERVICE_UNAVAILABLE (as REST answers 503), never a stack trace."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.engine import make_url

from api.settings import ApiProcessSettings
from tests.conftest import UserFactory
from tests.graph.conftest import graphql
from tests.support.app import running_app
from tests.support.tcp_proxy import tcp_proxy


async def test_a_database_outage_is_service_unavailable(
    settings: ApiProcessSettings,
    users: UserFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await users.create()
    database = make_url(settings.database.url)
    async with tcp_proxy(database.host or "127.0.0.1", database.port or 5432) as proxy:
        url = database.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        cut_off = settings.model_copy(
            update={"database": settings.database.model_copy(update={"url": url})}
        )
        async with running_app(cut_off) as (cut_client, _):
            await proxy.stop()  # connections refused from now on
            with caplog.at_level(logging.ERROR, logger="graph.errors"):
                result = await graphql(
                    cut_client,
                    "query($u: Int!) { orders(userId: $u) { id } }",
                    {"u": user.id},
                    headers=user.headers,
                )

    assert result.codes == ["SERVICE_UNAVAILABLE"]
    assert result.errors[0]["message"] == "The database is unavailable; try again shortly"
    assert result.errors[0]["extensions"]["retryAfter"] == 2  # as REST's Retry-After
    assert "Traceback" not in result.http.text
    assert "database unavailable" in caplog.text
