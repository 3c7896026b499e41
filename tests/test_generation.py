"""The service's generation layer on real (tiny) trained models: serving versions, blocklist,
mashups, image grids and the progress animation."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from PIL import Image

from bot import generation
from bot.app import App
from models.errors import ModelError, NoServingModel
from models.registry import Registry
from text_corpus import store


def test_no_serving_model_is_a_clear_error(sqlite_app: App) -> None:
    with pytest.raises(NoServingModel, match="train one first"):
        generation.generate_tweets(sqlite_app, "ada")
    with pytest.raises(NoServingModel, match="train one first"):
        generation.render_image_grid(sqlite_app, "digits", 4)


def _train_text(app: App) -> None:
    from models.text.train import train_text
    from test_text_training import TINY

    store(app, {"ada": 80, "bob": 80})
    registry = Registry(app.sessions, app.artifacts_dir)
    train_text(registry, app.sessions, app.artifacts_dir, config=TINY, epochs=2)


def test_tweets_come_from_the_serving_version_and_respect_the_blocklist(sqlite_app: App) -> None:
    _train_text(sqlite_app)
    serving = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir).serving("text", "all")
    assert serving is not None
    # A model this undertrained copies or repeats itself often: 64 candidates make 3 acceptable.
    tweets = generation.generate_tweets(sqlite_app, "ada", count=3, temperature=1.0, candidates=64)
    assert len(tweets) == 3 and all(t.model_version_id == serving.id for t in tweets)
    assert all(0 < len(t.text) <= 280 and t.score < 0 for t in tweets)
    mashup = generation.generate_tweets(sqlite_app, "ada", blend_with="bob", candidates=64)
    assert mashup[0].model_version_id == serving.id

    # Block every word the model just wrote: what it writes next uses none of them (or nothing
    # passes, which is said plainly).
    words = {w.casefold() for t in tweets for w in re.findall(r"[^\W\d_]{2,}", t.text)}
    blocked = replace(sqlite_app, settings=sqlite_app.settings.model_copy(
        update={"text_blocklist_words": ",".join(sorted(words))}
    ))
    try:
        again = generation.generate_tweets(blocked, "ada", count=3, temperature=1.0, candidates=64)
    except ModelError as error:
        assert "blocked word" in str(error)
    else:
        assert not {w.casefold() for t in again for w in re.findall(r"[^\W\d_]{2,}", t.text)} & words


def test_image_grid_and_progress_from_the_serving_gan(sqlite_app: App) -> None:
    from models.gan.run import train_gan
    from test_gan_training import EXTRACTOR, TINY, _tiny_set

    pixels = _tiny_set(sqlite_app)
    registry = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir)
    train_gan(registry, sqlite_app.artifacts_dir, "tiny", pixels, epochs=2, overrides=TINY,
              progress=False, eval_samples=32, extractor_kwargs=EXTRACTOR)
    png = generation.render_image_grid(sqlite_app, "tiny", 6)
    with Image.open(io.BytesIO(png)) as grid:
        assert grid.format == "PNG" and grid.width > 16 * 2
    with Image.open(io.BytesIO(generation.progress_gif(sqlite_app, "tiny"))) as gif:
        assert gif.format == "GIF" and gif.n_frames >= 2
