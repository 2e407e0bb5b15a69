"""Webhook records: what the interfaces take in and give out (pydantic only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


class WebhookEvent(StrEnum):
    """The order events an endpoint may subscribe to (one per kind of the order's history)."""

    ORDER_CREATED = "order.created"
    ORDER_STATUS_CHANGED = "order.status_changed"
    ORDER_PROCESSED = "order.processed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


Url = Annotated[str, Field(min_length=1, max_length=2048)]
Description = Annotated[str, Field(max_length=500)]
Events = Annotated[list[WebhookEvent], Field(min_length=1, max_length=3)]


def _distinct(events: list[WebhookEvent] | None) -> list[WebhookEvent] | None:
    return None if events is None else list(dict.fromkeys(events))


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    events: Events
    description: Description | None = None

    _distinct_events = field_validator("events")(_distinct)


class WebhookUpdate(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = None

    _distinct_events = field_validator("events")(_distinct)


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    events: list[WebhookEvent]
    description: str | None
    enabled: bool
    # Why the service disabled the endpoint (410 Gone, too many failed deliveries); else null.
    disabled_reason: str | None
    created_at: datetime


class CreatedWebhook(WebhookOut):
    # Shown here and on rotation only.
    secret: str


class WebhookSecret(BaseModel):
    secret: str


class DeliveryAttempt(BaseModel):
    at: datetime
    response_status: int | None
    duration_ms: int
    error: str | None
    # The first kilobyte of the answer's body.
    response_body: str | None = None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="The webhook-id: the same on every attempt.")
    event_type: WebhookEvent
    order_id: uuid.UUID
    status: DeliveryStatus
    attempts: list[DeliveryAttempt]
    next_attempt_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    # Where the next page starts (None on the last page).
    next_cursor: str | None
