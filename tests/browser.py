"""Helpers for tests that drive a Streamlit app in a real headless Chromium.

`served_app(runs=..., prepare=...)` serves the app (or another script) for a test module, after
`prepare` trained its models (`streamlit_server(script)` underneath); `chromium()` launches the
browser (conftest's `browser` fixture: one per module), `new_context(browser, width, height,
touch=...)` opens a context of its own at a screen size (a phone's with touch), and
`browser_context(width, height)` a browser with one such context; `wait_for_app_idle(page)`
waits for a run to finish; `click_data_point(page, key, x, y)` clicks a Plotly chart at data
coordinates. Where Chromium or Playwright is missing the tests skip,
unless LATENT_EXPLORER_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; `playwright install` cannot download here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
APP = "explorer/app.py"
REQUIRE_BROWSER_ENV = "LATENT_EXPLORER_REQUIRE_BROWSER"
TEACHER_KEY_ENV = "LATENT_EXPLORER_TEACHER_KEY"  # explorer/server/classroom.py: KEY_ENV
# The app element says "notRunning" once a run (full or fragment) has finished.
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def require_browser() -> None:
    """Skip (or fail where LATENT_EXPLORER_REQUIRE_BROWSER=1) without Chromium and Playwright."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install playwright)")
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def streamlit_command(script: str | Path, port: int, *options: str) -> list[str]:
    """`python -m streamlit run script` headless on 127.0.0.1:port, without usage statistics,
    plus options."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        *options,
    ]


@contextlib.contextmanager
def streamlit_server(
    script: str | Path, timeout: float = 60.0, env: dict[str, str | Path] | None = None
) -> Iterator[str]:
    """Serve `script` with `python -m streamlit run` from the repository root; yield its URL.
    env: variables set for the server alone (e.g. LATENT_EXPLORER_RUNS), over this process's;
    the app opens on digits unless env names LATENT_EXPLORER_DATASET, with no teacher key
    unless env names one (a key in the shell that runs the tests is not the test's).

    The server runs in its own process group, killed on exit even when the test fails.
    """
    inherited = {name: value for name, value in os.environ.items() if name != TEACHER_KEY_ENV}
    server_env = {
        **inherited,
        "LATENT_EXPLORER_DATASET": "digits",
        **{name: str(value) for name, value in (env or {}).items()},
    }
    port = free_port()
    command = streamlit_command(script, port)
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_healthy(server, url, timeout, log)
            yield url
        finally:
            _stop(server)


@contextlib.contextmanager
def served_app(
    script: str | Path = APP,
    *,
    runs: Path | None = None,
    cache: Path | None = None,
    data: Path | None = None,
    teacher_key: str | None = None,
    prepare: Callable[[Path], object] | None = None,
    env: dict[str, str | Path] | None = None,
) -> Iterator[str]:
    """`script` (the app) served for a test module; yields its URL. Skips (or fails, in CI)
    where the browser is missing, before anything is trained.

    runs, cache, data: the server's LATENT_EXPLORER_RUNS, _CACHE and _DATA folders (None: as
    this process has them); teacher_key: its LATENT_EXPLORER_TEACHER_KEY (None: no key); env:
    more variables for it. They hold in this process too while the server runs: `prepare(runs)`
    (e.g. apptest.train_default_digits) then trains into the folders the server reads."""
    require_browser()
    folders = {
        "LATENT_EXPLORER_RUNS": runs,
        "LATENT_EXPLORER_CACHE": cache,
        "LATENT_EXPLORER_DATA": data,
        TEACHER_KEY_ENV: teacher_key,
    }
    server_env = {name: str(value) for name, value in folders.items() if value is not None}
    server_env |= {name: str(value) for name, value in (env or {}).items()}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in server_env.items():
            mp.setenv(name, value)
        if prepare is not None:
            prepare(runs)
        with streamlit_server(script, env=server_env) as url:
            yield url


def _wait_until_healthy(server: subprocess.Popen, url: str, timeout: float, log) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response,
        ):
            if response.read().decode().strip() == "ok":
                return
        time.sleep(0.2)  # polling a server that is starting: nothing to wait on but time
    log.seek(0)
    output = log.read()[-3000:]
    state = f"exited with {server.returncode}" if server.poll() is not None else "timed out"
    raise RuntimeError(f"streamlit {state} before serving {url}/_stcore/health:\n{output}")


def _stop(server: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Chromium (a Playwright Browser), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser, width: int = 1440, height: int = 900, *, touch: bool = False):
    """A context of the browser's own (cookies: a Streamlit session and owner of its own; an
    HTTP cache) at this screen size; touch: a phone's (touch events, a mobile viewport)."""
    return browser.new_context(
        viewport={"width": width, "height": height}, has_touch=touch, is_mobile=touch
    )


