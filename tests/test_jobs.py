import ast
import dataclasses
import itertools
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import explorer.server.jobs as jobs
import training.fit
from explorer.server.jobs import SERVER, Curve, JobSpec
from explorer.server.slots import JobLimitError, JobManager
from training import recipe
from training.checkpoints import load_checkpoint
from training.data import DatasetError

REPO_ROOT = Path(__file__).resolve().parents[1]
QUICK = JobSpec(epochs=3)  # digits: 12 steps per epoch, well under a second per model
LONG = JobSpec(epochs=500)  # long enough to be caught mid-training
ME, OTHER = "owner-a", "owner-b"  # two browsers' owner ids


@pytest.fixture(autouse=True)
def no_stray_threads():
    """After each test, every job thread has ended (tests cancel what they start)."""
    yield
    for thread in threading.enumerate():
        if thread.name.startswith("training-"):
            thread.join(30)
            assert not thread.is_alive(), f"{thread.name} still running"


@pytest.fixture
def manager(tmp_path):
    """A manager whose unfinished jobs are cancelled after the test."""
    m = JobManager(tmp_path / "runs")
    yield m
    for job in m.running():
        job.cancel()
        job.join(30)


def refuse_data(*args, **kwargs):
    """A stand-in for load_dataset that fails at once, for tests about the registry."""
    raise DatasetError("no data in this test")


