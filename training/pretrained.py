"""Full pairs trained ahead: the shipped ones (training/shipped/<dataset>/, float16 checkpoints
and a manifest), installed into a folder, and the full recipe run for any dataset before class.

    training/shipped/faces/
      ae.safetensors, vae.safetensors   float16 weights (they load as float32)
      manifest.json                     recipe, seed, data fingerprint, library versions, the
                                        figures measured on held-out data, SHA-256 of each file

A shipped file that does not match its manifest is refused by name, never loaded: the manifest
is what was measured, and a changed file is not that model.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from importlib import metadata  # scikit-learn's version without importing it (a second)
from pathlib import Path

import numpy as np
import safetensors
import torch

from training import quality
from training.atomic import atomic_write
from training.checkpoints import load_checkpoint, save_checkpoint
from training.config import config_to_dict
from training.data import DataOptions, Dataset, load_dataset
from training.evaluate import decode_all, encode_all
from training.fit import Progress
from training.models import AE
from training.recipe import recipe, train_side_by_side

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
MANIFEST = "manifest.json"
KINDS = ("ae", "vae")
MAX_SHIPPED_BYTES = 8 << 20  # every shipped model together
CHECK_IMAGES = 256  # held-out images whose test MSE the shipped-models test recomputes


class PretrainedError(Exception):
    """A shipped pair that cannot be used, or an output folder that cannot take one."""


def shipped_folder(name: str) -> Path | None:
    """The shipped pair's folder for a dataset, or None when nothing ships for it."""
    folder = SHIPPED_DIR / name
    return folder if (folder / MANIFEST).is_file() else None


def read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PretrainedError(f"{folder / MANIFEST}: unreadable ({e})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise PretrainedError(f"{folder / MANIFEST}: not a manifest (no files listed)")
    return manifest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify(folder: Path) -> dict:
    """The manifest of a shipped folder whose every file matches it (SHA-256 and size);
    raises PretrainedError naming the first file that does not."""
    manifest = read_manifest(folder)
    for kind in KINDS:
        name = f"{kind}.safetensors"
        path, listed = folder / name, manifest["files"].get(name)
        if listed is None:
            raise PretrainedError(f"{folder / MANIFEST}: lists no {name}")
        if not path.is_file():
            raise PretrainedError(f"{path}: missing")
        if path.stat().st_size != listed.get("bytes") or sha256(path) != listed.get("sha256"):
            raise PretrainedError(
                f"{path}: does not match its manifest (SHA-256): changed or damaged, refused. "
                f"`python -m training pretrained {manifest.get('dataset', '...')} --retrain "
                "--out DIR` rebuilds it"
            )
    return manifest


def install(name: str, out: str | Path) -> Path:
    """Copy the shipped pair of dataset name (checked against its manifest) into out, each
    file atomically; returns out. Raises PretrainedError: nothing ships, a file was changed,
    or out is not a folder."""
    folder = shipped_folder(name)
    if folder is None:
        raise PretrainedError(f"no pair ships for {name!r} (shipped: {shipped_names()})")
    verify(folder)
    out = checked_out(out)
    for file in (MANIFEST, *(f"{k}.safetensors" for k in KINDS)):
        with atomic_write(out / file) as f:
            f.write((folder / file).read_bytes())
    return out


def shipped_names() -> list[str]:
    if not SHIPPED_DIR.is_dir():
        return []
    return sorted(p.name for p in SHIPPED_DIR.iterdir() if (p / MANIFEST).is_file())


def checked_out(out: str | Path) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PretrainedError(f"--out {out} is a file: give a folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def train_full(
    name: str,
    out: str | Path,
    data_dir: str | None = None,
    seed: int = 0,
    ship: bool = False,
    on_progress: Callable[[str, Progress], None] | None = None,
) -> dict:
    """Train dataset name's full pair with its recipe into out, measure it and write its
    manifest beside it; returns the manifest. ship: float16 weights, no time-lapse (the
    shipped size), as training/shipped/<name> holds them."""
    out = checked_out(out)
    dataset = load_dataset(name, data_dir, DataOptions(seed=seed))
    chosen = recipe(dataset, seed=seed)
    start = time.perf_counter()
    trained = train_side_by_side(
        dataset, KINDS, chosen.train, out, chosen.model, on_progress, record=not ship
    )
    seconds = time.perf_counter() - start
    unfinished = [e.kind for e in trained if e.path is None or e.result.status != "finished"]
    if unfinished:
        raise PretrainedError(f"the {' and the '.join(unfinished).upper()} did not finish")
    if ship:
        for e in trained:
            save_checkpoint(
                e.path,
                e.model,
                chosen.train,
                dataset,
                e.metrics,
                e.result.history,
                dtype=torch.float16,
            )
    return write_manifest(out, dataset, seconds)


def write_manifest(out: Path, dataset: Dataset, seconds: float) -> dict:
    """Measure the pair saved in out as saved (trained on dataset in seconds, with the recipe
    its checkpoints record) and write out/manifest.json; returns the manifest."""
    saved = {k: load_checkpoint(out / f"{k}.safetensors") for k in KINDS}
    models = {k: c.model for k, c in saved.items()}
    metrics = {k: c.metrics for k, c in saved.items()}
    config, seed = saved["vae"].train_config, saved["vae"].train_config.seed
    manifest = {
        "dataset": dataset.name,
        "command": f"python -m training pretrained {dataset.name} --retrain --out DIR",
        "seed": seed,
        "recipe": {
            "train_config": config_to_dict(config),
            "model_config": config_to_dict(saved["vae"].config),
        },
        "data": {
            "fingerprint": dataset.fingerprint(),
            "n_samples": dataset.n_samples,
            "image_shape": list(dataset.image_shape),
        },
        "versions": versions(),
        "trained": {"seconds": round(seconds, 1), "on": machine()},
        "figures": figures(dataset, models, metrics, seed),
        "check": check_figures(dataset, out),
        "files": {f"{k}.safetensors": file_entry(out / f"{k}.safetensors") for k in KINDS},
    }
    with atomic_write(out / MANIFEST) as f:
        f.write(json.dumps(manifest, indent=2).encode())
    return manifest


def file_entry(path: Path) -> dict:
    return {"sha256": sha256(path), "bytes": path.stat().st_size}


def versions() -> dict:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": metadata.version("scikit-learn"),
        "safetensors": safetensors.__version__,
    }


