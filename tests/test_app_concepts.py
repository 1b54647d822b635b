"""The Concepts page headless (AppTest): make a vector, move alpha, upload an image, report
card, orthogonalize, analogies, combine, export and import."""

import io

import numpy as np
import pytest
from apptest import APP, component_data, fresh_app, live_panel, send_trigger, train_default_digits
from pairs import train_defaults
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from explorer.core import concept_io
from explorer.server import classroom
from explorer.ui import state
from training.data import load_dataset


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shared_cache):
    """Default models for digits (2-D MLPs) and faces (32-D conv, trained briefly)."""
    path = tmp_path_factory.mktemp("runs")
    train_default_digits(path)
    with pytest.MonkeyPatch.context() as mp:  # module scope: before the autouse cache fixture
        mp.setenv("LATENT_EXPLORER_CACHE", str(shared_cache))
        faces = load_dataset("faces")
    train_defaults(path, faces, epochs=1, batch_size=64, first=2000)
    return path


@pytest.fixture(autouse=True)
def private_cache(shared_cache, monkeypatch):
    """One data cache for this module: the faces are generated once, not per test."""
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(shared_cache))
    return shared_cache


@pytest.fixture
def app(runs, monkeypatch):
    at = fresh_app(runs, monkeypatch, timeout=90)
    at.run()
    at.switch_page("views/concepts.py").run()
    return at


def images_by_caption(at) -> dict[str, str]:
    """caption -> media URL (its name is a hash of the image's bytes)."""
    return {
        c: url
        for image in at.get("image")
        for c, url in zip(image.captions, image.value, strict=True)
    }


def click(at, key: str):
    return at.button(key=key).click().run()


def name_input(at):
    return next(t for t in at.text_input if t.label == "Name")


def png(draw) -> bytes:
    image = Image.new("L", (120, 100), 255)
    draw(ImageDraw.Draw(image))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def set_alpha(app, alpha: float) -> None:
    """Release the alpha slider at alpha, as the browser reports it (the edit's scrub)."""
    send_trigger(app, "alpha_scrub", "value", {"value": alpha})


def test_a_class_vector_edits_the_image_in_both_models_as_alpha_moves(app):
    assert not app.exception
    assert any("Make a vector" in i.value for i in app.info)
    assert any("**1 to 7 vector**" in c.value for c in app.caption)  # the intro's example
    click(app, "make_concept")  # digits: from class 1 towards class 7, by default
    assert not app.exception and not app.error
    assert app.session_state[state.CONCEPT] == "1 to 7"
    # alpha starts at the VAE's group gap, as its report card measures it, to the slider's 0.1,
    # and at least one spread (these quickly trained models' classes overlap)
    alpha = app.session_state[state.ALPHA]
    gap = app.session_state[state.REPORT_CARDS][("1 to 7", "vae")].gap
    assert alpha == max(round(gap, 1), 1.0)
    shown = images_by_caption(app)
    assert {"AE reconstruction", f"VAE, alpha {alpha:+.1f}"} <= set(shown)
    # The strips (-alpha .. +alpha) are decoded in the browser, beside the slider.
    assert not any(caption.startswith("VAE: alpha from") for caption in shown)
    scrub = component_data(app, "alpha_scrub")["live"]["scrub"]
    assert scrub["method"] == "line" and scrub["range"] == [-4.0, 4.0] and scrub["value"] == alpha
    assert scrub["strip"] == 7
    assert set(scrub["from"]) == set(scrub["to"]) == {"ae", "vae"}
    set_alpha(app, 0.0)
    at_zero = images_by_caption(app)
    for kind in ("AE", "VAE"):  # alpha 0 changes nothing: the edit decodes the code itself
        assert at_zero[f"{kind}, alpha +0.0"] == at_zero[f"{kind} reconstruction"]
    set_alpha(app, 3.0)
    assert component_data(app, "alpha_scrub")["live"]["scrub"]["value"] == 3.0
    moved = images_by_caption(app)
    for kind in ("AE", "VAE"):
        assert moved[f"{kind}, alpha +3.0"] != moved[f"{kind} reconstruction"]
    assert any("The decoder never saw codes there" in w.value for w in app.warning)


def test_a_class_vector_starts_the_edit_on_a_member_of_its_source_class(app):
    click(app, "make_concept")  # 1 to 7
    index = app.number_input(key="edit_index:1 to 7").value
    assert load_dataset("digits").labels[index] == 1  # digits: every image is plotted, in order


