"""A fake Bluesky PDS on 127.0.0.1 that the real atproto client logs in to (no pytest needed).

    fake = FakeBluesky(handle="nowbot.test", password="app-pass")
    client = Client(base_url=fake.base_url)      # atproto appends /xrpc
    fake.fail("com.atproto.repo.createRecord", 429, reset_in=60)
    fake.stop()

XRPC methods: `com.atproto.server.createSession` (counted in `logins`; a wrong password gets 401),
`refreshSession`, `repo.uploadBlob` (at most `BLOB_LIMIT` bytes), `repo.createRecord` (a key
already used answers 500, as upstream does), `repo.getRecord` (400 RecordNotFound) and
`repo.listRecords` (newest first). Tokens look like JWTs (atproto reads their `exp`); an expired or
unknown access token gets 400 ExpiredToken / InvalidToken. The session's DID document is left out
so the client stays on this address. Faults queued with `fail`: an error status (429 carries
`ratelimit-reset` = now + `reset_in`), or `status=None` with `delay`: served, answered late.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections import deque
from typing import Any

from fake_http import Fault, LoopbackServer
from urllib.parse import parse_qsl, urlsplit

BLOB_LIMIT = 2_000_000
BLOB_CID = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"
RECORD_CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
METHODS = {"com.atproto.server.createSession", "com.atproto.server.refreshSession",
           "com.atproto.repo.uploadBlob", "com.atproto.repo.createRecord",
           "com.atproto.repo.getRecord", "com.atproto.repo.listRecords"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeBluesky(LoopbackServer):
    """A running fake PDS; state is plain attributes guarded by `lock`."""

    def __init__(self, handle: str = "nowbot.test", password: str = "fake-app-password",
                 token_lifetime: float = 7200.0) -> None:
        self.handle, self.password, self.token_lifetime = handle, password, token_lifetime
        self.did = "did:plc:fakenowbot0000000000000"
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, Any]] = {}  # rkey -> record value (insertion order)
        self.blobs: list[bytes] = []
        self.logins = 0
        self.access: set[str] = set()
        self.refresh: set[str] = set()
        self.calls: list[tuple[str, int]] = []
        self.faults: dict[str, deque[Fault]] = {}
        self._serial = itertools.count(1)
        self._listen(self.answer, "fake-bluesky")

    def fail(self, method: str, status: int | None = None, *, times: int = 1, reset_in: float = 0.0,
             delay: float = 0.0) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}")
        with self.lock:
            self.faults.setdefault(method, deque()).extend(Fault(status, reset_in, delay) for _ in range(times))

    def count(self, method: str) -> int:
        with self.lock:
            return sum(1 for name, _ in self.calls if name == method)

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (as when it outlives its `exp`)."""
        with self.lock:
            self.access.clear()

    def _jwt(self, scope: str) -> str:
        now = int(time.time())
        payload = {"scope": scope, "sub": self.did, "iat": now, "exp": now + int(self.token_lifetime),
                   "jti": str(next(self._serial))}
        return ".".join([_b64(b'{"alg":"HS256","typ":"at+jwt"}'), _b64(json.dumps(payload).encode()),
                         _b64(b"fake-signature")])

    def _tokens(self) -> dict[str, Any]:
        access, refresh = self._jwt("com.atproto.access"), self._jwt("com.atproto.refresh")
        self.access.add(access)
        self.refresh.add(refresh)
        return {"did": self.did, "handle": self.handle, "accessJwt": access, "refreshJwt": refresh,
                "active": True}

    # --- serving -----------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, dict[str, str], Any, float]:
        split = urlsplit(target)
        name = split.path.removeprefix("/xrpc/")
        params = dict(parse_qsl(split.query))
        status, extra, payload, delay = self._answer(name, headers, params, body)
        with self.lock:
            self.calls.append((name, status))
        return status, extra, payload, delay

    def _answer(self, name, headers, params, body):  # type: ignore[no-untyped-def]
        if name not in METHODS:
            return 501, {}, {"error": "MethodNotImplemented", "message": name}, 0.0
        with self.lock:
            queued = self.faults.get(name)
            fault = queued.popleft() if queued else None
        if fault and fault.status:
            extra = {}
            if fault.status == 429:
                extra = {"ratelimit-limit": "30", "ratelimit-remaining": "0",
                         "ratelimit-reset": str(int(time.time() + fault.reset_in)),
                         "ratelimit-policy": "30;w=300"}
            return fault.status, extra, {"error": "RateLimitExceeded" if fault.status == 429
                                         else "InternalServerError", "message": "fake fault"}, 0.0
        token = headers.get("authorization", "").removeprefix("Bearer ")
        with self.lock:
            if name == "com.atproto.server.createSession":
                request = json.loads(body or b"{}")
                if request.get("identifier") not in (self.handle, self.did) or request.get("password") != self.password:
                    return 401, {}, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}, 0.0
                self.logins += 1
                return 200, {}, self._tokens(), 0.0
            if name == "com.atproto.server.refreshSession":
                if token not in self.refresh:
                    return 400, {}, {"error": "ExpiredToken", "message": "Token has expired"}, 0.0
                self.refresh.discard(token)
                return 200, {}, self._tokens(), 0.0
            if token not in self.access:
                return 400, {}, {"error": "ExpiredToken", "message": "Token has expired"}, 0.0
            status, payload = self._serve(name, headers, params, body)
        return status, {}, payload, fault.delay if fault else 0.0

    def _serve(self, name, headers, params, body):  # type: ignore[no-untyped-def]
        if name == "com.atproto.repo.uploadBlob":
            if len(body) > BLOB_LIMIT:
                return 400, {"error": "BlobTooLarge", "message": f"over {BLOB_LIMIT} bytes"}
            self.blobs.append(body)
            return 200, {"blob": {"$type": "blob", "ref": {"$link": BLOB_CID},
                                  "mimeType": headers.get("content-type", "image/png"), "size": len(body)}}
        if name == "com.atproto.repo.createRecord":
            request = json.loads(body)
            rkey = request.get("rkey") or f"auto{next(self._serial)}"
            if request.get("repo") != self.did:
                return 400, {"error": "InvalidRequest", "message": "repo is not yours"}
            if rkey in self.records:
                return 500, {"error": "InternalServerError", "message": "Internal Server Error"}
            text = request["record"].get("text", "")
            if len(text) > 3000:
                return 400, {"error": "InvalidRecord", "message": "text too long"}
            self.records[rkey] = request["record"]
            return 200, {"uri": self._uri(rkey), "cid": RECORD_CID}
        if name == "com.atproto.repo.getRecord":
            record = self.records.get(params.get("rkey", ""))
            if record is None:
                return 400, {"error": "RecordNotFound", "message": "Could not locate record"}
            return 200, {"uri": self._uri(params["rkey"]), "cid": RECORD_CID, "value": record}
        newest = list(reversed(self.records.items()))[: int(params.get("limit", 50))]
        return 200, {"records": [{"uri": self._uri(k), "cid": RECORD_CID, "value": v} for k, v in newest]}

    def _uri(self, rkey: str) -> str:
        return f"at://{self.did}/app.bsky.feed.post/{rkey}"

    def posted_texts(self) -> list[str]:
        with self.lock:
            return [record.get("text", "") for record in self.records.values()]

