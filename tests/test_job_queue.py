"""The PostgreSQL job queue with real processes: a leader-elected scheduler queues what it fires,
`nowbot worker` processes run it; a killed worker's job is finished by another."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot import outbox
from bot.app import App, open_app
from bot.commands import CommandError, TweetRequest
from bot.config import Settings
from bot.queue.chat import QueuedChatModels
from fake_mastodon import FakeMastodon
from queue_harness import start
from service_harness import StubGenerator, wait_for
from models.registry import Registry
from storage.jobqueue import ChatAnswer, JobSlot
from text_models import write_text_model
from storage.outbox import Delivery, Post, PostStatus

pytestmark = pytest.mark.postgresql


@pytest.fixture
def queued(pg_schema_url: str, tmp_path: Path) -> Iterator[App]:
    """An app on a fresh PostgreSQL schema with the job queue on, workers taken for dead after
    3 silent seconds."""
    app = open_app(Settings(database_url=pg_schema_url, data_dir=tmp_path, job_queue="postgresql",
                            queue_stall_seconds=3, publish_deadline_seconds=5))
    yield app
    app.engine.dispose()


def _rows(app: App, query: str) -> list[tuple]:
    with app.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query))]


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)


def test_a_periodic_job_runs_once_per_slot_whatever_the_number_of_workers(
        queued: App, processes: list[subprocess.Popen[bytes]]) -> None:
    StubGenerator().generate_post_text(queued, queued.settings.campaign_persona, [])  # a version
    processes += [start("worker", queued.settings) for _ in range(3)]
    schedulers = [start("scheduler", queued.settings, "campaign") for _ in range(2)]
    processes += schedulers

    def slots() -> list[tuple]:
        return _rows(queued, "SELECT slot FROM job_slots WHERE job_id = 'campaign-1'")

    wait_for(lambda: len(slots()) >= 8, timeout=90)
    for scheduler in schedulers:
        _stop(scheduler)
    wait_for(lambda: not _rows(queued, "SELECT id FROM procrastinate_jobs "
                                       "WHERE status IN ('todo', 'doing')"), timeout=60)

    jobs = _rows(queued, "SELECT args->>'slot', status, worker_id FROM procrastinate_jobs "
                         "WHERE task_name = 'nowbot:scheduled'")
    with queued.sessions() as session:
        posted = session.scalars(select(Post.campaign_slot)).all()
        queued_slots = session.scalars(select(JobSlot.slot)).all()
    assert len(jobs) == len(queued_slots) == len(slots()) >= 8
    assert {status for _, status, _ in jobs} == {"succeeded"}
    assert len({slot for slot, _, _ in jobs}) == len(jobs)  # each slot queued once
    assert sorted(posted) == sorted(f"campaign-1@{slot}" for slot, _, _ in jobs)  # one post each
    assert len({worker for _, _, worker in jobs}) >= 2  # spread over the workers


def test_a_worker_killed_mid_publish_has_its_round_finished_by_another_publishing_once(
        queued: App, processes: list[subprocess.Popen[bytes]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeMastodon() as fake:
        monkeypatch.setenv("NOWBOT_MASTODON_INSTANCE_URL", fake.base_url)
        monkeypatch.setenv("NOWBOT_MASTODON_ACCESS_TOKEN", fake.token)
        with queued.sessions.begin() as session:
            post = outbox.create_post(session, platforms=["mastodon"], text="Talks at nine",
                                      hashtag="#siggraphNOW", review=False)
            post_id = post.id
        fake.fail("POST /api/v1/statuses", None, delay=20)  # created, then answered late
        first = start("worker", queued.settings)
        processes += [first, start("scheduler", queued.settings, "outbox")]
        wait_for(lambda: fake.calls("POST /api/v1/statuses"), timeout=60)
        first.send_signal(signal.SIGKILL)  # mid-request: the status exists, the answer never came
        first.wait()
        processes.append(start("worker", queued.settings))

        def delivery() -> Delivery:
            with queued.sessions() as session:
                return session.scalars(select(Delivery).where(Delivery.post_id == post_id)).one()

        wait_for(lambda: delivery().status == PostStatus.PUBLISHED, timeout=120)
        assert len(fake.statuses) == 1  # published once
        # Sent again only under the same idempotency key, which Mastodon answers with the first.
        keys = {call.headers.get("idempotency-key") for call in fake.calls("POST /api/v1/statuses")}
        assert len(keys) == 1 and None not in keys
        assert delivery().external_id.endswith(str(fake.statuses[0]["id"]))
        abandoned = _rows(queued, "SELECT status FROM procrastinate_jobs "
                                  "WHERE task_name = 'nowbot:publish_round' AND worker_id IS NULL "
                                  "AND status = 'doing'")
        assert not abandoned


def test_a_chat_request_is_answered_by_a_generation_worker(
        queued: App, processes: list[subprocess.Popen[bytes]]) -> None:
    registry = Registry(queued.sessions, queued.artifacts_dir)
    version = registry.save_version("text", "all", write_text_model, {"bpc": 2.0},
                                    {"personas": ["ada", "bob"]})
    registry.promote_if_better(version.id, "bpc")
    processes.append(start("worker", queued.settings, "generate"))

    async def ask() -> tuple[list[str], str]:
        models = QueuedChatModels(queued)
        try:
            tweets = await asyncio.gather(*(models.tweet(TweetRequest("ada", prompt="the cat"))
                                            for _ in range(3)))
            with pytest.raises(CommandError) as refused:
                await models.tweet(TweetRequest("zed", prompt="a"))
            return [tweet.text for tweet in tweets], str(refused.value)
        finally:
            await models.close()

    texts, refusal = asyncio.run(ask())
    assert all(text.startswith("the cat") for text in texts) and len(texts) == 3
    assert "zed" in refusal  # the worker's one-line reason reaches the chat user
    with queued.sessions() as session:
        assert session.scalars(select(ChatAnswer)).all() == []  # every answer taken
