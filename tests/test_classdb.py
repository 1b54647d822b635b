"""The class database (explorer/server/classdb.py) against a temporary file: schema, migration,
WAL, concurrent writers, the poll rules and the refusals of hostile input."""

import os
import sqlite3
import threading

import numpy as np
import pytest

from explorer.server import classdb
from explorer.server.classdb import ClassDB, ClassDBError

SHAPE = (1, 8, 8)  # the digits' images
OWNER = "b-" + "0123456789abcdef01234567"  # state.owner_from_cookie's shape


@pytest.fixture
def db(tmp_path):
    return ClassDB(tmp_path / "class.sqlite3")


def pragma(path, name):
    with sqlite3.connect(path) as raw:
        return raw.execute(f"PRAGMA {name}").fetchone()[0]


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


def test_a_new_file_has_the_schema_version_and_wal(db):
    assert pragma(db.path, "user_version") == classdb.VERSION == len(classdb.MIGRATIONS)
    assert pragma(db.path, "journal_mode") == "wal"
    with sqlite3.connect(db.path) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"answers", "reveals", "drawings", "seen", "pace"}


def test_the_default_file_is_in_the_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    assert ClassDB().path == tmp_path / "runs" / "class.sqlite3"
    assert (tmp_path / "runs" / "class.sqlite3").is_file()


def test_a_version_1_file_is_migrated_and_keeps_its_answers(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as raw:  # version 1 by hand: polls only, rollback journal
        raw.executescript(
            "CREATE TABLE answers (step INTEGER NOT NULL, owner TEXT NOT NULL,"
            " choice INTEGER NOT NULL, at REAL NOT NULL, PRIMARY KEY (step, owner));"
            "CREATE TABLE reveals (step INTEGER PRIMARY KEY, at REAL NOT NULL);"
            "INSERT INTO answers VALUES (3, 'b-old', 1, 0.0);"
            "INSERT INTO reveals VALUES (3, 0.0);"
            "PRAGMA user_version = 1;"
        )
    db = ClassDB(path)
    assert pragma(path, "user_version") == classdb.VERSION
    assert pragma(path, "journal_mode") == "wal"
    assert db.tally(3, 4, right=1) == classdb.Tally((0, 1, 0, 0), 1, True, 1)
    db.send_drawing(OWNER, "digits", np.zeros(SHAPE, np.uint8), {"ae": [0.0, 1.0]}, SHAPE, 2)
    db.seen(OWNER)
    assert len(db.drawings("digits")) == 1 and db.present() == 1
    db.bring_to(3)
    assert db.pace()[0] == 3
    ClassDB(path)  # opening a current file again changes nothing
    assert db.answer_of(3, "b-old") == 1


def test_a_file_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "new.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {classdb.VERSION + 1}")
    with pytest.raises(ClassDBError) as error:
        ClassDB(path)
    assert "newer version" in one_line(error)


def test_only_the_first_answer_counts(db):
    assert db.answer(1, OWNER, 2, n_choices=4) is True
    assert db.answer(1, OWNER, 0, n_choices=4) is False  # a change of mind is not counted
    assert db.answer_of(1, OWNER) == 2
    assert db.tally(1, 4, right=0).counts == (0, 0, 1, 0)
    assert db.answer(2, OWNER, 0, n_choices=4) is True  # another step is another poll


def test_the_right_answer_is_not_in_the_tally_before_the_reveal(db):
    for i, choice in enumerate([0, 1, 1, 3]):
        db.answer(5, f"b-{i}", choice, 4)
    before = db.tally(5, 4, right=1)
    assert before == classdb.Tally((1, 2, 0, 1), 4, False, None)
    assert "right=None" in repr(before)
    assert db.tally(6, 4, right=1).right is None  # other steps stay hidden after a reveal
    db.reveal(5)
    db.reveal(5)  # twice is once
    assert db.tally(5, 4, right=1) == classdb.Tally((1, 2, 0, 1), 4, True, 1)
    assert db.tally(6, 4, right=1).right is None


def test_answered_of_present_counts_recent_page_runs(db):
    for i in range(31):
        db.seen(f"b-{i}")
    for i in range(23):
        db.answer(1, f"b-{i}", i % 3, 3)
    assert (db.tally(1, 3, 0).answered, db.present()) == (23, 31)
    with sqlite3.connect(db.path) as raw:  # 8 students last seen an hour ago
        raw.executemany(
            "UPDATE seen SET at = at - 3600 WHERE owner = ?", [(f"b-{i}",) for i in range(23, 31)]
        )
    assert db.present() == 23
    db.absent("b-0")  # the teacher, who opened the page before entering the key
    assert db.present() == 22


def test_bringing_everyone_to_a_step_keeps_the_latest_and_tells_calls_apart(db):
    assert db.pace() is None
    first = db.bring_to(3)
    again = db.bring_to(3)  # the same step again: students who wandered off follow once more
    assert db.pace() == (3, again) and again >= first
    db.bring_to(5)
    assert db.pace()[0] == 5
    with pytest.raises(ValueError, match="step must be"):
        db.bring_to(0)
    assert db.pace()[0] == 5


