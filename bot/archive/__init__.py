"""The article archive: every article the bot has seen, for /latest, /search and related."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage import Database
from bot.storage import search as sq
from bot.storage.search import ArchivedArticle

__all__ = ["Archive", "ArchivedArticle"]


@dataclass
class Archive:
    db: Database
    topics_by_category: dict[str, str]  # casefolded category -> topic, from every feed

    def topics_of(self, article: ArchivedArticle) -> set[str]:
        return {t for c in article.categories if (t := self.topics_by_category.get(c.casefold()))}

    def known_filters(self) -> set[str]:
        return {*self.topics_by_category.values(), *self.topics_by_category}

    async def latest(self, limit: int, topic: str | None = None) -> list[ArchivedArticle]:
        """Newest first; `topic` matches a subscriber topic or a feed category."""
        found = await sq.latest(self.db, limit)
        if topic is not None:
            wanted = topic.casefold()
            found = [
                a
                for a in found
                if wanted in self.topics_of(a) or wanted in {c.casefold() for c in a.categories}
            ]
        return found[:limit]

    async def search(self, text: str, limit: int = 10) -> list[ArchivedArticle]:
        return await sq.search(self.db, text, limit)

    async def get(self, article_id: int) -> ArchivedArticle | None:
        return await sq.get_article(self.db, article_id)

    async def related(self, article_id: int, limit: int = 5) -> list[ArchivedArticle]:
        """Articles sharing categories and words with this one, most recent first.

        Shared categories count twice as much as a text match; the article
        itself is never among them.
        """
        article = await self.get(article_id)
        if article is None:
            return []
        mine = {c.casefold() for c in article.categories}
        text_ids = await sq.similar_by_text(self.db, article, limit=20)
        scores: dict[int, float] = {i: 1.0 - rank / 40 for rank, i in enumerate(text_ids)}
        if mine:
            for other in await sq.latest(self.db, 0, scan=2000):
                shared = len(mine & {c.casefold() for c in other.categories})
                if shared and other.id != article.id:
                    scores[other.id] = scores.get(other.id, 0.0) + 2.0 * shared
        best = sorted(scores, key=lambda i: scores[i], reverse=True)[:limit]
        chosen = await sq.with_ids(self.db, best)
        return sorted(chosen, key=lambda a: (a.when, a.id), reverse=True)
