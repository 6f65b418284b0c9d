"""What a person sees, in a real headless Chromium (Debian's `chromium`) driven by Playwright.

Skips when /usr/bin/chromium or Playwright is missing, unless OUTREACH_REQUIRE_BROWSER=1
(as in CI), which makes that a failure. Screenshots go to the test's tmp folder.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.storage import Database
from bot.web import WebServer
from tests.fakes.stripe_api import FakeStripe, body, checkout_completed, sign
from tests.web.conftest import WEBHOOK_SECRET, build, web_config

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BAR = "[role=progressbar]"


def _require_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("playwright (pip install playwright; never `playwright install`)")
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get("OUTREACH_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@asynccontextmanager
async def serving(server: WebServer) -> AsyncIterator[str]:
    """The bot's web server on a real port of 127.0.0.1 (with its live hub); its base URL."""
    stop = asyncio.Event()
    task = asyncio.create_task(server.run(stop))
    try:
        await asyncio.wait_for(server.listening.wait(), 10)
        yield server.url
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


@asynccontextmanager
async def embedding_page(widget_url: str) -> AsyncIterator[str]:
    """Another site (another port) that shows the widget in an iframe."""
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        "<title>An article</title></head><body><h1>An article</h1><p>Text.</p>"
        f"<iframe src='{widget_url}' title='Campaign progress' width='100%' height='190' "
        "style='border:0;max-width:480px'></iframe></body></html>"
    )

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


async def pay(base: str, session_id: str, amount: int) -> None:
    payload = body(checkout_completed(session_id, amount))
    headers = {"Stripe-Signature": sign(payload, WEBHOOK_SECRET)}
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.post(f"{base}/stripe/webhook", data=payload, headers=headers) as response,
    ):
        assert response.status == 200


async def listeners(server: WebServer, count: int) -> None:
    """Wait until `count` pages have their event streams open."""
    assert server.site is not None
    for _ in range(100):
        if server.site.hub.listening >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{server.site.hub.listening} event streams open, wanted {count}")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    _require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def test_a_donation_moves_the_bar_on_an_open_page_and_in_an_embedded_widget(
    browser: Any, tmp_path: Path, db: Database, fake_stripe: FakeStripe
) -> None:
    app = build(web_config(tmp_path, stripe_base=fake_stripe.base_url, heartbeat=15), db)
    assert app.web is not None
    async with serving(app.web) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{base}/campaigns/russia")
        assert await page.get_attribute(BAR, "aria-valuenow") == "0"
        assert await page.text_content("[data-summary]") == "$0 of $20,000"
        await page.evaluate("window.notReloaded = true")
        await listeners(app.web, 1)
        await pay(base, "cs_1", 1_000_000)  # $10,000: half the goal
        await page.wait_for_function(
            "document.querySelector('[role=progressbar]').getAttribute('aria-valuenow') === '50'",
            timeout=3000,
        )
        assert await page.text_content("[data-summary]") == "$10,000 of $20,000"
        assert await page.get_attribute("[data-fill]", "width") == "50"
        assert await page.evaluate("window.notReloaded") is True
        await page.screenshot(path=str(tmp_path / "campaign-1280.png"), full_page=True)
        await page.set_viewport_size({"width": 360, "height": 800})
        await page.screenshot(path=str(tmp_path / "campaign-360.png"), full_page=True)
        await page.set_viewport_size({"width": 320, "height": 800})
        assert await page.evaluate("document.documentElement.scrollWidth") <= 320

        async with embedding_page(f"{base}/campaigns/russia/widget") as article:
            other = await browser.new_page(viewport={"width": 1280, "height": 400})
            await other.goto(article)
            widget = other.frame_locator("iframe")
            assert await widget.locator(BAR).get_attribute("aria-valuenow") == "50"
            await listeners(app.web, 2)
            await pay(base, "cs_2", 500_000)
            bar = widget.locator(f"{BAR}[aria-valuenow='75']")
            await bar.wait_for(timeout=3000)
            assert await widget.locator("[data-summary]").text_content() == "$15,000 of $20,000"
            await other.screenshot(path=str(tmp_path / "widget-1280.png"))
            await other.set_viewport_size({"width": 360, "height": 400})
            await other.screenshot(path=str(tmp_path / "widget-360.png"))
        # The first page followed that donation too.
        assert await page.get_attribute(BAR, "aria-valuenow") == "75"


async def test_the_donate_form_leads_to_the_checkout_page(
    browser: Any, tmp_path: Path, db: Database, fake_stripe: FakeStripe
) -> None:
    app = build(web_config(tmp_path, stripe_base=fake_stripe.base_url), db)
    assert app.web is not None
    async with serving(app.web) as base:
        page = await browser.new_page(viewport={"width": 360, "height": 800})
        # The stand-in's checkout host does not exist: answer for it inside the browser.
        await page.route(
            "https://checkout.stripe.test/**",
            lambda route: route.fulfill(status=200, content_type="text/html", body="checkout"),
        )
        await page.goto(f"{base}/campaigns/russia")
        await page.get_by_text("$25", exact=True).click()
        await page.get_by_role("button", name="Donate").click()
        await page.wait_for_url("https://checkout.stripe.test/**", timeout=5000)
        (session,) = fake_stripe.sessions.values()
        assert page.url == session["url"]
        (call,) = fake_stripe.posts("/v1/checkout/sessions")
        assert call.params["metadata"]["campaign"] == "russia"
        assert call.params["line_items"][0]["price_data"]["unit_amount"] == "2500"

        # A bad typed amount: the page again, the error announced beside the field.
        await page.goto(f"{base}/campaigns/russia")
        await page.get_by_label("Any amount (USD)").fill("12.345")
        await page.get_by_role("button", name="Donate").click()
        await page.wait_for_selector("#amount-error")
        assert "at most 2 decimals" in (await page.text_content("[role=alert]") or "")
        assert await page.get_attribute("#custom", "aria-invalid") == "true"
        await page.screenshot(path=str(tmp_path / "error-360.png"), full_page=True)
