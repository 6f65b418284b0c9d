"""Editing: after `edit`, the chat shows the post's new version, however often it changes."""

from __future__ import annotations

from bot.chat import Post
from tests.contract.capabilities import Support
from tests.contract.rig import IMAGE, Rig, Shown, edit, key, only_post

# Telegram's caption limit, in UTF-16 units: the most a photo's text can show.
CAPTION_MAX = 1024


def raised(percent: int) -> Post:
    return Post.text(f"Raised: {percent}%")


async def edits_shown(rig: Rig, percents: list[int]) -> list[str]:
    """Send the first, edit to each next one; the text shown after every step."""
    sent = await rig.adapter.send(rig.chat, raised(percents[0]), key=key())
    texts = [(await only_post(rig, sent)).text]
    for n, percent in enumerate(percents[1:], start=1):
        await edit(rig.adapter, sent, raised(percent), key=f"{key()}-edit-{n}")
        texts.append((await only_post(rig, sent)).text)
    return texts


async def test_edit_twice_shows_the_latest_text(rig: Rig) -> None:
    assert await edits_shown(rig, [10, 20, 30]) == ["Raised: 10%", "Raised: 20%", "Raised: 30%"]


async def test_edit_back_to_an_earlier_text_shows_it(rig: Rig) -> None:
    # A campaign's progress can go back (a refund): 20% → 30% → 20% must end at 20%.
    shown = await edits_shown(rig, [10, 20, 30, 20])

    assert shown == ["Raised: 10%", "Raised: 20%", "Raised: 30%", "Raised: 20%"]


def with_image(text: str) -> Post:
    return Post(Post.text(text).blocks, image_url=IMAGE)


def image_kept(rig: Rig, shown: Shown) -> bool:
    if rig.caps.image is Support.NATIVE:
        return shown.image == IMAGE
    return IMAGE in shown.text


async def test_edit_a_post_with_an_image_keeps_the_image(rig: Rig) -> None:
    sent = await rig.adapter.send(rig.chat, with_image("Raised: 20%"), key=key())

    await edit(rig.adapter, sent, with_image("Raised: 30%"), key=key())
    await edit(rig.adapter, sent, with_image("Raised: 20%"), key=key())

    shown = await only_post(rig, sent)
    assert shown.text.startswith("Raised: 20%")
    assert image_kept(rig, shown)


async def test_edit_a_text_post_into_one_with_an_image(rig: Rig) -> None:
    # A text message cannot become a photo: what matters is that the new text shows.
    sent = await rig.adapter.send(rig.chat, raised(20), key=key())

    await edit(rig.adapter, sent, with_image("Raised: 30%"), key=key())

    assert (await only_post(rig, sent)).text.startswith("Raised: 30%")


async def test_edit_a_photo_post_into_long_text(rig: Rig) -> None:
    long_text = " ".join(["Raised: 30%.", *["Thank you to everyone who gave."] * 120])
    sent = await rig.adapter.send(rig.chat, with_image("Raised: 20%"), key=key())

    await edit(rig.adapter, sent, Post.text(long_text), key=key())

    shown = await only_post(rig, sent)
    assert shown.text.startswith("Raised: 30%. Thank you")
    if rig.caps.image is Support.NATIVE:
        # The photo stays; its caption shows as much of the new text as a caption can hold.
        assert shown.image == IMAGE
        assert CAPTION_MAX * 0.8 < shown.size <= CAPTION_MAX
    else:
        assert shown.text == long_text
