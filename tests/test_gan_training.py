"""Training the image model end to end on a tiny set: versions, the gate, generation from the
serving version, the progress GIF, and resuming after the training process is killed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from bot.app import App
from bot.cli import app as cli
from bot.config import get_settings
from corpora.imagesets import BUILTIN_DIGITS, import_images, load_pixels
from killed_training import kill_after_checkpoint
from models.registry import Registry

# Runs of a few steps are far less varied than real images, so the tiny config switches the collapse
# check off; test_untrained_generator_is_vetoed turns it back on.
TINY = dict(latent_dim=8, g_filters=4, d_filters=4, batch_size=16, grid_seeds=4, grid_every=2,
            checkpoint_every=2, collapse_ratio=0.0)
EXTRACTOR = dict(count=300, epochs=1, min_accuracy=0.0)  # fast, not accurate: fine for wiring


def _tiny_set(app: App) -> np.ndarray:
    with app.sessions.begin() as session:
        import_images(session, app.artifacts_dir, "tiny", BUILTIN_DIGITS, size=16, digits=32)
    with app.sessions() as session:
        return load_pixels(session, "tiny")


def _train(app: App, pixels: np.ndarray, **kwargs):  # type: ignore[no-untyped-def]
    from models.gan.run import train_gan

    return train_gan(Registry(app.sessions, app.artifacts_dir), app.artifacts_dir, "tiny", pixels,
                     overrides=TINY, progress=False, eval_samples=32, extractor_kwargs=EXTRACTOR,
                     **kwargs)


def test_train_generate_and_fine_tune(sqlite_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = _train_first(sqlite_app)
    outcome = _train(sqlite_app, pixels, epochs=1)
    assert outcome.finetuned_from == 1 and outcome.version == 2
    assert outcome.metrics["steps"] == 2  # a fine-tune counts its own steps
    assert "vs serving v1" in outcome.verdict.reason  # judged against the serving version
    serving_version = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir).serving("gan", "tiny")
    assert serving_version is not None and serving_version.version == (2 if outcome.verdict.promoted else 1)

    monkeypatch.setenv("NOWBOT_DATA_DIR", str(sqlite_app.settings.data_dir))
    get_settings.cache_clear()
    serving = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir).serving_path("gan", "tiny")
    result = CliRunner().invoke(cli, ["generate", "image", "--set", "tiny", "-n", "6", "-o", "grid.png"])
    assert result.exit_code == 0, result.output
    with PILImage.open("grid.png") as grid:  # 3x2 images of 16px, 2px gaps, enlarged 4x
        assert grid.size == ((2 + 3 * 18) * 4, (2 + 2 * 18) * 4)
    result = CliRunner().invoke(cli, ["generate", "progress", "--set", "tiny", "-o", "progress.gif"])
    assert result.exit_code == 0, result.output
    frames = sorted(p.name for p in (serving / "frames").glob("*.png"))
    with PILImage.open("progress.gif") as gif:
        assert gif.n_frames == len(frames) >= 1
    get_settings.cache_clear()


def _train_first(app: App) -> np.ndarray:
    import keras

    keras.utils.set_random_seed(0)
    pixels = _tiny_set(app)
    outcome = _train(app, pixels, epochs=3)
    metrics = outcome.metrics
    assert outcome.version == 1 and metrics["steps"] == 6 and metrics["images"] == 32
    assert outcome.verdict.promoted, outcome.verdict.reason  # the first healthy version serves
    folder = Path(Registry(app.sessions, app.artifacts_dir).serving_path("gan", "tiny"))
    assert sorted(p.name for p in (folder / "frames").iterdir()) == [  # the start, then every 2 steps
        "step-0000000.png", "step-0000002.png", "step-0000004.png", "step-0000006.png",
    ]
    assert (folder / "config.json").exists() and (folder / "generator.weights.h5").exists()
    assert not (app.artifacts_dir / "checkpoints" / "gan" / "tiny").exists()
    return pixels


def test_untrained_generator_is_vetoed(sqlite_app: App) -> None:
    from models.gan.run import train_gan

    registry = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir)
    outcome = train_gan(
        registry, sqlite_app.artifacts_dir, "tiny", _tiny_set(sqlite_app), epochs=1,
        overrides={**TINY, "collapse_ratio": 0.5}, progress=False, eval_samples=32,
        extractor_kwargs=EXTRACTOR,
    )
    assert outcome.metrics["collapsed"] and outcome.metrics["diversity"] < 0.5
    assert outcome.verdict.reason == "rejected: mode collapse"
    assert registry.serving("gan", "tiny") is None


def test_training_resumes_after_kill(sqlite_app: App, tmp_path: Path) -> None:
    from models.gan.run import checkpoint_dir

    pixels = _tiny_set(sqlite_app)
    checkpoint = checkpoint_dir(sqlite_app.artifacts_dir, "tiny") / "checkpoint.npz"
    saved_steps = kill_after_checkpoint("models.gan.run:train_gan", sqlite_app.settings.data_dir, TINY, checkpoint,
                                        tmp_path)
    assert saved_steps >= 2
    target_epochs = saved_steps // 2 + 2
    outcome = _train(sqlite_app, pixels, epochs=target_epochs)
    assert outcome.resumed_from_step == saved_steps
    assert outcome.metrics["steps"] == target_epochs * 2  # 32 images / batch 16 = 2 steps per epoch
