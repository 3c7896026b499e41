"""The draw model on tiny sets: pairs made from photos and digits, training in both modes with
versions and the gate, resuming after the training process is killed, and `nowbot train draw` /
`nowbot generate draw` on good and broken inputs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageDraw

from bot.app import App
from killed_training import kill_after_checkpoint
from conftest import cli_runner
from corpora.imagesets import BUILTIN_DIGITS, import_images, load_pixels
from models.draw.inputs import is_pen_drawing, read_drawing
from models.draw.metrics import edge_f1, follow_score, mean_iou
from models.draw.pairs import COLOUR_PALETTE, conditions, label_maps, lines, palette_for
from models.registry import Registry

SEEDS = Path(__file__).parent / "fuzz_seeds"
TINY = dict(g_filters=4, d_filters=4, batch_size=8, variants=1, grid_pairs=2, grid_every=2,
            checkpoint_every=2, follow_ratio=0.0)
EXTRACTOR = dict(count=300, epochs=1, min_accuracy=0.0)  # fast, not accurate: fine for wiring


def _apples(count: int = 16, size: int = 64, seed: int = 0) -> np.ndarray:
    """Red and green discs of random size and place on white, uint8 (count, size, size, 3)."""
    rng = np.random.default_rng(seed)
    images = []
    for index in range(count):
        picture = PILImage.new("RGB", (size, size), "white")
        r = int(rng.integers(size // 4, size // 2 - 2))
        cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
        fill = (200, 30, 40) if index % 2 else (85, 165, 55)
        ImageDraw.Draw(picture).ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
        images.append(np.asarray(picture))
    return np.stack(images)


def _pen_drawing(path: Path) -> Path:
    picture = PILImage.new("RGB", (900, 500), "white")  # any size, wide
    ImageDraw.Draw(picture).ellipse((300, 80, 620, 420), outline=(20, 20, 160), width=7)
    picture.save(path)
    return path


def test_sketch_pairs_follow_the_photo_and_jitter_per_variant() -> None:
    photos = _apples(8)
    clean = lines(photos, "edges")
    outline = label_maps(photos, COLOUR_PALETTE) != 0  # the discs
    ring = (outline & ~np.roll(outline, 3, 1)) | (outline & ~np.roll(outline, -3, 1))
    assert edge_f1(ring, clean) > 0.6  # the sketch is the discs' outline, not noise
    assert edge_f1(clean, clean) == 1.0
    assert edge_f1(clean, np.zeros_like(clean)) == 0.0
    rng = np.random.default_rng(0)
    first, second = conditions(photos, "sketch", "edges", rng), conditions(photos, "sketch", "edges", rng)
    assert first.shape == (8, 64, 64, 1) and set(np.unique(first)) <= {0, 255}
    assert (first != second).any()  # thickness and gaps jitter between variants
    assert edge_f1(first[..., 0] < 128, clean) > 0.6  # but they still follow the photo


def test_digit_strokes_and_label_maps() -> None:
    from corpora.procedural import draw_digits

    digits = draw_digits(4, seed=0)[0][..., None]  # bright strokes on black
    sketch = conditions(digits, "sketch", "strokes")
    ink = sketch[..., 0] < 128
    assert ink.any() and (ink <= (digits[..., 0] > 0)).all()  # ink only where the digit is
    photos = _apples(6)
    maps = conditions(photos, "labels", "edges")
    assert maps.shape == (6, 64, 64) and maps.dtype == np.uint8
    assert set(np.unique(maps)) <= {0, 3, 7}  # white, red and green: the palette's classes
    assert mean_iou(maps, maps, 10) == 1.0
    assert follow_score(maps, photos, "labels", "edges") == 1.0  # the photo is its own upper bound
    assert mean_iou(maps, np.zeros_like(maps), 10) < 0.6
    assert len(palette_for(1)) == 3


def test_pen_drawing_and_photo_inputs(tmp_path: Path) -> None:
    from models.draw.config import DrawConfig

    config = DrawConfig.for_set(64, 3)
    pen = PILImage.open(_pen_drawing(tmp_path / "pen.png"))
    assert is_pen_drawing(pen)
    sketch = read_drawing(pen, config)
    assert sketch.shape == (64, 64, 1)
    ink = sketch[..., 0] == 0
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    assert 50 <= rows[-1] - rows[0] <= 62 and 50 <= cols[-1] - cols[0] <= 62  # cropped, fills the frame
    assert ink.mean() < 0.2  # a line, not a blob
    large = PILImage.open(_pen_drawing(tmp_path / "pen.png")).resize((4096, 4096))
    assert (read_drawing(large, config)[..., 0] == 0).mean() < 0.2  # a scan: thickened, not a blob
    photo = PILImage.fromarray(_apples(1, size=200)[0])
    assert not is_pen_drawing(PILImage.fromarray(np.full((50, 50, 3), 90, np.uint8)))
    assert read_drawing(photo, config).shape == (64, 64, 1)
    labels = read_drawing(photo, DrawConfig.for_set(64, 3, "labels"))
    assert labels.shape == (64, 64) and labels.max() < 10


def train_tiny(app: App) -> None:
    """A serving sketch model for the 16x16 set 'tiny' (for the chat adapters' tests)."""
    assert _train(app, _tiny_digits(app), epochs=1).verdict.promoted


def _tiny_digits(app: App) -> np.ndarray:
    with app.sessions.begin() as session:
        import_images(session, app.artifacts_dir, "tiny", BUILTIN_DIGITS, size=16, digits=16)
    with app.sessions() as session:
        return load_pixels(session, "tiny")


def _train(app: App, pixels: np.ndarray, set_name: str = "tiny", **kwargs):  # type: ignore[no-untyped-def]
    from models.draw.run import train_draw

    overrides = {**TINY, **kwargs.pop("overrides", {})}
    return train_draw(Registry(app.sessions, app.artifacts_dir), app.artifacts_dir, set_name, pixels,
                      overrides=overrides, progress=False, eval_samples=16, extractor_kwargs=EXTRACTOR,
                      **kwargs)


def test_both_modes_train_serve_fine_tune_and_draw(sqlite_app: App, tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(0)
    registry = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir)
    pixels = _tiny_digits(sqlite_app)
    outcome = _train(sqlite_app, pixels, epochs=2)
    assert outcome.version == 1 and outcome.metrics["steps"] == 4 and outcome.verdict.promoted
    assert outcome.metrics["mode"] == "sketch" and 0 <= outcome.metrics["follow"] <= 1
    folder = registry.serving_path("draw", "tiny")
    assert json.loads((folder / "config.json").read_text())["mode"] == "sketch"
    assert (folder / "progress.gif").exists() and (folder / "grid.png").exists()
    again = _train(sqlite_app, pixels, epochs=1)
    assert again.finetuned_from == 1 and "vs serving v1" in again.verdict.reason

    with sqlite_app.sessions.begin() as session:  # a colour set in label mode: SPADE generator
        import_images(session, sqlite_app.artifacts_dir, "discs", str(_disc_folder(tmp_path)), size=16)
    with sqlite_app.sessions() as session:
        discs = load_pixels(session, "discs")
    labels = _train(sqlite_app, discs, "discs", mode="labels", epochs=1)
    assert labels.verdict.promoted and labels.metrics["follow_measure"] == "mean IoU"
    config = json.loads((registry.serving_path("draw", "discs:labels") / "config.json").read_text())
    assert config["spade"] and config["mode"] == "labels"
    assert registry.serving("draw", "discs") is None  # each mode has its own versions and gate

    run = cli_runner(sqlite_app)
    pen = _pen_drawing(tmp_path / "pen.png")
    result = run("generate", "draw", "--set", "discs", "--mode", "labels", "--input", str(pen), "-o", "out.png")
    assert result.exit_code == 0, result.output
    with PILImage.open("out.png") as picture:  # drawing | result: 16 px panels, 1 px gaps, 16x
        assert picture.size == ((1 + 2 * 17) * 16, (1 + 17) * 16) and picture.mode == "RGB"
    result = run("generate", "draw", "--set", "tiny", "--input", str(pen), "-o", "digit.png")
    assert result.exit_code == 0, result.output
    result = run("generate", "draw", "--set", "discs", "--input", str(pen), "-o", "none.png")
    assert result.exit_code == 1 and "no serving draw model for 'discs'" in result.output


def _disc_folder(root: Path) -> Path:
    folder = root / "discs"
    folder.mkdir()
    for index, pixels in enumerate(_apples(8, size=40)):
        PILImage.fromarray(pixels).save(folder / f"{index}.png")
    return folder


def test_follow_veto_rejects_a_version(sqlite_app: App) -> None:
    outcome = _train(sqlite_app, _tiny_digits(sqlite_app), epochs=1, overrides={"follow_ratio": 10.0})
    assert outcome.verdict.reason.startswith("rejected: does not follow the drawings")
    assert Registry(sqlite_app.sessions, sqlite_app.artifacts_dir).serving("draw", "tiny") is None


def test_generate_draw_refuses_bad_inputs_in_one_line(sqlite_app: App, tmp_path: Path) -> None:
    run = cli_runner(sqlite_app)
    text = tmp_path / "notes.png"
    text.write_text("this is text, not a PNG")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    cases = [
        (["--set", "tiny", "--input", str(text)],
         "not a usable image: unreadable image (cannot identify image file)\n"),
        (["--set", "tiny", "--input", str(empty)], "not an image: the file is empty"),
        (["--set", "tiny", "--input", str(SEEDS / "huge-header.png")], "too large"),
        (["--set", "tiny", "--input", str(tmp_path / "missing.png")], "no such file"),
        (["--set", "../up", "--input", str(text)], "bad image set name"),
        (["--set", "tiny", "--mode", "paint", "--input", str(text)], "unknown mode 'paint'"),
    ]
    for args, message in cases:
        result = run("generate", "draw", *args, "-o", "out.png")
        assert result.exit_code == 1 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not Path("out.png").exists()


def test_train_draw_checks_the_set_before_tensorflow(sqlite_app: App) -> None:
    code = textwrap.dedent("""
        import sys
        from typer.testing import CliRunner
        from bot.cli import app
        bad = CliRunner().invoke(app, ["train", "draw", "--set", "../up"])
        missing = CliRunner().invoke(app, ["train", "draw", "--set", "nope", "--minutes", "1"])
        print(bad.exit_code, missing.exit_code, "tensorflow" in sys.modules)
        print(bad.output.strip()); print(missing.output.strip())
    """)
    env = {"NOWBOT_DATA_DIR": str(sqlite_app.settings.data_dir), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                            cwd=Path(__file__).parent.parent)
    codes, bad, missing = result.stdout.strip().splitlines()[-3:]
    assert codes == "1 1 False", result.stdout + result.stderr
    assert "bad image set name" in bad and "no image set 'nope'" in missing


def test_training_resumes_after_kill(sqlite_app: App, tmp_path: Path) -> None:
    from models.draw.run import checkpoint_dir

    pixels = _tiny_digits(sqlite_app)
    checkpoint = checkpoint_dir(sqlite_app.artifacts_dir, "tiny") / "checkpoint.npz"
    saved_steps = kill_after_checkpoint("models.draw.run:train_draw", sqlite_app.settings.data_dir, TINY, checkpoint,
                                        tmp_path)
    assert saved_steps >= 2
    target_epochs = saved_steps // 2 + 2
    outcome = _train(sqlite_app, pixels, epochs=target_epochs)
    assert outcome.resumed_from_step == saved_steps
    assert outcome.metrics["steps"] == target_epochs * 2  # 16 digits / batch 8 = 2 steps per epoch


@pytest.mark.parametrize("mode", ["sketch", "labels"])
def test_draw_use_case_needs_a_serving_model(sqlite_app: App, mode: str) -> None:
    from bot.core.drawing import draw
    from models.errors import NoServingModel

    png = (SEEDS.parent / "fuzz_seeds" / "huge-header.png").read_bytes()
    with pytest.raises(Exception, match="too large"):
        draw(sqlite_app, "tiny", png, mode)
    buffer = _pen_drawing(Path("pen.png")).read_bytes()
    with pytest.raises(NoServingModel):
        draw(sqlite_app, "tiny", buffer, mode)


def test_campaign_post_image_is_a_sketch_pair_when_a_sketch_model_serves(sqlite_app: App) -> None:
    from sqlalchemy import select

    from bot.core.posts import SKETCH_PAIR, make_campaign_post
    from bot.core.runtime import Runtime
    from service_harness import StubGenerator
    from storage.outbox import GeneratedItem

    runtime = Runtime(app=sqlite_app, generator=StubGenerator(), publishers={}, image_set="tiny")
    _tiny_digits(sqlite_app)
    make_campaign_post(runtime)  # no draw model yet: the GAN's image (the stub's orange grid)
    train_tiny(sqlite_app)
    make_campaign_post(runtime)
    with sqlite_app.sessions() as session:
        items = list(session.scalars(select(GeneratedItem).where(GeneratedItem.text.is_(None))
                                     .order_by(GeneratedItem.id)))
    assert [item.kind for item in items] == ["image", SKETCH_PAIR]
    with PILImage.open(items[1].artifact_path) as pair:  # sketch | drawing, 16 px panels at 16x
        assert pair.size == ((1 + 2 * 17) * 16, (1 + 17) * 16)
        assert np.asarray(pair.convert("L"))[:, : pair.width // 2].min() == 0  # the sketch's ink


def test_thickening_is_pillows_min_filter_in_two_passes() -> None:
    from PIL import ImageFilter

    from models.draw.inputs import _thicken

    pixels = np.where(np.random.default_rng(3).random((90, 70)) < 0.02, 0, 255).astype(np.uint8)
    for radius in (1, 4):
        expected = PILImage.fromarray(pixels).filter(ImageFilter.MinFilter(2 * radius + 1))
        assert np.array_equal(_thicken(pixels, radius), np.asarray(expected))
