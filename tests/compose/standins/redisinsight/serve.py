"""Stand-in for RedisInsight (a test fixture): every GET on port 5540 answers 200 with this notice."""

import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NOTICE = b"RedisInsight stand-in (test fixture): answers HTTP only; it is not RedisInsight.\n"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(NOTICE)))
        self.end_headers()
        self.wfile.write(NOTICE)


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
# Every interface of the container; compose publishes the port on 127.0.0.1 only.
ThreadingHTTPServer(("0.0.0.0", 5540), Handler).serve_forever()  # noqa: S104
