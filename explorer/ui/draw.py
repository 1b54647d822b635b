"""Draw and encode on Explore: a student draws an input on a pad (explorer/web/draw.js) that the
browser encodes with both encoders as they draw, shown as a point on both maps with its two
reconstructions. In a class (a teacher key), "Send to the class map" gives the drawing to the
teacher's class map (explorer/ui/class_map.py): the server checks and encodes it again itself,
so what lands on the map never depends on what a browser claims."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.core.model_pair import KINDS, ModelPair
from explorer.server.classdb import ClassDBError
from explorer.ui import polls
from explorer.ui.click import decoder_weights, drawing_pad
from explorer.web.live_view import png_data_url
from explorer.web.web_decoder import Unsupported, pair_bundle, read_header

PAD_KEY = "draw_pad"


@st.fragment
def toggled_pad(pair: ModelPair) -> None:
    """Explore's "Draw an input" toggle and, once on, the pad: a fragment, so that opening it and
    sending a drawing rerun only this, not the maps (a class sends 60 at once)."""
    if st.toggle("Draw an input: see where both encoders put it", key="draw"):
        pad(pair)


def pad(pair: ModelPair, beside_maps: bool = True) -> None:
    """The pad, with its reconstructions (and its point on the page's maps, beside_maps); one
    line instead where the encoders cannot run in a browser."""
    try:
        bundle = pair_bundle(pair, with_encoders=True)
    except Unsupported as e:
        st.caption(f"Drawing needs both encoders in the browser, and {e}.")
        return
    decoder_weights(bundle, key="draw_weights")
    poll = polls.session()
    shape = pair.dataset.image_shape
    grey = shape[0] == 1
    data = {
        "shape": list(shape),
        "grey": grey,
        "live": {"bundles": [read_header(bundle)["id"]]},
        # a colour pad starts from the average image, which the student paints over
        "background": None if grey else pair.shared("draw_background", lambda: _mean(pair)),
        "sendable": poll is not None and not poll.teaching,
    }
    drawing_pad(data, key=PAD_KEY, on_send=lambda pixels: send(pair, pixels))
    where = "put your drawing on their map (the ringed point) " if beside_maps else "encode it "
    st.caption(
        f"Draw with the mouse, a pen or a finger: both encoders {where}as you draw, and both "
        "decoders rebuild it from that code."
        + (
            " **Send to the class map** shows it on the teacher's screen."
            if data["sendable"]
            else ""
        )
    )


def _mean(pair: ModelPair) -> str:
    mean = pair.flat_images().mean(axis=0).reshape(pair.dataset.image_shape)
    return png_data_url(mean)


def send(pair: ModelPair, pixels: object) -> None:
    """The pad's "send" with the drawing's pixels (0-255, the dataset's shape, planar): checked,
    encoded here by both models, and kept as this student's drawing on the class map."""
    poll = polls.session()
    if poll is None or poll.teaching:
        return
    shape = pair.dataset.image_shape
    try:
        image = _image(pixels, shape)
        floats = image.astype(np.float32)[None] / 255
        codes = {kind: pair.encode(kind, floats)[0].tolist() for kind in KINDS}
        poll.db.send_drawing(poll.owner, pair.dataset.name, image, codes, shape, pair.latent_dim)
    except (ValueError, ClassDBError) as e:
        st.toast(f"Not sent: {e}", icon=":material/error:")
        return
    st.toast("Sent: your drawing is on the teacher's class map.", icon=":material/check:")


def _image(pixels: object, shape: tuple[int, ...]) -> np.ndarray:
    """The pad's list of whole numbers 0-255 as a uint8 image of shape; ValueError otherwise."""
    size = int(np.prod(shape))
    if not isinstance(pixels, list) or len(pixels) != size:
        count = len(pixels) if isinstance(pixels, list) else type(pixels).__name__
        raise ValueError(f"a drawing must be {size} pixel values, got {count}")
    values = np.asarray(pixels, dtype=object)
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in values):
        raise ValueError("a drawing's pixels must be whole numbers from 0 to 255")
    return values.astype(np.uint8).reshape(shape)
