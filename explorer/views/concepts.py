"""Concepts: make a concept vector (smile), add it to an image in both models, check it."""

from dataclasses import replace

import numpy as np
import streamlit as st

from explorer import concepts, figures, images, ui
from explorer.concepts import Concept, ConceptError, Groups
from explorer.pair import KINDS

STRIP = 7  # images in the -alpha .. +alpha strip

st.title("Concepts: directions that mean something")
pair = ui.model_pair(ui.selection())
if pair is None:
    st.stop()
st.caption(
    "In a well-structured latent space a direction can mean something: the average code of "
    "smiling faces minus the average code of the others is a **smile vector** v, and adding it "
    "to any face's code, z + alpha * v, makes that face smile. Each model gets its own vector "
    "(their latent spaces differ). The VAE's dense, continuous space is where this works best; "
    "the AE's gaps show up as edits that fall apart."
)
saved = ui.saved_concepts(pair)
attributes = pair.dataset.attribute_names
column_of = {name: i for i, name in enumerate(attributes)}


def attribute_values(name: str) -> np.ndarray:
    """(M,) 0/1 values of an attribute for the plotted points."""
    return pair.dataset.attributes[pair.indices, column_of[name]].astype(int)


def picked_groups() -> tuple[Groups, str]:
    """Two groups picked on a map with box or lasso (stored in the session), and their name."""
    kind = st.radio("Select on the map of", KINDS, format_func=str.upper, horizontal=True,
                    key="pick_kind")  # fmt: skip
    classes, names = pair.classes(attributes[0] if attributes else None)
    fig = figures.latent_map(pair.xy(kind), classes, names, "Drag a box or lasso around points")
    fig.update_layout(dragmode="lasso", clickanywhere=False)
    event = st.plotly_chart(fig, key="pick_map", on_select="rerun",
                            selection_mode=("box", "lasso"), width="stretch")  # fmt: skip
    chosen = [p["point_index"] for p in event.selection.points if p["curve_number"] == 0]
    left, right = st.columns(2)
    for column, group in zip((left, right), ("group_a", "group_b"), strict=True):
        label = "from (A)" if group == "group_a" else "towards (B)"
        if column.button(f"Use the {len(chosen)} selected points as group {label}",
                         key=f"set_{group}", disabled=not chosen):  # fmt: skip
            st.session_state[group] = chosen
        column.caption(f"Group {label}: {len(st.session_state.get(group, []))} points")
    rows, y = concepts.two_groups(
        np.array(st.session_state.get("group_a", []), int),
        np.array(st.session_state.get("group_b", []), int),
    )
    return Groups(rows, y, ("group A", "group B")), "A to B"


def groups_from_widgets() -> tuple[Groups, str]:
    """The two groups the user describes: an attribute, two classes or two selections."""
    sources = (["an attribute"] if attributes else []) + (
        ["two classes"] if pair.dataset.labels is not None else []
    ) + ["two groups picked on the map"]  # fmt: skip
    source = st.radio("Make it from", sources, horizontal=True, key="concept_source")
    if source == "an attribute":
        name = st.selectbox("Attribute", attributes, key="concept_attribute")
        y = attribute_values(name)
        return Groups(np.arange(len(y)), y, (f"not {name}", name)), name
    if source == "two classes":
        labels, class_names = pair.classes()
        left, right = st.columns(2)
        a = left.selectbox("From class", range(len(class_names)), min(1, len(class_names) - 1),
                           format_func=class_names.__getitem__, key="concept_from")  # fmt: skip
        b = right.selectbox("Towards class", range(len(class_names)), 7 % len(class_names),
                            format_func=class_names.__getitem__, key="concept_to")  # fmt: skip
        rows, y = concepts.two_groups(np.flatnonzero(labels == a), np.flatnonzero(labels == b))
        return Groups(rows, y, (class_names[a], class_names[b])), (
            f"{class_names[a]} to {class_names[b]}"
        )
    return picked_groups()


