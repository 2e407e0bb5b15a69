from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.users.models import User
from domain.users.roles import Role


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: int) -> User | None:
        return await self._session.get(User, user_id)

    async def get_many(self, user_ids: Sequence[int]) -> Sequence[User]:
        stmt = select(User).where(User.id.in_(user_ids))
        return (await self._session.execute(stmt)).scalars().all()

    async def get_by_email(self, email: str) -> User | None:
        stmt = select(User).where(func.lower(User.email) == email.lower())
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def add(self, user: User) -> None:
        self._session.add(user)
        await self._session.flush()

    async def role_of(self, user_id: int) -> Role | None:
        """The user's role now (None: no such user), one column of one row."""
        stmt = select(User.role).where(User.id == user_id)
        return (await self._session.execute(stmt)).scalar_one_or_none()
