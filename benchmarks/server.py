"""Start and stop the Latent Explorer app server for the benchmarks (127.0.0.1 only).

The server runs as `python -m streamlit run explorer/app.py` from the repository root, as in
production, with $LATENT_EXPLORER_RUNS pointing where the caller wants the models kept; its
output goes to a log file that the benchmarks scan for tracebacks afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from benchmarks.common import ROOT

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class AppServer:
    """One running app server: its process, port, log, and the moment it was launched."""

    def __init__(
        self, runs_dir: Path, log_path: Path, port: int | None = None, env: dict | None = None
    ) -> None:
        """env: variables for the server, over this process's (e.g. LATENT_EXPLORER_CACHE)."""
        self.runs_dir, self.log_path, self.env = Path(runs_dir), Path(log_path), env or {}
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.launched = 0.0  # time.perf_counter() just before the launch
        self.health_s: float | None = None  # seconds from the launch to the first health answer
        self.killed = False  # kill() was called: its sessions' disconnects are expected

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/_stcore/stream"

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "explorer/app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            HOST,
        ]
        env = {**os.environ, **self.env, "LATENT_EXPLORER_RUNS": str(self.runs_dir)}
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the handle
            self.launched = time.perf_counter()
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def wait_healthy(self, timeout: float = 120.0) -> float:
        """Poll /_stcore/health until it answers "ok"; seconds since the launch."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self.log()}")
            if self.healthy():
                self.health_s = time.perf_counter() - self.launched
                return self.health_s
            time.sleep(0.05)
        raise TimeoutError(f"no /_stcore/health answer within {timeout:.0f} s:\n{self.log()}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/_stcore/health", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def memory_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) of the server process in MB, from /proc/<pid>/status."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kb = {k: int(v) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M)}
        return kb["VmRSS"] / 1024, kb["VmHWM"] / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far, all threads."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; only this server's own process."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def kill(self) -> None:
        """SIGKILL, as a crash or the out-of-memory killer: nothing of the server's runs after."""
        self.killed = True
        self.process.kill()
        self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_problems(self) -> list[str]:
        """Lines of the server log that report a traceback, an error or a warning."""
        pattern = re.compile(r"Traceback|Error|Exception|WARNING|\bwarn", re.IGNORECASE)
        return [line for line in self.log().splitlines() if pattern.search(line)]


@contextlib.contextmanager
def app_server(runs_dir: Path, log_path: Path, timeout: float = 120.0) -> Iterator[AppServer]:
    """A started, healthy server that is stopped on exit, whatever happens."""
    server = AppServer(runs_dir, log_path)
    server.start()
    try:
        server.wait_healthy(timeout)
        yield server
    finally:
        server.stop()
