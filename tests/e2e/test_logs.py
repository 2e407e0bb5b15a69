"""With LOG_FORMAT=json (as in the containers) every line a process writes is one JSON object:
uvicorn's startup and access lines and the migrations' lines included, with the correlation id."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx

from tests.support.processes import ROOT, Processes


async def test_every_line_of_the_api_is_json_uvicorns_own_lines_included(
    processes: Processes,
) -> None:
    api, url = processes.api(LOG_FORMAT="json")
    await processes.ready(api)
    async with httpx.AsyncClient() as client:
        await client.get(f"{url}/health/live", headers={"X-Request-ID": "log-check-1"})
    await api.wait_for(r"GET /health/live", within=5)
    await api.stop()

    records = [json.loads(line) for line in api.lines]  # any other line fails here
    startup = [record["message"] for record in records if record["logger"] == "uvicorn.error"]
    assert any(message.startswith("Started server process") for message in startup)
    assert "Application startup complete." in startup
    access = [record for record in records if record["logger"] == "uvicorn.access"]
    assert '"GET /health/live HTTP/1.1" 200' in access[0]["message"]
    assert access[0]["correlation_id"] == "log-check-1"


def test_every_line_of_the_migrations_is_json(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        check=True,
    )

    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert {record["logger"] for record in records} >= {"alembic.runtime.migration"}
