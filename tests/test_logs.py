from __future__ import annotations

import io
import logging

from bot.logs import RedactingFormatter

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def test_known_secrets_and_secret_shapes_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(message)s", ["my-webhook-secret-value"]))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("GET https://api.telegram.org/bot%s/getMe", TOKEN)
        logger.warning("secret is my-webhook-secret-value; key sk_live_abcdefgh12345678")
        try:
            raise ValueError(f"bad url https://api.telegram.org/bot{TOKEN}/send")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert TOKEN not in text
    assert "my-webhook-secret-value" not in text
    assert "sk_live_abcdefgh12345678" not in text
    assert text.count("[redacted]") == 4
