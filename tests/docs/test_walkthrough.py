"""docs/api.md's walkthrough cannot go stale: its `sh` blocks run, in order, as one bash script
against a real API process, and what they print is what the page says they print."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.processes import Processes

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def walkthrough() -> str:
    """The walkthrough sections of docs/api.md: everything before its error contract."""
    text = DOCS.read_text()
    end = text.find("\n## Errors")
    assert end > 0, "docs/api.md lost its heading '## Errors'"
    return text[:end]


def walkthrough_script() -> str:
    """Every ```sh block of the walkthrough, in order."""
    blocks = re.findall(r"^```sh\n(.*?)^```", walkthrough(), flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 8, "docs/api.md lost its walkthrough"
    return "set -euo pipefail\n" + "\n".join(blocks)


def _json_answers(output: str) -> list[dict[str, object]]:
    """Every JSON object the script printed (curl prints an answer with no newline after it), the
    items of arrays one by one."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (
        start := min(
            (i for i in (output.find("{", at), output.find("[", at)) if i >= 0), default=-1
        )
    ) >= 0:
        try:
            parsed, at = decoder.raw_decode(output, start)
        except json.JSONDecodeError:
            at = start + 1
            continue
        found.extend(parsed if isinstance(parsed, list) else [parsed])
    return [item for item in found if isinstance(item, dict)]


@pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("jq") is None,
    reason="curl and jq are needed (scripts/ensure-tools.sh installs jq)",
)
async def test_the_walkthrough_runs_against_a_real_server(
    processes: Processes, clean_db: AsyncEngine
) -> None:
    api, base_url = processes.api(OUTBOX_RELAY_ENABLED="false")
    await processes.ready(api)

    shell = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        walkthrough_script(),
        env={**os.environ, "BASE": base_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(shell.communicate(), timeout=120)
    output = stdout.decode()

    assert shell.returncode == 0, f"{output}\n{stderr.decode()}\n{api.output()}"
    answers = _json_answers(output)
    created = next(a for a in answers if a.get("status") == "PENDING" and "items" in a)
    paid = next(a for a in answers if a.get("status") == "PAID" and "items" in a)
    assert paid["id"] == created["id"]
    assert 'ETag: "1"' in output
    assert "\n304\n" in f"\n{output}"
    assert [a["kind"] for a in answers if "seq" in a][:2] == ["CREATED", "STATUS_CHANGED"]
    [problem] = [a for a in answers if "code" in a]
    assert (problem["status"], problem["code"], problem["reason"]) == (
        412,
        "PRECONDITION_FAILED",
        "VERSION_MISMATCH",
    )
    [graphql] = [a for a in answers if "data" in a]
    assert graphql["data"] == {"order": {"id": created["id"], "status": "PAID", "version": 2}}
