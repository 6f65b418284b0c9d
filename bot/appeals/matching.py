"""Which campaign an article appeals for: the feed's own, else the first whose words match."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.feeds.article import Article


@dataclass(frozen=True, slots=True)
class CampaignRule:
    """A campaign as matching sees it: its id, its words, whether it takes donations."""

    id: str
    words: tuple[str, ...] = ()
    active: bool = True


def mentions(words: Iterable[str], article: Article) -> bool:
    """Whether the title or a category contains one of `words` (whole words, any case)."""
    texts = (article.title, *article.categories)
    return any(
        re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE)
        for word in words
        for text in texts
    )


class CampaignMatcher:
    """At most one campaign per article; an inactive campaign is never attached."""

    def __init__(self, rules: Iterable[CampaignRule]) -> None:
        self._rules = list(rules)  # config order: the first match wins
        self._by_id = {r.id: r for r in self._rules}

    def campaign_for(self, feed_campaign: str | None, article: Article) -> str | None:
        """The feed's campaign when it has one, else the first campaign whose words match.

        An inactive campaign counts as absent: a feed whose campaign has ended falls
        back to the words of the campaigns still running.
        """
        rule = self._by_id.get(feed_campaign) if feed_campaign is not None else None
        if rule is not None and rule.active:
            return rule.id
        for rule in self._rules:
            if rule.active and rule.words and mentions(rule.words, article):
                return rule.id
        return None
