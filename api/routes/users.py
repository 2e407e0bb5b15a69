"""The caller's own account."""

from __future__ import annotations

from fastapi import Depends

from api.deps import AppResources, CurrentUserId
from api.ratelimit import limit_per_user
from api.routing import SlashTolerantRouter
from api.schemas import error_responses
from domain.users import service
from domain.users.schemas import UserProfile

router = SlashTolerantRouter(
    prefix="/users", tags=["users"], dependencies=[Depends(limit_per_user)]
)


@router.get("/me/", responses=error_responses(401, 429))
async def get_me(user_id: CurrentUserId, resources: AppResources) -> UserProfile:
    """Your account: id, email, `role` (`customer` or `staff`) and when it was created."""
    async with resources.unit_of_work(read_only=True) as uow:
        return await service.get_profile(uow=uow, user_id=user_id)
