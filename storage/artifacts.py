"""Artifact files written so that a crash or kill never leaves a half-written file in place.

Everything is written under a temporary name in the destination's folder and then renamed, which is
atomic on POSIX file systems: readers see the old file (or nothing) or the whole new one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, replacing any previous file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


@contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Yield an empty temporary folder; when the block succeeds it becomes `final` in one rename.

    `final` must not exist yet (versioned artifacts get fresh paths). If the block raises, or the
    process dies, `final` is never created; a leftover `.staging-*` folder is harmless.
    """
    if final.exists():
        raise FileExistsError(f"artifact already exists: {final}")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{final.name}-", dir=final.parent))
    try:
        yield staging
        for file in staging.rglob("*"):
            if file.is_file():
                with open(file, "rb") as handle:
                    os.fsync(handle.fileno())
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(final.parent)
