"""The SQL of webhook endpoints and their delivery log (the dispatcher's side of deliveries:
`delivery_repository.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.webhooks.models import WebhookDelivery, WebhookEndpoint


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- endpoints ---------------------------------------------------------------------------------

    async def add(self, endpoint: WebhookEndpoint) -> None:
        self._session.add(endpoint)
        await self._session.flush()

    async def get(self, webhook_id: uuid.UUID, *, lock: bool = False) -> WebhookEndpoint | None:
        stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == webhook_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def all(self) -> Sequence[WebhookEndpoint]:
        stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        return (await self._session.execute(stmt)).scalars().all()

    async def delete(self, endpoint: WebhookEndpoint) -> None:
        """The endpoint and its deliveries (ON DELETE CASCADE): pending ones are dropped."""
        await self._session.delete(endpoint)
        await self._session.flush()

    async def count_disabled(self) -> int:
        stmt = select(func.count()).select_from(WebhookEndpoint).where(~WebhookEndpoint.enabled)
        return int((await self._session.execute(stmt)).scalar_one())

    # --- the delivery log --------------------------------------------------------------------------

    async def deliveries(
        self,
        *,
        webhook_id: uuid.UUID,
        status: str | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> Sequence[WebhookDelivery]:
        stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == webhook_id)
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        if after is not None:
            stmt = stmt.where(
                func.row(WebhookDelivery.created_at, WebhookDelivery.id)
                < func.row(after[0], after[1])
            )
        stmt = stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(
            limit
        )
        return (await self._session.execute(stmt)).scalars().all()

    async def delivery(
        self, *, webhook_id: uuid.UUID, delivery_id: str, lock: bool = False
    ) -> WebhookDelivery | None:
        stmt = select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == webhook_id
        )
        if lock:
            stmt = stmt.with_for_update()
        return (await self._session.execute(stmt)).scalar_one_or_none()

    # --- what attempts do to their endpoint -------------------------------------------------------

    async def endpoint_succeeded(self, endpoint_id: uuid.UUID) -> None:
        await self._session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.consecutive_failures != 0)
            .values(consecutive_failures=0)
        )

    async def endpoint_failed(
        self, *, endpoint_id: uuid.UUID, disable_after: int, at: datetime
    ) -> bool:
        """Count a failed delivery; True when that disables the endpoint."""
        row = (
            await self._session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id)
                .values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1)
                .returning(WebhookEndpoint.consecutive_failures, WebhookEndpoint.enabled)
            )
        ).one_or_none()
        if row is None or not row.enabled or row.consecutive_failures < disable_after:
            return False
        await self.disable(
            endpoint_id=endpoint_id,
            reason=f"{row.consecutive_failures} consecutive failed deliveries",
            at=at,
        )
        return True

    async def disable(self, *, endpoint_id: uuid.UUID, reason: str, at: datetime) -> bool:
        result = await self._session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled)
            .values(enabled=False, disabled_reason=reason, updated_at=at)
        )
        return bool(getattr(result, "rowcount", 0))