def make_panel() -> None:
    st.header("1. Make a concept vector")
    groups, default_name = groups_from_widgets()
    left, middle, right = st.columns(3)
    method = left.radio("Method", list(concepts.METHODS), format_func=concepts.METHODS.get,
                        key="concept_method")  # fmt: skip
    balance = middle.selectbox(
        "Balance against", [None, *attributes], format_func=lambda a: a or "nothing",
        key="concept_balance",
        help="Reweights each group so that this attribute is equally common in both: the "
        "vector cannot pick up a difference in it (smile balanced for Male).",
    )  # fmt: skip
    # Keyed by the default: another choice of groups brings its own name.
    name = right.text_input("Name", default_name, max_chars=concepts.MAX_NAME,
                            key=f"concept_name:{default_name}")  # fmt: skip
    if st.button("Make the vector", type="primary", key="make_concept"):
        values = None if balance is None else attribute_values(balance)[groups.rows]
        groups = replace(groups, method=method, balance=values, balance_name=balance or "")
        try:
            ui.save_concept(pair, concepts.make_concept(name, pair.codes, groups))
        except ConceptError as e:
            st.error(str(e))


def chosen_image() -> tuple[np.ndarray | None, dict[str, np.ndarray] | None, str]:
    """The image to edit, its code in each model, and its caption."""
    source = st.radio("Image", ["a data point", "your own image"], horizontal=True,
                      key="edit_source")  # fmt: skip
    if source == "your own image":
        x = ui.uploaded_image(pair, "edit_upload")
        if x is None:
            return None, None, ""
        return x, {kind: pair.encode(kind, x[None])[0] for kind in KINDS}, "your image"
    point = st.session_state.get("point")
    start = point.index if point is not None and point.index is not None else 0
    index = st.number_input("Data point # (click one on the Explore page)", 0,
                            len(pair.indices) - 1, min(start, len(pair.indices) - 1),
                            key="edit_index")  # fmt: skip
    return pair.image(index), {k: pair.codes[k][index] for k in KINDS}, f"data point #{index}"


def warn_if_outside(kind: str, z: np.ndarray, alphas: np.ndarray) -> None:
    ratios = pair.regions[kind].distance_ratio(z)
    outside = sorted({round(a, 1) for a, r in zip(alphas, ratios, strict=True) if r > 1})
    outside = [f"{a:+.1f}" for a in outside]
    if outside:
        st.warning(
            f"{kind.upper()}: alpha {', '.join(outside)} leaves the region where the data's "
            f"codes lie (up to {ratios.max():.1f}x the distance any data point has to its "
            "neighbours): the decoder was never trained there, so trust those images less."
        )


def edit_panel(concept: Concept) -> None:
    st.header("2. Add it to an image: z + alpha * v")
    x, codes, caption = chosen_image()
    if x is None:
        st.info("Upload a PNG or JPEG: it is cropped, resized and coloured like the dataset.")
        return
    alpha = st.slider("alpha, in spreads of the data along v", -4.0, 4.0, 2.0, 0.1,
                      key="alpha")  # fmt: skip
    alphas = np.append(concepts.strip_alphas(alpha, STRIP), alpha)  # the strip, then alpha
    shown = [(x, caption)]
    strips, edits = {}, {}
    for kind in KINDS:
        u = concept.vectors[kind]
        edits[kind] = concepts.edit(codes[kind], u, concepts.spread(pair.codes[kind], u), alphas)
        decoded = pair.decode(kind, np.concatenate([codes[kind][None], edits[kind]]))
        shown += [(decoded[0], f"{kind.upper()} reconstruction"),
                  (decoded[-1], f"{kind.upper()}, alpha {alpha:+.1f}")]  # fmt: skip
        strips[kind] = images.tile(decoded[1:-1], STRIP)
    for column, (image, text) in zip(st.columns(len(shown)), shown, strict=True):
        column.image(images.display(image), caption=text, output_format="PNG")
    for column, kind in zip(st.columns(2), KINDS, strict=True):
        column.image(
            images.display(strips[kind], 480),
            output_format="PNG",
            caption=f"{kind.upper()}: alpha from {alphas[0]:+.1f} to {alphas[-2]:+.1f}",
        )
        column.download_button("PNG", images.png_bytes(strips[kind], 480), f"edit_{kind}.png",
                               "image/png", key=f"dl_edit_{kind}")  # fmt: skip
        with column:
            warn_if_outside(kind, edits[kind], alphas)
    st.caption(
        "alpha = 1 moves the code by one standard deviation of the data along v, so both models "
        "are moved comparably although their codes have different scales."
    )


