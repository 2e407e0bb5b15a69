"""Logins: guessing from one address cannot lock the owner out; many addresses meet a ceiling;
a burst of password checks is refused at once rather than queued."""

from __future__ import annotations

import asyncio

import httpx

from tests.abuse.conftest import StartApi
from tests.support.problems import problem

PASSWORD = "the-owners-password"


async def _register(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post("/register/", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/token", data={"username": email, "password": password})


async def test_fifty_failures_from_one_address_do_not_lock_the_owner_out(
    start_api: StartApi,
) -> None:
    api = await start_api()  # the default limits
    async with api.client("203.0.113.66") as attacker, api.client("198.51.100.7") as owner:
        await _register(owner, "victim@example.com")
        guesses = [
            (await _login(attacker, "victim@example.com", f"guess-{n}")).status_code
            for n in range(50)
        ]
        right = await _login(owner, "victim@example.com", PASSWORD)

    # RATE_LIMIT_LOGIN_PER_ACCOUNT (5/minute) for this account from this address; the rest 429.
    assert guesses[:5] == [401] * 5
    assert set(guesses[5:]) == {429}
    assert right.status_code == 200
    assert right.json()["access_token"]


async def test_guesses_from_many_addresses_meet_the_per_account_ceiling(
    start_api: StartApi,
) -> None:
    api = await start_api(RATE_LIMIT_LOGIN_PER_ACCOUNT_GLOBAL="10/hour")
    async with api.client("198.51.100.7") as owner:
        await _register(owner, "victim@example.com")
    statuses = []
    for n in range(12):
        async with api.client(f"203.0.113.{n}") as attacker:
            statuses.append((await _login(attacker, "victim@example.com", "guess")).status_code)
    async with api.client("198.51.100.7") as owner:
        right = await _login(owner, "victim@example.com", PASSWORD)

    assert statuses == [401] * 10 + [429] * 2
    # The documented trade-off: once the ceiling is spent, the owner waits for the window too.
    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) > 60


async def test_a_burst_of_password_checks_past_the_queue_is_refused_at_once(
    start_api: StartApi,
) -> None:
    api = await start_api(PASSWORD_HASHING_MAX_WAITING="2", RATE_LIMIT_AUTH="1000/minute")
    async with api.client("198.51.100.7") as owner:
        await _register(owner, "busy@example.com")

    async def attempt(n: int) -> httpx.Response:
        async with api.client(f"203.0.113.{n}") as client:
            return await _login(client, "busy@example.com", PASSWORD)

    answers = await asyncio.gather(*(attempt(n) for n in range(40)))

    statuses = [answer.status_code for answer in answers]
    refused = [answer for answer in answers if answer.status_code == 503]
    assert set(statuses) <= {200, 503}
    assert statuses.count(200) >= 3  # the one running and the two waiting
    assert refused
    for answer in refused:
        assert answer.headers["Retry-After"] == "2"
        body = problem(answer, 503, "SERVICE_UNAVAILABLE", "LOGIN_QUEUE_FULL")
        assert body["detail"] == "Too many logins are being checked; try again shortly"
        assert body["retry_after"] == 2
    assert api.process.count("Traceback") == 0
