"""The Instruments page's fake detection and denoising/features instruments headless (AppTest)
on the default digits models."""

import io

import numpy as np
from apptest import open_instrument
from PIL import Image
from test_images import jpeg_bytes

from explorer.core.anomaly import COLUMNS, column_name


def captions(app) -> list[str]:
    return [caption for image in app.get("image") for caption in image.captions]


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_fake_detection_places_an_image_on_the_histograms_with_roc_aucs(app):
    open_instrument(app, "fakes")
    assert "fake" in app.info[0].value
    sets = app.selectbox(key="instrument_fakes_set").options
    assert {"inverted", "pixels shuffled", "uniform noise"} <= set(sets)
    assert len(app.get("plotly_chart")) == 2  # the histograms and the ROC curves
    placement, aucs = (t.value for t in app.dataframe)
    assert list(placement["score"]) == [column_name(*c) for c in COLUMNS]
    assert list(aucs["set"]) == sets and aucs.shape == (len(sets), 1 + len(COLUMNS))
    assert (aucs.iloc[:, 1:].to_numpy() >= 0).all() and (aucs.iloc[:, 1:].to_numpy() <= 1).all()
    assert captions(app) == [f"{sets[0]} #0"]

    app.selectbox(key="instrument_fakes_set").set_value("uniform noise").run()
    app.number_input(key="instrument_fakes_ood_i").set_value(3).run()
    assert captions(app) == ["uniform noise #3"]
    placement = app.dataframe[0].value
    assert set(placement["test images below"]) == {"100%"}  # noise beats every test digit

    app.radio(key="instrument_fakes_place").set_value("a data point").run()
    app.number_input(key="instrument_fakes_point").set_value(7).run()
    assert not app.exception and captions(app) == ["data point #7"]

    app.radio(key="instrument_fakes_place").set_value("your image").run()
    assert not app.exception and len(app.dataframe) == 1  # no image yet: the AUC table only
    drawing = np.zeros((40, 40), np.uint8)
    drawing[8:32, 18:22] = 255  # a "1"
    app.file_uploader(key="instrument_fakes_upload").set_value(
        ("one.png", png(drawing), "image/png")
    ).run()
    assert not app.exception and captions(app) == ["your image"] and len(app.dataframe) == 2


def test_a_phone_photo_stored_on_its_side_is_placed_upright(app):
    open_instrument(app, "fakes")
    app.radio(key="instrument_fakes_place").set_value("your image").run()
    upright = np.full((128, 96), 255, np.uint8)
    upright[16:48, 0:64] = 0  # a dark bar near the top left: any turn moves it
    shown = {}
    # Orientation 6 (a phone held upright) stores the picture turned a quarter counterclockwise.
    for name, data in [
        ("upright.jpg", jpeg_bytes(upright)),
        ("phone.jpg", jpeg_bytes(np.rot90(upright), orientation=6)),
        ("sideways.jpg", jpeg_bytes(np.rot90(upright))),
    ]:
        app.file_uploader(key="instrument_fakes_upload").set_value((name, data, "image/jpeg"))
        app.run()
        assert not app.exception and not app.error
        [image] = [i for i in app.get("image") if i.captions == ["your image"]]
        shown[name] = (image.value[0], app.dataframe[0].value.to_json())  # media URL, scores
    assert shown["phone.jpg"] == shown["upright.jpg"] != shown["sideways.jpg"]


def test_features_denoise_beside_the_plain_ae_and_probe_three_kinds_of_codes(app):
    open_instrument(app, "features")
    assert "denoising AE" in app.info[0].value
    names = captions(app)
    assert [n.split(":")[0] for n in names] == ["Noisy input", "Denoising AE", "Plain AE", "Clean"]
    assert all("MSE to clean" in n for n in names[:3])
    probe = app.dataframe[0].value
    assert list(probe["codes"]) == ["AE", "VAE", "PCA"]
    accuracies = [float(a[:-1]) for a in probe["probe accuracy"]]
    assert all(20 < a <= 100 for a in accuracies), accuracies  # chance is about 10%
    assert len(app.get("plotly_chart")) == 1  # the confusion matrix

    app.slider(key="instrument_features_noise").set_value(0.0).run()
    app.radio(key="instrument_features_kind").set_value("pca").run()
    assert not app.exception
    noisy = captions(app)[0]
    assert noisy == "Noisy input: MSE to clean 0.0000"
