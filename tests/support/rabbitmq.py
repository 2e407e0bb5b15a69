"""A throwaway RabbitMQ virtual host per test run (rabbitmqctl: the management plugin is not enabled)."""

from __future__ import annotations

import asyncio
import uuid

from yarl import URL


async def _rabbitmqctl(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        msg = f"rabbitmqctl {' '.join(args)} failed: {output.decode(errors='replace')}"
        raise RuntimeError(msg)


async def create_vhost(base_url: str) -> str:
    """A new vhost, with full permissions for the URL's user; returns the AMQP URL pointing at it."""
    url = URL(base_url)
    name = f"orders_test_{uuid.uuid4().hex[:10]}"
    await _rabbitmqctl("add_vhost", name)
    await _rabbitmqctl("set_permissions", "-p", name, url.user or "guest", ".*", ".*", ".*")
    return str(url.with_path(f"/{name}"))


async def delete_vhost(url: str) -> None:
    await _rabbitmqctl("delete_vhost", URL(url).path.lstrip("/"))


async def close_all_connections(url: str) -> None:
    """The broker closes every client connection of the URL's vhost, as when it restarts."""
    await _rabbitmqctl(
        "close_all_connections", "--vhost", URL(url).path.lstrip("/"), "test: broker restart"
    )
