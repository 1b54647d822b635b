"""The browser's ES modules (the .js files beside this one) joined into one module script,
without a bundler: Streamlit's components take one script, and the standalone page inlines one.

Each file is a real ES module (`import {a, b} from "./x.js"`, `export function ...`) that Node
and browsers load as it is (tests/js/ does). Joining puts every module after the modules it
imports, each once, removes the imports and the `export` keywords of all but the entry (whose
default export Streamlit calls), and checks what the joined scope no longer enforces: that each
imported name is exported by its module, and that no two modules declare the same top-level
name (one scope would let the second silently replace the first, or fail to load).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

WEB = Path(__file__).resolve().parent

# `import a from "./x.js";` or `import { a, b } from "./x.js";` (the braces may span lines).
IMPORT = re.compile(r'^import\s+([^;]*?)\s+from\s+"([^"]+)";?[ \t]*\n?', re.M | re.S)
# A top-level declaration (at column 0: nested ones are indented) and whether it is exported.
DECLARATION = re.compile(
    r"^(export\s+(?:default\s+)?)?(?:async\s+)?(?:function\*?|class|const|let|var)\s+"
    r"([A-Za-z_$][\w$]*|[\[{][^=]*)",
    re.M,
)
EXPORT = re.compile(r"^export\s+(default\s+)?", re.M)
NAME = re.compile(r"[A-Za-z_$][\w$]*")


class ModuleError(ValueError):
    """The modules cannot be joined into one scope; the message names the files and the name."""


def read(name: str, folder: Path = WEB) -> str:
    """A file of the browser wing (JavaScript, CSS) as text."""
    return (folder / name).read_text()


def join(entry: str, after: str | None = None, folder: Path = WEB) -> str:
    """entry and every module it imports as one module script, dependencies first, only entry
    keeping its `export`s. after: a module joined first into the same script (its own join,
    exports kept), whose modules entry's join then does not repeat; raises ModuleError."""
    done: list[str] = order(after, folder) if after else []
    todo = [name for name in order(entry, folder) if name not in done]
    _check_names([*done, *todo], folder)
    parts = [join(after, folder=folder)] if after else []
    for name in todo:
        text = IMPORT.sub("", read(name, folder))
        parts.append(text if name == entry else EXPORT.sub("", text))
    return "\n".join(part.strip("\n") + "\n" for part in parts)


def order(entry: str, folder: Path = WEB) -> list[str]:
    """entry's modules, each after those it imports (depth first), entry last."""
    out: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise ModuleError(f"circular import: {' -> '.join((*path, name))}")
        if name in out:
            return
        for target, _ in imports(name, folder):
            visit(target, (*path, name))
        out.append(name)

    visit(entry, ())
    return out


def imports(name: str, folder: Path = WEB) -> list[tuple[str, list[str | None]]]:
    """[(module, names)] that module `name` imports: None stands for the default export."""
    out = []
    for clause, source in IMPORT.findall(read(name, folder)):
        if not source.startswith("./") or "/" in source[2:]:
            raise ModuleError(f"{name}: import from {source!r}: only ./<file>.js beside it")
        clause = clause.strip()
        if clause.startswith("{") and clause.endswith("}"):
            names: list[str | None] = [n.strip() for n in clause[1:-1].split(",") if n.strip()]
        elif NAME.fullmatch(clause):
            names = [None]  # the default export, under the name it is declared with
        else:
            raise ModuleError(f"{name}: import {clause} cannot be joined: use {{ names }}")
        if any(n is not None and not NAME.fullmatch(n) for n in names):
            raise ModuleError(f"{name}: import {clause}: renaming cannot be joined")
        if names == [None]:
            names = [clause]  # checked against the default export's declared name
        out.append((source[2:], names))
    return out


@functools.cache
def _declarations(text: str) -> tuple[dict[str, bool], str | None]:
    """({top-level name: exported}, the default export's name) of a module's source."""
    names: dict[str, bool] = {}
    default = None
    for match in DECLARATION.finditer(text):
        exported, target = match.groups()
        found = NAME.findall(target.split("=")[0]) if target[0] in "[{" else [target]
        for found_name in found:
            names[found_name] = bool(exported)
        if exported and "default" in exported:
            default = found[0]
    if re.search(r"^export\s*\{", text, re.M):
        raise ModuleError("`export { ... }` lists cannot be joined: export each declaration")
    return names, default


def _check_names(modules: list[str], folder: Path) -> None:
    """Every imported name exported by its module; no top-level name declared twice."""
    owner: dict[str, str] = {}
    for name in modules:
        declared, _ = _declarations(read(name, folder))
        for declared_name in declared:
            if declared_name in owner:
                raise ModuleError(
                    f"{owner[declared_name]} and {name} both declare {declared_name!r} at the "
                    "top level: joined into one scope they would clash"
                )
            owner[declared_name] = name
        for target, names in imports(name, folder):
            exported, default = _declarations(read(target, folder))
            for imported in names:
                if not exported.get(imported) and imported != default:
                    raise ModuleError(
                        f"{name} imports {imported!r}, which {target} does not export"
                    )
