"""The /queue review buttons: approve, reject and regenerate drafts, also after a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot import generation, outbox
from bot.app import App
from bot.chat.models import LocalChatModels
from bot.core.runtime import Runtime
from bot.generation import GeneratedText
from bot.platforms.discord.client import build_client
from fake_discord import FakeDiscord, Member, logged_in
from test_discord_commands import discord_app
from models.registry import Registry
from storage.outbox import GeneratedItem, Post, PostStatus


def draft(app: App, text: str) -> int:
    with app.sessions.begin() as session:
        return outbox.create_post(session, platforms=["x"], text=text, hashtag=None, review=True).id


def status_of(app: App, post_id: int) -> str:
    with app.sessions() as session:
        return session.get_one(Post, post_id).status


def button_ids(message: dict[str, Any]) -> list[str]:
    return [item["custom_id"] for row in message["components"] for item in row["components"]]


async def queue_message(fake: FakeDiscord, admin: Member) -> dict[str, Any]:
    """Run /queue as `admin`; return the message with the buttons, as the fake stored it."""
    sent = await fake.send_interaction(fake.command("queue", admin))
    await fake.wait_for(lambda c: c.method == "POST" and c.path.endswith(sent.token))
    [message] = [m for m in fake.messages.values() if m["components"]]
    return message


def bot_client(app: App, fake: FakeDiscord) -> Any:
    """A bot for `fake` whose admins hold the fake's admin role."""
    configured = discord_app(app, token=fake.token, admin_role_ids={fake.admin_role_id})
    runtime = Runtime(configured, generation, {}, chat=LocalChatModels(configured))
    return build_client(runtime, guild_ready_timeout=0.05)


async def press(fake: FakeDiscord, custom_id: str, member: Member,
                message: dict[str, Any]) -> tuple[Any, Any]:
    """Press a button; return the first response and the follow-up calls."""
    sent = await fake.send_interaction(fake.button(custom_id, member, message))
    first = await fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
    if first.json["type"] != 5:
        return first, None
    return first, await fake.wait_for(lambda c: c.method == "POST" and c.path.endswith(sent.token))


def test_queue_offers_buttons_that_work_after_a_restart(sqlite_app: App) -> None:
    first, second = draft(sqlite_app, "first draft"), draft(sqlite_app, "second draft")

    async def main() -> None:
        fake = FakeDiscord()
        await fake.start()
        admin = Member(roles=(fake.admin_role_id,))
        async with logged_in(fake, bot_client(sqlite_app, fake)):
            message = await queue_message(fake, admin)
            assert "first draft" in message["content"] and message["flags"] & 64
            assert button_ids(message) == [
                f"nowbot:review:{action}:{post_id}"
                for post_id in (first, second) for action in ("approve", "reject", "regenerate")
            ]
        # a new process: a new client instance on the same database, pressing the old buttons
        async with logged_in(fake, bot_client(sqlite_app, fake)):
            ack, answer = await press(fake, f"nowbot:review:approve:{first}", admin, message)
            assert ack.flags & 64 and "approved" in answer.json["content"]
            ack, answer = await press(fake, f"nowbot:review:reject:{second}", admin, message)
            assert "rejected" in answer.json["content"]
        await fake.close()

    asyncio.run(main())
    assert (status_of(sqlite_app, first), status_of(sqlite_app, second)) == (
        PostStatus.APPROVED, PostStatus.REJECTED)
    with sqlite_app.sessions() as session:  # the Discord user who pressed, kept on each post
        assert [session.get_one(Post, i).reviewed_by for i in (first, second)] == ["someone"] * 2


def test_review_button_refuses_non_admins(sqlite_app: App) -> None:
    post_id = draft(sqlite_app, "a draft")

    async def main() -> None:
        fake = FakeDiscord()
        await fake.start()
        async with logged_in(fake, bot_client(sqlite_app, fake)):
            message = await queue_message(fake, Member(roles=(fake.admin_role_id,)))
            ack, _ = await press(fake, f"nowbot:review:approve:{post_id}", Member(), message)
            assert ack.json["type"] == 4 and ack.flags & 64
            assert ack.json["data"]["content"] == "Only bot admins can do that."
        await fake.close()

    asyncio.run(main())
    assert status_of(sqlite_app, post_id) == PostStatus.DRAFT


def test_regenerate_and_approving_twice(sqlite_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    draft(sqlite_app, "an older post")
    post_id = draft(sqlite_app, "a tired draft")
    registry = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir)
    version = registry.save_version("text", "all", lambda folder: None, {"bpc": 2.0})
    asked: list[list[str]] = []

    def write(app: App, persona: str, recent: list[str]) -> GeneratedText:  # the model's part
        asked.append(recent)
        return GeneratedText("a fresh draft", -1.0, version.id)

    monkeypatch.setattr(generation, "generate_post_text", write)

    async def main() -> None:
        fake = FakeDiscord()
        await fake.start()
        admin = Member(roles=(fake.admin_role_id,))
        async with logged_in(fake, bot_client(sqlite_app, fake)):
            message = await queue_message(fake, admin)
            _, answer = await press(fake, f"nowbot:review:regenerate:{post_id}", admin, message)
            assert "regenerated" in answer.json["content"] and "a fresh draft" in answer.json["content"]
            await press(fake, f"nowbot:review:approve:{post_id}", admin, message)
            _, again = await press(fake, f"nowbot:review:approve:{post_id}", admin, message)
            assert again.flags & 64
            assert again.json["content"].startswith(f"Post `#{post_id}` approved")  # quietly
        await fake.close()

    asyncio.run(main())
    assert asked == [["a tired draft", "an older post"]]  # the recent posts, as everywhere
    with sqlite_app.sessions() as session:
        post = session.get_one(Post, post_id)
        assert post.text.startswith("a fresh draft")
        item = session.get_one(GeneratedItem, post.generated_item_id)  # which model wrote it
        assert (item.model_version_id, item.text) == (version.id, "a fresh draft")
