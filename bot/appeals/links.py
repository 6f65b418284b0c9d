"""Deep-link payloads: what `/start <payload>` asks for, and the links the organisation shares.

Telegram carries a payload of 1-64 characters of `A-Za-z0-9_-` from a link such as
`https://t.me/<bot>?start=donate-russia` into the private chat it opens, as
`/start donate-russia`. Three payloads are understood: `donate-<campaign>`,
`subscribe-<topic>` and `progress-<campaign>`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

ACTIONS = ("donate", "subscribe", "progress")
PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class DeepLink:
    """A payload read: the action and what it is about (a campaign id or a topic)."""

    action: str
    subject: str


def read_payload(payload: str) -> DeepLink | None:
    """`donate-russia` → DeepLink("donate", "russia"); None for anything else."""
    action, sep, subject = payload.partition("-")
    if not sep or not subject or action not in ACTIONS or not PAYLOAD.fullmatch(payload):
        return None
    return DeepLink(action, subject.lower())


def payload(action: str, subject: str) -> str | None:
    """The payload for an action on `subject`, or None when a link cannot carry it."""
    text = f"{action}-{subject}"
    return text if PAYLOAD.fullmatch(text) else None


@dataclass(frozen=True, slots=True)
class ShareableLink:
    """One line of `outreach-bot links`: what the link does, and the link (None: impossible)."""

    what: str
    url: str | None


def shareable_links(
    campaigns: Iterable[str], topics: Iterable[str], link_for: Callable[[str], str]
) -> list[ShareableLink]:
    """Each campaign's donate and progress links, then each topic's subscribe link."""
    wanted = [("donate", c) for c in campaigns]
    wanted += [("progress", c) for c in campaigns]
    wanted += [("subscribe", t) for t in topics]
    out = []
    for action, subject in wanted:
        text = payload(action, subject)
        out.append(ShareableLink(f"{action} {subject}", link_for(text) if text else None))
    return out
