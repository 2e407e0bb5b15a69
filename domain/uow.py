"""The unit of work: one transaction per HTTP request or GraphQL mutation, and its repositories.

It is the only way those open a transaction: `async with resources.unit_of_work() as uow:` (or the
REST `UoW` dependency), then `uow.orders`, `uow.users`, ... Resources `flush()` and never commit. The
boundary that opened the unit commits once (or rolls back), then runs the actions registered with
`after_commit` (cache refreshes, live order events), which must never run for a transaction that did not commit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.events.repository import OutboxRepository
from domain.orders.history_repository import OrderEventRepository
from domain.orders.repository import OrderRepository
from domain.orders.search_repository import OrderSearchRepository
from domain.users.repository import UserRepository
from domain.webhooks.delivery_repository import DeliveryRepository
from domain.webhooks.repository import WebhookRepository
from infra.db import AutocommitReads
from infra.live import LivePublisher

logger = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


class UnitOfWork:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        live: LivePublisher | None = None,
        read_engine: AsyncEngine | None = None,
    ) -> None:
        self._session_factory = session_factory
        # Where committed order events are announced to every API process (None: nowhere).
        self.live = live
        self._session: AsyncSession | None = None
        # A read-only unit (an engine in AUTOCOMMIT): the orders' Core reads run on a connection of
        # their own, without a session; ORM reads still use `session`.
        self._read_engine = read_engine
        self._reads: AutocommitReads | None = None
        self._after_commit: list[AfterCommit] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            # Opened lazily: a cache hit never checks a connection out of the pool.
            self._session = self._session_factory()
        return self._session

    @property
    def orders(self) -> OrderRepository:
        if self._read_engine is None:
            return OrderRepository(self.session)
        if self._reads is None:
            self._reads = AutocommitReads(self._read_engine)
        return OrderRepository(self._reads)

    @property
    def order_search(self) -> OrderSearchRepository:
        """The order search's reads, on the same connection as `orders`."""
        if self._read_engine is None:
            return OrderSearchRepository(self.session)
        if self._reads is None:
            self._reads = AutocommitReads(self._read_engine)
        return OrderSearchRepository(self._reads)

    @property
    def order_events(self) -> OrderEventRepository:
        return OrderEventRepository(self.session)

    @property
    def users(self) -> UserRepository:
        return UserRepository(self.session)

    @property
    def webhooks(self) -> WebhookRepository:
        return WebhookRepository(self.session)

    @property
    def webhook_deliveries(self) -> DeliveryRepository:
        return DeliveryRepository(self.session)

    @property
    def outbox(self) -> OutboxRepository:
        return OutboxRepository(self.session)

    def after_commit(self, action: AfterCommit) -> None:
        self._after_commit.append(action)

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            try:
                await action()
            except Exception:
                # The data is committed; a side effect that failed is repaired by its own mechanism
                # (cache TTL and versioning, outbox sweep), so it must not turn success into an error.
                logger.exception("after-commit action failed")

    async def rollback(self) -> None:
        self._after_commit.clear()
        if self._session is not None:
            await self._session.rollback()

    async def close(self) -> None:
        if self._reads is not None:
            reads, self._reads = self._reads, None
            await reads.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Commit when the block ends normally, roll back when it raises; always release the session."""
        try:
            if exc_type is None:
                await self.commit()
            else:
                await self.rollback()
        finally:
            await self.close()
