"""Storage: the SQLite connection, migrations and typed queries. All SQL lives here."""

from bot.storage.db import Database, DatabaseTooNew, MigrationError, open_database

__all__ = ["Database", "DatabaseTooNew", "MigrationError", "open_database"]
