"""The dependency arrows stay as STYLE.md draws them: explorer -> training, never back."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_training_never_imports_the_app_or_ui_libraries():
    files = sorted((ROOT / "training").rglob("*.py"))
    assert files
    for path in files:
        forbidden = imported_modules(path) & {"explorer", "streamlit", "plotly"}
        assert not forbidden, f"{path.relative_to(ROOT)} imports {forbidden}"


def test_nothing_uses_pickle_to_load_data():
    for path in sorted((ROOT / "training").rglob("*.py")):
        source = path.read_text()
        assert "pickle" not in imported_modules(path), path
        # torch.load unpickles; safetensors.torch.load does not.
        assert not re.search(r"(?<![\w.])torch\.load\(", source), path
        assert "allow_pickle=True" not in source, path


STREAMLIT_MODULES = {"app.py", "ui.py", "click.py"}  # and every page in views/


def test_only_pages_and_the_glue_modules_import_streamlit():
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        if path.parent.name == "views" or path.name in STREAMLIT_MODULES:
            continue
        assert "streamlit" not in imported_modules(path), f"{path.relative_to(ROOT)}"
