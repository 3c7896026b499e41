"""Reading the IDX files MNIST is distributed in (`*-idx3-ubyte`, optionally gzipped)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from corpora.errors import CorpusFormatError

UBYTE = 0x08


def is_idx(path: Path) -> bool:
    """True for names like `t10k-images-idx3-ubyte` or `train-images.idx3-ubyte.gz`."""
    name = path.name.removesuffix(".gz")
    return name.endswith("idx3-ubyte")


def read_idx_images(path: Path) -> np.ndarray:
    """The images of an IDX3 unsigned-byte file as uint8 (count, rows, cols)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:
        raise CorpusFormatError(path, None, f"cannot read IDX file ({error})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise CorpusFormatError(path, "header", "not an IDX file (bad magic number)")
    if data[2] != UBYTE or data[3] != 3:
        raise CorpusFormatError(path, "header", f"expected 3-dimensional unsigned bytes, got type "
                                f"0x{data[2]:02x} with {data[3]} dimensions")
    count, rows, cols = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    expected = 16 + count * rows * cols
    if len(data) != expected:
        raise CorpusFormatError(path, None, f"truncated or oversized: {len(data)} bytes, header says {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, cols)
