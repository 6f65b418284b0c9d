"""The campaign pages, figures and image over aiohttp's test client."""

from __future__ import annotations

import re
from pathlib import Path

from bot.donations.report import progress_json
from bot.storage import Database
from tests.donations.conftest import RUSSIA
from tests.web.conftest import Site, build, running, web_config


async def test_the_campaign_page_shows_the_earmark_bar_and_form(site: Site) -> None:
    assert await site.pay("cs_1", 1_240_000) == 200
    response = await site.client.get("/campaigns/russia")
    assert response.status == 200
    assert response.content_type == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = await response.text()
    assert "<h1>Russian anti-war protesters</h1>" in page
    assert "Your gift is earmarked “for Russian anti-war protesters”." in page
    assert 'role="progressbar"' in page
    assert 'aria-valuenow="62"' in page
    assert 'aria-valuemax="100"' in page
    assert "$12,400 of $20,000" in page
    assert "1 donation" in page
    # The highlighted amount ($50) first and chosen; then the others in order.
    values = re.findall(r'name="amount" value="(\d+)"', page)
    assert values == ["50", "10", "25", "100"]
    assert 'value="50" checked' in page
    assert '<label for="custom"' in page
    assert 'method="post" action="/campaigns/russia/donate' in page
    # No third-party resource: every src and href is the bot's own.
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith(("/", "?")), url


async def test_a_title_with_markup_is_escaped_everywhere(tmp_path: Path, db: Database) -> None:
    hostile = {**RUSSIA, "title": "<script>alert(1)</script> & co", "earmark": 'for "<b>"'}
    async with running(build(web_config(tmp_path, [hostile]), db)) as site:
        for path in ("/campaigns/russia", "/campaigns", "/campaigns/russia/widget"):
            page = await (await site.client.get(path)).text()
            assert "<script>alert" not in page, path
            assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page, path
        image = await (await site.client.get("/campaigns/russia.svg")).text()
        assert "<script>" not in image
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in image


async def test_unknown_campaigns_are_404(site: Site) -> None:
    for path in (
        "/campaigns/nope",
        "/campaigns/nope.json",
        "/campaigns/nope.svg",
        "/campaigns/nope/widget",
        "/campaigns/nope/events",
        "/campaigns/NOPE!",
    ):
        response = await site.client.get(path)
        assert response.status == 404, path
        assert "Content-Security-Policy" in response.headers
    response = await site.client.get("/campaigns/nope")
    assert "There is no campaign at this address." in await response.text()
    response = await site.client.post("/campaigns/nope/donate", data={"amount": "50"})
    assert response.status == 404


async def test_an_inactive_campaign_has_no_form(tmp_path: Path, db: Database) -> None:
    ended = {**RUSSIA, "active": False}
    async with running(build(web_config(tmp_path, [ended]), db)) as site:
        response = await site.client.get("/campaigns/russia")
        assert response.status == 200
        page = await response.text()
        assert "<form" not in page
        assert "not taking donations any more" in page
        refused = await site.client.post(
            "/campaigns/russia/donate", data={"amount": "50"}, allow_redirects=False
        )
        assert refused.status == 409
        listing = await (await site.client.get("/campaigns")).text()
        assert "Russian anti-war protesters" not in listing


async def test_the_json_is_what_progress_json_says(site: Site) -> None:
    await site.pay("cs_1", 5000)
    await site.pay("cs_2", 2500)
    response = await site.client.get("/campaigns/russia.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    (expected,) = (await progress_json(site.donations.ledger))["campaigns"]
    assert await response.json() == expected
    assert expected["raised"] == 7500
    shown = await (await site.client.get("/campaigns/russia.json?display=1&lang=ru")).json()
    assert shown["display"]["raised"] == "75\xa0$"  # Babel's CLDR format for Russian
    assert shown["display"]["goal"] == "20\xa0000\xa0$"
    assert shown["display"]["percent"] == 0


async def test_the_svg_is_cached_for_a_minute_with_an_etag(site: Site) -> None:
    response = await site.client.get("/campaigns/russia.svg")
    assert response.status == 200
    assert response.content_type == "image/svg+xml"
    assert "max-age=60" in response.headers["Cache-Control"]
    etag = response.headers["ETag"]
    image = await response.text()
    assert image.startswith("<svg xmlns=")
    assert "$0 of $20,000 (0%)" in image
    assert "href" not in image  # self-contained
    again = await site.client.get("/campaigns/russia.svg", headers={"If-None-Match": etag})
    assert again.status == 304
    await site.pay("cs_1", 10_000)
    changed = await site.client.get("/campaigns/russia.svg", headers={"If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["ETag"] != etag
    assert "$100 of $20,000 (1%)" in await changed.text()


async def test_the_widget_may_be_framed_by_the_configured_origins(
    tmp_path: Path, db: Database
) -> None:
    config = web_config(tmp_path, embed_origins=["https://example.org", "http://localhost:8000"])
    async with running(build(config, db)) as site:
        response = await site.client.get("/campaigns/russia/widget")
        assert response.status == 200
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors https://example.org http://localhost:8000" in csp
        assert "X-Frame-Options" not in response.headers
        page = await response.text()
        assert 'role="progressbar"' in page
        assert 'href="/campaigns/russia?lang=en" target="_blank"' in page


async def test_the_widget_may_be_framed_anywhere_by_default(site: Site) -> None:
    response = await site.client.get("/campaigns/russia/widget")
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    page = await site.client.get("/campaigns/russia")
    assert page.headers["X-Frame-Options"] == "DENY"


async def test_the_language_comes_from_the_query_then_accept_language(site: Site) -> None:
    page = await (await site.client.get("/campaigns/russia?lang=ru")).text()
    assert '<html lang="ru">' in page
    assert "20\xa0000\xa0$" in page
    page = await (
        await site.client.get("/campaigns/russia", headers={"Accept-Language": "de, es;q=0.8"})
    ).text()
    assert '<html lang="es">' in page
    assert "20.000\xa0US$" in page
    page = await (
        await site.client.get("/campaigns/russia?lang=xx", headers={"Accept-Language": "fr"})
    ).text()
    assert '<html lang="en">' in page


async def test_the_list_shows_each_active_campaign_with_its_bar(site: Site) -> None:
    response = await site.client.get("/campaigns")
    assert response.status == 200
    page = await response.text()
    assert '<a href="/campaigns/russia?lang=en">Russian anti-war protesters</a>' in page
    assert page.count('role="progressbar"') == 1


async def test_the_stylesheet_and_script_are_served_by_the_bot(site: Site) -> None:
    css = await site.client.get("/static/site.css")
    assert css.status == 200
    assert css.content_type == "text/css"
    js = await site.client.get("/static/live.js")
    assert js.content_type == "text/javascript"
    for text in (await css.text(), await js.text()):
        assert "http://" not in text
        assert "https://" not in text
        assert "@import" not in text
    again = await site.client.get(
        "/static/site.css", headers={"If-None-Match": css.headers["ETag"]}
    )
    assert again.status == 304


async def test_pages_can_be_turned_off_leaving_the_webhook(tmp_path: Path, db: Database) -> None:
    async with running(build(web_config(tmp_path, pages=False), db)) as site:
        assert (await site.client.get("/campaigns/russia")).status == 404
        assert await site.pay("cs_1", 5000) == 200
        (progress,) = await site.donations.ledger.progress(["russia"])
        assert progress.raised == 5000
