"""The web side: campaign pages, an embeddable widget, live totals, and the webhook route.

Read-only views of the ledger (plus the donate form, which makes a payment page
with the same provider code as /donate), served by one aiohttp server with the
Stripe webhook. See docs/web.md.
"""

from bot.web.server import WebServer, build_web

__all__ = ["WebServer", "build_web"]
