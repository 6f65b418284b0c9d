"""Rendering an article as a neutral post."""

from __future__ import annotations

from bot.chat.model import Paragraph, Post, Span
from bot.feeds.article import Article
from bot.feeds.parse import parse_feed
from bot.feeds.render import render_article
from bot.i18n import Lang

EN = Lang.of("en")


def article(**overrides: object) -> Article:
    fields: dict[str, object] = {
        "key": "k",
        "url": "https://example.org/post",
        "canonical_url": "https://example.org/post",
        "title": "A title",
        "author": "Alice",
        "summary": "First paragraph.\n\nSecond paragraph.",
        "image_url": "https://example.org/pic.jpg",
    }
    fields.update(overrides)
    return Article(**fields)  # type: ignore[arg-type]


def spans(post: Post) -> list[tuple[Span, ...]]:
    return [block.spans for block in post.blocks if isinstance(block, Paragraph)]


def test_article_renders_title_byline_summary_and_read_more() -> None:
    post = render_article(article(), EN, feed_title="Example News")
    assert spans(post) == [
        (Span("A title", bold=True, link="https://example.org/post"),),
        (Span("by Alice · Example News", italic=True),),
        (Span("First paragraph."),),
        (Span("Second paragraph."),),
        (Span("Read more", link="https://example.org/post"),),
    ]
    assert post.image_url == "https://example.org/pic.jpg"
    assert post.link_preview is False


def test_article_without_image_asks_for_a_link_preview() -> None:
    post = render_article(article(image_url=None), EN)
    assert post.image_url is None
    assert post.link_preview is True


def test_byline_is_left_out_without_author_or_feed_title() -> None:
    post = render_article(article(author=""), EN)
    assert all("by " not in span.text for block in spans(post) for span in block)
    assert len(spans(post)) == 4


def test_feed_title_alone_makes_the_byline() -> None:
    post = render_article(article(author=""), EN, feed_title="Example News")
    assert spans(post)[1] == (Span("Example News", italic=True),)


def test_summary_repeating_the_title_is_not_shown_twice() -> None:
    post = render_article(article(summary="A  title"), EN)
    texts = [span.text for block in spans(post) for span in block]
    assert texts.count("A title") == 1


def test_article_without_url_has_no_links() -> None:
    post = render_article(article(url="", canonical_url=""), EN)
    assert all(span.link is None for block in spans(post) for span in block)
    assert "Read more" not in [span.text for block in spans(post) for span in block]


def test_feed_markup_arrives_as_literal_text() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>
    <item><title>&lt;script&gt;alert(1)&lt;/script&gt; Hello</title><link>https://e.org/a</link>
    <description>&lt;p&gt;Nice &lt;b&gt;text&lt;/b&gt;&lt;/p&gt;</description></item>
    </channel></rss>"""
    (parsed,) = parse_feed(body, url="https://e.org/feed").articles
    post = render_article(parsed, EN)
    texts = [span.text for block in spans(post) for span in block]
    assert texts[0] == "<script>alert(1)</script> Hello"
    assert "Nice text" in texts
    assert not any("<b>" in text or "<p>" in text for text in texts)
