from __future__ import annotations

from bot.chat.bar import progress_bar


def test_the_bar_fills_by_whole_steps() -> None:
    assert progress_bar(62, 100) == "▓▓▓▓▓▓░░░░"
    assert progress_bar(99, 100) == "▓" * 9 + "░"
    assert progress_bar(3, 4, cells=4) == "▓▓▓░"


def test_the_bar_stays_between_empty_and_full() -> None:
    assert progress_bar(0, 100) == "░" * 10
    assert progress_bar(-5, 100) == "░" * 10
    assert progress_bar(150, 100) == "▓" * 10


def test_nothing_to_do_is_a_full_bar() -> None:
    assert progress_bar(0, 0) == "▓" * 10
