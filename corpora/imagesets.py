"""Image sets the GAN learns from: importing folders, IDX files, the Keras MNIST download and the
embedded drawn digits; listing sets; loading a set's pixels for training.

Every image is prepared to its set's size (centre-cropped to the set's aspect, then resized) and
stored once per set as `ARTIFACTS/images/<set>/<sha256>.png`, where the hash is of the prepared
pixels, so importing the same images again adds nothing. Set names follow `corpora.names`.
Files that cannot be read, and images over `MAX_IMAGE_PIXELS` (checked before decoding), are
skipped with the reason; a source with no usable image at all is an error. Symbolic links in a
folder are not followed (one could lead anywhere on the machine), only counted. Image files are
written before their rows, and removed again if the transaction does not commit: a failed
import (a full disk) leaves no file without its row.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, SessionTransaction

from corpora.errors import CorpusError
from corpora.idx import is_idx, read_idx_images
from corpora.limits import MAX_IMAGE_PIXELS
from corpora.names import check_name
from corpora.procedural import draw_digits
from storage.artifacts import atomic_write_bytes
from storage.imagesets import Image, ImageSet

BUILTIN_DIGITS = "builtin:digits"
KERAS_MNIST = "keras:mnist"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
# The decoders for those suffixes, whatever a file's name says (never EPS, which runs Ghostscript).
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
TOO_LARGE = f"too large (over {MAX_IMAGE_PIXELS:,} pixels)"
PHOTO_SIZE, DIGIT_SIZE = 64, 28
DEFAULT_DIGITS = 6000


@dataclass
class ImportReport:
    """What one import did: images added, already present, and files skipped with the reason."""

    set_name: str
    added: int = 0
    duplicates: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    links: int = 0  # symbolic links in a folder, not followed


@dataclass(frozen=True)
class SetSummary:
    name: str
    width: int
    height: int
    channels: int
    images: int
    source: str | None


def prepare(image: PILImage.Image, size: tuple[int, int], channels: int) -> PILImage.Image:
    """Orient, convert to grey or RGB (transparency over white), centre-crop to the target aspect
    and resize to `size` (width, height)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P") and (image.mode != "P" or "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = PILImage.alpha_composite(background, rgba)
    image = image.convert("L" if channels == 1 else "RGB")
    return ImageOps.fit(image, size, method=PILImage.Resampling.LANCZOS)


class _Refused(Exception):
    """An image file refused before decoding; the message is the reason it is skipped."""


Loader = Callable[[], PILImage.Image]  # decodes one image when called


def _open_image(path: Path) -> PILImage.Image:
    """The decoded image in `path`; `_Refused` for an empty file or one over `MAX_IMAGE_PIXELS`."""
    if path.stat().st_size == 0:
        raise _Refused("empty file")
    return _decode(path)


def decode_image(data: bytes) -> PILImage.Image:
    """The decoded image in uploaded bytes; a one-line `CorpusError` for empty bytes, an image
    over `MAX_IMAGE_PIXELS` (refused before decoding) or anything Pillow cannot read as an image."""
    if not data:
        raise CorpusError("not an image: the file is empty")
    try:
        return _decode(io.BytesIO(data))
    except Exception as error:  # Pillow raises many types on hostile files, not just OSError
        raise CorpusError(f"not a usable image: {_skip_reason(error)}") from None


def _decode(source: Path | io.BytesIO) -> PILImage.Image:
    with warnings.catch_warnings():  # Pillow warns of, or refuses, even larger images on opening
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        try:
            image = PILImage.open(source, formats=IMAGE_FORMATS)
        except (PILImage.DecompressionBombWarning, PILImage.DecompressionBombError):
            raise _Refused(TOO_LARGE) from None
    with image:
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise _Refused(TOO_LARGE)
        image.load()  # decode now, so truncated files fail here
        return image.copy()


