"""Logins: guessing from one address cannot lock the owner out; many addresses meet a ceiling, which
a client holding a device token from an earlier login passes; a burst of password checks is refused
at once rather than queued."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
import pytest

from tests.abuse.conftest import Api, StartApi, codes, post_graphql
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


# Device tokens (OWASP's "device cookies"): a client that logged in before passes the per-account
# ceiling others' guesses spend; its own failures count, and five revoke its token.

_GRAPHQL_LOGIN = (
    "mutation($email: String!, $password: String!, $deviceToken: String) "
    "{ token(email: $email, password: $password, deviceToken: $deviceToken) "
    "{ accessToken deviceToken } }"
)


@dataclass(frozen=True)
class Login:
    """A login's outcome on either interface: `ok`, `wrong` (401 / UNAUTHENTICATED) or `limited`
    (429 / RATE_LIMITED), and the tokens of a success."""

    outcome: str
    access_token: str | None = None
    device_token: str | None = None


async def _log_in(
    interface: str,
    client: httpx.AsyncClient,
    email: str,
    password: str,
    device_token: str | None = None,
) -> Login:
    if interface == "rest":
        form = {"username": email, "password": password}
        if device_token is not None:
            form["device_token"] = device_token
        response = await client.post("/token", data=form)
        outcomes = {200: "ok", 401: "wrong", 429: "limited"}
        assert response.status_code in outcomes, response.text
        if response.status_code != 200:
            return Login(outcomes[response.status_code])
        body = response.json()
        return Login("ok", body["access_token"], body["device_token"])
    variables = {"email": email, "password": password, "deviceToken": device_token}
    response = await post_graphql(client, _GRAPHQL_LOGIN, variables)
    errors = codes(response)
    if errors:
        by_code = {"UNAUTHENTICATED": "wrong", "RATE_LIMITED": "limited"}
        assert len(errors) == 1, response.text
        assert errors[0] in by_code, response.text
        return Login(by_code[errors[0]])
    token = response.json()["data"]["token"]
    return Login("ok", token["accessToken"], token["deviceToken"])


async def _guess_from(api: Api, interface: str, addresses: range, per_address: int) -> list[str]:
    """`per_address` wrong passwords for the victim from each of `addresses`, concurrently."""

    async def guesses(n: int) -> list[str]:
        async with api.client(f"203.0.113.{n}") as attacker:
            return [
                (await _log_in(interface, attacker, VICTIM, f"guess-{n}-{k}")).outcome
                for k in range(per_address)
            ]

    results = await asyncio.gather(*(guesses(n) for n in addresses))
    return [outcome for result in results for outcome in result]


VICTIM = "victim@example.com"
INTERFACES = pytest.mark.parametrize("interface", ["rest", "graphql"])
# Every attempt must be counted: a Redis call slower than the default 0.1 s (a loaded test machine)
# would let the limits fail open.
PATIENT_REDIS = {"REDIS_SOCKET_TIMEOUT_SECONDS": "5"}


@INTERFACES
async def test_a_hundred_guesses_from_twenty_addresses_do_not_lock_out_a_known_device(
    start_api: StartApi, interface: str
) -> None:
    # The default limits: RATE_LIMIT_LOGIN_PER_ACCOUNT_GLOBAL=100/hour.
    api = await start_api(**PATIENT_REDIS)
    async with api.client("198.51.100.7") as owner:
        await _register(owner, VICTIM)
        first = await _log_in(interface, owner, VICTIM, PASSWORD)
    assert first.device_token

    guesses = await _guess_from(api, interface, range(20), per_address=5)
    async with api.client("198.51.100.8") as owner:
        without = await _log_in(interface, owner, VICTIM, PASSWORD)
        with_device = await _log_in(interface, owner, VICTIM, PASSWORD, first.device_token)
        as_bearer = await post_graphql(
            owner, "{ me { id } }", headers={"Authorization": f"Bearer {first.device_token}"}
        )

    assert len(guesses) == 100
    assert guesses.count("wrong") == 99  # the owner's first login spent one unit of the ceiling
    assert guesses.count("limited") == 1
    assert without.outcome == "limited"
    assert with_device.outcome == "ok"
    assert with_device.access_token
    assert with_device.device_token
    # A device token opens no door but the login's.
    assert codes(as_bearer) == ["UNAUTHENTICATED"]


@INTERFACES
async def test_five_failures_with_a_device_token_revoke_it(
    start_api: StartApi, interface: str
) -> None:
    api = await start_api(RATE_LIMIT_LOGIN_PER_ACCOUNT_GLOBAL="10/hour", **PATIENT_REDIS)
    async with api.client("198.51.100.7") as owner:
        await _register(owner, VICTIM)
        stolen = (await _log_in(interface, owner, VICTIM, PASSWORD)).device_token
    guesses = await _guess_from(api, interface, range(5), per_address=2)
    assert guesses.count("limited") >= 1  # the ceiling is spent: only device tokens get through

    async with api.client("198.51.100.8") as owner:
        kept = (await _log_in(interface, owner, VICTIM, PASSWORD, stolen)).device_token
    async with api.client("203.0.113.200") as thief:
        failures = [
            (await _log_in(interface, thief, VICTIM, f"thief-{n}", stolen)).outcome
            for n in range(5)
        ]
    async with api.client("198.51.100.9") as owner:
        revoked = await _log_in(interface, owner, VICTIM, PASSWORD, stolen)
        other = await _log_in(interface, owner, VICTIM, PASSWORD, kept)

    assert kept
    assert failures == ["wrong"] * 5
    assert revoked.outcome == "limited"
    # The token the owner got meanwhile is its own, and still good.
    assert other.outcome == "ok"


@INTERFACES
async def test_another_accounts_device_token_counts_as_none(
    start_api: StartApi, interface: str
) -> None:
    api = await start_api(RATE_LIMIT_LOGIN_PER_ACCOUNT_GLOBAL="3/hour", **PATIENT_REDIS)
    async with api.client("198.51.100.7") as client:
        await _register(client, VICTIM)
        await _register(client, "attacker@example.com")
        foreign = (await _log_in(interface, client, "attacker@example.com", PASSWORD)).device_token
    guesses = await _guess_from(api, interface, range(3), per_address=1)
    async with api.client("198.51.100.8") as owner:
        with_foreign = await _log_in(interface, owner, VICTIM, PASSWORD, foreign)
        with_garbage = await _log_in(interface, owner, VICTIM, PASSWORD, "x" * 10_000)

    assert guesses == ["wrong"] * 3
    assert with_foreign.outcome == "limited"
    assert with_garbage.outcome == "limited"