def other_vectors(concept: Concept, kind: str) -> dict[str, np.ndarray]:
    """The vectors to check a concept against: every attribute's, and the other saved ones."""
    own = set(concept.groups.names) if concept.groups else set()
    out = {}
    for name in attributes:
        if name not in own:
            out[name] = concepts.direction(pair.codes[kind], attribute_values(name))
    out.update({n: c.vectors[kind] for n, c in saved.items() if n != concept.name})
    return out


def card(concept: Concept, kind: str) -> concepts.ReportCard:
    """The report card, kept in the session until the saved vectors change (ui.save_concept):
    its bootstrap takes up to a second with the logistic method."""
    key = (concept.name, kind)
    cards = st.session_state.setdefault("report_cards", {})
    if key not in cards:
        groups = concept.groups
        cards[key] = concepts.report_card(
            pair.codes[kind][groups.rows], groups.y, groups.method, groups.balance,
            other_vectors(concept, kind), pair.codes[kind],
            concept.vectors[kind] if concept.adjusted else None,
        )  # fmt: skip
    return cards[key]


def report_panel(concept: Concept) -> None:
    st.header("3. Can it be trusted?")
    st.caption(f"**{concept.name}**: {concept.description}.")
    if concept.groups is None:
        st.info("Imported and combined vectors have no groups to check them on.")
    else:
        for column, kind in zip(st.columns(2), KINDS, strict=True):
            with column:
                card_column(concept, kind)
    orthogonal_panel(concept)


def card_column(concept: Concept, kind: str) -> None:
    result, groups, u = card(concept, kind), concept.groups, concept.vectors[kind]
    a, b, c = st.columns(3)
    a.metric("AUC" if concept.adjusted else "AUC (held out)", f"{result.auc:.2f}",
             help="How well the position along v tells the groups apart: 1 perfect, 0.5 "
             "chance.")  # fmt: skip
    b.metric("stability", f"{result.cosine_median:.2f}",
             help="Median cosine between v and the vectors made from bootstrap resamples "
             f"(5% of them below {result.cosine_low:.2f}).")  # fmt: skip
    c.metric("group gap", f"{result.gap:.1f}",
             help="The groups' distance along v in spreads: a good first alpha.")  # fmt: skip
    codes = pair.codes[kind]
    along = (codes[groups.rows] - codes.mean(0)) @ u / concepts.spread(codes, u)
    title = f"{kind.upper()}: the groups along v"
    st.plotly_chart(figures.group_histograms(along, groups.y, groups.names, title),
                    key=f"hist_{kind}")  # fmt: skip
    if result.side_effects:
        title = f"{kind.upper()}: what else moves"
        st.plotly_chart(figures.side_effect_bars(result.side_effects, title), key=f"side_{kind}")


def orthogonal_panel(concept: Concept) -> None:
    names = list(other_vectors(concept, "vae"))
    chosen = st.multiselect("Make it orthogonal to", names, key="orthogonal_to",
                            help="Removes from v its component along these vectors: moving "
                            "along the result leaves their projections unchanged.")  # fmt: skip
    if st.button("Make orthogonal", disabled=not chosen, key="make_orthogonal"):
        try:
            vectors = {}
            for kind in KINDS:
                others = other_vectors(concept, kind)
                vectors[kind] = concepts.orthogonalize(concept.vectors[kind],
                                                       [others[n] for n in chosen])  # fmt: skip
        except ConceptError as e:
            st.error(str(e))
            return
        against = ", ".join(chosen)
        ui.save_concept(pair, replace(
            concept, name=f"{concept.name} orthogonal to {against}"[: concepts.MAX_NAME],
            vectors=vectors, description=f"{concept.description}, orthogonal to {against}",
            adjusted=True,
        ))  # fmt: skip
        st.rerun()


