"""Reading who calls: the bearer token and the client address, the same for both interfaces."""

from __future__ import annotations

import pytest

from edge.auth import authorization_header, bearer_token, client_ip, rate_limit_identity


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc", "abc"),
        ("BEARER  abc ", "abc"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("", None),
        (None, None),
    ],
)
def test_only_a_bearer_value_with_a_token_yields_one(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_the_header_is_read_from_an_asgi_scope() -> None:
    scope = {"headers": [(b"accept", b"*/*"), (b"authorization", b"Bearer t")]}

    assert authorization_header(scope) == "Bearer t"
    assert authorization_header({"headers": []}) is None


def test_a_budget_belongs_to_the_user_else_to_the_address() -> None:
    assert rate_limit_identity(7, "10.0.0.1") == "user:7"
    assert rate_limit_identity(None, client_ip({"client": ("10.0.0.1", 5000)})) == "ip:10.0.0.1"
    assert client_ip({"client": None}) == "unknown"
