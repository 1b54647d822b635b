"""The Concepts page's panels: make a vector, add it to an image, its report card, the
orthogonal version and the concept's axis. Each takes the model pair; the math is in core/."""

from dataclasses import replace

import numpy as np
import streamlit as st

from explorer.core import concept_checks, concepts, display, figures
from explorer.core.concepts import Concept, ConceptError, Groups
from explorer.core.model_pair import KINDS, ModelPair
from explorer.ui import live, state, teacher, uploads

STRIP = 7  # images in the -alpha .. +alpha strip
# A signal's strip: -alpha, 0, +alpha. Seven 128-step lines side by side in a third of the page
# shrink to a third of their width, and the change (a spike) is lost in the squeeze.
SIGNAL_STRIP = 3


def strip_length(pair: ModelPair) -> int:
    return SIGNAL_STRIP if display.is_signal(pair.dataset.image_shape) else STRIP


def picked_groups(pair: ModelPair) -> tuple[Groups, str]:
    """Two groups picked on a map with box or lasso (stored in the session), and their name."""
    attributes = pair.dataset.attribute_names
    kind = st.radio(
        "Select on the map of", KINDS, format_func=str.upper, horizontal=True, key="pick_kind"
    )
    classes, names = pair.classes(attributes[0] if attributes else None)
    fig = figures.latent_map(pair.xy(kind), classes, names, "Drag a box or lasso around points")
    fig.update_layout(dragmode="lasso", clickanywhere=False)
    event = st.plotly_chart(
        fig, key="pick_map", on_select="rerun", selection_mode=("box", "lasso"), width="stretch"
    )
    chosen = [p["point_index"] for p in event.selection.points if p["curve_number"] == 0]
    left, right = st.columns(2)
    for column, group in zip((left, right), state.GROUPS, strict=True):
        label = "from (A)" if group == state.GROUPS[0] else "towards (B)"
        if column.button(
            f"Use the {len(chosen)} selected points as group {label}",
            key=f"set_{group}",
            disabled=not chosen,
        ):
            st.session_state[group] = chosen
        column.caption(f"Group {label}: {len(state.group(group))} points")
    rows, y = concepts.two_groups(
        *(np.array(state.group(g), int) for g in state.GROUPS),
    )
    return Groups(rows, y, ("group A", "group B")), "A to B"


def groups_from_widgets(pair: ModelPair) -> tuple[Groups, str]:
    """The two groups the user describes: an attribute, two classes or two selections."""
    attributes = pair.dataset.attribute_names
    sources = (
        (["an attribute"] if attributes else [])
        + (["two classes"] if pair.dataset.labels is not None else [])
        + ["two groups picked on the map"]
    )
    source = st.radio("Make it from", sources, horizontal=True, key="concept_source")
    if source == "an attribute":
        name = st.selectbox(
            "Attribute",
            attributes,
            concepts.preferred_index(list(attributes)),
            key="concept_attribute",
        )
        y = pair.attribute_values(name)
        return Groups(np.arange(len(y)), y, (f"not {name}", name)), name
    if source == "two classes":
        labels, class_names = pair.classes()
        first, towards = concepts.default_classes(len(class_names))
        left, right = st.columns(2)
        a = left.selectbox(
            "From class",
            range(len(class_names)),
            first,
            format_func=class_names.__getitem__,
            key="concept_from",
        )
        b = right.selectbox(
            "Towards class",
            range(len(class_names)),
            towards,
            format_func=class_names.__getitem__,
            key="concept_to",
        )
        rows, y = concepts.two_groups(np.flatnonzero(labels == a), np.flatnonzero(labels == b))
        return Groups(rows, y, (class_names[a], class_names[b])), (
            f"{class_names[a]} to {class_names[b]}"
        )
    return picked_groups(pair)


# The form's widgets: their choices belong to one dataset (an attribute or class it has).
FORM_KEYS = (
    *("concept_source", "concept_attribute", "concept_from", "concept_to", "concept_method"),
    *("concept_balance", state.CONCEPT_NAME, state.CONCEPT_NAME_FOLLOWS),
)


