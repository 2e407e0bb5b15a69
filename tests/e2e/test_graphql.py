"""An order created through GraphQL takes the same pipeline as one created over REST: its new_order event
is written with it, relayed to RabbitMQ, consumed, and processed by the worker."""

from __future__ import annotations

import uuid

import httpx

from tests.support.processes import Processes

REGISTER = "mutation($e: String!, $p: String!) { register(email: $e, password: $p) { id } }"
TOKEN = "mutation($e: String!, $p: String!) { token(email: $e, password: $p) { accessToken } }"
CREATE_ORDER = """
mutation($input: CreateOrderInput!) { createOrder(input: $input) { id status } }
"""


async def test_order_created_over_graphql_is_processed_by_the_worker(processes: Processes) -> None:
    api, base_url = processes.api()
    consumer = processes.consumer()
    worker = processes.worker()
    await processes.ready(api, consumer, worker)
    credentials = {"e": f"graphql-{uuid.uuid4().hex[:8]}@example.com", "p": "pw-s3cret-9412"}
    request_id = f"gql-{uuid.uuid4().hex[:12]}"

    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        await client.post("/graphql", json={"query": REGISTER, "variables": credentials})
        token = await client.post("/graphql", json={"query": TOKEN, "variables": credentials})
        created = await client.post(
            "/graphql",
            json={
                "query": CREATE_ORDER,
                "variables": {
                    "input": {"items": [{"productId": "sku-1", "quantity": 2, "price": "8.50"}]}
                },
            },
            headers={
                "Authorization": f"Bearer {token.json()['data']['token']['accessToken']}",
                "X-Request-ID": request_id,
            },
        )
    order_id = created.json()["data"]["createOrder"]["id"]

    await worker.wait_for(f"^Order {order_id} processed$", within=5)
    # The GraphQL request's id travels with the event, as a REST request's does.
    await consumer.wait_for(
        f"order {order_id}: task enqueued .*correlation_id={request_id}", within=2
    )
    await worker.wait_for(f"order {order_id}: processed .*correlation_id={request_id}", within=2)
