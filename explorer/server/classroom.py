"""A class on one server: the teacher key, the class defaults the teacher publishes, and the
per-session rate limits. Plain Python (no Streamlit): the app's explorer/ui/teacher.py and
explorer/ui/uploads.py call these, and the tests call them directly.

The key only separates a teacher from students in one room: it is compared in constant time,
wrong guesses are slowed down per browser, and it never leaves the server. It is not a user
account system; anything that must stay private belongs behind the reverse proxy's login.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
from collections import deque
from pathlib import Path

from explorer.server import runs
from training.atomic import atomic_write

KEY_ENV = "LATENT_EXPLORER_TEACHER_KEY"
KEY_SECRET = "teacher_key"  # its name in Streamlit's secrets (.streamlit/secrets.toml)
PUBLISHED_FILE = "class_defaults.json"  # in the runs folder: dataset -> run id
MAX_KEY_CHARS = 256


def key_matches(given: str, expected: str) -> bool:
    """Whether a typed key is the teacher's, in time independent of where they differ."""
    if not expected or not given or len(given) > MAX_KEY_CHARS:
        return False
    digest = lambda s: hashlib.sha256(s.encode("utf-8", "replace")).digest()  # noqa: E731
    return hmac.compare_digest(digest(given), digest(expected))


class RateLimit:
    """At most `count` events per `seconds` for each holder (a browser's owner id); thread-safe,
    shared by every session of a server. Used for uploads and wrong teacher keys."""

    def __init__(self, count: int, seconds: float, clock=time.monotonic) -> None:
        self.count, self.seconds, self.clock = count, seconds, clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, holder: str) -> float:
        """Seconds until holder may act again; 0 when it may now."""
        with self._lock:
            events = self._recent(holder)
            if len(events) < self.count:
                return 0.0
            return max(0.0, events[0] + self.seconds - self.clock())

    def take(self, holder: str) -> bool:
        """Count one event for holder if the limit allows it; whether it did."""
        with self._lock:
            events = self._recent(holder)
            if len(events) >= self.count:
                return False
            events.append(self.clock())
            return True

    def _recent(self, holder: str) -> deque[float]:
        events = self._events.setdefault(holder, deque())
        while events and events[0] <= self.clock() - self.seconds:
            events.popleft()
        return events


class WrongKeys:
    """Wrong teacher keys: at most `per_browser` a minute from each browser and `per_server` from
    all together, since fresh browsers (new cookies) cost a guesser nothing. Thread-safe."""

    def __init__(self, per_browser: int, per_server: int, clock=time.monotonic) -> None:
        self.browsers = RateLimit(per_browser, 60.0, clock)
        self.server = RateLimit(per_server, 60.0, clock)

    def wait_s(self, owner: str) -> tuple[float, bool]:
        """Seconds until owner may try a key again (0: now), and whether the whole server's
        limit is the reason."""
        mine, everyone = self.browsers.wait_s(owner), self.server.wait_s("")
        return max(mine, everyone), everyone > mine

    def count(self, owner: str) -> None:
        """Count one wrong key from owner, against both limits."""
        self.browsers.take(owner)
        self.server.take("")


# ---- class defaults: the run every student sees as "default" for a dataset ----

_published_lock = threading.Lock()


def published_path() -> Path:
    return runs.runs_dir() / PUBLISHED_FILE


def is_finished_run(run_id: str) -> bool:
    """Whether run_id names a whole pair in runs/jobs/ (checked by shape first: never a path)."""
    return runs.is_run_id(run_id) and runs.has_pair(runs.jobs_dir() / run_id)


def published() -> dict[str, str]:
    """dataset -> run id the teacher published; runs since removed are left out. A missing or
    spoiled file means nothing is published (the built-in defaults apply)."""
    try:
        data = json.loads(published_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        name: run_id
        for name, run_id in data.items()
        if isinstance(name, str) and isinstance(run_id, str) and is_finished_run(run_id)
    }


def published_run(dataset: str) -> str | None:
    return published().get(dataset)


def publish(dataset: str, run_id: str | None) -> None:
    """Make run_id (a finished run on dataset) the class default for dataset, or with None go
    back to the built-in default. Written atomically: a crash leaves the old choice."""
    if run_id is not None and not is_finished_run(run_id):
        raise ValueError(f"there is no finished run {run_id!r} to publish")
    with _published_lock:
        choice = published()
        if run_id is None:
            choice.pop(dataset, None)
        else:
            choice[dataset] = run_id
        with atomic_write(published_path()) as f:
            f.write(json.dumps(choice, indent=1, sort_keys=True).encode())


def pinned() -> set[str]:
    """Run ids the runs folder's size cap never prunes: the published class defaults."""
    return set(published().values())


class KeySettingError(ValueError):
    """A teacher key setting that is there but unusable: the server must not start with it."""


def configured_key(secrets_key: str | None = None) -> str | None:
    """The teacher key: $LATENT_EXPLORER_TEACHER_KEY, else `teacher_key` from Streamlit's secrets
    (passed in by the app), else None (no key: a personal machine, everyone may do everything).

    A setting that is there but empty, blank, padded with white space or too long to type raises
    KeySettingError: empty would silently open everything, and the others never match."""
    if KEY_ENV in os.environ:
        return checked_key(os.environ[KEY_ENV], KEY_ENV, ("Unset it", f"{KEY_ENV}='choose-one'"))
    if secrets_key is not None:
        where = f"{KEY_SECRET} in Streamlit's secrets (.streamlit/secrets.toml)"
        return checked_key(secrets_key, where, ("Remove it", f'{KEY_SECRET} = "choose-one"'))
    return None


def checked_key(key: str, where: str, fix: tuple[str, str]) -> str:
    """key, if a teacher could type it; else KeySettingError, one line that names where it is
    set and the fix (how to remove it, an example of a real one), never the key itself."""
    if not key.strip():
        problem = "is set but empty" if not key else "is set but holds only white space"
    elif key != key.strip():
        problem = "starts or ends with white space (nobody would type it)"
    elif len(key) > MAX_KEY_CHARS:
        problem = f"is longer than the {MAX_KEY_CHARS} characters the Teacher box takes"
    else:
        return key
    remove, example = fix
    raise KeySettingError(
        f"{where} {problem}. {remove} (no teacher key: every browser may train, upload and "
        f"delete runs) or set a real key, e.g. {example}."
    )
