"""Sharded Discord across processes: each `nowbot discord run --shards ...` process answers the
guilds of its own shards, and logins of one bucket take turns across processes, on SQLite and
PostgreSQL, against one fake Discord with the real discord.py client."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.config import ConfigError, Settings, load_settings, parse_shards
from bot.platforms.discord.identify import IdentifyGate
from fake_discord import FakeDiscord, Member

SPACING_S = 2.0  # between two logins of one bucket (Discord's 5 s, shortened for the test)


def test_shards_parse_ranges_and_lists() -> None:
    assert parse_shards("0-3") == (0, 1, 2, 3)
    assert parse_shards("0,2,5") == (0, 2, 5)
    assert parse_shards(" 4, 0-1 ,1") == (0, 1, 4)
    assert parse_shards("") is None
    for bad in ("a", "3-1", "1-", "-2", "1;2"):
        with pytest.raises(ValueError, match="shards must be ids like 0-3 or 0,2,5"):
            parse_shards(bad)


def test_shards_outside_the_count_are_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOWBOT_DISCORD_SHARDS", "0-3")
    monkeypatch.setenv("NOWBOT_DISCORD_SHARD_COUNT", "8")
    assert load_settings().discord_shards == (0, 1, 2, 3)
    monkeypatch.setenv("NOWBOT_DISCORD_SHARDS", "6-8")
    with pytest.raises(ConfigError, match="^invalid configuration: shard 8 does not exist: "
                                          "the ids of 8 shards are 0-7$"):
        load_settings()
    monkeypatch.delenv("NOWBOT_DISCORD_SHARD_COUNT")
    with pytest.raises(ConfigError, match="shards need the shard count"):
        load_settings()


def test_cli_refuses_a_shard_outside_the_count(tmp_path: Path) -> None:
    env = {**os.environ, "NOWBOT_DATA_DIR": str(tmp_path / "var"), "NOWBOT_DISCORD_TOKEN": "t"}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "discord", "run", "--shards", "0,9",
                           "--shard-count", "8"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == ("error: --shards: shard 9 does not exist: the ids of 8 shards "
                                   "are 0-7")


def test_logins_of_one_bucket_take_turns_and_other_buckets_do_not_wait(app: App) -> None:
    async def main() -> list[float]:
        first, second = IdentifyGate(app.engine, 0.5), IdentifyGate(app.engine, 0.5)
        started = time.monotonic()
        await first.wait_turn(0)
        await second.wait_turn(1)  # another bucket: at once
        other_bucket = time.monotonic() - started
        await second.wait_turn(0)  # the same bucket, another "process": after the spacing
        same_bucket = time.monotonic() - started
        await first.close()
        await second.close()
        return [other_bucket, same_bucket]

    other_bucket, same_bucket = asyncio.run(main())
    assert other_bucket < 0.5 <= same_bucket < 2.0


def shard_process(fake: FakeDiscord, settings: Settings, shards: str) -> subprocess.Popen[bytes]:
    """`nowbot discord run --shards SHARDS --shard-count N` in a process of its own."""
    env = {**os.environ, "NOWBOT_DATA_DIR": str(settings.data_dir),
           "NOWBOT_DATABASE_URL": settings.resolved_database_url,
           "NOWBOT_DISCORD_TOKEN": fake.token,
           "NOWBOT_DISCORD_IDENTIFY_SPACING_S": str(SPACING_S)}
    script = Path(__file__).with_name("fake_discord.py")
    return subprocess.Popen(
        [sys.executable, str(script), f"http://127.0.0.1:{fake.port}", "discord", "run",
         "--shards", shards, "--shard-count", str(fake.shard_count)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_two_shard_processes_each_answer_their_own_guilds(settings: Settings) -> None:
    open_app(settings).engine.dispose()  # migrated before the shards start

    async def main() -> FakeDiscord:
        fake = FakeDiscord(shard_count=2, max_concurrency=1)  # shards 0 and 1: one bucket
        await fake.start()
        processes = {shard: shard_process(fake, settings, str(shard)) for shard in (0, 1)}
        try:
            await fake.wait_connected(timeout=25)
            for guild in fake.guild_ids:
                sent = await fake.send_interaction(fake.command("status", Member(), in_guild=guild))
                answer = await fake.wait_for(lambda c: c.method == "POST"
                                             and c.path.endswith(f"/webhooks/{fake.application_id}"
                                                                 f"/{sent.token}"))
                assert "serving" in answer.json["content"].lower()
            processes[1].terminate()  # shard 1's process stops: shard 0's answers on
            processes[1].wait(10)
            for _ in range(100):  # the fake notices the connection closed
                if fake.connected_shards() == {0}:
                    break
                await asyncio.sleep(0.05)
            assert fake.connected_shards() == {0}
            sent = await fake.send_interaction(fake.command("status", Member()))
            await fake.wait_for(lambda c: c.path.endswith(f"/{sent.token}/callback"))
        finally:
            for process in processes.values():
                process.terminate()
                _, errors = process.communicate(timeout=10)
                assert b"Traceback" not in errors, errors.decode()
            await fake.close()
        return fake

    fake = asyncio.run(main())
    assert sorted(identify["shard"] for identify in fake.identifies) == [[0, 2], [1, 2]]
    [first], [second] = fake.identified_at[0], fake.identified_at[1]
    assert abs(second - first) >= SPACING_S  # one bucket: one login at a time, across processes
    assert not [call for call in fake.calls if call.method == "PUT"]  # no shard synced commands
