"""The service's runtime: the one object every edge (jobs, dashboard, chat adapters) works with."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from apscheduler.schedulers.base import BaseScheduler

from bot.app import App
from bot.lanes import Lanes
from bot.platforms.base import Publisher

if TYPE_CHECKING:
    from bot.commands import Reply, TweetRequest
    from bot.generation import GeneratedText

ModelCommand = Literal["image", "progress", "draw", "review"]
"""The chat commands answered by the models with a `Reply` (`bot.commands` functions by name)."""


class GeneratedTextLike(Protocol):
    """A generated text (`bot.generation.GeneratedText`); `why` and `candidates` are kept for
    campaign drafts (empty elsewhere)."""

    text: str
    score: float
    model_version_id: int
    why: dict[str, Any]
    candidates: Sequence[ScoredTextLike]


class ScoredTextLike(Protocol):
    rank: int
    text: str
    scores: dict[str, float]
    chosen: bool


class Generator(Protocol):
    """What the use cases ask of the models (`bot.generation` provides it)."""

    def generate_post_text(self, app: App, persona: str, recent: list[str]) -> GeneratedTextLike: ...

    def render_image_grid(self, app: App, image_set: str, count: int) -> bytes: ...

    def progress_gif(self, app: App, image_set: str) -> bytes: ...


class ChatModels(Protocol):
    """What chat edges (Discord) ask of the models, wherever they run: in this process, or on
    generation workers reached through the job queue. Never blocks the caller's event loop."""

    async def tweet(self, request: TweetRequest) -> GeneratedText:
        """One tweet for `request` (requests waiting at the same time are sampled together)."""
        ...

    async def reply(self, command: ModelCommand, *args: object) -> Reply:
        """`bot.commands.<command>(app, *args)`: an image grid, a progress GIF, a drawing, or a
        review (its "regenerate" writes a new text)."""
        ...

    async def close(self) -> None:
        """Stop generating; requests still waiting fail."""
        ...


class JobQueue(Protocol):
    """Work handed to worker processes (`bot.queue.dispatch.Dispatcher`)."""

    def publish_rounds(self, platforms: list[str]) -> None:
        """Queue a publishing round for each of `platforms` (one waiting per platform)."""
        ...


@dataclass
class Runtime:
    """What this process works with: the app, the models, where posts go (each platform in its
    own outbox lane), the scheduler while this process leads, and the training and collection
    children it runs."""

    app: App
    generator: Generator
    publishers: dict[str, Publisher]
    image_set: str | None = None
    scheduler: BaseScheduler | None = None  # set while this process is the leader
    training_lock: threading.Lock = field(default_factory=threading.Lock)
    children: set[subprocess.Popen[bytes]] = field(default_factory=set)
    stopping: threading.Event = field(default_factory=threading.Event)
    lanes: Lanes = field(default_factory=Lanes)  # each platform's outbox runs in its own
    chat: ChatModels | None = None  # what chat edges generate with (`bot.chat.models`)
    queue: JobQueue | None = None  # set on workers: publishing rounds become jobs of their own

    def add_publisher(self, publisher: Publisher) -> None:
        """Publish to `publisher`'s platform from now on (an adapter that has connected)."""
        self.publishers[publisher.platform] = publisher

    def remove_publisher(self, platform: str) -> None:
        """Stop publishing to `platform` (its adapter has stopped)."""
        self.publishers.pop(platform, None)
