"""An appeal made concrete for the chat it lands in: console, Matrix, Telegram, web buttons."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.adapters.matrix_render import for_matrix, render_body, render_html
from bot.appeals.sending import AppealingAdapter, AppealResolver, AppealSettings
from bot.chat import Appeal, ChatKind, ChatRef, Post
from bot.chat.codec import post_from_json, post_to_json
from bot.chat.plain import render_plain
from bot.donations.campaigns import Campaign, CampaignTranslation, Progress
from bot.feeds.article import Article
from bot.feeds.render import render_article
from bot.i18n import Lang
from handlers.donations import amount_buttons
from tests.fakes.recording import RecordingAdapter

RUSSIA = Campaign(
    "russia", "Russian anti-war protesters", "for Russian anti-war protesters", 2_000_000, "USD",
    (1000, 5000), highlight=5000,
    translations=(("ru", CampaignTranslation("Российские протестующие")),),
)  # fmt: skip
ENDED = replace(RUSSIA, id="ended", active=False)
ARTICLE = Article("k", "https://e.org/a", "https://e.org/a", "Support Russian Anti-War Protesters")


async def progress_of(campaign: str) -> Progress | None:
    return Progress(RUSSIA, 1_234_000, 311)


def settings(**changes: object) -> AppealSettings:
    base = AppealSettings(
        campaigns={"russia": RUSSIA, "ended": ENDED}, amount_rows=amount_buttons,
        progress=progress_of,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def article_post(lang: str = "en", campaign: str = "russia") -> Post:
    post = render_article(ARTICLE, Lang.of(lang))
    return replace(post, appeal=Appeal(campaign, lang))


@dataclass
class DeepLinkingAdapter(RecordingAdapter):
    """A recording adapter that offers deep links, as Telegram's does once started."""

    name: str = "the_bot"

    def deep_link(self, payload: str) -> str | None:
        return f"https://t.me/{self.name}?start={payload}" if self.name else None


CHANNEL = ChatRef("telegram", "-100", ChatKind.CHANNEL)
PRIVATE = ChatRef("telegram", "42", ChatKind.PRIVATE)


async def test_the_appeal_survives_the_outbox() -> None:
    post = article_post("ru")
    assert post_from_json(post_to_json(post)).appeal == Appeal("russia", "ru")


async def test_console_says_what_to_send() -> None:
    post = await AppealResolver(settings()).resolve(article_post(), CHANNEL, RecordingAdapter())
    text = render_plain(post)
    assert "→ Donate — Russian anti-war protesters: send /donate russia" in text
    assert post.appeal is None


async def test_matrix_links_the_campaign_page_or_names_the_command() -> None:
    bare = await AppealResolver(settings()).resolve(article_post(), CHANNEL, RecordingAdapter())
    assert "Donate — Russian anti-war protesters: reply !donate russia" in render_body(
        for_matrix(bare)
    )
    with_page = AppealResolver(settings(public_url="https://give.example.org"))
    post = await with_page.resolve(article_post(), CHANNEL, RecordingAdapter())
    page = "https://give.example.org/campaigns/russia"
    assert f"Donate — Russian anti-war protesters: {page}" in render_body(for_matrix(post))
    assert f'<a href="{page}">Donate — Russian anti-war protesters</a>' in render_html(
        for_matrix(post)
    )


async def test_a_channel_gets_the_deep_link_in_its_language_or_the_page_when_asked() -> None:
    post = await AppealResolver(settings()).resolve(
        article_post("ru"), CHANNEL, DeepLinkingAdapter()
    )
    (button,) = post.buttons[0]
    assert button.url == "https://t.me/the_bot?start=donate-russia"
    assert button.label == Lang.of("ru").gettext(
        "Donate — {campaign}", campaign="Российские протестующие"
    )
    web = AppealResolver(settings(donate_button="web", public_url="https://give.example.org"))
    post = await web.resolve(article_post(), CHANNEL, DeepLinkingAdapter())
    assert post.buttons[0][0].url == "https://give.example.org/campaigns/russia"


async def test_a_private_chat_gets_the_amounts() -> None:
    post = await AppealResolver(settings()).resolve(article_post(), PRIVATE, DeepLinkingAdapter())
    commands = [b.command for row in post.buttons for b in row]
    assert commands == ["/donate russia 10", "/donate russia 50", "/donate russia any"]
    assert "Support Russian anti-war protesters" in render_plain(post)


async def test_progress_on_posts_adds_the_figures_as_of_sending() -> None:
    resolver = AppealResolver(settings(progress_on_posts=frozenset({"russia"})))
    post = await resolver.resolve(article_post(), CHANNEL, RecordingAdapter())
    assert "$12,340 of $20,000 raised" in render_plain(post)


async def test_an_ended_campaign_or_an_unknown_bot_name_sends_no_button() -> None:
    resolver = AppealResolver(settings())
    ended = await resolver.resolve(article_post(campaign="ended"), CHANNEL, DeepLinkingAdapter())
    assert ended.buttons == ()
    assert ended.appeal is None
    nameless = await resolver.resolve(article_post(), CHANNEL, DeepLinkingAdapter(name=""))
    assert nameless.buttons == ()


async def test_the_wrapping_adapter_sends_and_edits_resolved_posts() -> None:
    inner = RecordingAdapter()
    adapter = AppealingAdapter(inner, AppealResolver(settings()))
    sent = await adapter.send(CHANNEL, article_post(), key="k1")
    await adapter.edit(sent, article_post(), key="e1")
    assert "send /donate russia" in inner.sent[0][2]
    assert "send /donate russia" in inner.edits[0][2]
    assert adapter.platform == inner.platform
