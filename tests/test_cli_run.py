"""`nowbot run` as a newcomer starts it: the console says what happened, one line each (the first
model promoted with its metric, a post waiting for review), and nothing of TensorFlow's or
APScheduler's routine; a second run on a busy dashboard port is one line and a failure."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot import demo
from bot.app import App
from conftest import cli_runner

NOISE = ("oneDNN", "cpu_feature_guard", "remapper", "absl", "Running job", "executed successfully",
         "Traceback")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_run_console_shows_the_promotion_and_the_draft_and_no_library_noise(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("NOWBOT_", "TF_"))}
    env.update(NOWBOT_DATA_DIR=str(tmp_path / "var"), NOWBOT_DASHBOARD_PORT=str(free_port()),
               NOWBOT_TRAIN_TEXT_MINUTES="0.05", NOWBOT_TRAIN_GAN_MINUTES="0.05",
               NOWBOT_TRAIN_NICENESS="0")
    service = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(service.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    deadline = time.monotonic() + 150
    try:
        while not any("prepared as siggraph" in line for line in lines):
            assert time.monotonic() < deadline and service.poll() is None, "".join(lines)
            time.sleep(0.2)
    finally:
        service.send_signal(signal.SIGINT)  # Ctrl-C
        code = service.wait(60)
        reader.join(10)
    console = "".join(lines)
    assert code == 0, console
    assert re.search(r"^\d\d:\d\d:\d\d text siggraph: training started \(0\.05 min\)$", console, re.M)
    assert re.search(r"text siggraph v1 promoted: \d\.\d{3} bits/char, the first version$", console, re.M)
    assert re.search(r"post 1 prepared as siggraph for local, waiting for review: .+#siggraphNOW$",
                     console, re.M)
    assert "nowbot running on sqlite" in console and "posts wait for approval" in console
    for noise in NOISE:
        assert noise not in console
    logs = tmp_path / "var" / "logs"
    assert "Running job" in (logs / "nowbot.log").read_text()  # routine lines: in the log file
    assert "v1 promoted" in (logs / "train-text.log").read_text()


def test_a_second_run_on_a_busy_dashboard_port_is_one_line(
    sqlite_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "DEMO_DIGITS", 40)
    with socket.socket() as first_run:
        first_run.bind(("127.0.0.1", 0))
        first_run.listen()
        port = first_run.getsockname()[1]
        monkeypatch.setenv("NOWBOT_DASHBOARD_PORT", str(port))
        result = cli_runner(sqlite_app)("run")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if "error" in line]
    assert errors == [f"error: dashboard port 127.0.0.1:{port} is already in use (another nowbot run?); "
                      "set NOWBOT_DASHBOARD_PORT"]
    assert "Traceback" not in result.output and "nowbot running" not in result.output