def _folder_images(root: Path, report: ImportReport) -> Iterator[tuple[str, Loader]]:
    """The files under `root` as images to load, by name; links to files or folders are
    counted in `report.links` and not followed."""
    paths = []
    for folder, folders, files in os.walk(root):  # into no linked folder
        here = Path(folder)
        report.links += sum((here / name).is_symlink() for name in [*folders, *files])
        paths += [here / name for name in files if not (here / name).is_symlink()]
    for path in sorted(path for path in paths if path.is_file()):
        name = str(path.relative_to(root))
        if path.name.startswith("."):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            report.skipped.append((name, "not an image file"))
            continue
        yield name, partial(_open_image, path)


def _arrays(images: np.ndarray, prefix: str) -> Iterator[tuple[str, Loader]]:
    for index, pixels in enumerate(images):
        yield f"{prefix}#{index}", partial(PILImage.fromarray, pixels)


def _skip_reason(error: Exception) -> str:
    """Why an image is skipped, in one line."""
    if isinstance(error, _Refused):
        return str(error)
    said = str(error).strip().partition("\n")[0] or type(error).__name__
    said = re.sub(r"\s*<[^<>]* at 0x[0-9a-f]+>", "", said)  # Pillow names the stream it read
    return f"unreadable image ({said[:200]})"


def _keras_mnist() -> np.ndarray:
    """The 70,000 MNIST digits via Keras (cached under $KERAS_HOME or ~/.keras/datasets)."""
    import keras

    try:
        (train, _), (test, _) = keras.datasets.mnist.load_data()
    except Exception as error:  # Keras raises a bare Exception for network failures
        raise CorpusError(
            f"cannot download MNIST through Keras ({str(error).splitlines()[0][:200]}); "
            "this machine looks offline: import the IDX files instead "
            "(nowbot images import SET path/to/train-images-idx3-ubyte.gz) "
            "or put mnist.npz in ~/.keras/datasets"
        ) from None
    return np.concatenate([train, test])


def _source_images(
    source: str, report: ImportReport, digits: int
) -> tuple[Iterable[tuple[str, Loader]], tuple[int, int], int]:
    """The images of `source` and the default (size, channels) for a new set made from it."""
    grey = ((DIGIT_SIZE, DIGIT_SIZE), 1)
    if source == BUILTIN_DIGITS:
        return _arrays(draw_digits(digits, seed=0)[0], "digits"), *grey
    if source == KERAS_MNIST:
        return _arrays(_keras_mnist(), "mnist"), *grey
    path = Path(source)
    if path.is_dir():
        return _folder_images(path, report), (PHOTO_SIZE, PHOTO_SIZE), 3
    if path.is_file() and is_idx(path):
        return _arrays(read_idx_images(path), path.name), *grey
    if not path.exists():
        raise CorpusError(f"{source}: no such file or folder")
    raise CorpusError(
        f"{source}: not a folder of images, an MNIST '*-idx3-ubyte[.gz]' file, "
        f"'{BUILTIN_DIGITS}' or '{KERAS_MNIST}'"
    )


