"""Storage: the database seam, its SQLite backend, migrations and typed queries.

All SQL lives here. Services use `Database` and `Tx` (see `bot.storage.db`) and the
query functions of the modules beside this one.
"""

from bot.storage.db import Database, DatabaseTooNew, MigrationError, StorageUnavailable, Tx
from bot.storage.opener import StorageTarget, open_storage
from bot.storage.sqlite import open_database

__all__ = [
    "Database",
    "DatabaseTooNew",
    "MigrationError",
    "StorageTarget",
    "StorageUnavailable",
    "Tx",
    "open_database",
    "open_storage",
]
