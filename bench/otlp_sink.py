"""`python -m bench.otlp_sink PORT`: a stand-in OTLP/HTTP collector for `make bench`.

Accepts span exports on POST /v1/traces the way a collector does (decodes them, answers 200 with an
empty ExportTraceServiceResponse), keeps nothing but counts, and reports them on GET /: so the traced
scenario pays the whole cost of exporting, and the report can say how many spans left the API.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_lock = threading.Lock()
_counts = {"exports": 0, "spans": 0}


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        spans = sum(
            len(scope.spans)
            for resource in request.resource_spans
            for scope in resource.scope_spans
        )
        with _lock:
            _counts["exports"] += 1
            _counts["spans"] += spans
        self._answer(b"", "application/x-protobuf")

    def do_GET(self) -> None:
        with _lock:
            self._answer(json.dumps(_counts).encode(), "application/json")

    def _answer(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: one line per export would be the sink's main cost."""


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), _Sink).serve_forever()
