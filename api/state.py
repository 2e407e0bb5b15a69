"""What the API process builds once at startup and every request reads."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.infra.settings import Settings
from domain.users.passwords import PasswordHasher
from domain.users.tokens import TokenService


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    tokens: TokenService
    hasher: PasswordHasher
