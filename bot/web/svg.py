"""The self-contained progress image: a bar and "raised of goal", for READMEs and newsletters."""

from __future__ import annotations

from xml.sax.saxutils import escape

from bot.web.views import CampaignView

WIDTH, HEIGHT = 480, 96


def progress_svg(view: CampaignView, display: dict[str, object], title: str) -> bytes:
    """An SVG image with no external references (fonts fall back to the reader's sans-serif)."""
    fill = round((WIDTH - 32) * view.bar_percent / 100)
    summary = escape(f"{display['summary']} ({display['percent']}%)")
    label = escape(title)
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" \
viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}: {summary}">
<title>{label}: {summary}</title>
<rect width="{WIDTH}" height="{HEIGHT}" rx="8" fill="#ffffff"/>
<text x="16" y="28" font-family="system-ui, sans-serif" font-size="16" font-weight="bold" \
fill="#1a1a1a">{label}</text>
<rect x="16" y="40" width="{WIDTH - 32}" height="16" rx="8" fill="#d9dde3"/>
<rect x="16" y="40" width="{fill}" height="16" rx="8" fill="#0b6e3a"/>
<text x="16" y="80" font-family="system-ui, sans-serif" font-size="14" \
fill="#1a1a1a">{summary}</text>
</svg>
""".encode()
