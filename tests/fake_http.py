"""The HTTP side every loopback fake shares: a server on 127.0.0.1 in its own thread that reads a
request, lets the fake answer it (status, extra headers, JSON body, delay), waits the delay (cut
short when the fake stops) and sends the JSON."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self



@dataclass
class Fault:
    """What a fake does to the next matching request instead of (or after) serving it: `status`
    answers with that error (a 429 carries a reset `reset_in` seconds from now, in the platform's
    own header); `status=None` with `delay` serves the request (a post is created) but answers
    `delay` seconds late."""

    status: int | None = None
    reset_in: float = 0.0
    delay: float = 0.0


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


class LoopbackServer:
    """A fake API's server side: `_listen(answer, name)` starts it on a free 127.0.0.1 port;
    `stop()` (or leaving the `with` block) ends it, cutting delayed answers short."""

    port: int

    def _listen(self, answer: Answer, name: str) -> None:
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), json_handler(answer, self._stopping))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         name=name, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop serving; delayed responses still pending are cut short."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
