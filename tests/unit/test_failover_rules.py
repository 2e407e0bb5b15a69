"""The pure rules of a clustered deployment: which database errors mean "the primary is away", how
the node lists are read, and the multi-host URL asyncpg and libpq are given."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from domain.errors import ErrorKind
from edge.errors import kind_of
from infra.amqp import NodeRing
from infra.db import asyncpg_dsn
from infra.settings import DatabaseSettings, RabbitMQSettings, RedisSettings


class _ServerError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _driver_error(sqlstate: str) -> DBAPIError:
    return DBAPIError("INSERT ...", {}, _ServerError(sqlstate))


@pytest.mark.parametrize(
    "sqlstate",
    [
        "57P01",  # terminating connection due to administrator command (a primary shutting down)
        "57P02",  # crash shutdown
        "57P03",  # the database system is starting up / in recovery
        "25006",  # cannot execute INSERT in a read-only transaction (a standby, a demoted primary)
        "08006",  # connection failure
        "53300",  # too many connections
    ],
)
def test_what_a_failover_says_is_unavailable(sqlstate: str) -> None:
    assert kind_of(_driver_error(sqlstate)) is ErrorKind.UNAVAILABLE


@pytest.mark.parametrize("sqlstate", ["42P01", "22001", "XX000"])
def test_other_driver_errors_stay_bugs(sqlstate: str) -> None:
    assert kind_of(_driver_error(sqlstate)) is None


def test_an_invalidated_connection_is_unavailable() -> None:
    error = DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
    assert kind_of(error) is ErrorKind.UNAVAILABLE


def test_rabbitmq_urls_replace_the_single_url_in_order() -> None:
    single = RabbitMQSettings(url="amqp://u:p@mq:5672/")
    assert single.node_urls() == ["amqp://u:p@mq:5672/"]
    cluster = RabbitMQSettings.model_validate(
        {"url": "amqp://u:p@mq:5672/", "urls": " amqp://u:p@mq1:5672/, amqp://u:p@mq2:5672/ ,"}
    )
    assert cluster.node_urls() == ["amqp://u:p@mq1:5672/", "amqp://u:p@mq2:5672/"]


def test_the_node_ring_goes_round() -> None:
    ring = NodeRing(["a", "b", "c"])
    assert [ring.current, ring.advance(), ring.advance(), ring.advance()] == ["a", "b", "c", "a"]
    assert ring.at_start


def test_sentinels_are_host_and_port() -> None:
    redis = RedisSettings.model_validate({"sentinels": "s1:26379, [::1]:26380"})
    assert redis.sentinel_addresses() == [("s1", 26379), ("::1", 26380)]
    with pytest.raises(ValidationError, match="not host:port"):
        RedisSettings.model_validate({"sentinels": "s1"})


def test_a_multi_host_url_becomes_a_libpq_host_list() -> None:
    database = DatabaseSettings(
        url="postgresql+asyncpg://orders:p%40ss@/orders"
        "?host=pg1:5432&host=pg2:5433&target_session_attrs=read-write"
    )
    assert asyncpg_dsn(database) == (
        "postgresql://orders:p%40ss@pg1:5432,pg2:5433/orders?target_session_attrs=read-write"
    )
    single = DatabaseSettings(url="postgresql+asyncpg://postgres@127.0.0.1:5432/orders")
    assert asyncpg_dsn(single) == "postgresql://postgres@127.0.0.1:5432/orders"
