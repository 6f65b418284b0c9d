from __future__ import annotations

import io
import logging

from bot.logs import RedactingFormatter

# Secret-shaped values are assembled at run time: none is written in the repository.
TOKEN = "123456789:" + "AA" + "HdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
STRIPE_KEY = "sk_" + "live_" + "abcdefgh12345678"


def test_known_secrets_and_secret_shapes_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(message)s", ["my-webhook-secret-value"]))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("GET https://api.telegram.org/bot%s/getMe", TOKEN)
        logger.warning("secret is my-webhook-secret-value; key %s", STRIPE_KEY)
        try:
            raise ValueError(f"bad url https://api.telegram.org/bot{TOKEN}/send")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert TOKEN not in text
    assert "my-webhook-secret-value" not in text
    assert STRIPE_KEY not in text
    assert text.count("[redacted]") == 4
