"""Registration and the OAuth2 password flow."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import AppResources, UoW, form_body
from api.problem_details import OAUTH2_TOKEN_OPERATION
from api.ratelimit import limit_auth
from api.routing import SlashTolerantRouter
from api.schemas import error_responses
from domain.users import service
from domain.users.schemas import AccessToken, UserCreate, UserOut
from edge.auth import client_ip

router = SlashTolerantRouter(tags=["auth"], dependencies=[Depends(limit_auth)])


@router.post(
    "/register/",
    status_code=status.HTTP_201_CREATED,
    operation_id="register",
    responses=error_responses(400, 409, 415, 422, 429, 503),
)
async def register(data: UserCreate, uow: UoW, resources: AppResources) -> UserOut:
    """Create an account. The email is unique whatever its letter case; passwords have 8+ characters."""
    user = await service.register_user(uow=uow, hasher=resources.hasher, data=data)
    return UserOut.model_validate(user)


@router.post(
    "/token",
    operation_id=OAUTH2_TOKEN_OPERATION,
    dependencies=[Depends(form_body)],
    responses=error_responses(400, 401, 415, 422, 429, 503),
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    uow: UoW,
    resources: AppResources,
    request: Request,
    device_token: Annotated[
        str | None,
        Form(
            description="The `device_token` an earlier login of this account answered to this "
            "client: with it, others' failed guesses do not rate-limit this client's login."
        ),
    ] = None,
) -> AccessToken:
    """OAuth2 password flow: form fields `username` (the email) and `password` → a bearer token.

    The token carries the OAuth2 `scope` claim: `orders` for customers, `orders orders:manage` for
    staff. The optional `scope` field asks for fewer (a staff member's `scope=orders` acts as a
    customer); asking for a scope the account does not have is 400 with `"error": "invalid_scope"`.

    Limited per client IP (`RATE_LIMIT_AUTH`), per account and client IP
    (`RATE_LIMIT_LOGIN_PER_ACCOUNT`), and per account from every address
    (`RATE_LIMIT_LOGIN_PER_ACCOUNT_GLOBAL`); past any of them, 429, whether or not the email has an
    account. 503 with Retry-After when too many password checks are already waiting.

    Each success also answers a `device_token`. Sent back in the form field `device_token` with a
    later login of the same account, it replaces the per-account limit for this client, so guesses
    from elsewhere cannot lock it out; its own failed logins count, and five
    (`DEVICE_TOKEN_MAX_FAILURES`) revoke it. An invalid, expired or revoked one counts as none.

    Failures also carry OAuth2's `error` member (RFC 6749 §5.2): `invalid_grant` for a wrong email
    or password (401), `invalid_request` for a missing field or a body that is not form data,
    `unsupported_grant_type` for a `grant_type` other than `password`.
    """
    return await service.issue_token(
        uow=uow,
        hasher=resources.hasher,
        tokens=resources.tokens,
        email=form.username,
        password=form.password,
        client_ip=client_ip(request.scope),
        scope=" ".join(form.scopes),
        limiter=resources.limiter,
        limits=resources.rate_limits.login,
        device_token=device_token,
    )
