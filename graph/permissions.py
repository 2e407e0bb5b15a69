"""Who may resolve a field: the GraphQL side of the "staff only" check.

`permission_classes=[IsStaff]` on a field makes it answer FORBIDDEN (UNAUTHENTICATED without a
token) unless the caller is staff now, with an `orders:manage` token: the same rule, through the same
domain call, as REST's `StaffCaller` dependency (api/deps.py).
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.permission import BasePermission

from graph.context import GraphContext


class IsStaff(BasePermission):
    message = "This needs a staff account and a token with the orders:manage scope"

    async def has_permission(
        self, source: Any, info: strawberry.Info[GraphContext, None], **kwargs: Any
    ) -> bool:
        # Raises the domain's own error (FORBIDDEN / UNAUTHENTICATED) rather than returning False,
        # so the answer carries the code from graph/errors.py's table like any other field's.
        await info.context.require_staff()
        return True
