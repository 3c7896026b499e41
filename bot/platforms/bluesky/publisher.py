"""Publishing to a Bluesky account with the atproto SDK, a handle and an app password.

Logging in is rate limited (30 per 5 minutes, 300 a day), so the session is exported after every
change and reused from `NOWBOT_DATA_DIR/bluesky-session` (mode 0600, never logged); the password
is used only when there is no session or the server refuses it. Each delivery's record key is a
TID derived from the delivery (its creation time and id): before creating the post, the record is
looked up under that key, so a delivery sent again after an unknown outcome finds the post made
the first time instead of making another (creating a record under an existing key fails upstream
anyway). Images go up as blobs of at most `BLOB_LIMIT` bytes (re-encoded smaller when larger),
with their description as alt text. A 429 keeps everything waiting until its `ratelimit-reset`.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from atproto import Client, Request, models
from atproto_client.client.session import Session
from atproto_client.exceptions import (BadRequestError, NetworkError, RateLimitExceededError,
                                       RequestErrorBase, UnauthorizedError)
from PIL import Image

from bot.config import Settings
from bot.platforms.base import (ALWAYS, NotSent, Outgoing, OutcomeUnknown, Rejected, RemotePost,
                                nothing_created)
from bot.platforms.bluesky import text as bluesky_text
from bot.platforms.transport import DeadlineTransport, never_sent
from storage.base import utcnow

log = logging.getLogger("nowbot.bluesky")
POST = "app.bsky.feed.post"
BLOB_LIMIT = 2_000_000  # bytes per image blob
SESSION_FILE = "bluesky-session"


class BlueskyPublisher:
    """Posts to the Bluesky account whose handle and app password are in the settings."""

    platform = "bluesky"
    cost_per_post_usd = 0.0
    monthly_budget_usd: float | None = None
    resend_safe_for = ALWAYS  # the record is looked up by its key before it is created
    fit_text = staticmethod(bluesky_text.fit_text)
    text_limit = bluesky_text.POST_LIMIT
    text_length = staticmethod(bluesky_text.post_length)
    normalized = staticmethod(bluesky_text.normalized)
    post_url = staticmethod(bluesky_text.post_url)

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        if settings.bluesky_handle is None or settings.bluesky_app_password is None:
            raise ValueError("the Bluesky handle and app password are not configured")
        self._handle, self._password = settings.bluesky_handle, settings.bluesky_app_password
        self._service, self._timeout = settings.bluesky_service_url, timeout
        self.session_file = settings.data_dir / SESSION_FILE
        self._client: Client | None = None
        self._did: str | None = None
        self._blocked_until: datetime | None = None
        self._lock = threading.Lock()

    # -- the session ---------------------------------------------------------------------------

    def _save(self, client: Client) -> None:
        """Keep the client's session for the next start, readable by this user only; a session
        that cannot be kept (a full disk) costs a login at the next start, nothing more."""
        staging = self.session_file.with_suffix(".tmp")
        try:
            self.session_file.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(client.export_session_string())
            os.replace(staging, self.session_file)
        except OSError as error:
            staging.unlink(missing_ok=True)
            log.warning("cannot keep the Bluesky session in %s (%s); the next start logs in again",
                        self.session_file, error.strerror or type(error).__name__)

    def _session(self, *, fresh: bool = False) -> tuple[Client, str]:
        """The logged-in client and the account's DID: the saved session unless `fresh`, else a
        login with the app password. The client is kept only once it is logged in."""
        if self._client is not None and self._did and not fresh:
            return self._client, self._did
        self._client = self._did = None
        client = Client(base_url=self._service,
                        request=Request(timeout=self._timeout, transport=DeadlineTransport()))
        client.on_session_change(lambda *_event: self._save(client))
        saved = self.session_file.read_text(encoding="utf-8").strip() if self.session_file.is_file() else ""
        if saved and not fresh:
            client.login(session_string=saved, fetch_bsky_profile=False)
        else:
            log.info("logging in to Bluesky as %s", self._handle)
            client.login(self._handle, self._password.get_secret_value(), fetch_bsky_profile=False)
        self._client, self._did = client, Session.decode(client.export_session_string()).did
        return client, self._did

    def _call(self, action: str, work: Any) -> Any:
        """Run `work(client, did)`, logging in again once when the saved session is refused, and
        sorting failures before anything was created into `NotSent` / `Rejected`."""
        if self._blocked_until and utcnow() < self._blocked_until:
            raise NotSent(f"Bluesky rate limit until {self._blocked_until:%H:%M:%S} UTC",
                          retry_after=self._blocked_until)
        for fresh in (False, True):
            try:
                client, did = self._session(fresh=fresh)
                return work(client, did)
            except (UnauthorizedError, BadRequestError) as error:
                if not fresh and _expired(error):
                    log.info("the saved Bluesky session is no longer valid; logging in again")
                    continue
                if isinstance(error, UnauthorizedError) or _expired(error):
                    self._client = None
                    raise Rejected("Bluesky refused the handle or app password: check "
                                   "NOWBOT_BLUESKY_HANDLE and NOWBOT_BLUESKY_APP_PASSWORD") from None
                raise Rejected(f"Bluesky refused {action} ({error})") from None
            except RateLimitExceededError as error:
                self._blocked_until = error.reset_at or utcnow() + timedelta(minutes=5)
                raise NotSent(f"Bluesky rate limit on {action}; retrying after "
                              f"{self._blocked_until:%H:%M:%S} UTC", retry_after=self._blocked_until) from None
            except RequestErrorBase as error:  # logging in, or reading: nothing was created
                raise _unknown(error, action) from None
        raise AssertionError("unreachable")

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, item: Outgoing) -> str:
        """Create the post under the delivery's record key (or find it there); returns its URI."""
        rkey = bluesky_text.record_key(item)
        with self._lock:
            with nothing_created("Bluesky", "logging in, looking the post up or the image"):
                try:
                    existing = self._call("reading the post back",
                                          lambda c, did: _find(c, did, rkey))
                except OutcomeUnknown as error:
                    raise NotSent(f"cannot look the post up on Bluesky first: {error}") from None
                if existing is not None:
                    log.info("post %s was already on Bluesky as %s", item.post_id, existing)
                    return existing
                embed = (self._call("the image", lambda c, did: _embed(c, item))
                         if item.image else None)
            return self._call("the post", lambda c, did: _create(c, did, rkey, item.text, embed))

    def recent_posts(self, limit: int) -> list[RemotePost]:
        """The account's `limit` newest posts, newest first."""
        with self._lock:
            return self._call("reading posts", lambda c, did: _records(c, did, limit))


