"""What the dashboard application keeps: the runtime it shows, the per-process form token and
the messages of refused actions."""

from __future__ import annotations

from aiohttp import web

from bot.core.runtime import Runtime
from bot.dashboard.notices import Notes

RUNTIME = web.AppKey("runtime", Runtime)
CSRF = web.AppKey("csrf", str)
NOTES = web.AppKey("notes", Notes)
