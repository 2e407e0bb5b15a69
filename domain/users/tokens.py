"""RS256 access tokens and device tokens: issued with the private key, verified with the public key.

Verification accepts only RS256 and requires `sub`, `exp`, `iat`, `iss` and `aud`, so a token signed
HS256 with the public key as secret, or one with `alg: none`, never passes. A verified token is
remembered until it expires: the RSA check costs far more than the rest of a cached read.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from domain.users.errors import TOKEN_EXPIRED, InvalidToken
from domain.users.roles import SCOPE_MANAGE, SCOPE_ORDERS
from domain.users.schemas import AccessToken
from infra.settings import AuthSettings

ALGORITHM = "RS256"
_REQUIRED_CLAIMS = ["sub", "exp", "iat", "iss", "aud"]
_VERIFIED_CACHE_SIZE = 10_000
# Our tokens are under 1 KB; anything longer than this is refused before it is decoded at all (an 8 MB
# token took over a second of the event loop to decode and refuse).
MAX_TOKEN_CHARS = 4096


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a valid access token says: whose it is, until when, and its OAuth2 scopes."""

    user_id: int
    # A Unix time: long-lived connections end then.
    expires_at: float
    scopes: frozenset[str]

    @property
    def manages_orders(self) -> bool:
        """The token may act as staff (`orders:manage`) if its user still is staff (`RoleCache`)."""
        return SCOPE_MANAGE in self.scopes


@dataclass(frozen=True, slots=True)
class DeviceToken:
    """What a valid device token says: the account it was issued to, and its own id (its failed
    logins are counted under it)."""

    user_id: int
    token_id: str


# Tokens issued before scopes existed carry none: they were customers' tokens.
_SCOPES_OF_UNSCOPED_TOKENS = frozenset({SCOPE_ORDERS})


def _read_key(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        msg = f"JWT {what} key not found at {path}: run `make keys` (see README)"
        raise RuntimeError(msg) from None


class TokenService:
    def __init__(self, *, private_key: bytes, public_key: bytes, settings: AuthSettings) -> None:
        # Parsed once: loading a PEM RSA key runs its consistency check, which PyJWT would
        # otherwise repeat on every token it signs or verifies.
        loaded_private = serialization.load_pem_private_key(private_key, password=None)
        loaded_public = serialization.load_pem_public_key(public_key)
        if not isinstance(loaded_private, RSAPrivateKey) or not isinstance(
            loaded_public, RSAPublicKey
        ):
            msg = "JWT keys must be an RSA key pair (tokens are RS256)"
            raise RuntimeError(msg)
        self._private_key = loaded_private
        self._public_key = loaded_public
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._lifetime = timedelta(minutes=settings.access_token_expire_minutes)
        # Another audience: a device token is never an access token, nor the reverse.
        self._device_audience = f"{settings.jwt_audience}/device"
        self._device_lifetime = timedelta(days=settings.device_token_expire_days)
        # token -> what it says; oldest entries are dropped first.
        self._verified: OrderedDict[str, VerifiedToken] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> TokenService:
        return cls(
            private_key=_read_key(settings.jwt_private_key_path, "private"),
            public_key=_read_key(settings.jwt_public_key_path, "public"),
            settings=settings,
        )

    def issue(self, *, user_id: int, scopes: Sequence[str]) -> AccessToken:
        now = int(time.time())
        expires_in = int(self._lifetime.total_seconds())
        claims = {
            "sub": str(user_id),
            "iat": now,
            "nbf": now,
            "exp": now + expires_in,
            "iss": self._issuer,
            "aud": self._audience,
            "jti": uuid.uuid4().hex,
            # OAuth2 scopes, space-separated (RFC 9068 §2.2.3).
            "scope": " ".join(scopes),
        }
        token = jwt.encode(claims, self._private_key, algorithm=ALGORITHM)
        return AccessToken(
            access_token=token,
            expires_in=expires_in,
            scope=" ".join(scopes),
            device_token=self._issue_device(user_id=user_id, now=now),
        )

    def _issue_device(self, *, user_id: int, now: int) -> str:
        claims = {
            "sub": str(user_id),
            "iat": now,
            "exp": now + int(self._device_lifetime.total_seconds()),
            "iss": self._issuer,
            "aud": self._device_audience,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._private_key, algorithm=ALGORITHM)

    def verify_device(self, token: str) -> DeviceToken | None:
        """What a device token says; None unless it is one of ours and unexpired: a client with a
        bad device token is a client without one."""
        if len(token) > MAX_TOKEN_CHARS:
            return None
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=[ALGORITHM],
                audience=self._device_audience,
                issuer=self._issuer,
                options={"require": [*_REQUIRED_CLAIMS, "jti"]},
            )
            return DeviceToken(user_id=int(claims["sub"]), token_id=str(claims["jti"]))
        except (jwt.PyJWTError, ValueError, TypeError):
            return None

    def verify(self, token: str) -> int:
        """The user id the token was issued to; raises `InvalidToken` for anything else."""
        return self.verify_token(token).user_id

    def verify_until(self, token: str) -> tuple[int, float]:
        """`verify`, and when the token expires (a Unix time): long-lived connections end then."""
        verified = self.verify_token(token)
        return verified.user_id, verified.expires_at

    def verify_token(self, token: str) -> VerifiedToken:
        """Everything the token says; raises `InvalidToken` unless it is valid."""
        if len(token) > MAX_TOKEN_CHARS:
            msg = f"Access tokens are at most {MAX_TOKEN_CHARS} characters"
            raise InvalidToken(msg)
        remembered = self._verified.get(token)
        if remembered is not None:
            if time.time() < remembered.expires_at:
                return remembered
            del self._verified[token]
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": _REQUIRED_CLAIMS},
            )
            scope = claims.get("scope")
            if scope is not None and not isinstance(scope, str):
                raise TypeError
            verified = VerifiedToken(
                user_id=int(claims["sub"]),
                expires_at=float(claims["exp"]),
                scopes=frozenset(scope.split())
                if scope is not None
                else _SCOPES_OF_UNSCOPED_TOKENS,
            )
        except jwt.ExpiredSignatureError as exc:
            msg = "The access token has expired: get a new one from /token"
            raise InvalidToken(msg, reason=TOKEN_EXPIRED) from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken from exc
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        self._verified[token] = verified
        return verified
