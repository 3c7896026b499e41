"""Importing image sets: folders with broken files, MNIST IDX files, the drawn digits, the Keras
download when offline, and re-imports that add nothing."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from bot.app import App
from corpora.errors import CorpusError
from corpora.imagesets import BUILTIN_DIGITS, import_images, list_sets, load_pixels
from conftest import Nowbot, cli_runner
from storage.imagesets import Image


def _photo_folder(root: Path) -> Path:
    folder = root / "photos"
    (folder / "nested").mkdir(parents=True)
    rng = np.random.default_rng(0)
    PILImage.fromarray(rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)).save(folder / "a.jpg")
    PILImage.fromarray(rng.integers(0, 256, (40, 90, 3), dtype=np.uint8)).save(folder / "nested" / "wide.png")
    PILImage.fromarray(rng.integers(0, 256, (70, 30), dtype=np.uint8)).save(folder / "nested" / "grey.PNG")
    PILImage.new("RGBA", (20, 20), (255, 0, 0, 0)).save(folder / "transparent.png")
    full = (folder / "a.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (folder / "notes.png").write_text("this is text, not a PNG")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "readme.txt").write_text("hello")
    return folder


def _idx_bytes(images: np.ndarray) -> bytes:
    count, rows, cols = images.shape
    header = bytes([0, 0, 0x08, 3]) + b"".join(n.to_bytes(4, "big") for n in (count, rows, cols))
    return header + images.astype(np.uint8).tobytes()


@pytest.fixture
def run_cli(app: App) -> Nowbot:
    return cli_runner(app)


def test_import_folder_keeps_good_images_and_names_broken_ones(app: App, tmp_path: Path, run_cli) -> None:
    folder = _photo_folder(tmp_path)
    result = run_cli("images", "import", "photos", str(folder))
    assert result.exit_code == 0, result.output
    assert "photos: 4 new, 0 already stored, 4 skipped" in result.output
    for name in ("truncated.jpg", "notes.png", "empty.jpg", "readme.txt"):
        assert name in result.output
    assert "empty file" in result.output
    with app.sessions() as session:
        pixels = load_pixels(session, "photos")
        kept = set(session.scalars(select(Image.original_name)))
    assert pixels.shape == (4, 64, 64, 3)  # default for photo folders: 64x64 colour
    assert kept == {"a.jpg", "nested/wide.png", "nested/grey.PNG", "transparent.png"}
    assert pixels[kept_index(app, "transparent.png")].min() == 255  # transparency over white

    again = run_cli("images", "import", "photos", str(folder))
    assert "photos: 0 new, 4 already stored" in again.output
    listing = run_cli("images", "list")
    assert "photos" in listing.output and "64x64x3" in listing.output


def kept_index(app: App, name: str) -> int:
    with app.sessions() as session:
        names = list(session.scalars(select(Image.original_name).order_by(Image.id)))
    return names.index(name)


def test_import_folder_with_size_and_grey(app: App, tmp_path: Path) -> None:
    folder = _photo_folder(tmp_path)
    with app.sessions.begin() as session:
        import_images(session, app.artifacts_dir, "small", str(folder), size=32, channels=1)
    with app.sessions() as session:
        assert load_pixels(session, "small").shape == (4, 32, 32, 1)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_import_idx_files_plain_and_gzipped(app: App, tmp_path: Path, suffix: str) -> None:
    images = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    path = tmp_path / f"t10k-images-idx3-ubyte{suffix}"
    data = _idx_bytes(images)
    path.write_bytes(gzip.compress(data) if suffix else data)
    with app.sessions.begin() as session:
        report = import_images(session, app.artifacts_dir, "mnist", str(path))
    assert (report.added, report.duplicates) == (5, 0)
    with app.sessions() as session:
        assert np.array_equal(load_pixels(session, "mnist")[..., 0], images)
    with app.sessions.begin() as session:
        assert import_images(session, app.artifacts_dir, "mnist", str(path)).added == 0


def test_truncated_idx_file_is_a_clear_error(app: App, tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(_idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-10])
    with pytest.raises(CorpusError, match="train-images-idx3-ubyte: truncated"), app.sessions.begin() as session:
        import_images(session, app.artifacts_dir, "mnist", str(path))
    with app.sessions() as session:
        assert list_sets(session) == []  # the failed import stored nothing


def test_drawn_digits_need_no_download(app: App) -> None:
    with app.sessions.begin() as session:
        report = import_images(session, app.artifacts_dir, "digits", BUILTIN_DIGITS, digits=30)
    with app.sessions() as session:
        pixels = load_pixels(session, "digits")
    assert report.added == 30 and pixels.shape == (30, 28, 28, 1)
    assert pixels.max() == 255 and pixels[:, 0, 0].max() == 0  # white strokes on black, like MNIST


def test_unknown_source_is_a_clear_error(run_cli) -> None:
    result = run_cli("images", "import", "x", "no/such/folder")
    assert result.exit_code == 1 and "no/such/folder: no such file or folder" in result.output


def test_keras_mnist_offline_gives_a_clear_message(tmp_path: Path) -> None:
    env = {
        **os.environ, "KERAS_HOME": str(tmp_path / "keras"), "HTTPS_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9", "NOWBOT_DATA_DIR": str(tmp_path / "var"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "images", "import", "mnist", "keras:mnist"],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "cannot download MNIST through Keras" in result.stderr
    assert "import the IDX files instead" in result.stderr
    assert "Traceback" not in result.stderr
