"""/progress and /donate replies link to the campaign page when `[web] public_url` is set."""

from __future__ import annotations

from pathlib import Path

from bot.chat.plain import render_plain
from bot.storage import Database
from tests.donations.conftest import RUSSIA, donation_config, make_harness
from tests.donations.test_donate import Chat

PAGE = "https://give.example.org/campaigns/russia"


async def replies(tmp_path: Path, db: Database, **web: object) -> list[str]:
    settings = {"listen": "127.0.0.1:0", **web}
    h = make_harness(donation_config(tmp_path, [RUSSIA], web=settings), db)
    try:
        chat = Chat(h.router)
        return [render_plain(await chat.send(t)) for t in ("/progress", "/donate", "/donate 25")]
    finally:
        await h.donations.aclose()


async def test_replies_link_the_campaign_page(tmp_path: Path, db: Database) -> None:
    texts = await replies(tmp_path, db, public_url="https://give.example.org/")
    for text in texts:
        assert f"Campaign page: {PAGE}" in text, text


async def test_no_public_url_no_link(tmp_path: Path, db: Database) -> None:
    for text in await replies(tmp_path, db):
        assert "Campaign page" not in text
