"""A bad day, each part contained (issue 25): a full disk, a malformed database URL or a losing
concurrent import is one line on the console and a traceback in the log file; a log line
cannot be forged with a line break; a log file that cannot be written says so once."""

from __future__ import annotations

import logging
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import Engine, event, func, insert, select

from bot.app import App
from bot.logs import log_to_file, setup_logging
from conftest import cli_runner
from storage.corpus import Persona, Tweet

NOWBOT = Path(sys.executable).parent / "nowbot"
FULL_AT = 64 * 1024  # bytes: the most any one file may hold in `nowbot_on_a_full_disk`


def nowbot_on_a_full_disk(app: App, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `nowbot ARGS` where no file may grow past `FULL_AT` bytes, as on a full disk: a
    write past it fails with EFBIG (RLIMIT_FSIZE, with SIGXFSZ ignored so that it is an error,
    not a kill). The database is checkpointed first, so the command's own writes hit the limit."""
    app.engine.dispose()

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (FULL_AT, FULL_AT))

    return _nowbot(app, args, preexec_fn=limit)


def _nowbot(app: App, args: tuple[str, ...], **options: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOWBOT_DATA_DIR": str(app.settings.data_dir),
           "NOWBOT_DATABASE_URL": app.settings.resolved_database_url}
    return subprocess.run([NOWBOT, *args], env=env, capture_output=True, text=True, timeout=120,
                          **options)  # type: ignore[call-overload]


def assert_one_line_with_details(stderr: str, start: str, log: Path) -> None:
    assert stderr.count("\n") == 1 and stderr.startswith(f"error: {start}"), stderr
    assert stderr.endswith(f" (details in {log})\n")
    assert "Traceback (most recent call last)" in log.read_text()


