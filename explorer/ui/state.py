"""This session's state: every st.session_state key the app uses, named once, with accessors.
Pages and tests use these names, never raw strings."""

from __future__ import annotations

import hashlib
import secrets

import streamlit as st

from explorer.core.concepts import Concept
from explorer.core.model_pair import ModelPair
from explorer.core.points import Point

POINT = "point"  # the selected Point
POINT_NOTE = "point_note"  # a message about the last point from outside (refused, clipped)
PICKS = "picks"  # the last two picked data points (seed the interpolation and analogies)
LAST_CLICK = "last_click_seq"  # the click already followed
ALL_SLIDERS = "all_sliders"  # show a slider for every coordinate
CONCEPTS = "concepts"  # name -> Concept, for the pair in CONCEPTS_FOR
CONCEPTS_FOR = "concepts_for"
CONCEPT = "concept"  # the selected concept's name
REPORT_CARDS = "report_cards"  # (concept name, kind) -> ReportCard
GROUPS = ("group_a", "group_b")  # point numbers picked on the map for each group
IMPORTED = "imported"  # the file id of the last imported JSON
IMPORT_NOTE = "import_note"  # (count, made on) after an import
OWNER = "owner"  # this browser's owner id for training jobs (see owner())
SERVER_DECODING = "server_decoding"  # pair id -> why this browser could not decode it
ALPHA = "alpha"  # the concept edit's alpha
CONCEPT_NAME = "concept_name"  # the "Make the vector" form's name box
CONCEPT_NAME_FOLLOWS = "concept_name_follows"  # the name the box shows until the user types
CONCEPT_FORM_FOR = "concept_form_for"  # the dataset the form's choices were made on
INTERP_T = "interp_t"  # where the interpolation's scrub slider was released
LESSON_STEP = "lesson_last_step"  # this session's lesson step, for page links (they drop the URL)
LESSON_REVEALED = "lesson_revealed"  # steps revealed without an answer
LESSON_ANSWERS = "lesson_answers"  # {step number: the first choice given}
POLL_SEEN_AT = "poll_seen_at"  # when this student's presence was last written (explorer/ui/polls)
CLASS_MAPS = "class_maps"  # ((pair, drawings seen), figures) of the teacher's class map
POLL_PACE_AT = "poll_pace_at"  # the teacher's last "bring everyone to this step" followed
JOBS_SEEN_DONE = "jobs_seen_done"  # ids of the ended jobs the job list last drew
RUN_TO_DELETE = "run_to_delete"  # the run whose Delete waits for "Yes, delete"
LESSON_KEYS = "lesson_keys"  # the lesson's keyboard component
PANEL_VIEW = "panel_view"  # {"point", "shown"} of the live panel, for "Download as HTML"


def slider_key(i: int) -> str:
    return f"z_slider_{i}"


def last_choice_key(param: str) -> str:
    """This session's last choice of a sidebar picker (page links drop the URL)."""
    return f"last_{param}"


# ---- the selected point ----


def point() -> Point | None:
    return st.session_state.get(POINT)


def set_point(point: Point) -> None:
    """Select a point: the URL carries it (and the sliders are drawn from it)."""
    st.session_state[POINT] = point
    st.query_params["point"] = point.to_text()


def add_pick(index: int) -> None:
    """Data point index was picked: it and the one before seed the interpolation."""
    st.session_state[PICKS] = [*st.session_state.get(PICKS, [])[-1:], index]


def picked_pair(count: int) -> tuple[int, int]:
    """The last two data points the user clicked (point numbers), else 0 and 1."""
    picks = [i for i in st.session_state.get(PICKS, []) if i < count]
    a, b = ([0, min(1, count - 1)] + picks)[-2:]
    return a, b


def note_point(message: str) -> None:
    st.session_state[POINT_NOTE] = message


def pop_point_note() -> str | None:
    return st.session_state.pop(POINT_NOTE, None)


def server_decoding_reason(pair: ModelPair) -> str | None:
    """Why this browser could not run this pair's decoders (the server decodes), or None."""
    return st.session_state.get(SERVER_DECODING, {}).get(pair_id(pair))


def decode_on_server(pair: ModelPair, reason: str) -> None:
    st.session_state.setdefault(SERVER_DECODING, {})[pair_id(pair)] = reason


# ---- concepts saved in this session ----


def pair_id(pair: ModelPair) -> str:
    return f"{pair.dataset.name}/{pair.label}"


def saved_concepts(pair: ModelPair) -> dict[str, Concept]:
    """This session's concepts, name -> Concept. They belong to one pair of models: another
    pair's latent spaces are different spaces, so picking one starts an empty collection."""
    if st.session_state.get(CONCEPTS_FOR) != (pair_id(pair), pair.latent_dim):
        st.session_state[CONCEPTS_FOR] = (pair_id(pair), pair.latent_dim)
        st.session_state[CONCEPTS] = {}
        st.session_state[REPORT_CARDS] = {}
    return st.session_state[CONCEPTS]


def save_concept(pair: ModelPair, concept: Concept) -> None:
    """Save (or replace, by name) a concept and make it the selected one. Report cards are
    dropped: they compare each vector with the other saved ones."""
    saved_concepts(pair)[concept.name] = concept
    st.session_state[CONCEPT] = concept.name
    st.session_state[REPORT_CARDS] = {}


def report_cards() -> dict:
    return st.session_state.setdefault(REPORT_CARDS, {})


def group(name: str) -> list[int]:
    return st.session_state.get(name, [])


# ---- training jobs ----

XSRF_COOKIE = "_streamlit_xsrf"  # set by Streamlit's server; kept by the browser until it closes


def owner() -> str:
    """Who this session is to the job manager: an owner id the same browser keeps across
    reloads and tabs (a hash of Streamlit's XSRF token, see owner_from_cookie), else (no
    cookie: XSRF protection off, or AppTest) a random id for this session alone."""
    if OWNER not in st.session_state:
        cookie = st.context.cookies.get(XSRF_COOKIE)
        st.session_state[OWNER] = owner_from_cookie(cookie) or f"s-{secrets.token_hex(8)}"
    return st.session_state[OWNER]


def owner_from_cookie(cookie: str | None) -> str | None:
    """A stable owner id from an XSRF cookie, or None. The server re-masks the cookie on every
    response ("2|mask|masked token|time"), so the id hashes the unmasked token, which stays the
    same; only a hash leaves this function, never the token, which guards against CSRF."""
    parts = (cookie or "").strip("\"'").split("|")
    try:
        if len(parts) == 4 and parts[0] == "2":
            mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
            token = bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked))
        elif len(parts) == 1 and parts[0]:  # the older, unmasked format
            token = bytes.fromhex(parts[0])
        else:
            return None
    except (ValueError, ZeroDivisionError):
        return None
    if not token:
        return None
    return "b-" + hashlib.sha256(b"latent-explorer owner\0" + token).hexdigest()[:24]
