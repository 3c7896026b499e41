"""Deployment files: the compose file validates, pins its images by digest, has no default
password and runs every container (PostgreSQL, the scheduler, the workers, the Discord shards)
without capabilities on read-only file systems, restarted when it exits; `.env.example` lists
every setting."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.config import Settings

REPO = Path(__file__).resolve().parents[1]


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


PASSWORDS = {"POSTGRES_PASSWORD": "a-long-db-password", "NOWBOT_DASHBOARD_PASSWORD": "a-long-login"}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
NOWBOT_SERVICES = ["scheduler", "standby", "training-worker", "worker", "discord-0", "discord-1"]


def _compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "compose", "-f", str(REPO / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **env},
    )


def _compose() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.mark.skipif(not _compose_available(), reason="the docker compose CLI is not available")
def test_compose_file_validates() -> None:
    result = _compose_config(PASSWORDS)
    assert result.returncode == 0, result.stderr
    assert '"condition": "service_healthy"' in result.stdout


@pytest.mark.skipif(not _compose_available(), reason="the docker compose CLI is not available")
@pytest.mark.parametrize("missing", sorted(PASSWORDS))
def test_compose_refuses_to_start_without_a_password(missing: str) -> None:
    result = _compose_config({name: value for name, value in PASSWORDS.items() if name != missing})
    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stderr


def test_compose_images_are_pinned_by_digest() -> None:
    images = [service["image"] for service in _compose()["services"].values() if "image" in service]
    bases = re.findall(r"^FROM (\S+)", (REPO / "Dockerfile").read_text(), re.M)
    assert images and bases
    assert [name for name in images + bases if not DIGEST.search(name)] == []


def test_compose_has_no_default_password() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    assert re.findall(r"\$\{[A-Z_]*PASSWORD[A-Z_]*:?-", text) == []  # no ${X:-default}
    services = _compose()["services"]
    required = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == required
    for name in NOWBOT_SERVICES:
        assert f"nowbot:{required}@db" in services[name]["environment"]["NOWBOT_DATABASE_URL"]


def test_compose_runs_every_nowbot_service_from_one_build() -> None:
    services = _compose()["services"]
    assert [name for name, service in services.items() if "build" in service] == NOWBOT_SERVICES
    assert {services[name]["build"] for name in NOWBOT_SERVICES} == {"."}
    assert all("image" not in services[name] for name in NOWBOT_SERVICES)


@pytest.mark.parametrize("name", ["db", *NOWBOT_SERVICES])
def test_compose_containers_have_no_capabilities_and_read_only_roots(name: str) -> None:
    service = _compose()["services"][name]
    assert service["cap_drop"] == ["ALL"] and "cap_add" not in service
    assert service["read_only"] is True
    assert "/tmp" in service["tmpfs"]
    assert "no-new-privileges:true" in service["security_opt"]
    assert service["restart"] in {"unless-stopped", "on-failure"}
    assert "privileged" not in service and "network_mode" not in service
    assert all(port.startswith("127.0.0.1:") for port in service.get("ports", []))


def test_compose_wires_the_scheduler_to_a_healthy_postgres() -> None:
    services = _compose()["services"]
    db, scheduler = services["db"], services["scheduler"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert scheduler["depends_on"]["db"]["condition"] == "service_healthy"
    assert scheduler["environment"]["NOWBOT_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@db:5432/" in scheduler["environment"]["NOWBOT_DATABASE_URL"]
    assert scheduler["ports"] == ["127.0.0.1:8350:8350"]


@pytest.mark.parametrize("name", NOWBOT_SERVICES)
def test_compose_services_share_the_queue_and_the_artifacts(name: str) -> None:
    service = _compose()["services"][name]
    environment = service["environment"]
    assert environment["NOWBOT_JOB_QUEUE"] == "postgresql"
    assert environment["NOWBOT_ARTIFACTS_DIR"] == "/data/artifacts"
    assert "botdata:/data" in service["volumes"]
    if name != "scheduler":  # the scheduler migrates the schema first
        assert service["depends_on"] == {"scheduler": {"condition": "service_healthy"}}


def test_compose_schedulers_exit_when_sick_and_are_health_checked() -> None:
    services = _compose()["services"]
    runs = [name for name in NOWBOT_SERVICES if services[name]["command"] == ["nowbot", "run"]]
    assert runs == ["scheduler", "standby"]
    assert "standby" in services["standby"]["profiles"]
    for name in runs:
        service = services[name]
        assert service["environment"]["NOWBOT_EXIT_WHEN_SICK"] == "true"
        assert "/healthz" in " ".join(service["healthcheck"]["test"])
        assert service["environment"]["NOWBOT_DISCORD_TOKEN"] == ""  # the shards connect
    others = [name for name in NOWBOT_SERVICES if name not in runs]
    assert all(services[name]["healthcheck"] == {"disable": True} for name in others)


def test_compose_workers_cover_every_queue_with_training_alone() -> None:
    services = _compose()["services"]
    queues = {name: services[name]["command"][3].split(",")
              for name in ("training-worker", "worker")}
    assert services["training-worker"]["command"] == [
        "nowbot", "worker", "--queues", "training", "--concurrency", "1"]
    assert sorted(sum(queues.values(), [])) == ["default", "generate", "training"]


def test_compose_discord_shards_cover_each_shard_once() -> None:
    services = _compose()["services"]
    shards: list[int] = []
    for name in ("discord-0", "discord-1"):
        command = services[name]["command"]
        assert command[:3] == ["nowbot", "discord", "run"]
        assert services[name]["profiles"] == ["discord"]
        assert command[command.index("--shard-count") + 1] == "4"
        first, last = command[command.index("--shards") + 1].split("-")
        shards += range(int(first), int(last) + 1)
    assert shards == [0, 1, 2, 3]


def test_env_example_lists_every_setting() -> None:
    listed = set(re.findall(r"^#? ?((?:NOWBOT|POSTGRES)_[A-Z0-9_]+)=",
                            (REPO / ".env.example").read_text(), re.M))
    expected = {f"NOWBOT_{name.upper()}" for name in Settings.model_fields} | {"POSTGRES_PASSWORD"}
    assert expected - listed == set()


def test_dockerfile_runs_as_non_root_on_slim_python() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
