"""Property-based parity: for generated `order(id:)` documents, the app with the GraphQL fast path
(graph/fastpath.py) answers byte for byte what Strawberry alone answers.

Generated: selections of the order's own fields and of its items' (in any order, with `__typename`),
aliases (colliding ones included), fragments and inline fragments, `@include`/`@skip` with literals
and variables, the id as a variable or a literal, named and unnamed operations; asked for one's own
order, someone else's, an unknown id and a malformed one; with rate limits off, with the caller's
budget spent, and with Redis down. The fast path answers what it can and hands the rest to
Strawberry; either way the answer must be Strawberry's.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from api.settings import ApiProcessSettings
from graph.fastpath import GraphQLFastPath
from infra.settings import RateLimitSettings, RedisSettings
from tests.conftest import ApiUser, UserFactory, order_body
from tests.support.app import running_app

T = TypeVar("T")

ORDER_FIELDS = ["id", "userId", "status", "totalPrice", "createdAt", "updatedAt", "version"]
ITEM_FIELDS = ["productId", "name", "quantity", "price"]
ALIASES = ["a", "b", "order", "id", "status", "price"]
# Headers that differ between two answers given a few milliseconds apart.
_VOLATILE = {"date", "x-request-id", "retry-after", "x-ratelimit-reset"}

_COUNTDOWN = re.compile(rb'(retry in |"retryAfter":)[0-9]+')

STATES = ("normal", "budget spent", "redis down")
TARGETS = ("own order", "someone else's", "unknown id", "malformed id")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the fast path answered each request it looked at (True) or passed it on (False)."""
    answered: list[bool] = []
    serve = GraphQLFastPath._serve

    async def spy(self: GraphQLFastPath, *args: Any) -> bool:
        answered.append(await serve(self, *args))
        return answered[-1]

    monkeypatch.setattr(GraphQLFastPath, "_serve", spy)
    return answered


@dataclass(frozen=True)
class Case:
    state: str
    target: str
    document: str
    variables: dict[str, Any]


@st.composite
def _selection(draw: st.DrawFn, fields: list[str], *, items: bool) -> tuple[str, bool]:
    """Some of `fields` (and `items { ... }`), each maybe aliased or under a directive; whether
    `$flag` is used."""
    names = draw(
        st.lists(
            st.sampled_from([*fields, "__typename", *(["items"] if items else [])]),
            min_size=1,
            max_size=len(fields) + 2,
            unique=True,
        )
    )
    parts: list[str] = []
    uses_flag = False
    for name in names:
        alias = draw(st.none() | st.sampled_from(ALIASES))
        directive = draw(
            st.sampled_from(
                ["", "", "", " @include(if: $flag)", " @skip(if: $flag)", " @include(if: true)"]
            )
        )
        uses_flag = uses_flag or "$flag" in directive
        text = f"{alias}: {name}" if alias else name
        if name == "items":
            inner, inner_flag = draw(_selection(ITEM_FIELDS, items=False))
            uses_flag = uses_flag or inner_flag
            text += f" {{ {inner} }}"
        parts.append(text + directive)
    return " ".join(parts), uses_flag


@st.composite
def cases(draw: st.DrawFn, ids: dict[str, str]) -> Case:
    target = draw(st.sampled_from(TARGETS))
    selection, uses_flag = draw(_selection(ORDER_FIELDS, items=True))
    wrapping = draw(st.sampled_from(["plain", "plain", "fragment", "inline fragment"]))
    fragment = ""
    if wrapping == "fragment":
        fragment = f" fragment Fields on Order {{ {selection} }}"
        selection = "...Fields"
    elif wrapping == "inline fragment":
        selection = f"... on Order {{ {selection} }}"
    as_variable = draw(st.booleans())
    declared = ["$id: UUID!"] if as_variable else []
    if uses_flag:
        declared.append("$flag: Boolean!")
    variables: dict[str, Any] = {"id": ids[target]} if as_variable else {}
    if uses_flag:
        variables["flag"] = draw(st.booleans())
    argument = "$id" if as_variable else f'"{ids[target]}"'
    root_alias = draw(st.sampled_from(["", "", "mine: "]))
    name = draw(st.sampled_from(["", "OrderPage"]))
    header = f"query {name}({', '.join(declared)})" if declared else f"query {name}"
    document = f"{header} {{ {root_alias}order(id: {argument}) {{ {selection} }} }}{fragment}"
    return Case(draw(st.sampled_from(STATES)), target, document, variables)


