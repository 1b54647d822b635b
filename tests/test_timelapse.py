"""The training time-lapse: recording (training/timelapse.py), its file, its place in a run
folder (explorer/server/runs.py) and its animated figure (explorer/core/timelapse_figure.py)."""

from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import torch

from explorer.core.latent import fit_projection
from explorer.core.model_pair import KINDS, build_pair
from explorer.core.timelapse_figure import (
    CURSOR_TRACES,
    MAP_TRACES,
    loss_axis,
    map_range,
    mismatch,
    projected_frames,
    thinned,
    timelapse_figure,
)
from explorer.server import runs
from training.checkpoints import load_checkpoint
from training.config import ModelConfig, TrainConfig
from training.evaluate import encode_all
from training.fit import Progress, fit
from training.models import build_model
from training.recipe import train_side_by_side
from training.timelapse import (
    FILENAME,
    FLOOR,
    MAX_FRAMES,
    MAX_IMAGES,
    MIN_FRAMES,
    MIN_IMAGES,
    SHARE,
    Recorder,
    Timelapse,
    TimelapseError,
    Track,
    frame_interval,
    load_timelapse,
    plan,
    read_header,
    save_timelapse,
    subset_indices,
)

SMALL = TrainConfig(epochs=3, batch_size=128, precision="fp32")


@pytest.fixture(scope="module")
def trained_run(digits, tmp_path_factory) -> Path:
    """A digits pair trained through the recipe, with its time-lapse."""
    folder = tmp_path_factory.mktemp("run")
    train_side_by_side(digits, KINDS, SMALL, folder)
    return folder


@pytest.fixture(scope="module")
def pair(digits, trained_run):
    ae, vae = (load_checkpoint(trained_run / f"{k}.safetensors").model for k in KINDS)
    return build_pair(digits, ae, vae, trained_run.name)


def random_timelapse(n_frames=4, n_images=6, latent_dim=3, seed=0) -> Timelapse:
    rng = np.random.default_rng(seed)

    def track(terms: tuple[str, ...]) -> Track:
        return Track(
            steps=np.arange(n_frames, dtype=np.int64) * 10,
            codes=rng.normal(size=(n_frames, n_images, latent_dim)).astype(np.float32),
            terms={t: rng.random(n_frames).astype(np.float32) for t in terms},
            curve_steps=np.arange(1, 3 * n_frames + 1, dtype=np.int64) * 3,
            curve={t: rng.random(3 * n_frames).astype(np.float32) + 0.5 for t in terms},
        )

    tracks = {"ae": track(("recon", "total")), "vae": track(("kl", "recon", "total"))}
    return Timelapse("digits", np.sort(rng.choice(100, n_images, replace=False)), tracks)


# ---- recording ----


def test_the_recorded_subset_is_seeded_sorted_and_drawn_from_the_training_rows():
    train = np.arange(0, 2000, 2)
    chosen = subset_indices(train, seed=3, n=500)
    assert len(chosen) == 500 and np.all(np.diff(chosen) > 0) and np.isin(chosen, train).all()
    assert np.array_equal(chosen, subset_indices(train, seed=3, n=500))
    assert not np.array_equal(chosen, subset_indices(train, seed=4, n=500))
    assert np.array_equal(subset_indices(train[:10], seed=0, n=500), train[:10])


@pytest.mark.parametrize("n_steps", [1, 7, 10, 57, 58, 59, 600, 1200, 4680, 123_457])
def test_a_run_of_any_length_records_at_most_max_frames_from_step_0_to_its_last_step(n_steps):
    model = build_model(ModelConfig(kind="ae", image_shape=(1, 2, 2), latent_dim=2))
    recorder = Recorder(model, torch.rand(3, 1, 2, 2), max_frames=60)
    recorder.start()
    epoch_length = 11
    for step in range(1, n_steps + 1):  # fit's reports: every 10 steps and at each epoch's end
        if step % 10 == 0 or step % epoch_length == 0 or step == n_steps:
            recorder(Progress(step, n_steps, 1, 1, {"recon": 1.0, "total": 1.0}))
    track = recorder.track()
    assert track.steps[0] == 0 and track.steps[-1] == n_steps
    assert 2 <= len(track.steps) <= 60 and np.all(np.diff(track.steps) > 0)
    assert track.codes.shape == (len(track.steps), 3, 2)
    assert np.isnan(track.terms["recon"][0]) and np.all(track.terms["recon"][1:] == 1.0)
    if n_steps >= 600:  # long runs use most of the frames
        assert len(track.steps) >= 50


