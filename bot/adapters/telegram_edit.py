"""Editing a sent post the way it was sent: its form decides the Bot API method.

A post goes out as one text message, one photo with a caption, or a photo then a
text message. Telegram edits each differently (a text message has no caption, a
photo no text), so the adapter records the form on the `SentRef` it returns
(`SentForm.encode`), the outbox keeps it with the sent row, and an edit decodes
it here. A changed image is replaced with editMessageMedia.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from bot.adapters.telegram_render import SEND_PHOTO, Payload, render, render_caption
from bot.chat import PlatformLimits, Post, StateStore

TEXT: Literal["text"] = "text"
PHOTO: Literal["photo"] = "photo"
PHOTO_TEXT: Literal["photo+text"] = "photo+text"
Shape = Literal["text", "photo", "photo+text"]


@dataclass(frozen=True, slots=True)
class SentForm:
    """How a post shows: its shape, the image URL sent (if any), and for a photo followed
    by a text message, the photo's message id (the `SentRef` keeps the text's)."""

    shape: Shape
    image: str = ""
    photo_id: str = ""

    def encode(self) -> str:
        return " ".join(p for p in (self.shape, self.image, self.photo_id) if p)

    @classmethod
    def decode(cls, form: str) -> SentForm:
        """The form recorded at send time; "" (rows sent before forms were kept) is text."""
        parts = form.split(" ")
        if parts[0] == PHOTO and len(parts) >= 2:
            return cls(PHOTO, parts[1])
        if parts[0] == PHOTO_TEXT and len(parts) >= 3:
            return cls(PHOTO_TEXT, parts[1], parts[2])
        return cls(TEXT)

    @classmethod
    def of(cls, payloads: list[Payload], photo_id: str = "") -> SentForm:
        """The form of what `payloads` sent (a generated picture has no URL to compare)."""
        first = payloads[0]
        if first.method != SEND_PHOTO:
            return cls(TEXT)
        image = first.photo if isinstance(first.photo, str) else "generated"
        if len(payloads) == 1:
            return cls(PHOTO, image)
        return cls(PHOTO_TEXT, image, photo_id)


@dataclass(frozen=True, slots=True)
class EditCall:
    """One Bot API edit: `method` on `message_id`, with the text (or caption) `html`."""

    method: Literal["editMessageText", "editMessageCaption", "editMessageMedia"]
    message_id: str
    html: str
    payload: Payload
    photo: str | None = None  # the new image, for editMessageMedia


def edit_calls(
    form: SentForm, message_id: str, post: Post, limits: PlatformLimits
) -> list[EditCall]:
    """The edits that make a post sent in `form` show `post`.

    A text message stays text (the image, if the post gained one, is dropped: a
    message cannot become a photo); a photo keeps a caption cut to fit; a photo
    followed by text edits the text, and the photo too when the image changed.
    """
    new_image = post.image_url if post.image_png is None else None
    if form.shape == TEXT:
        text_only = dataclasses.replace(post, image_url=None, image_png=None)
        payload = render(text_only, limits)[-1]
        return [EditCall("editMessageText", message_id, payload.html, payload)]
    payloads = render(post, limits)
    if form.shape == PHOTO:
        caption = render_caption(post, limits)
        last = dataclasses.replace(payloads[-1], html=caption)
        if new_image and new_image != form.image:
            return [EditCall("editMessageMedia", message_id, caption, last, new_image)]
        return [EditCall("editMessageCaption", message_id, caption, last)]
    calls: list[EditCall] = []
    if new_image and new_image != form.image:
        caption = payloads[0].html if len(payloads) > 1 else ""
        photo = dataclasses.replace(payloads[0], keyboard=())
        calls.append(EditCall("editMessageMedia", form.photo_id, caption, photo, new_image))
    if len(payloads) > 1:
        body = payloads[-1]
    else:
        body = render(dataclasses.replace(post, image_url=None, image_png=None), limits)[-1]
    calls.append(EditCall("editMessageText", message_id, body.html, body))
    return calls


def form_after(form: SentForm, post: Post) -> SentForm:
    """The form once `calls` are made: a replaced image is the one shown now."""
    new_image = post.image_url if post.image_png is None else None
    if form.shape == TEXT or not new_image:
        return form
    return dataclasses.replace(form, image=new_image)


class PhotoProgress:
    """A photo that is out while its text is not yet: a retry of the same delivery (same
    key) sends only the text. Kept per chat (one delivery at a time goes to a chat), in the
    bot's state store when given, so that it holds across a restart."""

    def __init__(self, state: StateStore | None = None) -> None:
        self._state = state
        self._memory: dict[str, str] = {}

    async def _get(self, name: str) -> str:
        if self._state is None:
            return self._memory.get(name, "")
        return await self._state.get(name) or ""

    async def _set(self, name: str, value: str) -> None:
        if self._state is None:
            self._memory[name] = value
        else:
            await self._state.set(name, value)

    async def photo_sent(self, key: str, chat_id: str, photo_id: str) -> None:
        await self._set(f"photo-out:{chat_id}", f"{key} {photo_id}")

    async def photo_of(self, key: str, chat_id: str) -> str | None:
        """The message id of this delivery's photo, if it is out already."""
        kept, _, photo_id = (await self._get(f"photo-out:{chat_id}")).partition(" ")
        return photo_id if kept == key and photo_id else None

    async def done(self, chat_id: str) -> None:
        await self._set(f"photo-out:{chat_id}", "")