def _png(image: PILImage.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def import_images(
    session: Session,
    artifacts_dir: Path,
    set_name: str,
    source: str,
    *,
    size: int | None = None,
    channels: int | None = None,
    digits: int = DEFAULT_DIGITS,
) -> ImportReport:
    """Add the images of `source` to the set `set_name` (created if new).

    A new set takes `size`/`channels` when given, else 28x28 grey for digits and 64x64 colour for
    photo folders; an existing set keeps its own. Unreadable and oversized files are skipped and
    reported; a source with no usable image raises `CorpusError`, as does a bad set name. The
    caller owns the transaction (so a failed import stores nothing); image files are written
    before their rows.
    """
    folder = set_folder(artifacts_dir, set_name)
    report = ImportReport(set_name)
    images, default_size, default_channels = _source_images(source, report, digits)
    image_set = session.scalar(select(ImageSet).where(ImageSet.name == set_name))
    if image_set is None:
        width, height = (size, size) if size else default_size
        image_set = ImageSet(
            name=set_name, width=width, height=height, channels=channels or default_channels,
        )
        session.add(image_set)
        session.flush()
    image_set.source = source[:500]
    known = set(session.scalars(select(Image.sha256).where(Image.image_set_id == image_set.id)))
    written: list[Path] = []
    _remove_unless_committed(session, written)
    for name, load in images:
        try:
            prepared = prepare(load(), (image_set.width, image_set.height), image_set.channels)
        except Exception as error:  # Pillow raises many types on hostile files, not just OSError
            report.skipped.append((name, _skip_reason(error)))
            continue
        digest = hashlib.sha256(prepared.tobytes()).hexdigest()
        if digest in known:
            report.duplicates += 1
            continue
        path = folder / f"{digest}.png"
        written.append(path)
        atomic_write_bytes(path, _png(prepared))
        session.add(Image(image_set_id=image_set.id, path=str(path), sha256=digest,
                          original_name=name[:500]))
        known.add(digest)
        report.added += 1
    if report.added == report.duplicates == 0:
        raise CorpusError(_nothing_usable(source, report))
    session.flush()
    return report


def _remove_unless_committed(session: Session, paths: list[Path]) -> None:
    """Remove the files in `paths` (filled as they are written) when `session`'s transaction
    ends without a commit (rolled back, or closed), so no image file is left without its row."""
    committed = ended = False

    def commit(_: Session) -> None:
        nonlocal committed
        committed = True

    def end(_: Session, transaction: SessionTransaction) -> None:
        nonlocal ended
        if ended or transaction.parent is not None:  # a savepoint: the outer one decides
            return
        ended = True
        for path in [] if committed else paths:
            path.unlink(missing_ok=True)

    event.listen(session, "after_commit", commit)
    event.listen(session, "after_transaction_end", end)


def _nothing_usable(source: str, report: ImportReport) -> str:
    """The one-line error for a source that gave no image."""
    if not report.skipped:
        return f"{source}: no images found"
    name, reason = report.skipped[0]
    return f"{source}: no usable image ({len(report.skipped):,} skipped; first {name}: {reason})"


def set_folder(artifacts_dir: Path, set_name: str) -> Path:
    """Where a set's prepared image files live: `CorpusError` for a bad set name, or a folder
    that would resolve (through a link) outside `artifacts_dir/images`."""
    root = artifacts_dir / "images"
    folder = root / check_name("image set", set_name)
    if folder.resolve().parent != root.resolve():
        raise CorpusError(f"image set folder {folder} leads outside {root}: not writing there")
    return folder


def get_set(session: Session, set_name: str) -> ImageSet:
    """The set called `set_name`; a `CorpusError` listing known sets when there is none."""
    check_name("image set", set_name)
    image_set = session.scalar(select(ImageSet).where(ImageSet.name == set_name))
    if image_set is None:
        names = ", ".join(session.scalars(select(ImageSet.name).order_by(ImageSet.name))) or "none"
        raise CorpusError(f"no image set '{set_name}' (known: {names}); import one with "
                          "'nowbot images import SET PATH'")
    return image_set


def list_sets(session: Session) -> list[SetSummary]:
    """Every set with its size and image count, by name."""
    rows = session.execute(
        select(ImageSet, func.count(Image.id))
        .outerjoin(Image, Image.image_set_id == ImageSet.id)
        .group_by(ImageSet.id)
        .order_by(ImageSet.name)
    )
    return [SetSummary(s.name, s.width, s.height, s.channels, n, s.source) for s, n in rows]


def load_pixels(session: Session, set_name: str, limit: int | None = None) -> np.ndarray:
    """The set's images as uint8 (count, height, width, channels), oldest first."""
    image_set = get_set(session, set_name)
    query = select(Image.path).where(Image.image_set_id == image_set.id).order_by(Image.id)
    paths = list(session.scalars(query.limit(limit) if limit else query))
    if not paths:
        raise CorpusError(f"image set '{set_name}' has no images yet")
    shape = (image_set.height, image_set.width, image_set.channels)
    pixels = np.empty((len(paths), *shape), dtype=np.uint8)
    for index, path in enumerate(paths):
        with PILImage.open(path) as image:
            pixels[index] = np.asarray(image).reshape(shape)
    return pixels

