"""Shared fixtures: the real data folder beside the checkout, and a private cache per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from apptest import fresh_app, train_default_digits
from browser import REQUIRE_BROWSER_ENV, chromium, require_browser, served_app

from explorer.ui import resources
from training.data import load_dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ENV = "LATENT_EXPLORER_DATA"
# Set in CI, where the data must be there: a missing folder then fails instead of skipping.
REQUIRE_DATA_ENV = "LATENT_EXPLORER_REQUIRE_DATA"


def shared_data_root() -> Path:
    """$LATENT_EXPLORER_DATA, else ../shared/data next to the repository."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data(request: pytest.FixtureRequest) -> Path:
    """The shared data folder; skips when it, or a subfolder the test's marker names, is absent.

    Use as `@pytest.mark.shared_data("mnist")` plus a `shared_data` argument.
    """
    root = shared_data_root()
    marker = request.node.get_closest_marker("shared_data")
    for sub in ("", *(marker.args if marker else ())):
        if not (root / sub).is_dir():
            reason = f"needs ../shared/data (set {DATA_ENV}); absent here: {root / sub}"
            if os.environ.get(REQUIRE_DATA_ENV):
                pytest.fail(reason)
            pytest.skip(reason)
    return root


@pytest.fixture
def debian_fashion_mnist() -> Path:
    """Debian's Fashion-MNIST folder (apt-get install dataset-fashion-mnist); skips where it is
    absent, fails instead in CI."""
    from training.data import idx

    if not idx.DEBIAN_FASHION_MNIST_DIR.is_dir():
        reason = f"needs {idx.DEBIAN_FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)"
        if os.environ.get(REQUIRE_DATA_ENV):
            pytest.fail(reason)
        pytest.skip(reason)
    return idx.DEBIAN_FASHION_MNIST_DIR


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point LATENT_EXPLORER_CACHE at an empty folder of this test's own: never the user's cache."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(path))
    return path


@pytest.fixture(autouse=True)
def no_teacher_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No teacher key unless a test sets one: a key in the shell that runs the tests would lock
    the teacher's controls, and an empty one every page (explorer/ui/teacher.py)."""
    monkeypatch.delenv("LATENT_EXPLORER_TEACHER_KEY", raising=False)


@pytest.fixture(scope="module")
def digits():
    """The bundled digits, loaded once per test module (read-only, as the app treats data)."""
    return load_dataset("digits")


@pytest.fixture(scope="session")
def browser_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the browser modules' servers and their models: the 20,000 faces
    are drawn (about 25 s) once per test session, not once per module."""
    return tmp_path_factory.mktemp("browser-cache")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, browser_cache: Path):
    """The app served for a browser test module on small default digits models (a module that
    needs other models or settings defines its own app_url with browser.served_app)."""
    runs = tmp_path_factory.mktemp("runs")
    with served_app(runs=runs, cache=browser_cache, prepare=train_default_digits) as url:
        yield url


@pytest.fixture
def exporter() -> None:
    """Skips (fails in CI) where the slide kit's export (kaleido) has no browser to drive."""
    from explorer.core import export

    if export.find_browser() is None:
        if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
            pytest.fail(export.NO_BROWSER)
        pytest.skip(export.NO_BROWSER)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per browser test module (browser.py: chromium; new_context for a
    screen size); skips (or fails, in CI) where it is missing."""
    require_browser()
    with chromium() as browser:
        yield browser


# ---- the app headless (AppTest modules; test_app_concepts.py has its own runs with faces) ----


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A runs folder holding small default digits models, so pages open at once."""
    path = tmp_path_factory.mktemp("runs")
    train_default_digits(path)
    return path


@pytest.fixture
def app(runs, monkeypatch):
    at = fresh_app(runs, monkeypatch, timeout=60)
    yield at
    for job in resources.job_manager().running():
        job.cancel()
        job.join(30)
