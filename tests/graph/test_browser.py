"""The playground in a real browser: headless Chromium loads /graphql from a real API process, renders
GraphiQL from the app's own files, and runs an authenticated query, with no network beyond loopback.

Chromium and chromedriver are Debian packages (`chromium`, `chromium-driver`); scripts/ensure-tools.sh
installs them and .ci/run calls it. Without them the test is skipped, unless REQUIRE_CHROMIUM=1 (as
.ci/run sets it), where their absence is a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from tests.support.live import new_order, new_user, set_status, wait_for_leases
from tests.support.pipeline import BASE_REDIS_URL

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
DEADLINE_SECONDS = 30
ME = "query Me { me { id email } }"
WATCH_MY_ORDERS = "subscription Watch { myOrderEvents { orderId seq kind status } }"

# GraphiQL 3 keeps each editor's CodeMirror 5 instance on its element.
_SET_HEADERS = """
const editors = [...document.querySelectorAll(
  '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')];
if (editors.length !== 1) { throw new Error('expected one visible headers editor, got ' + editors.length); }
editors[0].CodeMirror.setValue(arguments[0]);
"""
_RESPONSE = """
const viewer = document.querySelector('.graphiql-response .CodeMirror');
return viewer ? viewer.CodeMirror.getValue() : '';
"""


@pytest.fixture(scope="module", autouse=True)
def _chromium_installed() -> None:
    if CHROMIUM and CHROMEDRIVER:
        return
    reason = "chromium and chromedriver are not installed: run scripts/ensure-tools.sh"
    if os.environ.get("REQUIRE_CHROMIUM") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class PlaygroundRun:
    response: dict[str, Any]
    requested_urls: list[str]
    console_errors: list[str]


def _chromium(profile: Path) -> webdriver.Chrome:
    assert CHROMIUM is not None
    assert CHROMEDRIVER is not None
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
        # Any host but the loopback address fails to resolve: nothing can reach a CDN.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(argument)
    # The performance log lists every request the page made; the browser log its console.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


def _log(driver: webdriver.Chrome, kind: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = driver.get_log(kind)  # type: ignore[no-untyped-call]  # selenium's own
    return entries


def _requested_urls(driver: webdriver.Chrome) -> list[str]:
    urls = []
    for entry in _log(driver, "performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _run_in_playground(driver: webdriver.Chrome, base_url: str, query: str, headers: str) -> None:
    """Open the playground on `query`, type `headers` into its Headers tab, and run it."""
    driver.get(f"{base_url}/graphql?q={quote(query)}")
    wait = WebDriverWait(driver, DEADLINE_SECONDS, poll_frequency=0.1)
    run = wait.until(
        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, ".graphiql-execute-button"))
    )
    headers_tab = wait.until(
        expected_conditions.element_to_be_clickable(
            (By.XPATH, "//button[normalize-space()='Headers']")
        )
    )
    headers_tab.click()
    driver.execute_script(_SET_HEADERS, headers)
    run.click()


def _answer(driver: webdriver.Chrome, shows: str = "") -> str:
    """The response pane's text, once it is not empty (and contains `shows`)."""
    wait = WebDriverWait(driver, DEADLINE_SECONDS, poll_frequency=0.1)
    text: str = wait.until(
        lambda d: (answer := d.execute_script(_RESPONSE).strip()) and shows in answer and answer
    )
    return text


def run_query_in_playground(
    base_url: str, query: str, headers: str, profile: Path
) -> PlaygroundRun:
    """Open the playground on `query`, type `headers` into its Headers tab, run it, read the answer."""
    driver = _chromium(profile)
    try:
        _run_in_playground(driver, base_url, query, headers)
        answer = _answer(driver)
        console_errors = [
            entry["message"] for entry in _log(driver, "browser") if entry["level"] == "SEVERE"
        ]
        return PlaygroundRun(
            response=json.loads(answer),
            requested_urls=_requested_urls(driver),
            console_errors=console_errors,
        )
    finally:
        driver.quit()


async def test_the_playground_runs_an_authenticated_query_offline(
    live_server: str, tmp_path: Path
) -> None:
    email = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    async with httpx.AsyncClient(base_url=live_server) as client:
        await client.post("/register/", json={"email": email, "password": "s3cret-password"})
        token = await client.post("/token", data={"username": email, "password": "s3cret-password"})
    headers = json.dumps({"Authorization": f"Bearer {token.json()['access_token']}"})

    run = await asyncio.to_thread(run_query_in_playground, live_server, ME, headers, tmp_path)

    assert run.response["data"]["me"]["email"] == email
    assert run.console_errors == []
    assert (
        f"{live_server}/graphql/static/vendor/graphiql-3.8.3/graphiql.min.js" in run.requested_urls
    )
    # The browser's own pages (chrome://) and inline data: URLs never touch the network.
    network = [url for url in run.requested_urls if url.startswith(("http", "ws", "ftp"))]
    assert [url for url in network if not url.startswith(f"{live_server}/")] == []


async def test_the_playground_shows_a_subscriptions_events_as_the_order_changes(
    live_server: str, tmp_path: Path, redis_prefix: str
) -> None:
    async with httpx.AsyncClient(base_url=live_server) as client:
        user = await new_user(client)
        order_id = await new_order(client, user)
        headers = json.dumps(user.headers)
        driver = await asyncio.to_thread(_chromium, tmp_path)
        try:
            await asyncio.to_thread(
                _run_in_playground, driver, live_server, WATCH_MY_ORDERS, headers
            )
            # Subscribed (over the page's own WebSocket) once the server holds its lease.
            await wait_for_leases(BASE_REDIS_URL, redis_prefix, user.id, 1)
            await set_status(client, user, order_id, "PAID")
            answer = await asyncio.to_thread(_answer, driver, "STATUS_CHANGED")
            console_errors = [
                e["message"] for e in _log(driver, "browser") if e["level"] == "SEVERE"
            ]
            requested = _requested_urls(driver)
        finally:
            await asyncio.to_thread(driver.quit)

    event = json.loads(answer)["data"]["myOrderEvents"]
    assert event == {"orderId": order_id, "seq": 2, "kind": "STATUS_CHANGED", "status": "PAID"}
    assert console_errors == []
    # The page's own copy of the WebSocket client; the event itself came over its WebSocket.
    assert f"{live_server}/graphql/static/vendor/graphql-ws-6.4.2/graphql-ws.min.js" in requested
