"""Registration, login, and roles."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from domain.ratelimit.budget import spend
from domain.ratelimit.limiter import RateLimiter, RateLimitRule
from domain.uow import UnitOfWork
from domain.users.errors import (
    AccountGone,
    EmailAlreadyRegistered,
    InvalidCredentials,
    StaffOnly,
    UnknownUser,
)
from domain.users.models import User
from domain.users.passwords import PasswordHasher
from domain.users.roles import Role, RoleCache, granted_scopes
from domain.users.schemas import AccessToken, UserCreate, UserProfile
from domain.users.tokens import DeviceToken, TokenService, VerifiedToken
from infra.text import is_storable


async def register_user(
    *, uow: UnitOfWork, hasher: PasswordHasher, data: UserCreate, role: Role = Role.CUSTOMER
) -> User:
    """Create an account; an email already taken in any letter case raises `EmailAlreadyRegistered`.

    Everyone registering over HTTP or GraphQL is a customer; only `orders-admin` passes `role`."""
    users = uow.users
    if await users.get_by_email(data.email) is not None:
        raise EmailAlreadyRegistered
    user = User(
        email=data.email,
        password_hash=await hasher.hash(data.password.get_secret_value()),
        role=role,
    )
    try:
        # The unique index settles a race between two registrations of one email.
        async with uow.session.begin_nested():
            await users.add(user)
    except IntegrityError as exc:
        raise EmailAlreadyRegistered from exc
    return user


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """The limits on attempts to log into one account (RATE_LIMIT_LOGIN_PER_ACCOUNT[_GLOBAL]), and
    on failures with one device token (DEVICE_TOKEN_MAX_FAILURES, `device_failures_rule`)."""

    per_address: RateLimitRule
    per_account: RateLimitRule
    device_failures: RateLimitRule


def device_failures_rule(*, max_failures: int, lifetime_days: int) -> RateLimitRule:
    """Failures counted per device token for as long as one lives: the count passes the rule's
    amount at the `max_failures`th failure, which revokes the token."""
    return RateLimitRule.parse("device_failures", f"{max_failures - 1}/{lifetime_days} days")


async def issue_token(
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    tokens: TokenService,
    email: str,
    password: str,
    client_ip: str,
    scope: str | None = None,
    limiter: RateLimiter | None = None,
    limits: LoginLimits | None = None,
    device_token: str | None = None,
) -> AccessToken:
    """Check the credentials and issue an access token, and a device token for this client.

    The token carries the OAuth2 scopes of the user's role (`granted_scopes`), or the fewer ones
    `scope` asks for; asking for one the role lacks raises `InvalidScope` (after the credentials
    are checked, so it reveals nothing about an account to someone without its password).

    An unknown email costs the same password check as a wrong password, and both raise the same
    `InvalidCredentials`, so neither the answer nor its timing reveals which emails exist.

    With a `limiter`, `limits` bound the attempts on one account: `per_address` from one client IP,
    then `per_account` from every address together (an attempt refused per address is not counted
    there, so one address cannot spend an account's whole ceiling faster than its own limit allows,
    and cannot lock the owner out of another address). Each attempt on an email (lower-cased) is
    counted before the password is checked, successful or not, whether or not an account has that
    email; past a limit `RateLimitExceeded`, the same for every email. Redis unreachable: no limit
    (fails open, like every limit).

    A `device_token` this account was given at an earlier login (OWASP's device cookies) replaces
    `per_account` for that client, so others' failures cannot lock it out: its own failures are
    counted under the token, and `device_failures` of them revoke it; `per_address` still applies.
    A device token that is invalid, expired, revoked or another account's counts as none.
    """
    account = _account_identity(email)
    if limits is not None:
        await spend(limiter, limits.per_address, f"{account}:ip:{client_ip}")
    # No account has an email PostgreSQL cannot store (NUL, lone surrogates): nothing to look up.
    user = await uow.users.get_by_email(email) if is_storable(email) else None
    device = await _trusted_device(tokens, device_token, user, limiter, limits)
    if limits is not None and device is None:
        await spend(limiter, limits.per_account, account)
    if not await hasher.verify(password, user.password_hash if user else None) or user is None:
        if limits is not None and limiter is not None and device is not None:
            await limiter.hit(limits.device_failures, _device_identity(device))
        raise InvalidCredentials
    return tokens.issue(user_id=user.id, scopes=granted_scopes(user.role, scope))


async def _trusted_device(
    tokens: TokenService,
    device_token: str | None,
    user: User | None,
    limiter: RateLimiter | None,
    limits: LoginLimits | None,
) -> DeviceToken | None:
    """The device token, if it is valid, this account's, and not revoked."""
    device = tokens.verify_device(device_token) if device_token else None
    if device is None or user is None or device.user_id != user.id:
        return None
    if limits is not None and limiter is not None:
        # Counting nothing: how many failures the token has had (None: Redis cannot tell).
        verdict = await limiter.hit(limits.device_failures, _device_identity(device), units=0)
        if verdict is not None and not verdict.allowed:
            return None
    return device


async def get_users(*, uow: UnitOfWork, user_ids: Sequence[int]) -> dict[int, User]:
    """The users among `user_ids` that exist, by id, in one query (for batched lookups)."""
    return {user.id: user for user in await uow.users.get_many(user_ids)}


async def get_profile(*, uow: UnitOfWork, user_id: int) -> UserProfile:
    """The caller's own account; `AccountGone` when a valid token's account no longer exists."""
    user = await uow.users.get(user_id)
    if user is None:
        raise AccountGone
    return UserProfile.model_validate(user)


async def require_staff(*, uow: UnitOfWork, roles: RoleCache, token: VerifiedToken) -> None:
    """Let a staff-only operation go ahead, or raise `StaffOnly`: the token must carry
    `orders:manage` and its user must be staff now (as read at most `ROLE_CACHE_SECONDS` ago)."""
    if not await acts_as_staff(uow=uow, roles=roles, token=token):
        raise StaffOnly


async def acts_as_staff(*, uow: UnitOfWork, roles: RoleCache, token: VerifiedToken) -> bool:
    """Whether the token's holder acts as staff now. A token without `orders:manage` (every
    customer's) is answered without looking anything up."""
    if not token.manages_orders:
        return False
    return await roles.role_of(token.user_id, uow.users.role_of) is Role.STAFF


@dataclass(frozen=True, slots=True)
class RoleChange:
    """What an operator's command did to an account."""

    user: User
    # False when the account already had the role (doing it twice is harmless).
    changed: bool
    # True when the command created the account.
    created: bool = False


async def set_role(*, uow: UnitOfWork, email: str, role: Role) -> RoleChange:
    """Give the account with `email` (any letter case) `role`; `UnknownUser` when none has it.

    Takes effect at once for new tokens, and within `ROLE_CACHE_SECONDS` for tokens already
    issued (staff-only operations read the role, not the token)."""
    user = await uow.users.get_by_email(email) if is_storable(email) else None
    if user is None:
        raise UnknownUser(email)
    if user.role is role:
        return RoleChange(user=user, changed=False)
    user.role = role
    await uow.session.flush()
    return RoleChange(user=user, changed=True)


async def create_staff(*, uow: UnitOfWork, hasher: PasswordHasher, data: UserCreate) -> RoleChange:
    """A staff account with `data`'s email and password (registration's rules); an account that
    already has the email is made staff instead, its password unchanged."""
    try:
        user = await register_user(uow=uow, hasher=hasher, data=data, role=Role.STAFF)
    except EmailAlreadyRegistered:
        return await set_role(uow=uow, email=data.email, role=Role.STAFF)
    return RoleChange(user=user, changed=True, created=True)


def _device_identity(device: DeviceToken) -> str:
    return f"device:{device.token_id}"


def _account_identity(email: str) -> str:
    # Hashed: Redis keys never hold an email, and any text (however long or odd) makes a short key.
    digest = hashlib.sha256(email.lower().encode("utf-8", "surrogatepass")).hexdigest()
    return f"email:{digest[:32]}"
