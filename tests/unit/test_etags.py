"""Reading the conditional headers of orders (api/etags.py)."""

from __future__ import annotations

import pytest

from api.etags import etag, expected_version, none_match


def test_the_etag_is_the_quoted_version() -> None:
    assert etag(7) == '"7"'


@pytest.mark.parametrize(
    ("header", "current"),
    [('"3"', True), ('W/"3"', True), ('"2", "3"', True), ("*", True), ('"2"', False), ("3", False)],
)
def test_if_none_match_matches_the_current_version_weakly(header: str, current: bool) -> None:
    assert none_match(header, 3) is current


def test_no_if_none_match_never_matches() -> None:
    assert none_match(None, 1) is False


@pytest.mark.parametrize(
    ("header", "version"),
    [(None, None), ("*", None), ('"4"', 4), (' "4" ', 4), ('W/"4"', 0), ('"4", "5"', 0), ("4", 0)],
)
def test_if_match_names_one_strong_version_or_never_matches(
    header: str | None, version: int | None
) -> None:
    assert expected_version(header) == version
