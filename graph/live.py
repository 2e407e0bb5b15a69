"""The WebSocket side of /graphql: who is connected, until when, and how connections end.

Strawberry runs the protocols (`graphql-transport-ws`, and the older `graphql-ws`); these handlers
add what a production endpoint needs around them:
- authentication in `connection_init`: the `Authorization` value of its payload, else the upgrade
  request's header; without a valid token the socket closes with 4401 (Strawberry's own rejection
  would close with 4403), and it closes with 4401 too when the token expires;
- a ping every LIVE_PING_INTERVAL_SECONDS, so idle sockets stay open through proxies (and dead
  peers are found out);
- the REST default rate limit spent once per operation, as `POST /graphql` does (one budget per
  user whichever way operations come);
- registration with the process's live hub, which closes every socket with 1001 on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from graphql import GraphQLError, GraphQLFormattedError, OperationType
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage as TransportErrorMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ErrorMessage as LegacyErrorMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage

from domain.ratelimit.budget import RateLimitExceeded
from domain.users.errors import InvalidToken
from edge.auth import bearer_token
from edge.live import TooManyConnections
from graph.context import GraphContext
from graph.errors import OperationOverLegacyWebSocket, shape_error
from graph.operations import operation_type

logger = logging.getLogger(__name__)

UNAUTHORIZED = 4401
GOING_AWAY = 1001
# graphql-transport-ws's own codes, used for both protocols.
INIT_TIMEOUT = 4408
TOO_MANY_CONNECTIONS = 4429


def _authorization(context: GraphContext, payload: object) -> str | None:
    if isinstance(payload, dict):
        for key in ("Authorization", "authorization"):
            value = payload.get(key)
            if isinstance(value, str):
                return value
    request = context.request  # the WebSocket: its upgrade request's headers
    return request.headers.get("authorization") if request is not None else None


def authenticate(context: GraphContext, payload: object) -> float | None:
    """Sign the connection in with the token of `connection_init` (or of the upgrade request): the
    token's expiry, or None when there is no valid token."""
    token = bearer_token(_authorization(context, payload))
    if token is None:
        return None
    try:
        verified = context.resources.tokens.verify_token(token)
    except InvalidToken:
        return None
    context.token = verified
    return verified.expires_at


class _Connection:
    """What both protocol handlers do around Strawberry's: expiry, pings, and the hub's registry."""

    def __init__(self, context: GraphContext, close: Any, send_ping: Any) -> None:
        self._context = context
        self._close = close
        self._send_ping = send_ping
        self._watch: asyncio.Task[None] | None = None

    async def close(self, code: int, reason: str) -> None:
        # The socket may be closing already (the client left, or the other path closed it first).
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnected):
            await self._close(code, reason)

    def signed_in(self, expires_at: float) -> None:
        # One task per connection for both duties: every task costs memory, times 1,000s of sockets.
        self._watch = asyncio.create_task(self._until_expiry(expires_at))

    async def _until_expiry(self, expires_at: float) -> None:
        """Ping every interval (when the protocol pings) until the token expires, then close."""
        interval = self._context.resources.live.settings.ping_interval_seconds
        try:
            while (left := expires_at - time.time()) > 0:
                if self._send_ping is None or left <= interval:
                    await asyncio.sleep(left)
                else:
                    await asyncio.sleep(interval)
                    await self._send_ping()
        except (RuntimeError, OSError, WebSocketDisconnected):
            return  # the socket is gone already
        await self.close(UNAUTHORIZED, "Token expired")

    async def over_rate_limit(self) -> GraphQLFormattedError | None:
        """Spend one unit of the caller's budget for an operation; the error to answer past it."""
        try:
            await self._context.spend_rate_limit(1)
        except RateLimitExceeded as exc:
            return shape_error(GraphQLError(str(exc), original_error=exc)).formatted
        return None

    async def serve(self, handle: Any) -> None:
        async def going_away() -> None:
            await self.close(GOING_AWAY, "Server shutting down")

        hub = self._context.resources.live
        try:
            async with hub.connection(going_away, address=self._context.client_ip):
                await handle()
        except TooManyConnections as exc:
            logger.info("WebSocket refused from %s: %s", self._context.client_ip, exc)
            await self.close(TOO_MANY_CONNECTIONS, str(exc))
        finally:
            if self._watch is not None:
                self._watch.cancel()

    def close_unless_initialised(self, initialised: Any) -> asyncio.Task[None]:
        """Close the socket (4408) if `initialised()` is still false after
        LIVE_INIT_TIMEOUT_SECONDS: an idle socket holds a descriptor and a slot of its address."""

        async def watch() -> None:
            await asyncio.sleep(self._context.resources.live.settings.init_timeout_seconds)
            if not initialised():
                await self.close(INIT_TIMEOUT, "Connection initialisation timeout")

        return asyncio.create_task(watch())


