"""grant-staff, revoke-staff, create-staff: who is staff (domain/users/roles.py)."""

from __future__ import annotations

import argparse
import getpass
import sys

from pydantic import ValidationError

from admin.base import EXIT_REFUSED, Admin, Command
from domain.users import service
from domain.users.roles import Role
from domain.users.schemas import UserCreate


def _email_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("email", metavar="EMAIL", help="the account's email (any letter case)")


async def grant_staff(args: argparse.Namespace, admin: Admin) -> int:
    async with admin.unit_of_work() as uow:
        change = await service.set_role(uow=uow, email=args.email, role=Role.STAFF)
    if change.changed:
        admin.say(f"{change.user.email} (user {change.user.id}) is now staff")
    else:
        admin.say(f"{change.user.email} (user {change.user.id}) was already staff: nothing changed")
    return 0


async def revoke_staff(args: argparse.Namespace, admin: Admin) -> int:
    async with admin.unit_of_work() as uow:
        change = await service.set_role(uow=uow, email=args.email, role=Role.CUSTOMER)
    if change.changed:
        admin.say(
            f"{change.user.email} (user {change.user.id}) is now a customer; "
            "tokens already issued lose staff powers within 5 seconds"
        )
    else:
        admin.say(f"{change.user.email} (user {change.user.id}) was not staff: nothing changed")
    return 0


def _password(admin: Admin, email: str) -> str | None:
    """ORDERS_ADMIN_PASSWORD (empty counts as unset), else asked twice on the terminal; None when
    neither is possible."""
    configured = admin.settings.admin.password
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value()
    if not sys.stdin.isatty():
        return None
    password = getpass.getpass(f"Password for {email}: ")
    if getpass.getpass("The same password again: ") != password:
        admin.complain("the passwords differ; nothing changed")
        return None
    return password


async def create_staff(args: argparse.Namespace, admin: Admin) -> int:
    password = _password(admin, args.email)
    if password is None:
        admin.complain("no password: set ORDERS_ADMIN_PASSWORD or run on a terminal")
        return EXIT_REFUSED
    try:
        # Registration's own rules (email, password length and strength).
        data = UserCreate.model_validate({"email": args.email, "password": password})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        admin.complain(f"refused: {problems}")
        return EXIT_REFUSED
    async with admin.unit_of_work() as uow:
        change = await service.create_staff(uow=uow, hasher=admin.hasher, data=data)
    user = change.user
    if change.created:
        admin.say(f"created staff account {user.email} (user {user.id})")
    elif change.changed:
        admin.say(
            f"{user.email} (user {user.id}) already had an account: now staff, password unchanged"
        )
    else:
        admin.say(f"{user.email} (user {user.id}) was already staff: nothing changed")
    return 0


COMMANDS = [
    Command("grant-staff", "make the account with EMAIL staff", _email_argument, grant_staff),
    Command(
        "revoke-staff",
        "make the staff account with EMAIL a customer",
        _email_argument,
        revoke_staff,
    ),
    Command(
        "create-staff",
        "create a staff account with EMAIL; the password from ORDERS_ADMIN_PASSWORD or asked on "
        "the terminal",
        _email_argument,
        create_staff,
    ),
]
