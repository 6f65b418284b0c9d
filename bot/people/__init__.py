"""Which language each reader reads: a person, a subscriber's chat, a channel, an admin.

A person's own `/language` choice wins, then what their chat app tells (Telegram's
`language_code`), then `[bot] language`. A channel reads its configured language.
Posts for many chats are rendered once per language (`by_language`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bot.chat import ChatKind, ChatRef, Post, Sender
from bot.i18n import DEFAULT_LANGUAGE, Lang, lang_for, negotiate, supported_languages
from bot.storage import Database
from bot.storage import outbox as q
from bot.storage import people as pq
from bot.storage.db import Executor

# Text that is written once per reader's language: a post for many chats, a notice.
Localized = Callable[[Lang], Post]

_CHANNEL = "channel:"


def person_ids(sender: Sender, chat: ChatRef) -> list[str]:
    """A person's ids: their user id and, in a private chat, that chat (a Matrix DM room)."""
    ids = {sender.id}
    if chat.kind is ChatKind.PRIVATE:
        ids.add(chat.id)
    return sorted(ids)


@dataclass(frozen=True)
class People:
    """Languages of readers: stored choices, app languages, channels' configured ones."""

    db: Database
    default: str = DEFAULT_LANGUAGE
    # Channel name (as the config names it) -> the language of everything posted there.
    channels: Mapping[str, str] = field(default_factory=dict)

    @property
    def default_lang(self) -> Lang:
        return Lang.of(self.default)

    def channel_lang(self, name: str) -> Lang:
        return Lang.of(self.channels.get(name) or self.default)

    async def chosen(self, platform: str, user_id: str) -> str | None:
        """The language this person chose with /language (None: they chose none)."""
        code = await pq.get_language(self.db, platform, user_id)
        return code if code in supported_languages() else None

    async def lang_of(self, sender: Sender) -> Lang:
        """The language to answer `sender` in."""
        code = await self.chosen(sender.platform, sender.id)
        if code is not None:
            return Lang.of(code)
        return lang_for(sender.language_code, self.default)

    async def choose(self, sender: Sender, chat: ChatRef, code: str | None) -> None:
        """Keep (or with None, forget) a person's choice, under each of their ids."""
        for person in person_ids(sender, chat):
            await pq.set_language(self.db, sender.platform, person, code)

    async def remember_app_language(self, sender: Sender, chat: ChatRef) -> None:
        """A subscriber who chose nothing reads their app's language (seen at /subscribe)."""
        if sender.language_code is None or await self.chosen(sender.platform, sender.id):
            return
        await self.choose(sender, chat, negotiate(sender.language_code, self.default))

    async def lang_of_target(self, target: q.Target) -> Lang:
        return (await self.by_language([target]))[0][0]

    async def languages(
        self, targets: Iterable[q.Target], via: Executor | None = None
    ) -> Languages:
        """The language each target reads (read once, then grouped many times); `via` reads
        inside the caller's transaction."""
        by_platform: dict[str, list[str]] = {}
        for target in targets:
            if not target.target.startswith(_CHANNEL):
                by_platform.setdefault(target.platform, []).append(target.chat_id)
        chosen: dict[tuple[str, str], str] = {}
        for platform, chat_ids in by_platform.items():
            found = await pq.languages(via or self.db, platform, sorted(set(chat_ids)))
            chosen.update({(platform, chat): code for chat, code in found.items()})
        return Languages(self, chosen)

    async def by_language(
        self, targets: list[q.Target], via: Executor | None = None
    ) -> list[tuple[Lang, list[q.Target]]]:
        """The targets grouped by the language they read, in a stable order."""
        return (await self.languages(targets, via)).group(targets)


@dataclass(frozen=True)
class Languages:
    """What a set of targets read: stored choices, channels' languages, else the default."""

    people: People
    chosen: Mapping[tuple[str, str], str]

    def code_of(self, target: q.Target) -> str:
        if target.target.startswith(_CHANNEL):
            return self.people.channels.get(target.target.removeprefix(_CHANNEL)) or (
                self.people.default
            )
        code = self.chosen.get((target.platform, target.chat_id))
        return code if code in supported_languages() else self.people.default

    def group(self, targets: Iterable[q.Target]) -> list[tuple[Lang, list[q.Target]]]:
        groups: dict[str, list[q.Target]] = {}
        # code_of, inlined: a fan-out groups 100,000 targets.
        supported = frozenset(supported_languages())
        default, chosen = self.people.default, self.chosen
        for target in targets:
            if target.target.startswith(_CHANNEL):
                code = self.code_of(target)
            else:
                code = chosen.get((target.platform, target.chat_id), default)
                if code not in supported:
                    code = default
            group = groups.get(code)
            if group is None:
                group = groups[code] = []
            group.append(target)
        return [(Lang.of(code), groups[code]) for code in sorted(groups)]
