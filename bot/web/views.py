"""What the pages, the widget, the SVG and the live events show about a campaign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.donations.campaigns import Campaign, Totals, percent_shown
from bot.donations.render import monthly_text
from bot.donations.report import campaign_json
from bot.storage.ledger import MonthlyRow
from bot.web.lang import reader


@dataclass(frozen=True, slots=True)
class CampaignView:
    """A campaign with its figures as `outreach-bot progress --json` gives them (minor units)."""

    campaign: Campaign
    figures: dict[str, Any]

    @classmethod
    def of(
        cls, campaign: Campaign, totals: dict[str, Totals], monthly: MonthlyRow | None = None
    ) -> CampaignView:
        """From the campaign's totals per currency and its running monthly gifts."""
        return cls(campaign, campaign_json(campaign, totals, monthly))

    @property
    def raised(self) -> int:
        return int(self.figures["raised"])

    @property
    def donations(self) -> int:
        return int(self.figures["donations"])

    @property
    def monthly_supporters(self) -> int:
        return int(self.figures["monthly_supporters"])

    @property
    def percent(self) -> int:
        """Percent of the goal shown (may pass 100)."""
        return percent_shown(self.raised, self.campaign.goal)

    @property
    def bar_percent(self) -> int:
        """How much of the bar is filled: 0 to 100."""
        return min(100, max(0, self.percent))

    def days_left(self, lang: str, today: date) -> str:
        """ "9 days left", "last day", "ended" in `lang`; "" when the campaign has no deadline."""
        return reader(lang).deadline(self.campaign.deadline, today)

    def others(self) -> list[tuple[str, int]]:
        """Net received in other currencies (never converted), for "also received"."""
        own = self.campaign.currency
        return [(c, n) for c, n in self.figures["by_currency"].items() if c != own and n]

    def display(self, lang: str) -> dict[str, Any]:
        """The figures as a reader of `lang` sees them (what live updates carry)."""
        words = reader(lang)
        cur = self.campaign.currency
        raised, goal = words.money(self.raised, cur), words.money(self.campaign.goal, cur)
        return {
            "percent": self.percent,
            "bar": self.bar_percent,
            "raised": raised,
            "goal": goal,
            # Translators: the progress of a campaign's bar: "$12,340 of $20,000".
            "summary": words.gettext("{raised} of {goal}", raised=raised, goal=goal),
            "donations": words.donations(self.donations),
            # "12 monthly supporters (≈ $180 a month)", or "" while there are none.
            "monthly": monthly_text(
                words, self.monthly_supporters, int(self.figures["monthly_amount"]), cur
            ),
        }

    def event(self, lang: str) -> dict[str, Any]:
        """One live update: the figures, and how to show them in `lang`."""
        return {**self.figures, "display": self.display(lang)}
