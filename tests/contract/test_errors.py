"""Failures: each platform's real refusals arrive as the neutral errors the outbox acts on.

A platform that cannot produce a failure says so in `CAPABILITIES`; the test
then asserts that sending there is never refused.
"""

from __future__ import annotations

import pytest

from bot.chat import CannotPostNow, ChatGone, ChatKind, ChatRef, Post, RateLimited, Transient
from tests.contract.capabilities import Error, Moved
from tests.contract.rig import Rig, edit, key, only_post

BURST = 20


async def assert_never_refused(rig: Rig, chat: ChatRef) -> None:
    """What a platform without the failure does: every post, however many, is shown."""
    texts = [f"Update {n}" for n in range(BURST)]
    for text in texts:
        await rig.adapter.send(chat, Post.text(text), key=key())
    assert [p.text for p in await rig.shown(chat)] == texts


@pytest.mark.parametrize("how", ["removed", "unknown"])
async def test_a_chat_that_takes_no_posts_is_gone(rig: Rig, how: str) -> None:
    if Error.GONE not in rig.caps.errors:
        await assert_never_refused(rig, ChatRef(rig.name, "never-seen", ChatKind.CHANNEL))
        return
    chat = await rig.gone_chat(how)
    # Telegram cannot tell a chat that never was from one the bot cannot see now
    # ("chat not found"): it pauses the chat (CannotPostNow) rather than drop it (issue 14).
    refusals = (ChatGone, CannotPostNow) if how == "unknown" else (ChatGone,)

    with pytest.raises(refusals):
        await rig.adapter.send(chat, Post.text("Anyone there?"), key=key())

    if how == "removed":
        assert await rig.shown(chat) == []


async def test_send_to_a_moved_chat(rig: Rig) -> None:
    if rig.caps.moved is Moved.NEVER:
        with pytest.raises(LookupError):
            await rig.move_chat(rig.chat)
        await assert_never_refused(rig, rig.chat)
        return
    new_id = await rig.move_chat(rig.chat)

    sent = await rig.adapter.send(rig.chat, Post.text("Meeting moved to 6 pm"), key=key())

    if rig.caps.moved is Moved.FOLLOWS:
        assert sent.chat.id == new_id
        assert await rig.shown(rig.chat) == []
    else:
        assert rig.caps.moved is Moved.UNNOTICED
        assert sent.chat == rig.chat
    assert (await only_post(rig, sent)).text == "Meeting moved to 6 pm"


async def test_edit_in_a_moved_chat_names_the_new_chat(rig: Rig) -> None:
    sent = await rig.adapter.send(rig.chat, Post.text("Raised: 20%"), key=key())
    if rig.caps.moved is Moved.NEVER:
        with pytest.raises(LookupError):
            await rig.move_chat(rig.chat)
        await edit(rig.adapter, sent, Post.text("Raised: 30%"), key=key())
        assert (await only_post(rig, sent)).text == "Raised: 30%"
        return
    new_id = await rig.move_chat(rig.chat)

    if rig.caps.moved is Moved.UNNOTICED:
        await edit(rig.adapter, sent, Post.text("Raised: 30%"), key=key())
        assert (await only_post(rig, sent)).text == "Raised: 30%"
        return
    # Issue 14: a neutral ChatMoved(new_id), so the outbox moves the chat's rows.
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the class does not exist yet
        await edit(rig.adapter, sent, Post.text("Raised: 30%"), key=key())
    assert type(caught.value).__name__ == "ChatMoved", repr(caught.value)
    assert getattr(caught.value, "new_id", None) == new_id


async def test_a_rate_limit_is_rate_limited_with_the_wait(rig: Rig) -> None:
    if Error.RATE_LIMITED not in rig.caps.errors:
        await assert_never_refused(rig, rig.chat)
        return
    refusing = await rig.rate_limited()

    refused: RateLimited | None = None
    for n in range(3):  # a burst of one: the first or the second send is refused
        try:
            await refusing.adapter.send(refusing.chat, Post.text(f"Update {n}"), key=key())
        except RateLimited as exc:
            refused, text = exc, f"Update {n}"
            break

    assert refused is not None, "the platform's rate limit never showed"
    assert refused.retry_after > 0
    if refusing.retry_after is not None:
        assert refused.retry_after == refusing.retry_after
    assert text not in [p.text for p in await rig.shown(refusing.chat)]


async def test_a_send_that_did_not_get_through_is_transient_and_safe_to_resend(rig: Rig) -> None:
    if Error.TRANSIENT not in rig.caps.errors:
        await assert_never_refused(rig, rig.chat)
        return
    refusing = await rig.unreachable()
    post, same = Post.text("Vigil tonight"), key()

    with pytest.raises(Transient):
        await refusing.adapter.send(refusing.chat, post, key=same)
    await refusing.restore()
    sent = await refusing.adapter.send(refusing.chat, post, key=same)

    assert (await only_post(rig, sent)).text == "Vigil tonight"
