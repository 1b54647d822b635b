"""The runs folder: naming, listing, publishing a default pair and cleaning up after a run."""

import functools
import os
import time
from pathlib import Path

import pytest

from explorer.server import runs
from explorer.server.runs import RunInfo
from training.checkpoints import save_checkpoint
from training.config import ModelConfig, TrainConfig
from training.models import build_model


@pytest.fixture(autouse=True)
def runs_root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def save_model(folder: Path, kind: str, dataset: str = "digits", latent_dim: int = 2) -> Path:
    """A small untrained model of kind saved as folder/<kind>.safetensors."""
    model = build_model(ModelConfig(kind=kind, image_shape=(1, 8, 8), latent_dim=latent_dim))
    return save_checkpoint(folder / f"{kind}.safetensors", model, dataset={"name": dataset})


def save_pair(folder: Path, **kwargs) -> dict[str, str]:
    return {kind: str(save_model(folder, kind, **kwargs)) for kind in runs.KINDS}


def test_a_run_is_titled_by_dataset_architecture_latent_size_and_date():
    created = time.mktime((2025, 3, 7, 14, 5, 0, 0, 0, -1))
    info = RunInfo("20250307-140500-ab12cd34", "faces", "conv", 32, created)
    assert info.title == "faces · conv · 32-D · 07 Mar 14:05"


def test_a_runs_title_names_its_training_settings_read_from_its_header():
    folder = runs.jobs_dir() / "20251207-125000-0000000a"
    config = TrainConfig(epochs=3, beta=4.0, noise_std=0.2)
    for kind in runs.KINDS:
        model = build_model(ModelConfig(kind=kind, image_shape=(1, 8, 8)))
        save_checkpoint(folder / f"{kind}.safetensors", model, config, {"name": "digits"})
    assert runs.run_info(folder).title.startswith(
        "digits · mlp · 2-D · 3 epochs · beta 4 · noise 0.2 · "
    )


def test_three_runs_in_one_minute_get_three_different_titles():
    minute = time.mktime((2026, 12, 7, 12, 50, 0, 0, 0, -1))
    run = functools.partial(RunInfo, dataset="digits", arch="mlp", latent_dim=2, epochs=2)
    listed = runs.told_apart(
        [
            run("a", created=minute + 5, beta=1.0),
            run("b", created=minute + 20, beta=4.0),
            run("c", created=minute + 40, beta=1.0),
        ]
    )
    assert [r.title for r in listed] == [
        "digits · mlp · 2-D · 2 epochs · beta 1 · 07 Dec 12:50:05",  # as c but for the seconds
        "digits · mlp · 2-D · 2 epochs · beta 4 · 07 Dec 12:50",  # its beta tells it apart
        "digits · mlp · 2-D · 2 epochs · beta 1 · 07 Dec 12:50:40",
    ]


def test_finished_runs_are_listed_for_their_dataset_newest_first_with_titles():
    older, newer = runs.jobs_dir() / "older", runs.jobs_dir() / "newer"
    save_pair(older)
    save_pair(newer, latent_dim=3)
    later = time.time() + 60
    for kind in runs.KINDS:  # a file's mtime dates a run
        os.utime(newer / f"{kind}.safetensors", (later, later))
    save_pair(runs.jobs_dir() / "on_faces", dataset="faces")
    save_model(runs.jobs_dir() / "lone_ae", "ae")  # unfinished: not a run
    listed = runs.trained_runs("digits")
    assert [r.id for r in listed] == ["newer", "older"]
    assert listed[0].title.startswith("digits · mlp · 3-D · ")
    assert [r.id for r in runs.trained_runs("faces")] == ["on_faces"]


def test_a_pair_folder_is_a_runs_or_the_defaults_with_its_vae_files_time_while_whole():
    assert runs.pair_folder("digits", runs.DEFAULT_SOURCE) is None  # not trained yet
    save_pair(runs.default_folder("digits", "preview"))
    preview = runs.default_folder("digits", "preview")
    stamp = (preview / "vae.safetensors").stat().st_mtime
    assert runs.pair_folder("digits", runs.DEFAULT_SOURCE, "preview") == (preview, stamp)
    run = runs.jobs_dir() / "20250101-000000-0000aaaa"
    save_model(run, "ae")
    assert runs.pair_folder("digits", run.name) is None  # half a pair
    save_model(run, "vae")
    assert runs.pair_folder("digits", run.name) == (run, (run / "vae.safetensors").stat().st_mtime)
    save_pair(runs.runs_dir() / "elsewhere")
    for outside in ("../elsewhere", "..", "", "a/../../elsewhere"):
        assert runs.pair_folder("digits", outside) is None, outside


def test_publishing_a_default_pair_moves_it_and_removes_the_emptied_job_folder():
    job_folder = runs.jobs_dir() / "20250101-000000-0000aaaa"
    checkpoints = save_pair(job_folder)
    runs.publish_default(checkpoints, "digits")
    assert runs.has_pair(runs.default_folder("digits"))
    assert not job_folder.exists()
    runs.publish_default(checkpoints, "digits")  # every waiting session calls it: harmless
    assert runs.has_pair(runs.default_folder("digits"))


