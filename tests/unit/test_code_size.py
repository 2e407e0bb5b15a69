"""Small rooms: no production module over 300 lines, no function over 60 (docs/architecture.md).

A module past the bound is split by idea, not by line count; a function past it names its steps.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Every package that runs in production (tests, benchmarks, tools and migrations are not).
PRODUCTION = (
    "admin",
    "api",
    "consumer",
    "dispatcher",
    "domain",
    "edge",
    "graph",
    "infra",
    "observability",
    "relay",
    "worker",
)
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60

MODULES = sorted(path for package in PRODUCTION for path in (ROOT / package).rglob("*.py"))


def test_every_production_package_is_measured() -> None:
    assert len(MODULES) > 100, MODULES  # a renamed package would silently escape the bound


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_module_and_its_functions_stay_small(path: Path) -> None:
    source = path.read_text()
    lines = len(source.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{lines} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, long
