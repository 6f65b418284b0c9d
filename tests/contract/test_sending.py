"""Sending: what a person in the chat sees after `send`, on every adapter."""

from __future__ import annotations

from bot.chat import Button, Post
from tests.contract.capabilities import Support
from tests.contract.rig import IMAGE, Rig, key, only_post

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one emoji, 7 code points
FLAG = "\U0001f1fa\U0001f1e6"  # two regional indicators
THUMB = "\U0001f44d\U0001f3fd"  # an emoji with a skin tone
GRAPHEMES = (FAMILY, FLAG, THUMB) * 2_000


async def test_send_text_shows_the_text(rig: Rig) -> None:
    sent = await rig.adapter.send(rig.chat, Post.text("Hello, volunteers!"), key=key())

    assert sent.chat == rig.chat
    assert (await only_post(rig, sent)).text == "Hello, volunteers!"


async def test_send_with_an_image_shows_it(rig: Rig) -> None:
    post = Post(Post.text("March on Saturday").blocks, image_url=IMAGE)

    shown = await only_post(rig, await rig.adapter.send(rig.chat, post, key=key()))

    assert shown.text.startswith("March on Saturday")
    if rig.caps.image is Support.NATIVE:
        assert shown.image == IMAGE
        assert shown.text == "March on Saturday"
    else:
        assert rig.caps.image is Support.AS_TEXT
        assert shown.image is None
        assert IMAGE in shown.text


async def test_send_with_buttons_offers_each_choice(rig: Rig) -> None:
    give = Button("Give $50", command="/donate russia 50")
    read = Button("Read more", url="https://example.org/appeal")
    post = Post(Post.text("Support the protesters").blocks, buttons=((give, read),))

    shown = await only_post(rig, await rig.adapter.send(rig.chat, post, key=key()))

    assert shown.text.startswith("Support the protesters")
    command = rig.caps.command_sigil + "donate russia 50"
    if rig.caps.buttons is Support.NATIVE:
        assert shown.buttons == (("Give $50", command), ("Read more", "https://example.org/appeal"))
    else:
        assert rig.caps.buttons is Support.AS_TEXT
        assert shown.buttons == ()
        choices = shown.text.split("\n")
        assert any("Give $50" in line and line.endswith(command) for line in choices)
        assert any("Read more" in line and "https://example.org/appeal" in line for line in choices)


async def test_reply_is_shown_as_a_reply_to_the_persons_message(rig: Rig) -> None:
    chat, message_id = await rig.person_says("/help")

    sent = await rig.adapter.send(
        chat, Post.text("Here is what I can do"), key=key(), reply_to=message_id
    )

    shown = await only_post(rig, sent)
    assert shown.text == "Here is what I can do"
    if rig.caps.replies is Support.NATIVE:
        assert shown.reply_to == message_id
    else:
        assert rig.caps.replies is Support.ABSENT
        assert shown.reply_to is None


async def test_pinned_post_is_pinned(rig: Rig) -> None:
    await rig.adapter.send(rig.chat, Post.text("Not this one"), key=key())
    post = Post(Post.text("Rally at noon").blocks, pin=True)

    sent = await rig.adapter.send(rig.chat, post, key=key())

    assert [p.text for p in await rig.shown(rig.chat)] == ["Not this one", "Rally at noon"]
    if rig.caps.pin is Support.NATIVE:
        assert await rig.pinned(rig.chat) == [sent.message_id]
    else:
        assert rig.caps.pin is Support.ABSENT
        assert await rig.pinned(rig.chat) == []


def grapheme_ends(graphemes: tuple[str, ...]) -> set[int]:
    """Every offset (in code points) where one of `graphemes` ends."""
    ends, at = {0}, 0
    for grapheme in graphemes:
        at += len(grapheme)
        ends.add(at)
    return ends


async def test_long_text_is_cut_at_the_limit_keeping_emoji_whole(rig: Rig) -> None:
    text = "".join(GRAPHEMES)

    shown = await only_post(rig, await rig.adapter.send(rig.chat, Post.text(text), key=key()))

    limit = rig.caps.text_limit
    if rig.caps.cut_long_text is Support.ABSENT:
        assert shown.text == text  # shown whole: the console has no limit to cut at
        assert shown.size <= limit
        return
    assert limit * 0.8 < shown.size <= limit
    assert shown.text.endswith("…")
    kept = shown.text.removesuffix("…").rstrip()
    assert text.startswith(kept)
    assert len(kept) in grapheme_ends(GRAPHEMES), f"the cut splits an emoji at {len(kept)}"


async def test_resend_with_the_same_key_as_the_platform_guarantees(rig: Rig) -> None:
    post, same = Post.text("Thank you for giving"), key()

    first = await rig.adapter.send(rig.chat, post, key=same)
    second = await rig.adapter.send(rig.chat, post, key=same)

    posts = await rig.shown(rig.chat)
    if rig.caps.same_key_shows_once:
        assert second == first
        assert [(p.id, p.text) for p in posts] == [(first.message_id, "Thank you for giving")]
    else:
        # No idempotency on this platform: the outbox must not resend (DESIGN: Durable outbox).
        assert second.message_id != first.message_id
        assert [p.text for p in posts] == ["Thank you for giving"] * 2