def reset_form_on_new_data(pair: ModelPair) -> None:
    """After a switch to other data the form starts afresh: a kept attribute or name would make
    a vector the page does not show (the name "Smiling" over CelebA's first attribute)."""
    if st.session_state.get(state.CONCEPT_FORM_FOR) != pair.dataset.name:
        for key in FORM_KEYS:
            st.session_state.pop(key, None)
        st.session_state[state.CONCEPT_FORM_FOR] = pair.dataset.name


def name_box(column, default_name: str) -> str:
    """The vector's name: it follows the chosen groups (an attribute's name) until the user
    types one of their own, which is then kept."""
    shown, followed = (
        st.session_state.get(k) for k in (state.CONCEPT_NAME, state.CONCEPT_NAME_FOLLOWS)
    )
    if shown is None or shown == followed:
        st.session_state[state.CONCEPT_NAME] = default_name
    st.session_state[state.CONCEPT_NAME_FOLLOWS] = default_name
    return column.text_input("Name", max_chars=concepts.MAX_NAME, key=state.CONCEPT_NAME)


def make_panel(pair: ModelPair) -> None:
    """Make a vector from two groups; once made, the page runs again so that the panel folds
    away and the edit (section 2) comes into view."""
    reset_form_on_new_data(pair)
    groups, default_name = groups_from_widgets(pair)
    left, middle, right = st.columns(3)
    method = left.radio(
        "Method", list(concepts.METHODS), format_func=concepts.METHODS.get, key="concept_method"
    )
    balance = middle.selectbox(
        "Balance against",
        [None, *pair.dataset.attribute_names],
        format_func=lambda a: a or "nothing",
        key="concept_balance",
        help="Reweights each group so that this attribute is equally common in both: the "
        "vector cannot pick up a difference in it (smile balanced for Male).",
    )
    name = name_box(right, default_name)
    if st.button("Make the vector", type="primary", key="make_concept"):
        values = None if balance is None else pair.attribute_values(balance)[groups.rows]
        groups = replace(groups, method=method, balance=values, balance_name=balance or "")
        try:
            concept = concepts.make_concept(name, pair.codes, groups)
        except ConceptError as e:
            st.error(display.markdown_text(e, 500))
            return
        state.save_concept(pair, concept)
        st.session_state[state.ALPHA] = concepts.starting_alpha(concept, pair.codes)
        st.rerun()


Codes = dict[str, np.ndarray]  # kind -> (K,) code


def chosen_image(
    pair: ModelPair, concept: Concept, source: str
) -> tuple[np.ndarray | None, Codes | None, str]:
    """The image to edit (a data point, or an upload), its code in each model, its caption."""
    if source == "your own image":
        x = uploads.uploaded_image(pair, "edit_upload")
        if x is None:
            return None, None, ""
        return x, {kind: pair.encode(kind, x[None])[0] for kind in KINDS}, "your image"
    point = state.point()
    start = concepts.starting_row(concept.groups, point.index if point is not None else None)
    count = len(pair.indices)
    # Keyed by the concept: another vector starts on a member of its own "from" group.
    index = st.number_input(
        "Data point # (click one on the Explore page)",
        0,
        count - 1,
        min(start, count - 1),
        key=f"edit_index:{concept.name}",
    )
    return pair.image(index), {k: pair.codes[k][index] for k in KINDS}, f"data point #{index}"


def warn_if_outside(pair: ModelPair, kind: str, z: np.ndarray, alphas: np.ndarray) -> None:
    message = concept_checks.outside_message(kind, alphas, pair.regions[kind].distance_ratio(z))
    if message:
        st.warning(message)


