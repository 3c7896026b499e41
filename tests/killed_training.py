"""A training process killed with SIGKILL once it has written a checkpoint, for resume tests."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def kill_after_checkpoint(script: str, args: list[str], checkpoint: Path, cwd: Path) -> int:
    """Run `python -c script *args`, kill it with SIGKILL a second after `checkpoint` appears
    (within 90 s) and return the steps the checkpoint holds."""
    process = subprocess.Popen([sys.executable, "-c", script, *args], cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not checkpoint.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # let it train past the first checkpoint
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert checkpoint.exists(), "the training process never wrote a checkpoint"
    with np.load(checkpoint) as data:
        return int(json.loads(str(data["state"]))["steps"])
