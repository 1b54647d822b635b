"""The soak benchmark's pure helpers (benchmarks/soak.py, benchmarks/streamlit_client.py): its
statistics, memory growth, refusals, and the bytes a browser would send. No server."""

import random

import numpy as np
import pytest
from PIL import Image

from benchmarks.soak import Log, png_image, rss_growth, settle_seconds, summarize
from benchmarks.streamlit_client import RunResult, multipart_body


def test_summarize_matches_numpy_percentiles():
    values = [0.3, 0.1, 0.2, 0.5, 0.4]
    count, median, p95, top = summarize(values)
    assert count == 5
    assert median == pytest.approx(0.3)
    assert p95 == pytest.approx(np.percentile(values, 95))
    assert top == pytest.approx(0.5)


def test_summarize_of_nothing_is_empty():
    assert summarize([]) == (0, None, None, None)


def test_settle_mark_is_five_minutes_or_a_third_of_a_short_run():
    assert settle_seconds(30 * 60, 300) == 300
    assert settle_seconds(180, 300) == 60


def test_rss_growth_compares_the_minute_after_settling_with_the_last():
    samples = [(t, 500.0 if t < 300 else 600.0 if t < 1500 else 660.0) for t in range(0, 1800, 10)]
    base, end, growth = rss_growth(samples, settle_s=300)
    assert (base, end) == (600.0, 660.0)
    assert growth == pytest.approx(10.0)


def test_rss_growth_ignores_a_single_spike():
    samples = [(t, 900.0 if t == 1790 else 600.0) for t in range(0, 1800, 10)]
    assert rss_growth(samples, settle_s=300)[2] == pytest.approx(0.0)


def test_rss_growth_without_samples_after_settling_is_unknown():
    assert rss_growth([(0.0, 500.0), (10.0, 510.0)], settle_s=300) == (None, None, None)


def test_log_counts_the_job_cap_as_refused_and_other_errors_as_errors():
    log = Log()
    result = RunResult(sent=0.0, finished=0.25)
    result.problems += [
        "st.error: 2 jobs are training on this server (the limit is 2): ...",
        "exception ValueError: boom",
    ]
    log.record("submit Train", result)
    assert log.seconds["submit Train"] == [0.25]
    assert log.refused["submit Train"] == 1
    assert log.errors["submit Train"] == 1
    assert log.messages == ["submit Train: exception ValueError: boom"]


def test_png_image_is_a_new_greyscale_png_each_time(tmp_path):
    rng = random.Random(0)
    first, second = png_image(rng), png_image(rng)
    assert first.startswith(b"\x89PNG") and first != second
    path = tmp_path / "a.png"
    path.write_bytes(first)
    assert Image.open(path).mode == "L"


def test_multipart_body_holds_the_file_between_boundaries():
    body, content_type = multipart_body("a.png", b"\x89PNG data", "image/png")
    boundary = content_type.split("boundary=")[1]
    assert content_type.startswith("multipart/form-data; ")
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert body.endswith(f"\r\n--{boundary}--\r\n".encode())
    assert b'filename="a.png"' in body and b"\r\n\r\n\x89PNG data\r\n" in body
