"""Parsing feeds into plain-text articles: hand-built feeds and real-world ones."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.feeds.article import Article, canonical_url
from bot.feeds.html_text import html_to_text
from bot.feeds.parse import SUMMARY_MAX, NotAFeed, cut_text, parse_feed
from tests.helpers import real_feed_params, require_real_feed

FEED_URL = "https://example.org/blog/feed.xml"


def rss(items: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>Example &amp; Co</title>
  <link>https://example.org/</link>
  <description>News</description>
  {items}
</channel>
</rss>""".encode()


def parse_rss(items: str) -> list[Article]:
    return list(parse_feed(rss(items), url=FEED_URL, content_type="application/rss+xml").articles)


def only(items: str) -> Article:
    articles = parse_rss(items)
    assert len(articles) == 1
    return articles[0]


# --- the three formats --------------------------------------------------------


def test_rss_feed_gives_articles_with_absolute_links() -> None:
    feed = parse_feed(
        rss(
            """
            <item><title>First</title><link>/posts/1</link><guid isPermaLink="false">id-1</guid>
              <author>alice@example.org (Alice)</author>
              <description>One.</description></item>
            <item><title>Second</title><link>posts/2</link></item>
            """
        ),
        url=FEED_URL,
    )
    assert feed.title == "Example & Co"
    assert feed.link == "https://example.org/"
    assert [a.title for a in feed.articles] == ["First", "Second"]
    assert [a.url for a in feed.articles] == [
        "https://example.org/posts/1",
        "https://example.org/blog/posts/2",
    ]
    assert feed.articles[0].key == "id-1"
    assert feed.articles[0].author == "Alice"
    assert feed.articles[0].summary == "One."


def test_atom_feed_resolves_links_against_xml_base() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.net/en/">
  <title type="html">The &lt;em&gt;Blog&lt;/em&gt;</title>
  <link href="./"/>
  <id>urn:feed</id>
  <updated>2024-05-01T10:00:00+02:00</updated>
  <entry>
    <title>Atom post</title>
    <link rel="alternate" href="2024/atom-post?utm_source=rss#top"/>
    <id>urn:entry:1</id>
    <author><name>Bob  Builder</name></author>
    <updated>2024-05-01T10:00:00+02:00</updated>
    <category term="news"/><category term=" News "/><category term="tech"/>
    <content type="html">&lt;p&gt;Body &lt;img src="pics/a.png"&gt;&lt;/p&gt;</content>
  </entry>
</feed>"""
    feed = parse_feed(body, url=FEED_URL, content_type="application/atom+xml")
    assert feed.title == "The Blog"
    assert feed.link == "https://blog.example.net/en/"
    (article,) = feed.articles
    assert article.url == "https://blog.example.net/en/2024/atom-post?utm_source=rss#top"
    assert article.canonical_url == "https://blog.example.net/en/2024/atom-post"
    assert article.author == "Bob Builder"
    assert article.categories == ("news", "tech")
    assert article.summary == "Body"
    assert article.image_url == "https://blog.example.net/en/pics/a.png"
    # No <published>: the update time stands in, converted to UTC.
    assert article.published == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_rdf_feed_gives_articles() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://example.org/">
    <title>RDF news</title><link>https://example.org/</link><description>d</description>
  </channel>
  <item rdf:about="https://example.org/rdf/1">
    <title>RDF item</title><link>/rdf/1</link>
    <description>Plain &amp;amp; simple.</description>
    <dc:date>2024-01-02T03:04:05Z</dc:date>
    <dc:creator>Carol</dc:creator>
  </item>
</rdf:RDF>"""
    feed = parse_feed(body, url=FEED_URL, content_type="application/rdf+xml")
    (article,) = feed.articles
    assert feed.title == "RDF news"
    assert article.title == "RDF item"
    assert article.url == "https://example.org/rdf/1"
    assert article.summary == "Plain & simple."
    assert article.author == "Carol"
    assert article.published == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_feed_without_entries_is_an_empty_feed_not_an_error() -> None:
    feed = parse_feed(rss(""), url=FEED_URL)
    assert feed.title == "Example & Co"
    assert feed.articles == ()


# --- text ---------------------------------------------------------------------


def test_escaped_script_in_title_stays_literal_text() -> None:
    article = only(
        "<item><title>&lt;script&gt;alert(1)&lt;/script&gt; Hello</title><link>/x</link></item>"
    )
    assert article.title == "<script>alert(1)</script> Hello"


def test_html_in_title_is_reduced_to_its_text() -> None:
    article = only("<item><title>&lt;b&gt;Big&lt;/b&gt; news &amp;amp; more</title></item>")
    assert article.title == "Big news & more"


def test_html_summary_becomes_plain_text_without_scripts() -> None:
    article = only(
        """<item><title>T</title><link>/t</link><description><![CDATA[
        <p>First <b>bold</b>   paragraph.</p><script>steal()</script>
        <style>p { color: red }</style><p>Second<br/>line &amp; more</p>
        ]]></description></item>"""
    )
    assert article.summary == "First bold paragraph.\n\nSecond\nline & more"


