"""Explore: the AE and VAE latent maps side by side; hover, click or drag sliders to decode, in the
browser. The decoded images sit beside the maps, where the eye is when clicking (the panels:
explorer/ui/explore_panels.py)."""

import streamlit as st

from explorer.ui import class_map, draw, sidebar
from explorer.ui import explore_panels as panels
from training.presets import is_signal

st.header("Latent maps: autoencoder (AE) vs VAE")
pair = sidebar.model_pair(sidebar.selection())
if pair is None:
    st.stop()

panels.hint(pair)
color_by, same_scale, with_pca = panels.map_options(pair)
decode_column = panels.maps(pair, color_by, same_scale, with_pca)
with decode_column:
    if not is_signal(pair.dataset.image_shape):  # a signal (waves) is not drawn with a brush
        draw.toggled_pad(pair)  # beside the maps, where its point shows as the student draws
    panels.decode_panel(pair, with_pca, color_by, same_scale)
class_map.section(pair)  # the teacher's, in a class
