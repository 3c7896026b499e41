"""The commands people looked for: `post now`, `models list`, `corpus delete`, `images delete`,
`logs`; errors that say what to do; names checked before TensorFlow loads; plain help."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot import generation
from bot.app import App
from bot.generation import GeneratedText
from conftest import cli_runner
from models.registry import Registry
from storage.corpus import Persona, Tweet
from storage.imagesets import ImageSet
from storage.outbox import Post, PostStatus
from storage.registry import ModelVersion, VersionStatus
from text_corpus import store


def serve_version(app: App, kind: str, target: str, metrics: dict[str, float],
                  personas: list[str] | None = None) -> ModelVersion:
    """A promoted version of `kind` (its files are not what these tests are about)."""
    registry = Registry(app.sessions, app.artifacts_dir)
    version = registry.save_version(kind, target, lambda folder: None, metrics,
                                    config={"personas": personas} if personas else None)
    metric = "bpc" if kind == "text" else "fid"
    assert registry.promote_if_better(version.id, metric).promoted
    return version


def child_env(app: App) -> dict[str, str]:
    """The environment of a `nowbot` child process on `app`'s database."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("NOWBOT_")}
    return {**env, "NOWBOT_DATA_DIR": str(app.settings.data_dir),
            "NOWBOT_DATABASE_URL": app.settings.resolved_database_url}