def test_an_unfinished_run_folder_is_removed_and_a_whole_pair_never_is():
    empty, lone, whole = (runs.jobs_dir() / name for name in ("empty", "lone", "whole"))
    empty.mkdir(parents=True)
    save_model(lone, "ae")
    save_pair(whole)
    assert runs.remove_unfinished(empty) and not empty.exists()
    assert runs.remove_unfinished(lone) and not lone.exists()
    assert not runs.remove_unfinished(whole) and runs.has_pair(whole)
    assert not runs.remove_unfinished(runs.jobs_dir() / "never-there")


# ---- faults and limits ----

OLD, MID, NEW = "20250101-090000-0000000a", "20250102-090000-0000000b", "20250103-090000-0000000c"


def make_interrupted(run_id: str, saved_ae: bool = False) -> Path:
    """What a kill leaves: a job folder without a whole pair (the AE alone, or nothing)."""
    folder = runs.jobs_dir() / run_id
    folder.mkdir(parents=True, exist_ok=True)
    if saved_ae:
        save_model(folder, "ae")
    return folder


def make_finished(run_id: str, age_days: float) -> Path:
    """A finished run whose VAE was saved age_days ago (a run's date is its VAE's mtime)."""
    folder = runs.jobs_dir() / run_id
    save_pair(folder)
    when = time.time() - age_days * 86400
    for kind in runs.KINDS:
        os.utime(folder / f"{kind}.safetensors", (when, when))
    return folder


def test_interrupted_runs_are_listed_newest_first_with_their_dataset_when_it_was_saved():
    make_interrupted(OLD)
    make_interrupted(NEW, saved_ae=True)
    make_finished(MID, 1)
    make_interrupted("20250104-090000-0000000d")  # still training: active
    (runs.jobs_dir() / "not-a-job").mkdir()  # put there by hand: never ours to list or remove
    listed = runs.interrupted_runs(active={"20250104-090000-0000000d"})
    assert [r.id for r in listed] == [NEW, OLD]
    assert all(r.interrupted for r in listed)
    assert listed[0].title == "digits · interrupted · started 03 Jan 09:00"
    assert listed[1].title == "unknown dataset · interrupted · started 01 Jan 09:00"


def test_a_folder_named_like_a_job_but_with_no_real_date_is_listed_and_removable():
    bogus = make_interrupted("20251399-999999-0000000e")
    (listed,) = runs.interrupted_runs(active=())
    assert listed.id == bogus.name and listed.created == 0.0
    assert runs.remove_run(bogus.name) and not bogus.exists()


def test_a_job_folder_created_after_the_cutoff_is_not_taken_for_a_leftover():
    # A job that starts while the page lists leftovers may not be in `active` yet.
    starting = runs.jobs_dir() / time.strftime("%Y%m%d-%H%M%S-0000abcd")
    starting.mkdir(parents=True)
    assert runs.interrupted_runs(active=()) == []  # this server (test session) began earlier
    assert [r.id for r in runs.interrupted_runs(active=(), since=time.time() + 2)] == [
        starting.name
    ]


def test_remove_run_deletes_a_finished_or_an_interrupted_run_and_nothing_else():
    finished, interrupted, other = (
        make_finished(OLD, 2),
        make_interrupted(MID),
        make_finished(NEW, 1),
    )
    save_pair(runs.default_folder("digits"))
    assert runs.remove_run(OLD) and not finished.exists()
    assert runs.remove_run(MID) and not interrupted.exists()
    assert not runs.remove_run(MID)  # gone already
    assert runs.has_pair(other) and runs.has_pair(runs.default_folder("digits"))
    assert not runs.remove_run(NEW, active={NEW}) and runs.has_pair(other)


@pytest.mark.parametrize(
    "bad_id",
    [
        "", "..", ".", "default", "../default", "../../etc", "/tmp", "/", "jobs/" + OLD,
        OLD + "/..", OLD + "/", "..\\" + OLD, OLD + "\x00", "\x00", OLD + "\n", OLD.upper(),
        OLD[:-1] + "G", "x" * 5000, OLD * 100, "２０２５０１０１-090000-0000000a",
        "20250101-090000-0000000a\u200b", "ünïcödé", None, 20250101, b"20250101-090000-0000000a",
    ],
)  # fmt: skip
def test_remove_run_refuses_anything_but_a_job_id_and_removes_nothing(bad_id, runs_root):
    make_finished(OLD, 1)
    save_pair(runs.default_folder("digits"))
    outside = runs_root.parent / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    before = sorted(p for p in runs_root.parent.rglob("*"))
    assert runs.remove_run(bad_id) is False
    assert sorted(p for p in runs_root.parent.rglob("*")) == before


