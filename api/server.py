"""The API process's HTTP server: uvicorn, with the limits uvicorn leaves out.

uvicorn's httptools protocol (the fast one, chosen when httptools is installed) reads request headers
of any size: an 8 MB `Authorization` header was parsed and handed to the app. `HeadLimitedHttpTools`
refuses a request whose head (request line and headers) exceeds `MAX_HEAD_BYTES` with 431 (a
problem document, code BAD_REQUEST, reason HEADERS_TOO_LARGE), before
the app sees it, and whatever way the head arrives: at once (counted as the parser reports each
header) or trickled in pieces (counted as bytes come while the head is still incomplete).

It subclasses uvicorn's `HttpToolsProtocol`, which is not public API: uvicorn is pinned `~=` and
`check_protocol()` fails at startup when the methods overridden here move
(docs/decisions/0001-request-head-limit.md).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.problem_details import PROBLEM_JSON, problem_body
from edge.errors import HEADERS_TOO_LARGE, ErrorCode

# Request line and headers together; browsers send a few KB, tokens are at most 4 KB (edge/auth.py).
MAX_HEAD_BYTES = 16 * 1024
_TOO_LARGE = "Request headers too large"

logger = logging.getLogger(__name__)


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops parsing and reports an error."""


class HeadLimitedHttpTools(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Bytes of the current head as the parser has reported them (URL, names, values).
        self._head_parsed = 0
        # Bytes received while the current head is incomplete (every one of them is head).
        self._head_received = 0
        self._in_head = True
        self._refused = False

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._refused:
            return
        if self._in_head:
            self._head_received += len(data)
            if self._head_received > MAX_HEAD_BYTES:
                self._refuse()
        else:
            self._head_received = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_parsed = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # httptools reports an exception raised in a callback as a parse error, answered 400 here.
        if self._head_parsed > MAX_HEAD_BYTES:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _count(self, size: int) -> None:
        self._head_parsed += size
        if self._head_parsed > MAX_HEAD_BYTES:
            raise _HeadTooLarge

    def _refuse(self) -> None:
        self._refused = True
        logger.info("request refused: headers over %d bytes", MAX_HEAD_BYTES)
        path = getattr(self, "url", b"").partition(b"?")[0].decode("latin-1")
        problem = problem_body(
            {"path": path},
            code=ErrorCode.BAD_REQUEST,
            detail=_TOO_LARGE,
            status_code=431,
            reason=HEADERS_TOO_LARGE,
        )
        body = json.dumps(problem).encode()
        self.transport.write(
            b"".join(
                [
                    STATUS_LINE[431],
                    b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
                    b"content-length: " + str(len(body)).encode() + b"\r\n",
                    b"connection: close\r\n\r\n",
                    body,
                ]
            )
        )
        self.transport.close()


_OVERRIDDEN = (
    "data_received",
    "on_message_begin",
    "on_url",
    "on_header",
    "on_headers_complete",
    "send_400_response",
)


def check_protocol() -> None:
    """Fail loudly if uvicorn's protocol no longer has the methods this one hooks into."""
    missing = [name for name in _OVERRIDDEN if not callable(getattr(HttpToolsProtocol, name, None))]
    if missing or 431 not in STATUS_LINE:
        msg = f"uvicorn's HttpToolsProtocol changed ({missing}): re-check api/server.py"
        raise RuntimeError(msg)
