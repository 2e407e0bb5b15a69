"""One error vocabulary: every kind maps in both interfaces, and every domain error has a kind."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

import domain.orders.errors
import domain.users.errors
from api.errors import STATUS_BY_KIND
from domain.errors import DomainError, ErrorKind
from edge.errors import kind_of, validation_summary
from graph.errors import CODE_BY_KIND

DOMAIN_ERRORS = [
    value
    for module in (domain.orders.errors, domain.users.errors)
    for value in vars(module).values()
    if isinstance(value, type) and issubclass(value, DomainError) and value is not DomainError
]


def test_every_kind_has_an_http_status_and_a_graphql_code() -> None:
    assert set(STATUS_BY_KIND) == set(ErrorKind)
    assert set(CODE_BY_KIND) == set(ErrorKind)


@pytest.mark.parametrize("error", DOMAIN_ERRORS, ids=lambda error: error.__name__)
def test_every_domain_error_names_its_kind(error: type[DomainError]) -> None:
    assert isinstance(error.kind, ErrorKind)


def test_connection_failures_are_unavailable_and_anything_else_has_no_kind() -> None:
    assert kind_of(OperationalError("SELECT 1", {}, ConnectionRefusedError())) is (
        ErrorKind.UNAVAILABLE
    )
    assert kind_of(ConnectionRefusedError()) is ErrorKind.UNAVAILABLE
    assert kind_of(ValueError("a bug")) is None
    assert kind_of(KeyError("a bug")) is None


def test_the_validation_summary_names_every_problem_where_it_is() -> None:
    summary = validation_summary(
        "Invalid input", [(["items", 0, "price"], "too many decimals"), ([], "empty body")]
    )

    assert summary == "Invalid input: items.0.price: too many decimals; empty body"