def test_clear_forgets_the_class(db):
    db.answer(1, OWNER, 1, 2)
    db.reveal(1)
    db.seen(OWNER)
    db.send_drawing(OWNER, "digits", np.zeros(SHAPE, np.uint8), {"vae": [0.5, 0.5]}, SHAPE, 2)
    db.bring_to(4)
    db.clear()
    assert db.tally(1, 2, right=1) == classdb.Tally((0, 0), 0, False, None)
    assert db.answer_of(1, OWNER) is None and db.present() == 0 and db.drawings("digits") == ()
    assert db.pace() is None
    assert db.answer(1, OWNER, 0, 2) is True  # a new class answers afresh


def test_a_drawing_per_student_the_latest_wins_and_clears_per_dataset(db):
    first, latest = np.zeros(SHAPE, np.uint8), np.full(SHAPE, 200, np.uint8)
    db.send_drawing(OWNER, "digits", first, {"ae": [1, 2], "vae": [3, 4]}, SHAPE, 2)
    db.send_drawing(OWNER, "digits", latest, {"ae": [5, 6]}, SHAPE, 2)
    db.send_drawing("b-other", "digits", first, {"vae": [0.25, -1e-3]}, SHAPE, 2)
    db.send_drawing(OWNER, "faces", np.zeros((3, 4, 4), np.uint8), {"ae": [1.0]}, (3, 4, 4), 1)
    mine, theirs = db.drawings("digits")
    assert mine.owner == OWNER and np.array_equal(mine.image, latest)
    assert mine.image.dtype == np.uint8 and mine.codes == {"ae": (5.0, 6.0)}
    assert theirs.codes == {"vae": (0.25, -1e-3)}  # floats come back exactly
    db.clear_drawings("digits")
    assert db.drawings("digits") == () and len(db.drawings("faces")) == 1


def test_a_restart_keeps_what_was_committed(db):
    db.answer(4, OWNER, 1, 3)
    db.reveal(4)
    db.send_drawing(OWNER, "digits", np.ones(SHAPE, np.uint8), {"ae": [0.0, 0.0]}, SHAPE, 2)
    again = ClassDB(db.path)
    assert again.tally(4, 3, right=1) == classdb.Tally((0, 1, 0), 1, True, 1)
    assert np.array_equal(again.drawings("digits")[0].image, np.ones(SHAPE, np.uint8))