@contextlib.contextmanager
def browser_context(width: int = 1440, height: int = 900, *, touch: bool = False) -> Iterator:
    """One Chromium context (new_context) for a module's pages: its HTTP cache spares each page
    after the first reloading Streamlit."""
    with chromium() as browser:
        context = new_context(browser, width, height, touch=touch)
        try:
            yield context
        finally:
            context.close()


def wait_for_app_idle(page, timeout: float = 30.0) -> None:
    """Wait until the current script run (full or fragment) has finished."""
    page.wait_for_selector(APP_IDLE, state="attached", timeout=timeout * 1000)


def open_options(page, picker, option) -> None:
    """Click the selectbox `picker` until `option` (a locator in its list) shows: a rerun that
    arrives late on a loaded machine closes a list just opened."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # only where installed

    for _ in range(5):
        wait_for_app_idle(page)
        picker.click()
        try:
            option.wait_for(timeout=5_000)
            return
        except PlaywrightTimeout:
            continue


def unlock(page, key: str) -> None:
    """Enter the teacher key in the sidebar's Teacher box."""
    field = page.get_by_label("Teacher key")
    if not field.is_visible():  # the sidebar's Teacher box starts folded, and stays as left
        page.get_by_text("Teacher", exact=True).click()
    field.fill(key, timeout=10_000)
    page.get_by_role("button", name="Unlock").click()
    wait_for_app_idle(page, timeout=30)


def wait_for_chart(page, chart_key: str, timeout: float = 30.0) -> None:
    """Wait until the chart `st.plotly_chart(fig, key=chart_key)` has been drawn by Plotly."""
    page.wait_for_function(
        "key => !!document.querySelector(`.st-key-${key} .js-plotly-plot`)?._fullLayout?.xaxis",
        arg=chart_key,
        timeout=timeout * 1000,
    )


def data_to_page(page, chart_key: str, x: float, y: float) -> tuple[float, float]:
    """Page pixel coordinates of the data point (x, y) on a chart, from Plotly's own axes."""
    return tuple(
        page.evaluate(
            """([key, x, y]) => {
                const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
                const {xaxis, yaxis} = gd._fullLayout;
                const box = gd.getBoundingClientRect();
                return [box.left + xaxis._offset + xaxis.l2p(x),
                        box.top + yaxis._offset + yaxis.l2p(y)];
            }""",
            [chart_key, x, y],
        )
    )


def click_data_point(page, chart_key: str, x: float, y: float) -> tuple[float, float]:
    """Click a chart at data coordinates (x, y), scrolled into view; returns the pixel clicked."""
    page.locator(f".st-key-{chart_key} .js-plotly-plot").scroll_into_view_if_needed()
    px, py = data_to_page(page, chart_key, x, y)
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    if not (0 <= px < width and 0 <= py < height):
        raise ValueError(f"({x}, {y}) on {chart_key} is outside the viewport at ({px}, {py})")
    page.mouse.click(px, py)
    return px, py