@pytest.mark.parametrize(
    ("n_train", "batch_size", "epochs", "n_pixels"),
    [(1437, 128, 100, 64), (60_000, 128, 1, 784), (60_000, 128, 40, 784), (18_000, 128, 5, 12288),
     (270, 64, 1, 12288), (180_000, 128, 1, 12288)],
)  # fmt: skip
def test_the_recording_stays_within_its_share_of_the_training(
    n_train, batch_size, epochs, n_pixels
):
    n_images, n_frames = plan(n_train, batch_size, epochs, n_pixels)
    assert MIN_IMAGES <= n_images <= MAX_IMAGES and MIN_FRAMES <= n_frames <= MAX_FRAMES
    trained = n_train // batch_size * epochs * batch_size  # images through the model
    budget = max(SHARE * trained, FLOOR / n_pixels, MIN_IMAGES * MIN_FRAMES)
    assert n_images * n_frames <= budget


def test_small_images_and_long_runs_get_the_most_images_and_frames():
    assert plan(1437, 128, 100, 64) == (MAX_IMAGES, MAX_FRAMES)  # digits, default
    assert plan(60_000, 128, 40, 784) == (MAX_IMAGES, MAX_FRAMES)  # MNIST, default
    assert plan(18_000, 128, 5, 12288) == (MIN_IMAGES, 22)  # faces, default: 700 steps


def test_frame_interval_needs_room_for_the_first_and_last_frames():
    assert frame_interval(1200, 60) == 21 and frame_interval(5, 60) == 1
    with pytest.raises(ValueError, match="max_frames"):
        frame_interval(100, 2)


def test_the_recorder_keeps_each_frames_codes_as_the_model_encoded_them_then(digits):
    images = digits.pixels[:50]
    model = build_model(ModelConfig(kind="vae", image_shape=(1, 8, 8), latent_dim=2), seed=1)
    recorder = Recorder(model, images)
    recorder.start()
    before = encode_all(model, images)
    fit(model, digits.pixels, SMALL, on_progress=recorder)
    track = recorder.track()
    assert np.array_equal(track.codes[0], before)  # the VAE's means, before training
    np.testing.assert_allclose(track.codes[-1], encode_all(model, images), rtol=1e-5, atol=1e-6)
    assert track.steps[-1] == 3 * (len(digits.pixels) // 128)
    assert set(track.curve) == {"recon", "kl", "total"} and len(track.curve_steps) > 0


def test_recording_leaves_the_trained_weights_bit_identical(digits, tmp_path):
    subset = digits.subset(np.arange(digits.n_samples) < 600)
    with_it = train_side_by_side(subset, KINDS, SMALL, tmp_path / "with")
    without = train_side_by_side(subset, KINDS, SMALL, tmp_path / "without", record=False)
    for a, b in zip(with_it, without, strict=True):
        weights_a, weights_b = a.model.state_dict(), b.model.state_dict()
        assert all(torch.equal(weights_a[name], weights_b[name]) for name in weights_a)
        assert a.result.history == b.result.history
    assert (tmp_path / "with" / FILENAME).is_file()
    assert not (tmp_path / "without" / FILENAME).exists()


def test_the_recipe_saves_the_pairs_time_lapse_beside_its_checkpoints(trained_run, digits):
    lapse = load_timelapse(trained_run / FILENAME)
    assert lapse.dataset == "digits" and set(lapse.tracks) == set(KINDS)
    assert len(lapse.indices) == 500 and np.isin(lapse.indices, digits.train_indices).all()
    ae, vae = lapse.tracks["ae"], lapse.tracks["vae"]
    assert np.array_equal(ae.steps, vae.steps)  # one subset, one schedule: frames side by side
    assert "kl" in vae.curve and "kl" not in ae.curve
    final = load_checkpoint(trained_run / "vae.safetensors").model
    np.testing.assert_allclose(
        vae.codes[-1], encode_all(final, digits.pixels[lapse.indices]), rtol=1e-5, atol=1e-6
    )


# ---- the file ----


def test_a_saved_time_lapse_reloads_bit_identical(tmp_path):
    lapse = random_timelapse()
    lapse.tracks["vae"].terms["kl"][0] = np.nan  # step 0 has no loss yet
    loaded = load_timelapse(save_timelapse(tmp_path / FILENAME, lapse))
    assert loaded.dataset == lapse.dataset and loaded.indices.tobytes() == lapse.indices.tobytes()
    assert list(loaded.tracks) == list(lapse.tracks)
    for kind, track in lapse.tracks.items():
        got = loaded.tracks[kind]
        for field in ("steps", "codes", "curve_steps"):
            a, b = getattr(track, field), getattr(got, field)
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        for field in ("terms", "curve"):
            a, b = getattr(track, field), getattr(got, field)
            assert a.keys() == b.keys()
            assert all(a[k].tobytes() == b[k].tobytes() for k in a)


def test_saving_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / FILENAME
    save_timelapse(path, random_timelapse(seed=0))
    save_timelapse(path, random_timelapse(seed=1))
    assert [p.name for p in tmp_path.iterdir()] == [FILENAME]
    loaded = load_timelapse(path)
    assert np.array_equal(loaded.indices, random_timelapse(seed=1).indices)


def write_tensors(path: Path, tensors: dict, header: dict) -> Path:
    path.write_bytes(safetensors.numpy.save(tensors, header))
    return path


def valid_parts(folder: Path) -> tuple[dict, dict]:
    """The arrays and header of a valid time-lapse file, to spoil."""
    data = save_timelapse(folder / FILENAME, random_timelapse()).read_bytes()
    return safetensors.numpy.load(data), read_header(data)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda t, h: h.update(format="something else"), "expected latent-explorer-timelapse"),
        (lambda t, h: h.update(version="9"), "version 9"),
        (lambda t, h: t.pop("vae.codes"), "no array 'vae.codes'"),
        (lambda t, h: t.update({"ae.steps": t["ae.steps"][::-1].copy()}), "must increase"),
        (lambda t, h: t.update({"ae.codes": t["ae.codes"][:, :2].copy()}), "ae.codes has shape"),
        (lambda t, h: t.update({"ae.steps": t["ae.steps"].astype(np.float32)}), "float32"),
        (lambda t, h: t.update({"vae.curve.kl": t["vae.curve.kl"][:3].copy()}), "must each"),
        (lambda t, h: h.update(kinds='"ae"'), "kinds must be a list"),
    ],
)
def test_a_file_that_is_not_a_valid_time_lapse_is_refused_naming_it_and_why(
    tmp_path, spoil, message
):
    tensors, header = valid_parts(tmp_path)
    spoil(tensors, header)
    path = write_tensors(tmp_path / "bad.safetensors", tensors, header)
    with pytest.raises(TimelapseError, match=message) as error:
        load_timelapse(path)
    assert str(path) in str(error.value)


