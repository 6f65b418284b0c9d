"""Campaigns and their progress, in minor units; the arithmetic behind /progress and milestones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Re-exported (the `as` form tells mypy so): a campaign's bar is part of its arithmetic.
from bot.chat.bar import progress_bar as progress_bar  # noqa: PLC0414

UNASSIGNED = "unassigned"


@dataclass(frozen=True, slots=True)
class CampaignTranslation:
    """A campaign's title and description in one language ("" where not translated)."""

    title: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Campaign:
    """One fundraising campaign as configured, with every amount in minor units."""

    id: str
    title: str
    earmark: str
    goal: int
    currency: str
    amounts: tuple[int, ...]
    highlight: int | None = None
    description: str = ""
    custom_amount: bool = True
    deadline: date | None = None
    active: bool = True
    channels: tuple[str, ...] = ()
    provider: str = "static"
    milestones: tuple[int, ...] = (25, 50, 75, 100)
    monthly: bool = False  # offers monthly giving (Stripe subscriptions, or a static URL)
    monthly_amounts: tuple[int, ...] = ()
    translations: tuple[tuple[str, CampaignTranslation], ...] = ()  # (language code, text)

    def title_in(self, language: str) -> str:
        """The title people read in `language` ("ru"), else the configured title."""
        return dict(self.translations).get(language, CampaignTranslation()).title or self.title

    def description_in(self, language: str) -> str:
        """The description in `language`, else the configured one."""
        text = dict(self.translations).get(language, CampaignTranslation())
        return text.description or self.description


@dataclass(frozen=True, slots=True)
class Totals:
    """What the ledger adds up to for one campaign in one currency."""

    net: int
    donations: int


@dataclass(frozen=True, slots=True)
class Progress:
    """A campaign's standing: net raised and donations in its own currency, anything in
    other currencies apart, and its running monthly gifts (in its own currency)."""

    campaign: Campaign
    raised: int
    donations: int
    others: tuple[tuple[str, int], ...] = ()
    monthly_supporters: int = 0
    monthly_amount: int = 0

    @property
    def by_currency(self) -> dict[str, int]:
        """Net per currency, the campaign's own first."""
        return {self.campaign.currency: self.raised, **dict(self.others)}


def progress_from_totals(
    campaign: Campaign, totals: dict[str, Totals], monthly: tuple[int, int] = (0, 0)
) -> Progress:
    """Combine a campaign's per-currency totals; other currencies are never converted, and
    the count is of donations in the campaign's own currency only (like the amount).
    `monthly` is (supporters, a month's amount) in the campaign's currency."""
    own = totals.get(campaign.currency, Totals(0, 0))
    others = tuple(
        sorted((cur, t.net) for cur, t in totals.items() if cur != campaign.currency and t.net)
    )
    return Progress(campaign, own.net, own.donations, others, *monthly)


def percent_reached(raised: int, goal: int) -> int:
    """Whole percent of the goal reached, rounded down (milestones use this)."""
    return max(0, raised) * 100 // goal


def percent_shown(raised: int, goal: int) -> int:
    """Percent for display, rounded half up, but never 100 before the goal is really reached."""
    shown = (max(0, raised) * 200 + goal) // (2 * goal)
    return min(shown, 99) if raised < goal else shown


def thresholds_reached(campaign: Campaign, raised: int) -> list[int]:
    """The campaign's milestone thresholds (percent) that `raised` has reached."""
    reached = percent_reached(raised, campaign.goal)
    return [t for t in campaign.milestones if t <= reached]