def test_a_full_disk_during_an_image_import_is_one_line_and_leaves_no_image_file(
    sqlite_app: App, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for n in range(600):  # each small enough to be written; their rows together are not
        PILImage.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{n}.png")
    result = nowbot_on_a_full_disk(sqlite_app, "images", "import", "photos", str(folder))
    assert result.returncode == 1, result.stderr
    assert_one_line_with_details(result.stderr, "the command failed: database error: ",
                                 sqlite_app.settings.data_dir / "logs" / "cli.log")
    assert list((sqlite_app.artifacts_dir / "images").rglob("*.png")) == []


def test_a_full_disk_during_a_corpus_import_is_one_line_and_stores_nothing(
    sqlite_app: App, tmp_path: Path
) -> None:
    (tmp_path / "t.txt").write_text("".join(f"post number {n}\n" for n in range(3000)))
    result = nowbot_on_a_full_disk(sqlite_app, "corpus", "import", "ada", str(tmp_path / "t.txt"))
    assert result.returncode == 1, result.stderr
    assert_one_line_with_details(result.stderr, "the command failed: database error: ",
                                 sqlite_app.settings.data_dir / "logs" / "cli.log")
    with sqlite_app.sessions() as session:
        assert session.scalar(select(func.count(Tweet.id))) == 0


def test_a_full_disk_during_training_is_one_line(sqlite_app: App, tmp_path: Path) -> None:
    words = "light shadow render the quick brown fox jumps over a lazy dog".split()
    rng = np.random.default_rng(0)
    (tmp_path / "t.txt").write_text("".join(" ".join(rng.choice(words, 12)) + "\n" for _ in range(400)))
    assert _nowbot(sqlite_app, ("corpus", "import", "ada", str(tmp_path / "t.txt"))).returncode == 0
    result = nowbot_on_a_full_disk(sqlite_app, "train", "text", "-p", "ada", "--epochs", "1")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert errors[0].startswith("error: the command failed: File too large (details in ")
    assert not list(sqlite_app.artifacts_dir.rglob(".staging-*"))  # no half-written checkpoint


@pytest.mark.parametrize("url", [
    "sqlite", "postgresqlx://", "postgresql+nodriver://nowbot:s3cret-pass@db/nowbot",
    "postgresql://nowbot:s3cret-pass@db:port/nowbot",
    "postgresql://nowbot:s3cret-pass@db/nowbot?connect_timeout=soon",
])
def test_a_malformed_database_url_is_one_line_and_keeps_its_password(
    sqlite_app: App, url: str
) -> None:
    env = {**os.environ, "NOWBOT_DATA_DIR": str(sqlite_app.settings.data_dir),
           "NOWBOT_DATABASE_URL": url}
    result = subprocess.run([NOWBOT, "corpus", "list"], env=env, capture_output=True, text=True,
                            timeout=120)
    log = sqlite_app.settings.data_dir / "logs" / "cli.log"
    assert result.returncode == 1
    assert_one_line_with_details(result.stderr, "cannot open the database: ", log)
    assert "s3cret-pass" not in result.stderr + log.read_text()


def test_losing_a_concurrent_import_is_one_line_and_stores_nothing(app: App, tmp_path: Path) -> None:
    """The other import creates the persona between this one's look-up and its insert."""
    (tmp_path / "t.txt").write_text("mine\n")

    def the_other_import_first(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("INSERT INTO personas") and not raced:
            raced.append(statement)
            with app.engine.begin() as other:
                persona = other.execute(insert(Persona).values(name="ada").returning(Persona.id))
                other.execute(insert(Tweet).values(
                    persona_id=persona.scalar_one(), source="text", source_id="h",
                    text="theirs", text_hash="h"))

    raced: list[str] = []
    event.listen(Engine, "before_cursor_execute", the_other_import_first)
    try:
        result = cli_runner(app)("corpus", "import", "ada", str(tmp_path / "t.txt"))
    finally:
        event.remove(Engine, "before_cursor_execute", the_other_import_first)
    assert raced and result.exit_code == 1
    assert_one_line_with_details(
        result.stderr, f"another import into ada stored the same tweets at the same time; "
        f"nothing of {tmp_path / 't.txt'} was stored: import it again",
        app.settings.data_dir / "logs" / "cli.log",
    )
    with app.sessions() as session:
        assert list(session.scalars(select(Tweet.text))) == ["theirs"]


def test_a_line_break_in_a_logged_value_forges_no_log_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging(logging.INFO)
    path = log_to_file(tmp_path / "logs")
    forged = "digits\n2026-12-06 12:00:00,000 INFO nowbot.queue: post 7 approved by admin\x1b[2J"
    logging.getLogger("nowbot.draw").info("drawing with set %s", forged)
    try:
        raise ValueError("kept as raised")
    except ValueError:
        logging.getLogger("nowbot.draw").exception("failed for %s", "a\r\nb")
    lines = path.read_text().splitlines()
    assert lines[0].endswith(r"drawing with set digits\n2026-12-06 12:00:00,000 INFO "
                             r"nowbot.queue: post 7 approved by admin\x1b[2J")
    assert lines[1].endswith(r"failed for a\r\nb")
    assert lines[2:] and lines[2] == "Traceback (most recent call last):"  # tracebacks intact
    console = capsys.readouterr().err.splitlines()
    assert len(console) == 2 and "approved by admin" in console[0]


def _full_disk_logging(folder: Path) -> str:
    """A script that logs 40 routine lines to a log file in `folder` while no file may grow past
    300 bytes (as on a full disk), then prints "still running"."""
    return (
        "import logging, pathlib, resource, signal\n"
        "from bot.logs import log_to_file, setup_logging\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300))\n"
        "setup_logging(logging.INFO)\n"
        f"log_to_file(pathlib.Path({str(folder)!r}))\n"
        "for n in range(40):  # routine lines: for the file only\n"
        "    logging.getLogger('apscheduler.scheduler').info('Running job %d', n)\n"
        "print('still running')\n"
    )


def test_a_log_file_that_cannot_be_written_says_so_once(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", _full_disk_logging(tmp_path)],
                            capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stderr
    assert result.stderr == (f"nowbot: cannot write the log file {tmp_path / 'nowbot.log'} (File too "
                             "large); its lines are lost until it can be written\n")


def test_logging_never_raises_when_stderr_is_on_the_full_disk_too(tmp_path: Path) -> None:
    stderr = tmp_path / "stderr.txt"
    stderr.write_text("x" * 400)  # past the limit: nothing more can be written to it
    with stderr.open("a") as errors:
        result = subprocess.run([sys.executable, "-c", _full_disk_logging(tmp_path)],
                                stdout=subprocess.PIPE,
                                stderr=errors, text=True, timeout=60, cwd=Path(__file__).parents[1])
    assert (result.returncode, result.stdout) == (0, "still running\n")
