"""Every platform, found by its folder's declaration (`bot/platforms/<name>/__init__.py`'s
`PLATFORM`): publisher classes by name, for a platform's text rules where no publisher is at hand
(a draft is fitted to its platform, and reconciled by its platform's comparison, by name), and
the publishers and adapters that the settings turn on. A new platform is a new folder."""

from __future__ import annotations

import pkgutil
from functools import cache
from importlib import import_module
from types import ModuleType

import bot.platforms
from bot.config import Settings
from bot.platforms.base import Publisher
from bot.platforms.declaration import Adapter, Platform

__all__ = ["Adapter", "Platform", "configured_adapters", "configured_publishers", "discover",
           "platforms", "publisher_class"]


def discover(package: ModuleType) -> dict[str, Platform]:
    """The platforms declared by the subpackages of `package`, by name. A subpackage without a
    `PLATFORM`, or one named other than its folder, is a mistake and raises `TypeError`."""
    found: dict[str, Platform] = {}
    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if not module.ispkg:
            continue
        declared = getattr(import_module(module.name), "PLATFORM", None)
        folder = module.name.rpartition(".")[2]
        if not isinstance(declared, Platform) or declared.name != folder:
            raise TypeError(f"{module.name} must declare PLATFORM = Platform(name={folder!r}, ...)")
        found[folder] = declared
    return found


@cache
def platforms() -> dict[str, Platform]:
    """Every platform under `bot/platforms/`, by name (none of their client libraries loaded)."""
    return discover(bot.platforms)


def publisher_class(platform: str) -> type[Publisher]:
    """The publisher class of `platform`, imported on first use (each brings its client library)."""
    declared = platforms().get(platform)
    if declared is None:
        raise ValueError(f"no platform named {platform!r}")
    return declared.publisher_class()


def configured_adapters(settings: Settings) -> list[Adapter]:
    """The adapters (chat connections) whose credentials are configured."""
    loaded = (declared.load_adapter() for declared in platforms().values()
              if declared.adapter_configured(settings))
    return [adapter for adapter in loaded if adapter is not None]


def configured_publishers(settings: Settings, *, chat: bool = False) -> dict[str, Publisher]:
    """A publisher for each platform whose credentials are configured, the fallback (the local
    outbox folder) when none but chat platforms is. A chat platform (one with an adapter:
    Discord) adds its publisher when its client connects, so it is built here only with `chat`,
    for workers that hold no connection: they then publish where the service would."""
    every = platforms().values()
    alone = [declared for declared in every if declared.adapter is None and not declared.fallback
             and declared.configured(settings)]
    chosen = (alone or [declared for declared in every if declared.fallback]) + [
        declared for declared in every
        if chat and declared.adapter is not None and declared.configured(settings)]
    return {declared.name: declared.build(settings) for declared in chosen}
