"""The join of explorer/web's ES modules into one script (explorer/web/modules.py): order, what
it removes and keeps, and the mistakes that one scope would hide (a clash of names, an import of
a name never exported, a cycle), on tiny modules; then the app's own join."""

from __future__ import annotations

import subprocess

import pytest
from node import require_node

from explorer.web import modules, standalone


def write(folder, **files):
    for name, text in files.items():
        (folder / f"{name}.js").write_text(text)
    return folder


def test_modules_come_after_what_they_import_each_once(tmp_path):
    write(
        tmp_path,
        math="export function add(a, b) {\n  return a + b;\n}\n",
        twice='import { add } from "./math.js";\n\nexport const twice = (x) => add(x, x);\n',
        main=(
            'import { add } from "./math.js";\nimport {\n  twice,\n} from "./twice.js";\n\n'
            "export default function main() {\n  return add(1, twice(2));\n}\n"
        ),
    )
    assert modules.order("main.js", tmp_path) == ["math.js", "twice.js", "main.js"]
    joined = modules.join("main.js", folder=tmp_path)
    assert joined.count("function add") == 1
    assert "import" not in joined
    assert "export function add" not in joined and "const twice =" in joined
    assert "export const" not in joined
    assert "export default function main()" in joined  # the entry keeps its exports


def test_a_name_declared_by_two_modules_is_refused(tmp_path):
    write(
        tmp_path,
        a="export function shared() {}\n",
        b='import { shared } from "./a.js";\n\nconst shared = 1;\n',
    )
    with pytest.raises(modules.ModuleError, match="a.js and b.js both declare 'shared'"):
        modules.join("b.js", folder=tmp_path)


def test_an_import_of_a_name_not_exported_is_refused(tmp_path):
    write(tmp_path, a="function hidden() {}\n", b='import { hidden } from "./a.js";\n')
    with pytest.raises(modules.ModuleError, match="b.js imports 'hidden'"):
        modules.join("b.js", folder=tmp_path)


def test_a_default_import_must_use_the_declared_name(tmp_path):
    write(
        tmp_path,
        a="export default function mount() {}\n",
        ok='import mount from "./a.js";\n',
        renamed='import start from "./a.js";\n',
    )
    assert "function mount()" in modules.join("ok.js", folder=tmp_path)
    with pytest.raises(modules.ModuleError, match="'start'"):
        modules.join("renamed.js", folder=tmp_path)


def test_cycles_and_renames_are_refused(tmp_path):
    write(
        tmp_path,
        a='import { b } from "./b.js";\nexport const a = 1;\n',
        b='import { a } from "./a.js";\nexport const b = 2;\n',
        c='import { b as bee } from "./b.js";\n',
    )
    with pytest.raises(modules.ModuleError, match="circular import: a.js -> b.js -> a.js"):
        modules.join("a.js", folder=tmp_path)
    with pytest.raises(modules.ModuleError, match="renaming"):
        modules.imports("c.js", tmp_path)


def test_the_components_module_is_click_js_with_only_its_default_export():
    script = standalone.module_script()
    assert modules.order("click.js")[0] == "decoder.js"
    assert modules.order("click.js")[-1] == "click.js"
    assert "\nimport " not in script and not script.startswith("import")
    exports = [line for line in script.splitlines() if line.startswith("export")]
    assert exports == ["export default function mountComponent(component) {"]


def test_the_standalone_page_adds_standalone_js_to_the_components_module():
    page = standalone.page_script()
    assert page.startswith(standalone.module_script())
    assert page.count("function parseBundle(") == 1  # decoder.js once


@pytest.mark.parametrize("script", ["module_script", "page_script"])
def test_node_parses_the_joined_scripts_as_modules(tmp_path, script):
    path = tmp_path / "joined.mjs"
    path.write_text(getattr(standalone, script)())
    done = subprocess.run(
        [str(require_node()), "--check", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
