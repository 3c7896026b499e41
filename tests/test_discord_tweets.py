"""The tweet supply behind /tweet: pooled tweets expire with their model, errors reach the user."""

from __future__ import annotations

import asyncio

import pytest

from bot.chat.tweets import TweetSupply
from bot.commands import TweetRequest
from bot.generation import GeneratedText
from models.errors import NoServingModel


def test_pool_drops_tweets_of_an_older_model_version() -> None:
    version = {"id": 1}
    made = iter(range(1000))
    calls: list[int] = []

    async def generate(request: TweetRequest, count: int) -> list[GeneratedText]:
        calls.append(count)
        return [GeneratedText(f"v{version['id']} #{next(made)}", -1.0, version["id"])
                for _ in range(count)]

    async def main() -> list[str]:
        supply = TweetSupply(generate, pool_size=4, refill_chunk=4, refill_delay_s=0)
        request = TweetRequest("ada")
        texts = [(await supply.get(request)).text for _ in range(3)]  # half empty: refill starts
        version["id"] = 2  # a new model was promoted before the refill ran
        await asyncio.sleep(0.01)
        texts += [(await supply.get(request)).text for _ in range(3)]
        return texts

    texts = asyncio.run(main())
    assert texts[:3] == ["v1 #0", "v1 #1", "v1 #2"]
    assert all(text.startswith("v2") for text in texts[3:])  # the last v1 tweet was dropped
    assert len(set(texts)) == len(texts)
    assert calls[0] == 4 and max(calls) <= 4


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
