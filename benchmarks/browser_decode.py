"""Decoding in the browser, in the real app: hover and slider drags on the Explore page in
headless Chromium (loopback), for the pairs of PAIRS: the digits MLP pair, a faces 32-D conv
pair, a 28-row GRU pair on MNIST and the waves' pairs (the default GRUs reading frames, and the
MLP they are compared with).

For each pair the mouse follows a path of --points points across each map (AE, then VAE), one
move per 16 ms, and then drags the first slider of the live panel (mouse down on its thumb,
moves, up). Reported, from the page's own timings (`window.latentExplorerStats`, live.js):

- decode ms per image (each model's decode, median and p95);
- frames per second drawn while the mouse moved (from the frames' timestamps);
- mouse move to image (the pointer event's timeStamp, or the slider's input event, to after
  the last canvas's putImageData: the compositor's last step to the screen is not included);
- websocket frames (both directions) while hovering or dragging, before the slider's release:
  the server is not involved, so 0 is expected (the release pins the point: one rerun);
- the bundle's size and dtype, and the largest |browser - torch| pixel difference over 20
  latent points per model, decoded in the page by explorer/web/decoder.js (imported into the
  page: the live panel's module keeps its decoder to itself) with a bundle built from the same
  checkpoints by the app's own function (explorer/web/web_decoder.py).

Every number is the median over --repeats repeats. Each pair's models are the dataset's recipe
(training/recipe.py), with the architecture PAIRS names where it names one. All but digits are
quick pairs (QUICK_IMAGES images, 2 epochs; decode time does not depend on how well a model is
trained, only on its shape and on how many activations its ReLUs zero). They are trained here
unless --runs names a folder that holds them (default/<dataset>/ for a dataset's default pair,
jobs/<name>/ for another: trained there on first use and reused afterwards). A pair whose data
is not found (MNIST) is skipped, and the output says so.

Run: python -m benchmarks.browser_decode [--quick] [--runs DIR] [--only digits mnist-gru ...]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import ROOT, print_table, shared_data_dir
from explorer.server.runs import DEFAULT_SOURCE, has_pair
from explorer.web import web_decoder
from tests.browser import chromium, streamlit_server, wait_for_app_idle, wait_for_chart
from training.checkpoints import load_checkpoint
from training.config import RECURRENT_ARCHS, ModelConfig, TrainConfig
from training.data import DatasetError, load_dataset
from training.recipe import recipe, train_side_by_side

KINDS = ("ae", "vae")
MAPS = ("map_ae", "map_vae")
MOVE_S = 0.016  # one mouse move per 16 ms: a mouse reporting at about 60 Hz
QUICK_IMAGES = 2000  # images for a quick pair (the default training takes minutes)
QUICK_TRAINING = TrainConfig(epochs=2, batch_size=64, precision="fp32")


@dataclass(frozen=True)
class Pair:
    """A pair of the table, shown on the Explore page as ?dataset=<dataset>&models=<source>."""

    dataset: str
    target_fps: int
    arch: str | None = None  # None: the dataset's default (recipe)
    quick: bool = True  # QUICK_TRAINING on QUICK_IMAGES images; False: the app's own recipe
    source: str = DEFAULT_SOURCE  # another name: a pair in runs/jobs/<source>

    def folder(self, runs: Path) -> Path:
        if self.source == DEFAULT_SOURCE:
            return runs / "default" / self.dataset
        return runs / "jobs" / self.source


PAIRS = {
    "digits": Pair("digits", 60, quick=False),
    "faces": Pair("faces", 30),
    "mnist-gru": Pair("mnist", 30, arch="gru", source="mnist-gru"),  # 28 rows, one per step
    "waves": Pair("waves", 60),  # the default: GRUs reading 8 frames of 16 steps
    "waves-mlp": Pair("waves", 60, arch="mlp", source="waves-mlp"),  # the comparison
}
TARGET_MOVE_TO_PAINT_MS = 30
EXACT_POINTS = 20

STATS_RESET = """() => { const s = window.latentExplorerStats;
    s.decodeMs.length = 0; s.moveToPaintMs.length = 0; s.frames.length = 0; }"""
STATS = "() => JSON.parse(JSON.stringify(window.latentExplorerStats))"
PLOT_AREA = """key => { const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
    const {xaxis, yaxis} = gd._fullLayout; const box = gd.getBoundingClientRect();
    return [box.left + xaxis._offset, box.top + yaxis._offset, xaxis._length, yaxis._length]; }"""
# decoder.js, imported into the page as a module of its own; decodes the points of each model.
DECODE_IN_PAGE = """async ([source, bundle, points]) => {
    const decoder = await import(`data:text/javascript;base64,${source}`);
    const bytes = Uint8Array.from(atob(bundle), (c) => c.charCodeAt(0));
    const {models} = decoder.parseBundle(bytes);
    const out = {};
    for (const [kind, zs] of Object.entries(points)) {
        const model = models[kind];
        const pixels = zs.map((z) => Array.from(decoder.decode(model, z)));
        const rounds = [];
        for (let round = 0; round < 8; round++) {  // the first rounds warm the JIT up
            const started = performance.now();
            for (const z of zs) decoder.decode(model, z);
            rounds.push((performance.now() - started) / zs.length);
        }
        out[kind] = {pixels, ms: rounds.slice(3).sort((a, b) => a - b)[2]};
    }
    return out; }"""


# ---- models ----


def data_dir() -> Path | None:
    """The shared data folder where there is one (else only the built-in datasets load)."""
    folder = shared_data_dir()
    return folder if folder.is_dir() else None


def ensure_pairs(runs: Path, names: list[str]) -> tuple[dict[str, str], list[str]]:
    """Trains the pairs of names that runs lacks. Returns how each pair was made, for the
    table, and a line for each pair skipped because its data was not found."""
    made, skipped = {}, []
    for name in names:
        pair, folder = PAIRS[name], PAIRS[name].folder(runs)
        try:
            dataset = load_dataset(pair.dataset, data_dir())
        except DatasetError as e:
            skipped.append(f"{name}: skipped, its data was not found ({e})")
            continue
        if has_pair(folder):
            made[name] = f"pair found in {folder}"
            continue
        chosen, config = recipe(dataset, arch=pair.arch), None
        made[name] = "the app's default training"
        if pair.quick:
            every = max(1, dataset.n_samples // QUICK_IMAGES)  # test images too (MNIST's last)
            dataset = dataset.subset(np.arange(dataset.n_samples) % every == 0)
            config = QUICK_TRAINING
            made[name] = f"quick: {QUICK_IMAGES} images, {config.epochs} epochs"
        print(f"training the {name} pair into {folder} ...", flush=True)
        started = time.perf_counter()
        train_side_by_side(dataset, KINDS, config or chosen.train, folder, chosen.model)
        print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    return made, skipped


def torch_oracle(folder: Path, dataset: str) -> tuple[bytes, dict, dict, str]:
    """The app's bundle for the pair in folder, EXACT_POINTS latent points per model (codes of
    data images, moved a little), torch's pixels for them and the pair's shape in words."""
    models = {k: load_checkpoint(folder / f"{k}.safetensors").model for k in KINDS}
    images = load_dataset(dataset, data_dir()).floats(slice(EXACT_POINTS))
    rng = np.random.default_rng(0)
    points, pixels = {}, {}
    with torch.no_grad():
        for kind, model in models.items():
            codes = model.encode(torch.from_numpy(np.asarray(images, dtype=np.float32))).numpy()
            codes = codes + 0.3 * codes.std(0) * rng.standard_normal(codes.shape)
            points[kind] = codes.astype(np.float32)
            decoded = model.decode(torch.from_numpy(points[kind])).numpy()
            pixels[kind] = decoded.reshape(len(codes), -1)
    return web_decoder.bundle(models), points, pixels, shape(models["vae"].config)


def shape(config: ModelConfig) -> str:
    """'mlp 512-512, 2-D', 'gru 128 x 16 steps of 8, 2-D', ...: for the table's first column."""
    if config.arch in RECURRENT_ARCHS:
        steps = config.image_shape[1] // config.rows_per_step
        size = f"{config.hidden[0]} x {steps} steps of {config.rows_per_step}"
    else:
        size = "-".join(map(str, config.channels if config.arch == "conv" else config.hidden))
    return f"{config.arch} {size}, {config.latent_dim}-D"


