"""`orders-admin`: operators make and unmake staff; each command says what changed, twice is harmless."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import UserFactory
from tests.support.staff import login, orders_admin


async def _role(engine: AsyncEngine, email: str) -> str | None:
    async with engine.connect() as connection:
        role = await connection.scalar(
            text("SELECT role::text FROM users WHERE lower(email) = lower(:email)"),
            {"email": email},
        )
    return None if role is None else str(role)


async def test_grant_staff_makes_a_customer_staff_and_twice_is_harmless(
    users: UserFactory, database_url: str, clean_db: AsyncEngine
) -> None:
    alice = await users.create("alice@example.com")

    first = await orders_admin(database_url, "grant-staff", "ALICE@example.com")
    second = await orders_admin(database_url, "grant-staff", "alice@example.com")

    assert first == (0, f"alice@example.com (user {alice.id}) is now staff\n", "")
    assert second[0] == 0
    assert second[1].count("\n") == 1
    assert "already staff" in second[1]
    assert await _role(clean_db, "alice@example.com") == "staff"


async def test_revoke_staff_makes_staff_a_customer_and_twice_is_harmless(
    users: UserFactory, database_url: str, clean_db: AsyncEngine
) -> None:
    bob = await users.create("bob@example.com")
    await orders_admin(database_url, "grant-staff", bob.email)

    first = await orders_admin(database_url, "revoke-staff", bob.email)
    second = await orders_admin(database_url, "revoke-staff", bob.email)

    assert first[0] == 0
    assert "is now a customer" in first[1]
    assert second[0] == 0
    assert "was not staff" in second[1]
    assert await _role(clean_db, bob.email) == "customer"


@pytest.mark.parametrize("command", ["grant-staff", "revoke-staff"])
async def test_an_unknown_email_exits_1_with_a_clear_message(
    command: str, database_url: str, clean_db: AsyncEngine
) -> None:
    status, out, err = await orders_admin(database_url, command, "nobody@example.com")

    assert status == 1
    assert out == ""
    assert err == "orders-admin: No account with the email nobody@example.com\n"


async def test_create_staff_takes_the_password_from_the_environment(
    client: httpx.AsyncClient,
    database_url: str,
    clean_db: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERS_ADMIN_PASSWORD", "a-long-staff-password")

    first = await orders_admin(database_url, "create-staff", "carol@example.com")
    second = await orders_admin(database_url, "create-staff", "carol@example.com")

    assert first[0] == 0
    assert first[1].startswith("created staff account carol@example.com (user ")
    assert second[0] == 0
    assert "already staff" in second[1]
    headers = await login(client, "carol@example.com", "a-long-staff-password")
    me = await client.get("/users/me/", headers=headers)
    assert me.json()["role"] == "staff"


async def test_create_staff_refuses_a_password_registration_would_refuse(
    database_url: str, clean_db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_ADMIN_PASSWORD", "short")

    status, out, err = await orders_admin(database_url, "create-staff", "dave@example.com")

    assert status == 1
    assert out == ""
    assert "password" in err
    assert await _role(clean_db, "dave@example.com") is None


async def test_create_staff_of_an_existing_customer_makes_them_staff(
    users: UserFactory, database_url: str, clean_db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    erin = await users.create("erin@example.com")
    monkeypatch.setenv("ORDERS_ADMIN_PASSWORD", "another-long-password")

    status, out, _ = await orders_admin(database_url, "create-staff", erin.email)

    assert status == 0
    assert "now staff, password unchanged" in out
    assert await _role(clean_db, erin.email) == "staff"


def test_the_console_script_is_installed_and_reads_database_url(database_url: str) -> None:
    script = Path(sys.executable).parent / "orders-admin"
    env = {**os.environ, "DATABASE_URL": database_url}

    completed = subprocess.run(
        [str(script), "grant-staff", "nobody@example.com"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 1, completed.stderr
    assert "No account with the email nobody@example.com" in completed.stderr
