"""Publishing to a Mastodon account with Mastodon.py and an access token.

An image goes through `/api/v2/media` with its description and is polled until the server has
processed it; the status is created with an `Idempotency-Key` derived from the delivery, so a
delivery sent again within the key's lifetime (servers keep keys about an hour) returns the status
already made instead of a second one. Outcomes are sorted for the outbox:

- certainly not created (no connection, 429, a failed or unprocessed upload): `NotSent`; a 429
  keeps everything waiting until the server's `X-RateLimit-Reset`, and no request is made while
  the server said none remain;
- refused for good (401 bad token, 403, 422 validation): `Rejected`;
- maybe created (read timeout, connection dropped after sending, 5xx): `OutcomeUnknown`; the
  outbox sends it again with the same key within `resend_safe_for`, later it reconciles by text.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from mastodon import (Mastodon, MastodonAPIError, MastodonNetworkError, MastodonRatelimitError,
                      MastodonServerError, MastodonUnauthorizedError, MastodonVersionError)

from bot.config import Settings
from bot.platforms.base import (NotSent, Outgoing, OutcomeUnknown, Rejected, RemotePost,
                                nothing_created)
from bot.platforms.mastodon import text as mastodon_text
from bot.platforms.transport import DeadlineSession, never_sent, time_left
from storage.base import utcnow

PAGE = 40  # statuses per request, the API's most
KEY_LIFETIME = timedelta(minutes=45)  # servers keep an Idempotency-Key about an hour


def _reset(api: Mastodon) -> datetime:
    reset = getattr(api, "ratelimit_reset", None)
    return datetime.fromtimestamp(reset, UTC) if reset else utcnow() + timedelta(minutes=5)


class MastodonPublisher:
    """Posts to the Mastodon account whose instance and access token are in the settings."""

    platform = "mastodon"
    cost_per_post_usd = 0.0
    monthly_budget_usd: float | None = None
    resend_safe_for = KEY_LIFETIME
    fit_text = staticmethod(mastodon_text.fit_text)
    text_limit = mastodon_text.POST_LIMIT
    text_length = staticmethod(mastodon_text.post_length)
    normalized = staticmethod(mastodon_text.normalized)

    def __init__(self, settings: Settings, *, timeout: float = 30.0, media_wait: float = 60.0,
                 poll_s: float = 1.0) -> None:
        if settings.mastodon_instance_url is None or settings.mastodon_access_token is None:
            raise ValueError("the Mastodon instance URL and access token are not configured")
        self._url = settings.mastodon_instance_url.rstrip("/")
        self._token = settings.mastodon_access_token
        self._timeout, self._media_wait, self._poll_s = timeout, media_wait, poll_s
        self._api: Mastodon | None = None
        self._account_id: str | None = None
        self._lock = threading.Lock()

    @staticmethod
    def post_url(external_id: str) -> str | None:
        """The status's address (its id here is the address the server gave it)."""
        return external_id if external_id.startswith(("https://", "http://")) else None

    def _client(self) -> Mastodon:
        """The client, made on first use. It asks the server for its version (which decides the
        media API) once, failing at the first error: Mastodon.py's own check, on failure, calls
        itself again, contacting the server at every level until a `RecursionError`."""
        if self._api is None:
            api = Mastodon(api_base_url=self._url, access_token=self._token.get_secret_value(),
                           request_timeout=self._timeout, ratelimit_method="throw",
                           version_check_mode="none", session=DeadlineSession(self._timeout))
            try:
                api.retrieve_mastodon_version(fail_hard=True)
            except MastodonVersionError as error:
                cause = error.__cause__
                cause = getattr(cause, "__context__", None) or cause
                raise NotSent(f"could not reach Mastodon: {type(cause).__name__}") from None
            self._api = api
        return self._api

    def _check_rate_limit(self, api: Mastodon) -> None:
        """No request while the server said none remain until a reset it named (one it did not
        name is not waited for: the next answer says again)."""
        remaining, reset = api.ratelimit_remaining, api.ratelimit_reset
        if reset and remaining is not None and remaining <= 0 and _reset(api) > utcnow():
            raise NotSent(f"Mastodon rate limit until {_reset(api):%H:%M:%S} UTC",
                          retry_after=_reset(api))

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, item: Outgoing) -> str:
        """Create the status (the image uploaded and processed first); returns its address."""
        with self._lock:
            with nothing_created("Mastodon", "connecting or uploading the image"):
                api = self._client()
                self._check_rate_limit(api)
                media = [self._upload(api, item)] if item.image is not None else None
            try:
                status = api.status_post(item.text, media_ids=media, idempotency_key=item.key,
                                         visibility="public")
            except MastodonRatelimitError:
                raise NotSent("Mastodon rate limit reached", retry_after=_reset(api)) from None
            except MastodonUnauthorizedError:
                raise Rejected("Mastodon refused the access token (401): check "
                               "NOWBOT_MASTODON_ACCESS_TOKEN") from None
            except MastodonServerError as error:
                raise OutcomeUnknown(f"Mastodon server error on create ({error.args[1]})") from None
            except MastodonNetworkError as error:
                cause = error.__context__
                if never_sent(cause):
                    raise NotSent(f"could not reach Mastodon: {type(cause).__name__}") from None
                raise OutcomeUnknown(f"no answer from Mastodon after sending: {type(cause).__name__}") from None
            except MastodonAPIError as error:
                raise Rejected(f"Mastodon refused the status ({_detail(error)})") from None
            return str(status["url"] or status["uri"])

    def _upload(self, api: Mastodon, item: Outgoing) -> str:
        """Upload the image with its description and wait until it is processed; the media id."""
        assert item.image is not None
        try:
            media = api.media_post(item.image.read_bytes(), mime_type="image/png",
                                   description=item.alt, file_name=item.image.name)
            deadline = time.monotonic() + min(self._media_wait, time_left() or self._media_wait)
            while media["url"] is None:  # still processing
                if time.monotonic() > deadline:
                    raise NotSent("Mastodon has not processed the image yet; trying later")
                time.sleep(self._poll_s)
                media = api.media(media["id"])
        except MastodonRatelimitError:
            raise NotSent("Mastodon rate limit on media uploads", retry_after=_reset(api)) from None
        except MastodonUnauthorizedError:
            raise Rejected("Mastodon refused the access token on upload (401)") from None
        except (MastodonServerError, MastodonNetworkError) as error:
            # An upload that may have landed creates no status: trying again is harmless.
            raise NotSent(f"image upload to Mastodon failed: {type(error).__name__}") from None
        except MastodonAPIError as error:
            raise Rejected(f"Mastodon refused the image ({_detail(error)})") from None
        return str(media["id"])

    # -- reconciliation ------------------------------------------------------------------------

    def recent_posts(self, limit: int) -> list[RemotePost]:
        """The account's `limit` newest statuses, newest first (pages of up to 40)."""
        with self._lock:
            api = self._client()
            if self._account_id is None:
                self._account_id = str(api.me()["id"])
            found: list[RemotePost] = []
            max_id = None
            while len(found) < limit:
                page = api.account_statuses(self._account_id, limit=min(PAGE, limit - len(found)),
                                            max_id=max_id, exclude_reblogs=True)
                found += [RemotePost(str(s["url"] or s["uri"]), s["content"], _aware(s["created_at"]))
                          for s in page]
                if len(page) < min(PAGE, limit - len(found) + len(page)):
                    break
                max_id = page[-1]["id"]
            return found


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _detail(error: MastodonAPIError) -> str:
    status, reason, message = (list(error.args[1:4]) + [None, None, None])[:3]
    return " ".join(str(part) for part in (status, message or reason) if part)
