"""The generation engine on a real (tiny) trained model: a burst of different requests sampled in
one batch, each answered like a direct call, errors to their own callers only."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.app import App
from bot.chat.engine import GenerationEngine
from bot.commands import TweetRequest
from models.errors import ModelError, NoServingModel
from models.text import batch as batch_module
from test_generation import _train_text


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> App:
    from bot.app import open_app
    from bot.config import Settings

    # More candidates than the chat's default: this undertrained model copies itself often.
    app = open_app(Settings(data_dir=tmp_path_factory.mktemp("engine"), text_candidates_chat=48))
    _train_text(app)
    return app


def test_a_burst_of_different_requests_is_one_batch(trained: App, monkeypatch: pytest.MonkeyPatch) -> None:
    largest = [0]
    real_step = batch_module.Batch.step

    def step(self: batch_module.Batch) -> list:
        largest[0] = max(largest[0], len(self))
        return real_step(self)

    monkeypatch.setattr(batch_module.Batch, "step", step)
    requests = [TweetRequest("ada"), TweetRequest("bob", prompt="The", temperature=0.9),
                TweetRequest("ada", blend_with="bob"), TweetRequest("bob", temperature=1.2)]
    engine = GenerationEngine(trained, threads=1)

    async def burst() -> list:
        return await asyncio.gather(*(engine.tweets(r, count) for r, count in zip(requests, [1, 1, 1, 3])))

    try:
        answers = asyncio.run(burst())
    finally:
        engine.close()
    assert [len(a) for a in answers] == [1, 1, 1, 3]
    assert answers[1][0].text.startswith("The")
    candidates = trained.settings.text_candidates_chat
    assert largest[0] > 2 * candidates  # the requests' candidates were stepped together


def test_a_burst_is_spread_over_the_stepping_threads(trained: App, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: set[int] = set()
    real_step = batch_module.Batch.step

    def step(self: batch_module.Batch) -> list:
        threads.add(threading.get_ident())
        return real_step(self)

    monkeypatch.setattr(batch_module.Batch, "step", step)
    engine = GenerationEngine(trained, threads=2)

    async def burst() -> list:
        return await asyncio.gather(*(engine.tweets(TweetRequest(persona, prompt="The"))
                                      for persona in ["ada", "bob"] * 3))

    try:
        answers = asyncio.run(burst())
    finally:
        engine.close()
    assert all(len(a) == 1 and a[0].text.startswith("The") for a in answers)
    assert len(threads) == 2


def test_a_bad_request_fails_alone_and_close_ends_the_thread(trained: App) -> None:
    engine = GenerationEngine(trained)

    async def mixed() -> list:
        return await asyncio.gather(engine.tweets(TweetRequest("ada", prompt="x" * 400)),
                                    engine.tweets(TweetRequest("nobody")),
                                    engine.tweets(TweetRequest("bob")), return_exceptions=True)

    too_long, unknown, fine = asyncio.run(mixed())
    engine.close()
    assert isinstance(too_long, ModelError) and "limit" in str(too_long)
    assert isinstance(unknown, NoServingModel)
    assert len(fine) == 1 and fine[0].text
    assert not any(t.name == "nowbot-engine" for t in threading.enumerate())


def test_a_caller_that_gives_up_does_not_stop_the_engine(trained: App) -> None:
    engine = GenerationEngine(trained)

    async def give_up_then_ask() -> list:
        for wait in (0.0, 0.05):  # before it joins a batch, and while it is being sampled
            impatient = asyncio.ensure_future(engine.tweets(TweetRequest("ada", prompt="The")))
            await asyncio.sleep(wait)
            impatient.cancel()
        return await engine.tweets(TweetRequest("bob"))

    try:
        answer = asyncio.run(give_up_then_ask())
    finally:
        engine.close()
    assert len(answer) == 1 and answer[0].text


def test_a_request_whose_candidates_are_all_refused_is_sampled_again(
    trained: App, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from models.text import writing
    from models.text.select import CopyIndex

    rounds, refused = [0], [2]  # samplings so far; how many see every candidate as a copy
    real_choose = writing.choose_each

    def counting(*args: object, **kwargs: object) -> list:
        rounds[0] += 1
        return real_choose(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(writing, "choose_each", counting)
    monkeypatch.setattr(CopyIndex, "copies", lambda self, text: rounds[0] <= refused[0])
    engine = GenerationEngine(trained, threads=1)
    try:
        answer = asyncio.run(engine.tweets(TweetRequest("ada")))
        assert rounds[0] == 3 and len(answer) == 1 and answer[0].text
        rounds[0], refused[0] = 0, writing.ROUNDS
        with pytest.raises(ModelError, match="copies a training tweet"):
            asyncio.run(engine.tweets(TweetRequest("bob")))
        assert rounds[0] == writing.ROUNDS
    finally:
        engine.close()
