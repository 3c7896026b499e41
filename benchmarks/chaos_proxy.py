"""A TCP proxy on 127.0.0.1 for `benchmarks.chaos`: every connection through it can be cut at
once, and the server behind it made to hang or to refuse connections, on the same port.

    proxy = CutProxy(("127.0.0.1", 5432))   # listens on 127.0.0.1:proxy.port
    proxy.cut()                             # reset every connection going through it
    proxy.hang()                            # connections are accepted, nothing is ever answered
    proxy.refuse()                          # the port is closed: connecting is refused
    proxy.restore()                         # forwarding again, on the same port
    proxy.close()

Threads, two per connection (plenty for one service's pool). A cut resets both sides (SO_LINGER 0),
as a network failure or a restarted server would; closing either side closes the other, so a
killed client frees its server connection (and PostgreSQL its session locks) at once. While it
hangs, what either side sends is dropped, so open connections hang too; `restore()` resets the
connections that lost bytes that way, as a server coming back would.
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
        self._hanging = False
        self._listener: socket.socket | None = None
        self.port = 0
        self._listen()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def cut(self) -> int:
        """Reset every open connection; returns how many there were."""
        with self._lock:
            count = self._drop_all()
            if count:
                self.cuts += 1
                self.connections_cut += count
        return count

    def hang(self) -> None:
        """From now on accept connections but forward nothing either way, as a server that hangs."""
        self._hanging = True

    def refuse(self) -> None:
        """Close the port (connecting is refused) and reset what is open."""
        self._close_listener()
        with self._lock:
            self._drop_all()

    def restore(self) -> None:
        """Forward again on the same port; connections that hung are reset."""
        with self._lock:
            if self._hanging:
                self._hanging = False
                self._drop_all()
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        """Stop listening and drop what is open."""
        self._close_listener()
        self.cut()

    def _listen(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR on
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._listener,), name="cut-proxy",
                         daemon=True).start()

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone may not
            with suppress(OSError):
                listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
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
                threading.Thread(target=self._pump, args=(source, target, pair),
                                 daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, pair: Pair) -> None:
        try:
            while data := source.recv(65536):
                if not self._hanging:
                    target.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._drop(pair, reset=False)

    def _drop_all(self) -> int:
        """Reset every open connection (call with the lock held); how many there were."""
        pairs = list(self._pairs)
        for pair in pairs:
            self._drop(pair, reset=True)
        return len(pairs)

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
