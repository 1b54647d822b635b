"""Generate: the decoded manifold grid, samples from the prior, and interpolation."""

from datetime import datetime
from functools import partial

import numpy as np
import streamlit as st

from explorer.core import animation, display, latent
from explorer.core.figures import map_key
from explorer.core.model_pair import KINDS
from explorer.ui import live, sidebar, state
from explorer.ui.click import visible_area

st.header("Generate: grids, samples and interpolations")
pair = sidebar.model_pair(sidebar.selection())
if pair is None:
    st.stop()


def show(column, caption: str, grid: np.ndarray, name: str) -> None:
    """A (C, H, W) tiled image with a PNG download."""
    column.image(display.display(grid, side=480), caption=caption, output_format="PNG")
    column.download_button(
        "PNG", display.png_bytes(grid, 480), f"{name}.png", "image/png", key=f"dl_{name}"
    )


st.subheader("Manifold grid")
st.caption(
    "An n x n grid of points laid over each map and decoded: the classic figure of the VAE "
    "papers. The VAE's grid changes smoothly everywhere; the AE's breaks down between clusters. "
    "The grid covers the area visible on the Explore page's map: zoom there to look closer "
    "(the Explore page's own grid, beside the maps, follows every zoom and pan live)."
)
left, right = st.columns(2)
n = left.slider("Grid size", 4, latent.MAX_GRID_SIDE, 10, key="grid_n")
prior = right.toggle("VAE grid over the prior's quantiles (5% to 95%)", key="grid_prior")
columns = st.columns(2)
for column, kind in zip(columns, KINDS, strict=True):
    use_prior = prior and kind == "vae"
    area = visible_area(map_key(kind))
    if use_prior:
        plane, where = latent.prior_quantile_grid(n), "prior quantiles"
    elif area is not None:
        plane, where = latent.grid_points(*area, n), "the area visible on its map"
    else:  # the map not zoomed yet: the data's extent, as the map first shows it
        low, high = np.percentile(pair.xy(kind), [1, 99], axis=0)
        plane = latent.grid_points((low[0], high[0]), (low[1], high[1]), n)
        where = "the data's extent (1st-99th percentile)"
    z = plane if use_prior and pair.latent_dim == 2 else pair.projections[kind].to_latent(plane)
    show(
        column,
        f"{kind.upper()} decoded over {where}",
        display.tile(pair.decode(kind, z), n),
        f"grid_{kind}",
    )

st.subheader("Samples from the prior N(0, I)")
st.caption(
    "A VAE is trained so that its codes look like draws from N(0, I): sample there and decode, "
    "and you get new images. An AE was never asked to: the same draws land in places its "
    "decoder never saw."
)
seed = st.number_input("Seed", 0, 10_000, 0, key="sample_seed")
z = latent.sample_prior(16, pair.latent_dim, np.random.default_rng(seed))
columns = st.columns(2)
for column, kind in zip(columns, KINDS, strict=True):
    show(
        column,
        f"{kind.upper()}: 16 samples",
        display.tile(pair.decode(kind, z), 8),
        f"samples_{kind}",
    )

st.subheader("Interpolation between two images")
st.caption(
    "Both images are encoded by each model and the path between their codes decoded. "
    "Spherical interpolation keeps the path where a Gaussian prior has its mass. "
    "The two points start as the last two you clicked on the maps."
)
count = len(pair.indices)
picked = state.picked_pair(count)
a, b, steps = st.columns(3)
first = a.number_input("From data point #", 0, count - 1, picked[0], key="interp_a")
second = b.number_input("To data point #", 0, count - 1, picked[1], key="interp_b")
n_steps = steps.slider("Steps", 3, latent.MAX_STEPS, 8, key="interp_steps")
scrub_column, method_column = st.columns([2, 1])
method = method_column.radio(
    "Scrub along",
    ["linear", "spherical"],
    key="interp_method",
    help="Drag the slider: both models decode as it moves.",
)
with scrub_column:
    live.scrub(
        pair,
        "interp_scrub",
        {k: pair.codes[k][first] for k in KINDS},
        {k: pair.codes[k][second] for k in KINDS},
        "lerp" if method == "linear" else "slerp",
        ("t", 0.0, 1.0, 0.01, st.session_state.get(state.INTERP_T, 0.5)),
        {"ae": "AE at t = {value}", "vae": "VAE at t = {value}"},
        on_value=lambda t: st.session_state.update({state.INTERP_T: t}),
    )
method_column.download_button(
    "Download as GIF",
    partial(animation.interpolation_gif, pair, first, second, n_steps, method),  # on click
    animation.slide_name(pair.dataset.name, "interpolation", datetime.now()),
    "image/gif",
    key="interp_gif",
    on_click="ignore",
    help=f"For a slide: the AE's decode beside the VAE's (256 px each) at each of the {n_steps} "
    f"steps of the {method} path, then back again, so that it loops smoothly.",
)
for kind in KINDS:
    codes = pair.codes[kind]
    for method in ("linear", "spherical"):
        path = latent.interpolate(codes[first], codes[second], n_steps, method)
        show(
            st,
            f"{kind.upper()}, {method}",
            display.tile(pair.decode(kind, path), n_steps),
            f"interp_{kind}_{method}",
        )
