"""The durable outbox: enqueueing items for many chats and delivering them, paced."""
