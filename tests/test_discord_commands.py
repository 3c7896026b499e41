"""Slash commands through the real discord.py client logged in to the fake Discord.

Generation is the models' job (tested with them and in tests/test_chat_engine.py); here the
runtime's models are the in-process ones with a stand-in generation engine, and the
`bot.generation` seam returns texts and real PNG/GIF bytes, so the adapter's path (defer, the
models' threads, the ready-tweet pool, follow-up with files) is exercised whatever model is
serving.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from PIL import Image

from bot import commands, generation, outbox
from bot.app import App
from bot.config import Settings
from bot.generation import GeneratedText
from bot.chat.models import LocalChatModels, chat_models
from bot.core.runtime import ChatModels, Runtime
from bot.platforms.discord.client import build_client
from models.registry import Registry
from storage.corpus import Persona
from storage.imagesets import ImageSet
from storage.registry import TrainingRun
from fake_discord import Call, FakeDiscord, Member, logged_in

Scenario = Callable[[FakeDiscord, Any], Awaitable[None]]


def discord_app(app: App, **settings: Any) -> App:
    """`app` with Discord settings (`token=...` for `NOWBOT_DISCORD_TOKEN` and so on)."""
    update = {f"discord_{name}": value for name, value in settings.items()}
    validated = Settings(**{**app.settings.model_dump(), **update})
    return App(settings=validated, engine=app.engine, sessions=app.sessions)


def run_bot(app: App, scenario: Scenario, *, chat: ChatModels | None = None,
            **settings: Any) -> FakeDiscord:
    """Start the fake and a bot logged in to it, run `scenario(fake, client)`, stop both.
    The bot generates with `chat` (default: the models in this process)."""

    async def main() -> FakeDiscord:
        fake = FakeDiscord()
        await fake.start()
        options = {"token": fake.token, "admin_role_ids": {fake.admin_role_id},
                   "cooldown_seconds": 30.0, **settings}
        configured = discord_app(app, **options)
        models = chat or chat_models(configured)
        runtime = Runtime(configured, generation, {}, chat=models)
        try:
            async with logged_in(fake, build_client(runtime, guild_ready_timeout=0.05)) as client:
                await scenario(fake, client)
        finally:
            await models.close()
            await fake.close()
        return fake

    return asyncio.run(main())


def callback(fake: FakeDiscord, interaction: Any) -> Awaitable[Call]:
    return fake.wait_for(lambda c: c.path.endswith(f"/{interaction.token}/callback"))


def followup(fake: FakeDiscord, interaction: Any) -> Awaitable[Call]:
    return fake.wait_for(
        lambda c: c.method == "POST" and c.path.endswith(f"/webhooks/{fake.application_id}/"
                                                          f"{interaction.token}"))


def png(width: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, width), "white").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def seeded(sqlite_app: App, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Two personas, an image set, and generation stand-ins that record their calls."""
    with sqlite_app.sessions.begin() as session:
        session.add_all([Persona(name="ada"), Persona(name="grace"),
                         ImageSet(name="digits", width=28, height=28, channels=1)])
    seen: dict[str, Any] = {}

    def tweets(app: App, persona: str, **options: Any) -> list[GeneratedText]:
        seen["tweets"] = (persona, options, threading.current_thread().name)
        seen.setdefault("counts", []).append(options["count"])
        time.sleep(0.05)  # sampling takes a while: concurrent requests pile up meanwhile
        first = len(seen.setdefault("written", []))  # numbered across calls: every tweet differs
        seen["written"] += range(options["count"])
        suffixes = [f" #{n}" if n else "" for n in range(first, first + options["count"])]
        return [GeneratedText(f"hello from {persona}{suffix}", -1.0, 1) for suffix in suffixes]

    def grid(app: App, image_set: str, count: int) -> bytes:
        seen["grid"] = (image_set, count, threading.current_thread().name)
        return png()

    class StandInEngine:
        """The generation engine's interface, answering with `tweets` in its own thread."""

        def __init__(self, app: App) -> None:
            self.app = app
            self.thread = ThreadPoolExecutor(1, thread_name_prefix="nowbot-engine")

        async def tweets(self, request: commands.TweetRequest, count: int) -> list[GeneratedText]:
            seen["in_flight"] = seen.get("in_flight", 0) + 1
            seen["most_in_flight"] = max(seen.get("most_in_flight", 0), seen["in_flight"])
            try:
                return await asyncio.get_running_loop().run_in_executor(self.thread, partial(
                    tweets, self.app, request.persona, prompt=request.prompt,
                    temperature=request.temperature, count=count, blend_with=request.blend_with))
            finally:
                seen["in_flight"] -= 1

        def close(self) -> None:
            self.thread.shutdown()

    seen["chat"] = LocalChatModels(sqlite_app, engine=StandInEngine(sqlite_app))
    monkeypatch.setattr(generation, "render_image_grid", grid)
    monkeypatch.setattr(generation, "progress_gif", lambda app, image_set: b"GIF89a-frames")
    return seen


