"""Artifact files written so that a crash or kill never leaves a half-written file in place.

Everything is written under a temporary name in the destination's folder and then renamed, which is
atomic on POSIX file systems: readers see the old file (or nothing) or the whole new one.
"""

from __future__ import annotations

import os
import re
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


def new_file_mode() -> int:
    """The mode `open()` gives a new file (0o666 less the umask, read from /proc so that no
    thread sees the umask changed); 0o644 where /proc does not say."""
    try:
        found = re.search(r"^Umask:\s*([0-7]+)", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        found = None
    return 0o666 & ~int(found.group(1), 8) if found else 0o644


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, replacing any previous file; the file gets the mode
    of any new file (0644 with the usual umask), not the temporary file's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, new_file_mode())
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
