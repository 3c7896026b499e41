"""Child processes: training and collection run as `nowbot ...` children, one training at a
time, so neither the event loop nor the other jobs stall. A child killed mid-run leaves the
serving model as it was (the registry only promotes completed versions)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

from bot.core.runtime import Runtime

log = logging.getLogger("nowbot.children")


def run_cli(runtime: Runtime, args: list[str], log_name: str, timeout_s: float,
            niceness: int = 0, threads: int = 0) -> bool:
    """Run `nowbot ARGS` in a child process on the same database; returns whether it succeeded.

    Output goes to `DATA_DIR/logs/<log_name>.log`. The child has its own session, so a Ctrl-C
    meant for the service does not reach it; the service stops it on shutdown. A `niceness`
    above 0 starts it through `nice -n` (a command prefix: `preexec_fn` is unsafe with threads);
    `threads` above 0 caps TensorFlow's thread pools in the child.
    """
    settings = runtime.app.settings
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "NOWBOT_DATA_DIR": str(settings.data_dir),
        "NOWBOT_DATABASE_URL": settings.resolved_database_url,
        "NOWBOT_ARTIFACTS_DIR": str(settings.resolved_artifacts_dir),
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
    with open(logs / f"{log_name}.log", "ab") as output:
        child = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        runtime.children.add(child)
        try:
            code = child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("%s ran past %.0f s; stopping it", " ".join(args), timeout_s)
            child.terminate()
            code = child.wait()
        finally:
            runtime.children.discard(child)
    if code != 0:
        log.warning("nowbot %s exited with %s (see %s)", " ".join(args), code, logs / f"{log_name}.log")
    return code == 0


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
