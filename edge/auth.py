"""Who is calling: the bearer token of a request and the client's address, read the same way by both
interfaces (and by the REST fast path)."""

from __future__ import annotations

from starlette.types import Scope

from domain.users.errors import InvalidToken
from domain.users.tokens import TokenService, VerifiedToken

# Where a request's verified bearer token is kept, so every layer that asks (the fast path, the rate
# limit, the route) gets the one answer: a token is decoded at most once per request.
_VERIFIED = "orders.verified_token"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value; None for a missing or other value."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def request_header(scope: Scope, name: bytes) -> str | None:
    """A raw header value of an ASGI request (`name` lower-case), without building a Request object."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def authorization_header(scope: Scope) -> str | None:
    return request_header(scope, b"authorization")


def client_ip(scope: Scope) -> str:
    """The TCP peer, or the forwarded client when a trusted proxy relayed the request
    (uvicorn's ProxyHeadersMiddleware rewrites `client` only for TRUSTED_PROXIES)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def rate_limit_identity(user_id: int | None, ip: str) -> str:
    """Whose budget a request spends: the user's, else the client address's."""
    return f"user:{user_id}" if user_id is not None else f"ip:{ip}"


def verified_token(scope: Scope, tokens: TokenService) -> VerifiedToken | None:
    """What the request's `Authorization: Bearer` token says; None without one; `InvalidToken` for
    a bad one. Verified once per request (or WebSocket upgrade), then remembered in the scope."""
    if _VERIFIED in scope:
        remembered: VerifiedToken | InvalidToken | None = scope[_VERIFIED]
        if isinstance(remembered, InvalidToken):
            raise remembered
        return remembered
    token = bearer_token(authorization_header(scope))
    try:
        verified = None if token is None else tokens.verify_token(token)
    except InvalidToken as exc:
        scope[_VERIFIED] = exc
        raise
    scope[_VERIFIED] = verified
    return verified
