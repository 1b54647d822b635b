"""Node for the tests of the browser wing's pure modules (tests/js/): Debian's /usr/bin/node,
a script of tests/js/ run with it, and calls of the modules' exports (tests/js/call.mjs)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from browser import REQUIRE_BROWSER_ENV

NODE = Path("/usr/bin/node")
JS = Path(__file__).resolve().parent / "js"


def require_node() -> Path:
    """Debian's Node; skips where it is missing, fails instead where
    LATENT_EXPLORER_REQUIRE_BROWSER=1 (as tests/browser.py's require_browser does)."""
    if not NODE.exists():
        reason = f"the JavaScript tests need {NODE} (apt-get install nodejs)"
        if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return NODE


def run_node(script: str, *args: str, stdin: str | None = None) -> str:
    node = require_node()
    done = subprocess.run(
        [str(node), str(JS / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def call_js(*calls: tuple) -> list[dict]:
    """[(fn, *args)] -> [{"ok": value} | {"error": message}] from explorer/web's pure modules
    (tests/js/web.mjs) in one Node run."""
    text = json.dumps([{"fn": fn, "args": list(args)} for fn, *args in calls])
    return json.loads(run_node("call.mjs", stdin=text))


def ok(result: dict):
    assert "error" not in result, result["error"]
    return result["ok"]
