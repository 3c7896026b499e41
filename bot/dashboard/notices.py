"""What a page may say after an action. The redirect after a form names a notice by key, and
only this module turns a key into words: a fixed text with the post's current status (read
from the database), or a line this process stored under a random reference (the reason of a
refused action, or what a review model's button did). So a link cannot put its own words on the
page.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from storage.outbox import Post

if TYPE_CHECKING:
    from bot.core.runtime import Runtime

NOTICES = {
    "approved": "post {post} approved: it will be published on the next outbox run",
    "rejected": "post {post} rejected",
    "regenerated": "post {post} regenerated",
    "edited": "post {post}: text saved",
    "unapproved": "post {post} is a draft again",
    "scheduled": "post {post} scheduled",
    "failed": "post {post}: that did not work; the log says why",
}
NO_POST = "no post with id {post}"
KEPT = 100  # messages kept for their redirects
KEPT_KEYS = frozenset({"refused", "review"})  # notices whose words this process kept


class Notes:
    """The lines of refused actions and review model actions, by random reference, the newest
    `KEPT`."""

    def __init__(self) -> None:
        self._notes: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, message: str) -> str:
        """Store `message`; returns its reference."""
        ref = secrets.token_urlsafe(9)
        with self._lock:
            self._notes[ref] = message
            while len(self._notes) > KEPT:
                self._notes.popitem(last=False)
        return ref

    def get(self, ref: str) -> str | None:
        with self._lock:
            return self._notes.get(ref)


def notice(notes: Notes, runtime: Runtime, key: str, post_id: str, ref: str) -> str | None:
    """The words for notice `key` about post `post_id` (or the line `ref` kept in `notes`); None
    for anything else."""
    if key in KEPT_KEYS:
        return notes.get(ref)
    text = NOTICES.get(key)
    if text is None or not (post_id.isascii() and post_id.isdigit() and len(post_id) < 10):
        return None
    with runtime.app.sessions() as session:
        post = session.get(Post, int(post_id))
    return text.format(post=post.id, status=post.status) if post else NO_POST.format(post=int(post_id))
