"""Posts as Matrix message content, without a network."""

from __future__ import annotations

import re

import pytest

from bot.adapters.matrix_render import (
    HTML_FORMAT,
    MAX_CONTENT_BYTES,
    clip,
    content_size,
    edit_content,
    matrix_commands,
    message_content,
    pinned_content,
)
from bot.chat import Button, Post, Quote, Span, bold, bullets, code, italic, link, para

# The tags the Matrix spec suggests clients allow, limited to what a Post can say.
SPEC_TAGS = {"p", "strong", "em", "code", "a", "ul", "ol", "li", "blockquote", "br"}

RICH = Post(
    blocks=(
        para(bold("Title <b>"), " & ", italic("it"), " ", code("x<y")),
        para(link("Read", "https://example.org/a?x=1&y=2")),
        bullets("one", "two", ordered=True),
        Quote((Span("a quote"),)),
    ),
    image_url="https://example.org/pic.png",
    buttons=(
        (Button("$50", command="/donate russia 50"), Button("Site", url="https://example.org")),
    ),
)


def tags(html: str) -> set[str]:
    return set(re.findall(r"</?([a-z0-9]+)", html))


def test_notice_has_plain_body_and_spec_html() -> None:
    content = message_content(RICH)

    assert content["msgtype"] == "m.notice"
    assert content["format"] == HTML_FORMAT
    assert tags(content["formatted_body"]) <= SPEC_TAGS
    assert content["formatted_body"].startswith(
        "<p><strong>Title &lt;b&gt;</strong> &amp; <em>it</em> <code>x&lt;y</code></p>"
        '<p><a href="https://example.org/a?x=1&amp;y=2">Read</a></p>'
        "<ol><li>one</li><li>two</li></ol><blockquote>a quote</blockquote>"
        '<p><a href="https://example.org/pic.png">Image</a></p>'
    )
    assert content["body"].startswith("Title <b> & it x<y\n\nRead (https://example.org/a?x=1&y=2)")


def test_feed_markup_is_escaped_everywhere() -> None:
    post = Post(blocks=(para(Span('<script>alert("x")</script>', link='https://e.org/"><x')),))

    html = message_content(post)["formatted_body"]

    assert "<script" not in html
    assert "<x" not in html
    assert '&lt;script&gt;alert("x")&lt;/script&gt;' in html
    assert 'href="https://e.org/&quot;&gt;&lt;x"' in html


def test_links_a_client_may_not_open_become_text() -> None:
    post = Post(
        blocks=(para(link("click", "javascript:alert(1)")),),
        buttons=((Button("Evil", url="javascript:alert(1)"),),),
    )

    content = message_content(post)

    assert "href" not in content["formatted_body"]
    assert "javascript" not in content["body"]
    assert content["body"] == "click"


def test_buttons_become_text_choices_with_matrix_commands() -> None:
    content = message_content(RICH)

    assert "→ $50: reply !donate russia 50\n→ Site: https://example.org" in content["body"]
    assert "$50: reply <code>!donate russia 50</code>" in content["formatted_body"]
    assert '<a href="https://example.org">Site</a>' in content["formatted_body"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Send /help to see them.", "Send !help to see them."),
        ("/donate russia 50", "!donate russia 50"),
        ("(/start)", "(!start)"),
        ("see https://example.org/help", "see https://example.org/help"),
        ("edit /etc/passwd", "edit /etc/passwd"),
        ("and/or", "and/or"),
    ],
)
def test_commands_are_shown_the_matrix_way(text: str, expected: str) -> None:
    assert matrix_commands(text) == expected


def test_a_reply_is_a_matrix_reply() -> None:
    content = message_content(Post.text("hi"), reply_to="$ask")

    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$ask"}}


def test_an_edit_replaces_the_event_with_a_fallback() -> None:
    content = edit_content(Post.text("new"), "$old")

    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$old"}
    assert content["m.new_content"]["body"] == "new"
    assert content["body"] == "* new"
    assert content["formatted_body"] == "* <p>new</p>"


@pytest.mark.parametrize("char", ["a", "я", "<", "😀"])
def test_huge_posts_are_cut_to_fit_one_event(char: str) -> None:
    post = Post(
        blocks=(para("Intro"), para(char * 200_000), para("Outro")),
        buttons=((Button("$50", command="/donate x 50"),),),
    )

    message, edit = message_content(post), edit_content(post, "$old")
    for content, body in ((message, message["body"]), (edit, edit["m.new_content"]["body"])):
        assert content_size(content) <= MAX_CONTENT_BYTES
        assert content_size(content) > MAX_CONTENT_BYTES * 0.8
        assert body.startswith("Intro\n\n" + char)
        assert "…" in body
        assert "!donate x 50" in body
        assert "Outro" not in body


def test_a_cut_never_splits_an_emoji() -> None:
    family = "👩\u200d👩\u200d👧\u200d👦"
    post = Post(blocks=(para("word " + family * 50),))
    for chars in range(5, 40):
        text = clip(post, chars).blocks[0].spans[0].text  # type: ignore[union-attr]
        body = text.removesuffix("…").removeprefix("word").strip()
        assert body.replace(family, "") == "", (chars, text)


def test_pinning_adds_the_event_once_after_the_others() -> None:
    assert pinned_content({"pinned": ["$a", 5, "$b"]}, "$a") == {"pinned": ["$b", "$a"]}
    assert pinned_content({}, "$a") == {"pinned": ["$a"]}
