from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Enum, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from domain.users.roles import Role
from infra.db import Base, utcnow

# PostgreSQL enum `user_role` of the values ("customer", "staff"), as the API spells them.
ROLE_TYPE = Enum(
    Role, name="user_role", values_callable=lambda roles: [role.value for role in roles]
)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Everyone who registers is a customer; only `orders-admin` makes anyone staff.
    role: Mapped[Role] = mapped_column(
        ROLE_TYPE, default=Role.CUSTOMER, server_default=Role.CUSTOMER.value
    )


# Emails are unique whatever their letter case; lookups use the same expression.
Index("uq_users_email_lower", func.lower(User.email), unique=True)