@pytest.mark.parametrize("shared", [True, False], ids=["one ClassDB", "one per thread"])
def test_100_students_answering_at_once_lose_nothing_and_count_nothing_twice(db, shared):
    # one ClassDB: the server's sessions queue on its lock; one per thread: SQLite's busy wait
    n, start, counted = 100, threading.Barrier(100), []

    def student(i):
        mine = db if shared else ClassDB(db.path)
        start.wait()
        for choice in (i % 4, (i + 1) % 4):  # the second is a change of mind: ignored
            counted.append(mine.answer(7, f"b-{i}", choice, 4))
        mine.seen(f"b-{i}")

    threads = [threading.Thread(target=student, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counted.count(True) == n and counted.count(False) == n
    assert db.tally(7, 4, right=0).counts == (25, 25, 25, 25)
    assert db.present() == n


def test_1000_answers_from_one_owner_store_one_row_per_step(db):
    for i in range(1000):
        db.answer(1 + i % 10, OWNER, i % 3, 3)
    with sqlite3.connect(db.path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 10
    with pytest.raises(ValueError) as error:
        db.answer(classdb.MAX_STEPS + 1, OWNER, 0, 3)  # steps are bounded: so are the rows
    assert "step must be in" in one_line(error)


SQL = "0); DROP TABLE answers; --"


@pytest.mark.parametrize(
    ("step", "owner", "choice", "says"),
    [
        (1, OWNER, SQL, "choice must be"),
        (1, OWNER, "1", "choice must be"),
        (1, OWNER, 4, "choice must be"),
        (1, OWNER, -1, "choice must be"),
        (1, OWNER, True, "choice must be"),
        (1, SQL, 0, "owner must be"),
        (1, "", 0, "owner must be"),
        (1, "b-" + "0" * 100, 0, "owner must be"),
        (SQL, OWNER, 0, "step must be"),
        (0, OWNER, 0, "step must be"),
        (1.0, OWNER, 0, "step must be"),
    ],
)
def test_hostile_answers_are_refused_in_one_line_and_store_nothing(db, step, owner, choice, says):
    with pytest.raises(ValueError) as error:
        db.answer(step, owner, choice, 4)
    assert says in one_line(error)
    assert db.tally(1, 4, right=0).answered == 0
    assert pragma(db.path, "user_version") == classdb.VERSION  # and every table is still there


def test_an_sql_looking_owner_or_dataset_string_is_only_data_where_it_is_valid(db):
    # the checks refuse it first; were one to let it through, the parameterised query stores it
    db.send_drawing(OWNER, "digits", np.zeros(SHAPE, np.uint8), {"ae": [0, 0]}, SHAPE, 2)
    assert db.drawings(SQL) == () and db.answer_of(1, SQL) is None
    assert len(db.drawings("digits")) == 1


@pytest.mark.parametrize(
    ("image", "codes", "says"),
    [
        (np.zeros((10_000_000,), np.uint8), {"ae": [0, 0]}, "at most 1,000,000 bytes"),
        (np.zeros((1, 8, 9), np.uint8), {"ae": [0, 0]}, "must be (1, 8, 8)"),
        (np.zeros((8, 8), np.uint8), {"ae": [0, 0]}, "must be (1, 8, 8)"),
        (np.zeros(SHAPE, np.float32), {"ae": [0, 0]}, "uint8 array"),
        ([[0] * 8] * 8, {"ae": [0, 0]}, "uint8 array"),
        (np.zeros(SHAPE, np.uint8), {"ae": [0, float("nan")]}, "NaN or infinite"),
        (np.zeros(SHAPE, np.uint8), {"vae": [float("inf"), 0]}, "NaN or infinite"),
        (np.zeros(SHAPE, np.uint8), {"ae": [0, 0, 0]}, "must have 2 numbers"),
        (np.zeros(SHAPE, np.uint8), {"ae": [[0, 0]]}, "must have 2 numbers"),
        (np.zeros(SHAPE, np.uint8), {"ae": ["0", SQL]}, "must be numbers"),
        (np.zeros(SHAPE, np.uint8), {SQL: [0, 0]}, "codes must map"),
        (np.zeros(SHAPE, np.uint8), {}, "codes must map"),
    ],
    ids=[
        "10 MB",
        "wrong size",
        "no channel",
        "float",
        "list",
        "NaN",
        "inf",
        "latent size",
        "nested",
        "strings",
        "SQL kind",
        "no code",
    ],
)
def test_hostile_drawings_are_refused_in_one_line_and_store_nothing(db, image, codes, says):
    with pytest.raises(ValueError) as error:
        db.send_drawing(OWNER, "digits", image, codes, SHAPE, 2)
    assert says in one_line(error)
    assert db.drawings("digits") == ()


def test_a_full_class_map_refuses_a_new_student_but_not_a_redraw(db, monkeypatch):
    monkeypatch.setattr(classdb, "MAX_DRAWINGS", 2)
    image = np.zeros(SHAPE, np.uint8)
    for owner in ("b-1", "b-2"):
        db.send_drawing(owner, "digits", image, {"ae": [0, 0]}, SHAPE, 2)
    with pytest.raises(ValueError) as error:
        db.send_drawing("b-3", "digits", image, {"ae": [0, 0]}, SHAPE, 2)
    assert "clear it" in one_line(error)
    db.send_drawing("b-2", "digits", image + 1, {"ae": [1, 1]}, SHAPE, 2)
    assert [d.owner for d in db.drawings("digits")] == ["b-1", "b-2"]


def test_a_corrupt_file_is_one_clear_line(tmp_path):
    path = tmp_path / "class.sqlite3"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(ClassDBError) as error:
        ClassDB(path)
    assert "unreadable" in one_line(error) and "class.sqlite3" in str(error.value)


def test_a_file_corrupted_while_open_is_one_clear_line(db):
    db.answer(1, OWNER, 0, 2)
    for name in ("class.sqlite3-wal", "class.sqlite3-shm"):  # no WAL left to recover from
        (db.path.parent / name).unlink(missing_ok=True)
    db.path.write_bytes(os.urandom(8192))
    with pytest.raises(ClassDBError) as error:
        db.tally(1, 2, right=0)
    assert "unreadable" in one_line(error)


def test_a_file_locked_at_start_is_one_clear_line(tmp_path):
    ClassDB(tmp_path / "class.sqlite3")
    other = sqlite3.connect(tmp_path / "class.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(ClassDBError) as error:
            ClassDB(tmp_path / "class.sqlite3", timeout_s=0.2)
        assert "locked by another program (waited 0.2 s)" in one_line(error)
    finally:
        other.close()


def test_a_runs_folder_that_cannot_be_made_is_one_clear_line(tmp_path):
    (tmp_path / "runs").write_text("a file where the folder should be")
    with pytest.raises(ClassDBError) as error:
        ClassDB(tmp_path / "runs" / "class.sqlite3")
    assert "its folder cannot be made" in one_line(error)


def test_a_file_locked_by_another_program_is_one_clear_line(tmp_path):
    db = ClassDB(tmp_path / "class.sqlite3", timeout_s=0.2)
    other = sqlite3.connect(db.path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another writer holds it
        with pytest.raises(ClassDBError) as error:
            db.answer(1, OWNER, 0, 2)
        assert "locked by another program" in one_line(error)
        assert db.tally(1, 2, right=0).answered == 0  # WAL: reading goes on meanwhile
        other.execute("COMMIT")
        assert db.answer(1, OWNER, 0, 2) is True  # and writing once it is let go
    finally:
        other.close()
