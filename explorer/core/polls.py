"""A Lesson poll's tally as a bar chart: what the teacher's presenter view shows live, and what
the slide kit exports. Pure: counts in, a figure out."""

from __future__ import annotations

import textwrap

import plotly.graph_objects as go

from explorer.core.display import plotly_text
from explorer.core.figures import PALETTE

RIGHT_COLOR, OTHER_COLOR = PALETTE[2], PALETTE[7]  # green once revealed, grey otherwise
WRAP = 34  # characters per line of a choice's label


def tally_figure(
    choices: tuple[str, ...], counts: tuple[int, ...], right: int | None, title: str
) -> go.Figure:
    """One horizontal bar per choice, in the question's order from the top, each with its count
    and share. right is None until the teacher reveals it: before that every bar is the same
    colour, so that the screen the class sees gives nothing away."""
    if len(choices) != len(counts):
        raise ValueError(f"{len(choices)} choices but {len(counts)} counts")
    total = sum(counts)
    labels = [
        ("✓ " if i == right else "") + "<br>".join(textwrap.wrap(plotly_text(c), WRAP))
        for i, c in enumerate(choices)
    ]
    shares = [f"{n}  ({n / total:.0%})" if total else "0" for n in counts]
    fig = go.Figure(
        go.Bar(
            x=list(counts),
            y=labels,
            orientation="h",
            text=shares,
            textfont={"size": 16},
            textposition="outside",
            cliponaxis=False,
            marker_color=[RIGHT_COLOR if i == right else OTHER_COLOR for i in range(len(counts))],
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        title={"text": plotly_text(title), "x": 0.02, "font": {"size": 18}},
        height=64 + 44 * len(choices),
        font={"size": 16},  # read from the back of a classroom
        margin={"l": 10, "r": 60, "t": 40, "b": 24},
        xaxis={
            "range": [0, max(max(counts, default=0), 1) * 1.25],
            "dtick": _tick(counts),
            "tickfont": {"size": 14},
        },
        # the first choice on top, as the question lists them
        yaxis={"autorange": "reversed", "tickfont": {"size": 16}},
        showlegend=False,
    )
    return fig


def _tick(counts: tuple[int, ...]) -> int:
    """Whole students on the axis: a step of 1 for a small class, coarser for a larger one."""
    top = max(max(counts, default=0), 1)
    return max(1, round(top / 5))
