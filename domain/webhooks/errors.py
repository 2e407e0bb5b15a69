"""Errors of this area; each names its kind (domain/errors.py), which the interfaces map."""

from domain.errors import DomainError, ErrorKind


class WebhookNotFound(DomainError):
    kind = ErrorKind.NOT_FOUND
    reason = "WEBHOOK_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("Webhook not found")


class WebhookDeliveryNotFound(DomainError):
    kind = ErrorKind.NOT_FOUND
    reason = "WEBHOOK_DELIVERY_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("Webhook delivery not found")


class WebhookTargetRefused(DomainError):
    """The URL breaks a rule against server-side request forgery; the message names the rule."""

    kind = ErrorKind.BAD_INPUT
    reason = "WEBHOOK_TARGET_REFUSED"

    def __init__(self, rule: str) -> None:
        self.rule = rule
        super().__init__(f"Webhook URL refused: {rule}")


class WebhookDeliveryNotFailed(DomainError):
    """Only a failed delivery can be sent again by hand (a pending one is still being retried)."""

    kind = ErrorKind.CONFLICT
    reason = "DELIVERY_NOT_FAILED"

    def __init__(self, status: str) -> None:
        super().__init__(f"Only a failed delivery can be retried; this one is {status}")