class TransportWSHandler(BaseGraphQLTransportWSHandler[GraphContext, None]):
    """`graphql-transport-ws` (the `graphql-ws` library's protocol)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection = _Connection(
            self.context, self.websocket.close, lambda: self.send_message({"type": "ping"})
        )

    async def handle(self) -> None:
        await self.connection.serve(super().handle)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if not self.connection_init_received:
            expires_at = authenticate(self.context, message.get("payload"))
            if expires_at is None:
                self.connection_init_received = True
                if self.connection_init_timeout_task:
                    self.connection_init_timeout_task.cancel()
                await self.connection.close(UNAUTHORIZED, "Unauthorized")
                return
            self.connection.signed_in(expires_at)
        await super().handle_connection_init(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and message["id"] not in self.operations:
            error = await self.connection.over_rate_limit()
            if error is not None:
                await self.send_message(
                    TransportErrorMessage(id=message["id"], type="error", payload=[error])
                )
                return
        await super().handle_subscribe(message)


class LegacyWSHandler(BaseGraphQLWSHandler[GraphContext, None]):
    """`graphql-ws` (the older `subscriptions-transport-ws` protocol); it keeps alive with `ka`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection = _Connection(self.context, self.websocket.close, None)

    async def handle(self) -> None:
        # graphql-transport-ws has this timeout built in (the router's connection_init_wait_timeout).
        watch = self.connection.close_unless_initialised(lambda: self.connection_acknowledged)
        try:
            await self.connection.serve(super().handle)
        finally:
            watch.cancel()

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        if self.connection_acknowledged:
            return
        expires_at = authenticate(self.context, message.get("payload"))
        if expires_at is None:
            await self.send_message(
                {"type": "connection_error", "payload": {"message": "Unauthorized"}}
            )
            await self.connection.close(UNAUTHORIZED, "Unauthorized")
            return
        self.connection.signed_in(expires_at)
        await super().handle_connection_init(message)

    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged and not await self._is_subscription(message):
            return
        if self.connection_acknowledged:
            error = await self.connection.over_rate_limit()
            if error is not None:
                await self.send_message(
                    LegacyErrorMessage(type="error", id=message["id"], payload=error)
                )
                return
        await super().handle_start(message)

    async def _is_subscription(self, message: StartMessage) -> bool:
        """Strawberry runs every `start` as a subscription, and a query failed as a bug; it is the
        client's mistake, answered so (BAD_USER_INPUT) and logged as one."""
        payload = message.get("payload")
        query = payload.get("query") if isinstance(payload, dict) else None
        if not isinstance(query, str):
            return True  # Strawberry's own checks answer it
        kind = operation_type(query, payload.get("operationName"))
        if kind in (None, OperationType.SUBSCRIPTION):
            return True
        logger.info("graphql-ws: a %s refused; the protocol carries subscriptions", kind.value)
        refused = OperationOverLegacyWebSocket()
        error = shape_error(GraphQLError(str(refused), original_error=refused)).formatted
        await self.send_message(LegacyErrorMessage(type="error", id=message["id"], payload=error))
        return False