def test_remove_run_does_not_follow_a_link_named_like_a_run(runs_root):
    target = runs_root.parent / "elsewhere"
    save_pair(target)
    runs.jobs_dir().mkdir(parents=True)
    (runs.jobs_dir() / OLD).symlink_to(target, target_is_directory=True)
    assert not runs.remove_run(OLD)
    assert runs.has_pair(target)
    assert runs.interrupted_runs(active=()) == [] and runs.finished_runs() == []


def test_folder_bytes_adds_up_the_files_below_a_folder(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one").write_bytes(b"x" * 10)
    (tmp_path / "a" / "b" / "two").write_bytes(b"x" * 32)
    assert runs.folder_bytes(tmp_path) == 42
    assert runs.folder_bytes(tmp_path / "missing") == 0


def test_prune_removes_interrupted_runs_first_then_the_oldest_unpinned_inactive_runs():
    pinned = make_finished("20250101-000000-00000001", 9)  # oldest, but a class default
    training = make_interrupted("20250101-000000-00000002", saved_ae=True)  # running now
    leftover = make_interrupted("20250101-000000-00000003", saved_ae=True)
    old = make_finished("20250101-000000-00000004", 5)
    middle = make_finished("20250101-000000-00000005", 3)
    new = make_finished("20250101-000000-00000006", 1)
    run_bytes = runs.folder_bytes(new)
    # Room for the pinned run, the one training and two more finished ones.
    cap = runs.folder_bytes(runs.jobs_dir()) - runs.folder_bytes(leftover) - run_bytes
    messages = runs.prune(cap, keep={pinned.name}, active={training.name})
    assert not leftover.exists() and not old.exists()
    assert all(f.exists() for f in (pinned, training, middle, new))
    assert runs.folder_bytes(runs.jobs_dir()) <= cap
    assert messages[0].startswith("Removed the interrupted run digits · interrupted · started ")
    assert messages[1].startswith("Removed the oldest run digits · mlp · 2-D · ")
    assert messages[1].endswith(f" to keep the runs folder under {runs.format_bytes(cap)}.")
    assert len(messages) == 2
    assert runs.prune(cap, keep={pinned.name}, active={training.name}) == []  # under: nothing


def test_prune_says_so_when_only_pinned_and_active_runs_are_left_over_the_cap():
    pinned = make_finished(OLD, 2)
    training = make_interrupted(MID, saved_ae=True)
    messages = runs.prune(1, keep={OLD}, active={MID})
    assert pinned.exists() and training.exists()
    assert messages == [
        f"The runs folder still holds {runs.format_bytes(runs.folder_bytes(runs.jobs_dir()))}, "
        "over its 1 bytes cap: the rest are training or published as class defaults."
    ]


def test_the_cap_comes_from_the_environment_in_megabytes(monkeypatch):
    monkeypatch.delenv(runs.MAX_RUNS_ENV, raising=False)
    assert runs.max_runs_bytes() == runs.DEFAULT_MAX_RUNS_MB << 20
    assert runs.format_bytes(runs.max_runs_bytes()) == "2.0 GB"
    monkeypatch.setenv(runs.MAX_RUNS_ENV, "500")
    assert runs.max_runs_bytes() == 500 << 20
    for bad in ("0", "-5", "1e3", "lots", "５"):
        monkeypatch.setenv(runs.MAX_RUNS_ENV, bad)
        assert runs.max_runs_bytes() == runs.DEFAULT_MAX_RUNS_MB << 20


def test_leftover_temporary_files_are_cleaned_anywhere_under_the_runs_folder(runs_root):
    finished = make_finished(OLD, 1)
    save_pair(runs.default_folder("digits"))
    leftovers = [
        finished / ".vae.safetensors.k2j3h4.tmp",
        runs.default_folder("digits") / ".ae.safetensors.abcd12.tmp",
        runs.ladder_folder("digits") / ".vae-beta-4.safetensors.x1y2z3.tmp",
        runs_root / ".class_defaults.json.q1w2e3.tmp",
        runs.default_folder("digits") / "ladder.training",  # a beta ladder cut short
        finished / "vae.safetensorsa1b2c3.tmp",  # the older naming
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a file")
    ladder = runs.default_folder("digits") / "ladder.training"
    ladder.unlink()
    save_model(ladder, "vae")
    kept = sorted(p for p in runs_root.rglob("*") if p not in leftovers and ladder not in p.parents)
    assert sorted(runs.clean_partial_files(before=time.time() + 1)) == sorted(leftovers)
    assert sorted(runs_root.rglob("*")) == kept
    assert runs.has_pair(finished) and runs.has_pair(runs.default_folder("digits"))


def test_a_save_in_progress_is_not_cleaned(runs_root):
    writing = runs.default_folder("digits") / ".vae.safetensors.abc123.tmp"
    writing.parent.mkdir(parents=True)
    writing.write_bytes(b"being written now")
    assert runs.clean_partial_files() == []  # written after this server started
    assert writing.exists()
