"""/subscribe, /unsubscribe and /topics: private article subscriptions, optionally by topic."""

from __future__ import annotations

from bot.chat import ChatKind, Incoming, Post
from bot.context import Context, Reply
from bot.i18n import N_, Lang

PRIVATE_ONLY = N_("Subscriptions work in a private chat with me: message me directly.")


def _describe(topics: tuple[str, ...] | list[str], lang: Lang) -> str:
    if not topics:
        return lang.gettext("every new article")
    return lang.gettext("new articles on {topics}", topics=", ".join(sorted(topics)))


async def subscribe(incoming: Incoming, ctx: Context) -> Reply:
    lang = ctx.lang
    if incoming.chat.kind is not ChatKind.PRIVATE:
        return Post.text(lang.gettext(PRIVATE_ONLY))
    subs = ctx.services.subscriptions
    wanted = [a.lower() for a in ctx.args]
    unknown = [t for t in wanted if t not in subs.topics]
    if unknown:
        if not subs.topics:
            return Post.text(
                lang.gettext(
                    "Unknown topic(s): {unknown}. There are no topics: /subscribe alone gets "
                    "every article.",
                    unknown=", ".join(unknown),
                )
            )
        return Post.text(
            lang.gettext(
                "Unknown topic(s): {unknown}. Topics: {topics}.",
                unknown=", ".join(unknown),
                topics=", ".join(subs.topics),
            )
        )
    current = await subs.topics_of(incoming.platform, incoming.chat.id)
    # Adding topics narrows "everything" to them, or widens an existing topic list.
    topics = sorted(set(wanted) | set(current if current and wanted else ()))
    await subs.save(incoming.platform, incoming.chat.id, topics)
    # Articles are written later, in the language of the app they subscribed from.
    await ctx.services.people.remember_app_language(incoming.sender, incoming.chat)
    return Post.text(
        lang.gettext("Subscribed: you will get {what}.", what=_describe(topics, lang)),
        lang.gettext("Send /unsubscribe to stop, /topics to see the topics."),
    )


async def unsubscribe(incoming: Incoming, ctx: Context) -> Reply:
    lang = ctx.lang
    if incoming.chat.kind is not ChatKind.PRIVATE:
        return Post.text(lang.gettext(PRIVATE_ONLY))
    subs = ctx.services.subscriptions
    current = await subs.topics_of(incoming.platform, incoming.chat.id)
    if current is None:
        return Post.text(
            lang.gettext("You are not subscribed. Send /subscribe to get new articles.")
        )
    drop = {a.lower() for a in ctx.args}
    if not drop or "all" in drop:
        await subs.remove(incoming.platform, incoming.chat.id)
        return Post.text(lang.gettext("Unsubscribed: you will get no more articles from me."))
    not_subscribed = sorted(drop - set(current))
    if not_subscribed:
        return Post.text(
            lang.gettext(
                "You are not subscribed to {topics}; you get {what}.",
                topics=", ".join(not_subscribed),
                what=_describe(current, lang),
            )
        )
    left = sorted(set(current) - drop)
    if not left:
        # An empty topic list means "everything": removing the last topic ends the subscription.
        await subs.remove(incoming.platform, incoming.chat.id)
        return Post.text(lang.gettext("Unsubscribed: that was your last topic."))
    await subs.save(incoming.platform, incoming.chat.id, left)
    return Post.text(lang.gettext("Done: you now get {what}.", what=_describe(left, lang)))


async def topics(incoming: Incoming, ctx: Context) -> Reply:
    lang = ctx.lang
    subs = ctx.services.subscriptions
    if subs.topics:
        lines = [lang.gettext("Topics: {topics}", topics=", ".join(subs.topics))]
    else:
        lines = [lang.gettext("There are no topics: every article is for everyone.")]
    current = await subs.topics_of(incoming.platform, incoming.chat.id)
    if current is not None:
        lines.append(lang.gettext("You get {what}.", what=_describe(current, lang)))
    elif incoming.chat.kind is ChatKind.PRIVATE:
        lines.append(lang.gettext("You are not subscribed: /subscribe [topic ...]"))
    return Post.text(*lines)
