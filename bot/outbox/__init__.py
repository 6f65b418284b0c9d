"""The durable outbox: enqueueing items for many chats and delivering them, paced."""

from bot.outbox.service import Item, Outbox
from bot.outbox.wake import Wake, WakeSignal, WakeSignals

__all__ = ["Item", "Outbox", "Wake", "WakeSignal", "WakeSignals"]
