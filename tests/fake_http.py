"""The HTTP side every loopback fake shares: read a request, let the fake answer it (status, extra
headers, JSON body, delay), wait the delay (cut short when the fake stops), send the JSON."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

Answer = Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], Any, float]]


def json_handler(answer: Answer, stopping: threading.Event) -> type[BaseHTTPRequestHandler]:
    """A request handler class that serves `answer(method, target, headers, body)` as JSON."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _respond(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload, delay = answer(self.command, self.path, headers, body)
            if delay and stopping.wait(delay):
                return
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout): what was done stays done

        do_GET = do_POST = do_DELETE = _respond

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # keep test output quiet

    return Handler