def test_post_now_prepares_a_draft_at_once(sqlite_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    store(sqlite_app, {"ada": 5})
    version = serve_version(sqlite_app, "text", "ada", {"bpc": 2.0}, ["ada"])
    asked: list[str] = []

    def write(app: App, persona: str, recent: list[str]) -> GeneratedText:  # the model's part
        asked.append(persona)
        return GeneratedText("Launch window opens at dawn", -1.0, version.id)

    monkeypatch.setattr(generation, "generate_post_text", write)
    nowbot = cli_runner(sqlite_app)
    made = nowbot("post", "now", "--persona", "ada")
    assert made.exit_code == 0, made.output
    assert "post 1 waits for review: `nowbot queue approve 1` or the dashboard" in made.output
    with sqlite_app.sessions() as session:
        post = session.get_one(Post, 1)
        assert (post.status, [d.platform for d in post.deliveries], post.campaign) == (
            PostStatus.DRAFT, ["local"], "ada")
        assert post.text == "Launch window opens at dawn #siggraphNOW"
    assert asked == ["ada"]
    nobody = nowbot("post", "now", "--persona", "nobody")
    assert nobody.exit_code == 1
    assert "error: no persona named nobody; `nowbot corpus list` shows them" in nobody.output


def test_models_list_explains_metrics_and_the_personas_spoken(sqlite_app: App) -> None:
    nowbot = cli_runner(sqlite_app)
    empty = nowbot("models", "list")
    assert empty.exit_code == 0 and "no model versions yet" in empty.output
    serve_version(sqlite_app, "text", "all", {"bpc": 2.3}, ["ada", "bob"])
    serve_version(sqlite_app, "gan", "digits", {"fid": 14.6, "diversity": 0.7})
    listed = nowbot("models", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert "text all v1: serving, speaks as 2 personas: ada, bob" in lines
    assert "    held-out bits per character: 2.300" in lines
    assert "gan digits v1: serving, draws like the image set 'digits'" in lines
    assert any(line.startswith("held-out bits per character: how surprised") and "lower is better" in line
               for line in lines)  # each metric explained once, below
    assert "text all v1" not in nowbot("models", "list", "--kind", "gan").output


def test_corpus_delete_asks_keeps_models_files_and_refuses_what_serves(sqlite_app: App) -> None:
    nowbot = cli_runner(sqlite_app)
    store(sqlite_app, {"ada": 5, "bob": 5})
    with sqlite_app.sessions.begin() as session:
        session.add(Persona(name="siggraph"))  # the campaign's
    version = serve_version(sqlite_app, "text", "ada", {"bpc": 2.0}, ["ada"])
    serving = nowbot("corpus", "delete", "ada", "--yes")
    assert serving.exit_code == 1
    assert "persona ada is used by the serving model text ada v1: add --retire-models" in serving.output
    declined = cli_runner(sqlite_app)("corpus", "delete", "bob")  # no answer: nothing happens
    assert declined.exit_code == 1 and "deletes persona bob and its 5 tweets" in declined.output
    deleted = nowbot("corpus", "delete", "ada", "--yes", "--retire-models")
    assert deleted.exit_code == 0 and "deleted persona ada" in deleted.output
    with sqlite_app.sessions() as session:
        assert set(session.scalars(select(Persona.name))) == {"bob", "siggraph"}
        assert session.scalar(select(func.count(Tweet.id))) == 5
        assert session.get_one(ModelVersion, version.id).status == VersionStatus.RETIRED
    campaign = nowbot("corpus", "delete", "siggraph", "--yes")
    assert campaign.exit_code == 1 and "siggraph is the campaign's persona (NOWBOT_CAMPAIGN_PERSONA)" in campaign.output
    nobody = nowbot("corpus", "delete", "nobody", "--yes")
    assert nobody.exit_code == 1 and "no persona named nobody; `nowbot corpus list` shows them" in nobody.output


def test_images_delete_removes_the_set_and_its_files(sqlite_app: App, tmp_path: Path) -> None:
    nowbot = cli_runner(sqlite_app)
    photos = tmp_path / "photos"
    photos.mkdir()
    for index, colour in enumerate(("red", "green", "blue")):
        Image.new("RGB", (16, 16), colour).save(photos / f"{index}.png")
    assert nowbot("images", "import", "apples", str(photos), "--size", "16").exit_code == 0
    folder = sqlite_app.artifacts_dir / "images" / "apples"
    assert len(list(folder.iterdir())) == 3
    serve_version(sqlite_app, "gan", "apples", {"fid": 20.0})
    refused = nowbot("images", "delete", "apples", "--yes")
    assert refused.exit_code == 1 and "image set apples is used by the serving model gan apples v1" in refused.output
    from typer.testing import CliRunner

    from bot import cli

    runner_env = {"NOWBOT_DATA_DIR": str(sqlite_app.settings.data_dir),
                  "NOWBOT_DATABASE_URL": sqlite_app.settings.resolved_database_url}
    asked = CliRunner().invoke(cli.app, ["images", "delete", "apples", "--retire-models"], input="y\n",
                               env=runner_env)
    assert asked.exit_code == 0, asked.output
    assert "Delete image set apples? [y/N]" in asked.output and "deleted image set apples" in asked.output
    assert not folder.exists()
    with sqlite_app.sessions() as session:
        assert session.scalar(select(ImageSet.id).where(ImageSet.name == "apples")) is None


def test_logs_shows_the_last_lines_masked_and_follows(sqlite_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = sqlite_app.settings.data_dir / "logs"
    logs.mkdir(parents=True)
    (logs / "nowbot.log").write_text("first\nsecond line\nthird: token s3cret-token-42 used\n")
    monkeypatch.setenv("NOWBOT_X_BEARER_TOKEN", "s3cret-token-42")
    nowbot = cli_runner(sqlite_app)
    shown = nowbot("logs", "-n", "2")
    assert shown.exit_code == 0 and shown.output == "second line\nthird: token *** used\n"
    unknown = nowbot("logs", "train-nope")
    assert unknown.exit_code == 1 and "no log named train-nope" in unknown.output and "there are: nowbot" in unknown.output

    follower = subprocess.Popen([sys.executable, "-m", "bot.cli", "logs", "-f", "-n", "0"],
                                env={**child_env(sqlite_app), "NOWBOT_X_BEARER_TOKEN": "s3cret-token-42"},
                                stdout=subprocess.PIPE, text=True)
    time.sleep(2)  # it is reading from the end now
    with (logs / "nowbot.log").open("a") as log_file:
        log_file.write("fourth s3cret-token-42\n")
    line = follower.stdout.readline()  # type: ignore[union-attr]
    follower.send_signal(signal.SIGINT)
    assert follower.wait(10) == 0
    assert line == "fourth ***\n"


@pytest.mark.parametrize("args, error", [
    (["train", "text", "--persona", "nope"], "no persona named nope; `nowbot corpus list` shows them"),
    (["train", "gan", "--set", "nope"], "no image set named nope; `nowbot images list` shows them"),
    (["generate", "image", "--set", "nope"], "no image set named nope; `nowbot images list` shows them"),
    (["generate", "text", "--persona", "nobody"], "no persona named nobody; `nowbot corpus list` shows them"),
])
def test_names_are_checked_before_tensorflow_loads(sqlite_app: App, args: list[str], error: str) -> None:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "bot.cli", *args],
                            env=child_env(sqlite_app), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and f"error: {error}" in result.stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "tensorflow" not in loaded and "keras" not in loaded


def test_blend_of_separately_trained_personas_says_to_train_them_together(sqlite_app: App) -> None:
    store(sqlite_app, {"ada": 5, "bob": 5})
    serve_version(sqlite_app, "text", "ada", {"bpc": 2.0}, ["ada"])
    serve_version(sqlite_app, "text", "bob", {"bpc": 2.0}, ["bob"])
    blend = cli_runner(sqlite_app)("generate", "text", "--persona", "ada", "--blend", "bob")
    assert blend.exit_code == 1
    assert "train them together first (nowbot train text --together -p ada -p bob)" in blend.output


def test_help_is_plain_and_loads_no_heavy_module() -> None:
    probe = ("import sys, bot.cli; print(sorted(m for m in ('tensorflow', 'keras', 'numpy', 'sqlalchemy')"
             " if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
    for args in (["--help"], ["train", "text", "--help"], ["images", "import", "--help"]):
        shown = subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                               check=True)
        assert "<bool>" not in shown.stdout and "Usage: " in shown.stdout


def test_image_sources_named_in_help_are_the_ones_import_reads() -> None:
    from bot.cli import images
    from corpora import imagesets

    assert (images.BUILTIN_DIGITS, images.KERAS_MNIST) == (imagesets.BUILTIN_DIGITS, imagesets.KERAS_MNIST)
