"""A fake Discord on 127.0.0.1 that the real discord.py client logs in to.

It speaks the REST API at `Route.BASE` and the gateway websocket at `DiscordWebSocket.DEFAULT_GATEWAY`
(HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeat ACKs, RESUME), dispatches INTERACTION_CREATE with
real interaction payloads (attachment options and message commands included, uploads served
for download), enforces the 3-second rule and one first response per interaction, and
records every REST call (with multipart files parsed) so tests can assert on what the bot sent.

Sharded, it has a guild per shard at least (guild `i` on shard `i % shard_count`, as Discord
assigns them) and delivers each guild's interactions to the connection of its shard, wherever
that runs. `python tests/fake_discord.py URL ARGS...` runs `nowbot ARGS...` pointed at the fake
serving at URL (a shard process of a test).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any

import yarl
from aiohttp import WSMsgType, web
from discord.gateway import DiscordWebSocket
from discord.http import Route

DISCORD_EPOCH_MS = 1420070400000
FIRST_RESPONSE_DEADLINE_S = 3.0
_ids = count(1)


def snowflake() -> int:
    """A new Discord-style id (time-ordered)."""
    return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) + next(_ids) % 4096


@dataclass(frozen=True)
class FilePart:
    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Call:
    """One REST request the bot made; `at` is `time.perf_counter()` when it arrived."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[FilePart]
    at: float
    status: int = 200

    @property
    def flags(self) -> int:
        body = self.json or {}
        return int((body.get("data") or body).get("flags") or 0)


@dataclass
class Member:
    """A guild member the fake can send interactions as."""

    id: int = field(default_factory=snowflake)
    username: str = "someone"
    roles: tuple[int, ...] = ()

    def user(self) -> dict[str, Any]:
        return {"id": str(self.id), "username": self.username, "discriminator": "0",
                "global_name": self.username, "avatar": None}

    def payload(self) -> dict[str, Any]:
        return {"user": self.user(), "roles": [str(r) for r in self.roles], "nick": None,
                "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False, "mute": False,
                "flags": 0, "permissions": "2248473465835073"}


@dataclass
class Interaction:
    id: int
    token: str
    payload: dict[str, Any]
    dispatched_at: float
    acknowledged: bool = False


