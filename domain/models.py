"""Every ORM model, imported in one place so that Alembic and the mappers see the whole schema."""

from domain.events.models import OutboxEvent, ProcessedEvent
from domain.orders.models import IdempotencyKey, Order
from domain.users.models import User
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookOrderCursor
from infra.db import Base

__all__ = [
    "Base",
    "IdempotencyKey",
    "Order",
    "OutboxEvent",
    "ProcessedEvent",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookOrderCursor",
]
