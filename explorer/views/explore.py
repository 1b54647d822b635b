"""Explore: the AE and VAE latent maps side by side; click anywhere or drag sliders to decode."""

import numpy as np
import streamlit as st

from explorer import figures, images, ui
from explorer.click import click_listener, latest_click
from explorer.pair import KINDS, ModelPair

# Quick clicks must not count as a double click, which would reset the zoom; PNG export named.
MAP_CONFIG = {"doubleClick": False, "toImageButtonOptions": {"filename": "latent-map", "scale": 2}}

st.title("Latent maps: autoencoder vs variational autoencoder")
pair = ui.model_pair(ui.selection())
if pair is None:
    st.stop()

st.caption(
    f"{pair.dataset.description} Each dot is one image, placed where the encoder puts its code. "
    "**Click a dot** to see the image and how both models rebuild it; **click empty space** to "
    "decode that exact point in both models."
)
attributes = list(pair.dataset.attribute_names)
options = ([None] if pair.dataset.labels is not None else []) + attributes
left, middle, right = st.columns(3)
color_by = left.selectbox("Colour by", options, format_func=lambda a: a or "class", key="color_by")
shared = middle.toggle("Same scale on both maps", value=True, key="shared_scale")
with_pca = right.toggle("Show PCA beside them", key="with_pca")

classes, names = pair.classes(color_by)
xys = {kind: pair.xy(kind) for kind in KINDS}
axis_range = figures.shared_range(*xys.values()) if shared else None
projected = pair.latent_dim > 2
axes = ("PC 1 of the codes", "PC 2 of the codes") if projected else ("z1", "z2")
columns = st.columns(3 if with_pca else 2)
for column, kind in zip(columns, KINDS, strict=False):
    title = f"{kind.upper()} latent space" + (
        f" ({pair.latent_dim}-D, PCA view)" if projected else ""
    )
    column.plotly_chart(
        figures.latent_map(xys[kind], classes, names, title, axes, axis_range),
        key=f"map_{kind}", on_select="ignore", width="stretch", config=MAP_CONFIG,
    )  # fmt: skip
if with_pca:
    columns[2].plotly_chart(
        figures.latent_map(pair.pca_xy(), classes, names, "PCA of the images", ("PC 1", "PC 2")),
        key="map_pca", on_select="ignore", width="stretch", config=MAP_CONFIG,
    )  # fmt: skip
st.caption(
    "**Why the AE map has gaps:** trained on reconstruction alone, the autoencoder may put codes "
    "anywhere, so clusters sit apart and the space between them was never trained: decode a gap "
    "and you get garbage. **The VAE** encodes each image as a distribution and pays a KL penalty "
    "for straying from N(0, I), which packs the codes into one dense, continuous blob."
)


def decoded_image(column, caption: str, x: np.ndarray, name: str) -> None:
    column.image(images.display(x), caption=caption, output_format="PNG")
    column.download_button("PNG", images.png_bytes(x), f"{name}.png", "image/png", key=f"dl_{name}")


@st.fragment
def decode_panel(pair: ModelPair) -> None:
    """Clicks and sliders rerun only this fragment: the maps are not sent again."""
    ui.follow_click(pair, latest_click("latent_click"))  # the click behind this rerun, if any
    point = ui.current_point(pair)
    click_listener([f"map_{k}" for k in KINDS], marker=ui.markers(pair, point), key="latent_click")
    st.subheader("Decode a latent point")
    sliders = st.columns(min(pair.latent_dim, 8))
    for i, (low, high) in enumerate(ui.slider_ranges(pair, point)):
        sliders[i % len(sliders)].slider(
            f"z{i + 1}", low, high, key=ui.slider_key(i), on_change=ui.follow_sliders, args=(pair,)
        )
    point = st.session_state["point"]
    z = np.array([point.z])
    cols = st.columns(4)
    if point.index is not None:
        decoded_image(cols[0], f"data point #{point.index}", pair.image(point.index), "original")
        decoded_image(cols[1], "AE reconstruction", pair.reconstruct("ae", point.index), "ae")
        decoded_image(cols[2], "VAE reconstruction", pair.reconstruct("vae", point.index), "vae")
        decoded_image(cols[3], f"PCA, {pair.pca.n_components_} components",
                      pair.pca_reconstruct(point.index), "pca")  # fmt: skip
    else:
        decoded_image(cols[0], "AE decodes z", pair.decode("ae", z)[0], "ae")
        decoded_image(cols[1], "VAE decodes z", pair.decode("vae", z)[0], "vae")
        cols[2].markdown("z = (" + ", ".join(f"{v:.2f}" for v in point.z) + ")")
    st.caption(
        "The same numbers go to both decoders. Where the AE never put a code, its decoder "
        "has never been trained and the image falls apart; the VAE's decoder was trained on "
        "noisy codes (z = mu + sigma * eps, the reparameterization trick), so every point "
        "near the data decodes to something plausible."
    )


decode_panel(pair)
