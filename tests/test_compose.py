"""Deployment files: the compose file validates, and `.env.example` lists every setting."""

from __future__ import annotations

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


@pytest.mark.skipif(not _compose_available(), reason="the docker compose CLI is not available")
def test_compose_file_validates() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(REPO / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert '"condition": "service_healthy"' in result.stdout


def test_compose_wires_the_bot_to_a_healthy_postgres() -> None:
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    db, bot = compose["services"]["db"], compose["services"]["bot"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["environment"]["NOWBOT_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@db:5432/" in bot["environment"]["NOWBOT_DATABASE_URL"]
    assert all(port.startswith("127.0.0.1:") for port in bot["ports"])


def test_env_example_lists_every_setting() -> None:
    listed = set(re.findall(r"^#? ?(NOWBOT_[A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.M))
    expected = {f"NOWBOT_{name.upper()}" for name in Settings.model_fields}
    assert expected - listed == set()


def test_dockerfile_runs_as_non_root_on_slim_python() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
