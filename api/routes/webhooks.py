"""Webhook endpoints and their delivery log (staff only): thin adapters over domain.webhooks.service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response, status

from api.deps import AppResources, UoW, require_staff_caller
from api.pagination import NEXT_PAGE_HEADER, next_page_link
from api.ratelimit import limit_per_user
from api.routing import SlashTolerantRouter
from api.schemas import error_responses
from domain.orders.schemas import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from domain.webhooks import service
from domain.webhooks.schemas import (
    CreatedWebhook,
    DeliveryOut,
    DeliveryStatus,
    WebhookCreate,
    WebhookOut,
    WebhookSecret,
    WebhookUpdate,
)

router = SlashTolerantRouter(
    prefix="/webhooks",
    tags=["webhooks"],
    dependencies=[Depends(limit_per_user), Depends(require_staff_caller)],
)

# Every route: no token (401), not staff (403), rate limited (429), a malformed request (422).
_ERRORS = (401, 403, 422, 429)


@router.post("/", status_code=status.HTTP_201_CREATED, responses=error_responses(400, *_ERRORS))
async def create_webhook(data: WebhookCreate, uow: UoW, resources: AppResources) -> CreatedWebhook:
    """Register an endpoint for `events` (`order.created`, `order.status_changed`,
    `order.processed`). The answer carries its signing `secret`, shown only here and on rotation.
    A URL that is, or resolves to, a loopback, private, link-local, unique-local, multicast or
    reserved address is refused (422, naming the rule); so is `http://` in production."""
    settings = resources.settings
    return await service.create_webhook(
        uow=uow, settings=settings.webhooks, environment=settings.app.environment, data=data
    )


@router.get("/", responses=error_responses(*_ERRORS))
async def list_webhooks(uow: UoW) -> list[WebhookOut]:
    """Every endpoint, oldest first (secrets are never shown here)."""
    return await service.list_webhooks(uow=uow)


@router.get("/{webhook_id}/", responses=error_responses(404, *_ERRORS))
async def get_webhook(webhook_id: uuid.UUID, uow: UoW) -> WebhookOut:
    """One endpoint; `disabled_reason` says why the service disabled it, if it did."""
    return await service.get_webhook(uow=uow, webhook_id=webhook_id)


@router.patch("/{webhook_id}/", responses=error_responses(400, 404, *_ERRORS))
async def update_webhook(
    webhook_id: uuid.UUID, data: WebhookUpdate, uow: UoW, resources: AppResources
) -> WebhookOut:
    """Change `url`, `events`, `description` or `enabled`. Enabling a disabled endpoint resumes
    its pending deliveries and clears its count of failures."""
    settings = resources.settings
    return await service.update_webhook(
        uow=uow,
        settings=settings.webhooks,
        environment=settings.app.environment,
        webhook_id=webhook_id,
        data=data,
    )


@router.delete(
    "/{webhook_id}/",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404, *_ERRORS),
)
async def delete_webhook(webhook_id: uuid.UUID, uow: UoW) -> None:
    """Delete the endpoint; its pending deliveries are dropped, never sent."""
    await service.delete_webhook(uow=uow, webhook_id=webhook_id)


@router.post("/{webhook_id}/rotate-secret/", responses=error_responses(404, *_ERRORS))
async def rotate_webhook_secret(
    webhook_id: uuid.UUID, uow: UoW, resources: AppResources
) -> WebhookSecret:
    """A new signing secret. For WEBHOOK_SECRET_OVERLAP_SECONDS (a day by default) deliveries
    carry two signatures, one per secret, so receivers can switch without missing one."""
    secret = await service.rotate_secret(
        uow=uow, settings=resources.settings.webhooks, webhook_id=webhook_id
    )
    return WebhookSecret(secret=secret)


@router.get(
    "/{webhook_id}/deliveries/",
    responses={
        **error_responses(404, *_ERRORS),
        200: {"headers": {"Link": NEXT_PAGE_HEADER}},
    },
)
async def list_deliveries(
    webhook_id: uuid.UUID,
    uow: UoW,
    request: Request,
    response: Response,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)] = None,
) -> list[DeliveryOut]:
    """The endpoint's deliveries, newest first, each with its attempts; `status` filters.
    `id` is the webhook-id the receiver saw. When more remain, `Link: <…>; rel="next"`."""
    page = await service.list_deliveries(
        uow=uow, webhook_id=webhook_id, status=status, limit=limit, cursor=cursor
    )
    response.headers.update(next_page_link(request, page.next_cursor, limit=limit))
    return page.items


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry/",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409, *_ERRORS),
)
async def retry_delivery(
    webhook_id: uuid.UUID, delivery_id: str, uow: UoW, resources: AppResources
) -> DeliveryOut:
    """Send a failed delivery again, with the same webhook-id (409 unless it is `failed`)."""
    return await service.retry_delivery(
        uow=uow,
        settings=resources.settings.webhooks,
        webhook_id=webhook_id,
        delivery_id=delivery_id,
    )
