"""A webhook receiver for `make bench` (`python -m bench.webhook_receiver PORT fast|hang LOG`).

`fast` answers 204 at once and appends, per request, "<arrival unix time> <payload timestamp>" to LOG;
`hang` accepts every request and never answers (an endpoint that hangs). A process of its own, so
the load it takes never slows the client that measures.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path

_TIMESTAMP = re.compile(rb'"timestamp":"([^"]+)"')


async def main(port: int, mode: str, log: Path) -> None:
    lines: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                arrived = time.time()
                match = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
                body = await reader.readexactly(int(match.group(1)) if match else 0)
                if mode == "hang":
                    await asyncio.Event().wait()
                stamp = _TIMESTAMP.search(body)
                lines.append(f"{arrived} {stamp.group(1).decode() if stamp else '-'}\n")
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
    print("receiving", flush=True)
    async with server:
        while True:
            await asyncio.sleep(0.2)
            if lines:
                done, lines[:] = list(lines), []
                with log.open("a") as file:
                    file.writelines(done)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])))
