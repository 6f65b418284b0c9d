"""Rendering Posts as Telegram payloads: escaping, lengths in UTF-16, keyboards (no network)."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.telegram import TELEGRAM_LIMITS
from bot.adapters.telegram_render import (
    CALLBACK_DATA_MAX,
    SEND_MESSAGE,
    SEND_PHOTO,
    callback_data_for,
    render,
    utf16_len,
)
from bot.chat import (
    BulletList,
    Button,
    Paragraph,
    PlatformLimits,
    Post,
    Quote,
    Span,
    bold,
    bullets,
    code,
    italic,
    link,
    para,
)
from tests.fakes.telegram import parse_html

FAMILY = "👨\u200d👩\u200d👧"  # one emoji, five code points, eight UTF-16 units
THUMBS = "👍🏽"  # an emoji and a skin-tone modifier


def visible(text: str) -> str:
    """What a Telegram user sees; raises where Telegram would refuse the HTML."""
    return parse_html(text)


def one(post: Post) -> str:
    [payload] = render(post, TELEGRAM_LIMITS)
    return payload.html


def test_script_in_a_title_is_escaped() -> None:
    title = "<script>alert('x')</script> & <b>not bold</b>"
    out = one(Post(blocks=(para(bold(title)), para("body"))))
    assert "<script>" not in out
    assert out.startswith("<b>&lt;script&gt;")
    assert visible(out) == f"{title}\n\nbody"


def test_quotes_in_a_link_are_escaped_inside_the_href() -> None:
    url = "https://example.org/a?q=\"x\"&r='y'<z>"
    out = one(Post(blocks=(para(link('say "hi"', url)),)))
    href = re.search(r'<a href="([^"]*)">', out)
    assert href is not None
    assert html.unescape(href.group(1)) == url
    assert visible(out) == 'say "hi"'


def test_a_link_that_is_not_http_stays_plain_text() -> None:
    out = one(Post(blocks=(para(link("click", "javascript:alert(1)")),)))
    assert out == "click"


def test_styles_lists_and_quotes_use_only_telegram_tags() -> None:
    post = Post(
        blocks=(
            para(bold("Title"), " ", italic("aside"), " ", code("/donate <id>")),
            bullets("one", (bold("two"),)),
            BulletList(((Span("first"),), (Span("second"),)), ordered=True),
            Quote(
                (Span("quoted "), link("source", "https://example.org/")),
            ),
        )
    )
    out = one(post)
    assert visible(out) == (
        "Title aside /donate <id>\n\n• one\n• two\n\n1. first\n2. second\n\nquoted source"
    )
    assert "<code>/donate &lt;id&gt;</code>" in out
    assert '<blockquote>quoted <a href="https://example.org/">source</a></blockquote>' in out


def test_link_preview_only_when_the_post_asks() -> None:
    [plain] = render(Post.text("x"), TELEGRAM_LIMITS)
    [article] = render(Post(blocks=(para("x"),), link_preview=True), TELEGRAM_LIMITS)
    assert (plain.link_preview, article.link_preview) == (False, True)


def test_an_empty_post_still_has_text() -> None:
    [payload] = render(Post(buttons=((Button("Help", command="/help"),),)), TELEGRAM_LIMITS)
    assert visible(payload.html).strip()


def test_emoji_heavy_text_is_cut_within_4096_utf16_units() -> None:
    words = " ".join(f"{FAMILY}{THUMBS}🇺🇦word{n}" for n in range(800))
    post = Post(blocks=(para(bold("Title 🎉")), para(words), para("never shown")))
    shown = visible(one(post))
    assert utf16_len(shown) <= 4096
    assert len(shown.encode("utf-16-le")) // 2 > 4000  # cut near the limit, not far before it
    assert shown.endswith("…")
    assert "never shown" not in shown
    shown.encode("utf-8")  # no lone surrogate anywhere
    last = shown.removesuffix("…").split(" ")[-1]
    assert re.fullmatch(f"{FAMILY}{THUMBS}🇺🇦word[0-9]+", last)  # a whole word kept


def test_a_cut_never_strands_part_of_an_emoji_sequence() -> None:
    text = FAMILY * 2000  # no spaces: the cut falls inside the run
    shown = visible(one(Post.text(text)))
    body = shown.removesuffix("…")
    assert utf16_len(shown) <= 4096
    assert len(body) % len(FAMILY) == 0
    assert body == FAMILY * (len(body) // len(FAMILY))


def test_a_cut_never_splits_a_flag() -> None:
    shown = visible(one(Post.text("x" + "🇺🇦" * 1100)))  # an odd start shifts the pairs
    body = shown.removesuffix("…")
    assert body == "x" + "🇺🇦" * ((len(body) - 1) // 2)


def test_a_long_text_is_cut_at_a_paragraph_or_word_boundary() -> None:
    paragraphs = [" ".join(["lorem"] * 100) for _ in range(20)]  # 599 units each
    shown = visible(one(Post.text(*paragraphs)))
    assert utf16_len(shown) <= 4096
    assert shown.endswith("lorem…")
    assert shown.count("\n\n") == 6


def test_a_post_whose_text_fits_a_caption_is_one_photo() -> None:
    post = Post(
        blocks=(para(bold("Title")),),
        image_url="https://example.org/a.jpg",
        buttons=((Button("Read", url="https://example.org/a"),),),
    )
    [photo] = render(post, TELEGRAM_LIMITS)
    assert photo.method == SEND_PHOTO
    assert photo.photo == "https://example.org/a.jpg"
    assert photo.html == "<b>Title</b>"
    assert photo.keyboard[0][0].url == "https://example.org/a"


def test_a_long_post_with_an_image_is_a_titled_photo_then_the_text() -> None:
    body = "🙂 " * 3000  # 9000 units
    post = Post(
        blocks=(para(bold("Title")), para(body)),
        image_url="https://example.org/a.jpg",
        buttons=((Button("Help", command="/help"),),),
        link_preview=True,
    )
    photo, text = render(post, TELEGRAM_LIMITS)
    assert (photo.method, text.method) == (SEND_PHOTO, SEND_MESSAGE)
    assert visible(photo.html) == "Title"
    assert not photo.keyboard
    assert text.keyboard[0][0].callback_data == "/help"
    assert utf16_len(visible(text.html)) <= 4096
    assert not text.link_preview  # the photo already shows the image


def test_a_post_with_an_image_and_a_huge_first_block_has_no_caption() -> None:
    post = Post(blocks=(para("x" * 2000),), image_url="https://example.org/a.jpg")
    photo, text = render(post, TELEGRAM_LIMITS)
    assert photo.html == ""
    assert visible(text.html) == "x" * 2000


def test_command_buttons_fit_callback_data() -> None:
    short = "/donate russia 50"
    long = "/donate " + "антивоенный-протест " * 5  # Cyrillic: two bytes a letter
    assert callback_data_for(short) == short
    token = callback_data_for(long)
    assert token.startswith("c:")
    assert len(token.encode()) <= CALLBACK_DATA_MAX
    assert token == callback_data_for(long)  # stable across renders and restarts
    [payload] = render(
        Post(
            blocks=(para("x"),), buttons=((Button("a", command=short), Button("b", command=long)),)
        ),
        TELEGRAM_LIMITS,
    )
    assert [b.callback_data for b in payload.keyboard[0]] == [short, token]


def test_callback_data_of_exactly_64_bytes_is_kept() -> None:
    command = "/" + "a" * 63
    assert callback_data_for(command) == command
    assert callback_data_for(command + "a") != command + "a"


SMALL = PlatformLimits(text_max=60, caption_max=25, global_rate=1.0, per_chat_interval=1.0)
span_text = st.text(
    alphabet=st.sampled_from(["a", " ", "<", "&", '"', "\n", "é", "😀", "\u200d", "🏽", "б"]),
    max_size=40,
)
spans = st.builds(
    Span,
    span_text,
    bold=st.booleans(),
    italic=st.booleans(),
    code=st.booleans(),
    link=st.sampled_from([None, 'https://example.org/?a=1&b="2"', "ftp://x"]),
)
blocks = st.one_of(
    st.builds(Paragraph, st.lists(spans, max_size=4).map(tuple)),
    st.builds(Quote, st.lists(spans, max_size=4).map(tuple)),
    st.builds(BulletList, st.lists(st.lists(spans, max_size=3).map(tuple), max_size=3).map(tuple)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(blocks, max_size=6), st.sampled_from([None, "https://example.org/i.png"]))
def test_any_post_renders_to_valid_html_within_limits(
    post_blocks: list[Paragraph | Quote | BulletList], image: str | None
) -> None:
    post = Post(blocks=tuple(post_blocks), image_url=image)
    for payload in render(post, SMALL):
        shown = visible(payload.html)  # raises on unbalanced or unknown tags
        limit = SMALL.caption_max if payload.method == SEND_PHOTO else SMALL.text_max
        assert utf16_len(shown) <= limit
        shown.encode("utf-8")


@pytest.mark.parametrize("n", [4096, 4097])
def test_exactly_the_limit_is_not_cut(n: int) -> None:
    shown = visible(one(Post.text("a" * n)))
    assert (shown == "a" * n) is (n == 4096)
