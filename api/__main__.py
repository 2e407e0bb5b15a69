"""`python -m api [uvicorn options]`: the API process, as every deployment starts it.

uvicorn's own command line with this service's choices: the app factory, the request-head limit
(api/server.py), WebSocket messages bounded by WS_MAX_MESSAGE_BYTES (larger ones close the socket
with 1009), no uvicorn proxy headers (TRUSTED_PROXIES decides, api/main.py), no per-message
compression. Options given on the command line (`--host`, `--port`, ...) come after these, so
they win.
"""

from __future__ import annotations

import sys

from uvicorn.main import main as uvicorn_main

from api.server import check_protocol
from api.settings import get_api_settings


def main() -> None:
    check_protocol()
    settings = get_api_settings()
    uvicorn_main(
        args=[
            "api.main:create_app",
            "--factory",
            "--http",
            "api.server:HeadLimitedHttpTools",
            "--ws-max-size",
            str(settings.server.ws_max_message_bytes),
            "--no-proxy-headers",
            "--ws-per-message-deflate",
            "false",
            *sys.argv[1:],
        ],
        prog_name="python -m api",
    )


if __name__ == "__main__":
    main()
