"""The teacher key in the app: the sidebar's unlock field, and the check that training, uploads
and deleting runs make. With no key configured (a personal machine) everyone is the teacher.

The key is entered once per browser session: unlocking remembers this browser's owner id
(state.owner(), kept across reloads and tabs until the browser closes) on the server.

A key setting that is there but unusable (empty, blank, padded) stops the server: an empty one
used to mean "no key" and opened everything without a word (check_setting)."""

from __future__ import annotations

import functools
import math
import os
import sys
import threading

import streamlit as st
from streamlit import runtime

from explorer.server import classroom
from explorer.ui import state

WRONG_TRIES = 5  # wrong keys per browser per minute, before it must wait
SERVER_WRONG_TRIES = 30  # from all browsers together: a fresh browser costs a guesser nothing
STOP_AFTER_S = 2.0  # an unusable key setting stops the server this long after the first page
KEY_FIELD, UNLOCK, LOCK = "teacher_key", "teacher_unlock", "teacher_lock"  # widget keys
# What the server's log says once, at the first page opened (never the key itself).
KEY_IN_FORCE = (
    "Teacher key: set; only browsers that enter it can train, upload, publish and delete runs."
)
NO_KEY = "Teacher key: none; every browser can train, upload, publish and delete runs."


@st.cache_resource
def _unlocked() -> tuple[set[str], threading.Lock, classroom.WrongKeys]:
    """Owner ids that entered the key, and the wrong-key limits: one per server."""
    return set(), threading.Lock(), classroom.WrongKeys(WRONG_TRIES, SERVER_WRONG_TRIES)


def key() -> str | None:
    """The configured key, or None; classroom.KeySettingError where the setting is unusable."""
    try:
        from_secrets = st.secrets.get(classroom.KEY_SECRET)
    except Exception:  # no secrets.toml, or one Streamlit cannot parse: the variable decides
        from_secrets = None
    return classroom.configured_key(None if from_secrets is None else str(from_secrets))


def check_setting() -> None:
    """Stop where the key setting is unusable, else say once per process in the log whether a
    key is in force. Streamlit runs no app code before the first page is opened, so that is when
    the server stops: one line on stderr, exit status 1, and the page shows why until then. Under
    AppTest (the tests' own process, which must go on) the page shows why and nothing else."""
    try:
        has_key = key() is not None
    except classroom.KeySettingError as e:
        _log_once(f"Latent Explorer will not start: {e}")
        # Armed before any st call: a browser that leaves at once makes the next st call raise
        # Streamlit's stop, and a timer armed after it never was, so the server kept running.
        if _in_a_server():  # after a moment, so that this page can show why first
            threading.Timer(STOP_AFTER_S, os._exit, (1,)).start()
        st.error(f"The teacher key's setting is wrong: {e}", icon=":material/lock:")
        st.stop()  # every page stops here, so nothing is served with everything open
    _log_once(KEY_IN_FORCE if has_key else NO_KEY)


@functools.cache  # each line once per process, not once per page
def _log_once(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _in_a_server() -> bool:
    # AppTest runs the script under a stand-in (a mock) of Streamlit's runtime.
    return runtime.exists() and type(runtime.get_instance()) is runtime.Runtime


def configured() -> bool:
    return key() is not None


def unlocked() -> bool:
    """Whether this browser entered the teacher key (a key is set and it matched)."""
    if not configured():
        return False
    owners, lock, _ = _unlocked()
    with lock:
        return state.owner() in owners


def is_teacher() -> bool:
    """Whether this session may train, upload and delete runs: everyone where no key is set."""
    return not configured() or unlocked()


def allowed(action: str) -> bool:
    """Whether this session may do action ("train", "upload files", ...), after saying why not."""
    if is_teacher():
        return True
    st.caption(
        f":material/lock: Only the teacher can {action} on this server (the teacher "
        "key: Teacher, in the sidebar)."
    )
    return False


def sidebar() -> None:
    """The sidebar's Teacher box: unlock with the key, or lock again. Only with a key set."""
    if not configured():
        return
    with st.sidebar.expander("Teacher", expanded=False):
        if is_teacher():
            st.caption("Unlocked in this browser: training, uploads and deleting runs.")
            st.button("Lock", key=LOCK, on_click=lock)
            return
        with st.form("teacher_form", clear_on_submit=True, border=False):
            typed = st.text_input(
                "Teacher key", type="password", key=KEY_FIELD, max_chars=classroom.MAX_KEY_CHARS
            )
            submitted = st.form_submit_button("Unlock", key=UNLOCK)
        if submitted:
            unlock(typed)


def unlock(typed: str) -> None:
    owners, lock_, wrong = _unlocked()
    me = state.owner()
    wait, whole_server = wrong.wait_s(me)
    if whole_server:
        st.error(
            f"Too many wrong keys on this server, from all browsers together: every "
            f"browser must wait {math.ceil(wait)} s."
        )
    elif wait > 0:
        st.error(f"Too many wrong keys: try again in {math.ceil(wait)} s.")
    elif classroom.key_matches(typed, key() or ""):
        with lock_:
            owners.add(me)
        st.rerun()
    else:
        wrong.count(me)
        st.error("That is not the teacher key.")


def lock() -> None:
    owners, lock_, _ = _unlocked()
    with lock_:
        owners.discard(state.owner())
