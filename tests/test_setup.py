"""scripts/setup.sh, the first step of `make run` and `make test`, on this machine's running servers.

Its path on a fresh Debian (installing, starting, creating the role under scram-sha-256) is taken by
the newcomer test (tests/compose/newcomer.py, `make newcomer-test`); here, what a user without root
and without sudo sees, and that a machine already set up is left as it is.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BASE_DATABASE_URL

ROOT = Path(__file__).resolve().parents[1]
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

as_root_only = pytest.mark.skipif(
    os.geteuid() != 0, reason="runs the script as the user nobody, which needs root"
)


def test_the_dockerfile_installs_the_uv_that_make_installs() -> None:
    pinned = re.search(r'^UV_VERSION = "(.+)"$', (ROOT / "scripts/install_uv.py").read_text(), re.M)
    assert pinned is not None
    assert f'"uv=={pinned.group(1)}"' in (ROOT / "Dockerfile").read_text()


@pytest.fixture
def checkout() -> Iterator[Path]:
    """The script and `.env.example` in a folder the user nobody may write to, without `.env`
    (pytest's own temporary folders are closed to other users)."""
    with tempfile.TemporaryDirectory(prefix="orders-setup-test-") as tmp:
        folder = Path(tmp)
        (folder / "scripts").mkdir()
        shutil.copy(ROOT / "scripts/setup.sh", folder / "scripts/setup.sh")
        shutil.copy(ROOT / ".env.example", folder / ".env.example")
        folder.chmod(0o777)
        yield folder


def setup_as_nobody(checkout: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/"}
    return subprocess.run(
        [*NOBODY, str(checkout / "scripts/setup.sh")],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def role_password_hash() -> str:
    """What PostgreSQL stores for the role `orders` (the setup of this run made it), asked as the
    server's own superuser over its socket, as the script does."""
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-d", "postgres"],
        input="SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = 'orders'",
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@as_root_only
def test_without_root_or_sudo_it_stops_and_prints_the_role_creation(checkout: Path) -> None:
    stored = role_password_hash()

    result = setup_as_nobody(checkout)

    assert result.returncode == 1, result
    env = (checkout / ".env").read_text()
    written = re.search(
        r"^DATABASE_URL=postgresql\+asyncpg://orders:(\w+)@127.0.0.1:5432/orders$", env, re.M
    )
    assert written is not None, env
    password = written.group(1)
    assert len(password) == 32
    assert "This needs root once (no sudo here)" in result.stderr
    assert "runuser -u postgres -- psql <<'SQL'" in result.stderr
    assert f"ALTER ROLE orders LOGIN CREATEDB PASSWORD '{password}';" in result.stderr
    assert "CREATE DATABASE orders OWNER orders" in result.stderr
    assert "make up" in result.stderr
    # Every other setting of the example is there, commented out: the defaults stay in force.
    example = (checkout / ".env.example").read_text()
    assert re.findall(r"^[A-Z][A-Z0-9_]*=", env, flags=re.M) == ["DATABASE_URL="]
    assert re.sub(r"^DATABASE_URL=.*$", "", env, flags=re.M) == re.sub(
        r"^([A-Z][A-Z0-9_]*=)",
        r"# \1",
        re.sub(r"^DATABASE_URL=.*$", "", example, flags=re.M),
        flags=re.M,
    )
    assert oct((checkout / ".env").stat().st_mode & 0o777) == "0o600"
    # Nothing was done: the role's password is the one it had.
    assert role_password_hash() == stored


@as_root_only
def test_a_machine_already_set_up_is_left_as_it_is(checkout: Path) -> None:
    env = f"# someone's own settings\nDATABASE_URL={BASE_DATABASE_URL}\n"
    (checkout / ".env").write_text(env)

    result = setup_as_nobody(checkout)

    assert result.returncode == 0, result
    assert (result.stdout, result.stderr) == ("", "")
    assert (checkout / ".env").read_text() == env


COMPOSE_PASSWORDS = (
    "POSTGRES_PASSWORD",
    "RABBITMQ_DEFAULT_PASS",
    "REDIS_PASSWORD",
    "PGADMIN_DEFAULT_PASSWORD",
)


def compose_env(folder: Path) -> dict[str, str]:
    """`make up`'s first step (scripts/compose-env.sh) in `folder`; the `.env` it leaves."""
    (folder / "scripts").mkdir(exist_ok=True)
    shutil.copy(ROOT / "scripts/compose-env.sh", folder / "scripts/compose-env.sh")
    shutil.copy(ROOT / ".env.example", folder / ".env.example")
    subprocess.run([str(folder / "scripts/compose-env.sh")], check=True, capture_output=True)
    lines = (folder / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_make_up_makes_env_with_the_four_compose_passwords(tmp_path: Path) -> None:
    env = compose_env(tmp_path)

    passwords = [env[name] for name in COMPOSE_PASSWORDS]
    assert all(re.fullmatch(r"[0-9a-f]{24}", password) for password in passwords), passwords
    assert len(set(passwords)) == 4
    example = (ROOT / ".env.example").read_text().splitlines()
    for line in example:
        name = line.split("=", 1)[0]
        if "=" in line and not line.startswith("#") and name not in COMPOSE_PASSWORDS:
            assert f"{name}={env[name]}" == line


def test_make_up_keeps_what_env_already_sets(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=mine\nREDIS_PASSWORD=\nAPI_PORT=9000\n")

    env = compose_env(tmp_path)

    assert env["POSTGRES_PASSWORD"] == "mine"
    assert env["API_PORT"] == "9000"
    assert re.fullmatch(r"[0-9a-f]{24}", env["REDIS_PASSWORD"])
    # Missing lines are added, so compose finds every password it requires.
    assert re.fullmatch(r"[0-9a-f]{24}", env["RABBITMQ_DEFAULT_PASS"])
    assert re.fullmatch(r"[0-9a-f]{24}", env["PGADMIN_DEFAULT_PASSWORD"])