def alpha_control(pair: ModelPair, concept: Concept, codes: dict | None) -> tuple[float, bool]:
    """alpha, and whether the browser decodes: a slider that decodes both models' edit and
    their strips in the browser while it moves (Python gets the value on release), or a plain
    slider when the server decodes."""
    alpha = st.session_state.setdefault(state.ALPHA, concepts.DEFAULT_ALPHA)
    label = "alpha, in spreads of the data along v"
    if codes is not None:
        steps = {
            k: concepts.spread(pair.codes[k], concept.vectors[k]) * concept.vectors[k]
            for k in KINDS
        }
        captions = {"ae": "AE, alpha {value}", "vae": "VAE, alpha {value}"}
        slider = (label, -concepts.ALPHA_MAX, concepts.ALPHA_MAX, 0.1, alpha)
        remember = lambda t: st.session_state.update({state.ALPHA: round(t, 1)})  # noqa: E731
        if live.scrub(
            pair,
            "alpha_scrub",
            codes,
            steps,
            "line",
            slider,
            captions,
            remember,
            strip=strip_length(pair),
        ):
            return alpha, True
    limit = concepts.ALPHA_MAX
    return st.slider(label, -limit, limit, step=0.1, key=state.ALPHA), False


def edit_panel(pair: ModelPair, concept: Concept) -> None:
    st.subheader("2. Add it to an image: z + alpha * v")
    # One row of controls, so that the edited images are in view on a laptop screen.
    source_column, image_column, alpha_column = st.columns(3)
    source = source_column.radio("Image", ["a data point", "your own image"], key="edit_source")
    with image_column:
        x, codes, caption = chosen_image(pair, concept, source)
    with alpha_column:
        alpha, in_browser = alpha_control(pair, concept, codes)
    if x is None:
        if teacher.is_teacher():  # a student has the uploader's lock note instead
            st.info("Upload a PNG or JPEG: it is cropped, resized and coloured like the dataset.")
        return
    strip = strip_length(pair)
    alphas = np.append(concepts.strip_alphas(alpha, strip), alpha)  # the strip, then alpha
    shown = [(x, caption)]
    strips, edits = {}, {}
    for kind in KINDS:
        u = concept.vectors[kind]
        edits[kind] = concepts.edit(codes[kind], u, concepts.spread(pair.codes[kind], u), alphas)
        decoded = pair.decode(kind, np.concatenate([codes[kind][None], edits[kind]]))
        shown += [
            (decoded[0], f"{kind.upper()} reconstruction"),
            (decoded[-1], f"{kind.upper()}, alpha {alpha:+.1f}"),
        ]
        strips[kind] = display.tile(decoded[1:-1], strip)
    for column, (image, text) in zip(st.columns(len(shown)), shown, strict=True):
        column.image(display.display(image), caption=text, output_format="PNG")
    for column, kind in zip(st.columns(2), KINDS, strict=True):
        if not in_browser:  # else the strips move with the slider, beside it
            column.image(
                display.display(strips[kind], 480),
                output_format="PNG",
                caption=f"{kind.upper()}: alpha from {alphas[0]:+.1f} to {alphas[-2]:+.1f}",
            )
            png = display.png_bytes(strips[kind], 480)
            column.download_button(
                "PNG", png, f"edit_{kind}.png", "image/png", key=f"dl_edit_{kind}"
            )
        with column:
            warn_if_outside(pair, kind, edits[kind], alphas)
    st.caption(
        "alpha = 1 moves the code by one standard deviation of the data along v, so both models "
        "are moved comparably although their codes have different scales."
    )


def other_vectors(pair: ModelPair, concept: Concept, kind: str) -> dict[str, np.ndarray]:
    """The vectors to check a concept against: every attribute's, and the other saved ones."""
    attributes = {name: pair.attribute_values(name) for name in pair.dataset.attribute_names}
    return concepts.reference_vectors(
        concept, kind, pair.codes[kind], attributes, state.saved_concepts(pair)
    )


