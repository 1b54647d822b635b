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


def test_only_the_ui_package_and_the_pages_import_streamlit():
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        if path.relative_to(ROOT / "explorer").parts[0] in ("ui", "views") or path.name == "app.py":
            continue
        assert "streamlit" not in imported_modules(path), f"{path.relative_to(ROOT)}"


def explorer_modules(path: Path) -> set[str]:
    """The explorer subpackages a file imports from ("core", "web", "ui", "server", "views")."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("explorer"):
            parts = node.module.split(".")
            names |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("explorer.")}
    return names


def test_the_core_imports_neither_streamlit_nor_the_app():
    files = sorted((ROOT / "explorer" / "core").rglob("*.py"))
    assert len(files) > 5
    for path in files:
        assert not imported_modules(path) & {"streamlit"}, path.name
        assert explorer_modules(path) <= {"core"}, f"{path.name} imports {explorer_modules(path)}"


def test_the_browser_wing_imports_only_the_core():
    files = sorted((ROOT / "explorer" / "web").rglob("*.py"))
    assert len(files) > 3
    for path in files:
        assert not imported_modules(path) & {"streamlit"}, path.name
        found = explorer_modules(path)
        assert found <= {"core", "web"}, f"{path.name} imports {found}"


def test_the_server_side_needs_no_streamlit_and_no_ui():
    for path in sorted((ROOT / "explorer" / "server").rglob("*.py")):
        assert "streamlit" not in imported_modules(path), path.name
        assert explorer_modules(path) <= {"core", "server"}, path.name


def test_pages_stay_thin():
    for path in sorted((ROOT / "explorer" / "views").glob("*.py")):
        n_lines = len(path.read_text().splitlines())
        assert n_lines <= 150, f"{path.name} has {n_lines} lines: move panels to explorer/ui/"


def test_pages_and_tests_name_session_state_keys_through_the_state_module():
    raw = re.compile(r"session_state\[\"|session_state\.get\(\"")
    files = [*(ROOT / "explorer").rglob("*.py"), *(ROOT / "tests").glob("test_app*.py")]
    for path in files:
        if path.name in ("state.py", "click.py"):
            continue
        assert not raw.search(path.read_text()), f"{path.relative_to(ROOT)} uses a raw key"


def ui_and_page_files() -> list[Path]:
    return sorted(
        [*(ROOT / "explorer" / "ui").rglob("*.py"), *(ROOT / "explorer" / "views").glob("*.py")]
    )


def names_used(path: Path) -> set[str]:
    """Every name and attribute a file mentions (threading.Thread counts as "Thread")."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.name.split(".")[-1])
    return names


def test_the_ui_neither_starts_threads_nor_trains_the_server_registry_does():
    training = {"Thread", "fit", "train_side_by_side", "train_ladder", "train_denoising_ae"}
    for path in ui_and_page_files():
        found = names_used(path) & training
        assert not found, f"{path.relative_to(ROOT)} uses {found}: train in explorer/server/"


def test_figures_are_built_in_the_core_not_in_the_ui():
    for path in ui_and_page_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        runtime = [n for n in tree.body if not isinstance(n, ast.If)]  # not `if TYPE_CHECKING:`
        imported = imported_modules_of(runtime)
        assert "plotly" not in imported, f"{path.relative_to(ROOT)}: build figures in core/"


def imported_modules_of(nodes: list[ast.stmt]) -> set[str]:
    names = set()
    for node in (n for top in nodes for n in ast.walk(top)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names
