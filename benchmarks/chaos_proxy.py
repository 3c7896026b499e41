"""A TCP proxy on 127.0.0.1 whose every connection can be cut at once, for `benchmarks.chaos`.

    proxy = CutProxy(("127.0.0.1", 5432))   # listens on 127.0.0.1:proxy.port
    proxy.cut()                             # reset every connection going through it
    proxy.close()

Threads, two per connection (plenty for one service's pool). A cut resets both sides (SO_LINGER 0),
as a network failure or a restarted server would; closing either side closes the other, so a
killed client frees its server connection (and PostgreSQL its session locks) at once.
"""

from __future__ import annotations

import socket
import struct
import threading
from contextlib import suppress

Pair = tuple[socket.socket, socket.socket]
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


class CutProxy:
    """Forward connections on 127.0.0.1:`port` to `upstream`; `cut()` drops them all."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.accepted = 0
        self.cuts = 0  # cut() calls that found at least one connection
        self.connections_cut = 0
        self._lock = threading.Lock()
        self._pairs: set[Pair] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, name="cut-proxy", daemon=True).start()

    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def cut(self) -> int:
        """Reset every open connection; returns how many there were."""
        with self._lock:
            pairs = list(self._pairs)
            for pair in pairs:
                self._drop(pair, reset=True)
            if pairs:
                self.cuts += 1
                self.connections_cut += len(pairs)
        return len(pairs)

    def close(self) -> None:
        """Stop listening and drop what is open."""
        with suppress(OSError):
            self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = (client, server)
            with self._lock:
                self._pairs.add(pair)
                self.accepted += 1
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target, pair), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, pair: Pair) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._drop(pair, reset=False)

    def _drop(self, pair: Pair, *, reset: bool) -> None:
        """Close both sockets of `pair` once (call with the lock held)."""
        if pair not in self._pairs:
            return
        self._pairs.discard(pair)
        for sock in pair:
            with suppress(OSError):
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()