class FakeDiscord:
    """Start with `await fake.start()`, point discord.py at it with `fake.pointed_at()`."""

    def __init__(self, *, shard_count: int = 1, guilds: int = 1, max_concurrency: int = 1) -> None:
        self.token = "fake-token"
        self.application_id = snowflake()
        self.bot = Member(username="nowbot")
        self.owner = Member(username="owner")
        self.shard_count = shard_count
        self.max_concurrency = max_concurrency  # in /gateway/bot's session_start_limit
        self.guild_ids = [_on_shard(snowflake(), i % shard_count, shard_count)
                          for i in range(max(guilds, shard_count))]
        self.guild_id = self.guild_ids[0]  # the guild interactions come from by default
        self.channel_id = snowflake()
        self.admin_role_id = snowflake()
        self.calls: list[Call] = []
        self.identifies: list[dict[str, Any]] = []
        self.identified_at: dict[int, list[float]] = {}  # shard -> `time.monotonic()` of each
        self.interactions: dict[str, Interaction] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}  # attachment id -> bytes, served at its `url`
        self._sockets: dict[int, web.WebSocketResponse] = {}
        self._sequence = count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        app.router.add_get("/attachments/{id}/{filename}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        for socket in list(self._sockets.values()):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @contextmanager
    def pointed_at(self) -> Iterator[None]:
        """Make discord.py talk to this fake instead of discord.com while the block runs."""
        saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self.api_base, yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved

    # -- gateway -------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(max_msg_size=0)
        await socket.prepare(request)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        shard_id = 0
        async for message in socket:
            if message.type is not WSMsgType.TEXT:
                continue
            packet = json.loads(message.data)
            op, data = packet["op"], packet.get("d")
            if op == 1:
                await socket.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif op == 2:
                self.identifies.append(data)
                shard_id = (data.get("shard") or [0, 1])[0]
                self.identified_at.setdefault(shard_id, []).append(time.monotonic())
                self._sockets[shard_id] = socket
                await self._send_ready(socket, data)
            elif op == 6:
                self._sockets[shard_id] = socket
                await self._dispatch(socket, "RESUMED", {})
        if self._sockets.get(shard_id) is socket:
            del self._sockets[shard_id]
        return socket

    async def _dispatch(self, socket: web.WebSocketResponse, event: str, data: Any) -> None:
        await socket.send_json({"op": 0, "t": event, "s": next(self._sequence), "d": data})

    async def _send_ready(self, socket: web.WebSocketResponse, identify: dict[str, Any]) -> None:
        ready: dict[str, Any] = {
            "v": 10,
            "user": {**self.bot.user(), "bot": True, "verified": True, "mfa_enabled": False,
                     "flags": 0},
            "guilds": [{"id": str(guild_id), "unavailable": True}
                       for guild_id in self._guilds_of(identify)],
            "session_id": f"session-{snowflake()}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
        }
        if "shard" in identify:
            ready["shard"] = identify["shard"]
        await self._dispatch(socket, "READY", ready)
        for guild_id in self._guilds_of(identify):
            await self._dispatch(socket, "GUILD_CREATE", self._guild(guild_id))

    def _guilds_of(self, identify: dict[str, Any]) -> list[int]:
        shard_id, shards = identify.get("shard") or [0, 1]
        return [guild_id for guild_id in self.guild_ids if (guild_id >> 22) % shards == shard_id]

    def shard_of(self, guild_id: int) -> int:
        """The shard Discord delivers `guild_id`'s events to."""
        return (guild_id >> 22) % self.shard_count

    def _guild(self, guild_id: int) -> dict[str, Any]:
        role = {"permissions": "0", "position": 1, "color": 0, "hoist": False, "managed": False,
                "mentionable": False, "flags": 0}
        return {
            "id": str(guild_id), "name": "Campaign HQ", "owner_id": str(self.owner.id),
            "unavailable": False, "member_count": 3, "large": False, "features": [],
            "roles": [{**role, "id": str(guild_id), "name": "@everyone", "position": 0},
                      {**role, "id": str(self.admin_role_id), "name": "bot admins"}],
            "channels": [{"id": str(self.channel_id), "type": 0, "name": "general",
                          "position": 0, "permission_overwrites": []}],
            "members": [], "threads": [], "emojis": [], "stickers": [], "voice_states": [],
            "presences": [], "stage_instances": [], "guild_scheduled_events": [],
        }

    async def send_interaction(self, payload: dict[str, Any]) -> Interaction:
        """Dispatch INTERACTION_CREATE to the shard that owns the guild; returns the record."""
        socket = self._sockets[self.shard_of(int(payload["guild_id"]))]
        record = Interaction(int(payload["id"]), payload["token"], payload, time.perf_counter())
        self.interactions[record.token] = record
        await self._dispatch(socket, "INTERACTION_CREATE", payload)
        return record

    def connected_shards(self) -> set[int]:
        """The shards with a gateway connection now."""
        return set(self._sockets)

    async def wait_connected(self, timeout: float = 5.0) -> None:
        """Wait until every shard has identified."""
        deadline = time.monotonic() + timeout
        while len(self._sockets) < self.shard_count:
            if time.monotonic() > deadline:
                raise TimeoutError("the client never identified")
            await asyncio.sleep(0.01)

    # -- interaction payloads ------------------------------------------------------------------

    def _interaction(self, kind: int, data: dict[str, Any], member: Member,
                     guild_id: int | None = None) -> dict[str, Any]:
        interaction_id = snowflake()
        guild = str(guild_id or self.guild_id)
        return {
            "id": str(interaction_id), "application_id": str(self.application_id), "type": kind,
            "data": data, "guild_id": guild,
            "guild": {"id": guild, "locale": "en-US", "features": []},
            "channel": {"id": str(self.channel_id), "type": 0, "name": "general",
                        "guild_id": guild, "position": 0, "permission_overwrites": []},
            "channel_id": str(self.channel_id), "member": member.payload(),
            "token": f"token-{interaction_id}", "version": 1, "locale": "en-US",
            "guild_locale": "en-US", "app_permissions": "2248473465835073",
            "entitlements": [], "authorizing_integration_owners": {"0": guild},
            "context": 0, "attachment_size_limit": 10 * 1024 * 1024,
        }

    def command(self, name: str, member: Member, *, in_guild: int | None = None,
                **options: Any) -> dict[str, Any]:
        """A CHAT_INPUT application command interaction (in `in_guild`, default `guild_id`);
        option types follow the values, and an `upload` payload is an attachment option
        (resolved, as Discord sends it)."""
        def option_type(value: Any) -> int:
            return 11 if isinstance(value, dict) else {bool: 5, int: 4, float: 10}.get(type(value), 3)

        data: dict[str, Any] = {
            "id": str(snowflake()), "name": name, "type": 1,
            "guild_id": str(in_guild or self.guild_id),
            "options": [{"name": key, "type": option_type(value),
                         "value": value["id"] if isinstance(value, dict) else value}
                        for key, value in options.items()]}
        attachments = {value["id"]: value for value in options.values() if isinstance(value, dict)}
        if attachments:
            data["resolved"] = {"attachments": attachments}
        return self._interaction(2, data, member, in_guild)

    def upload(self, filename: str, data: bytes, content_type: str) -> dict[str, Any]:
        """An attachment a user uploaded, downloadable from this fake at its `url`."""
        attachment_id = str(snowflake())
        self.uploads[attachment_id] = data
        url = f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{filename}"
        return {"id": attachment_id, "filename": filename, "size": len(data), "url": url,
                "proxy_url": url, "content_type": content_type}

    def user_message(self, member: Member, content: str, *attachments: dict[str, Any]) -> dict[str, Any]:
        """A message `member` posted in the channel, with uploaded attachments."""
        message_id = snowflake()
        message = {
            "id": str(message_id), "channel_id": str(self.channel_id), "guild_id": str(self.guild_id),
            "author": member.user(), "content": content, "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [],
            "mention_roles": [], "embeds": [], "pinned": False, "type": 0, "flags": 0,
            "components": [], "attachments": list(attachments),
        }
        self.messages[message_id] = message
        return message

    def message_command(self, name: str, member: Member, message: dict[str, Any]) -> dict[str, Any]:
        """A MESSAGE context-menu command on `message`."""
        data = {"id": str(snowflake()), "name": name, "type": 3, "guild_id": str(self.guild_id),
                "target_id": message["id"], "resolved": {"messages": {message["id"]: message}}}
        return self._interaction(2, data, member)

    def autocomplete(self, name: str, member: Member, focused: str, value: str) -> dict[str, Any]:
        data = {"id": str(snowflake()), "name": name, "type": 1, "guild_id": str(self.guild_id),
                "options": [{"name": focused, "type": 3, "value": value, "focused": True}]}
        return self._interaction(4, data, member)

    def button(self, custom_id: str, member: Member, message: dict[str, Any]) -> dict[str, Any]:
        payload = self._interaction(3, {"custom_id": custom_id, "component_type": 2}, member)
        payload["message"] = message
        return payload

    # -- REST ----------------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 15.0) -> Call:
        """The first recorded call matching `predicate`, waiting for it if needed."""
        async def found() -> Call:
            async with self._changed:
                while True:
                    for call in self.calls:
                        if predicate(call):
                            return call
                    await self._changed.wait()

        return await asyncio.wait_for(found(), timeout)

    def calls_to(self, pattern: str) -> list[Call]:
        return [call for call in self.calls if re.fullmatch(pattern, call.path)]

    async def _download(self, request: web.Request) -> web.Response:
        data = self.uploads.get(request.match_info["id"])
        return web.Response(status=404) if data is None else web.Response(body=data)

    async def _rest(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        path = "/" + request.match_info["tail"]
        body, files = await _read_body(request)
        call = Call(request.method, path, dict(request.query), body, files, arrived)
        if request.headers.get("Authorization") != f"Bot {self.token}" and "/webhooks/" not in path \
                and "/interactions/" not in path:
            status, reply = 401, {"message": "401: Unauthorized", "code": 0}
        else:
            status, reply = self._route(request.method, path, body, files, arrived)
        call.status = status
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        if reply is None:
            return web.Response(status=204)
        return web.Response(status=status, body=json.dumps(reply),
                            headers={"Content-Type": "application/json"})

    def _route(
        self, method: str, path: str, body: Any, files: list[FilePart], arrived: float
    ) -> tuple[int, Any]:
        routes: list[tuple[str, str, Callable[..., tuple[int, Any]]]] = [
            ("GET", r"/users/@me", lambda: (200, {**self.bot.user(), "bot": True})),
            ("GET", r"/oauth2/applications/@me", self._application),
            ("GET", r"/gateway/bot", self._gateway_bot),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("POST", r"/webhooks/(\d+)/([^/]+)", self._followup),
            ("PATCH", r"/webhooks/(\d+)/([^/]+)/messages/@original", self._edit_original),
            ("DELETE", r"/webhooks/(\d+)/([^/]+)/messages/@original", self._delete_original),
            ("PUT", r"/applications/(\d+)/commands", self._sync),
            ("PUT", r"/applications/(\d+)/guilds/(\d+)/commands", self._sync),
            ("POST", r"/channels/(\d+)/messages", self._channel_message),
            ("GET", r"/channels/(\d+)/messages", self._channel_history),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and method == route_method:
                return handler(*match.groups(), body=body, files=files, arrived=arrived) \
                    if match.groups() else handler()
        return 404, {"message": "404: Not Found", "code": 0}

    def _application(self) -> tuple[int, Any]:
        return 200, {
            "id": str(self.application_id), "name": "nowbot", "description": "", "icon": None,
            "bot_public": False, "bot_require_code_grant": False, "owner": self.owner.user(),
            "verify_key": "0" * 64, "flags": 0, "team": None,
        }

    def _gateway_bot(self) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url, "shards": self.shard_count,
                     "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0,
                                             "max_concurrency": self.max_concurrency}}

    def _callback(self, interaction_id: str, token: str, *, body: Any, files: list[FilePart],
                  arrived: float) -> tuple[int, Any]:
        record = self.interactions.get(token)
        if record is None or arrived - record.dispatched_at > FIRST_RESPONSE_DEADLINE_S:
            return 404, {"message": "Unknown interaction", "code": 10062}
        if record.acknowledged:
            return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}
        record.acknowledged = True
        kind, data = body["type"], body.get("data") or {}
        reply: dict[str, Any] = {"interaction": {
            "id": interaction_id, "type": record.payload["type"],
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(int(data.get("flags") or 0) & 64)}}
        if kind in (4, 5):
            message = self._message(token, data.get("content") or "", files, data)
            reply["interaction"]["response_message_id"] = message["id"]
            reply["resource"] = {"type": kind, "message": message}
        else:
            reply["resource"] = {"type": kind}
        return 200, reply

    def _followup(self, application_id: str, token: str, *, body: Any, files: list[FilePart],
                  arrived: float) -> tuple[int, Any]:
        if token not in self.interactions:
            return 404, {"message": "Unknown Webhook", "code": 10015}
        return 200, self._message(token, body.get("content") or "", files, body)

    def _edit_original(self, application_id: str, token: str, *, body: Any,
                       files: list[FilePart], arrived: float) -> tuple[int, Any]:
        if token not in self.interactions:
            return 404, {"message": "Unknown Webhook", "code": 10015}
        return 200, self._message(token, body.get("content") or "", files, body)

    def _delete_original(self, application_id: str, token: str, **_: Any) -> tuple[int, Any]:
        return (204, None) if token in self.interactions else \
            (404, {"message": "Unknown Webhook", "code": 10015})

    def _sync(self, *ids: str, body: Any, **_: Any) -> tuple[int, Any]:
        # Discord gives context-menu commands an empty description.
        return 200, [{"description": "", **command, "id": str(snowflake()), "application_id": ids[0],
                      "version": "1"} for command in body]

    def _channel_message(self, channel_id: str, *, body: Any, files: list[FilePart],
                         **_: Any) -> tuple[int, Any]:
        message = self._message(None, body.get("content") or "", files, body)
        message["channel_id"] = channel_id
        return 200, message

    def _channel_history(self, channel_id: str, **_: Any) -> tuple[int, Any]:
        posted = [m for m in self.messages.values()
                  if m["channel_id"] == channel_id and "webhook_id" not in m]
        return 200, posted[::-1]

    def _message(self, token: str | None, content: str, files: list[FilePart],
                 body: dict[str, Any]) -> dict[str, Any]:
        message_id = snowflake()
        message = {
            "id": str(message_id), "channel_id": str(self.channel_id),
            "guild_id": str(self.guild_id), "author": {**self.bot.user(), "bot": True},
            "content": content, "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [],
            "mention_roles": [], "embeds": body.get("embeds") or [], "pinned": False, "type": 0,
            "flags": int(body.get("flags") or 0), "components": body.get("components") or [],
            "attachments": [{"id": str(snowflake()), "filename": part.filename,
                             "size": len(part.data), "url": f"https://cdn.invalid/{part.filename}",
                             "proxy_url": f"https://cdn.invalid/{part.filename}",
                             "content_type": part.content_type} for part in files],
        }
        if token is not None:
            message["webhook_id"] = str(self.application_id)
        self.messages[message_id] = message
        return message


