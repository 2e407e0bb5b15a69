"""`make backup` / `make restore FILE=…`: the database named in DATABASE_URL, with pg_dump's custom
format (compressed, restorable table by table with pg_restore).

    python -m scripts.backup backup [--file PATH]    # default backups/orders-<UTC time>.dump
    python -m scripts.backup restore PATH            # into DATABASE_URL's database, created if missing

The password goes to pg_dump/pg_restore through PGPASSWORD, never on their command line. A
multi-host DATABASE_URL works as for the service: libpq picks the read-write primary.
A restore replaces what the target database holds of the dump's objects (--clean), in one
transaction: it either restores everything or changes nothing. Then run `make migrate` if the dump
is older than the code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from infra.db import asyncpg_dsn
from infra.settings import DatabaseSettings, get_settings
from scripts import create_database


def _libpq(database: DatabaseSettings) -> tuple[str, dict[str, str]]:
    """DATABASE_URL as libpq's URI without its password, and the environment carrying it."""
    url = make_url(database.url)
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    without_password = database.model_copy(
        update={"url": url.set(password=None).render_as_string(hide_password=False)}
    )
    return asyncpg_dsn(without_password), environment


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        msg = f"{name} not found: install PostgreSQL's client tools (Debian: postgresql-client)"
        raise FileNotFoundError(msg)
    return path


def backup(database: DatabaseSettings, file: Path) -> Path:
    file.parent.mkdir(parents=True, exist_ok=True)
    dsn, environment = _libpq(database)
    subprocess.run(  # noqa: S603 - our argv; DATABASE_URL is the operator's own
        [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={file}", f"--dbname={dsn}"],
        env=environment,
        check=True,
    )
    return file


def restore(database: DatabaseSettings, file: Path) -> None:
    if not file.is_file():
        msg = f"no such backup: {file}"
        raise FileNotFoundError(msg)
    asyncio.run(create_database.create(database.url))
    dsn, environment = _libpq(database)
    subprocess.run(  # noqa: S603 - our argv; DATABASE_URL is the operator's own
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={dsn}",
            str(file),
        ],
        env=environment,
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.backup", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    dump = commands.add_parser("backup", help="pg_dump (custom format) of DATABASE_URL's database")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dump.add_argument("--file", type=Path, default=Path("backups") / f"orders-{stamp}.dump")
    load = commands.add_parser("restore", help="pg_restore a backup into DATABASE_URL's database")
    load.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    database = get_settings().database
    try:
        if args.command == "backup":
            written = backup(database, args.file)
            sys.stdout.write(f"backup written to {written}\n")
        else:
            restore(database, args.file)
            sys.stdout.write(f"{args.file} restored into {make_url(database.url).database}\n")
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
