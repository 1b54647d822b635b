"""The teaching instruments: each is one view of the model pair with a paragraph for the class
beside it, shown on the Instruments page and by the Lesson's steps.

Each module in this package defines INSTRUMENT; the pure computations behind a view live in
explorer/core, so they are tested against oracles without Streamlit.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from explorer.core.model_pair import ModelPair

# Module names, in the order the page lists them (the lectures' order).
MODULES = ("ellipses", "holes", "timelapse", "beta_dial", "architectures", "fakes", "features")


@dataclass(frozen=True)
class Instrument:
    """key: the URL's ?instrument= value; explanation: one short paragraph, in plain words,
    for a class; show(pair, key): draws the view, with widget keys prefixed by key so that a
    page can show it more than once."""

    key: str
    title: str
    explanation: str
    show: Callable[[ModelPair, str], None]


def instruments() -> dict[str, Instrument]:
    """Every instrument by key, imported on first use (each pulls in what it draws with)."""
    modules = [importlib.import_module(f"{__name__}.{name}") for name in MODULES]
    return {module.INSTRUMENT.key: module.INSTRUMENT for module in modules}