def _on_shard(guild_id: int, shard_id: int, shard_count: int) -> int:
    """`guild_id` moved on by a few milliseconds so that it falls on `shard_id`."""
    return guild_id + (((shard_id - (guild_id >> 22)) % shard_count) << 22)


async def _read_body(request: web.Request) -> tuple[Any, list[FilePart]]:
    """JSON body, or the `payload_json` part and the files of a multipart body."""
    if request.content_type == "multipart/form-data":
        body: Any = None
        files: list[FilePart] = []
        reader = await request.multipart()
        async for part in reader:
            data = await part.read()  # type: ignore[union-attr]
            if part.name == "payload_json":
                body = json.loads(data)
            else:
                files.append(FilePart(part.name or "", part.filename or "",  # type: ignore[union-attr]
                                      part.headers.get("Content-Type", ""), bytes(data)))
        return body, files
    raw = await request.read()
    return (json.loads(raw) if raw else None), []


@asynccontextmanager
async def logged_in(fake: FakeDiscord, client: Any, timeout: float = 10.0) -> AsyncIterator[Any]:
    """Run `client` (a discord.Client) against `fake` until the block ends; waits for READY."""
    with fake.pointed_at():
        task = asyncio.create_task(client.start(fake.token))
        try:
            waiter = asyncio.create_task(client.wait_until_ready())
            done, _ = await asyncio.wait({task, waiter}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if waiter not in done:
                waiter.cancel()
                if task in done:
                    task.result()  # raises the client's start-up error
                raise TimeoutError("the client never became ready")
            yield client
        finally:
            await client.close()
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


def run_nowbot_pointed_at(url: str, args: list[str]) -> None:
    """Run `nowbot ARGS...` in this process with discord.py talking to the fake at `url`."""
    from bot.cli import app

    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = f"{url}/api/v10", yarl.URL(f"{url}/gateway")
    app(args, prog_name="nowbot")


if __name__ == "__main__":
    run_nowbot_pointed_at(sys.argv[1], sys.argv[2:])
