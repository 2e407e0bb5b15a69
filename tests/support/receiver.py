"""A real HTTP receiver on 127.0.0.1 for the webhook tests: it records every request and answers as
the test says (a status, headers, or never: a hanging endpoint), in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def verified(self, secret: str) -> object:
        """The body as JSON once `standardwebhooks` has verified the signature with `secret`."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    # Accept the request and never answer.
    hang: bool = False


Responder = Callable[[Received], Answer]


class Receiver:
    """With `tls` (a server context), an HTTPS receiver named `localhost` in its URL."""

    def __init__(self, respond: Responder | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.respond: Responder = respond or (lambda _request: Answer())
        self.tls = tls
        self.requests: list[Received] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        if self.tls is not None:
            return f"https://localhost:{self.port}/hooks"
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                method, path, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                received = Received(method=method, path=path, headers=headers, body=body)
                self.requests.append(received)
                answer = self.respond(received)
                if answer.hang:
                    await asyncio.Event().wait()
                writer.write(_response(answer))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def wait_for(self, count: int, *, within: float = 30) -> list[Received]:
        deadline = time.monotonic() + within
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                msg = f"{len(self.requests)} request(s), not {count}, within {within}s"
                raise AssertionError(msg)
            await asyncio.sleep(0.02)
        return list(self.requests)


def _response(answer: Answer) -> bytes:
    """The answer as HTTP/1.1 bytes. A 204 or 304 has neither body nor length (RFC 9110): a client
    would read a body sent after one as the start of the next response."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in answer.headers.items())
    if answer.status in (204, 304):
        return f"HTTP/1.1 {answer.status} X\r\n{extra}\r\n".encode()
    length = f"content-length: {len(answer.body)}\r\n"
    return f"HTTP/1.1 {answer.status} X\r\n{length}{extra}\r\n".encode() + answer.body
