"""Publishing to X with the real tweepy client and OAuth 1.0a user credentials.

Posts go through `Client.create_tweet`. Images go through X API v2 `POST /2/media/upload` (tweepy
4.17 only knows the retired v1.1 upload), sent on the client's own `requests` session and signed
with the same OAuth 1.0a credentials. Outcomes are sorted for the outbox:

- certainly not created (connection refused, connect timeout, 429, a failed upload): `NotSent`,
  retried here a few times with backoff when it is a transport failure;
- refused for good (401 bad credentials, 403, 400): `Rejected`;
- maybe created (read timeout, connection dropped after sending, 5xx on create): `OutcomeUnknown`,
  never retried; the outbox reconciles it against `recent_posts`.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

import requests
import tweepy
from requests_oauthlib import OAuth1
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from bot.config import Settings
from bot.platforms.base import (NEVER, NotSent, Outgoing, OutcomeUnknown, Rejected, RemotePost,
                                nothing_created)
from bot.platforms.transport import DeadlineSession, never_sent
from bot.platforms.x import text as x_text
from storage.base import utcnow

log = logging.getLogger("nowbot.x")
UPLOAD_URL = "https://api.twitter.com/2/media/upload"


def _detail(error: tweepy.HTTPException) -> str:
    messages = "; ".join(error.api_messages) or error.response.reason
    return f"{error.response.status_code} {messages}"


def _retryable(error: BaseException) -> bool:
    return isinstance(error, NotSent) and error.retry_after is None


class XPublisher:
    """Posts to the X account whose user credentials are in the settings."""

    platform = "x"
    resend_safe_for = NEVER  # X has no idempotency key: an unknown post is matched by its text
    fit_text = staticmethod(x_text.fit_text)
    text_limit = x_text.POST_LIMIT
    text_length = staticmethod(x_text.post_length)
    normalized = staticmethod(x_text.normalized)
    post_url = staticmethod(x_text.post_url)

    def __init__(self, settings: Settings, *, timeout: float = 30.0, retry_wait: float = 1.0,
                 tries: int = 3) -> None:
        if not settings.x_post_configured:
            raise ValueError("X user credentials are not configured")
        secrets = [
            value.get_secret_value()  # type: ignore[union-attr]
            for value in (settings.x_consumer_key, settings.x_consumer_secret,
                          settings.x_access_token, settings.x_access_token_secret)
        ]
        consumer_key, consumer_secret, access_token, access_token_secret = secrets
        self.client = tweepy.Client(
            consumer_key=consumer_key, consumer_secret=consumer_secret, access_token=access_token,
            access_token_secret=access_token_secret, wait_on_rate_limit=False,
        )
        self.client.session = DeadlineSession(timeout)  # tweepy sets no timeout of its own
        self._upload_auth = OAuth1(*secrets)
        self.cost_per_post_usd = settings.x_cost_per_post_usd
        self.monthly_budget_usd: float | None = settings.x_monthly_budget_usd
        self._blocked_until: datetime | None = None
        self._user_id: str | None = None
        self._lock = threading.Lock()
        self._with_retries = retry(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(tries),
            wait=wait_exponential(multiplier=retry_wait, max=30 * retry_wait),
            reraise=True,
        )

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, item: Outgoing) -> str:
        """Create the post (with its image uploaded first); returns the X post id."""
        with self._lock:
            media_ids = None
            if item.image is not None:
                with nothing_created("X", "uploading the image"):
                    media_ids = [self._with_retries(self._upload)(item.image)]
            return self._with_retries(self._create)(item.text, media_ids)

    def _check_rate_limit(self) -> None:
        if self._blocked_until and utcnow() < self._blocked_until:
            raise NotSent(f"X rate limit until {self._blocked_until:%H:%M:%S} UTC",
                          retry_after=self._blocked_until)

    def _rate_limited(self, error: tweepy.TooManyRequests) -> NotSent:
        reset = getattr(error, "reset_time", None)
        until = datetime.fromtimestamp(reset, UTC) if reset else utcnow()
        self._blocked_until = until
        return NotSent(f"X rate limit reached; retrying after {until:%H:%M:%S} UTC", retry_after=until)

    def _create(self, text: str, media_ids: list[str] | None) -> str:
        self._check_rate_limit()
        try:
            response = self.client.create_tweet(text=text, media_ids=media_ids, user_auth=True)
        except tweepy.TooManyRequests as error:
            raise self._rate_limited(error) from None
        except tweepy.Unauthorized as error:
            raise Rejected(f"X refused the credentials ({_detail(error)}): "
                           "check the NOWBOT_X_CONSUMER_*/ACCESS_* settings") from None
        except tweepy.TwitterServerError as error:
            raise OutcomeUnknown(f"X server error on create ({_detail(error)})") from None
        except tweepy.HTTPException as error:
            raise Rejected(f"X refused the post ({_detail(error)})") from None
        except requests.RequestException as error:
            if never_sent(error):
                raise NotSent(f"could not reach X: {type(error).__name__}") from None
            raise OutcomeUnknown(f"no answer from X after sending: {type(error).__name__}") from None
        return str(response.data["id"])

    def _upload(self, image: Path) -> str:
        """Upload an image with X API v2 simple upload; returns the media id."""
        self._check_rate_limit()
        try:
            response = self.client.session.post(
                UPLOAD_URL, auth=self._upload_auth,
                data={"media_category": "tweet_image"},
                files={"media": (image.name, image.read_bytes(), "image/png")},
            )
        except requests.RequestException as error:
            # An upload that may have landed creates no post: trying again is harmless.
            raise NotSent(f"image upload to X failed: {type(error).__name__}") from None
        if response.status_code == 429:
            reset = response.headers.get("x-rate-limit-reset")
            until = datetime.fromtimestamp(int(reset), UTC) if reset else utcnow()
            self._blocked_until = until
            raise NotSent(f"X rate limit on media upload until {until:%H:%M:%S} UTC", retry_after=until)
        if response.status_code in (400, 401, 403):
            raise Rejected(f"X refused the image upload ({response.status_code} {response.reason})")
        if not response.ok:
            raise NotSent(f"image upload to X failed ({response.status_code} {response.reason})")
        return str(response.json()["data"]["id"])

    # -- reconciliation ------------------------------------------------------------------------

    def recent_posts(self, limit: int) -> list[RemotePost]:
        """The authenticated account's `limit` newest posts, newest first (pages of up to 100;
        X bills every post read)."""
        if self._user_id is None:
            self._user_id = str(self.client.get_me(user_auth=True).data.id)
        pages = tweepy.Paginator(
            self.client.get_users_tweets, self._user_id, user_auth=True,
            max_results=max(5, min(limit, 100)), tweet_fields=["created_at"],
        )
        return [RemotePost(str(tweet.id), tweet.text, tweet.created_at)
                for tweet in pages.flatten(limit=limit)]
