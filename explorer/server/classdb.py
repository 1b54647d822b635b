"""The class's shared state in SQLite: the Lesson's poll answers and reveals, the drawings
students send to the class map, and who is present. No Streamlit: the UI calls these.

    runs/class.sqlite3  (beside it, SQLite's class.sqlite3-wal and -shm while it is open)
      answers(step, owner, choice, at)   first answer per student and step, PRIMARY KEY
      reveals(step, at)                  steps whose right answer the teacher has revealed
      drawings(dataset, owner, shape, image, codes, at)   one per student and dataset
      seen(owner, at)                    last page run of each student, for "23 of 31"
      pace(id = 1, step, at)             the step the teacher last brought everyone to

Owners are the app's opaque ids (explorer/ui/state.owner: "b-" + a hash of the XSRF cookie,
or "s-" + a random id), stored as given: nothing personal is kept. Every query is
parameterised, so a string that looks like SQL is only ever data. A connection is opened per
call (sqlite3 objects are not shared between threads), in WAL mode so that readers never wait
for the writer; writes also take one process-wide lock, and other processes wait up to the
busy timeout. PRAGMA user_version is the schema version; MIGRATIONS bring an older file up
to date on open. Any SQLite failure (a corrupt file, a lock held too long) is a ClassDBError
of one line, which the UI catches to run without class features.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.server import runs

FILENAME = "class.sqlite3"
MAX_STEPS = 100  # a poll's step is 1..MAX_STEPS: one owner can store at most this many answers
MAX_CHOICES = 16
MAX_DRAWING_BYTES = 1_000_000
MAX_DRAWINGS = 500  # per dataset: fresh cookies cost nothing, the disk does
# present: a page run in the last 90 s (the Lesson's counter says so every 30 s while it is
# open, explorer/ui/polls.py), so that a student who closed the page soon stops counting
PRESENT_S = 90.0
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # owners (state.owner's shapes) and dataset names

# Index i brings a file from user_version i to i + 1. Append only: never edit a shipped step.
MIGRATIONS = (
    """CREATE TABLE answers (step INTEGER NOT NULL, owner TEXT NOT NULL,
           choice INTEGER NOT NULL, at REAL NOT NULL, PRIMARY KEY (step, owner));
       CREATE TABLE reveals (step INTEGER PRIMARY KEY, at REAL NOT NULL);""",
    """CREATE TABLE drawings (dataset TEXT NOT NULL, owner TEXT NOT NULL, shape TEXT NOT NULL,
           image BLOB NOT NULL, codes TEXT NOT NULL, at REAL NOT NULL,
           PRIMARY KEY (dataset, owner));
       CREATE TABLE seen (owner TEXT PRIMARY KEY, at REAL NOT NULL);""",
    """CREATE TABLE pace (id INTEGER PRIMARY KEY CHECK (id = 1), step INTEGER NOT NULL,
           at REAL NOT NULL);""",
)
VERSION = len(MIGRATIONS)


class ClassDBError(Exception):
    """The class database cannot be used; str() is one line for the log and the page."""


@dataclass(frozen=True)
class Tally:
    """A poll's answers: counts[i] students chose choice i. right is None until revealed, so
    that no page can show it early."""

    counts: tuple[int, ...]
    answered: int
    revealed: bool
    right: int | None


@dataclass(frozen=True, eq=False)  # eq on arrays is ambiguous
class Drawing:
    """A student's drawing: image as sent (uint8, the dataset's shape), codes per model kind."""

    owner: str
    image: np.ndarray
    codes: dict[str, tuple[float, ...]]
    at: float


def default_path() -> Path:
    return runs.runs_dir() / FILENAME


class ClassDB:
    """The class database at path (default runs/class.sqlite3), created or migrated on open."""

    def __init__(self, path: Path | None = None, timeout_s: float = 5.0) -> None:
        self.path = Path(path) if path else default_path()
        self.timeout_s = timeout_s
        # one writer at a time among this server's sessions (the UI shares one ClassDB): they
        # queue here, not in SQLite's busy loop, which is left to other processes
        self._write_lock = threading.Lock()
        with self._errors(), self._write_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(self._open()) as db:
                # outside any transaction (SQLite refuses the switch inside one); kept in the file
                mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise ClassDBError(f"{self._name}: SQLite will not use WAL here ({mode})")
        with self._connect(write=True) as db:
            self._migrate(db)

    @property
    def _name(self) -> str:
        return f"class database {runs.shown(self.path)}"

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Every SQLite error leaves as a ClassDBError of one line."""
        try:
            yield
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise ClassDBError(
                    f"{self._name} is locked by another program (waited {self.timeout_s:g} s)"
                ) from e
            raise ClassDBError(f"{self._name}: {e}") from e
        except sqlite3.Error as e:  # "file is not a database", "database disk image is malformed"
            raise ClassDBError(
                f"{self._name} is unreadable ({e}); move it away to start anew"
            ) from e
        except OSError as e:  # the runs folder cannot be made: read-only, a file in the way
            raise ClassDBError(
                f"{self._name}: its folder cannot be made ({e.strerror or e})"
            ) from e

    @contextlib.contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for one call, in a transaction that commits when the block ends."""
        lock = self._write_lock if write else contextlib.nullcontext()
        with self._errors(), lock, contextlib.closing(self._open()) as db:
            # IMMEDIATE takes the write lock up front: a read that upgrades later can deadlock
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield db
            db.commit()

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: the only transactions are the explicit BEGINs, none implicit
        db = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        db.execute("PRAGMA synchronous=NORMAL")  # with WAL: an app crash loses no commit
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > VERSION:
            raise ClassDBError(f"{self._name} is from a newer version (schema {version})")
        for step in MIGRATIONS[version:]:
            for statement in filter(str.strip, step.split(";")):
                db.execute(statement)
        db.execute(f"PRAGMA user_version={VERSION}")  # an int we own: PRAGMAs take no params

    # -- polls ---------------------------------------------------------------------------------

    def answer(self, step: int, owner: str, choice: int, n_choices: int) -> bool:
        """Record owner's answer to step's poll; whether it counted (only the first does)."""
        _check_step(step)
        _check_owner(owner)
        if not (_is_int(n_choices) and 2 <= n_choices <= MAX_CHOICES):
            raise ValueError(f"n_choices must be in [2, {MAX_CHOICES}], got {n_choices!r}")
        if not (_is_int(choice) and 0 <= choice < n_choices):
            raise ValueError(
                f"choice must be an option's index in [0, {n_choices}), got {choice!r:.40}"
            )
        with self._connect(write=True) as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO answers (step, owner, choice, at) VALUES (?, ?, ?, ?)",
                (step, owner, choice, time.time()),
            )
            return cur.rowcount == 1

    def answer_of(self, step: int, owner: str) -> int | None:
        """owner's counted answer to step, or None."""
        _check_step(step)
        with self._connect() as db:
            row = db.execute(
                "SELECT choice FROM answers WHERE step = ? AND owner = ?", (step, owner)
            ).fetchone()
        return row[0] if row else None

    def tally(self, step: int, n_choices: int, right: int) -> Tally:
        """step's counts over n_choices; right (the lesson's answer) only once revealed."""
        _check_step(step)
        with self._connect() as db:
            rows = db.execute(
                "SELECT choice, COUNT(*) FROM answers WHERE step = ? GROUP BY choice", (step,)
            ).fetchall()
            revealed = db.execute("SELECT 1 FROM reveals WHERE step = ?", (step,)).fetchone()
        found = dict(rows)
        counts = tuple(found.get(i, 0) for i in range(n_choices))
        return Tally(counts, sum(found.values()), bool(revealed), right if revealed else None)

    def reveal(self, step: int) -> None:
        """Mark step's right answer as shown (the teacher's button); again is a no-op."""
        _check_step(step)
        with self._connect(write=True) as db:
            db.execute("INSERT OR IGNORE INTO reveals VALUES (?, ?)", (step, time.time()))

    # -- pace ---------------------------------------------------------------------------------

    def bring_to(self, step: int) -> float:
        """The teacher's "bring everyone to this step": students follow once. Returns its time,
        which tells this call apart from an earlier one to the same step."""
        _check_step(step)
        at = time.time()
        with self._connect(write=True) as db:
            db.execute("INSERT OR REPLACE INTO pace VALUES (1, ?, ?)", (step, at))
        return at

    def pace(self) -> tuple[int, float] | None:
        """(step, when) the teacher last brought everyone to, or None."""
        with self._connect() as db:
            row = db.execute("SELECT step, at FROM pace").fetchone()
        return (row[0], row[1]) if row else None

    # -- presence ------------------------------------------------------------------------------

    def seen(self, owner: str) -> None:
        """owner ran a page now: counts as present for PRESENT_S seconds."""
        _check_owner(owner)
        with self._connect(write=True) as db:
            db.execute(
                "INSERT INTO seen VALUES (?, ?) ON CONFLICT(owner) DO UPDATE SET at = excluded.at",
                (owner, time.time()),
            )

    def absent(self, owner: str) -> None:
        """owner is not a student (the teacher unlocked this browser): not counted as present."""
        _check_owner(owner)
        with self._connect(write=True) as db:
            db.execute("DELETE FROM seen WHERE owner = ?", (owner,))

    def present(self, within_s: float = PRESENT_S) -> int:
        """How many students ran a page in the last within_s seconds."""
        with self._connect() as db:
            since = time.time() - within_s
            return db.execute("SELECT COUNT(*) FROM seen WHERE at >= ?", (since,)).fetchone()[0]

    # -- drawings ------------------------------------------------------------------------------

    def send_drawing(
        self,
        owner: str,
        dataset: str,
        image: np.ndarray,
        codes: dict[str, Sequence[float]],
        shape: tuple[int, ...],
        latent_dim: int,
    ) -> None:
        """Keep owner's drawing for dataset's class map, replacing their last one. shape and
        latent_dim are the loaded pair's (its images' shape, its codes' length)."""
        _check_owner(owner)
        _check_image(image, tuple(shape))
        clean = _check_codes(codes, latent_dim)
        if not (isinstance(dataset, str) and NAME.fullmatch(dataset)):
            raise ValueError(f"dataset must be a short name, got {dataset!r:.40}")
        with self._connect(write=True) as db:
            n = db.execute(
                "SELECT COUNT(*) FROM drawings WHERE dataset = ? AND owner != ?", (dataset, owner)
            ).fetchone()[0]
            if n >= MAX_DRAWINGS:
                raise ValueError(f"the class map holds {MAX_DRAWINGS} drawings: clear it first")
            row = (dataset, owner, json.dumps(image.shape), image.tobytes(), json.dumps(clean))
            db.execute(
                "INSERT OR REPLACE INTO drawings VALUES (?, ?, ?, ?, ?, ?)", (*row, time.time())
            )

    def drawings(self, dataset: str) -> tuple[Drawing, ...]:
        """dataset's drawings, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT owner, shape, image, codes, at FROM drawings WHERE dataset = ? "
                "ORDER BY at, owner",
                (dataset,),
            ).fetchall()
        return tuple(_drawing(*row) for row in rows)

    def clear_drawings(self, dataset: str) -> None:
        with self._connect(write=True) as db:
            db.execute("DELETE FROM drawings WHERE dataset = ?", (dataset,))

    def clear(self) -> None:
        """Forget the class: every answer, reveal, drawing, who was present and the pace."""
        with self._connect(write=True) as db:
            for table in ("answers", "reveals", "drawings", "seen", "pace"):  # ours, not input
                db.execute(f"DELETE FROM {table}")


def _drawing(owner: str, shape: str, image: bytes, codes: str, at: float) -> Drawing:
    image = np.frombuffer(image, np.uint8).reshape(json.loads(shape)).copy()  # writable
    return Drawing(owner, image, {k: tuple(v) for k, v in json.loads(codes).items()}, at)


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _check_step(step: int) -> None:
    if not (_is_int(step) and 1 <= step <= MAX_STEPS):
        raise ValueError(f"step must be in [1, {MAX_STEPS}], got {step!r:.40}")


def _check_owner(owner: str) -> None:
    if not (isinstance(owner, str) and NAME.fullmatch(owner)):
        raise ValueError(f"owner must be the app's owner id, got {owner!r:.40}")


def _check_image(image: np.ndarray, shape: tuple[int, ...]) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(
            f"a drawing must be a uint8 array, got {getattr(image, 'dtype', image)!r:.40}"
        )
    if image.nbytes > MAX_DRAWING_BYTES:
        raise ValueError(f"a drawing is at most {MAX_DRAWING_BYTES:,} bytes, got {image.nbytes:,}")
    if image.shape != shape:
        raise ValueError(f"a drawing must be {shape}, got {image.shape}")


def _check_codes(codes: dict[str, Sequence[float]], latent_dim: int) -> dict[str, list[float]]:
    """codes as plain floats, each kind's of length latent_dim and finite."""
    if not isinstance(codes, dict) or not codes or not set(codes) <= set(runs.KINDS):
        raise ValueError(f"codes must map some of {runs.KINDS} to a code, got {codes!r:.60}")
    clean = {}
    for kind, code in codes.items():
        try:
            z = np.asarray(code, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"the {kind} code must be numbers") from None
        if z.shape != (latent_dim,):
            raise ValueError(f"the {kind} code must have {latent_dim} numbers, got shape {z.shape}")
        if not np.isfinite(z).all():
            raise ValueError(f"the {kind} code has a NaN or infinite number")
        clean[kind] = [float(v) for v in z]
    return clean