def test_tweet_defers_then_follows_up_with_generated_text(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(
            fake.command("tweet", Member(), persona="grace", prompt="Compilers", temperature=0.5))
        defer, answer = await callback(fake, sent), await followup(fake, sent)
        assert (defer.status, defer.json["type"]) == (200, 5)
        assert answer.json["content"] == "**grace**: hello from grace"
        assert answer.flags & 64 == 0
        assert defer.at < answer.at

    run_bot(sqlite_app, scenario, chat=seeded["chat"])
    persona, options, thread = seeded["tweets"]
    assert (persona, options["prompt"], options["temperature"]) == ("grace", "Compilers", 0.5)
    assert thread.startswith("nowbot-engine")  # generation ran off the event loop


def test_image_follows_up_with_png_attachment(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(fake.command("image", Member(), set="digits", count=4))
        assert (await callback(fake, sent)).json["type"] == 5
        answer = await followup(fake, sent)
        [file] = answer.files
        assert file.filename == "digits.png" and file.data.startswith(b"\x89PNG")
        assert answer.json["attachments"][0]["filename"] == "digits.png"

    run_bot(sqlite_app, scenario, chat=seeded["chat"])
    assert seeded["grid"] == ("digits", 4, "nowbot-model_0")  # in the models' own thread


def test_progress_follows_up_with_gif(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(fake.command("progress", Member()))
        [file] = (await followup(fake, sent)).files
        assert (file.filename, file.data) == ("digits-progress.gif", b"GIF89a-frames")

    run_bot(sqlite_app, scenario, chat=seeded["chat"])


def test_mashup_blends_two_personas(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(
            fake.command("mashup", Member(), persona_a="ada", persona_b="grace"))
        assert "ada × grace" in (await followup(fake, sent)).json["content"]

    run_bot(sqlite_app, scenario, chat=seeded["chat"])
    assert seeded["tweets"][1]["blend_with"] == "grace"


def test_concurrent_prompted_tweets_reach_the_engine_together(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = [await fake.send_interaction(fake.command("tweet", Member(), prompt="Hi"))
                for _ in range(5)]
        answers = [(await followup(fake, interaction)).json["content"] for interaction in sent]
        assert sorted(answers) == ["**ada**: hello from ada"] + [
            f"**ada**: hello from ada #{n}" for n in range(1, 5)]  # five different tweets

    run_bot(sqlite_app, scenario, chat=seeded["chat"])
    # Each is its own request (the best of its own candidates), all handed to the engine at
    # once: it samples them in one batch.
    assert seeded["counts"] == [1] * 5 and seeded["most_in_flight"] == 5


def test_tweets_without_prompt_are_served_from_a_ready_pool(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        answers = []
        for _ in range(6):
            sent = await fake.send_interaction(fake.command("tweet", Member(), persona="grace"))
            answers.append((await followup(fake, sent)).json["content"])
        assert len(set(answers)) == 6  # each ready tweet is shown once

    run_bot(sqlite_app, scenario, chat=seeded["chat"])
    # a few chunked calls filled the pool; each asked for few tweets so the model still chose
    assert len(seeded["counts"]) < 6 and max(seeded["counts"]) <= 8


def test_unknown_persona_gets_short_ephemeral_error(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(fake.command("tweet", Member(), persona="nobody"))
        answer = await followup(fake, sent)
        assert answer.flags & 64
        assert answer.json["content"] == "unknown persona 'nobody' (try: ada, grace)"
        # the public "thinking..." placeholder is removed so only the caller sees the error
        assert fake.calls_to(rf"/webhooks/\d+/{sent.token}/messages/@original")[0].method == "DELETE"

    run_bot(sqlite_app, scenario, chat=seeded["chat"])
    assert "tweets" not in seeded


def test_image_count_out_of_range_is_refused(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(fake.command("image", Member(), count=500))
        answer = await followup(fake, sent)
        assert answer.flags & 64 and "count must be between 1 and 64" in answer.json["content"]

    run_bot(sqlite_app, scenario, chat=seeded["chat"])
    assert "grid" not in seeded


def test_missing_serving_model_is_reported_not_crashed(sqlite_app: App) -> None:
    with sqlite_app.sessions.begin() as session:
        session.add(Persona(name="ada"))

    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(fake.command("tweet", Member()))
        answer = await followup(fake, sent)
        assert answer.flags & 64 and "ada" in answer.json["content"]
        assert "Something went wrong" not in answer.json["content"]

    run_bot(sqlite_app, scenario)


def test_second_quick_tweet_gets_cooldown_message(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        user = Member()
        first = await fake.send_interaction(fake.command("tweet", user))
        await followup(fake, first)
        second = await fake.send_interaction(fake.command("tweet", user))
        refusal = await callback(fake, second)
        assert refusal.json["type"] == 4 and refusal.flags & 64
        assert refusal.json["data"]["content"].startswith("Slow down: you can use this again in")
        other = await fake.send_interaction(fake.command("tweet", Member()))  # per user
        assert (await callback(fake, other)).json["type"] == 5

    run_bot(sqlite_app, scenario, chat=seeded["chat"])


def test_persona_autocomplete_suggests_matching_names(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(fake.autocomplete("tweet", Member(), "persona", "gr"))
        answer = await callback(fake, sent)
        assert answer.json == {"type": 8, "data": {"choices": [{"name": "grace", "value": "grace"}]}}

    run_bot(sqlite_app, scenario, chat=seeded["chat"])


def test_train_by_non_admin_is_refused_ephemerally(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(
            fake.command("train", Member(), kind="text", target="ada"))
        refusal = await callback(fake, sent)
        assert refusal.json["type"] == 4 and refusal.flags & 64
        assert refusal.json["data"]["content"] == "Only bot admins can do that."

    run_bot(sqlite_app, scenario, chat=seeded["chat"])
    with sqlite_app.sessions() as session:
        assert session.query(TrainingRun).count() == 0


def test_train_by_admin_role_records_a_request_once(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        admin = Member(roles=(fake.admin_role_id,))
        sent = await fake.send_interaction(fake.command("train", admin, kind="gan", target="digits"))
        assert (await callback(fake, sent)).flags & 64  # admin replies are private
        assert "requested: gan on `digits`" in (await followup(fake, sent)).json["content"]
        again = await fake.send_interaction(fake.command("train", admin, kind="gan", target="digits"))
        assert "already requested" in (await followup(fake, again)).json["content"]

    run_bot(sqlite_app, scenario, chat=seeded["chat"])
    with sqlite_app.sessions() as session:
        [run] = session.query(TrainingRun).all()
    assert (run.kind, run.target, run.status) == ("gan", "digits", "requested")


def test_schedule_is_admin_only_by_user_id(sqlite_app: App) -> None:
    admin = Member()

    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(fake.command("schedule", admin))
        assert "Campaign schedule" in (await followup(fake, sent)).json["content"]
        refused = await fake.send_interaction(fake.command("schedule", Member()))
        assert (await callback(fake, refused)).json["type"] == 4

    run_bot(sqlite_app, scenario, admin_user_ids={admin.id})


def test_status_shows_serving_model_versions(sqlite_app: App) -> None:
    registry = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir)
    version = registry.save_version("text", "ada", lambda folder: None, {"val_loss": 1.2345})
    registry.promote_if_better(version.id, "val_loss")

    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(fake.command("status", Member()))
        answer = await followup(fake, sent)
        assert "text `ada` v1: val_loss 1.234" in answer.json["content"]

    run_bot(sqlite_app, scenario)


def test_start_never_syncs_commands_but_owner_sync_does(sqlite_app: App) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        assert not [c for c in fake.calls if c.method == "PUT"]
        refused = await fake.send_interaction(fake.command("sync", Member()))
        assert (await callback(fake, refused)).json["data"]["content"] == \
            "Only the bot's owners can do that."
        sent = await fake.send_interaction(
            fake.command("sync", fake.owner, guild_id=str(fake.guild_id)))
        assert "Synced 11 commands" in (await followup(fake, sent)).json["content"]
        [put] = fake.calls_to(rf"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands")
        assert {"tweet", "image", "queue", "train"} <= {command["name"] for command in put.json}

    run_bot(sqlite_app, scenario)


def test_sync_with_a_bad_guild_id_is_refused(sqlite_app: App) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(fake.command("sync", fake.owner, guild_id="general"))
        refusal = await callback(fake, sent)
        assert refusal.flags & 64
        assert refusal.json["data"]["content"] == "guild_id must be a number, not 'general'"

    run_bot(sqlite_app, scenario)


def test_tweet_and_mashup_from_a_real_serving_model(sqlite_app: App) -> None:
    """End to end: a tiny model trained through the real path answers /tweet and /mashup."""
    from models.text.train import train_text
    from test_text_training import TINY
    from text_corpus import store

    store(sqlite_app, {"ada": 80, "bob": 80})
    train_text(Registry(sqlite_app.sessions, sqlite_app.artifacts_dir), sqlite_app.sessions,
               sqlite_app.artifacts_dir, config=TINY, epochs=2)

    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(fake.command("tweet", Member(), persona="ada",
                                                        temperature=1.0))
        answer = await followup(fake, sent)
        assert answer.json["content"].startswith("**ada**: ") and not answer.flags & 64
        mixed = await fake.send_interaction(
            fake.command("mashup", Member(), persona_a="ada", persona_b="bob"))
        answer = await followup(fake, mixed)
        assert answer.json["content"].startswith("**ada × bob**: ") and not answer.flags & 64

    run_bot(sqlite_app, scenario)


def test_a_persona_past_the_autocomplete_limit_is_still_known(sqlite_app: App) -> None:
    with sqlite_app.sessions.begin() as session:
        session.add_all([Persona(name=f"p{n:02d}") for n in range(30)])
    assert commands.tweet_request(sqlite_app, "p29").persona == "p29"  # the 30th by name
    assert len(commands.personas(sqlite_app, limit=25)) == 25


def test_queue_is_refused_to_members_who_are_not_admins(sqlite_app: App, seeded: dict) -> None:
    with sqlite_app.sessions.begin() as session:
        outbox.create_post(session, platforms=["x"], text="a secret draft", hashtag=None, review=True)

    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(fake.command("queue", Member()))
        refusal = await callback(fake, sent)
        assert refusal.json["data"]["content"] == "Only bot admins can do that."
        assert "a secret draft" not in json.dumps(refusal.json)

    run_bot(sqlite_app, scenario, chat=seeded["chat"])


def test_a_prompt_pings_no_role_and_no_one(sqlite_app: App, seeded: dict) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        sent = await fake.send_interaction(
            fake.command("tweet", Member(), prompt="Hey <@&123> @everyone"))
        answer = await followup(fake, sent)
        assert answer.json["allowed_mentions"]["parse"] == []
        assert "<@&123>" not in answer.json["content"] and "@everyone" not in answer.json["content"]

    run_bot(sqlite_app, scenario, chat=seeded["chat"])
    assert seeded["tweets"][1]["prompt"] == "Hey  @\u200beveryone"  # defused before generation
