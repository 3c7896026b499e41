"""The tweet supply behind /tweet: pooled tweets expire with their model, errors reach the user."""

from __future__ import annotations

import asyncio

import pytest

from bot.adapters.tweets import TweetSupply
from bot.commands import TweetRequest
from bot.generation import GeneratedText
from models.errors import NoServingModel


def test_pool_drops_tweets_of_an_older_model_version() -> None:
    version = {"id": 1}
    calls: list[int] = []

    async def generate(request: TweetRequest, count: int) -> list[GeneratedText]:
        calls.append(count)
        return [GeneratedText(f"v{version['id']} #{n}", -1.0, version["id"]) for n in range(count)]

    async def main() -> list[str]:
        supply = TweetSupply(generate, pool_size=4)
        request = TweetRequest("ada")
        texts = [(await supply.get(request)).text for _ in range(3)]  # half empty: refill starts
        version["id"] = 2  # a new model was promoted before the refill ran
        await asyncio.sleep(0.01)
        texts += [(await supply.get(request)).text for _ in range(3)]
        return texts

    texts = asyncio.run(main())
    # the last v1 tweet was dropped unseen when the refill brought v2's
    assert texts == ["v1 #0", "v1 #1", "v1 #2", "v2 #0", "v2 #1", "v2 #2"]
    assert calls[:2] == [4, 3]  # refills top the pool up to its size


def test_generation_errors_reach_every_waiting_request() -> None:
    async def generate(request: TweetRequest, count: int) -> list[GeneratedText]:
        raise NoServingModel(f"no serving text model for '{request.persona}' yet")

    async def main() -> list[BaseException | GeneratedText]:
        supply = TweetSupply(generate)
        return await asyncio.gather(*(supply.get(TweetRequest("ada", prompt=p)) for p in "ab "),
                                    return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, NoServingModel) for r in results)
    with pytest.raises(NoServingModel):
        raise results[0]  # type: ignore[misc]
