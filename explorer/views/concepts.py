"""Concepts: make a concept vector (smile, spike), add it to an image in both models, check it."""

import streamlit as st

from explorer.core import concepts
from explorer.ui import concept_library, concept_panels, sidebar, state

st.header("Concepts: directions that mean something")
pair = sidebar.model_pair(sidebar.selection())
if pair is None:
    st.stop()
st.caption(
    "In a well-structured latent space a direction can mean something: "
    f"{concepts.intro_example(pair.dataset.attribute_names, pair.classes()[1])}. "
    "Each model gets its own vector "
    "(their latent spaces differ). The VAE's dense, continuous space is where this works best; "
    "the AE's gaps show up as edits that fall apart."
)

saved = state.saved_concepts(pair)
# Folded once a vector exists, so that the edit of the vector just made is in view.
with st.expander("Make another vector" if saved else "1. Make a concept vector", not saved):
    concept_panels.make_panel(pair)
if saved:
    names = list(saved)
    wanted = st.session_state.get(state.CONCEPT)
    # No widget key: save_concept may select a new vector after this box was drawn.
    name = st.selectbox("Vector", names, names.index(wanted) if wanted in names else 0)
    st.session_state[state.CONCEPT] = name
    concept_panels.edit_panel(pair, saved[name])
    concept_panels.report_panel(pair, saved[name])
    concept_panels.axis_panel(pair, saved[name])
else:
    st.info("Make a vector above (or import one below) to add it to images.")
concept_library.analogy_panel(pair)
concept_library.library_panel(pair)
