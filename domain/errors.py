"""The domain's error vocabulary: every error it raises is a `DomainError` of one `ErrorKind`.

Each interface maps kinds, never classes, to its own terms, both from the one list of error types
(edge/errors.py): REST to Problem Details with an HTTP status (api/errors.py), GraphQL to
`extensions.code` (graph/errors.py). A new error therefore answers the same way in both as soon as it
names its kind. Where one kind has several causes a client may tell apart, the error also names its
`reason` (`EMAIL_TAKEN`), answered as is by both interfaces; every reason is listed in edge/errors.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    BAD_INPUT = "BAD_INPUT"
    # A request the protocol itself refuses (OAuth2's `invalid_scope`): REST 400, not 422.
    BAD_REQUEST = "BAD_REQUEST"
    RATE_LIMITED = "RATE_LIMITED"
    # The client's precondition (a version it expected) no longer holds: read again, then retry.
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    # A dependency cannot serve the request right now (PostgreSQL down, the order cache unreachable
    # for a change, the password-hashing queue full): retry shortly.
    UNAVAILABLE = "UNAVAILABLE"


class DomainError(Exception):
    """An expected failure a client can act on; its message is safe to show."""

    kind: ClassVar[ErrorKind]
    # The cause, in upper case (`EMAIL_TAKEN`): a class's own, or an instance's when one class has
    # several (an absent, invalid or expired token).
    reason: str | None = None
