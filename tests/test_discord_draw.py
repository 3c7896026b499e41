"""`/draw` and "Draw this" through the real discord.py client logged in to the fake Discord, with
a real (tiny) draw model: an uploaded drawing in, the drawing and the result side by side out;
uploads that are not images, too large or broken refused privately, the cooldown kept."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bot.app import App
from fake_discord import FakeDiscord, Member
from test_discord_commands import callback, followup, run_bot
from test_draw import train_tiny


def _drawing() -> bytes:
    picture = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(picture).line((150, 30, 150, 170), fill="black", width=5)  # a 1
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def _picture(answer: Any) -> Image.Image:
    (part,) = answer.files
    assert part.filename == "tiny-drawing.png"
    return Image.open(io.BytesIO(part.data))


@pytest.fixture
def trained(sqlite_app: App) -> App:
    train_tiny(sqlite_app)
    return sqlite_app


def test_draw_answers_with_drawing_and_result(trained: App) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        user = Member()
        upload = fake.upload("pen.png", _drawing(), "image/png")
        sent = await fake.send_interaction(fake.command("draw", user, set="tiny", drawing=upload))
        defer, answer = await callback(fake, sent), await followup(fake, sent)
        assert (defer.status, defer.json["type"]) == (200, 5) and not defer.flags & 64
        assert answer.json["content"] == "Your drawing, drawn by **tiny** (sketch)"
        picture = _picture(answer)
        assert picture.size == ((1 + 2 * 17) * 16, (1 + 17) * 16)  # two 16 px panels, shown 16x
        drawn = np.asarray(picture.convert("L"))[:, : picture.width // 2]
        assert drawn.min() == 0  # the pen line, as the model read it
        again = await fake.send_interaction(fake.command("draw", user, set="tiny", drawing=upload))
        refusal = await callback(fake, again)
        assert refusal.json["type"] == 4 and refusal.flags & 64
        assert refusal.json["data"]["content"].startswith("Slow down")

    run_bot(trained, scenario)


def test_draw_refuses_non_images_large_and_broken_uploads(sqlite_app: App) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        text = fake.upload("notes.txt", b"hello", "text/plain")
        large = {**fake.upload("big.png", _drawing(), "image/png"), "size": 9 * 2**20}
        for upload, words in ((text, "not an image"), (large, "9.0 MB; at most 8 MB")):
            sent = await fake.send_interaction(fake.command("draw", Member(), set="tiny", drawing=upload))
            refusal = await callback(fake, sent)
            assert refusal.json["type"] == 4 and refusal.flags & 64, words  # private, not deferred
            assert words in refusal.json["data"]["content"]
        broken = fake.upload("broken.png", b"\x89PNG\r\n\x1a\n not really", "image/png")
        sent = await fake.send_interaction(fake.command("draw", Member(), set="tiny", drawing=broken))
        answer = await followup(fake, sent)
        assert answer.flags & 64 and "not a usable image" in answer.json["content"]
        sent = await fake.send_interaction(fake.command("draw", Member(), set="nope", drawing=text))
        assert (await callback(fake, sent)).flags & 64

    run_bot(sqlite_app, scenario)


def test_draw_this_draws_a_message_image(trained: App) -> None:
    async def scenario(fake: FakeDiscord, client: Any) -> None:
        author = Member(username="artist")
        posted = fake.user_message(author, "my drawing", fake.upload("pen.png", _drawing(), "image/png"))
        sent = await fake.send_interaction(fake.message_command("Draw this", Member(), posted))
        assert (await callback(fake, sent)).json["type"] == 5
        _picture(await followup(fake, sent))
        words = fake.user_message(author, "no picture here")
        sent = await fake.send_interaction(fake.message_command("Draw this", Member(), words))
        refusal = await callback(fake, sent)
        assert refusal.flags & 64 and "no image" in refusal.json["data"]["content"]

    run_bot(trained, scenario)
