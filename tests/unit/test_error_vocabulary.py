"""One error vocabulary: every kind, code and reason is in the one list (edge/errors.py), and both
interfaces answer each of them; every domain error has a kind."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path

import pytest
from graphql import GraphQLError
from sqlalchemy.exc import OperationalError

import domain
import graph
from api.errors import known_error_response
from api.problem_details import (
    FRAMEWORK_STATUS_BY_REASON,
    OAUTH2_ERROR_BY_REASON,
    STATUS_BY_CODE,
    STATUS_BY_KIND,
    STATUS_BY_REASON,
)
from api.routes.problems import _PAGES
from domain.errors import DomainError, ErrorKind
from domain.ratelimit.limiter import RateLimitVerdict
from edge.errors import (
    DATABASE_UNAVAILABLE,
    ERROR_TYPE_BY_CODE,
    ERROR_TYPES,
    ErrorCode,
    kind_of,
    reason_of,
    validation_summary,
)
from graph.errors import CODE_BY_KIND, shape_error


def _subclasses(cls: type[DomainError]) -> list[type[DomainError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _import_all(package: object) -> None:
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):  # type: ignore[attr-defined]
        importlib.import_module(module.name)


# Every module that may define an error, imported, so that every subclass is found.
_import_all(domain)
_import_all(graph)
DOMAIN_ERRORS = sorted(_subclasses(DomainError), key=lambda error: error.__name__)
REASONS = {reason for error_type in ERROR_TYPES for reason in error_type.reasons}


def test_the_list_has_every_code_once_and_every_kind() -> None:
    assert [error_type.code for error_type in ERROR_TYPES] == list(ErrorCode)
    assert {error_type.kind for error_type in ERROR_TYPES} - {None} == set(ErrorKind)


def test_every_kind_has_an_http_status_and_a_graphql_code() -> None:
    assert set(STATUS_BY_KIND) == set(ErrorKind)
    assert set(CODE_BY_KIND) == set(ErrorKind)


def test_every_code_has_an_http_status_and_a_page() -> None:
    assert set(STATUS_BY_CODE) == set(ErrorCode)
    assert set(_PAGES) == {code.lower().replace("_", "-") for code in ErrorCode}


def test_both_interfaces_answer_a_kind_with_the_same_code() -> None:
    for kind, code in CODE_BY_KIND.items():
        error_type = ERROR_TYPE_BY_CODE[ErrorCode(code)]
        assert error_type.kind is kind
        assert STATUS_BY_KIND[kind] == STATUS_BY_CODE[error_type.code]


def test_every_reason_is_in_upper_case_and_once_in_the_list() -> None:
    listed = [reason for error_type in ERROR_TYPES for reason in error_type.reasons]
    assert len(listed) == len(set(listed))
    assert all(reason.isupper() and " " not in reason for reason in listed)


def test_the_reasons_with_statuses_of_their_own_are_listed() -> None:
    assert set(FRAMEWORK_STATUS_BY_REASON) <= set(ERROR_TYPE_BY_CODE[ErrorCode.BAD_REQUEST].reasons)
    assert set(STATUS_BY_REASON) <= REASONS
    assert set(OAUTH2_ERROR_BY_REASON) <= REASONS


@pytest.mark.parametrize("error", DOMAIN_ERRORS, ids=lambda error: error.__name__)
def test_every_domain_error_names_its_kind_and_a_listed_reason_of_it(
    error: type[DomainError],
) -> None:
    assert isinstance(error.kind, ErrorKind)
    if error.reason is not None:
        assert error.reason in ERROR_TYPE_BY_CODE[ErrorCode(CODE_BY_KIND[error.kind])].reasons


def test_the_token_errors_reasons_are_listed() -> None:
    from domain.users.errors import INVALID_TOKEN, NOT_AUTHENTICATED, TOKEN_EXPIRED, InvalidToken

    for reason in (NOT_AUTHENTICATED, INVALID_TOKEN, TOKEN_EXPIRED):
        assert reason_of(InvalidToken("x", reason=reason)) == reason
        assert reason in ERROR_TYPE_BY_CODE[ErrorCode.UNAUTHENTICATED].reasons


def test_connection_failures_are_unavailable_and_anything_else_has_no_kind() -> None:
    refused = OperationalError("SELECT 1", {}, ConnectionRefusedError())
    assert kind_of(refused) is ErrorKind.UNAVAILABLE
    assert reason_of(refused) == DATABASE_UNAVAILABLE
    assert kind_of(ConnectionRefusedError()) is ErrorKind.UNAVAILABLE
    assert kind_of(ValueError("a bug")) is None
    assert kind_of(KeyError("a bug")) is None


def test_the_validation_summary_names_every_problem_where_it_is() -> None:
    summary = validation_summary(
        "Invalid input", [(["items", 0, "price"], "too many decimals"), ([], "empty body")]
    )

    assert summary == "Invalid input: items.0.price: too many decimals; empty body"


def _instance(error: type[DomainError]) -> DomainError:
    """An instance of `error`, its constructor's arguments made up from their names."""
    made_up: dict[str, object] = {
        "verdict": RateLimitVerdict(allowed=False, limit=5, remaining=0, retry_after=7),
        "scopes": ["orders:manage"],
    }
    if error.__init__ is Exception.__init__:
        return error("x")
    arguments = {}
    for name, parameter in inspect.signature(error).parameters.items():
        if parameter.default is not inspect.Parameter.empty or parameter.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            continue
        annotation = str(parameter.annotation)
        arguments[name] = made_up.get(name, 3 if "int" in annotation else "x")
    return error(**arguments)


@pytest.mark.parametrize("error", DOMAIN_ERRORS, ids=lambda error: error.__name__)
def test_both_interfaces_answer_an_error_with_the_same_code_and_reason(
    error: type[DomainError],
) -> None:
    exc = _instance(error)

    rest = known_error_response(exc, {"path": "/somewhere", "type": "http"})
    graphql = shape_error(GraphQLError(str(exc), original_error=exc)).extensions or {}

    assert rest is not None
    body = json.loads(bytes(rest.body))
    assert body["code"] == graphql["code"]
    assert body.get("reason") == graphql.get("reason") == exc.reason
    assert rest.status_code == STATUS_BY_REASON.get(exc.reason or "", STATUS_BY_KIND[exc.kind])


def test_the_documented_error_table_names_every_code_and_reason() -> None:
    table = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()

    for error_type in ERROR_TYPES:
        assert f"| `{error_type.code.value}` |" in table
        assert all(f"`{reason}`" in table for reason in error_type.reasons), error_type.code
