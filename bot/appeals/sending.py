"""An article's appeal, made concrete for the chat it is sent to, when it is sent.

Posts are written (in the outbox) before they are sent, once per language for
chats on every platform. What a reader can do with an appeal depends on where
the post lands and on facts known only at sending time, so the delivery side
resolves it: `AppealingAdapter` wraps a platform's adapter and hands it an
ordinary post.

- A platform with deep links (Telegram), channel or group: a URL button
  "Donate — <campaign>" to the link that opens a private chat at the amounts
  (`[bot] donate_button = "web"`: to the campaign page instead).
- The same platform, private chat: the amount buttons of `/donate <campaign>`.
- Elsewhere (Matrix, console): a "Donate — <campaign>" choice that links the
  campaign page when the pages are public, else says to send `/donate <campaign>`
  (Matrix shows it as `!donate`).
- `progress_on_posts`: a line "$12,340 of $20,000 raised", as of sending.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from bot.appeals.links import payload
from bot.chat import (
    Button,
    ChatAdapter,
    ChatKind,
    ChatRef,
    OffersDeepLinks,
    OnIncoming,
    Post,
    SentRef,
    bold,
    italic,
    para,
)
from bot.donations.campaigns import Campaign, Progress
from bot.donations.render import campaign_page_url, support_title
from bot.i18n import Lang

log = logging.getLogger(__name__)

Rows = tuple[tuple[Button, ...], ...]
ProgressOf = Callable[[str], Awaitable[Progress | None]]
AmountRows = Callable[[Campaign, Lang], Rows]


@dataclass(frozen=True, slots=True)
class AppealSettings:
    """What resolving needs from the config and the donations service.

    `public_url` is set only when the campaign pages are served there.
    """

    campaigns: Mapping[str, Campaign]
    amount_rows: AmountRows
    progress: ProgressOf
    progress_on_posts: frozenset[str] = frozenset()
    donate_button: str = "chat"
    public_url: str | None = None


def donate_label(campaign: Campaign, lang: Lang) -> str:
    # Translators: the button under an article that asks for money.
    return lang.gettext("Donate — {campaign}", campaign=campaign.title_in(lang.code))


def raised_line(progress: Progress, lang: Lang) -> str:
    c = progress.campaign
    return lang.gettext(
        "{raised} of {goal} raised",
        raised=lang.money(progress.raised, c.currency),
        goal=lang.money(c.goal, c.currency),
    )


class AppealResolver:
    """Turns a post's `Appeal` into blocks and buttons for one chat."""

    def __init__(self, settings: AppealSettings) -> None:
        self.settings = settings

    async def resolve(self, post: Post, chat: ChatRef, adapter: ChatAdapter) -> Post:
        appeal = post.appeal
        if appeal is None:
            return post
        plain = replace(post, appeal=None)
        campaign = self.settings.campaigns.get(appeal.campaign)
        if campaign is None or not campaign.active:
            return plain  # the campaign ended (or left the config) since the post was written
        lang = Lang.of(appeal.lang)
        blocks = list(post.blocks)
        if campaign.id in self.settings.progress_on_posts:
            progress = await self.settings.progress(campaign.id)
            if progress is not None:
                blocks.append(para(italic(raised_line(progress, lang))))
        if isinstance(adapter, OffersDeepLinks) and chat.kind is ChatKind.PRIVATE:
            blocks.append(para(bold(support_title(campaign, lang))))
            rows = self.settings.amount_rows(campaign, lang)
        else:
            rows = self._link_rows(campaign, lang, adapter)
        return replace(plain, blocks=tuple(blocks), buttons=(*rows, *post.buttons))

    def _link_rows(self, campaign: Campaign, lang: Lang, adapter: ChatAdapter) -> Rows:
        label = donate_label(campaign, lang)
        page = campaign_page_url(self.settings.public_url, campaign)
        if not isinstance(adapter, OffersDeepLinks):
            button = Button(label, url=page) if page else Button(label, f"/donate {campaign.id}")
            return ((button,),)
        text = payload("donate", campaign.id)
        deep = adapter.deep_link(text) if text else None
        url = page if self.settings.donate_button == "web" and page else deep or page
        if url is None:
            log.warning(
                "%s: no deep link yet; a post goes without its Donate button", adapter.platform
            )
            return ()
        return ((Button(label, url=url),),)


class AppealingAdapter:
    """A chat adapter whose sends and edits resolve appeals first (see the module doc)."""

    def __init__(self, inner: ChatAdapter, resolver: AppealResolver) -> None:
        self.inner = inner
        self.resolver = resolver
        self.platform = inner.platform
        self.limits = inner.limits
        self.pacing = inner.pacing  # the platform's one pacer

    async def start(self, on_incoming: OnIncoming | None) -> None:
        await self.inner.start(on_incoming)

    async def send(
        self, chat: ChatRef, post: Post, *, key: str, reply_to: str | None = None
    ) -> SentRef:
        post = await self.resolver.resolve(post, chat, self.inner)
        return await self.inner.send(chat, post, key=key, reply_to=reply_to)

    async def edit(self, sent: SentRef, post: Post, *, key: str) -> SentRef:
        resolved = await self.resolver.resolve(post, sent.chat, self.inner)
        return await self.inner.edit(sent, resolved, key=key)

    async def stop(self) -> None:
        await self.inner.stop()
