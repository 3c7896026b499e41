"""Chat generation through the queue: a chat process (a Discord shard) queues each request on the
"generate" queue and awaits the answer; a generation worker writes it with the engine that
batches every waiting request (`bot.chat.engine`), stores it (`storage.jobqueue.ChatAnswer`) and
notifies. The chat process never runs TensorFlow or Numba.

Answers are announced with NOTIFY on `CHANNEL` and also looked for every `POLL_S`, so that a
missed notification (a dropped connection) costs at most that much.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import threading
import uuid
from typing import Any, get_args

import psycopg
from sqlalchemy import delete, select, text

from bot import commands
from bot.app import App
from bot.chat.engine import GenerationEngine
from bot.chat.tweets import TweetSupply
from bot.commands import Attachment, CommandError, Reply, TweetRequest
from bot.core.runtime import ModelCommand, Runtime
from bot.errors import USER_ERRORS
from bot.generation import GeneratedText
from bot.queue.connection import conninfo, defer, deferring_app
from storage.jobqueue import ChatAnswer

log = logging.getLogger("nowbot.chat")
CHANNEL = "nowbot_chat_answers"
QUEUE = "generate"
POLL_S = 0.5
ANSWER_TIMEOUT_S = 60.0

# -- the generation worker's side ---------------------------------------------------------------

_engines: dict[int, GenerationEngine] = {}  # per app (one per worker process)
_engines_lock = threading.Lock()


def _engine(app: App) -> GenerationEngine:
    with _engines_lock:
        if id(app) not in _engines:
            _engines[id(app)] = GenerationEngine(app)
        return _engines[id(app)]


def close_engines() -> None:
    """Stop the worker's generation engines (at its exit)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.close()


async def answer_tweets(runtime: Runtime, request_id: str, request: dict[str, Any],
                        count: int) -> None:
    """Write `count` tweets for `request` (batched with every other waiting one) and leave them
    for the asker; a request the models cannot serve leaves its one-line reason."""
    app = runtime.app
    try:
        generated = await _engine(app).tweets(TweetRequest(**request), count)
        body: dict[str, Any] = {"tweets": [dataclasses.asdict(item) for item in generated]}
    except USER_ERRORS as error:
        body = {"error": str(error)}
    await asyncio.to_thread(_store, app, request_id, body, None)


async def answer_reply(runtime: Runtime, request_id: str, command: str, args: list[Any]) -> None:
    """Run the model command `command` and leave its reply (text and attachments)."""
    app = runtime.app
    data = None
    try:
        if command not in get_args(ModelCommand):
            raise CommandError(f"no model command named {command!r}")
        function = getattr(commands, command)
        reply: Reply = await asyncio.to_thread(function, app, *(_decode(arg) for arg in args))
        body: dict[str, Any] = {"text": reply.text, "ephemeral": reply.ephemeral, "files": [
            [item.filename, len(item.data)] for item in reply.attachments]}
        data = b"".join(item.data for item in reply.attachments)
    except USER_ERRORS as error:
        body = {"error": str(error)}
    await asyncio.to_thread(_store, app, request_id, body, data)


def _store(app: App, request_id: str, body: dict[str, Any], data: bytes | None) -> None:
    with app.engine.begin() as connection:
        connection.execute(ChatAnswer.__table__.insert().values(
            request_id=request_id, body=body, data=data))
        connection.execute(text("SELECT pg_notify(:channel, :id)"),
                           {"channel": CHANNEL, "id": request_id})


def _encode(value: object) -> object:
    return {"base64": base64.b64encode(value).decode()} if isinstance(value, bytes) else value


def _decode(value: object) -> object:
    if isinstance(value, dict) and set(value) == {"base64"}:
        return base64.b64decode(value["base64"])
    return value


# -- the chat process's side ----------------------------------------------------------------------

class QueuedChatModels:
    """`ChatModels` answered by generation workers through the queue. Tweets without a prompt
    still come from this process's small pool of ready ones (`TweetSupply`), refilled through
    the queue too."""

    def __init__(self, app: App, *, timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        self.app, self.timeout_s = app, timeout_s
        self._queuing = deferring_app(app.settings)
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._supply = TweetSupply(self._tweets)

    async def tweet(self, request: TweetRequest) -> GeneratedText:
        return await self._supply.get(request)

    async def reply(self, command: ModelCommand, *args: object) -> Reply:
        answer = await self._ask("chat_reply", command=command, args=[_encode(a) for a in args])
        body, data = answer
        attachments, start = [], 0
        for filename, size in body["files"]:
            attachments.append(Attachment(filename, (data or b"")[start:start + size]))
            start += size
        return Reply(body["text"], tuple(attachments), ephemeral=body["ephemeral"])

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        for future in self._waiting.values():
            future.cancel()

    async def _tweets(self, request: TweetRequest, count: int) -> list[GeneratedText]:
        body, _ = await self._ask("chat_tweets", request=dataclasses.asdict(request), count=count)
        return [GeneratedText(**item) for item in body["tweets"]]

    async def _ask(self, task: str, **kwargs: Any) -> tuple[dict[str, Any], bytes | None]:
        """Queue `task` for a generation worker and await its answer (a `CommandError` when it
        has a reason to give, or when no worker answers in time)."""
        self._listen()
        loop = asyncio.get_running_loop()
        request_id = str(uuid.uuid4())
        arrived = self._waiting[request_id] = loop.create_future()
        try:
            await asyncio.to_thread(self._queue, task, request_id, kwargs)
            give_up = loop.time() + self.timeout_s
            while True:
                await asyncio.wait({arrived}, timeout=POLL_S)  # its notification, or a poll
                if (answer := await asyncio.to_thread(self._take, request_id)) is not None:
                    break
                if loop.time() > give_up:
                    raise CommandError("the bot's generation workers are busy or away; "
                                       "try again in a minute")
        finally:
            self._waiting.pop(request_id, None)
        body, data = answer
        if "error" in body:
            raise CommandError(body["error"])
        return body, data

    def _queue(self, task: str, request_id: str, kwargs: dict[str, Any]) -> None:
        with self.app.engine.begin() as connection:
            defer(self._queuing, connection, task, queue=QUEUE, request_id=request_id, **kwargs)

    def _take(self, request_id: str) -> tuple[dict[str, Any], bytes | None] | None:
        with self.app.sessions.begin() as session:
            found = session.execute(select(ChatAnswer.body, ChatAnswer.data)
                                    .where(ChatAnswer.request_id == request_id)).first()
            if found is None:
                return None
            session.execute(delete(ChatAnswer).where(ChatAnswer.request_id == request_id))
            return found.body, found.data

    def _listen(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._notifications())

    async def _notifications(self) -> None:
        """Wake the request each notification names; on a lost connection, connect again (the
        polling answers meanwhile)."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        conninfo(self.app.settings), autocommit=True) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    async for notice in connection.notifies():
                        future = self._waiting.get(notice.payload)
                        if future is not None and not future.done():
                            future.set_result(None)
            except psycopg.Error as error:
                log.warning("chat answers: listening failed (%s); polling meanwhile",
                            type(error).__name__)
                await asyncio.sleep(5)