# ---- the page ----


class SocketCounter:
    """Websocket frames in both directions, from Playwright's page.on("websocket")."""

    def __init__(self, page) -> None:
        self.count = 0
        page.on("websocket", self._opened)

    def _opened(self, socket) -> None:
        socket.on("framesent", self._frame)
        socket.on("framereceived", self._frame)

    def _frame(self, _payload) -> None:
        self.count += 1


def open_pair(browser, url: str, pair: Pair):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    sockets = SocketCounter(page)
    page.goto(f"{url}/?dataset={pair.dataset}&models={pair.source}")
    for key in MAPS:
        wait_for_chart(page, key, timeout=120)
    page.wait_for_function(
        "() => window.latentExplorerStats?.frames.length > 0"
        " && document.querySelectorAll('.lx-live canvas').length >= 2",
        timeout=120_000,
    )
    wait_for_app_idle(page, timeout=60)
    return page, sockets


def paced(page, points) -> float:
    """page.mouse.move to each point, one every MOVE_S seconds (on a deadline, not a sleep
    after each move, so the moves' own cost does not slow the rate); returns the moves per
    second achieved. Chromium aligns mouse moves to animation frames and Playwright's move
    returns once its move was handled, so at most about 60 moves/s arrive: the ceiling of the
    frame rate measured."""
    start = time.perf_counter()
    for i, (x, y) in enumerate(points):
        delay = start + i * MOVE_S - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        page.mouse.move(x, y)
    return len(points) / (time.perf_counter() - start)


