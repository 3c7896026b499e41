"""Child processes: training and collection run as `nowbot ...` children, one training at a
time, so neither the event loop nor the other jobs stall. A child killed mid-run leaves the
serving model as it was (the registry only promotes completed versions).

A child's whole output goes to its log file; the lines it marks for the operator (training
started, progress, promoted or not: `bot.cli.report`) are also logged here, so they reach the
service's console, and a failure is logged with the child's last line.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from bot.core.runtime import Runtime
from bot.logs import RELAY_ENV, RELAY_PREFIX

log = logging.getLogger("nowbot.children")
QUIET_FOR_S = 60.0  # a child that said nothing for this long gets a "still running" line


def run_cli(runtime: Runtime, args: list[str], log_name: str, timeout_s: float,
            niceness: int = 0, threads: int = 0) -> bool:
    """Run `nowbot ARGS` in a child process on the same database; returns whether it succeeded.

    Output goes to `DATA_DIR/logs/<log_name>.log`, and the lines the child marks are logged
    here. The child has its own session, so a Ctrl-C meant for the service does not reach it;
    the service stops it on shutdown. A `niceness` above 0 starts it through `nice -n` (a
    command prefix: `preexec_fn` is unsafe with threads); `threads` above 0 caps TensorFlow's
    thread pools in the child.
    """
    settings = runtime.app.settings
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "NOWBOT_DATA_DIR": str(settings.data_dir),
        "NOWBOT_DATABASE_URL": settings.resolved_database_url,
        "NOWBOT_ARTIFACTS_DIR": str(settings.resolved_artifacts_dir),
        RELAY_ENV: "1",
    }
    if threads > 0:
        env["TF_NUM_INTRAOP_THREADS"] = env["TF_NUM_INTEROP_THREADS"] = str(threads)
    if runtime.stopping.is_set():
        return False
    command = [sys.executable, "-m", "bot.cli", *args]
    if niceness > 0:
        nice = shutil.which("nice")
        if nice is None:
            log.warning("no `nice` command: %s runs at the service's priority", " ".join(args))
        else:
            command = [nice, "-n", str(niceness), *command]
    log_file = logs / f"{log_name}.log"
    with open(log_file, "ab") as output:
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )
        runtime.children.add(child)
        relay = _Relay(child.stdout, output)  # type: ignore[arg-type]
        try:
            code = _wait(child, relay, log_name, timeout_s)
        finally:
            runtime.children.discard(child)
            relay.thread.join()
    if code != 0:
        why = f": {relay.last_line}" if relay.last_line else ""
        log.warning("nowbot %s failed (exit status %s)%s; see %s", " ".join(args), code, why,
                    _shown(log_file))
    return code == 0


class _Relay:
    """Copies a child's output to its log file, logging the lines it marks for the operator and
    keeping its last other line (a failure's reason)."""

    def __init__(self, stream: IO[bytes], output: IO[bytes]) -> None:
        self.last_line = ""
        self.said_at = time.monotonic()
        self.thread = threading.Thread(target=self._copy, args=(stream, output), daemon=True)
        self.thread.start()

    def _copy(self, stream: IO[bytes], output: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            output.write(raw)
            output.flush()
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith(RELAY_PREFIX.strip()):
                self.said_at = time.monotonic()
                log.info("%s", line.removeprefix(RELAY_PREFIX.strip()).strip())
            elif line:
                self.last_line = line
        stream.close()


def _wait(child: subprocess.Popen[bytes], relay: _Relay, name: str, timeout_s: float) -> int:
    """The child's exit status; stopped after `timeout_s`, with a line each time it has said
    nothing for `QUIET_FOR_S`."""
    started = time.monotonic()
    while True:
        left = started + timeout_s - time.monotonic()
        try:
            return child.wait(timeout=max(0.0, min(left, QUIET_FOR_S / 4)))
        except subprocess.TimeoutExpired:
            now = time.monotonic()
            if now - started >= timeout_s:
                log.warning("%s ran past %.0f s; stopping it", name, timeout_s)
                child.terminate()
                return child.wait()
            if now - relay.said_at >= QUIET_FOR_S:
                relay.said_at = now
                log.info("%s still running (%.0f min so far)", name, (now - started) / 60)


def _shown(path: Path) -> str:
    """`path` relative to the working folder when it is inside it (as the user typed it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def stop_children(runtime: Runtime, grace_s: float = 10.0) -> None:
    """Stop training and collection children (SIGTERM, then SIGKILL after `grace_s`); no new
    child starts afterwards."""
    runtime.stopping.set()
    for child in list(runtime.children):
        child.terminate()
    for child in list(runtime.children):
        try:
            child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            child.kill()


def run_training(runtime: Runtime, args: list[str], log_name: str, minutes: float) -> bool:
    """Run one training child at `NOWBOT_TRAIN_NICENESS` on `NOWBOT_TRAIN_THREADS`, so chat and
    the dashboard stay responsive; a second training waits for the running one to finish."""
    if not runtime.training_lock.acquire(blocking=False):
        log.info("training already running; %s starts when it ends", log_name)
        runtime.training_lock.acquire()
    try:
        settings = runtime.app.settings
        return run_cli(runtime, args, log_name, timeout_s=minutes * 60 + 300,
                       niceness=settings.train_niceness, threads=settings.training_threads)
    finally:
        runtime.training_lock.release()
