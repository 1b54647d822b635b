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
    assert classroom.configured_key("") == "from-env"  # the variable decides, even over a bad one


BAD_KEYS = {
    "": "is set but empty",
    " ": "is set but holds only white space",
    "\t\n ": "is set but holds only white space",
    " owl-42": "starts or ends with white space",
    "owl-42 ": "starts or ends with white space",
    "owl-42\n": "starts or ends with white space",  # a file's last newline
    "x" * (classroom.MAX_KEY_CHARS + 1): "is longer than the 256 characters",
}


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_set_but_empty_blank_padded_or_untypeable_variable_is_refused(monkeypatch, key):
    monkeypatch.setenv(classroom.KEY_ENV, key)
    with pytest.raises(classroom.KeySettingError) as refused:
        classroom.configured_key("good-secret")  # never a fallback to the secrets
    line = str(refused.value)
    assert line.startswith(f"{classroom.KEY_ENV} {BAD_KEYS[key]}")
    assert "Unset it" in line and f"{classroom.KEY_ENV}='choose-one'" in line
    assert "\n" not in line and (key.strip() == "" or key.strip() not in line)  # never the key


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_set_but_empty_blank_padded_or_untypeable_secret_is_refused(monkeypatch, key):
    monkeypatch.delenv(classroom.KEY_ENV, raising=False)
    with pytest.raises(classroom.KeySettingError) as refused:
        classroom.configured_key(key)
    line = str(refused.value)
    assert line.startswith(
        f"teacher_key in Streamlit's secrets (.streamlit/secrets.toml) {BAD_KEYS[key]}"
    )
    assert "Remove it" in line and 'teacher_key = "choose-one"' in line


@pytest.mark.parametrize("key", ["owl-42", "owl 42 with spaces & <symbols>", "é", "x" * 256])
def test_a_key_a_teacher_can_type_is_taken_as_it_is(monkeypatch, key):
    monkeypatch.setenv(classroom.KEY_ENV, key)
    assert classroom.configured_key() == key
    monkeypatch.delenv(classroom.KEY_ENV)
    assert classroom.configured_key(key) == key


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


def test_wrong_keys_are_limited_per_browser_and_for_the_whole_server():
    clock = Clock()
    wrong = classroom.WrongKeys(per_browser=5, per_server=30, clock=clock)
    for browser in range(6):  # 6 fresh browsers, 5 wrong keys each within 50 s
        for _ in range(5):
            assert wrong.wait_s(f"b{browser}") == (0.0, False)
            wrong.count(f"b{browser}")
            clock.now += 50.0 / 30
        if browser < 5:
            assert wrong.wait_s(f"b{browser}")[1] is False  # its own limit, not the server's
    # 30 wrong keys in 50 s: the 7th browser's first try must wait for the oldest to age out
    assert wrong.wait_s("b6") == (pytest.approx(10.0), True)
    clock.now += 10.0
    assert wrong.wait_s("b6") == (0.0, False)
    assert wrong.wait_s("b0") == (0.0, False)  # its first wrong key is a minute old now


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