def hover_path(area: list[float], n: int) -> list[tuple[float, float]]:
    """n points of a Lissajous curve over the plot area (8% margins): small steps, every
    direction, the whole map covered."""
    left, top, width, height = area
    t = np.linspace(0, 2 * np.pi, n)
    fx, fy = 0.5 + 0.42 * np.sin(3 * t), 0.5 + 0.42 * np.sin(2 * t + np.pi / 4)
    return list(zip(left + fx * width, top + fy * height, strict=True))


def measured(page, sockets: SocketCounter, action) -> dict:
    """Runs action() with fresh stats; its timings and the websocket frames it caused."""
    wait_for_app_idle(page, timeout=60)
    page.evaluate(STATS_RESET)
    before = sockets.count
    moves_per_s = action()
    page.wait_for_timeout(150)  # the last move's frame
    stats = page.evaluate(STATS)
    frames = stats["frames"]
    span = (frames[-1] - frames[0]) / 1000 if len(frames) > 1 else float("nan")
    return {
        "decode": stats["decodeMs"],
        "move_to_paint": stats["moveToPaintMs"],
        "fps": (len(frames) - 1) / span if span > 0 else float("nan"),
        "frames": len(frames),
        "socket_frames": sockets.count - before,
        "moves_per_s": moves_per_s,
    }


def hover(page, sockets: SocketCounter, n: int) -> dict:
    """The path across each map in turn (AE, then VAE), as one measurement."""
    runs = []
    for key in MAPS:
        page.locator(f".st-key-{key} .js-plotly-plot").scroll_into_view_if_needed()
        path = hover_path(page.evaluate(PLOT_AREA, key), n)
        page.mouse.move(0, 0)  # off the map, so the path enters it
        runs.append(measured(page, sockets, lambda path=path: paced(page, path)))
    page.mouse.move(0, 0)
    return {
        "decode": runs[0]["decode"] + runs[1]["decode"],
        "move_to_paint": runs[0]["move_to_paint"] + runs[1]["move_to_paint"],
        "fps": statistics.mean(r["fps"] for r in runs),
        "frames": sum(r["frames"] for r in runs),
        "socket_frames": sum(r["socket_frames"] for r in runs),
        "moves_per_s": statistics.mean(r["moves_per_s"] for r in runs),
    }


def slider_drag(page, sockets: SocketCounter) -> dict:
    """Mouse down on the first slider's thumb, moves of one pixel to the far end and half-way
    back (a smaller move may leave the value unchanged: no input event, nothing to draw), then
    up; websocket frames are counted up to the release (the release pins the new point: one
    rerun, waited for before the next measurement)."""
    slider = page.locator(".lx-sliders input[type=range]").first
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    value = slider.evaluate("s => (s.value - s.min) / (s.max - s.min)")
    thumb = 8  # half the thumb's width: its centre runs from left + 8 to right - 8
    start_x = box["x"] + thumb + value * (box["width"] - 2 * thumb)
    y = box["y"] + box["height"] / 2
    ends = [box["x"] + thumb, box["x"] + box["width"] - thumb]
    far = ends[0] if value > 0.5 else ends[1]
    step = 1.0 if far > start_x else -1.0
    xs = np.concatenate([np.arange(start_x, far, step), np.arange(far, (start_x + far) / 2, -step)])

    def drag() -> float:
        page.mouse.move(start_x, y)
        page.mouse.down()
        return paced(page, [(x, y) for x in xs])

    result = measured(page, sockets, drag)
    page.mouse.up()
    page.wait_for_timeout(300)  # the rerun of the release starts
    wait_for_app_idle(page, timeout=60)
    page.mouse.move(0, 0)
    return result


def exactness(page, bundle: bytes, points: dict, pixels: dict) -> tuple[float, float]:
    """Max |browser - torch| over the points of both models, and the page's decode ms per
    image when decoding nothing else (no frames, no Plotly): the median of 5 rounds over the
    points, after 3 rounds of warm-up."""
    source = base64.b64encode((ROOT / "explorer/web/decoder.js").read_bytes()).decode()
    got = page.evaluate(
        DECODE_IN_PAGE,
        [source, base64.b64encode(bundle).decode(), {k: v.tolist() for k, v in points.items()}],
    )
    error = max(float(np.abs(np.array(got[k]["pixels"]) - pixels[k]).max()) for k in KINDS)
    return error, statistics.mean(got[k]["ms"] for k in KINDS)


