"""The teacher key's setting in a server really started (`python -m streamlit run`): a key set
but empty stops the server, at the first page opened, with one line on stderr; a good key, or
none, is said once in the log, never the key itself. The servers read secrets only from a file of
the test's own (never a developer's .streamlit/secrets.toml) and listen on 8621-8629."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path
from unittest import mock

import pytest
from browser import REPO_ROOT, _stop, _wait_until_healthy, streamlit_command
from websockets.exceptions import ConnectionClosed

from benchmarks.streamlit_client import StreamlitSession
from explorer.server import classroom
from explorer.ui import teacher

pytestmark = pytest.mark.slow
PORTS = range(8621, 8630)
KEY = "owl-42 with spaces & <symbols>"


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock, contextlib.suppress(OSError):
            # as Tornado binds: a port whose last connections linger in TIME_WAIT is free
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            return port
    pytest.skip(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@contextlib.contextmanager
def server(tmp_path: Path, key: str | None = None, secrets: str = ""):
    """The app served with the key variable set to key (None: unset) and secrets.toml holding
    secrets; yields (port, the server process, the file its stderr goes to)."""
    env = {
        **os.environ,
        "LATENT_EXPLORER_RUNS": str(tmp_path / "runs"),
        "LATENT_EXPLORER_DATASET": "digits",
    }
    env.pop(classroom.KEY_ENV, None)
    if key is not None:
        env[classroom.KEY_ENV] = key
    (tmp_path / "secrets.toml").write_text(secrets)
    port = free_port()
    command = streamlit_command(
        "explorer/app.py", port, "--secrets.files", str(tmp_path / "secrets.toml")
    )
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w+") as err, (tmp_path / "stdout.txt").open("w") as out:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=out, stderr=err, start_new_session=True
        )
        try:
            _wait_until_healthy(process, f"http://127.0.0.1:{port}", 60.0, err)
            yield port, process, stderr
        finally:
            _stop(process)


def open_first_page(port: int, stderr: Path, until: str, timeout: float = 60.0) -> str:
    """Open the app as a browser does (the first page runs the app's code) and wait until the
    server's stderr holds `until` (or the timeout); return that stderr."""

    async def go() -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            async with StreamlitSession.connect(f"ws://127.0.0.1:{port}/_stcore/stream") as s:
                page = asyncio.create_task(s.open_page())
                deadline = time.monotonic() + timeout
                while until not in stderr.read_text() and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)  # the log has nothing to wait on but time
                page.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await page

    asyncio.run(go())
    return stderr.read_text()


def exit_status(process: subprocess.Popen, timeout: float) -> int | None:
    """The server's exit status, or None where it still runs after timeout seconds."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


@pytest.mark.parametrize("setting", ["", "   "])
def test_an_empty_key_stops_the_server_with_one_line_on_stderr(tmp_path, setting):
    with server(tmp_path, key=setting) as (port, process, stderr):
        opened = time.monotonic()
        logged = open_first_page(port, stderr, until=classroom.KEY_ENV)
        assert classroom.KEY_ENV in logged, f"the first page never ran the check: {logged}"
        assert exit_status(process, 30) == 1, stderr.read_text()[-2000:]
        assert time.monotonic() - opened < 30
        lines = stderr.read_text().splitlines()  # Streamlit's own start lines, then ours
    ours = [line for line in lines if "Latent Explorer" in line]
    assert ours == lines[-1:]
    assert ours[0].startswith(f"Latent Explorer will not start: {classroom.KEY_ENV} is set but")
    assert "Unset it" in ours[0] and "set a real key" in ours[0]


def test_an_empty_key_in_the_secrets_stops_the_server_too(tmp_path):
    with server(tmp_path, secrets='teacher_key = ""\n') as (port, process, stderr):
        logged = open_first_page(port, stderr, until="will not start")
        assert "will not start" in logged, f"the first page never ran the check: {logged}"
        assert exit_status(process, 60) == 1, stderr.read_text()[-2000:]
    assert "teacher_key in Streamlit's secrets (.streamlit/secrets.toml) is set but empty" in (
        stderr.read_text()
    )


class BrowserLeft(Exception):
    """Stands in for Streamlit's stop, raised by the next st call once the browser has gone."""


def test_a_browser_that_leaves_at_once_still_stops_the_server(monkeypatch):
    """The stop is armed before any st call: the page's first st call raises where its browser
    left (a CI run once kept such a server running), so arming it after that never happened."""
    armed = []

    class Timer:
        def __init__(self, seconds, function, args):
            armed.append((seconds, function, args))

        def start(self):
            armed.append("started")

    monkeypatch.setenv(classroom.KEY_ENV, "")
    monkeypatch.setattr(teacher, "_in_a_server", lambda: True)
    monkeypatch.setattr(teacher.threading, "Timer", Timer)
    monkeypatch.setattr(teacher.st, "error", mock.Mock(side_effect=BrowserLeft))
    with pytest.raises(BrowserLeft):
        teacher.check_setting()
    assert armed == [(teacher.STOP_AFTER_S, os._exit, (1,)), "started"]


def test_a_good_key_is_said_in_force_once_and_never_printed(tmp_path):
    with server(tmp_path, key=KEY) as (port, process, stderr):
        open_first_page(port, stderr, until=teacher.KEY_IN_FORCE)
        assert process.poll() is None  # still serving
        log = stderr.read_text() + (tmp_path / "stdout.txt").read_text()
    assert log.count(teacher.KEY_IN_FORCE) == 1
    assert KEY not in log and teacher.NO_KEY not in log


def test_without_a_key_the_log_says_every_browser_can_train(tmp_path):
    with server(tmp_path) as (port, process, stderr):
        log = open_first_page(port, stderr, until=teacher.NO_KEY)
        assert process.poll() is None
    assert log.count(teacher.NO_KEY) == 1
