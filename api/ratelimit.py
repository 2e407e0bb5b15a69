"""Rate limits as router dependencies: per user (else per IP) on the API, per IP on auth routes.

Routes outside these routers (/docs, /openapi.json, health) are never limited.
"""

from __future__ import annotations

from contextlib import suppress

from fastapi import Request, Response

from api.deps import State
from domain.users.errors import InvalidToken
from infra.ratelimit import RateLimitExceeded, RateLimitRule, RateLimitVerdict

# Where a request's verdict is kept once counted (scope["state"]), so it is never counted twice.
RATE_LIMIT_VERDICT = "orders.rate_limit_verdict"


def rate_limit_headers(verdict: RateLimitVerdict) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
        "X-RateLimit-Reset": str(verdict.retry_after),
    }


def _client_ip(request: Request) -> str:
    # request.client is the TCP peer, or the forwarded client when a trusted proxy relayed it.
    return request.client.host if request.client else "unknown"


async def _enforce(
    request: Request, state: State, rule: RateLimitRule, identity: str, response: Response
) -> None:
    if state.limiter is None:
        return
    request_state = request.scope.setdefault("state", {})
    if RATE_LIMIT_VERDICT in request_state:  # already counted on the fast path (api/fastpath.py)
        verdict = request_state[RATE_LIMIT_VERDICT]
    else:
        verdict = await state.limiter.hit(rule, identity)
    if verdict is None:  # Redis can't tell: fail open
        return
    response.headers.update(rate_limit_headers(verdict))
    if not verdict.allowed:
        raise RateLimitExceeded(verdict)


async def limit_per_user(request: Request, response: Response, state: State) -> None:
    """The default limit, counted per authenticated user, or per client IP without a valid token."""
    identity = f"ip:{_client_ip(request)}"
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token:
        # An invalid token is counted against the IP; the route itself answers 401.
        with suppress(InvalidToken):
            identity = f"user:{state.tokens.verify(token)}"
    await _enforce(request, state, state.rate_limits.default, identity, response)


async def limit_auth(request: Request, response: Response, state: State) -> None:
    """The login/registration limit, per client IP."""
    await _enforce(request, state, state.rate_limits.auth, f"ip:{_client_ip(request)}", response)
