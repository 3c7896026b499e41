"""Where model versions live beyond the machine that wrote them: a local folder, or an S3 bucket.

A version is a folder named by its key, `models/<kind>/<target>/v0001` (its path under the
artifacts folder). Before it is published the folder gets a `manifest.json` (every other file's
name, size and sha256); the sha256 of the manifest is the version's checksum, kept in the database.

- `LocalStore` (the default): the folder the version was written to is the version; nothing is
  copied.
- `S3Store`: a bucket of an S3-compatible server. A version is uploaded once, each file and then
  its manifest, every object written only if its key is still free (`If-None-Match: *`), so no
  version is ever overwritten. Another machine downloads it into `<artifacts>/cache/<key>/`,
  verifies every file against the manifest and the manifest against the checksum, and only then
  renames the folder into place: a half or corrupted copy never passes as the version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from storage.artifacts import staged_dir

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_CHUNK = 1 << 20


class ArtifactError(Exception):
    """A version cannot be stored or fetched; the message is one line fit to show a user."""


class VersionExists(ArtifactError):
    """The key already holds a version: versions are written once."""


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_manifest(folder: Path) -> str:
    """Write `folder`'s manifest (every other file's name, size and sha256) and return the
    version's checksum: the sha256 of the manifest."""
    files = [
        {"name": path.relative_to(folder).as_posix(), "size": path.stat().st_size,
         "sha256": _sha256(path)}
        for path in sorted(folder.rglob("*")) if path.is_file() and path.name != MANIFEST
    ]
    data = json.dumps({"files": files}, indent=1, sort_keys=True).encode()
    (folder / MANIFEST).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def verified(folder: Path, checksum: str) -> bool:
    """Whether `folder` holds the version with `checksum` (its manifest matches; the files were
    checked before the folder got its name)."""
    try:
        return hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest() == checksum
    except OSError:
        return False


def parse_location(value: str) -> tuple[str, str] | None:
    """`None` for "local", else (bucket, prefix) of an `s3://bucket/prefix` URL; a ValueError
    says what is wrong."""
    if value == "local":
        return None
    bucket, _, prefix = value.removeprefix("s3://").partition("/")
    if not value.startswith("s3://") or not _BUCKET.fullmatch(bucket):
        raise ValueError(f"must be 'local' or s3://bucket/prefix, not '{value[:60]}'")
    return bucket, prefix.strip("/")


class ArtifactStore(ABC):
    """Publishes versions written on this machine and finds verified copies of any version."""

    def __init__(self, artifacts_dir: Path) -> None:
        self.artifacts_dir = artifacts_dir

    @abstractmethod
    def taken(self, key: str) -> bool:
        """Whether something is already stored under `key` (a version number to skip)."""

    @abstractmethod
    def put(self, key: str, folder: Path) -> None:
        """Publish the complete version in `folder` (with its manifest) under `key`."""

    @abstractmethod
    def local_folder(self, key: str, checksum: str | None, written: Path) -> Path:
        """A folder on this machine holding the version `key` with `checksum`, which was
        written to `written` on the machine that made it."""


class LocalStore(ArtifactStore):
    """The artifacts folder itself: every process sees the folder a version was written to."""

    def taken(self, key: str) -> bool:
        return False  # the version's own folder is the only copy, checked by the caller

    def put(self, key: str, folder: Path) -> None:
        return None

    def local_folder(self, key: str, checksum: str | None, written: Path) -> Path:
        return written


