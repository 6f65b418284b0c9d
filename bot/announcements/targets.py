"""The options of /announce and `outreach-bot announce`, and who they select."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.i18n import DEFAULT_LANGUAGE, N_, Lang, Said
from bot.outbox.audience import Audience, topics_match
from bot.storage import feeds as fq
from bot.storage import outbox as q

PLATFORMS = ("telegram", "matrix", "console")


class OptionError(Said, ValueError):
    """The admin's options are wrong; the message says how (`exc.text(lang)` in the admin's
    language, `str(exc)` in English for the terminal)."""


@dataclass(frozen=True, slots=True)
class AnnounceOptions:
    """What an admin asked for, checked: whom (selectors), when (None: on confirmation),
    pinned or not, and the text (light markup). `/announce` and `outreach-bot announce`
    both make theirs with `AnnounceOptions.of`."""

    selectors: tuple[str, ...]
    send_at: datetime | None
    pin: bool
    text: str

    @classmethod
    def of(
        cls,
        text: str,
        *,
        to: Iterable[str] = (),
        at: str | None = None,
        pin: bool = False,
        now: datetime,
    ) -> AnnounceOptions:
        """Options from their values as typed: each `to` may list several targets with
        commas; `at` is an ISO time after `now` (UTC unless it says otherwise)."""
        selectors = tuple(s for value in to for s in value.split(",") if s)
        send_at = parse_when(at, now) if at else None
        if not text.strip():
            raise OptionError(N_("the announcement text is missing"))
        return cls(selectors, send_at, pin, text.strip())


def parse_when(value: str, now: datetime) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise OptionError(
            N_("--at {value}: not an ISO time like 2026-12-01T18:00"), value=value
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when <= now:
        raise OptionError(N_("--at {value}: that time has passed"), value=value)
    return when


def parse_options(arg_text: str, now: datetime) -> AnnounceOptions:
    """The chat form: leading `--to X`, `--at TIME` and `--pin` options, then the text."""
    rest = arg_text.strip()
    to: list[str] = []
    at = None
    pin = False
    while rest.startswith("--"):
        option, _, rest = rest.partition(" ")
        rest = rest.lstrip()
        if option == "--pin":
            pin = True
            continue
        if option not in ("--to", "--at"):
            raise OptionError(N_("unknown option {option}; use --to, --at or --pin"), option=option)
        value, _, rest = rest.partition(" ")
        rest = rest.lstrip()
        if not value:
            raise OptionError(N_("{option} needs a value"), option=option)
        if option == "--to":
            to.append(value)
        else:
            at = value
    return AnnounceOptions.of(rest, to=to, at=at, pin=pin, now=now)


def check_selectors(selectors: tuple[str, ...], channels: list[str], topics: list[str]) -> None:
    for selector in selectors:
        if selector in ("channels", "subscribers", *PLATFORMS, *channels):
            continue
        if selector.startswith("topic:") and selector.removeprefix("topic:") in topics:
            continue
        raise OptionError(
            N_(
                "--to {selector}: not a target. Use channels, subscribers, telegram, matrix, "
                "console, a channel name ({channels}) or topic:<topic> ({topics})"
            ),
            selector=selector,
            channels=", ".join(channels) or "-",
            topics=", ".join(topics) or "-",
        )


async def resolve(audience: Audience, selectors: tuple[str, ...]) -> list[q.Target]:
    """Everything by default; names, channels, subscribers and topics add up; platforms filter."""
    platforms = {s for s in selectors if s in PLATFORMS}
    picks = [s for s in selectors if s not in PLATFORMS] or ["channels", "subscribers"]
    channel_names: set[str] = set()
    topics: set[str] = set()
    all_subscribers = False
    for pick in picks:
        if pick == "channels":
            channel_names |= set(audience.channels)
        elif pick == "subscribers":
            all_subscribers = True
        elif pick.startswith("topic:"):
            topics.add(pick.removeprefix("topic:"))
        else:
            channel_names.add(pick)
    targets = await audience.channel_targets(sorted(channel_names))
    if all_subscribers or topics:
        for sub in await fq.active_subscribers(audience.db, audience.platforms):
            if all_subscribers or topics_match(sub.topics, topics):
                targets.append(q.Target(sub.platform, sub.chat_id, "private", "subscriber"))
    return [t for t in targets if not platforms or t.platform in platforms]


def describe(targets: list[q.Target], lang: Lang | None = None) -> str:
    """ "2 channels and 1,204 subscribers (telegram 1,100, matrix 106)", in `lang`
    (English when None: the audit log and the terminal)."""
    lang = lang or Lang.of(DEFAULT_LANGUAGE)
    kinds = Counter("channel" if t.target.startswith("channel:") else "subscriber" for t in targets)
    platforms = Counter(t.platform for t in targets)
    channels = lang.ngettext("{n} channel", "{n} channels", kinds["channel"])
    subscribers = lang.ngettext("{n} subscriber", "{n} subscribers", kinds["subscriber"])
    if kinds["channel"] and kinds["subscriber"]:
        whom = lang.gettext(
            "{channels} and {subscribers}", channels=channels, subscribers=subscribers
        )
    elif kinds["channel"] or kinds["subscriber"]:
        whom = channels if kinds["channel"] else subscribers
    else:
        return lang.gettext("nobody")
    by_platform = ", ".join(f"{p} {lang.number(n)}" for p, n in sorted(platforms.items()))
    return f"{whom} ({by_platform})"