def machine() -> str:
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    return f"{device}, {torch.get_num_threads()} threads"


def coders(model: AE) -> tuple[quality.Coder, quality.Coder]:
    """(encode, decode) of a model over NumPy arrays."""
    return (lambda x: encode_all(model, x)), (lambda z: decode_all(model, z))


def figures(dataset: Dataset, models: dict[str, AE], metrics: dict[str, dict], seed: int = 0):
    """What the class sees, measured on held-out data (training/quality.py): prior samples'
    Frechet distance to real images per model and AE / VAE; test MSE against PCA's (from
    metrics: kind -> training.evaluate.evaluate's); on faces, the smile edit against the
    generator's twins."""
    space, real = quality.real_sets(dataset, seed)
    latent_dim = models["vae"].config.latent_dim
    frechet = {
        k: quality.prior_frechet(coders(m)[1], latent_dim, space, real, seed)
        for k, m in models.items()
    }
    out = {
        "frechet": {**frechet, "ae_over_vae": frechet["ae"] / frechet["vae"]},
        "test_mse": {
            **{k: metrics[k]["recon_mse"] for k in KINDS},
            "pca": metrics["ae"]["pca_mse"],
        },
    }
    if dataset.name == "faces":
        twins = quality.smile_twins(dataset, seed)
        out["smile"] = {}
        for kind, model in models.items():
            encode, decode = coders(model)
            v = quality.attribute_vector(encode, dataset, "Smiling")
            edit = quality.smile_edit(encode, decode, twins, v)
            nearest = dict(zip(quality.TWIN_NAMES, edit.nearest, strict=True))
            out["smile"][kind] = {"gain": edit.gain, "nearest": nearest}
    if dataset.name == "waves":
        out["spike"] = {}
        for kind, model in models.items():
            encode, decode = coders(model)
            v = quality.attribute_vector(encode, dataset, "Spike")
            out["spike"][kind] = asdict(quality.spike_edit(encode, decode, dataset, v, seed))
    return out


def check_figures(dataset: Dataset, folder: Path) -> dict:
    """The test MSE of the saved pair (as loaded) on the first CHECK_IMAGES held-out images:
    the figure the shipped-models test recomputes."""
    rows = dataset.test_indices[:CHECK_IMAGES]
    x = dataset.floats(rows)
    mse = {}
    for kind in KINDS:
        model = load_checkpoint(folder / f"{kind}.safetensors").model
        mse[kind] = float(np.mean((decode_all(model, encode_all(model, x)) - x) ** 2))
    return {"images": len(rows), "recon_mse": mse}
