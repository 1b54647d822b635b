"""The Lesson's questions (explorer/core/lesson.py), without the app."""

from collections import Counter

import numpy as np

from explorer.core.lesson import STEPS


def test_no_place_among_the_choices_holds_more_than_half_of_the_right_answers():
    places = Counter(step.question.answer for step in STEPS)
    assert max(places.values()) <= len(STEPS) / 2, places


def test_the_smile_steps_alpha_starts_at_the_vaes_group_gap():
    """As on the Concepts page (concepts.gap_alpha): group 1 sits 3 units further along x."""
    from types import SimpleNamespace

    from explorer.core.lesson import smile_alpha

    y = np.repeat([0, 1], 500)
    codes = np.random.default_rng(0).standard_normal((1000, 4))
    codes[:, 0] = np.tile([-0.5, 0.5], 500) + 3.0 * y  # spread along x: sqrt(0.25 + 2.25)
    pair = SimpleNamespace(codes={"vae": codes}, attribute_values=lambda name: y)
    assert smile_alpha(pair) == round(3 / np.sqrt(2.5), 1) == 1.9