def _expired(error: RequestErrorBase) -> bool:
    """Whether the server refused the session's tokens (rather than the password)."""
    content = getattr(error.response, "content", None)
    return getattr(content, "error", None) in ("ExpiredToken", "InvalidToken")


def _unknown(error: Exception, action: str) -> Exception:
    """A failure after the request may have been sent: `NotSent` when it certainly was not."""
    if never_sent(error.__cause__):
        return NotSent(f"could not reach Bluesky: {type(error.__cause__).__name__}")
    return OutcomeUnknown(f"no clear answer from Bluesky on {action}: {type(error).__name__}"
                          f"{f' {error.response.status_code}' if getattr(error, 'response', None) else ''}")


def _find(client: Client, did: str, rkey: str) -> str | None:
    try:
        found = client.com.atproto.repo.get_record(
            models.ComAtprotoRepoGetRecord.Params(repo=did, collection=POST, rkey=rkey))
    except BadRequestError as error:
        if getattr(error.response.content, "error", None) == "RecordNotFound":  # type: ignore[union-attr]
            return None
        raise
    except (NetworkError, RequestErrorBase) as error:
        if isinstance(error, (UnauthorizedError, RateLimitExceededError)):
            raise
        raise _unknown(error, "the look-up") from None
    return str(found.uri)


def _embed(client: Client, item: Outgoing) -> models.AppBskyEmbedImages.Main:
    assert item.image is not None
    data = _small_enough(item.image)
    try:
        blob = client.upload_blob(data).blob
    except (UnauthorizedError, RateLimitExceededError, BadRequestError):
        raise
    except RequestErrorBase as error:  # a blob that may have landed makes no post: try again later
        raise NotSent(f"image upload to Bluesky failed: {type(error).__name__}") from None
    return models.AppBskyEmbedImages.Main(images=[models.AppBskyEmbedImages.Image(
        alt=item.alt or "", image=blob)])


def _small_enough(image: Path) -> bytes:
    """The image's bytes, re-encoded as JPEG at falling quality and size until within `BLOB_LIMIT`."""
    data = image.read_bytes()
    if len(data) <= BLOB_LIMIT:
        return data
    with Image.open(image) as opened:
        picture = opened.convert("RGB")
    for quality in (90, 80, 70, 60):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
        if buffer.tell() <= BLOB_LIMIT:
            return buffer.getvalue()
        picture = picture.resize((picture.width * 3 // 4, picture.height * 3 // 4))
    raise Rejected(f"the image {image.name} cannot be made smaller than {BLOB_LIMIT} bytes for Bluesky")


def _create(client: Client, did: str, rkey: str, text: str,
            embed: models.AppBskyEmbedImages.Main | None) -> str:
    record = models.AppBskyFeedPost.Record(text=text, created_at=client.get_current_time_iso(),
                                           embed=embed, langs=["en"])
    try:
        made = client.com.atproto.repo.create_record(models.ComAtprotoRepoCreateRecord.Data(
            repo=did, collection=POST, rkey=rkey, record=record))
    except (UnauthorizedError, RateLimitExceededError, BadRequestError):
        raise
    except RequestErrorBase as error:
        raise _unknown(error, "create") from None
    return str(made.uri)


def _records(client: Client, did: str, limit: int) -> list[RemotePost]:
    found: list[RemotePost] = []
    cursor = None
    while len(found) < limit:
        page = client.com.atproto.repo.list_records(models.ComAtprotoRepoListRecords.Params(
            repo=did, collection=POST, limit=min(100, limit - len(found)), cursor=cursor))
        for record in page.records:
            created = datetime.fromisoformat(record.value.created_at.replace("Z", "+00:00"))
            found.append(RemotePost(str(record.uri), record.value.text, created))
        cursor = page.cursor
        if not cursor or not page.records:
            break
    return found
