"""outreach-bot: articles, announcements and earmarked donations in Telegram and Matrix."""

__version__ = "0.1.0"
