"""The documentation holds together: the architecture picture is drawn from its source as committed,
the README stays short, and every relative link in the docs leads to a file that exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_architecture_picture_is_drawn_from_its_source() -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed: run scripts/ensure-tools.sh")
    drawn = subprocess.run(
        ["dot", "-Tsvg", str(ROOT / "docs/architecture.dot")],
        check=True,
        capture_output=True,
    ).stdout

    assert drawn == (ROOT / "docs/architecture.svg").read_bytes(), "run `make docs` and commit"


def test_the_readme_is_at_most_300_lines() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_lead_to_files(page: Path) -> None:
    targets = [
        target
        for target in _LINK.findall(page.read_text())
        if not target.startswith(("http://", "https://", "mailto:"))
    ]

    missing = [target for target in targets if not (page.parent / target).exists()]

    assert missing == []