def card(pair: ModelPair, concept: Concept, kind: str) -> concept_checks.ReportCard:
    """The report card, kept in the session until the saved vectors change (ui.save_concept):
    its bootstrap takes up to a second with the logistic method."""
    key = (concept.name, kind)
    cards = state.report_cards()
    if key not in cards:
        groups = concept.groups
        cards[key] = concept_checks.report_card(
            pair.codes[kind][groups.rows],
            groups.y,
            groups.method,
            groups.balance,
            other_vectors(pair, concept, kind),
            pair.codes[kind],
            concept.vectors[kind] if concept.adjusted else None,
        )
    return cards[key]


def report_panel(pair: ModelPair, concept: Concept) -> None:
    st.subheader("3. Can it be trusted?")
    st.caption(
        f"**{display.markdown_text(concept.name)}**: "
        f"{display.markdown_text(concept.description, 500)}."
    )
    if concept.groups is None:
        st.info("Imported and combined vectors have no groups to check them on.")
    else:
        for column, kind in zip(st.columns(2), KINDS, strict=True):
            with column:
                card_column(pair, concept, kind)
    orthogonal_panel(pair, concept)


def card_column(pair: ModelPair, concept: Concept, kind: str) -> None:
    result, groups, u = card(pair, concept, kind), concept.groups, concept.vectors[kind]
    a, b, c = st.columns(3)
    a.metric(
        "AUC" if concept.adjusted else "AUC (held out)",
        f"{result.auc:.2f}",
        help="How well the position along v tells the groups apart: 1 perfect, 0.5 chance.",
    )
    b.metric(
        "stability",
        f"{result.cosine_median:.2f}",
        help="Median cosine between v and the vectors made from bootstrap resamples "
        f"(5% of them below {result.cosine_low:.2f}).",
    )
    c.metric(
        "group gap",
        f"{result.gap:.1f}",
        help="The groups' distance along v in spreads: a good first alpha.",
    )
    along = concepts.positions_along(pair.codes[kind], groups.rows, u)
    title = f"{kind.upper()}: the groups along v"
    st.plotly_chart(
        figures.group_histograms(along, groups.y, groups.names, title), key=f"hist_{kind}"
    )
    if result.side_effects:
        title = f"{kind.upper()}: what else moves"
        st.plotly_chart(figures.side_effect_bars(result.side_effects, title), key=f"side_{kind}")


def orthogonal_panel(pair: ModelPair, concept: Concept) -> None:
    names = list(other_vectors(pair, concept, "vae"))
    chosen = st.multiselect(
        "Make it orthogonal to",
        names,
        key="orthogonal_to",
        help="Removes from v its component along these vectors: moving "
        "along the result leaves their projections unchanged.",
    )
    if st.button("Make orthogonal", disabled=not chosen, key="make_orthogonal"):
        try:
            vectors = {}
            for kind in KINDS:
                others = other_vectors(pair, concept, kind)
                vectors[kind] = concepts.orthogonalize(
                    concept.vectors[kind], [others[n] for n in chosen]
                )
        except ConceptError as e:
            st.error(display.markdown_text(e, 500))
            return
        against = ", ".join(chosen)
        state.save_concept(
            pair,
            replace(
                concept,
                name=f"{concept.name} orthogonal to {against}"[: concepts.MAX_NAME],
                vectors=vectors,
                description=f"{concept.description}, orthogonal to {against}",
                adjusted=True,
            ),
        )
        st.rerun()


def axis_panel(pair: ModelPair, concept: Concept) -> None:
    if not st.toggle("Show the maps on the concept's axis", key="concept_axis"):
        return
    classes, names = None, ()
    if concept.groups is not None:  # colour the groups, and points in neither
        classes, names = concepts.group_classes(len(pair.indices), concept.groups)
    for column, kind in zip(st.columns(2), KINDS, strict=True):
        plane = concepts.concept_plane(pair.codes[kind], concept.vectors[kind])
        column.plotly_chart(
            figures.latent_map(
                plane.to_plane(pair.codes[kind]),
                classes,
                names,
                f"{kind.upper()}: x along {concept.name}",
                (f"along {concept.name}", "the widest other direction"),
            ),
            key=f"axis_{kind}",
        )
