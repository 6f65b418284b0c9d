"""A person's /language choice: kept per platform user, listed by /mydata, erased by /forgetme."""

from __future__ import annotations

from bot.storage import Database, people
from bot.storage import privacy as pq


async def test_a_choice_is_kept_per_platform_and_user(db: Database) -> None:
    assert await people.get_language(db, "telegram", "42") is None
    await people.set_language(db, "telegram", "42", "ru")
    await people.set_language(db, "matrix", "@ann:example.org", "uk")
    assert await people.get_language(db, "telegram", "42") == "ru"
    assert await people.get_language(db, "matrix", "42") is None
    assert await people.get_language(db, "matrix", "@ann:example.org") == "uk"


async def test_a_new_choice_replaces_the_old_and_none_clears_it(db: Database) -> None:
    await people.set_language(db, "telegram", "42", "ru")
    await people.set_language(db, "telegram", "42", "es")
    assert await people.get_language(db, "telegram", "42") == "es"
    await people.set_language(db, "telegram", "42", None)
    assert await people.get_language(db, "telegram", "42") is None
    rows = await db.fetch_all("SELECT * FROM people")
    assert rows == []


async def test_mydata_lists_the_choice_and_forgetme_erases_it(db: Database) -> None:
    await people.set_language(db, "matrix", "@ann:example.org", "uk")
    await people.set_language(db, "matrix", "@bob:example.org", "es")
    ids = ["!dm:example.org", "@ann:example.org"]  # their DM room and their user id
    records = await pq.records_of(db, "matrix", ids, "matrix:@ann:example.org")
    assert records.language == "uk"

    await pq.erase(db, "matrix", ids, "matrix:@ann:example.org")
    assert await people.get_language(db, "matrix", "@ann:example.org") is None
    assert (await pq.records_of(db, "matrix", ids, "matrix:@ann:example.org")).language is None
    assert await people.get_language(db, "matrix", "@bob:example.org") == "es"
