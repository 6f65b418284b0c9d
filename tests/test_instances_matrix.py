"""Two instances on one PostgreSQL database and a real Synapse: each is a Matrix device of
its own (logged in with the password, its own key store, its keys published at start),
and a command in an encrypted direct chat is answered once, before and after the matrix
role moves from one instance to the other."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.adapters.matrix import MatrixAdapter
from bot.app import App, build_app
from bot.config import Config, ConfigError, parse_config
from bot.platforms import matrix_store_path
from bot.storage.postgres import PostgresDatabase
from bot.storage.roles import RoleLocks
from tests.adapters.test_matrix_e2e import encrypted_dm, person
from tests.adapters.test_matrix_synapse import replies_to
from tests.synapse import MatrixUser, Synapse

PASSWORD_ENV = "OUTREACH_TEST_MATRIX_PASSWORD"


def instance_config(
    tmp_path: Path, synapse: Synapse, bot: MatrixUser, url: str, name: str
) -> Config:
    data = {
        "matrix": {
            "enabled": True, "homeserver": synapse.url, "user_id": bot.user_id,
            "password_env": PASSWORD_ENV,
        },
        "storage": {"url": url, "lease": 1.0, "path": str(tmp_path / "bot.sqlite3")},
        "instance": {"name": name},
    }  # fmt: skip
    return parse_config(data, base_dir=tmp_path, environ={PASSWORD_ENV: bot.password})


@contextlib.asynccontextmanager
async def running(config: Config, password: str) -> AsyncIterator[App]:
    assert config.storage.url is not None
    db = await PostgresDatabase.open(config.storage.url, instance=config.instance_name())
    app = build_app(config, db, environ={PASSWORD_ENV: password})
    task = asyncio.ensure_future(app.run())
    try:
        yield app
    finally:
        app.request_stop()
        await asyncio.wait_for(task, 30)
        await app.close()
        await db.close()


async def until(check: object, limit: float, what: str) -> None:
    assert callable(check)
    start = asyncio.get_running_loop().time()
    while not check():
        assert asyncio.get_running_loop().time() - start < limit, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def holds(app: App, role: str) -> bool:
    return app.coordination is not None and role in app.coordination.held()


def matrix_of(app: App) -> MatrixAdapter:
    adapter = app.adapters["matrix"]
    assert isinstance(adapter, MatrixAdapter)
    return adapter


def device_of(app: App) -> str:
    client = matrix_of(app)._client  # which device the instance logged in as
    assert client is not None
    return str(client.device_id)


def published_devices(synapse: Synapse, asker: MatrixUser, user_id: str) -> set[str]:
    body = {"device_keys": {user_id: []}}
    answer = synapse.request(
        "POST", "/_matrix/client/v3/keys/query", body, token=asker.access_token
    )
    return set(answer["device_keys"].get(user_id, {}))


async def test_each_instance_is_a_device_of_its_own_and_a_command_is_answered_once(
    synapse: Synapse, tmp_path: Path, pg_url: str
) -> None:
    bot, ann = synapse.new_user("bot"), synapse.new_user("ann")
    a_cfg, b_cfg = (instance_config(tmp_path, synapse, bot, pg_url, n) for n in ("a", "b"))
    async with (
        person(synapse, ann, tmp_path) as human,
        contextlib.AsyncExitStack() as a_stack,
        contextlib.AsyncExitStack() as b_stack,
    ):
        a = await a_stack.enter_async_context(running(a_cfg, bot.password))
        await until(lambda: holds(a, "matrix"), 20, "a to take the matrix role")
        b = await b_stack.enter_async_context(running(b_cfg, bot.password))
        await until(matrix_of(b).synced.is_set, 20, "b to sync")
        devices = {device_of(a), device_of(b)}
        assert len(devices) == 2  # two devices, neither the registration's
        assert bot.device_id not in devices
        assert devices <= published_devices(synapse, ann, bot.user_id)
        assert (tmp_path / "matrix-store" / "a").is_dir()
        assert (tmp_path / "matrix-store" / "b").is_dir()

        room_id = await encrypted_dm(human, bot)
        await human.wait_until(lambda: room_id in human.client.rooms)
        await human.wait_until(lambda: bot.user_id in human.client.rooms[room_id].users)
        first = await human.send_text(room_id, "!help")
        await human.wait_until(lambda: bool(replies_to(human, room_id, bot, first)), 30)

        await a_stack.aclose()  # a stops: b takes the matrix role
        await until(lambda: holds(b, "matrix"), 20, "b to take the matrix role")
        second = await human.send_text(room_id, "!help")
        await human.wait_until(lambda: bool(replies_to(human, room_id, bot, second)), 30)
        await asyncio.sleep(1.0)
        await human.sync()
    assert len(replies_to(human, room_id, bot, first)) == 1
    assert len(replies_to(human, room_id, bot, second)) == 1


def test_matrix_on_postgresql_needs_a_password_and_a_stable_instance_name(tmp_path: Path) -> None:
    data = {
        "matrix": {"enabled": True, "user_id": "@bot:example.org"},
        "storage": {"url": "postgresql://bot@db.example.org/outreach"},
    }
    with pytest.raises(ConfigError) as refused:
        parse_config(data, base_dir=tmp_path, environ={"MATRIX_ACCESS_TOKEN": "syt_x"})
    text = str(refused.value)
    assert "matrix.password_env: required with [storage] url" in text
    assert "one access token cannot serve two devices" in text
    assert "instance.name: required with [storage] url and Matrix" in text
    # One machine on SQLite: an access token alone is fine, as before.
    sqlite = {"matrix": data["matrix"], "storage": {"path": "b.db"}}
    parse_config(sqlite, base_dir=tmp_path, environ={"MATRIX_ACCESS_TOKEN": "syt_x"})


def test_each_instance_keeps_its_matrix_store_in_a_folder_named_after_it(tmp_path: Path) -> None:
    def store(storage: dict[str, str], matrix: dict[str, str], name: str = "n1") -> Path:
        data = {
            "matrix": {"user_id": "@bot:example.org", **matrix},
            "storage": {"path": "d/b.db", **storage},
            "instance": {"name": name},
        }
        return matrix_store_path(parse_config(data, base_dir=tmp_path, environ={}))

    pg = {"url": "postgresql://bot@db/outreach"}
    assert store({}, {}) == tmp_path / "d" / "matrix-store"  # SQLite: as before
    assert store(pg, {}) == tmp_path / "d" / "matrix-store" / "n1"
    assert store(pg, {"store_path": "/srv/keys"}) == Path("/srv/keys/n1")
    assert store(pg, {}, name="host:12/x") == tmp_path / "d" / "matrix-store" / "host_12_x"


async def test_a_command_sent_while_the_holder_was_dying_is_answered_by_the_next_one(
    synapse: Synapse, tmp_path: Path, pg_url: str
) -> None:
    bot, ann = synapse.new_user("bot"), synapse.new_user("ann")
    b_cfg = instance_config(tmp_path, synapse, bot, pg_url, "b")
    watch = await PostgresDatabase.open(pg_url)
    dying = RoleLocks(watch, "a")  # the matrix role's holder, which will die answering nothing
    await dying.connect()
    try:
        assert await dying.try_take("matrix")
        async with person(synapse, ann, tmp_path) as human, running(b_cfg, bot.password) as b:
            await until(matrix_of(b).synced.is_set, 20, "b to sync")
            room_id = await encrypted_dm(human, bot)
            await human.wait_until(lambda: room_id in human.client.rooms)
            await human.wait_until(lambda: bot.user_id in human.client.rooms[room_id].users)
            asked = await human.send_text(room_id, "!help")
            await asyncio.sleep(2.0)  # b synced it, and holds it back: it does not hold the role
            await human.sync()
            assert replies_to(human, room_id, bot, asked) == []
            await dying.close()  # the holder dies: its lock goes with its connection
            await until(lambda: holds(b, "matrix"), 20, "b to take the matrix role")
            await human.wait_until(lambda: bool(replies_to(human, room_id, bot, asked)), 30)
            await asyncio.sleep(1.0)
            await human.sync()
            assert len(replies_to(human, room_id, bot, asked)) == 1
    finally:
        await dying.close()
        await watch.close()