class S3Store(ArtifactStore):
    """Versions in `bucket` under `prefix`, cached verified in `<artifacts_dir>/cache`.

    Credentials come from the standard AWS variables (or any source boto3 reads);
    `endpoint_url` points at an S3-compatible server (path-style addressing then)."""

    def __init__(self, artifacts_dir: Path, bucket: str, prefix: str = "",
                 endpoint_url: str | None = None) -> None:
        super().__init__(artifacts_dir)
        self.bucket, self.prefix, self.endpoint_url = bucket, prefix.strip("/"), endpoint_url
        self.cache = artifacts_dir / "cache"
        self._client: Any = None  # botocore's S3 client, untyped
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (boto3 loads only where a bucket is used)."""
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                config = Config(connect_timeout=10, read_timeout=60, retries={"mode": "standard"},
                                s3={"addressing_style": "path"} if self.endpoint_url else {})
                self._client = boto3.client("s3", endpoint_url=self.endpoint_url, config=config)
            return self._client

    def _key(self, key: str, name: str = "") -> str:
        return "/".join(part for part in (self.prefix, key, name) if part)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """botocore's errors as one `ArtifactError` line (never a traceback to a user)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as error:
            info: dict[str, Any] = error.response.get("Error", {})
            code = info.get("Code", "")
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise VersionExists(f"{what}: the key is already written (versions are "
                                    "written once)") from None
            if code in ("NoSuchKey", "404"):
                raise ArtifactError(f"{what}: missing from s3://{self.bucket}") from None
            raise ArtifactError(f"{what}: {code} {info.get('Message', '')}".strip()) from None
        except BotoCoreError as error:
            raise ArtifactError(f"{what}: {error}") from None

    def taken(self, key: str) -> bool:
        with self._errors(f"cannot list model version {key}"):
            found = self.client.list_objects_v2(
                Bucket=self.bucket, Prefix=self._key(key) + "/", MaxKeys=1)
        return found.get("KeyCount", 0) > 0

    def put(self, key: str, folder: Path) -> None:
        manifest = (folder / MANIFEST).read_bytes()
        for entry in json.loads(manifest)["files"]:
            with self._errors(f"cannot upload {entry['name']} of model version {key}"), \
                    open(folder / entry["name"], "rb") as body:
                self.client.put_object(Bucket=self.bucket, Key=self._key(key, entry["name"]),
                                       Body=body, IfNoneMatch="*")
        with self._errors(f"cannot upload the manifest of model version {key}"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key, MANIFEST),
                                   Body=manifest, IfNoneMatch="*")

    def local_folder(self, key: str, checksum: str | None, written: Path) -> Path:
        """The folder this machine wrote, or its cached copy, whichever matches `checksum`;
        else a copy fetched now (only this machine's artifacts folder is trusted)."""
        mine = written.absolute().is_relative_to(self.artifacts_dir.absolute())
        if checksum is None:  # written before the store: only its own folder has it
            if mine and written.is_dir():
                return written
            raise ArtifactError(f"model version {key} has no checksum and is not on this "
                                "machine: it was saved before the artifact store")
        for folder in ([written] if mine else []) + [self.cache / key]:
            if verified(folder, checksum):
                return folder  # this machine wrote it, or fetched it before: no network call
        return self._fetch(key, checksum)

    def _fetch(self, key: str, checksum: str) -> Path:
        """Download, verify and rename into place `cache/<key>`; raises `ArtifactError`."""
        final, started = self.cache / key, time.monotonic()
        try:
            if final.exists() and not verified(final, checksum):  # another bucket's version
                aside = final.with_name(f".stale-{final.name}-{checksum[:12]}")
                final.rename(aside)
                shutil.rmtree(aside, ignore_errors=True)
            with staged_dir(final) as staging:
                self._download(key, checksum, staging)
        except OSError as error:
            if verified(final, checksum):  # another process of this machine fetched it first
                return final
            raise ArtifactError(f"cannot keep model version {key} in {self.cache}: "
                                f"{error.strerror or error}") from None
        log.info("fetched model version %s from s3://%s in %.1f s", key, self.bucket,
                 time.monotonic() - started)
        return final

    def _download(self, key: str, checksum: str, staging: Path) -> None:
        with self._errors(f"cannot fetch the manifest of model version {key}"):
            manifest = self.client.get_object(
                Bucket=self.bucket, Key=self._key(key, MANIFEST))["Body"].read()
        if hashlib.sha256(manifest).hexdigest() != checksum:
            raise ArtifactError(f"model version {key} in s3://{self.bucket} is corrupted: its "
                                "manifest does not match the checksum in the database")
        for entry in json.loads(manifest)["files"]:
            name = PurePosixPath(entry["name"])
            if name.is_absolute() or ".." in name.parts:
                raise ArtifactError(f"model version {key} names a file outside it: {name}")
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            digest, size = hashlib.sha256(), 0
            with self._errors(f"cannot fetch {name} of model version {key}"), \
                    open(path, "wb") as out:
                body = self.client.get_object(Bucket=self.bucket, Key=self._key(key, str(name)))
                for chunk in body["Body"].iter_chunks(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            if (size, digest.hexdigest()) != (entry["size"], entry["sha256"]):
                raise ArtifactError(f"{name} of model version {key} in s3://{self.bucket} is "
                                    "corrupted: it does not match the version's manifest")
        (staging / MANIFEST).write_bytes(manifest)


_stores: dict[Path, ArtifactStore] = {}


def open_store(location: str, artifacts_dir: Path, endpoint_url: str | None = None
               ) -> ArtifactStore:
    """The store at `location` ("local" or `s3://bucket/prefix`) for this artifacts folder,
    made the one `store_for(artifacts_dir)` returns in this process."""
    parsed = parse_location(location)
    store = LocalStore(artifacts_dir) if parsed is None else S3Store(
        artifacts_dir, *parsed, endpoint_url=endpoint_url)
    _stores[artifacts_dir.absolute()] = store
    return store


def store_for(artifacts_dir: Path) -> ArtifactStore:
    """The store opened for `artifacts_dir` in this process (`open_store`), else the local one."""
    return _stores.get(artifacts_dir.absolute()) or LocalStore(artifacts_dir)
