"""What every `orders-admin` command is made of: its declaration (`Command`) and what it may use
(`Admin`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from admin.settings import AdminProcessSettings
from domain.uow import UnitOfWork
from domain.users.passwords import PasswordHasher

# A refusal the operator can act on (unknown email, bad password); argparse's own is 2.
EXIT_REFUSED = 1


@dataclass
class Admin:
    """What a command may use: the settings, units of work on the database, the password hasher,
    `say` for its one line of output and `complain` for an error line."""

    settings: AdminProcessSettings
    new_unit_of_work: Callable[[], UnitOfWork]
    _hasher: PasswordHasher | None = field(default=None, init=False)

    def unit_of_work(self) -> UnitOfWork:
        return self.new_unit_of_work()

    @property
    def hasher(self) -> PasswordHasher:
        if self._hasher is None:
            self._hasher = PasswordHasher()
        return self._hasher

    def say(self, line: str) -> None:
        print(line)  # noqa: T201 - the command's one line of output, as the issue specifies

    def complain(self, line: str) -> None:
        print(f"orders-admin: {line}", file=sys.stderr)  # noqa: T201 - the command's error line

    def close(self) -> None:
        if self._hasher is not None:
            self._hasher.close()


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    # Declares the command's own arguments on its parser.
    arguments: Callable[[argparse.ArgumentParser], None]
    # Does the work; returns the exit status.
    run: Callable[[argparse.Namespace, Admin], Awaitable[int]]
