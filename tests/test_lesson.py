"""The Lesson's questions (explorer/core/lesson.py), without the app."""

from collections import Counter

from explorer.core.lesson import STEPS


def test_no_place_among_the_choices_holds_more_than_half_of_the_right_answers():
    places = Counter(step.question.answer for step in STEPS)
    assert max(places.values()) <= len(STEPS) / 2, places