async def test_the_fast_path_answers_as_strawberry_for_generated_documents(
    settings: ApiProcessSettings,
    client: httpx.AsyncClient,
    users: UserFactory,
    served: list[bool],
) -> None:
    alice, bob = await users.create(), await users.create()
    created = await client.post("/orders/", json=order_body(("5.50", 2)), headers=alice.headers)
    ids = {
        "own order": created.json()["id"],
        "someone else's": created.json()["id"],
        "unknown id": str(uuid.uuid4()),
        "malformed id": "not-a-uuid",
    }
    callers: dict[str, ApiUser] = dict.fromkeys(TARGETS, alice)
    callers["someone else's"] = bob
    # A Redis call that times out fails open (the request is allowed): on a loaded machine that
    # would decide which answer a request gets, so the bound is generous here.
    patient = settings.model_copy(
        update={"redis": settings.redis.model_copy(update={"socket_timeout_seconds": 10.0})}
    )
    limited = patient.model_copy(
        update={"rate_limit": RateLimitSettings(enabled=True, default="2/day", auth="100/minute")}
    )
    down = settings.model_copy(update={"redis": RedisSettings(url="redis://127.0.0.1:1/0")})
    state_settings = {"normal": patient, "budget spent": limited, "redis down": down}
    async with AsyncExitStack() as stack:
        apps: dict[str, tuple[httpx.AsyncClient, httpx.AsyncClient]] = {}
        for state, chosen in state_settings.items():
            fast, _ = await stack.enter_async_context(running_app(chosen))
            plain, _ = await stack.enter_async_context(running_app(chosen, without=GraphQLFastPath))
            apps[state] = (fast, plain)
        for user in (alice, bob):  # spend both budgets: from now on every request is refused
            for _ in range(3):
                await apps["budget spent"][1].get("/users/me/", headers=user.headers)
        loop = asyncio.get_running_loop()

        def run(call: Awaitable[T]) -> T:
            return asyncio.run_coroutine_threadsafe(call, loop).result(timeout=60)  # type: ignore[arg-type]

        @settings_for_parity
        @given(case=cases(ids))
        def answers_match(case: Case) -> None:
            fast_client, plain_client = apps[case.state]
            body = {"query": case.document, "variables": case.variables}
            headers = callers[case.target].headers
            fast = run(fast_client.post("/graphql", json=body, headers=headers))
            plain = run(plain_client.post("/graphql", json=body, headers=headers))
            assert fast.status_code == plain.status_code, case
            assert _stable_body(fast.content) == _stable_body(plain.content), (
                case,
                fast.content,
                plain.content,
            )
            assert _stable(fast.headers) == _stable(plain.headers), case
            assert set(fast.headers) == set(plain.headers), case

        await asyncio.to_thread(answers_match)

    # Both sides of the fast path were exercised: answered below Strawberry, and handed on.
    assert served.count(True) >= 20
    assert served.count(False) >= 20


settings_for_parity = hypothesis_settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _stable_body(body: bytes) -> bytes:
    """The body, byte for byte, but for the seconds a refusal counts down (`retry in 41s`,
    `"retryAfter":41`): two requests a few milliseconds apart may straddle a second."""
    return _COUNTDOWN.sub(rb"\1?", body)


def _stable(headers: httpx.Headers) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key not in _VOLATILE}
