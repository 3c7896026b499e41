"""Settings: defaults, sources, validation messages and secret masking."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.logs import install_masking


def test_defaults_are_embedded_sqlite_under_var() -> None:
    settings = load_settings()
    assert settings.resolved_database_url == "sqlite:///var/nowbot.db"
    assert settings.resolved_artifacts_dir == Path("var/artifacts")
    assert not settings.x_read_configured


def test_environment_overrides_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "nowbot.toml"
    config.write_text('x_read_budget = 50\nlog_level = "DEBUG"\n')
    monkeypatch.setenv("NOWBOT_CONFIG", str(config))
    monkeypatch.setenv("NOWBOT_X_READ_BUDGET", "70")
    settings = load_settings()
    assert settings.x_read_budget == 70
    assert settings.log_level == "DEBUG"


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NOWBOT_X_BEARER_TOKEN=from-dotenv\n")
    assert load_settings().x_bearer_token.get_secret_value() == "from-dotenv"


def test_dotenv_lines_of_other_programs_are_left_to_them_and_a_typo_is_named(
        tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("POSTGRES_PASSWORD=for-compose\nNOWBOT_LOG_LEVEL=DEBUG\n")  # compose's too
    assert load_settings().log_level == "DEBUG"
    dotenv.write_text("POSTGRES_PASSWORD=for-compose\nNOWBOT_LOG_LEVL=DEBUG\n")
    with pytest.raises(ConfigError, match="NOWBOT_LOG_LEVL"):
        load_settings()


def test_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOWBOT_X_READ_BUDGET", "-3")
    monkeypatch.setenv("NOWBOT_DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "NOWBOT_X_READ_BUDGET" in str(caught.value)
    assert "NOWBOT_DATABASE_URL" in str(caught.value)


def test_missing_toml_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOWBOT_CONFIG", "/nowhere/nowbot.toml")
    with pytest.raises(ConfigError, match="NOWBOT_CONFIG"):
        load_settings()


def test_secrets_are_masked_in_logs(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setenv("NOWBOT_X_BEARER_TOKEN", "sekrit-token-123")
    settings = load_settings()
    assert "sekrit" not in repr(settings)
    factory = logging.getLogRecordFactory()
    try:
        install_masking(settings)
        with caplog.at_level(logging.INFO):
            logging.getLogger("nowbot.test").info(
                "calling with %s", settings.x_bearer_token.get_secret_value()
            )
    finally:
        logging.setLogRecordFactory(factory)
    assert "sekrit-token-123" not in caplog.text
    assert "***" in caplog.text


def test_unreachable_database_is_one_line_without_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.setenv("NOWBOT_DATABASE_URL", "postgresql+psycopg://bot:hunter2@127.0.0.1:9/x")
    result = CliRunner().invoke(app, ["db", "current"])
    assert result.exit_code == 1
    output = result.output.strip()
    assert output.startswith("error: cannot open the database postgresql+psycopg://bot:***@127.0.0.1:9/x")
    assert "hunter2" not in output and "Traceback" not in output