def test_content_is_used_when_there_is_no_description() -> None:
    article = only(
        """<item><title>T</title><link>/t</link>
        <content:encoded><![CDATA[<div>From <i>content</i></div>]]></content:encoded></item>"""
    )
    assert article.summary == "From content"


def test_long_summary_is_cut_at_a_sentence_boundary() -> None:
    sentence = "This sentence is exactly fifty characters long ok. "
    article = only(
        f"<item><title>T</title><link>/t</link><description>{sentence * 20}</description></item>"
    )
    assert len(article.summary) <= SUMMARY_MAX
    assert article.summary.endswith("ok. …")
    assert len(article.summary) > SUMMARY_MAX * 2 // 3


def test_cut_text_falls_back_to_a_word_boundary() -> None:
    text = "word " * 50
    cut = cut_text(text, 42)
    assert cut == "word word word word word word word word…"
    assert len(cut) <= 42


def test_cut_text_cuts_mid_word_only_when_there_is_no_space() -> None:
    assert cut_text("x" * 50, 10) == "x" * 9 + "…"


def test_cut_text_leaves_short_text_alone() -> None:
    assert cut_text("  Short. ", 10) == "Short."


def test_html_to_text_keeps_literal_angle_brackets_and_drops_comments() -> None:
    assert html_to_text("a &lt;b&gt; c<!-- hidden --> d") == "a <b> c d"
    assert html_to_text("https://example.org/page.html") == "https://example.org/page.html"
    assert html_to_text("<ul><li>one</li><li>two</li></ul>tail") == "one\ntwo\n\ntail"


# --- keys and URLs ------------------------------------------------------------