def axis_panel(concept: Concept) -> None:
    if not st.toggle("Show the maps on the concept's axis", key="concept_axis"):
        return
    classes, names = None, ()
    if concept.groups is not None:  # colour the groups, and points in neither
        classes = np.full(len(pair.indices), 2)
        classes[concept.groups.rows] = concept.groups.y
        names = (*concept.groups.names, "neither")
    for column, kind in zip(st.columns(2), KINDS, strict=True):
        plane = concepts.concept_plane(pair.codes[kind], concept.vectors[kind])
        column.plotly_chart(
            figures.latent_map(plane.to_plane(pair.codes[kind]), classes, names,
                               f"{kind.upper()}: x along {concept.name}",
                               (f"along {concept.name}", "the widest other direction")),
            key=f"axis_{kind}",
        )  # fmt: skip


def analogy_panel() -> None:
    st.header("Analogies: a - b + c")
    st.caption(
        "c, changed the way a differs from b: the difference a - b is a concept vector made "
        "from one example each. The first two default to your last two picks on the maps."
    )
    count = len(pair.indices)
    picked = ui.picked_pair(count)
    inputs = st.columns(3)
    defaults = (picked[1], picked[0], min(2, count - 1))
    rows = [inputs[i].number_input(f"{'abc'[i]}: data point #", 0, count - 1, defaults[i],
                                   key=f"analogy_{'abc'[i]}") for i in range(3)]  # fmt: skip
    shown = [pair.image(i) for i in rows]
    for kind in KINDS:
        z = concepts.analogy(*(pair.codes[kind][i] for i in rows))
        shown.append(pair.decode(kind, z[None])[0])
    st.image(images.display(images.tile(np.stack(shown), 5), 800), output_format="PNG",
             caption="a, b, c, then a - b + c decoded by the AE and by the VAE")  # fmt: skip


def library_panel() -> None:
    st.header("Saved vectors: combine, export, import")
    if saved:
        st.dataframe([{"name": n, "made": c.description} for n, c in saved.items()],
                     hide_index=True)  # fmt: skip
        chosen = st.multiselect("Combine", list(saved), key="combine")
        weights = [st.number_input(f"weight of {n}", -5.0, 5.0, 1.0, 0.1, key=f"weight_{n}")
                   for n in chosen]  # fmt: skip
        if st.button("Combine", disabled=len(chosen) < 2, key="make_combined"):
            name = " + ".join(f"{w:g} {n}" for n, w in zip(chosen, weights, strict=True))
            try:
                vectors = {k: concepts.combine([saved[n].vectors[k] for n in chosen], weights)
                           for k in KINDS}  # fmt: skip
                ui.save_concept(pair, Concept(name[: concepts.MAX_NAME], vectors, "combined"))
                st.rerun()
            except ConceptError as e:
                st.error(str(e))
        st.download_button(
            "Export all (JSON)",
            concepts.concepts_to_json(list(saved.values()), pair.latent_dim, ui.pair_id(pair)),
            "concepts.json", "application/json", key="export_concepts",
        )  # fmt: skip
    upload = st.file_uploader("Import (JSON)", type=["json"], key="import_concepts")
    if upload is not None and st.session_state.get("imported") != upload.file_id:
        st.session_state["imported"] = upload.file_id
        try:
            loaded, made_on = concepts.concepts_from_json(upload.getvalue(), pair.latent_dim)
        except ConceptError as e:
            st.error(f"{upload.name}: {e}")
            return
        for concept in loaded:
            ui.save_concept(pair, concept)
        st.session_state["import_note"] = (len(loaded), made_on)
        st.rerun()  # the vector picker above shows them
    if "import_note" in st.session_state:
        count, made_on = st.session_state.pop("import_note")
        st.success(f"Imported {count} vectors.")
        if made_on != ui.pair_id(pair):
            st.warning(f"They were made on other models ({made_on or 'unknown'}): a direction "
                       "in one model's latent space may mean nothing in another's.")  # fmt: skip


make_panel()
if saved:
    names = list(saved)
    wanted = st.session_state.get("concept")
    # No widget key: save_concept may select a new vector after this box was drawn.
    name = st.selectbox("Vector", names, names.index(wanted) if wanted in names else 0)
    st.session_state["concept"] = name
    edit_panel(saved[name])
    report_panel(saved[name])
    axis_panel(saved[name])
else:
    st.info("Make a vector above (or import one below) to add it to images.")
analogy_panel()
library_panel()
