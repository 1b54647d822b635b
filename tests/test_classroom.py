"""The class on one server without Streamlit: the teacher key's check, the rate limits, and the
class defaults the teacher publishes (explorer/server/classroom.py)."""

import json

import pytest

from explorer.server import classroom, runs

RUN = "20261201-101500-0123abcd"


def test_the_key_matches_only_itself():
    assert classroom.key_matches("owl-42", "owl-42")
    for typed in ("owl-4", "owl-42 ", "OWL-42", "", "é" * 10, "x" * 10_000, "owl-42\0"):
        assert not classroom.key_matches(typed, "owl-42")
    assert not classroom.key_matches("", "")  # no key configured: nothing unlocks


def test_the_configured_key_is_the_variable_then_the_secrets_then_none(monkeypatch):
    monkeypatch.delenv(classroom.KEY_ENV, raising=False)
    assert classroom.configured_key() is None
    assert classroom.configured_key("from-secrets") == "from-secrets"
    monkeypatch.setenv(classroom.KEY_ENV, "from-env")
    assert classroom.configured_key("from-secrets") == "from-env"
    monkeypatch.setenv(classroom.KEY_ENV, "")
    assert classroom.configured_key(None) is None


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_rate_limit_allows_count_per_window_for_each_holder():
    clock = Clock()
    limit = classroom.RateLimit(3, 60.0, clock)
    assert [limit.take("a") for _ in range(4)] == [True, True, True, False]
    assert limit.take("b")  # another browser has its own allowance
    assert limit.wait_s("a") == pytest.approx(60.0)
    clock.now += 59.0
    assert not limit.take("a") and limit.wait_s("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert limit.wait_s("a") == 0.0 and limit.take("a")


def finished_run(root, run_id=RUN):
    folder = root / "jobs" / run_id
    folder.mkdir(parents=True)
    for kind in runs.KINDS:
        (folder / f"{kind}.safetensors").write_bytes(b"stand-in")
    return folder


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path))
    return tmp_path


def test_publishing_a_run_makes_it_the_class_default_until_unpublished(root):
    finished_run(root)
    assert classroom.published() == {} and classroom.published_run("digits") is None
    classroom.publish("digits", RUN)
    assert classroom.published_run("digits") == RUN and classroom.pinned() == {RUN}
    assert json.loads((root / classroom.PUBLISHED_FILE).read_text()) == {"digits": RUN}
    classroom.publish("digits", None)
    assert classroom.published() == {} and classroom.pinned() == set()


@pytest.mark.parametrize(
    "run_id",
    ["20261201-101500-99999999", "../default/digits", "/etc", "20261201-101500-0123abcd/..",
     "20261201-101500-0123abc\0", "x" * 5000, "２０２６１２０１-101500-0123abcd"],
)  # fmt: skip
def test_only_a_finished_run_can_be_published(root, run_id):
    finished_run(root)
    with pytest.raises(ValueError, match="there is no finished run"):
        classroom.publish("digits", run_id)
    assert not (root / classroom.PUBLISHED_FILE).exists()


@pytest.mark.parametrize(
    "content",
    ["", "{", "[1, 2]", '{"digits": 3}', '{"digits": "../../etc"}', json.dumps({"digits": RUN})],
)
def test_a_spoiled_or_stale_record_publishes_nothing(root, content):
    # The last case names a run that is not (or no longer) on disk: removed since.
    (root / classroom.PUBLISHED_FILE).write_text(content)
    assert classroom.published() == {}