def test_tracking_parameters_are_stripped_from_canonical_url() -> None:
    article = only(
        "<item><title>T</title>"
        "<link>HTTPS://Example.ORG/a/B?id=7&amp;utm_source=rss&amp;fbclid=x&amp;page=2#frag</link>"
        "</item>"
    )
    assert article.canonical_url == "https://example.org/a/B?id=7&page=2"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", ""),
        ("https://e.org/p?utm_medium=x&utm_campaign=y", "https://e.org/p"),
        ("https://e.org/p?gclid=1&q=a%20b&mc_cid=2&mc_eid=3", "https://e.org/p?q=a%20b"),
        (
            "https://e.org/p?yclid=1&_hsenc=2&_hsmi=3&ref_src=4&igshid=5&ref=6",
            "https://e.org/p?ref=6",
        ),
        ("https://User@WWW.E.org:8443/P?flag#x", "https://User@www.e.org:8443/P?flag"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_entry_without_guid_is_keyed_by_its_link() -> None:
    article = only("<item><title>T</title><link>/no-guid</link></item>")
    assert article.key == "https://example.org/no-guid"


def test_entry_without_guid_or_link_is_keyed_by_a_hash_of_its_text() -> None:
    first = only("<item><title>T</title><description>Body</description></item>")
    edited = only("<item><title>T</title><description>Body, edited</description></item>")
    assert first.key.startswith("sha256:")
    assert len(first.key) == len("sha256:") + 64
    assert first.url == ""
    assert first.canonical_url == ""
    assert first.key != edited.key
    assert first.content_hash != edited.content_hash


def test_content_hash_ignores_everything_but_title_and_summary() -> None:
    a = only("<item><title>T</title><link>/a</link><description>S</description></item>")
    b = only("<item><title>T</title><link>/b</link><description>S</description></item>")
    assert a.content_hash == b.content_hash


def test_empty_entries_are_skipped() -> None:
    articles = parse_rss("<item><title> </title></item><item><title>Kept</title></item>")
    assert [a.title for a in articles] == ["Kept"]


def test_non_http_links_are_not_used() -> None:
    article = only("<item><title>T</title><link>javascript:alert(1)</link></item>")
    assert article.url == ""


# --- images -------------------------------------------------------------------


def test_image_from_media_content() -> None:
    article = only(
        """<item><title>T</title><link>/t</link>
        <media:content url="/video.mp4" type="video/mp4"/>
        <media:content url="/img/photo.jpg" medium="image"/>
        <description>&lt;img src="/other.png"&gt;</description></item>"""
    )
    assert article.image_url == "https://example.org/img/photo.jpg"


def test_image_from_media_content_by_extension() -> None:
    article = only(
        '<item><title>T</title><media:content url="https://cdn.example.org/a.WEBP"/></item>'
    )
    assert article.image_url == "https://cdn.example.org/a.WEBP"


def test_image_from_enclosure() -> None:
    article = only(
        """<item><title>T</title><link>/t</link>
        <enclosure url="https://cdn.example.org/ep.mp3" type="audio/mpeg" length="1"/>
        <enclosure url="https://cdn.example.org/cover.jpg" type="image/jpeg" length="1"/>
        </item>"""
    )
    assert article.image_url == "https://cdn.example.org/cover.jpg"


def test_image_from_first_img_skipping_tracking_pixels() -> None:
    article = only(
        """<item><title>T</title><link>/t</link><description><![CDATA[
        <img src="https://stats.example.org/p.gif" width="1" height="1">
        <p>Text <img src="pics/first.png"> <img src="pics/second.png"></p>
        ]]></description></item>"""
    )
    assert article.image_url == "https://example.org/blog/pics/first.png"


def test_no_image_is_none() -> None:
    assert (
        only("<item><title>T</title><description>Just text</description></item>").image_url is None
    )


# --- time -----------------------------------------------------------------------


def test_published_time_is_converted_to_utc() -> None:
    article = only(
        "<item><title>T</title><pubDate>Wed, 21 Mar 2018 10:27:32 +0300</pubDate></item>"
    )
    assert article.published == datetime(2018, 3, 21, 7, 27, 32, tzinfo=UTC)
    assert article.published is not None
    assert article.published.utcoffset() is not None


def test_missing_date_is_none() -> None:
    assert only("<item><title>T</title></item>").published is None


# --- not feeds and broken feeds -------------------------------------------------


def test_html_page_is_not_a_feed() -> None:
    page = b"""<!DOCTYPE html><html><head><title>Blog</title>
    <link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>
    <body><h1>Welcome</h1><p>Hello</p></body></html>"""
    with pytest.raises(NotAFeed, match="looks like an HTML page"):
        parse_feed(page, url="https://example.org/", content_type="text/html; charset=utf-8")


def test_html_page_is_recognised_without_a_content_type() -> None:
    with pytest.raises(NotAFeed, match="not an RSS/Atom/RDF feed"):
        parse_feed(b"<html><body><p>Hi</p></body></html>", url="https://example.org/")


def test_empty_document_is_not_a_feed() -> None:
    with pytest.raises(NotAFeed, match="empty"):
        parse_feed(b"", url=FEED_URL)


def test_malformed_feed_with_entries_is_still_used() -> None:
    # A bare "&" is not well-formed XML; feedparser falls back to its loose parser.
    body = rss("<item><title>Tom & Jerry</title><link>/tj?a=1&b=2</link></item>")
    (article,) = parse_feed(body, url=FEED_URL).articles
    assert article.title == "Tom & Jerry"
    assert article.url == "https://example.org/tj?a=1&b=2"


# --- real-world feeds -------------------------------------------------------------

# A word each file holds outside ASCII, as the feed's own encoding spells it.
KNOWN_WORDS = {
    "encoding_ISO-8859-1.xml": "wünschen",
    "no_encoding_ISO-8859-1.xml": "études",
    "encoding_WINDOWS-1251.xml": "Цитата",
    "rdf_UTF8.xml": "übernimmt",
    "urdu_UTF8.xml": "پاکستان",
}
LEAKED_MARKUP = ("<p>", "<p ", "</p>", "<br", "<div", "<img", "<a href", "</a>", "&lt;", "&amp;")


@pytest.mark.parametrize("path", real_feed_params())
def test_real_world_feed_gives_sensible_articles(path: Path | None) -> None:
    path = require_real_feed(path)

    feed = parse_feed(path.read_bytes(), url="https://feeds.example.org/" + path.name)

    assert feed.title
    assert feed.articles
    for article in feed.articles:
        assert article.title or article.summary
        assert article.url.startswith(("http://", "https://"))
        assert article.canonical_url.startswith(("http://", "https://"))
        if article.image_url is not None:
            assert article.image_url.startswith(("http://", "https://"))
        assert len(article.summary) <= SUMMARY_MAX
        for marker in LEAKED_MARKUP:
            assert marker not in article.summary, f"{marker!r} leaked into {article.url}"
            assert marker not in article.title
        assert "\ufffd" not in article.title + article.summary  # no decoding failures
        if article.published is not None:
            assert article.published.tzinfo is UTC
    assert len({a.key for a in feed.articles}) == len(feed.articles)

    word = KNOWN_WORDS.get(path.name)
    if word is not None:
        texts = " ".join(f"{a.title} {a.summary}" for a in feed.articles)
        assert word in texts
    if path.name.startswith("urdu"):
        for article in feed.articles:
            assert _mostly_arabic_script(article.title), article.title


def _mostly_arabic_script(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    arabic = [c for c in letters if unicodedata.name(c, "").startswith("ARABIC")]
    return len(arabic) > len(letters) // 2


def test_truncated_feed_with_nothing_readable_is_an_error() -> None:
    whole = rss("<item><guid>g1</guid><title>First</title><link>/a</link></item>")
    with pytest.raises(NotAFeed, match="malformed feed with no readable entries"):
        parse_feed(whole[: whole.index(b"<guid>") + 3], url=FEED_URL)


def test_entity_expansion_is_not_followed() -> None:
    levels = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 8))
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e0 "aaaaaaaaaa">{levels}]>'
        "<rss version='2.0'><channel><item><title>&e7;</title><link>https://e.org/x</link>"
        "</item></channel></rss>"
    ).encode()
    articles = parse_feed(body, url=FEED_URL).articles
    assert all(len(a.title) < 100 for a in articles)
