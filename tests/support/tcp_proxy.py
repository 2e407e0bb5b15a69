"""A TCP proxy in the test's event loop that can be cut and restored: a server "goes away" for real
(connections refused or dropped) without stopping the shared server other tests use."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._blackhole = False
        self._cut_on: bytes | None = None
        self.cut = asyncio.Event()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and drop the open ones: the server looks down."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._connections):
            writer.close()
        self._connections.clear()
        if server is not None:
            # Since Python 3.12 this also waits for every connection to close: so after closing them.
            await server.wait_closed()

    def _drop_everything(self) -> None:
        # `stop` without waiting for the server to close: this runs inside one of its connections.
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._connections):
            writer.close()
        self._connections.clear()

    def cut_on(self, pattern: bytes) -> None:
        """The first time a client sends bytes holding `pattern`, drop them and go down (`stop`):
        the server vanishes at that exact moment, e.g. between two commands of one request."""
        self._cut_on = pattern
        self.cut.clear()

    def blackhole(self, enabled: bool = True) -> None:
        """Accept connections and bytes, answer nothing: the server looks hung."""
        self._blackhole = enabled

    async def _handle(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        self._connections.add(client_writer)
        try:
            if self._blackhole:
                await client_reader.read()  # swallow until the client gives up
                client_writer.close()
                self._connections.discard(client_writer)
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            client_writer.close()
            self._connections.discard(client_writer)
            return
        self._connections.add(upstream_writer)
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer, watch=True),
            self._pipe(upstream_reader, client_writer),
        )
        self._connections.discard(client_writer)
        self._connections.discard(upstream_writer)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, watch: bool = False
    ) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                if self._blackhole:
                    continue
                if watch and self._cut_on is not None and self._cut_on in data:
                    self._cut_on = None
                    self._drop_everything()
                    self.cut.set()
                    break
                writer.write(data)
                await writer.drain()
        writer.close()


@asynccontextmanager
async def tcp_proxy(target_host: str, target_port: int) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(target_host, target_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()
