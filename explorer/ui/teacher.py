"""The teacher key in the app: the sidebar's unlock field, and the check that training, uploads
and deleting runs make. With no key configured (a personal machine) everyone is the teacher.

The key is entered once per browser session: unlocking remembers this browser's owner id
(state.owner(), kept across reloads and tabs until the browser closes) on the server."""

from __future__ import annotations

import threading

import streamlit as st

from explorer.server import classroom
from explorer.ui import state

WRONG_TRIES = 5  # wrong keys per browser per minute, before it must wait
KEY_FIELD, UNLOCK, LOCK = "teacher_key", "teacher_unlock", "teacher_lock"  # widget keys


@st.cache_resource
def _unlocked() -> tuple[set[str], threading.Lock, classroom.RateLimit]:
    """Owner ids that entered the key, and the wrong-key limit: one per server."""
    return set(), threading.Lock(), classroom.RateLimit(WRONG_TRIES, 60.0)


def key() -> str | None:
    try:
        from_secrets = st.secrets.get("teacher_key")
    except Exception:  # no secrets.toml, or one Streamlit cannot parse: the variable decides
        from_secrets = None
    return classroom.configured_key(str(from_secrets) if from_secrets else None)


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
    st.caption(f":material/lock: Only the teacher can {action} on this server (the teacher "
               "key: Teacher, in the sidebar).")  # fmt: skip
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
            typed = st.text_input("Teacher key", type="password", key=KEY_FIELD,
                                  max_chars=classroom.MAX_KEY_CHARS)  # fmt: skip
            submitted = st.form_submit_button("Unlock", key=UNLOCK)
        if submitted:
            unlock(typed)


def unlock(typed: str) -> None:
    owners, lock_, wrong = _unlocked()
    me = state.owner()
    wait = wrong.wait_s(me)
    if wait > 0:
        st.error(f"Too many wrong keys: try again in {round(wait)} s.")
    elif classroom.key_matches(typed, key() or ""):
        with lock_:
            owners.add(me)
        st.rerun()
    else:
        wrong.take(me)
        st.error("That is not the teacher key.")


def lock() -> None:
    owners, lock_, _ = _unlocked()
    with lock_:
        owners.discard(state.owner())