def test_garbage_truncated_missing_and_checkpoint_files_are_refused(tmp_path, trained_run):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01pickle? no" * 10)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes((trained_run / FILENAME).read_bytes()[:5000])
    cases = {
        garbage: "not a safetensors file",
        truncated: "not a safetensors file",
        tmp_path / "absent.safetensors": "cannot be read",
        trained_run / "ae.safetensors": "expected latent-explorer-timelapse",
    }
    for path, message in cases.items():
        with pytest.raises(TimelapseError, match=message):
            load_timelapse(path)


# ---- in the runs folder ----


def test_publishing_a_default_pair_moves_its_time_lapse_and_empties_the_job_folder(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    job = runs.jobs_dir() / "20250101-000000-0000aaaa"
    save_timelapse(job / FILENAME, random_timelapse())
    checkpoints = {}
    for kind in KINDS:
        (job / f"{kind}.safetensors").write_bytes(b"a checkpoint")
        checkpoints[kind] = str(job / f"{kind}.safetensors")
    runs.publish_default(checkpoints, "digits")
    target = runs.default_folder("digits")
    assert (target / FILENAME).is_file() and not job.exists()
    runs.publish_default(checkpoints, "digits")  # every waiting session calls it: harmless
    assert (target / FILENAME).is_file()


def test_publishing_a_pair_without_a_time_lapse_drops_the_older_pairs(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    save_timelapse(runs.default_folder("digits") / FILENAME, random_timelapse())
    job = runs.jobs_dir() / "old-style-job"
    job.mkdir(parents=True)
    for kind in KINDS:
        (job / f"{kind}.safetensors").write_bytes(b"a checkpoint")
    runs.publish_default({k: str(job / f"{k}.safetensors") for k in KINDS}, "digits")
    assert not (runs.default_folder("digits") / FILENAME).exists()


def test_an_unfinished_run_is_removed_with_its_time_lapse(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    job = runs.jobs_dir() / "cancelled"
    save_timelapse(job / FILENAME, random_timelapse())
    (job / "ae.safetensors").write_bytes(b"half a pair")
    assert runs.remove_unfinished(job) and not job.exists()


# ---- the figure ----


def test_the_figure_has_a_frame_per_recording_with_the_cursor_at_its_step(pair, trained_run):
    lapse = load_timelapse(trained_run / FILENAME)
    fig = timelapse_figure(lapse, pair.projections)
    steps = lapse.tracks["vae"].steps
    assert [frame.name for frame in fig.frames] == [str(s) for s in steps]
    assert len(fig.layout.sliders[0].steps) == len(steps)
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == [
        "▶ Play",
        "❚❚ Pause",
        "⟲ Replay",
    ]
    for frame, step in zip(fig.frames, steps, strict=True):
        assert list(frame.traces) == [*MAP_TRACES.values(), *CURSOR_TRACES]
        for cursor in frame.data[2:]:
            assert list(cursor.x) == [step, step]
    assert list(fig.data[CURSOR_TRACES[0]].x) == [0, 0]  # the figure opens at step 0


def test_each_frame_shows_the_recorded_codes_through_the_pairs_final_projection(pair, trained_run):
    lapse = load_timelapse(trained_run / FILENAME)
    fig = timelapse_figure(lapse, pair.projections)
    for kind, trace in MAP_TRACES.items():
        codes = lapse.tracks[kind].codes
        for frame, z in zip(fig.frames, codes, strict=True):
            xy = pair.projections[kind].to_plane(z).astype(np.float32)
            assert np.array_equal(frame.data[trace].x, xy[:, 0])
            assert np.array_equal(frame.data[trace].y, xy[:, 1])
    # The last frame is the Explore map: these models' own codes of these images.
    last = fig.frames[-1].data[MAP_TRACES["vae"]]
    explore = pair.projections["vae"].to_plane(
        pair.encode("vae", pair.dataset.floats(lapse.indices))
    )
    np.testing.assert_allclose(np.c_[last.x, last.y], explore, atol=1e-5)


def test_a_latent_space_above_2_is_drawn_through_its_pca_view():
    lapse = random_timelapse(latent_dim=5)
    projections = {k: fit_projection(lapse.tracks[k].codes[-1]) for k in KINDS}
    xy = projected_frames(lapse, projections)
    assert xy["ae"].shape == (4, 6, 2)
    fig = timelapse_figure(lapse, projections, np.array([0, 1, 2, 0, 1, 2]), ("a", "b", "c"))
    xy_2 = projections["ae"].to_plane(lapse.tracks["ae"].codes[2]).astype(np.float32)
    assert np.array_equal(fig.frames[2].data[0].x, xy_2[:, 0])
    assert "PCA view" in fig.layout.annotations[0].text
    assert [t.name for t in fig.data if t.showlegend is not False] == ["a", "b", "c"]


def test_the_map_range_holds_the_last_frame_and_most_of_every_frame():
    frames = np.zeros((3, 200, 2))
    frames[0, 0] = [1000, -1000]  # one far code early on does not shrink the map
    frames[-1] = np.random.default_rng(0).normal(size=(200, 2))
    (x0, x1), (y0, y1) = map_range(frames)
    assert x0 <= frames[-1, :, 0].min() and x1 >= frames[-1, :, 0].max()
    assert y0 <= frames[-1, :, 1].min() and y1 >= frames[-1, :, 1].max()
    assert x1 < 10 and y0 > -10


def test_positive_losses_get_a_log_axis_and_negative_ones_a_linear_axis():
    kl = loss_axis(np.array([0.05, 2.0, np.nan], dtype=np.float32))
    assert kl.type == "log" and kl.range[0] < np.log10(0.05) and kl.range[1] > np.log10(2.0)
    assert kl.span[0] < 0.05 and kl.span[1] > 2.0
    gaussian = loss_axis(np.array([-3.0, 5.0]), np.array([1.0]))
    assert gaussian.type == "linear" and gaussian.span[0] < -3 and gaussian.span[1] > 5


def test_a_gaussian_runs_negative_reconstruction_is_drawn_with_its_cursor(pair, trained_run):
    lapse = load_timelapse(trained_run / FILENAME)
    for track in lapse.tracks.values():
        track.curve["recon"] -= 100  # a calibrated Gaussian's nats go below zero
    fig = timelapse_figure(lapse, pair.projections)
    assert fig.layout.yaxis3.type == "linear" and fig.layout.yaxis4.type == "log"
    low, high = fig.data[CURSOR_TRACES[0]].y
    assert low <= lapse.tracks["vae"].curve["recon"].min() and high > -100


def test_thinned_curves_keep_their_ends():
    assert list(thinned(5, 1000)) == [0, 1, 2, 3, 4]
    kept = thinned(10_000, 1000)
    assert len(kept) == 1000 and kept[0] == 0 and kept[-1] == 9999


def test_a_time_lapse_of_another_run_or_dataset_is_not_replayed(pair, trained_run):
    lapse = load_timelapse(trained_run / FILENAME)
    assert mismatch(lapse, pair) is None
    other = Timelapse("mnist", lapse.indices, lapse.tracks)
    assert "recorded on mnist" in mismatch(other, pair)
    shifted = {
        k: Track(t.steps, t.codes + 1, t.terms, t.curve_steps, t.curve)
        for k, t in lapse.tracks.items()
    }
    assert "another run" in mismatch(Timelapse("digits", lapse.indices, shifted), pair)
    assert "both" in mismatch(Timelapse("digits", lapse.indices, {"ae": lapse.tracks["ae"]}), pair)
