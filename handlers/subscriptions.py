"""/subscribe, /unsubscribe and /topics: private article subscriptions, optionally by topic."""

from __future__ import annotations

from bot.chat import ChatKind, Incoming, Post
from bot.context import Context, Reply

PRIVATE_ONLY = Post.text("Subscriptions work in a private chat with me: message me directly.")


def _describe(topics: tuple[str, ...] | list[str]) -> str:
    return "every new article" if not topics else "new articles on " + ", ".join(sorted(topics))


async def subscribe(incoming: Incoming, ctx: Context) -> Reply:
    if incoming.chat.kind is not ChatKind.PRIVATE:
        return PRIVATE_ONLY
    subs = ctx.services.subscriptions
    wanted = [a.lower() for a in ctx.args]
    unknown = [t for t in wanted if t not in subs.topics]
    if unknown:
        choices = ", ".join(subs.topics) or "none: /subscribe alone gets every article"
        return Post.text(f"Unknown topic(s): {', '.join(unknown)}. Topics: {choices}.")
    current = await subs.topics_of(incoming.platform, incoming.chat.id)
    # Adding topics narrows "everything" to them, or widens an existing topic list.
    topics = sorted(set(wanted) | set(current if current and wanted else ()))
    await subs.save(incoming.platform, incoming.chat.id, topics)
    return Post.text(
        f"Subscribed: you will get {_describe(topics)}.",
        "Send /unsubscribe to stop, /topics to see the topics.",
    )


async def unsubscribe(incoming: Incoming, ctx: Context) -> Reply:
    if incoming.chat.kind is not ChatKind.PRIVATE:
        return PRIVATE_ONLY
    subs = ctx.services.subscriptions
    current = await subs.topics_of(incoming.platform, incoming.chat.id)
    if current is None:
        return Post.text("You are not subscribed. Send /subscribe to get new articles.")
    drop = {a.lower() for a in ctx.args}
    if not drop or "all" in drop:
        await subs.remove(incoming.platform, incoming.chat.id)
        return Post.text("Unsubscribed: you will get no more articles from me.")
    not_subscribed = sorted(drop - set(current))
    if not_subscribed:
        return Post.text(
            f"You are not subscribed to {', '.join(not_subscribed)}; you get {_describe(current)}."
        )
    left = sorted(set(current) - drop)
    if not left:
        # An empty topic list means "everything": removing the last topic ends the subscription.
        await subs.remove(incoming.platform, incoming.chat.id)
        return Post.text("Unsubscribed: that was your last topic.")
    await subs.save(incoming.platform, incoming.chat.id, left)
    return Post.text(f"Done: you now get {_describe(left)}.")


async def topics(incoming: Incoming, ctx: Context) -> Reply:
    subs = ctx.services.subscriptions
    if subs.topics:
        lines = ["Topics: " + ", ".join(subs.topics)]
    else:
        lines = ["There are no topics: every article is for everyone."]
    current = await subs.topics_of(incoming.platform, incoming.chat.id)
    if current is not None:
        lines.append(f"You get {_describe(current)}.")
    elif incoming.chat.kind is ChatKind.PRIVATE:
        lines.append("You are not subscribed: /subscribe [topic ...]")
    return Post.text(*lines)
