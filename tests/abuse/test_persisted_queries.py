"""The persisted-query store: only documents that parse, validate and fit the limits are stored, at
most GRAPHQL_PERSISTED_MAX_DOCUMENTS of them (the least recently used go first), and each
registration spends a unit of the caller's rate limit."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from redis.asyncio import Redis

from tests.abuse.conftest import Api, StartApi, codes


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


async def register(client: httpx.AsyncClient, query: str) -> httpx.Response:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
    return await client.post("/graphql", json={"query": query, "extensions": extensions})


async def by_hash(client: httpx.AsyncClient, query: str) -> httpx.Response:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
    return await client.get("/graphql", params={"extensions": json.dumps(extensions)})


async def stored_keys(redis: Redis, api: Api) -> list[Any]:
    return [key async for key in redis.scan_iter(f"{api.key_prefix}graphql:persisted:*")]


async def test_unparsable_invalid_and_too_costly_documents_are_not_stored(
    start_api: StartApi, redis_client: Redis
) -> None:
    api = await start_api(RATE_LIMIT_DEFAULT="1000/minute")
    unparsable = [f"{n} " + "{" * 16_000 for n in range(40)]
    invalid = "{ noSuchField }"
    too_costly = (
        "{ "
        + " ".join(
            f"a{n}: orders(userId: 1, limit: 100) {{ id items {{ price }} }}" for n in range(3)
        )
        + " }"
    )
    async with api.client() as client:
        answers = [await register(client, query) for query in unparsable]
        invalid_answer = await register(client, invalid)
        costly_answer = await register(client, too_costly)
        fetched = [await by_hash(client, query) for query in [unparsable[0], invalid, too_costly]]

    assert {tuple(codes(answer)) for answer in answers} == {("GRAPHQL_PARSE_FAILED",)}
    assert codes(invalid_answer) == ["GRAPHQL_VALIDATION_FAILED"]
    assert codes(costly_answer) == ["QUERY_TOO_COMPLEX"]
    assert [codes(answer) for answer in fetched] == [["PERSISTED_QUERY_NOT_FOUND"]] * 3
    assert await stored_keys(redis_client, api) == []


async def test_a_valid_document_is_stored_and_its_registration_spends_a_unit(
    start_api: StartApi, redis_client: Redis
) -> None:
    api = await start_api(RATE_LIMIT_DEFAULT="100/minute")
    query = "query Typename { __typename }"
    async with api.client() as client:
        plain = await client.post("/graphql", json={"query": query})
        registered = await register(client, query)
        again = await by_hash(client, query)

    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in (plain, registered, again)]
    assert registered.json()["data"] == {"__typename": "Query"}
    assert again.json()["data"] == {"__typename": "Query"}
    # 99 after the plain request; the registration spent 2 (the request and the registration).
    assert remaining == [99, 97, 96]
    assert len(await stored_keys(redis_client, api)) == 2  # the document and the index


async def test_the_store_keeps_the_most_recently_used_documents_within_its_bound(
    start_api: StartApi, redis_client: Redis
) -> None:
    api = await start_api(GRAPHQL_PERSISTED_MAX_DOCUMENTS="3", RATE_LIMIT_DEFAULT="1000/minute")
    queries = [f"query Q{n} {{ __typename }}" for n in range(5)]
    async with api.client() as client:
        for query in queries[:3]:
            assert "errors" not in (await register(client, query)).json()
        # Q0 is used again: answered from this process's store, which now drops Q1 first. (Redis
        # hears of uses only when a process asks it, so there Q0 is still the oldest.)
        assert "errors" not in (await by_hash(client, queries[0])).json()
        for query in queries[3:]:
            assert "errors" not in (await register(client, query)).json()
        index = f"{api.key_prefix}graphql:persisted:index"
        members = await redis_client.zrange(index, 0, -1)
        in_redis = {member.decode() for member in members if isinstance(member, bytes)}
        keys = await stored_keys(redis_client, api)
        answers = {query: codes(await by_hash(client, query)) for query in queries}

    assert in_redis == {sha256(queries[n]) for n in (2, 3, 4)}
    assert len(keys) == 3 + 1  # the documents and the index
    assert answers == {
        queries[0]: [],  # this process's store
        queries[1]: ["PERSISTED_QUERY_NOT_FOUND"],  # gone from both
        queries[2]: [],  # from Redis
        queries[3]: [],
        queries[4]: [],
    }