def test_the_off_data_warning_never_names_alpha_zero_for_a_data_point(app):
    click(app, "make_concept")
    for index in (0, 5, 17):
        app.number_input(key="edit_index:1 to 7").set_value(index).run()
        set_alpha(app, 0.0)
        assert not any("+0.0" in w.value for w in app.warning), [w.value for w in app.warning]
    aucs = [float(m.value) for m in app.metric if m.label.startswith("AUC")]
    assert len(aucs) == 2 and all(a > 0.6 for a in aucs)


def test_groups_picked_on_the_map_make_a_vector_and_empty_ones_get_a_message(app):
    app.radio(key="concept_source").set_value("two groups picked on the map").run()
    click(app, "make_concept")
    assert any("at least 2 points" in e.value for e in app.error)
    app.session_state[state.GROUPS[0]] = list(range(0, 40))  # as the box/lasso buttons store them
    app.session_state[state.GROUPS[1]] = list(range(30, 80))  # overlap 30..39 is left out
    app.run()
    click(app, "make_concept")
    assert not app.error
    concept = app.session_state[state.CONCEPTS]["A to B"]
    assert len(concept.groups.rows) == 70 and concept.groups.y.sum() == 40


def test_logistic_method_orthogonalize_and_combine(app):
    click(app, "make_concept")
    app.radio(key="concept_method").set_value("logistic").run()
    name_input(app).set_value("logistic 1 to 7").run()
    click(app, "make_concept")
    assert (
        not app.error
        and "regression" in app.session_state[state.CONCEPTS]["logistic 1 to 7"].description
    )
    app.multiselect(key="orthogonal_to").set_value(["1 to 7"]).run()
    click(app, "make_orthogonal")
    name = "logistic 1 to 7 orthogonal to 1 to 7"
    saved = app.session_state[state.CONCEPTS]
    assert app.session_state[state.CONCEPT] == name
    for kind in ("ae", "vae"):
        assert abs(saved[name].vectors[kind] @ saved["1 to 7"].vectors[kind]) < 1e-9
    assert "AUC" in [m.label for m in app.metric]  # in-sample now: no longer "held out"
    app.multiselect(key="combine").set_value(["1 to 7", "logistic 1 to 7"]).run()
    click(app, "make_combined")
    assert "1 1 to 7 + 1 logistic 1 to 7" in app.session_state[state.CONCEPTS]
    assert any("have no groups" in i.value for i in app.info)


def test_export_then_import_restores_the_vectors_and_bad_files_get_a_message(app):
    click(app, "make_concept")
    exported = concept_io.concepts_to_json(
        list(app.session_state[state.CONCEPTS].values()), 2, "digits/another-run"
    )
    fresh = AppTest.from_file(APP, default_timeout=90)
    fresh.run()
    fresh.switch_page("views/concepts.py").run()
    fresh.file_uploader(key="import_concepts").set_value(
        ("c.json", exported.encode(), "application/json")
    )
    fresh.run()
    assert any(s.value == "Imported 1 vector." for s in fresh.success)
    assert any("made on other models" in w.value for w in fresh.warning)  # not these models
    got = fresh.session_state[state.CONCEPTS]["1 to 7"].vectors["vae"]
    np.testing.assert_allclose(got, app.session_state[state.CONCEPTS]["1 to 7"].vectors["vae"])
    for content, message in [
        (b"{", "not a JSON file"),
        (exported.replace('"latent_dim": 2', '"latent_dim": 3').encode(), "3-D"),
    ]:
        fresh.file_uploader(key="import_concepts").set_value(
            ("bad.json", content, "application/json")
        )
        fresh.run()
        assert not fresh.exception
        assert any(message in e.value for e in fresh.error)


def test_an_uploaded_drawing_is_prepared_like_the_data_and_edited(app):
    click(app, "make_concept")
    app.radio(key="edit_source").set_value("your own image").run()
    assert any("Upload a PNG or JPEG" in i.value for i in app.info)
    one = png(lambda d: d.line([(60, 10), (60, 90)], fill=0, width=12))  # dark ink on paper
    app.file_uploader(key="edit_upload").set_value(("one.png", one, "image/png")).run()
    assert not app.exception and not app.error
    edited = f"VAE, alpha {app.session_state[state.ALPHA]:+.1f}"
    assert {"your image", edited} <= set(images_by_caption(app))
    app.file_uploader(key="edit_upload").set_value(("bad.png", b"not a png", "image/png")).run()
    shown = [e.value.replace("\\", "") for e in app.error]  # as the page shows its Markdown
    assert any("bad.png: unreadable image (not a PNG or JPEG file)" in e for e in shown)