def wait_until(job, condition, timeout=60.0):
    """Poll job.state() (as a page would) until condition(state) holds; return that state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = job.state()
        if condition(state):
            return state
        time.sleep(0.005)
    raise AssertionError(f"timed out; last state: {job.state()}")


def finished(job, timeout=60.0):
    state = wait_until(job, lambda s: s.done, timeout)
    job.join(10)
    return state


def test_a_job_on_digits_trains_both_models_and_saves_loadable_checkpoints(manager):
    job = manager.start(QUICK, ME)
    statuses = []
    state = wait_until(job, lambda s: statuses.append(s.status) or s.done)
    assert state.status == "finished", state.message
    # Statuses only move forward: loading, training, finished (each seen zero or more times).
    order = ["loading data", "training", "finished"]
    assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses)
    assert set(state.checkpoints) == {"ae", "vae"}
    for kind, path in state.checkpoints.items():
        assert Path(path) == manager.runs_dir / job.id / f"{kind}.safetensors"
        assert load_checkpoint(path).config.kind == kind
    assert state.progress["ae"] == state.progress["vae"]  # same data, same batches
    step, n_steps = state.progress["vae"]
    assert step == n_steps == 3 * 12
    assert all("recon" in p and "total" in p for c in state.curves.values() for p in c)
    assert all("kl" in p for p in state.curves["vae"])
    assert not any("kl" in p for p in state.curves["ae"])
    assert state.curves["ae"][-1]["step"] == n_steps
    assert state.started <= state.finished <= time.time()
    assert "AE" in state.message and "VAE" in state.message
    assert state.owner == ME
    assert state.title == "digits · mlp · 2-D · 3 epochs"  # the presets, resolved


def test_cancel_during_training_stops_quickly_and_saves_nothing(manager):
    job = manager.start(LONG, ME)
    wait_until(job, lambda s: s.progress.get("ae", (0, 0))[0] > 0)
    asked = time.monotonic()
    assert manager.cancel(job.id, ME)
    state = finished(job)
    assert time.monotonic() - asked < 5
    assert state.status == "cancelled"
    assert state.message == "Cancelled; nothing was kept."
    for step, total in state.progress.values():  # the AE, and the VAE where it trains at once
        assert step < total
    assert state.checkpoints == {}
    assert not (manager.runs_dir / job.id).exists()
    assert manager.running() == []


def test_a_cancel_after_the_ae_finished_keeps_no_lone_ae(manager, monkeypatch):
    # one model after the other, as on a one-core server: the AE has finished when the VAE starts
    monkeypatch.setattr(recipe, "trains_in_parallel", lambda kinds, config: False)
    job = manager.start(JobSpec(epochs=40), ME)
    wait_until(job, lambda s: s.progress.get("vae", (0, 0))[0] > 0)
    ae_step, ae_steps = job.state().progress["ae"]
    assert ae_step == ae_steps
    manager.cancel(job.id, ME)
    state = finished(job)
    assert state.status == "cancelled"
    assert state.message == "Cancelled; nothing was kept."
    assert state.checkpoints == {}  # nothing to point at
    assert not (manager.runs_dir / job.id).exists()


def test_only_its_owner_can_cancel_a_job(manager):
    job = manager.start(LONG, ME)
    wait_until(job, lambda s: s.status == "training")
    assert not manager.cancel(job.id, OTHER)
    assert not manager.cancel("no-such-job", ME)
    time.sleep(0.2)
    assert not job.state().done
    assert manager.cancel(job.id, ME)
    assert finished(job).status == "cancelled"


def test_the_manager_lists_every_job_with_its_owner_in_start_order(manager, monkeypatch):
    monkeypatch.setattr(jobs, "load_dataset", refuse_data)
    ids = [finished(manager.start(QUICK, owner)).id for owner in (ME, OTHER, SERVER)]
    states = manager.states()
    assert [s.id for s in states] == ids
    assert [s.owner for s in states] == [ME, OTHER, SERVER]


def test_a_second_job_past_the_cap_is_refused_until_the_first_finishes(tmp_path, monkeypatch):
    gate = threading.Event()  # holds the first job in "loading data" until the test says go
    real = jobs.load_dataset

    def slow_load(*args, **kwargs):
        assert gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "load_dataset", slow_load)
    manager = JobManager(tmp_path, max_running=1)
    first = manager.start(QUICK, ME)
    try:
        with pytest.raises(
            JobLimitError, match=r"^1 job is training on this server \(the limit is 1\)"
        ):
            manager.start(QUICK, OTHER)
        assert manager.running() == [first]
    finally:
        gate.set()
    assert finished(first).status == "finished"
    second = manager.start(QUICK, OTHER)
    assert finished(second).status == "finished"
    assert second.id != first.id


@pytest.fixture
def held_in_training(monkeypatch):
    """Jobs hold after their presets are resolved, before training, until the event is set;
    then they train with cancel set, so they end at once."""
    gate = threading.Event()
    real = jobs.train_side_by_side

    def held(*args, cancel, **kwargs):
        gate.wait(30)
        return real(*args, cancel=cancel, **kwargs)

    monkeypatch.setattr(jobs, "train_side_by_side", held)
    yield gate
    gate.set()


def test_the_limit_message_names_the_jobs_holding_the_slots(tmp_path, held_in_training):
    manager = JobManager(tmp_path)  # the default cap: 2
    started = [manager.start(QUICK, ME), manager.start(JobSpec(latent_dim=3, epochs=5), OTHER)]
    for job in started:
        wait_until(job, lambda s: s.arch is not None)
    try:
        with pytest.raises(JobLimitError) as theirs:
            manager.start(QUICK, "owner-c")
    finally:
        for job in started:
            job.cancel()
        held_in_training.set()
    assert str(theirs.value) == (
        "2 jobs are training on this server (the limit is 2): digits · mlp · 2-D · 3 epochs "
        "(another session), digits · mlp · 3-D · 5 epochs (another session). "
        "Wait for one to finish."
    )
    for job in started:
        assert finished(job).status == "cancelled"


def test_default_model_jobs_hold_a_slot_are_never_refused_and_no_student_can_cancel_them(
    tmp_path, held_in_training
):
    manager = JobManager(tmp_path, max_running=1)
    default = manager.start(QUICK, SERVER)
    wait_until(default, lambda s: s.arch is not None)
    try:
        with pytest.raises(JobLimitError, match=r"\(the limit is 1\): default models for digits"):
            manager.start(QUICK, ME)
        another_default = manager.start(JobSpec(dataset="digits", epochs=2), SERVER)
        assert not manager.cancel(default.id, ME)
        assert len(manager.running()) == 2
    finally:
        for job in (default, another_default):
            job.cancel()
        held_in_training.set()
    finished(another_default)
    assert finished(default).status == "cancelled"


def test_one_job_per_browser_a_second_is_refused_naming_the_first(tmp_path, held_in_training):
    manager = JobManager(tmp_path, max_running=5)  # not the cap: the per-browser limit
    first = manager.start(QUICK, ME)
    wait_until(first, lambda s: s.arch is not None)
    try:
        with pytest.raises(JobLimitError) as refused:
            manager.start(JobSpec(epochs=4), ME)
        others = manager.start(QUICK, OTHER)  # another browser still may
    finally:
        first.cancel()
        others.cancel()
        held_in_training.set()
    assert str(refused.value) == (
        "You already have a job training (digits · mlp · 2-D · 3 epochs): one job per browser "
        "at a time. Wait for it to finish or cancel it."
    )
    assert len(manager.states()) == 2
    finished(first), finished(others)
    finished(manager.start(QUICK, ME))  # once it is done, the browser may start another


def test_the_teacher_cancels_any_students_job_but_not_the_servers(tmp_path, held_in_training):
    manager = JobManager(tmp_path, max_running=5)
    student, default = manager.start(LONG, ME), manager.start(LONG, SERVER)
    try:
        assert not manager.cancel(student.id, OTHER)  # another student: no
        assert not manager.cancel(default.id, OTHER, teacher=True)  # everyone waits on it
        assert manager.cancel(student.id, OTHER, teacher=True)
    finally:
        default.cancel()
        held_in_training.set()
    assert finished(student).status == "cancelled"
    finished(default)


def test_a_held_task_is_listed_counted_by_the_cap_and_uncancellable(tmp_path):
    manager = JobManager(tmp_path, max_running=1)
    with manager.hold("beta dial's VAEs for digits", "digits") as task:
        task.update("training the VAE with beta = 1", 30, 100)
        (state,) = manager.states()
        assert (state.label, state.title, state.owner) == (task.label, task.label, SERVER)
        assert state.describe(ME) == "beta dial's VAEs for digits"
        assert state.progress == {"all": (30, 100)} and not state.done
        with pytest.raises(JobLimitError, match=r"\(the limit is 1\): beta dial's VAEs for"):
            manager.start(QUICK, ME)
        assert not manager.cancel(task.id, ME, teacher=True)
    assert task.state().status == "finished" and manager.running() == []
    with pytest.raises(RuntimeError), manager.hold("denoising AE for digits", "digits") as task:
        raise RuntimeError("out of memory")
    assert (task.state().status, task.state().message) == ("failed", "out of memory")


def test_on_done_runs_after_every_job_finished_or_failed(tmp_path):
    done = []

    def tidy(job):
        done.append(job.state().status)
        return [f"tidied after {job.id}"]

    manager = JobManager(tmp_path, on_done=tidy)
    ids = [finished(manager.start(spec, ME)).id for spec in (QUICK, JobSpec(dataset="nope"))]
    assert done == ["finished", "failed"]
    assert [sentence for _, sentence in manager.notices] == [f"tidied after {i}" for i in ids]


@pytest.mark.parametrize(
    "spec, named",
    [
        (JobSpec(dataset="mnist", data_dir="/no/such/dir"), "/no/such/dir: no such folder"),
        (JobSpec(dataset="nope"), "unknown dataset 'nope'"),
    ],
)
def test_a_bad_dataset_fails_with_a_message_and_the_manager_stays_usable(manager, spec, named):
    state = finished(manager.start(spec, ME))
    assert state.status == "failed"
    assert named in state.message
    assert state.checkpoints == {} and state.finished is not None
    assert finished(manager.start(QUICK, ME)).status == "finished"


def test_a_diverging_vae_fails_saying_lower_the_learning_rate_and_keeps_its_last_epoch(
    manager, monkeypatch
):
    real = training.fit.loss_terms
    vae_batches = itertools.count()

    def nan_in_second_epoch(out, target, likelihood, beta=1.0, sparsity=0.0):
        terms = real(out, target, likelihood, beta, sparsity)
        if out.logvar is not None and next(vae_batches) >= 15:  # the VAE's 16th batch
            terms["total"] = terms["total"] * float("nan")
        return terms

    monkeypatch.setattr(training.fit, "loss_terms", nan_in_second_epoch)
    state = finished(manager.start(QUICK, ME))
    assert state.status == "failed"
    assert "VAE diverged" in state.message and "lower learning rate" in state.message
    assert "last finished epoch was saved" in state.message
    vae = load_checkpoint(state.checkpoints["vae"])
    assert len(vae.history) == 1  # restored to the end of epoch 1
    assert load_checkpoint(state.checkpoints["ae"]).config.kind == "ae"


def test_a_run_whose_ae_diverges_at_once_fails_and_leaves_no_folder(manager, monkeypatch):
    real = training.fit.loss_terms

    def nan_in_the_ae(out, target, likelihood, beta=1.0, sparsity=0.0):
        terms = real(out, target, likelihood, beta, sparsity)
        if out.logvar is None:
            terms["total"] = terms["total"] * float("nan")
        return terms

    monkeypatch.setattr(training.fit, "loss_terms", nan_in_the_ae)
    job = manager.start(QUICK, ME)
    state = finished(job)
    assert state.status == "failed"
    assert "AE diverged" in state.message and state.message.endswith("Nothing was kept.")
    assert "was saved" not in state.message
    assert not (manager.runs_dir / job.id).exists()  # not even the VAE, alone


def test_snapshots_are_immutable_and_can_be_read_while_the_job_runs(manager):
    job = manager.start(JobSpec(epochs=30), ME)
    snapshots = []
    while not (state := job.state()).done:
        snapshots.append(state)
        time.sleep(0.001)
    job.join(10)
    assert state.status == "finished", state.message
    assert len(snapshots) > 10
    first_training = next(s for s in snapshots if s.progress)
    kept = dict(first_training.progress)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first_training.status = "finished"
    with pytest.raises(TypeError):
        first_training.progress["ae"] = (0, 0)
    assert dict(first_training.progress) == kept  # later progress did not change it
    steps = [s.progress["ae"][0] for s in snapshots if "ae" in s.progress]
    assert steps == sorted(steps)


def test_curves_stay_bounded_and_evenly_spaced_on_long_runs():
    curve = Curve(max_points=500)
    for step in range(1, 10_001):
        curve.add({"step": step, "recon": 1.0 / step, "total": 1.0 / step})
    points = curve.points()
    assert 250 <= len(points) <= 501
    assert points[0]["step"] == 1 and points[-1]["step"] == 10_000
    gaps = {b["step"] - a["step"] for a, b in itertools.pairwise(points[:-1])}
    assert len(gaps) == 1  # one stride apart, old points no sparser than new ones


@pytest.mark.parametrize(
    "field, value",
    [
        ("arch", "transformer"),
        ("latent_dim", 0),
        ("epochs", 0),
        ("epochs", 10**6),
        ("lr", 0.0),
        ("beta", -1.0),
        ("noise_std", float("nan")),
        ("sparsity", -0.1),
        ("seed", -1),
        ("kinds", ()),
        ("kinds", ("ae", "ae")),
        ("kinds", ("gan",)),
        ("dataset", ""),
    ],
)
def test_a_spec_with_a_bad_value_is_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"^{field}:"):
        JobSpec(**{field: value})


def test_a_spec_accepts_a_list_of_kinds_and_stays_hashable():
    spec = JobSpec(kinds=["vae"])
    assert spec.kinds == ("vae",) and hash(spec) == hash(JobSpec(kinds=("vae",)))


def test_job_ids_are_unique_and_url_safe(manager, monkeypatch):
    monkeypatch.setattr(jobs, "load_dataset", refuse_data)
    ids = [finished(manager.start(QUICK, ME)).id for _ in range(5)]
    assert len(set(ids)) == 5
    assert all(i.replace("-", "").isalnum() for i in ids)
    assert all(manager.get(i).id == i for i in ids) and manager.get("nope") is None


def test_old_finished_jobs_are_forgotten_beyond_the_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "load_dataset", refuse_data)
    manager = JobManager(tmp_path, keep=3)
    ids = [finished(manager.start(QUICK, ME)).id for _ in range(6)]
    kept = [i for i in ids if manager.get(i) is not None]
    assert len(kept) == 3 and ids[-1] in kept and ids[0] not in kept


@pytest.mark.parametrize("module", ["jobs.py", "slots.py"])
def test_the_jobs_modules_never_import_streamlit(module):
    tree = ast.parse((REPO_ROOT / "explorer" / "server" / module).read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert names and not any(name.split(".")[0] == "streamlit" for name in names)


@pytest.mark.slow
def test_a_whole_job_runs_without_streamlit_ever_being_imported(tmp_path):
    script = (
        "import sys\n"
        "from explorer.server.jobs import JobSpec\n"
        "from explorer.server.slots import JobManager\n"
        f"job = JobManager({str(tmp_path)!r}).start(JobSpec(epochs=2), 'me')\n"
        "state = job.join(120)\n"
        "assert state.status == 'finished', state.message\n"
        "assert 'streamlit' not in sys.modules, 'streamlit was imported'\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr


def test_the_status_line_names_both_models_while_they_train_at_once(manager, monkeypatch):
    monkeypatch.setattr(recipe, "trains_in_parallel", lambda kinds, config: True)
    job = manager.start(LONG, ME)
    wait_until(job, lambda s: s.message.startswith("training the AE and the VAE: epoch "))
    manager.cancel(job.id, ME)
    assert finished(job).status == "cancelled"
