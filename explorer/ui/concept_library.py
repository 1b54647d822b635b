"""The Concepts page's analogies and saved-vector library (combine, export, import)."""

import numpy as np
import streamlit as st

from explorer.core import concept_io, concepts, display
from explorer.core.concepts import Concept, ConceptError
from explorer.core.model_pair import KINDS, ModelPair
from explorer.ui import state, uploads


def analogy_panel(pair: ModelPair) -> None:
    st.subheader("Analogies: a - b + c")
    st.caption(
        "c, changed the way a differs from b: the difference a - b is a concept vector made "
        "from one example each. The first two default to your last two picks on the maps."
    )
    count = len(pair.indices)
    picked = state.picked_pair(count)
    inputs = st.columns(3)
    defaults = (picked[1], picked[0], min(2, count - 1))
    rows = [
        inputs[i].number_input(
            f"{'abc'[i]}: data point #", 0, count - 1, defaults[i], key=f"analogy_{'abc'[i]}"
        )
        for i in range(3)
    ]
    shown = [pair.image(i) for i in rows]
    for kind in KINDS:
        z = concepts.analogy(*(pair.codes[kind][i] for i in rows))
        shown.append(pair.decode(kind, z[None])[0])
    st.image(
        display.display(display.tile(np.stack(shown), 5), 800),
        output_format="PNG",
        caption="a, b, c, then a - b + c decoded by the AE and by the VAE",
    )


def library_panel(pair: ModelPair) -> None:
    saved = state.saved_concepts(pair)
    st.subheader("Saved vectors: combine, export, import")
    if saved:
        st.dataframe(
            [{"name": n, "made": c.description} for n, c in saved.items()], hide_index=True
        )
        chosen = st.multiselect("Combine", list(saved), key="combine")
        weights = [
            st.number_input(
                f"weight of {display.markdown_text(n)}", -5.0, 5.0, 1.0, 0.1, key=f"weight_{n}"
            )
            for n in chosen
        ]
        if st.button("Combine", disabled=len(chosen) < 2, key="make_combined"):
            name = " + ".join(f"{w:g} {n}" for n, w in zip(chosen, weights, strict=True))
            try:
                vectors = {
                    k: concepts.combine([saved[n].vectors[k] for n in chosen], weights)
                    for k in KINDS
                }
                state.save_concept(pair, Concept(name[: concepts.MAX_NAME], vectors, "combined"))
                st.rerun()
            except ConceptError as e:
                st.error(str(e))
        st.download_button(
            "Export all (JSON)",
            concept_io.concepts_to_json(list(saved.values()), pair.latent_dim, state.pair_id(pair)),
            "concepts.json",
            "application/json",
            key="export_concepts",
        )
    upload = uploads.file_uploader("Import (JSON)", ["json"], "import_concepts")
    if upload is not None and st.session_state.get(state.IMPORTED) != upload.file_id:
        st.session_state[state.IMPORTED] = upload.file_id
        try:
            loaded, made_on = concept_io.concepts_from_json(upload.getvalue(), pair.latent_dim)
        except ConceptError as e:
            st.error(display.markdown_text(f"{upload.name}: {e}", 500))
            return
        for concept in loaded:
            state.save_concept(pair, concept)
        st.session_state[state.IMPORT_NOTE] = (len(loaded), made_on)
        st.rerun()  # the vector picker above shows them
    if state.IMPORT_NOTE in st.session_state:
        count, made_on = st.session_state.pop(state.IMPORT_NOTE)
        st.success(f"Imported {count} vector{'' if count == 1 else 's'}.")
        if made_on != state.pair_id(pair):
            made_on = display.markdown_text(made_on or "unknown", 80)  # the file's own words
            st.warning(
                f"They were made on other models ({made_on}): a direction "
                "in one model's latent space may mean nothing in another's."
            )
