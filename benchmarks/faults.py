"""Faults lose nothing: kill -9 the real app server during training and during a checkpoint save,
restart it and check the runs folder; fill a disk during a save; make a training job raise.

    python -m benchmarks.faults

Before the faults, the runs folder gets what a class has: the digits default pair (with its
time-lapse) and a finished run from an earlier lesson (3 epochs each, trained in this process).
Each scenario then runs the app as in production (benchmarks/server.py's command, started
through a small bootstrap that can install a fault hook) and drives it with the websocket client
(benchmarks/streamlit_client.py) as a student does: open the Train page and press Train. The
runs folder is checked with the functions the app uses (explorer/server/runs.py). Scenarios:

  kill during training  SIGKILL once the job list shows progress; restart; Explore serves.
  kill during a save    the server's hook writes half of the VAE's checkpoint, fsyncs it and
                        pauses: the kill lands mid-save by construction (a real save of a 280 KB
                        file takes milliseconds, too short to hit by chance).
  full disk             the runs folder copied onto a small tmpfs (mount needs root; without it
                        ENOSPC is simulated in this process and the table says so) and filled up;
                        a checkpoint saved over the default VAE, a job here, then the server
                        started from it: Explore serves, Train fails saying the disk is full.
  job that raises       the hook makes the first job's data loading raise: the Train page shows it
                        failed with its message, the next job finishes, Explore still serves.

Prints a table: scenario | what was checked | result. Exit status 1 if any check failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.common import ROOT, print_table
from benchmarks.server import HOST, AppServer
from benchmarks.streamlit_client import RunResult, StreamlitSession, trigger_state

PAUSE_ENV, MARK_ENV, RAISE_ENV = "FAULTS_PAUSE_AT", "FAULTS_MARK", "FAULTS_RAISE_ON"

# Runs in the server process before Streamlit starts. PAUSE_ENV: a save to a file whose name
# starts so writes half its bytes, fsyncs them, writes the file's path to MARK_ENV's file and
# sleeps (the script kills the server then). RAISE_ENV: a job's first load of that dataset raises.
BOOTSTRAP = """
import contextlib, os, sys, time
from pathlib import Path
if os.environ.get("FAULTS_PAUSE_AT"):
    import training.checkpoints as checkpoints
    real_write = checkpoints.atomic_write

    class HalfThenPause:
        def __init__(self, f, path):
            self.f, self.path = f, path
        def write(self, data):
            self.f.write(bytes(data[: len(data) // 2]))
            self.f.flush()
            os.fsync(self.f.fileno())
            Path(os.environ["FAULTS_MARK"]).write_text(str(self.path))
            time.sleep(600)

    @contextlib.contextmanager
    def pausing_write(path):
        with real_write(path) as f:
            hit = Path(path).name.startswith(os.environ["FAULTS_PAUSE_AT"])
            yield HalfThenPause(f, path) if hit else f

    checkpoints.atomic_write = pausing_write
if os.environ.get("FAULTS_RAISE_ON"):
    import explorer.server.jobs as jobs
    real_load, raised = jobs.load_dataset, []

    def load(name, *args, **kwargs):
        if name == os.environ["FAULTS_RAISE_ON"] and not raised:
            raised.append(name)
            raise RuntimeError(f"the data for {name} caught fire (a fault the script injected)")
        return real_load(name, *args, **kwargs)

    jobs.load_dataset = load
sys.argv = ["streamlit", "run", "explorer/app.py", *sys.argv[1:]]
from streamlit.web.cli import main
main(prog_name="streamlit")
"""


class FaultyServer(AppServer):
    """The app server launched through BOOTSTRAP, with the fault hooks given as env settings."""

    def __init__(self, runs_dir: Path, log_path: Path, **hooks: str) -> None:
        super().__init__(runs_dir, log_path)
        self.hooks = hooks

    def start(self) -> None:
        command = [
            sys.executable,
            "-c",
            BOOTSTRAP,
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            HOST,
        ]
        env = {**os.environ, "LATENT_EXPLORER_RUNS": str(self.runs_dir), **self.hooks}
        with open(self.log_path, "wb") as log:
            self.launched = time.perf_counter()
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def kill9(self) -> None:
        self.process.kill()  # SIGKILL: no clean-up of any kind runs in the server
        self.process.wait(30)


class Report:
    """The table's rows; a failed check is a row too, never an exception that ends the run."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def check(self, scenario: str, what: str, ok: bool, detail: str = "") -> bool:
        self.rows.append(
            [scenario, what, ("ok" if ok else "FAILED") + (f": {detail}" if detail else "")]
        )
        return ok

    @property
    def failed(self) -> bool:
        return any(row[2].startswith("FAILED") for row in self.rows)


# ---- the client side ----


def has_progress(result: RunResult) -> bool:
    return any(e.proto.value > 0 for e in result.of_kind("progress"))


def problem_with(text: str) -> Callable[[RunResult], bool]:
    return lambda result: any(text in p for p in result.problems)


async def press_train(
    server: AppServer, until: Callable[[RunResult], bool], timeout: float
) -> RunResult:
    """Open the Train page, press Train (the form's defaults: digits, the presets) as a
    student does, and follow the job list's polls until `until` holds for a run."""
    async with asyncio.timeout(timeout), StreamlitSession.connect(server.ws_url) as session:
        page = await session.open_page("train")
        button = page.find("button", "Train")
        result = await session.rerun([trigger_state(button.proto.id)], button.fragment_id)
        while not until(result):
            result = await session.poll()
        return result


def train_until(
    server: AppServer, until: Callable[[RunResult], bool], timeout: float = 180
) -> tuple[bool, str]:
    """Whether pressing Train led to `until` within timeout; the page's problems."""
    try:
        result = asyncio.run(press_train(server, until, timeout))
        return True, "; ".join(result.problems)
    except (TimeoutError, OSError) as e:
        return False, f"not within {timeout:.0f} s ({e!r})"


def page_shows(server: AppServer, page: str, text: str, timeout: float = 60) -> bool:
    """Whether the page (its URL path) shows text in a markdown element, as rendered: names from
    files reach Markdown backslash-escaped (display.markdown_text)."""

    async def open_page() -> RunResult:
        async with StreamlitSession.connect(server.ws_url) as session:
            return await session.open_page(page, timeout=timeout)

    result = asyncio.run(open_page())
    shown = (re.sub(r"\\(.)", r"\1", e.proto.body) for e in result.of_kind("markdown"))
    return any(text in body for body in shown)


def first_image(server: AppServer, timeout: float = 120) -> tuple[bool, str]:
    """Whether the Explore page shows a decoded image within timeout, and its problems."""

    async def explore() -> RunResult:
        async with StreamlitSession.connect(server.ws_url) as session:
            return await session.open_page(
                "", until=lambda r: r.first_image_at is not None, timeout=timeout
            )

    try:
        opened = time.perf_counter()
        result = asyncio.run(explore())
        seconds = f"first image {result.first_image_at - opened:.1f} s after opening"
        return True, "; ".join([seconds, *result.problems])
    except (TimeoutError, OSError) as e:
        return False, f"no image within {timeout:.0f} s ({e!r})"


@contextlib.contextmanager
def running(server: AppServer) -> Iterator[AppServer]:
    server.start()
    try:
        server.wait_healthy(120)
        yield server
    finally:
        server.stop()


# ---- the runs folder side ----


def use_runs(root: Path) -> None:
    os.environ["LATENT_EXPLORER_RUNS"] = str(root)  # runs.* read it at each call


def snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def unchanged(before: dict[Path, bytes]) -> list[str]:
    return [str(p) for p, data in before.items() if not p.is_file() or p.read_bytes() != data]


def half_files(root: Path) -> list[str]:
    """Files under a real name that do not read back whole (atomic writes' temporaries aside)."""
    from training.atomic import is_partial
    from training.checkpoints import CheckpointError, load_checkpoint
    from training.timelapse import FILENAME, TimelapseError, load_timelapse

    bad = []
    for path in root.rglob("*.safetensors"):
        if is_partial(path.name) or any(p.name.endswith(".training") for p in path.parents):
            continue
        try:
            load_timelapse(path) if path.name == FILENAME else load_checkpoint(path)
        except (CheckpointError, TimelapseError) as e:
            bad.append(f"{path.name}: {e}")
    return bad


def partial_files(root: Path) -> list[Path]:
    from training.atomic import is_partial

    return [p for p in root.rglob("*") if is_partial(p.name)]


def check_restarted(
    report: Report,
    name: str,
    server: AppServer,
    before: dict,
    killed_at: float,
    expect_dataset: str | None,
    expect_partial: int,
) -> None:
    """After a kill and a restart on the same runs folder: whole files only, what was there
    intact, the interrupted run listed, leftovers cleaned (by the server at its start, where the
    app calls clean_partial_files, else here), Explore serving, the interrupted run removed."""
    from explorer.server import runs

    root = server.runs_dir
    use_runs(root)
    bad = half_files(root)
    report.check(name, "no half-written file under a real name", not bad, "; ".join(bad))
    changed = unchanged(before)
    report.check(
        name,
        "earlier run, default pair and its time-lapse byte-identical",
        not changed,
        ", ".join(changed),
    )
    listed = runs.interrupted_runs(active=(), since=killed_at)
    report.check(
        name,
        "the interrupted run is listed",
        [r.dataset for r in listed] == [expect_dataset],
        ", ".join(r.title for r in listed) or "none",
    )
    if listed:
        report.check(
            name,
            "... and shown on the Train page",
            page_shows(server, "train", listed[0].title),
            listed[0].title,
        )
    ok, detail = first_image(server)  # the server's first page run tidies up (resources.py)
    report.check(name, "restarted: Explore shows the default models", ok, detail)
    by_server = expect_partial - len(partial_files(root))
    cleaned = runs.clean_partial_files(before=killed_at)
    report.check(
        name,
        f"{expect_partial} temporary file(s) left, then cleaned",
        by_server + len(cleaned) == expect_partial and not partial_files(root),
        f"{by_server} by the server at startup, {len(cleaned)} by "
        f"clean_partial_files: {', '.join(p.name for p in cleaned) or '-'}",
    )
    if listed:
        removed = runs.remove_run(listed[0].id)
        report.check(
            name,
            "the interrupted run is removed",
            removed and not runs.interrupted_runs(active=(), since=killed_at),
        )


def class_runs(root: Path) -> None:
    """What a class has before the faults: the digits default pair (with its time-lapse) and a
    finished run from an earlier lesson, trained here for 3 epochs (seconds)."""
    from explorer.server import runs
    from explorer.server.jobs import SERVER, JobSpec
    from explorer.server.slots import JobManager

    use_runs(root)
    manager = JobManager(runs.jobs_dir())
    for owner in (SERVER, "earlier lesson"):
        state = manager.start(JobSpec(epochs=3), owner).join(120)
        assert state.status == "finished", state.message
    runs.publish_default(dict(state.checkpoints), "digits")  # the last one: the default pair


# ---- the scenarios ----


def kill_during_training(report: Report, root: Path, logs: Path) -> None:
    name = "kill -9 during training"
    before = snapshot(root)
    with running(FaultyServer(root, logs / "train_kill.log")) as server:
        ok, detail = train_until(server, has_progress)
        report.check(name, "Train pressed; the job list showed progress; server killed", ok, detail)
        server.kill9()
        killed_at = time.time()
    with running(FaultyServer(root, logs / "train_restart.log")) as restarted:
        check_restarted(report, name, restarted, before, killed_at, None, expect_partial=0)


def kill_during_save(report: Report, root: Path, logs: Path) -> None:
    name = "kill -9 during a save"
    before = snapshot(root)
    mark = logs / "paused_at.txt"
    hooks = {PAUSE_ENV: "vae.safetensors", MARK_ENV: str(mark)}
    with running(FaultyServer(root, logs / "save_kill.log", **hooks)) as server:
        ok, detail = train_until(server, lambda result: mark.exists())
        report.check(
            name,
            "Train pressed; server killed half way through the VAE's file",
            ok,
            mark.read_text() if ok else detail,
        )
        server.kill9()
        killed_at = time.time()
    with running(FaultyServer(root, logs / "save_restart.log")) as restarted:
        check_restarted(report, name, restarted, before, killed_at, "digits", expect_partial=1)


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[bool]:
    """A tmpfs of size mounted on folder; yields whether mounting worked."""
    folder.mkdir(parents=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
    mounted = subprocess.run(command, capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int) -> None:
    stat = os.statvfs(folder)
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as f:
        f.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))


@contextlib.contextmanager
def simulated_full_disk(real: bool) -> Iterator[None]:
    """Where the tmpfs could not be mounted: every fsync fails with ENOSPC, as a full disk's can."""
    if real:
        yield
        return
    original = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    os.fsync = full
    try:
        yield
    finally:
        os.fsync = original


def full_disk(report: Report, source: Path, mount: Path, logs: Path) -> None:
    from explorer.server import runs
    from explorer.server.jobs import JobSpec
    from explorer.server.slots import JobManager
    from training.atomic import WriteError
    from training.checkpoints import load_checkpoint, save_checkpoint

    with small_disk(mount, "8m") as real:
        name = "full disk (8 MB tmpfs)" if real else "full disk (SIMULATED ENOSPC: no mount)"
        root = mount / "runs"
        shutil.copytree(source, root)
        use_runs(root)
        if real:
            fill(mount, leave=100_000)  # 100 KB left: less than one checkpoint
        before = snapshot(root)
        target = runs.default_folder("digits") / "vae.safetensors"
        with simulated_full_disk(real):
            try:
                save_checkpoint(target, load_checkpoint(target).model)
                report.check(name, "a save over the default VAE fails", False, "it was saved")
            except WriteError as e:
                report.check(
                    name,
                    "a save over the default VAE fails, saying why",
                    str(e).startswith("the disk is full: "),
                    str(e),
                )
            state = JobManager(root / "jobs").start(JobSpec(epochs=2), "a student").join(120)
        report.check(
            name,
            "previous files byte-identical, no temporary file left",
            not unchanged(before) and snapshot(root).keys() == before.keys(),
        )
        report.check(
            name,
            "a job (in this process) fails, says so, leaves no folder",
            state.status == "failed"
            and "the disk is full" in state.message
            and not (root / "jobs" / state.id).exists(),
            state.message,
        )
        if not real:
            return  # the server cannot share this process's simulated disk
        with running(FaultyServer(root, logs / "full_disk.log")) as server:
            ok, detail = first_image(server)
            report.check(name, "the server starts on the full disk; Explore serves", ok, detail)
            ok, detail = train_until(server, problem_with("failed"), timeout=120)
            report.check(
                name,
                "Train pressed: the page shows the job failed, disk full",
                ok and "the disk is full" in detail,
                detail,
            )
            report.check(
                name, "previous files still byte-identical after that job", not unchanged(before)
            )


def job_that_raises(report: Report, root: Path, logs: Path) -> None:
    name = "job that raises"
    with running(FaultyServer(root, logs / "raise.log", **{RAISE_ENV: "digits"})) as server:
        ok, detail = train_until(server, problem_with("failed"), timeout=120)
        report.check(
            name,
            "Train pressed: the page shows the job failed with its message",
            ok and "caught fire" in detail,
            detail,
        )
        finished = lambda r: any("Finished:" in e.proto.body for e in r.of_kind("alert"))  # noqa: E731
        ok, detail = train_until(server, finished)
        report.check(name, "Train pressed again: that job finishes", ok, detail)
        ok, detail = first_image(server)
        report.check(name, "the server keeps serving: Explore shows the default models", ok, detail)


def main() -> int:
    report = Report()
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        tmp = Path(tmp)
        root, logs = tmp / "runs", tmp / "logs"
        logs.mkdir()
        started = time.perf_counter()
        class_runs(root)
        kill_during_training(report, root, logs)
        kill_during_save(report, root, logs)
        full_disk(report, root, tmp / "small_disk", logs)
        job_that_raises(report, root, logs)
        seconds = time.perf_counter() - started
    print_table(
        f"Faults ({seconds:.0f} s in all)", ["scenario", "what was checked", "result"], report.rows
    )
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
