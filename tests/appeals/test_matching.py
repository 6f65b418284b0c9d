"""Which campaign an article appeals for: the rules as a table."""

from __future__ import annotations

import pytest

from bot.appeals.matching import CampaignMatcher, CampaignRule
from bot.feeds.article import Article

RULES = [
    CampaignRule("russia", ("anti-war", "Russian protesters")),
    CampaignRule("ukraine", ("Ukraine", "anti-war")),
    CampaignRule("ended", ("Belarus",), active=False),
    CampaignRule("quiet"),
]


def article(title: str, *categories: str) -> Article:
    return Article("k", "https://e.org/a", "https://e.org/a", title, categories=categories)


@pytest.mark.parametrize(
    ("feed_campaign", "title", "categories", "expected"),
    [
        # the feed's campaign comes first, whatever the words say
        ("quiet", "Support Ukraine", (), "quiet"),
        # else the first campaign in config order whose words match
        (None, "Support Russian Anti-War Protesters", (), "russia"),
        (None, "An ANTI-WAR rally", (), "russia"),
        (None, "Aid for Ukraine", (), "ukraine"),
        (None, "Weekly digest", ("Russian protesters",), "russia"),
        (None, "Weekly digest", ("ukraine",), "ukraine"),
        # whole words only
        (None, "Ukrainesque design", (), None),
        (None, "Pro-anti-warfare debate", (), None),
        # no match: no campaign
        (None, "Our annual report", ("reports",), None),
        # an inactive campaign is never attached: as feed campaign or by its words
        ("ended", "Belarus update", (), None),
        ("ended", "Aid for Ukraine", (), "ukraine"),
        (None, "Belarus update", (), None),
        # a feed naming no known campaign falls back to the words
        ("nosuch", "Aid for Ukraine", (), "ukraine"),
    ],
)
def test_campaign_for(
    feed_campaign: str | None, title: str, categories: tuple[str, ...], expected: str | None
) -> None:
    matcher = CampaignMatcher(RULES)
    assert matcher.campaign_for(feed_campaign, article(title, *categories)) == expected
