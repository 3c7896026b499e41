"""A training process killed with SIGKILL once it has written a checkpoint, for resume tests of
the adversarial models (GAN and draw), which train the same way."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np


TRAIN_FOREVER = textwrap.dedent("""
    import sys
    from importlib import import_module
    from pathlib import Path
    from bot.app import open_app
    from bot.config import Settings
    from corpora.imagesets import load_pixels
    from models.registry import Registry
    module, function, data_dir, overrides = sys.argv[1:]
    train = getattr(import_module(module), function)
    app = open_app(Settings(data_dir=Path(data_dir)))
    with app.sessions() as session:
        pixels = load_pixels(session, "tiny")
    train(Registry(app.sessions, app.artifacts_dir), app.artifacts_dir, "tiny", pixels,
          epochs=100000, overrides=eval(overrides), progress=False)
""")


def kill_after_checkpoint(train: str, data_dir: Path, overrides: object, checkpoint: Path,
                          cwd: Path) -> int:
    """Train image set "tiny" with `train` ("module:function", as `models.gan.run:train_gan`)
    and `overrides` of its config in a child process; kill it with SIGKILL a second after
    `checkpoint` appears (within 90 s) and return the steps the checkpoint holds."""
    module, function = train.split(":")
    process = subprocess.Popen([sys.executable, "-c", TRAIN_FOREVER, module, function,
                                str(data_dir), repr(overrides)], cwd=cwd,
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
