"""Importing image sets: folders with broken files, MNIST IDX files, the drawn digits, the Keras
download when offline, and re-imports that add nothing; unsafe set names, oversized images and
sources without one usable image refused."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from bot.app import App
from corpora.errors import CorpusError
from corpora.imagesets import BUILTIN_DIGITS, import_images, list_sets, load_pixels
from corpora.names import NAME_RULE
from conftest import Nowbot, cli_runner
from storage.imagesets import Image

SEEDS = Path(__file__).parent / "fuzz_seeds"  # PNG headers claiming huge sizes, hostile IDX files


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


@pytest.mark.parametrize("name", ["../../../escaped", "..", ".", "a/b", ".hidden", "-x" * 40])
def test_unsafe_set_names_are_refused_and_nothing_is_written(
    app: App, tmp_path: Path, run_cli, name: str
) -> None:
    folder = _photo_folder(tmp_path)
    before = set(tmp_path.rglob("*"))
    result = run_cli("images", "import", "--", name, str(folder))
    shown = name if len(name) <= 70 else f"{name[:70]}..."
    assert (result.exit_code, result.stderr) == (1, f"error: bad image set name {shown!r}: use {NAME_RULE}\n")
    assert not [path for path in set(tmp_path.rglob("*")) - before if path.suffix == ".png"]
    assert not (tmp_path / "escaped").exists()
    with app.sessions() as session:
        assert list_sets(session) == []


@pytest.mark.parametrize("command", [("train", "gan"), ("generate", "image"), ("generate", "progress")])
def test_commands_taking_a_set_refuse_unsafe_names(run_cli, command: tuple[str, str]) -> None:
    result = run_cli(*command, "--set", "../x")
    assert (result.exit_code, result.stderr) == (1, f"error: bad image set name '../x': use {NAME_RULE}\n")


def test_a_set_folder_linked_outside_the_artifacts_is_refused(app: App, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (app.artifacts_dir / "images").mkdir(parents=True, exist_ok=True)
    (app.artifacts_dir / "images" / "linked").symlink_to(outside)
    with pytest.raises(CorpusError, match="images/linked leads outside"), app.sessions.begin() as session:
        import_images(session, app.artifacts_dir, "linked", BUILTIN_DIGITS, digits=3)
    assert list(outside.iterdir()) == []


def test_oversized_images_are_skipped_and_counted_before_decoding(app: App, tmp_path: Path, run_cli) -> None:
    folder = _photo_folder(tmp_path)
    for seed in ("huge-header.png", "warning-band.png", "over-limit.png"):  # 400, 100, 81 megapixels
        shutil.copy(SEEDS / seed, folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's decompression-bomb warning included
        result = run_cli("images", "import", "photos", str(folder))
    assert result.exit_code == 0, result.output
    assert "photos: 4 new, 0 already stored, 7 skipped" in result.stdout
    for seed in ("huge-header.png", "warning-band.png", "over-limit.png"):
        assert f"skipped {seed}: too large (over 64,000,000 pixels)" in result.stderr


def test_a_folder_without_one_usable_image_fails_and_creates_no_set(
    app: App, tmp_path: Path, run_cli
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "notes.png").write_text("this is text, not a PNG")
    (folder / "empty.jpg").write_bytes(b"")
    shutil.copy(SEEDS / "huge-header.png", folder)
    result = run_cli("images", "import", "broken", str(folder))
    expected = f"error: {folder}: no usable image (3 skipped; first empty.jpg: empty file)\n"
    assert (result.exit_code, result.stderr) == (1, expected)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("images", "import", "empty", str(empty))
    assert (result.exit_code, result.stderr) == (1, f"error: {empty}: no images found\n")
    with app.sessions() as session:
        assert list_sets(session) == []
    assert not list(app.artifacts_dir.rglob("*.png"))


def test_a_failed_import_leaves_an_existing_set_as_it_was(app: App, tmp_path: Path, run_cli) -> None:
    assert run_cli("images", "import", "photos", str(_photo_folder(tmp_path))).exit_code == 0
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "notes.png").write_text("not a PNG")
    assert run_cli("images", "import", "photos", str(broken)).exit_code == 1
    with app.sessions() as session:
        [summary] = list_sets(session)
    assert (summary.images, summary.source) == (4, str(tmp_path / "photos"))


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ("bomb-idx3-ubyte.gz", "header: 1,000,000 images of 1000x1000 pixels: over 200 MB of pixels"),
        ("no-pixels-idx3-ubyte", "header: 2,847,053 images of 0x28 pixels: images without pixels"),
        ("corrupt-idx3-ubyte.gz",
         ": cannot read IDX file (Error -3 while decompressing data: invalid distance code)"),
    ],
)
def test_hostile_idx_headers_are_refused_before_the_pixels_are_read(
    app: App, seed: str, message: str
) -> None:
    with pytest.raises(CorpusError) as raised, app.sessions.begin() as session:
        import_images(session, app.artifacts_dir, "mnist", str(SEEDS / seed))
    assert str(raised.value) == f"{SEEDS / seed}{', ' if message.startswith('header') else ''}{message}"


def test_names_and_sources_are_shown_as_they_are_not_as_markup(app: App, run_cli) -> None:
    folder = _photo_folder(Path("[red]x"))  # relative to the test's folder: short enough to show
    (folder / "a[").mkdir()
    (folder / "a[" / "b].png").write_text("not a PNG")  # its name in the folder: a[/b].png
    result = run_cli("images", "import", "photos", str(folder))
    assert result.exit_code == 0, result.output
    assert "skipped a[/b].png: unreadable image" in result.stderr
    assert "[red]x/photos" in run_cli("images", "list").stdout


def test_links_in_a_folder_are_not_followed_and_counted_in_one_line(
    app: App, tmp_path: Path, run_cli
) -> None:
    folder, outside = tmp_path / "photos", tmp_path / "private"
    (outside / "deep").mkdir(parents=True)
    folder.mkdir()
    for path in (folder / "own.png", outside / "secret.png", outside / "deep" / "deeper.png"):
        PILImage.new("RGB", (8, 8), "white" if path.name == "own.png" else "black").save(path)
    (folder / "secret.png").symlink_to(outside / "secret.png")
    (folder / "everything").symlink_to(outside)
    result = run_cli("images", "import", "photos", str(folder))
    assert result.exit_code == 0, result.output
    assert "photos: 1 new, 0 already stored, 0 skipped" in result.stdout
    assert result.stderr == "skipped 2 symbolic links (links are not followed)\n"
    with app.sessions() as session:
        assert list(session.scalars(select(Image.original_name))) == ["own.png"]


def test_image_files_of_an_import_that_does_not_commit_are_removed(app: App) -> None:
    images = app.artifacts_dir / "images"
    with app.sessions() as session:  # closed without a commit, as when the database fails
        report = import_images(session, app.artifacts_dir, "digits", BUILTIN_DIGITS, digits=20)
        assert len(list(images.rglob("*.png"))) == report.added == 20
    assert list(images.rglob("*.png")) == []
    with app.sessions.begin() as session:
        import_images(session, app.artifacts_dir, "digits", BUILTIN_DIGITS, digits=20)
    with app.sessions() as session:
        session.rollback()  # a later transaction of the same session leaves them be
    assert len(list(images.rglob("*.png"))) == 20
