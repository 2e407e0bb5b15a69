"""Webhooks in GraphQL (staff only): the types and thin resolvers over domain.webhooks.service,
in parity with REST's /webhooks/ routes (api/routes/webhooks.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from domain.orders.schemas import DEFAULT_PAGE_SIZE, OrderListQuery
from domain.webhooks import schemas, service
from graph.context import GraphContext

Info = strawberry.Info[GraphContext, None]

DeliveryStatus = strawberry.enum(
    schemas.DeliveryStatus, name="WebhookDeliveryStatus", description="Where a delivery stands."
)


@strawberry.type(description="One attempt of a delivery.")
class WebhookDeliveryAttempt:
    at: datetime
    response_status: int | None = strawberry.field(description="null: no answer (see `error`).")
    duration_ms: int
    error: str | None
    response_body: str | None = strawberry.field(description="The answer's first kilobyte.")


@strawberry.type(description="One order event for one endpoint, with its attempts.")
class WebhookDelivery:
    id: str = strawberry.field(description="The webhook-id: the same on every attempt.")
    event_type: str
    order_id: uuid.UUID
    status: DeliveryStatus  # type: ignore[valid-type]
    attempts: list[WebhookDeliveryAttempt]
    next_attempt_at: datetime | None

    @classmethod
    def from_domain(cls, delivery: schemas.DeliveryOut) -> WebhookDelivery:
        return cls(
            id=delivery.id,
            event_type=str(delivery.event_type),
            order_id=delivery.order_id,
            status=delivery.status,
            attempts=[
                WebhookDeliveryAttempt(
                    at=attempt.at,
                    response_status=attempt.response_status,
                    duration_ms=attempt.duration_ms,
                    error=attempt.error,
                    response_body=attempt.response_body,
                )
                for attempt in delivery.attempts
            ],
            next_attempt_at=delivery.next_attempt_at,
        )


@strawberry.type(description="A page of deliveries, newest first.")
class WebhookDeliveryPage:
    items: list[WebhookDelivery]
    next_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


async def _deliveries(
    root: Webhook,
    info: Info,
    status: DeliveryStatus | None = None,  # type: ignore[valid-type]
    first: int | None = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> WebhookDeliveryPage:
    await info.context.require_staff()
    query = OrderListQuery.model_validate(
        {"limit": first, "cursor": after} if first is not None else {"cursor": after}
    )
    async with info.context.unit_of_work(read_only=True) as uow:
        page = await service.list_deliveries(
            uow=uow, webhook_id=root.id, status=status, limit=query.limit, cursor=query.cursor
        )
    return WebhookDeliveryPage(
        items=[WebhookDelivery.from_domain(item) for item in page.items],
        next_cursor=page.next_cursor,
    )


@strawberry.type(description="An endpoint that receives signed order events (staff only).")
class Webhook:
    id: uuid.UUID
    url: str
    events: list[str] = strawberry.field(
        description="`order.created`, `order.status_changed`, `order.processed`."
    )
    description: str | None
    enabled: bool
    disabled_reason: str | None = strawberry.field(
        description="Why the service disabled it (410 Gone, too many failed deliveries)."
    )
    created_at: datetime

    deliveries: WebhookDeliveryPage = strawberry.field(
        resolver=_deliveries,
        description="Its deliveries, newest first; `first` is 1–100.",
    )

    @classmethod
    def from_domain(cls, webhook: schemas.WebhookOut) -> Webhook:
        return cls(
            id=webhook.id,
            url=webhook.url,
            events=[str(event) for event in webhook.events],
            description=webhook.description,
            enabled=webhook.enabled,
            disabled_reason=webhook.disabled_reason,
            created_at=webhook.created_at,
        )


@strawberry.type(description="A new endpoint, and its signing secret (shown only here).")
class CreatedWebhook:
    webhook: Webhook
    secret: str


@strawberry.type(description="A new signing secret (the old one keeps signing for a while).")
class WebhookSecret:
    secret: str


@strawberry.input
class CreateWebhookInput:
    url: str
    events: list[str]
    description: str | None = None


@strawberry.input(description="Only the fields given change.")
class UpdateWebhookInput:
    url: str | None = strawberry.UNSET
    events: list[str] | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET


def _given(value: object) -> bool:
    return value is not strawberry.UNSET


async def webhooks(info: Info) -> list[Webhook]:
    async with info.context.unit_of_work(read_only=True) as uow:
        return [Webhook.from_domain(webhook) for webhook in await service.list_webhooks(uow=uow)]


async def webhook(info: Info, id: uuid.UUID) -> Webhook | None:
    async with info.context.unit_of_work(read_only=True) as uow:
        return Webhook.from_domain(await service.get_webhook(uow=uow, webhook_id=id))


async def create_webhook(info: Info, input: CreateWebhookInput) -> CreatedWebhook:
    settings = info.context.resources.settings
    data = schemas.WebhookCreate.model_validate(
        {"url": input.url, "events": input.events, "description": input.description}
    )
    async with info.context.unit_of_work() as uow:
        created = await service.create_webhook(
            uow=uow, settings=settings.webhooks, environment=settings.app.environment, data=data
        )
    return CreatedWebhook(webhook=Webhook.from_domain(created), secret=created.secret)


async def update_webhook(info: Info, id: uuid.UUID, input: UpdateWebhookInput) -> Webhook:
    settings = info.context.resources.settings
    fields = {
        name: getattr(input, name)
        for name in ("url", "events", "description", "enabled")
        if _given(getattr(input, name))
    }
    data = schemas.WebhookUpdate.model_validate(fields)
    async with info.context.unit_of_work() as uow:
        updated = await service.update_webhook(
            uow=uow,
            settings=settings.webhooks,
            environment=settings.app.environment,
            webhook_id=id,
            data=data,
        )
    return Webhook.from_domain(updated)


async def delete_webhook(info: Info, id: uuid.UUID) -> bool:
    async with info.context.unit_of_work() as uow:
        await service.delete_webhook(uow=uow, webhook_id=id)
    return True


async def rotate_webhook_secret(info: Info, id: uuid.UUID) -> WebhookSecret:
    async with info.context.unit_of_work() as uow:
        secret = await service.rotate_secret(
            uow=uow, settings=info.context.resources.settings.webhooks, webhook_id=id
        )
    return WebhookSecret(secret=secret)


async def retry_webhook_delivery(
    info: Info,
    webhook_id: uuid.UUID,
    delivery_id: Annotated[str, strawberry.argument(description="The webhook-id.")],
) -> WebhookDelivery:
    async with info.context.unit_of_work() as uow:
        delivery = await service.retry_delivery(
            uow=uow,
            settings=info.context.resources.settings.webhooks,
            webhook_id=webhook_id,
            delivery_id=delivery_id,
        )
    return WebhookDelivery.from_domain(delivery)