def test_a_student_picking_their_own_image_sees_the_lock_note_alone(app, monkeypatch):
    """Not the lock note and "Upload a PNG..." together: a student has no uploader."""
    monkeypatch.setenv(classroom.KEY_ENV, "owl-42")
    click(app, "make_concept")
    app.radio(key="edit_source").set_value("your own image").run()
    assert not app.exception
    assert any("Only the teacher can upload files" in c.value for c in app.caption)
    assert not any("Upload a PNG or JPEG" in i.value for i in app.info)


def png_16_bit(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint16) * 257).save(buffer, "PNG")  # mode I;16
    return buffer.getvalue()


def huge_png_header(side: int = 100_000) -> bytes:
    """A tiny PNG file whose header claims side x side pixels: a decompression bomb."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_16_bit_grey_upload_looks_like_its_8_bit_version_and_a_bomb_gets_our_message(app):
    click(app, "make_concept")
    app.radio(key="edit_source").set_value("your own image").run()
    drawing = np.full((100, 120), 255, np.uint8)
    drawing[10:90, 54:66] = 0  # a "1" in dark ink on paper
    shown = {}
    for name, data in [
        ("eight.png", png(lambda d: d.rectangle([54, 10, 65, 89], fill=0))),
        ("sixteen.png", png_16_bit(drawing)),
    ]:
        app.file_uploader(key="edit_upload").set_value((name, data, "image/png")).run()
        assert not app.exception and not app.error
        shown[name] = images_by_caption(app)["your image"]
    assert shown["sixteen.png"] == shown["eight.png"]  # same pixels, same media file
    bomb = huge_png_header()
    app.file_uploader(key="edit_upload").set_value(("bomb.png", bomb, "image/png")).run()
    assert not app.exception
    errors = [e.value.replace("\\", "") for e in app.error]  # as the page shows its Markdown
    assert len(errors) == 1 and errors[0].startswith("bomb.png: ")
    assert "decompression" not in errors[0].lower() and "DOS" not in errors[0]


def test_an_analogy_is_decoded_in_both_models(app):
    assert "a, b, c, then a - b + c decoded by the AE and by the VAE" in images_by_caption(app)
    before = images_by_caption(app)
    app.number_input(key="analogy_c").set_value(5).run()
    assert images_by_caption(app) != before


def test_faces_smile_balanced_with_report_card_and_concept_axis(app):
    app.selectbox(key="dataset").set_value("faces").run()
    assert not app.exception and app.radio(key="concept_source").value == "an attribute"
    assert any("**smile vector**" in c.value for c in app.caption)
    app.selectbox(key="concept_balance").set_value("Eyeglasses").run()
    click(app, "make_concept")
    assert not app.exception and not app.error
    concept = app.session_state[state.CONCEPTS]["Smiling"]
    assert concept.description.endswith("balanced for Eyeglasses")
    assert concept.vectors["vae"].shape == (32,)
    charts = len(app.get("plotly_chart"))
    assert charts >= 4  # per model: the groups along v and what else moves
    app.toggle(key="concept_axis").set_value(True).run()
    assert len(app.get("plotly_chart")) == charts + 2
    assert not app.exception


def test_a_32_d_faces_pair_shows_eight_sliders_by_default_and_all_on_demand(app):
    """The sliders of the Explore page's live panel (AppTest reads the panel's data)."""
    app.switch_page("views/explore.py").run()
    app.selectbox(key="dataset").set_value("faces").run()
    assert not app.exception
    assert len(live_panel(app)["sliders"]["coords"]) == 8
    app.toggle(key=state.ALL_SLIDERS).set_value(True).run()
    sliders = live_panel(app)["sliders"]
    assert sliders["coords"] == list(range(32))
    z = app.session_state[state.POINT].z
    assert all(low <= v <= high for (low, high), v in zip(sliders["ranges"], z, strict=True))
    app.toggle(key=state.ALL_SLIDERS).set_value(False).run()
    moved = [*z[:-1], z[-1] + 0.5]  # the browser sends the whole point when a slider is let go
    send_trigger(app, "latent_click", "point", {"z": moved})
    assert app.session_state[state.POINT].z == pytest.approx(moved)
    assert not app.exception and len(app.session_state[state.POINT].z) == 32
