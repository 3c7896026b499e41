"""The local outbox: published posts become JSON files (and their images) under `var/outbox`.

Used when no platform credentials are configured, so a fresh clone can run the whole campaign
offline. Publishing the same post twice rewrites the same file, so it is idempotent by design.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from bot.platforms.base import ALWAYS, Outgoing, RemotePost, collapsed, fit_with_hashtag, no_address
from storage.artifacts import atomic_write_bytes
from storage.base import utcnow

POST_LIMIT = 280  # characters, as on X: the folder stands in for it when X is not configured


class LocalPublisher:
    """Writes each published post to `<folder>/post-<id>.json`; the image is copied next to it."""

    platform = "local"
    cost_per_post_usd = 0.0
    monthly_budget_usd: float | None = None
    resend_safe_for = ALWAYS  # publishing again rewrites the same file
    normalized = staticmethod(collapsed)  # the files hold the text as sent
    text_limit = POST_LIMIT
    text_length = staticmethod(len)
    post_url = staticmethod(no_address)  # a file in var/outbox

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def fit_text(text: str, hashtag: str | None) -> str:
        return fit_with_hashtag(text, hashtag, POST_LIMIT)

    def publish(self, item: Outgoing) -> str:
        post_id, image = item.post_id, item.image
        external_id = f"local-{post_id}"
        record: dict[str, str | None] = {
            "id": external_id, "text": item.text, "published_at": utcnow().isoformat(),
            "image": None, "alt": item.alt,
        }
        if image is not None:
            target = self.folder / f"post-{post_id}{image.suffix}"
            self.folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(image, target)
            record["image"] = target.name
        payload = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8")
        atomic_write_bytes(self.folder / f"post-{post_id}.json", payload)
        return external_id

    def recent_posts(self, limit: int) -> list[RemotePost]:
        files = sorted(
            self.folder.glob("post-*.json"), key=lambda path: path.stat().st_mtime, reverse=True
        )
        posts = []
        for path in files[:limit]:
            record = json.loads(path.read_text(encoding="utf-8"))
            made = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            posts.append(RemotePost(external_id=record["id"], text=record["text"], created_at=made))
        return posts
