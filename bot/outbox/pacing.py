"""Pacing lives with the chat model (`bot.chat.pacing`): adapters pace every API call."""

from bot.chat.pacing import CallGate, Pacer, urgent

__all__ = ["CallGate", "Pacer", "urgent"]
