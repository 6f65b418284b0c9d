"""/subscribe, /unsubscribe and /topics: private article subscriptions, optionally by topic."""

from __future__ import annotations

from bot.chat import ChatKind, Incoming, Post
from bot.context import Context, Reply
from bot.storage import feeds as fq

PRIVATE_ONLY = Post.text("Subscriptions work in a private chat with me: message me directly.")


def available_topics(ctx: Context) -> list[str]:
    return sorted({t for feed in ctx.services.config.feeds for t in feed.topics.values()})


def _describe(topics: tuple[str, ...] | list[str]) -> str:
    return "every new article" if not topics else "new articles on " + ", ".join(sorted(topics))


async def subscribe(incoming: Incoming, ctx: Context) -> Reply:
    if incoming.chat.kind is not ChatKind.PRIVATE:
        return PRIVATE_ONLY
    db = ctx.services.db
    wanted = [a.lower() for a in ctx.args]
    known = available_topics(ctx)
    unknown = [t for t in wanted if t not in known]
    if unknown:
        choices = ", ".join(known) if known else "none: /subscribe alone gets every article"
        return Post.text(f"Unknown topic(s): {', '.join(unknown)}. Topics: {choices}.")
    current = await fq.get_subscriber(db, incoming.platform, incoming.chat.id)
    topics = sorted(set(wanted) | set(current.topics if current and wanted else ()))
    await fq.save_subscriber(db, incoming.platform, incoming.chat.id, topics, ctx.services.clock())
    return Post.text(
        f"Subscribed: you will get {_describe(topics)}.",
        "Send /unsubscribe to stop, /topics to see the topics.",
    )


async def unsubscribe(incoming: Incoming, ctx: Context) -> Reply:
    if incoming.chat.kind is not ChatKind.PRIVATE:
        return PRIVATE_ONLY
    db = ctx.services.db
    current = await fq.get_subscriber(db, incoming.platform, incoming.chat.id)
    if current is None:
        return Post.text("You are not subscribed. Send /subscribe to get new articles.")
    drop = {a.lower() for a in ctx.args}
    if not drop or "all" in drop:
        await fq.remove_subscriber(db, incoming.platform, incoming.chat.id)
        return Post.text("Unsubscribed: you will get no more articles from me.")
    not_subscribed = sorted(drop - set(current.topics))
    if not_subscribed:
        return Post.text(
            f"You are not subscribed to {', '.join(not_subscribed)}; "
            f"you get {_describe(current.topics)}."
        )
    left = sorted(set(current.topics) - drop)
    if not left:
        # An empty topic list means "everything": removing the last topic ends the subscription.
        await fq.remove_subscriber(db, incoming.platform, incoming.chat.id)
        return Post.text("Unsubscribed: that was your last topic.")
    await fq.save_subscriber(db, incoming.platform, incoming.chat.id, left, ctx.services.clock())
    return Post.text(f"Done: you now get {_describe(left)}.")


async def topics(incoming: Incoming, ctx: Context) -> Reply:
    known = available_topics(ctx)
    if known:
        lines = ["Topics: " + ", ".join(known)]
    else:
        lines = ["There are no topics: every article is for everyone."]
    current = await fq.get_subscriber(ctx.services.db, incoming.platform, incoming.chat.id)
    if current is not None:
        lines.append(f"You get {_describe(current.topics)}.")
    elif incoming.chat.kind is ChatKind.PRIVATE:
        lines.append("You are not subscribed: /subscribe [topic ...]")
    return Post.text(*lines)
