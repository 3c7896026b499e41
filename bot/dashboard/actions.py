"""The queue's buttons: each posts a form with the per-process token and calls one use case of
`bot.core.posts`; the browser is sent back to the page it came from with a notice key.

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
from bot.core import posts
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


async def post_action(request: web.Request) -> web.Response:
    """POST /posts/{id}/{action}: do it, then back to the page named by `next` with a notice."""
    form = await request.post()
    if not secrets.compare_digest(str(form.get("csrf", "")), request.app[CSRF]):
        raise web.HTTPForbidden(text="stale or missing form token: reload the page")
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
    back = str(form.get("next", "/"))
    raise web.HTTPSeeOther(location=(back if back in PATHS else "/") + "?" + urlencode(query)
                           + f"#post-{post_id}")
