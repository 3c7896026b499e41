"""Reading the IDX files MNIST is distributed in (`*-idx3-ubyte`, optionally gzipped)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from corpora.errors import CorpusFormatError
from corpora.limits import MAX_FILE_BYTES, MAX_IDX_IMAGES

UBYTE = 0x08
HEADER_BYTES = 16  # magic number, then image count, rows and columns as 32-bit big-endian


def is_idx(path: Path) -> bool:
    """True for names like `t10k-images-idx3-ubyte` or `train-images.idx3-ubyte.gz`."""
    name = path.name.removesuffix(".gz")
    return name.endswith("idx3-ubyte")


def read_idx_images(path: Path) -> np.ndarray:
    """The images of an IDX3 unsigned-byte file as uint8 (count, rows, cols).

    The header is checked before the pixels are read (at most `MAX_IDX_IMAGES` images, at most
    `MAX_FILE_BYTES` of pixels), and no more bytes than it declares are read, so a gzip bomb or a
    lying header is refused.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            header = handle.read(HEADER_BYTES)
            count, rows, cols = _dimensions(path, header)
            declared = count * rows * cols
            pixels = handle.read(declared + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise CorpusFormatError(path, None, f"cannot read IDX file ({error})") from None
    expected = HEADER_BYTES + declared
    if len(pixels) < declared:
        found = HEADER_BYTES + len(pixels)
        raise CorpusFormatError(path, None, f"truncated: {found} bytes, header says {expected}")
    if len(pixels) > declared:
        raise CorpusFormatError(path, None, f"oversized: over the {expected} bytes its header says")
    return np.frombuffer(pixels, dtype=np.uint8).reshape(count, rows, cols)


def _dimensions(path: Path, header: bytes) -> tuple[int, int, int]:
    """(count, rows, cols) from an IDX3 unsigned-byte header; `CorpusFormatError` for another."""
    if len(header) < 4 or header[0] != 0 or header[1] != 0:
        raise CorpusFormatError(path, "header", "not an IDX file (bad magic number)")
    if header[2] != UBYTE or header[3] != 3:
        raise CorpusFormatError(path, "header", f"expected 3-dimensional unsigned bytes, got type "
                                f"0x{header[2]:02x} with {header[3]} dimensions")
    if len(header) < HEADER_BYTES:
        raise CorpusFormatError(path, "header", "truncated header")
    count, rows, cols = (int.from_bytes(header[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    images = f"{count:,} images of {rows}x{cols} pixels"
    if not rows * cols:
        raise CorpusFormatError(path, "header", f"{images}: images without pixels")
    if count > MAX_IDX_IMAGES:
        raise CorpusFormatError(path, "header", f"{images}: over {MAX_IDX_IMAGES:,} images")
    if count * rows * cols > MAX_FILE_BYTES:
        limit = f"{MAX_FILE_BYTES / 1e6:,.0f} MB"
        raise CorpusFormatError(path, "header", f"{images}: over {limit} of pixels")
    return count, rows, cols
