"""What a platform folder declares about itself in its `__init__.py` (as `PLATFORM`), so that the
catalog finds every platform without a list of them.

Classes and functions are named by `"module:attribute"` and imported on first use: each platform
brings its own client library, which importing the folder must not load.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.core.runtime import Runtime
    from bot.platforms.base import Publisher

Adapter = Callable[["Runtime"], Awaitable[None]]
"""A long-running coroutine that connects a platform (Discord, ...); cancelled on shutdown."""


def never(settings: Settings) -> bool:
    """The `configured` of what no setting turns on."""
    return False


def load(reference: str) -> Any:
    """The attribute that `"package.module:attribute"` names, its module imported now."""
    module, _, attribute = reference.partition(":")
    return getattr(import_module(module), attribute)


@dataclass(frozen=True)
class Platform:
    """One platform: where its publisher is, when the settings turn it on, and its adapter.

    `publisher` names the publisher class; `builder` names a callable taking `Settings` that makes
    a publisher able to work alone (without its adapter's connection), the class itself when
    unset. `configured` says whether the settings hold what publishing needs. `adapter` names a
    long-running `Adapter` (a chat connection) that runs where `adapter_configured`; a platform
    with an adapter publishes through it in the service, and is built on its own only where asked
    for (`chat=True`: queue workers without the connection). `fallback` marks the platform used
    when no other is configured (the local outbox).
    """

    name: str
    publisher: str
    configured: Callable[[Settings], bool] = never
    builder: str | None = None
    adapter: str | None = None
    adapter_configured: Callable[[Settings], bool] = never
    fallback: bool = False

    def publisher_class(self) -> type[Publisher]:
        """The publisher class, its client library imported now."""
        cls: type[Publisher] = load(self.publisher)
        return cls

    def build(self, settings: Settings) -> Publisher:
        """A publisher made from `settings` alone."""
        make: Callable[[Settings], Publisher] = load(self.builder or self.publisher)
        return make(settings)

    def load_adapter(self) -> Adapter | None:
        """The adapter's coroutine function (None: the platform has no adapter)."""
        return load(self.adapter) if self.adapter else None
