"""A restart shows its first image fast: the app's first page run imports no scikit-learn (over a
second to import) and reads the bundled digits without it (docs/benchmarks.md, Start-up)."""

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from training.data import registry

ROOT = Path(__file__).resolve().parents[1]
FIRST_PAGE = [ROOT / "explorer" / "app.py", ROOT / "explorer" / "views" / "explore.py"]


def test_the_digits_read_without_scikit_learn_are_its_load_digits():
    images, labels = registry.digits_table()
    oracle = load_digits()
    np.testing.assert_array_equal(images, oracle.images)
    np.testing.assert_array_equal(labels, oracle.target)
    assert images.dtype == oracle.images.dtype and images.shape == (1797, 8, 8)


def test_the_digits_come_from_scikit_learn_itself_when_its_file_is_not_found(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    images, labels = registry.digits_table()
    np.testing.assert_array_equal(images, load_digits().images)
    np.testing.assert_array_equal(labels, load_digits().target)


def first_page_imports() -> list[str]:
    """The modules the app and the Explore page import (absolute imports at any depth)."""
    names = set()
    for path in FIRST_PAGE:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)  # and the project's modules it names:
                names |= {
                    f"{node.module}.{alias.name}"
                    for alias in node.names
                    if is_project_module(f"{node.module}.{alias.name}")
                }
    return sorted(names)


def is_project_module(name: str) -> bool:
    return (ROOT / name.replace(".", "/")).with_suffix(".py").is_file()


# Imports what the first page imports, then does what it computes: the digits, a pair of (untrained)
# models, the maps' figures, the live panel's data and the decoders for the browser.
FIRST_RUN = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
from explorer.core import figures, model_pair
from explorer.web import live_view, web_decoder
from explorer.core.points import Point
from training.config import ModelConfig
from training.data import load_dataset
from training.models import build_model

data = load_dataset("digits")
ae, vae = (build_model(ModelConfig(kind=k, image_shape=data.image_shape, hidden=(16,)))
           for k in ("ae", "vae"))
pair = model_pair.build_pair(data, ae, vae, "test", max_points=200)
figures.pair_maps(pair, None, True, False)
live_view.panel_data(pair, Point(tuple(pair.codes["ae"][0]), 0), [0, 1], False, "id")
web_decoder.pair_bundle(pair)
print(" ".join(m for m in ("sklearn", "scipy") if m in sys.modules))
"""


def test_the_first_page_run_imports_no_scikit_learn():
    out = subprocess.run(
        [sys.executable, "-c", FIRST_RUN, *first_page_imports()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert out.stdout.split() == [], f"the first page run imported {out.stdout.strip()}"
