"""The Explore page as a simulated browser sees it (benchmarks/streamlit_client.py): the first
image, the maps' points, a click as click.js sends it and what its run must show, the images a
run names fetched over HTTP, and one warm-up session. Shared by the app's load benchmark
(benchmarks/app_load.py) and its soak (benchmarks/soak.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from urllib.parse import urlsplit

import numpy as np
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks.server import HOST, AppServer
from benchmarks.streamlit_client import RunResult, StreamlitSession

LISTENER = "latent_click"  # the click listener's key (explorer/views/explore.py)
MAPS = ("map_ae", "map_vae")
PNG_SIGNATURE = b"\x89PNG"


def has_first_image(result: RunResult) -> bool:
    return result.first_image_at is not None


def trace_points(spec: str) -> np.ndarray:
    """(N, 2): the points of a Plotly figure's first trace, from st.plotly_chart's JSON spec
    (arrays as Plotly writes NumPy arrays, {"dtype", "bdata"}, or as lists)."""
    trace = json.loads(spec)["data"][0]

    def array(value) -> np.ndarray:
        if isinstance(value, dict):
            return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        return np.asarray(value, dtype=float)

    return np.column_stack([array(trace["x"]), array(trace["y"])]).astype(float)


def click_at(points: dict[str, np.ndarray], session: int, k: int) -> dict:
    """Session's k-th click, as click.js sends it: on the AE's map, then the VAE's; a data point
    (its index and coordinates), then the empty spot halfway between two points."""
    chart = MAPS[k % 2]
    xy = points[chart]
    i = (13 * session + 7 * k) % len(xy)
    if k % 4 < 2:
        x, y, index = *xy[i], i
    else:
        (x, y), index = (xy[i] + xy[(i + len(xy) // 2) % len(xy)]) / 2, None
    return {"chart": chart, "x": float(x), "y": float(y), "point_index": index, "seq": k + 1}


def click_problems(result: RunResult, click: dict) -> list[tuple[str, str]]:
    """(kind, message) for everything wrong with one click's run."""
    problems = [("app error", p) for p in result.problems]
    if result.status != ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
        problems.append(("not a fragment run", f"script_finished status {result.status}"))
    listener = result.widget(LISTENER)
    marker = (listener.component_data or {}).get("marker") if listener is not None else None
    if isinstance(marker, dict):
        marker = marker.get(click["chart"])
    if marker is None or not np.allclose(marker, (click["x"], click["y"]), atol=1e-6):
        problems.append(("marker not moved", f"clicked {click}, the marker is at {marker}"))
    return problems


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    """(status, body) of a plain GET on 127.0.0.1, the way a browser fetches /media/... images."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def fetch_images(port: int, urls: list[str]) -> list[str]:
    """Fetch every image; the failures, described (an empty list when all are PNGs)."""
    answers = await asyncio.gather(*(http_get(port, urlsplit(u).path) for u in urls))
    return [
        f"{u}: HTTP {status}"
        for u, (status, body) in zip(urls, answers, strict=True)
        if status != 200 or PNG_SIGNATURE not in body[:16]
    ]


async def warm_up(server: AppServer, timeout: float) -> float:
    """One session until the first image (trains the default models on a fresh runs folder,
    imports torch, fills the caches); seconds it took."""
    start = time.perf_counter()
    async with StreamlitSession.connect(server.ws_url) as session:
        result = await session.open_page(until=has_first_image, timeout=timeout)
    if result.problems:
        print("warm-up run reported:", *result.problems, sep="\n  ")
    return time.perf_counter() - start