# ---- the table ----


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def summarize(repeats: list[dict]) -> dict:
    """Each number's median over the repeats."""

    def median(fn) -> float:
        return statistics.median(fn(r) for r in repeats)

    return {
        "decode_median": median(lambda r: percentile(r["decode"], 50)),
        "decode_p95": median(lambda r: percentile(r["decode"], 95)),
        "fps": median(lambda r: r["fps"]),
        "moves_per_s": median(lambda r: r["moves_per_s"]),
        "paint_median": median(lambda r: percentile(r["move_to_paint"], 50)),
        "paint_p95": median(lambda r: percentile(r["move_to_paint"], 95)),
        "socket_frames": max(r["socket_frames"] for r in repeats),
        "frames": median(lambda r: r["frames"]),
    }


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def fps_met(fps: float, target: float) -> bool:
    """Within one frame a second of the target: a 60 Hz display draws at most 60 frames a
    second (the idle page's requestAnimationFrame measured 60.0 here), and 59.9 there means
    that no frame was missed."""
    return fps >= target - 1


def ms(value: float) -> str:
    """The page's clock ticks in 0.1 ms steps (performance.now() without cross-origin
    isolation): a median of 0 is a decode shorter than one tick."""
    return "< 0.1" if value == 0 else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=300, help="mouse moves per map path")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 points, one repeat")
    parser.add_argument("--runs", type=Path, help="runs folder to reuse (trained if missing)")
    parser.add_argument("--only", nargs="+", choices=list(PAIRS), default=list(PAIRS))
    args = parser.parse_args()
    if args.quick:
        args.points, args.repeats = 100, 1
    runs = args.runs or Path(tempfile.mkdtemp(prefix="browser-decode-runs-"))
    made, skipped = ensure_pairs(runs, args.only)
    for line in skipped:
        print(line, flush=True)
    os.environ["LATENT_EXPLORER_RUNS"] = str(runs)
    os.environ.setdefault("LATENT_EXPLORER_DATA", str(shared_data_dir()))

    rows, notes = [], []
    with streamlit_server("explorer/app.py", timeout=120) as url, chromium() as browser:
        for name in made:
            pair = PAIRS[name]
            bundle, points, pixels, described = torch_oracle(pair.folder(runs), pair.dataset)
            header = web_decoder.read_header(bundle)
            page, sockets = open_pair(browser, url, pair)
            hover(page, sockets, 30)  # warm-up: the decoder's first calls compile
            hovers, drags = [], []
            for _ in range(args.repeats):
                hovers.append(hover(page, sockets, args.points))
                drags.append(slider_drag(page, sockets))
            error, isolated_ms = exactness(page, bundle, points, pixels)
            page.close()
            target_fps = pair.target_fps
            fps_target = f">= {target_fps}" + (" (stretch 60)" if target_fps < 60 else "")
            for what, repeats in (("hover", hovers), ("slider drag", drags)):
                s = summarize(repeats)
                rows.append(
                    [
                        f"{pair.dataset} {described}",
                        what,
                        ms(s["decode_median"]),
                        ms(s["decode_p95"]),
                        f"{s['moves_per_s']:.1f}",
                        f"{s['fps']:.1f}",
                        fps_target,
                        verdict(fps_met(s["fps"], target_fps)),
                        f"{s['paint_median']:.1f}",
                        f"{s['paint_p95']:.1f}",
                        verdict(s["paint_median"] <= TARGET_MOVE_TO_PAINT_MS),
                        s["socket_frames"],
                        f"{len(bundle):,} {header['dtype']}",
                        f"{error:.1e}",
                    ]
                )
            notes.append(
                f"{name}: {made[name]}; decode alone in the page (no frames, "
                f"no Plotly): {isolated_ms:.2f} ms per image"
            )

    print_table(
        f"Decoding in the browser, headless Chromium on loopback; {args.points} mouse moves per "
        f"map, one per {MOVE_S * 1000:.0f} ms; median of {args.repeats} repeat(s)",
        [
            "pair",
            "interaction",
            "decode ms median",
            "decode ms p95",
            "moves/s",
            "fps drawn",
            "fps target",
            "fps met",
            "move->image ms median",
            "move->image ms p95",
            "<= 30 ms median",
            "ws frames",
            "bundle bytes, dtype",
            "max |browser - torch|",
        ],
        rows,
    )
    print(
        "decode ms: one model, one image (two models per frame). move->image: from the "
        "pointer event (a slider: its input event) to after putImageData, before the "
        "compositor. moves/s: mouse moves sent, the ceiling of fps drawn. ws frames: "
        "websocket frames, both directions, during the hover or the drag up to the release. "
        f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )
    for note in notes + skipped:
        print(note)


if __name__ == "__main__":
    main()
