"""Recurrent coders in the browser (issue 23): explorer/web/decoder.js's gru and lstm ops in
Node against torch, and their packing in explorer/web/web_decoder.py.

The models are AE/VAE pairs with training/recurrent.py's RecurrentDecoder and
RecurrentEncoder, given non-trivial weights and biases (tests/decoders.py's recurrent()).
Decoded pixels and encoded codes (the VAE's mean) are compared with torch in float64 on exactly
the weights the browser holds (`rounded(model, dtype)`), tightly, and with the original float32
model (float16 bundles: looser). Each gate, in turn, is pushed to saturation both ways by its
bias. A 28-row GRU decoder with 256 hidden units is timed.

Skips without Node, except where LATENT_EXPLORER_REQUIRE_BROWSER=1 (tests/node.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from decoders import recurrent, rounded
from node import require_node
from test_decoder_js import node_decode
from test_encoder_js import images, node_encode
from torch import nn

from explorer.web import web_decoder
from training.models import AE, build_model
from training.presets import default_model_config
from training.recurrent import RecurrentDecoder

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
GATES = {"gru": "rzn", "lstm": "ifgo"}  # PyTorch's order of the gates in weight_ih and bias_ih
HIDDEN = 24
# name -> (image_shape, latent_dim, rows_per_step)
SHAPES = {
    "mnist-2d": ((1, 28, 28), 2, 1),
    "mnist-32d": ((1, 28, 28), 32, 1),
    "digits-1d": ((1, 8, 8), 1, 1),
    "colour-5d": ((3, 6, 5), 5, 1),
    "colour-2-rows-a-step": ((3, 6, 5), 4, 2),
    "signal-8-steps-a-step": ((1, 128, 1), 8, 8),
}
N_POINTS = 8
# float16 weights against the original float32 model: pixels, and codes as a fraction of
# their spread; the feed-forward coders' bounds hold through the steps (largest measured here:
# 7.8e-4 and 2.8e-3).
F16_PIXELS = 2e-3
F16_CODES = 1e-2


def pair(
    image_shape, latent_dim: int, rows_per_step: int, cell: str, hidden: int = HIDDEN
) -> dict[str, AE]:
    models = {}
    for seed, kind in enumerate(("ae", "vae")):
        config = default_model_config(image_shape, kind, "mlp", latent_dim, hidden=(4,))
        models[kind] = recurrent(
            build_model(config), hidden, CELLS[cell], seed, rows_per_step=rows_per_step
        )
    return models


def torch_pixels(model: AE, z: np.ndarray, dtype=torch.float32) -> np.ndarray:
    with torch.no_grad():
        x = model.to(dtype).decode(torch.from_numpy(z).to(dtype))
    return x.double().numpy().reshape(len(z), -1)


def torch_codes(model: AE, x: np.ndarray, dtype=torch.float32) -> np.ndarray:
    with torch.no_grad():
        return model.to(dtype).encode(torch.from_numpy(x).to(dtype)).double().numpy()


def points(models: dict[str, AE], seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = next(iter(models.values())).config.latent_dim
    return {kind: (2 * rng.standard_normal((N_POINTS, k))).astype(np.float32) for kind in models}


def check_decode(models, dtype: str, folder, tolerance: float, varied: bool = True) -> None:
    """Node's pixels: float32's rounding from torch on the browser's weights, within tolerance
    of the original model; varied: the images differ from point to point."""
    z = points(models)
    held = {k: torch_pixels(rounded(m, dtype), z[k], torch.float64) for k, m in models.items()}
    result = node_decode(folder, web_decoder.bundle(models, dtype), z, held)
    for kind, model in models.items():
        decoded, original = result[kind]["pixels"], torch_pixels(model, z[kind])
        assert decoded.shape == original.shape
        assert original.std() > 0.05  # images, not a grey field
        assert (original.std(0).mean() > 0.02) == varied
        np.testing.assert_allclose(decoded, held[kind], rtol=0, atol=1e-6)
        assert np.abs(decoded - original).max() < tolerance


def check_encode(models, dtype: str, folder, tolerance: float, varied: bool = True) -> None:
    """Node's codes (the VAE's mean): torch's on the browser's weights to float32's rounding,
    within tolerance (of the codes' spread, or absolute where the codes do not vary) of the
    original model."""
    x = images(models["ae"].config.image_shape, 12, seed=3)
    result = node_encode(folder, web_decoder.bundle(models, dtype, encoders=True), x, models)
    for kind, model in models.items():
        codes, original = result[kind]["codes"], torch_codes(model, x)
        held = torch_codes(rounded(model, dtype), x, torch.float64)
        assert codes.shape == (len(x), model.config.latent_dim)
        spread = original.std() if varied else 1.0
        assert (original.std(0).mean() > 0.02) == varied  # codes that differ image to image
        np.testing.assert_allclose(codes, held, rtol=1e-6, atol=1e-6 * spread)
        assert np.abs(codes - original).max() / spread < tolerance


@pytest.fixture(autouse=True)
def node():
    require_node()


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("cell", list(CELLS))
def test_recurrent_decoder_matches_torch(cell, shape, dtype, tmp_path):
    models = pair(*SHAPES[shape], cell)
    check_decode(models, dtype, tmp_path, 1e-5 if dtype == "float32" else F16_PIXELS)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("cell", list(CELLS))
def test_recurrent_encoder_matches_torch(cell, shape, dtype, tmp_path):
    models = pair(*SHAPES[shape], cell)
    check_encode(models, dtype, tmp_path, 1e-5 if dtype == "float32" else F16_CODES)


def saturate(rnn: nn.RNNBase, gate: int, shift: float, largest_input: float) -> None:
    """Shift the gate's bias so far that it saturates on every input: further than the most
    its weights can add up to (the state is within [-1, 1] for a GRU and an LSTM's h)."""
    m = rnn.hidden_size
    rows = slice(gate * m, (gate + 1) * m)
    with torch.no_grad():
        reach = (
            rnn.weight_ih_l0[rows].abs().sum(1) * largest_input
            + rnn.weight_hh_l0[rows].abs().sum(1)
            + (rnn.bias_ih_l0[rows] + rnn.bias_hh_l0[rows]).abs()
        )
        assert reach.max() < abs(shift) - 8  # sigmoid within 3e-4 of 0 or 1, tanh closer
        rnn.bias_ih_l0[rows] += shift


@pytest.mark.parametrize("sign", [1, -1], ids=["open", "shut"])
@pytest.mark.parametrize(("cell", "gate"), [(c, g) for c, gates in GATES.items() for g in gates])
def test_saturated_gates_match_torch(cell, gate, sign, tmp_path):
    models = pair((1, 8, 8), 2, 1, cell)
    largest_z = max(np.abs(z).max() for z in points(models).values())
    for model in models.values():
        saturate(model.decoder.rnn, GATES[cell].index(gate), sign * 50, largest_z)
        saturate(model.encoder.rnn, GATES[cell].index(gate), sign * 50, 1.0)
    (tmp_path / "decode").mkdir()
    (tmp_path / "encode").mkdir()
    # an LSTM whose input or output gate is shut keeps h at 0: one image for every point, one
    # code for every image; so does a GRU encoder whose update gate is open (h stays at 0)
    still = cell == "lstm" and gate in "io" and sign == -1
    check_decode(models, "float32", tmp_path / "decode", 1e-5, varied=not still)
    if cell == "gru" and gate == "z" and sign == 1:  # the state never moves: every row alike
        rows = torch_pixels(models["ae"], points(models)["ae"]).reshape(N_POINTS, 8, 8)
        np.testing.assert_allclose(rows, rows[:, :1].repeat(8, 1), atol=1e-3)
    still |= cell == "gru" and gate == "z" and sign == 1
    check_encode(models, "float32", tmp_path / "encode", 1e-5, varied=not still)


def test_a_28_row_gru_decoder_keeps_up_with_the_mouse(tmp_path):
    """MNIST-sized, 256 hidden units: about 5.5 M multiply-adds per image. The bound is
    generous (10 frames a second); the time is printed for docs/design.md."""
    config = default_model_config((1, 28, 28), "ae", "mlp", 2, hidden=(4,))
    models = {"ae": recurrent(build_model(config), 256, nn.GRU, seed=0)}
    rng = np.random.default_rng(1)
    z = {"ae": (2 * rng.standard_normal((200, 2))).astype(np.float32)}
    held = {"ae": torch_pixels(models["ae"], z["ae"], torch.float64)}
    data = web_decoder.bundle(models, "float32")
    result = node_decode(tmp_path, data, z, held)["ae"]
    ms = result["ms_per_image"]
    work = web_decoder._multiply_adds(web_decoder.read_header(data)["models"]["ae"]["ops"], (2,))
    print(f"28-row GRU, hidden 256: {ms:.2f} ms per decode, {1000 / ms:.0f} fps, {work:,} MACs")
    assert result["max_error"] < 1e-6
    assert ms < 100


# ---- packing: the ops, the work counted, and what is refused ----


def test_recurrent_ops_and_their_work():
    models = pair((3, 6, 5), 5, 1, "lstm", hidden=16)
    header = web_decoder.read_header(web_decoder.bundle(models, encoders=True))
    decoder, encoder = header["models"]["vae"]["ops"], header["models"]["vae"]["encoder"]["ops"]
    assert [op["op"] for op in decoder] == ["linear", "tanh", "lstm", "linear_rows", "sigmoid"]
    assert [op["op"] for op in encoder] == ["lstm", "linear"]
    cell = decoder[2]
    assert (cell["in"], cell["hidden"], cell["steps"], cell["inputs"]) == (5, 16, 6, "latent")
    assert (encoder[0]["in"], encoder[0]["steps"], encoder[0]["inputs"]) == (15, 6, "rows")
    assert encoder[1]["out"] == 5  # the VAE's mean only
    # the latent point's product is taken once, the state's at each of the 6 steps
    work = 5 * 16 + 64 * (5 + 16 * 6) + 6 * 16 * 15
    assert web_decoder._multiply_adds(decoder, (5,)) == work
    assert web_decoder._multiply_adds(encoder, (3, 6, 5)) == 64 * 6 * (15 + 16) + 16 * 5


def test_a_coder_reading_two_rows_a_step_runs_half_the_steps_on_twice_the_values():
    models = pair((3, 6, 5), 5, 2, "lstm", hidden=16)
    header = web_decoder.read_header(web_decoder.bundle(models, encoders=True))
    decoder, encoder = header["models"]["vae"]["ops"], header["models"]["vae"]["encoder"]["ops"]
    assert (decoder[2]["steps"], decoder[3]["out"]) == (3, 2 * 15)
    assert (encoder[0]["in"], encoder[0]["steps"]) == (2 * 15, 3)
    work = 5 * 16 + 64 * (5 + 16 * 3) + 3 * 16 * 30
    assert web_decoder._multiply_adds(decoder, (5,)) == work
    assert web_decoder._multiply_adds(encoder, (3, 6, 5)) == 64 * 3 * (30 + 16) + 16 * 5


def test_a_large_recurrent_decoder_is_too_slow():
    # 28 steps of a 512-unit LSTM: 29.5 M multiply-adds, with 1.1 M weights
    models = pair((1, 28, 28), 2, 1, "lstm", hidden=512)
    with pytest.raises(web_decoder.Unsupported) as caught:
        web_decoder.bundle(models)
    assert str(caught.value) == (
        "one image takes 30 million multiply-adds, too slow to follow the mouse in a browser "
        "(at most 20 million)"
    )


REFUSED = {
    "two layers": lambda k, m: nn.GRU(k, m, num_layers=2, batch_first=True),
    "bidirectional": lambda k, m: nn.GRU(k, m, bidirectional=True, batch_first=True),
    "time first": lambda k, m: nn.LSTM(k, m),
    "no biases": lambda k, m: nn.LSTM(k, m, bias=False, batch_first=True),
    "projection": lambda k, m: nn.LSTM(k, m, proj_size=m // 2, batch_first=True),
    "plain RNN": lambda k, m: nn.RNN(k, m, batch_first=True),
}


@pytest.mark.parametrize("coder", ["decoder", "encoder"])
@pytest.mark.parametrize("name", list(REFUSED))
def test_recurrent_layers_the_browser_cannot_run(name, coder):
    models = pair((1, 8, 8), 2, 1, "gru", hidden=8)
    n_in = 2 if coder == "decoder" else 8
    getattr(models["ae"], coder).rnn = REFUSED[name](n_in, 8)
    with pytest.raises(web_decoder.Unsupported) as caught:
        web_decoder.bundle(models, encoders=True)
    message = str(caught.value)
    assert message.startswith(f"its {coder} has a recurrent layer the browser cannot run: ")
    assert "\n" not in message


def test_a_recurrent_decoder_that_does_not_write_rows():
    models = pair((1, 8, 8), 2, 1, "gru", hidden=8)
    models["ae"].decoder.out = nn.Linear(8, 9)
    with pytest.raises(web_decoder.Unsupported, match="^its recurrent decoder does not write 1 x"):
        web_decoder.bundle(models)
    models["ae"].decoder = RecurrentDecoder(models["ae"].config)
    models["ae"].decoder.start = nn.Linear(2, 8, bias=False)
    with pytest.raises(web_decoder.Unsupported, match="^its decoder has a layer the browser"):
        web_decoder.bundle(models)
