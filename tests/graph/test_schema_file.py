"""graph/schema.graphql is the contract frontends build on: it must say what the code serves."""

from __future__ import annotations

from graph.export_schema import SCHEMA_FILE, schema_sdl


def test_the_committed_schema_file_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == schema_sdl(), "the schema changed: run `make schema`"


def test_the_schema_has_the_contracts_operations() -> None:
    sdl = schema_sdl()

    for line in [
        "me: User!",
        "order(id: UUID!): Order",
        # Deprecated for searchOrders (issue 27's compatibility policy), still served.
        'orders(userId: Int!, limit: Int = 50, after: String): [Order!]! @deprecated(reason: "use searchOrders")',
        'ordersPage(userId: Int!, limit: Int = 50, after: String): OrderPage! @deprecated(reason: "use searchOrders")',
        "register(email: String!, password: String!): User!",
        "token(email: String!, password: String!, scope: String, deviceToken: String): Token!",
        "deviceToken: String!",
        "role: Role!",
        "createOrder(input: CreateOrderInput!, idempotencyKey: String = null): Order!",
        "updateOrderStatus(id: UUID!, status: OrderStatus!, expectedVersion: Int, note: String): Order!",
        "actorRole: Role",
        "actor: User",
        "note: String",
        "orderEvents(id: UUID!, afterSeq: Int): OrderEvent!",
        "myOrderEvents: OrderEvent!",
        "history: [OrderEvent!]!",
        "version: Int!",
        "previousStatus: OrderStatus",
    ]:
        assert f"  {line}\n" in sdl, line


def test_order_event_kinds_are_the_contracts() -> None:
    assert "enum OrderEventKind {\n  CREATED\n  STATUS_CHANGED\n  PROCESSED\n}" in schema_sdl()
