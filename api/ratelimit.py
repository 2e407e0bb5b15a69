"""Rate limits as router dependencies: per user (else per IP) on the API, per IP on auth routes.

Routes outside these routers (/docs, /openapi.json, health) are never limited. A cached read served
by api/fastpath.py spends its unit there and never reaches these.
"""

from __future__ import annotations

from contextlib import suppress

from fastapi import Request, Response

from api.deps import AppResources
from domain.ratelimit.budget import spend
from domain.ratelimit.limiter import RateLimitRule
from domain.users.errors import InvalidToken
from edge.auth import client_ip, rate_limit_identity, verified_token
from edge.ratelimit import rate_limit_headers


async def _spend(
    resources: AppResources, rule: RateLimitRule, identity: str, response: Response
) -> None:
    verdict = await spend(resources.limiter, rule, identity)
    if verdict is not None:
        response.headers.update(rate_limit_headers(verdict))


async def limit_per_user(request: Request, response: Response, resources: AppResources) -> None:
    """The default limit, counted per authenticated user, or per client IP without a valid token."""
    user_id = None
    # An invalid token is counted against the IP; the route itself answers 401.
    with suppress(InvalidToken):
        verified = verified_token(request.scope, resources.tokens)
        user_id = verified.user_id if verified is not None else None
    identity = rate_limit_identity(user_id, client_ip(request.scope))
    await _spend(resources, resources.rate_limits.default, identity, response)


async def limit_auth(request: Request, response: Response, resources: AppResources) -> None:
    """The login/registration limit, per client IP."""
    identity = rate_limit_identity(None, client_ip(request.scope))
    await _spend(resources, resources.rate_limits.auth, identity, response)
