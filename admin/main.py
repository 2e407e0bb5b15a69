"""`orders-admin <command> …`: operators' commands, installed as a console script of the project.

Each command reads the same settings as the processes (`DATABASE_URL`, `.env`), runs in one unit of
work (committed when it succeeds), prints one line saying what it did and exits 0; a domain error
(an unknown email, a refused password) prints its message to stderr and exits 1.

Adding a command: a module of this package with a `COMMANDS` list of `Command`s (admin/base.py),
named in `COMMAND_MODULES` below.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import ModuleType

from admin import retention, roles
from admin.base import EXIT_REFUSED, Admin, Command
from admin.settings import AdminProcessSettings
from domain.errors import DomainError
from domain.uow import UnitOfWork
from infra.db import create_engine, create_session_factory

COMMAND_MODULES: tuple[ModuleType, ...] = (roles, retention)


def commands() -> list[Command]:
    return [command for module in COMMAND_MODULES for command in module.COMMANDS]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="orders-admin",
        description="Operators' commands for the orders service (reads DATABASE_URL and .env).",
    )
    subparsers = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands():
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.arguments(sub)
        sub.set_defaults(run=command.run)
    return top


@asynccontextmanager
async def _admin(settings: AdminProcessSettings) -> AsyncIterator[Admin]:
    engine = create_engine(settings.database)
    session_factory = create_session_factory(engine)
    admin = Admin(settings=settings, new_unit_of_work=lambda: UnitOfWork(session_factory))
    try:
        yield admin
    finally:
        admin.close()
        await engine.dispose()


async def run(argv: Sequence[str] | None, settings: AdminProcessSettings | None = None) -> int:
    """Run one command line; its exit status."""
    args = parser().parse_args(argv)
    async with _admin(settings or AdminProcessSettings()) as admin:
        try:
            status: int = await args.run(args, admin)
        except DomainError as exc:
            admin.complain(str(exc))
            return EXIT_REFUSED
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """The console script `orders-admin`."""
    return asyncio.run(run(argv))


if __name__ == "__main__":
    sys.exit(main())
