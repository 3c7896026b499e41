"""A real browser on the dashboard: Debian's Chromium driven by Playwright (never Playwright's own
browser download), and the dashboard served on 127.0.0.1 from a thread of this process."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiohttp import web

from bot.core.runtime import Runtime
from bot.dashboard import create_dashboard

# Headless Chromium as root needs --no-sandbox; the rest keep it off the (closed) network.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic", "--disable-gpu"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    """Debian's chromium, or a skip that says how to get it (`make test` installs it)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no chromium on PATH and it could not be installed: apt-get install chromium")
    return path


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright `Browser`)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serve(runtime: Runtime) -> Iterator[str]:
    """The dashboard of `runtime` on a free loopback port, served by a thread; yields its URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="dashboard", daemon=True)
    thread.start()
    runner = web.AppRunner(create_dashboard(runtime), access_log=None)

    def call(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)

    call(runner.setup())
    call(web.TCPSite(runner, "127.0.0.1", 0).start())
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        call(runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


OVERFLOWS = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const element of document.querySelectorAll("body *")) {
    if (element.closest(".table-wrap, pre")) continue;  // these scroll sideways by design
    const box = element.getBoundingClientRect(), card = element.closest(".card");
    const right = card && card !== element ? card.getBoundingClientRect().right : width;
    if (box.width > 0 && box.right > right + 1) out.push(element.tagName + "." + element.className);
  }
  return out;
}"""


def overflows(page: Any) -> list[str]:
    """The elements that stick out of their card or the window (none: nothing to scroll sideways
    for, nothing cut off)."""
    return list(page.evaluate(OVERFLOWS))


def loaded(page: Any, selector: str) -> bool:
    """Whether every image matching `selector` loaded (a broken image has no natural width)."""
    return bool(page.eval_on_selector_all(
        selector, "images => images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0)"))
