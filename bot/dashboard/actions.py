"""The queue's buttons: each posts a form with the per-process token and calls one use case of
`bot.core.posts` (a post's buttons) or `bot.core.reviewing` (the review model's); the browser is
sent back to the page it came from with a notice key.

A draft's form carries its edit box, so Approve and Schedule first save a changed text: what
the person sees in the box is what gets published.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot import outbox
from bot.app import App
from bot.core import posts, reviewing
from bot.core.runtime import Runtime
from bot.dashboard.keys import CSRF, NOTES, RUNTIME
from bot.dashboard.pages import PATHS, path_id
from bot.errors import USER_ERRORS
from storage.outbox import Post, PostStatus

log = logging.getLogger("nowbot.dashboard")
# One shared password at most, no user names: reviews made here are stored under this name.
DASHBOARD_REVIEWER = "dashboard"
DONE = {"approve": "approved", "reject": "rejected", "regenerate": "regenerated", "edit": "edited",
        "unapprove": "unapproved", "schedule": "scheduled"}  # notice keys
ACTION_PATTERN = "|".join(DONE)
Form = Mapping[str, Any]  # the posted form's fields


def _save_edit(runtime: Runtime, post_id: int, form: Form) -> None:
    """Store the edit box's text and the image description if they differ from the draft's."""
    text, alt = form.get("text"), form.get("alt")
    with runtime.app.sessions() as session:
        post = session.get(Post, post_id)
    if post is None or post.status != PostStatus.DRAFT:
        return
    if isinstance(text, str) and " ".join(text.split()) != post.text:
        posts.edit_text(runtime.app, post_id, text, DASHBOARD_REVIEWER)
    if isinstance(alt, str) and post.image_item_id and " ".join(alt.split()) != (post.image_alt or ""):
        posts.edit_alt(runtime.app, post_id, alt, DASHBOARD_REVIEWER)


def _schedule(runtime: Runtime, post_id: int, form: Form) -> None:
    when = str(form.get("when", "")).strip()
    if not when:
        raise outbox.BadTime(f"post {post_id}: pick a time to publish it at")
    _save_edit(runtime, post_id, form)
    posts.schedule(runtime.app, post_id, posts.parse_when(when), DASHBOARD_REVIEWER)


def _review(action: posts.ReviewAction) -> Callable[[Runtime, int, Form], None]:
    def act(runtime: Runtime, post_id: int, form: Form) -> None:
        if action == "approve":
            _save_edit(runtime, post_id, form)
        posts.review(runtime.app, runtime.generator, post_id, action, DASHBOARD_REVIEWER)

    return act


ACTIONS: dict[str, Callable[[Runtime, int, Form], None]] = {
    "approve": _review("approve"),
    "reject": _review("reject"),
    "regenerate": _review("regenerate"),
    "edit": _save_edit,
    "unapprove": lambda runtime, post_id, form: posts.unapprove(runtime.app, post_id, DASHBOARD_REVIEWER),
    "schedule": _schedule,
}


async def _form(request: web.Request) -> Form:
    """The posted form, refused unless it carries this process's token."""
    form = await request.post()
    if not secrets.compare_digest(str(form.get("csrf", "")), request.app[CSRF]):
        raise web.HTTPForbidden(text="stale or missing form token: reload the page")
    return form


def _back(form: Form, query: dict[str, Any], anchor: str) -> web.HTTPSeeOther:
    """Back to the page named by the form's `next` (one of the dashboard's), at `anchor`."""
    back = str(form.get("next", "/"))
    return web.HTTPSeeOther(location=(back if back in PATHS else "/") + "?" + urlencode(query)
                            + f"#{anchor}")


async def post_action(request: web.Request) -> web.Response:
    """POST /posts/{id}/{action}: do it, then back to the page named by `next` with a notice."""
    form = await _form(request)
    post_id, action = path_id(request, "post_id"), request.match_info["action"]
    runtime = request.app[RUNTIME]
    query: dict[str, Any] = {"post": post_id}
    try:
        await asyncio.to_thread(ACTIONS[action], runtime, post_id, form)
        query["notice"] = DONE[action]
    except outbox.OutboxError as error:  # the post's status or the input does not allow it
        query.update(notice="refused", ref=request.app[NOTES].keep(str(error)))
    except USER_ERRORS as error:
        log.warning("post %s: %s failed: %s", post_id, action, error)
        query["notice"] = "failed"
    raise _back(form, query, f"post-{post_id}")


def _train(app: App) -> str:
    outcome = reviewing.train(app)
    trained = f" v{outcome.version}" if outcome.version is not None else ""
    return f"review model{trained} of {app.settings.campaign_persona}: {outcome.verdict.reason}"


def _switch(enabled: bool) -> Callable[[App], str]:
    return lambda app: "review loop " + reviewing.switch(app, enabled, DASHBOARD_REVIEWER).summary()


# The review model's buttons (the campaign persona's loop): each returns its notice.
REVIEW_ACTIONS: dict[str, Callable[[App], str]] = {
    "train": _train,
    "switch-off": _switch(False),
    "switch-on": _switch(True),
    "reset": lambda app: "review loop reset: " + reviewing.reset(app, DASHBOARD_REVIEWER).summary(),
}
REVIEW_PATTERN = "|".join(REVIEW_ACTIONS)


async def review_action(request: web.Request) -> web.Response:
    """POST /review-model/{action}: train, switch or reset the campaign's review model (in a
    thread: training takes a moment), then back to `next` with what it did in one line."""
    form = await _form(request)
    action = request.match_info["action"]
    try:
        said = await asyncio.to_thread(REVIEW_ACTIONS[action], request.app[RUNTIME].app)
    except USER_ERRORS as error:
        log.warning("review model: %s failed: %s", action, error)
        said = f"review model: {action} did not work: {error}"
    ref = request.app[NOTES].keep(" ".join(said.split()))
    raise _back(form, {"notice": "review", "ref": ref}, "review-model")
