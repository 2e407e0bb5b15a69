"""Registration and login."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from domain.limits import spend
from domain.uow import UnitOfWork
from domain.users.errors import EmailAlreadyRegistered, InvalidCredentials
from domain.users.models import User
from domain.users.passwords import PasswordHasher
from domain.users.schemas import AccessToken, UserCreate
from domain.users.tokens import TokenService
from infra.ratelimit import RateLimiter, RateLimitRule
from infra.text import is_storable


async def register_user(*, uow: UnitOfWork, hasher: PasswordHasher, data: UserCreate) -> User:
    """Create an account; an email already taken in any letter case raises `EmailAlreadyRegistered`."""
    users = uow.users
    if await users.get_by_email(data.email) is not None:
        raise EmailAlreadyRegistered
    user = User(email=data.email, password_hash=await hasher.hash(data.password.get_secret_value()))
    try:
        # The unique index settles a race between two registrations of one email.
        async with uow.session.begin_nested():
            await users.add(user)
    except IntegrityError as exc:
        raise EmailAlreadyRegistered from exc
    return user


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """The two limits on attempts to log into one account (RATE_LIMIT_LOGIN_PER_ACCOUNT[_GLOBAL])."""

    per_address: RateLimitRule
    per_account: RateLimitRule


async def issue_token(
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    tokens: TokenService,
    email: str,
    password: str,
    client_ip: str,
    limiter: RateLimiter | None = None,
    limits: LoginLimits | None = None,
) -> AccessToken:
    """Check the credentials and issue an access token.

    An unknown email costs the same password check as a wrong password, and both raise the same
    `InvalidCredentials`, so neither the answer nor its timing reveals which emails exist.

    With a `limiter`, `limits` bound the attempts on one account: `per_address` from one client IP,
    then `per_account` from every address together (an attempt refused per address is not counted
    there, so one address cannot spend an account's whole ceiling faster than its own limit allows,
    and cannot lock the owner out of another address). Each attempt on an email (lower-cased) is
    counted before anything is checked, successful or not, whether or not an account has that email;
    past a limit `RateLimitExceeded`, the same for every email. Redis unreachable: no limit (fails
    open, like every limit).
    """
    if limits is not None:
        account = _account_identity(email)
        await spend(limiter, limits.per_address, f"{account}:ip:{client_ip}")
        await spend(limiter, limits.per_account, account)
    # No account has an email PostgreSQL cannot store (NUL, lone surrogates): nothing to look up.
    user = await uow.users.get_by_email(email) if is_storable(email) else None
    if not await hasher.verify(password, user.password_hash if user else None) or user is None:
        raise InvalidCredentials
    return tokens.issue(user_id=user.id)


async def get_users(*, uow: UnitOfWork, user_ids: Sequence[int]) -> dict[int, User]:
    """The users among `user_ids` that exist, by id, in one query (for batched lookups)."""
    return {user.id: user for user in await uow.users.get_many(user_ids)}


def _account_identity(email: str) -> str:
    # Hashed: Redis keys never hold an email, and any text (however long or odd) makes a short key.
    digest = hashlib.sha256(email.lower().encode("utf-8", "surrogatepass")).hexdigest()
    return f"email:{digest[:32]}"
