"""Model versions shared between machines through an S3 bucket (moto's server on 127.0.0.1):
written once with a checksum, served on every machine from a verified copy, and the local
default copying nothing. Two "machines" are two apps with their own artifacts folders on the
same database and bucket."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from bot import generation
from bot.app import App, open_app
from bot.config import ConfigError, Settings, load_settings
from models.errors import ModelError
from models.registry import Registry
from storage.artifact_store import LocalStore, S3Store, VersionExists, store_for
from storage.registry import ModelVersion
from text_models import write_text_model

@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ThreadedMotoServer]:
    """moto's S3 server on 127.0.0.1 with fake credentials (no profile or metadata lookup)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                        "AWS_CONFIG_FILE": str(tmp_path / "none"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield server
    server.stop()


def _endpoint(server: ThreadedMotoServer) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


@pytest.fixture
def bucket(s3: ThreadedMotoServer) -> str:
    name = f"nowbot-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=_endpoint(s3)).create_bucket(Bucket=name)
    return name


@pytest.fixture
def node(tmp_path: Path, database_url: str, s3: ThreadedMotoServer, bucket: str
         ) -> Iterator[Callable[[str], App]]:
    """`node(name)`: an app of its own artifacts folder on the shared database and bucket."""
    apps: list[App] = []

    def open_node(name: str) -> App:
        settings = Settings(data_dir=tmp_path / name, database_url=database_url,
                            artifact_store=f"s3://{bucket}/nowbot", s3_endpoint_url=_endpoint(s3))
        apps.append(open_app(settings))
        return apps[-1]

    yield open_node
    for app in apps:
        app.engine.dispose()


def _bucket_client(app: App) -> Any:
    store = store_for(app.artifacts_dir)
    assert isinstance(store, S3Store)
    return store.client


def _registry(app: App) -> Registry:
    return Registry(app.sessions, app.artifacts_dir)


def test_version_promoted_on_one_machine_serves_on_another(
        node: Callable[[str], App], s3: ThreadedMotoServer) -> None:
    trainer, server = node("trainer"), node("server")
    first = _registry(trainer).save_version(
        "text", "all", write_text_model, {"bpc": 2.0}, {"personas": ["ada", "bob"]})
    assert first.checksum and _registry(trainer).promote_if_better(first.id, "bpc").promoted

    version, sampler, _ = generation.serving_generator(server, "ada")
    assert version.id == first.id and sampler.personas == ["ada", "bob"]
    copy = server.artifacts_dir / "cache" / "models" / "text" / "all" / "v0001"
    assert _registry(server).serving_path("text", "all") == copy
    assert (copy / "weights.npz").read_bytes() == \
        (trainer.artifacts_dir / first.key / "weights.npz").read_bytes()
    tweets = generation.generate_tweets(server, "ada", count=1, candidates=8, real_words=False)
    assert tweets[0].model_version_id == first.id and tweets[0].text

    second = _registry(trainer).save_version(
        "text", "all", write_text_model, {"bpc": 1.5}, {"personas": ["ada", "bob"]})
    assert _registry(trainer).promote_if_better(second.id, "bpc").promoted
    assert generation.serving_generator(server, "ada")[0].id == second.id  # noticed at once

    s3.stop()  # every machine now holds verified copies: serving needs no bucket
    assert _registry(server).serving_path("text", "all").name == "v0002"
    assert _registry(trainer).serving_path("text", "all") == trainer.artifacts_dir / second.key


def test_a_version_is_written_once(node: Callable[[str], App]) -> None:
    app = node("trainer")
    store = store_for(app.artifacts_dir)
    version = _registry(app).save_version("gan", "digits", _write_weights(b"one"), {"fid": 1.0})
    with pytest.raises(VersionExists, match="written once"):
        store.put(version.key, app.artifacts_dir / version.key)

    # A save that died after uploading (no record) leaves its number taken: the next is skipped.
    orphan = app.artifacts_dir / "orphan"
    orphan.mkdir()
    (orphan / "manifest.json").write_text('{"files": []}')
    store.put("models/gan/digits/v0002", orphan)
    after = _registry(app).save_version("gan", "digits", _write_weights(b"two"), {"fid": 0.5})
    assert after.version == 3


def _write_weights(data: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / "weights.bin").write_bytes(data)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda client, bucket, key: client.put_object(
        Bucket=bucket, Key=f"nowbot/{key}/weights.bin", Body=b"tampered"),
     r"^weights.bin of model version models/gan/digits/v0001 in s3://\S+ is corrupted"),
    (lambda client, bucket, key: client.delete_object(
        Bucket=bucket, Key=f"nowbot/{key}/weights.bin"),
     r"^cannot fetch weights.bin of model version models/gan/digits/v0001: missing from s3://"),
    (lambda client, bucket, key: client.put_object(
        Bucket=bucket, Key=f"nowbot/{key}/manifest.json", Body=b'{"files": []}'),
     r"manifest does not match the checksum in the database$"),
])
def test_a_damaged_version_is_refused_and_leaves_no_copy(
        node: Callable[[str], App], bucket: str, damage: Callable[..., Any], message: str) -> None:
    trainer, server = node("trainer"), node("server")
    version = _registry(trainer).save_version(
        "gan", "digits", _write_weights(b"weights" * 1000), {"fid": 1.0})
    _registry(trainer).promote_if_better(version.id, "fid")
    damage(_bucket_client(trainer), bucket, version.key)

    with pytest.raises(ModelError, match=message) as refused:
        _registry(server).serving_path("gan", "digits")
    assert "\n" not in str(refused.value)
    cache = server.artifacts_dir / "cache"
    assert [p for p in cache.rglob("*") if p.is_file()] == []  # no copy, whole or half


def test_a_version_from_before_the_store_serves_only_where_it_was_written(
        node: Callable[[str], App]) -> None:
    trainer, server = node("trainer"), node("server")
    version = _registry(trainer).save_version("gan", "digits", _write_weights(b"w"), {"fid": 1.0})
    _registry(trainer).promote_if_better(version.id, "fid")
    with trainer.sessions.begin() as session:
        session.get_one(ModelVersion, version.id).checksum = None
    assert _registry(trainer).serving_path("gan", "digits") == trainer.artifacts_dir / version.key
    with pytest.raises(ModelError, match="saved before the artifact store"):
        _registry(server).serving_path("gan", "digits")


def test_the_local_store_copies_nothing(app: App) -> None:
    assert isinstance(store_for(app.artifacts_dir), LocalStore)
    registry = _registry(app)
    version = registry.save_version("gan", "digits", _write_weights(b"w"), {"fid": 1.0})
    registry.promote_if_better(version.id, "fid")
    assert registry.serving_path("gan", "digits") == app.artifacts_dir / version.key
    assert version.checksum and (app.artifacts_dir / version.key / "manifest.json").is_file()
    assert not (app.artifacts_dir / "cache").exists()


@pytest.mark.parametrize(("name", "value", "message"), [
    ("artifact_store", "s3:/bucket", "NOWBOT_ARTIFACT_STORE: must be 'local' or s3://"),
    ("artifact_store", "s3://B", "NOWBOT_ARTIFACT_STORE: must be 'local' or s3://"),
    ("s3_endpoint_url", "minio:9000", "NOWBOT_S3_ENDPOINT_URL: must be an http(s)://"),
])
def test_bad_store_settings_are_one_line(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as refused:
        load_settings(**{name: value})
    assert "\n" not in str(refused.value)
