from __future__ import annotations

from datetime import datetime

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from domain.users.roles import Role
from domain.users.strength import weakness

PASSWORD_MIN_LENGTH = 8
# Argon2 accepts any length; the bound keeps one request from costing a large hash input.
PASSWORD_MAX_LENGTH = 128


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=320, examples=["alice@example.com"])
    password: SecretStr = Field(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        description="8–128 characters, strong enough by zxcvbn's estimate (3 or more of 4).",
        examples=["correct horse"],
    )

    @field_validator("password")
    @classmethod
    def _strong_enough(cls, password: SecretStr, info: ValidationInfo) -> SecretStr:
        email = info.data.get("email")
        problem = weakness(
            password.get_secret_value(), user_inputs=[email, *email.split("@")] if email else []
        )
        if problem is not None:
            raise PydanticCustomError("password_too_weak", problem)
        return password


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    created_at: datetime


class UserProfile(BaseModel):
    """An account as its owner sees it (`GET /users/me/`, GraphQL `User`)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: Role = Field(description="`customer` (everyone who registers) or `staff`.")
    created_at: datetime


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the token expires.")
    scope: str = Field(
        description="The token's OAuth2 scopes, space-separated: `orders`, and `orders:manage` "
        "for staff.",
        examples=["orders"],
    )
    device_token: str = Field(
        description="Send it back as `device_token` with this account's next logins: it lets this "
        "client log in while others' failed guesses have the account rate-limited (its own "
        "failures still count, and five of them (DEVICE_TOKEN_MAX_FAILURES) revoke it). Opaque; "
        "valid 90 days (DEVICE_TOKEN_EXPIRE_DAYS)."
    )
