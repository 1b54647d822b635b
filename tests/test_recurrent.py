"""The recurrent coders (gru, lstm): shapes, gradients, the losses against hand-unrolled cells,
checkpoints, the CLI and the Explore page decoding a GRU pair in the browser."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn

from training.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from training.config import ModelConfig, TrainConfig
from training.losses import loss_terms
from training.models import build_model
from training.presets import default_model_config
from training.recurrent import RecurrentDecoder, RecurrentEncoder, image_steps

ROOT = Path(__file__).resolve().parents[1]
ARCHS = ["gru", "lstm"]
SHAPES = [(1, 8, 8), (3, 6, 5), (1, 28, 28)]


def tiny(arch: str, kind: str = "ae", shape=(1, 3, 2), hidden: int = 3, latent_dim: int = 2):
    config = ModelConfig(
        kind=kind, arch=arch, image_shape=shape, hidden=(hidden,), latent_dim=latent_dim
    )
    return build_model(config, seed=0)


# ---- shapes and gradients ----


@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("shape", SHAPES)
def test_recurrent_models_keep_the_contract_at_any_image_size(kind, arch, shape):
    model = tiny(arch, kind, shape, hidden=16, latent_dim=3).eval()
    x = torch.rand(4, *shape)
    z = model.encode(x)
    x_hat = model.decode(z)
    assert z.shape == (4, 3) and x_hat.shape == x.shape
    assert x_hat.min() >= 0 and x_hat.max() <= 1
    assert model(x).logits.shape == x.shape


@pytest.mark.parametrize("arch", ARCHS)
def test_the_coders_have_the_layers_the_browser_follows(arch):
    c, h, w = 3, 6, 5
    model = tiny(arch, "vae", (c, h, w), hidden=16, latent_dim=3)
    encoder, decoder = model.encoder, model.decoder
    cell = nn.GRU if arch == "gru" else nn.LSTM
    assert isinstance(encoder, RecurrentEncoder) and isinstance(decoder, RecurrentDecoder)
    assert isinstance(encoder.rnn, cell) and isinstance(decoder.rnn, cell)
    for rnn, n_in in ((encoder.rnn, c * w), (decoder.rnn, 3)):
        assert (rnn.input_size, rnn.hidden_size, rnn.num_layers) == (n_in, 16, 1)
        assert rnn.batch_first
    assert (encoder.head.in_features, encoder.head.out_features) == (16, 6)  # mu and logvar
    assert (decoder.start.in_features, decoder.start.out_features) == (3, 16)
    assert (decoder.out.in_features, decoder.out.out_features) == (16, c * w)


def test_rows_are_read_channel_major_one_image_row_per_step():
    x = torch.arange(2 * 3 * 6 * 5, dtype=torch.float32).view(2, 3, 6, 5)
    rows = image_steps(x)
    assert rows.shape == (2, 6, 15)
    assert torch.equal(rows[1, 4], x[1, :, 4, :].flatten())


def test_a_step_of_several_rows_holds_them_in_order():
    x = torch.arange(2 * 3 * 6 * 5, dtype=torch.float32).view(2, 3, 6, 5)
    steps = image_steps(x, rows_per_step=3)
    assert steps.shape == (2, 2, 45)
    rows_3_to_5 = [x[1, :, r, :].flatten() for r in (3, 4, 5)]
    assert torch.equal(steps[1, 1], torch.cat(rows_3_to_5))


@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("arch", ARCHS)
def test_coders_reading_frames_keep_the_contract_and_run_fewer_steps(kind, arch):
    config = ModelConfig(
        kind=kind, arch=arch, image_shape=(1, 128, 1), hidden=(8,), latent_dim=3, rows_per_step=8
    )
    model = build_model(config).eval()
    assert model.encoder.rnn.input_size == 8 and model.decoder.out.out_features == 8
    x = torch.rand(4, 1, 128, 1)
    assert model.decode(model.encode(x)).shape == x.shape
    # the decoder writes step t's output as rows 8t .. 8t+7
    decoder, z = model.decoder, torch.randn(2, 3)
    with torch.no_grad():
        h0 = torch.tanh(decoder.start(z)).unsqueeze(0)
        state = (h0, torch.zeros_like(h0)) if arch == "lstm" else h0
        outputs, _ = decoder.rnn(z.unsqueeze(1).expand(2, 16, 3), state)
        steps = decoder.out(outputs)  # (2, 16 steps, 8 rows)
        assert torch.equal(decoder(z)[:, 0, 8:16, 0], steps[:, 1])


@pytest.mark.parametrize(
    ("shape", "arch", "rows_per_step"),
    [((1, 128, 1), "gru", 3), ((1, 128, 1), "gru", 0), ((1, 128, 1), "gru", 256),
     ((1, 28, 28), "mlp", 2), ((1, 128, 1), "lstm", 2.0)],
)  # fmt: skip
def test_rows_per_step_must_divide_the_rows_of_a_recurrent_coder(shape, arch, rows_per_step):
    with pytest.raises(ValueError, match="rows_per_step"):
        ModelConfig(arch=arch, image_shape=shape, hidden=(8,), rows_per_step=rows_per_step)


@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("arch", ARCHS)
def test_every_weight_gets_a_gradient(kind, arch):
    model = tiny(arch, kind, (3, 6, 5), hidden=8, latent_dim=2)
    x = torch.rand(4, 3, 6, 5)
    eps = torch.randn(4, 2) if kind == "vae" else None
    loss_terms(model(x, eps), x, "bernoulli")["total"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("arch", ARCHS)
def test_a_recurrent_vae_overfits_one_batch(arch):
    from training.fit import fit

    x = (torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    model = tiny(arch, "vae", (1, 8, 8), hidden=32, latent_dim=8)
    before = loss_terms(model(x), x, "bernoulli")["recon"].item()
    config = TrainConfig(epochs=200, batch_size=8, lr=1e-2, beta=0.01, precision="fp32")
    assert fit(model, x.numpy(), config).status == "finished"
    assert loss_terms(model(x), x, "bernoulli")["recon"].item() < 0.3 * before


@pytest.mark.parametrize("arch", ARCHS)
def test_the_fit_loop_trains_recurrent_models_in_fp32_and_under_bf16_autocast(arch):
    from training.fit import fit

    images = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0)).numpy()
    for precision in ("fp32", "bf16"):
        model = tiny(arch, "vae", (1, 8, 8), hidden=16)
        config = TrainConfig(epochs=2, batch_size=32, precision=precision)
        result = fit(model, images, config)
        assert (result.status, result.precision) == ("finished", precision)


# ---- the losses against the cells unrolled by hand ----


def cell_step(rnn: nn.Module, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None):
    """One step of a one-layer nn.GRU or nn.LSTM from its equations (PyTorch's docs: gate
    order r, z, n for the GRU; i, f, g, o for the LSTM)."""
    gi = x @ rnn.weight_ih_l0.T + rnn.bias_ih_l0
    gh = h @ rnn.weight_hh_l0.T + rnn.bias_hh_l0
    if isinstance(rnn, nn.GRU):
        (ir, iz, in_), (hr, hz, hn) = gi.chunk(3, 1), gh.chunk(3, 1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        n = torch.tanh(in_ + r * hn)
        return (1 - z) * n + z * h, None
    i, f, g, o = (gi + gh).chunk(4, 1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def encode_by_hand(encoder: RecurrentEncoder, x: torch.Tensor) -> torch.Tensor:
    b, hidden = x.shape[0], encoder.rnn.hidden_size
    h, c = torch.zeros(b, hidden), torch.zeros(b, hidden)
    for t in range(x.shape[2]):
        h, c = cell_step(encoder.rnn, x[:, :, t, :].flatten(1), h, c)
    return h @ encoder.head.weight.T + encoder.head.bias


def decode_by_hand(decoder: RecurrentDecoder, z: torch.Tensor, shape) -> torch.Tensor:
    _, height, _ = shape
    h = torch.tanh(z @ decoder.start.weight.T + decoder.start.bias)
    c = torch.zeros_like(h)
    rows = []
    for _ in range(height):
        h, c = cell_step(decoder.rnn, z, h, c)
        rows.append(h @ decoder.out.weight.T + decoder.out.bias)  # (B, C*W)
    b, (ch, _, w) = z.shape[0], shape
    return torch.stack([r.view(b, ch, w) for r in rows], dim=2)  # (B, C, H, W)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("arch", ARCHS)
def test_the_ae_loss_matches_the_unrolled_cells(arch, likelihood):
    shape = (2, 3, 2)
    model = tiny(arch, "ae", shape)
    x = torch.rand(3, *shape, generator=torch.Generator().manual_seed(1))
    z = encode_by_hand(model.encoder, x)
    logits = decode_by_hand(model.decoder, z, shape)
    if likelihood == "bernoulli":
        expected = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 3
    else:
        expected = (torch.sigmoid(logits) - x).square().sum() / 3
    got = loss_terms(model(x), x, likelihood)
    torch.testing.assert_close(got["total"], expected)
    torch.testing.assert_close(model.encode(x), z)


@pytest.mark.parametrize("arch", ARCHS)
def test_the_vae_loss_matches_the_unrolled_cells(arch):
    shape = (1, 4, 3)
    model = tiny(arch, "vae", shape)
    x = torch.rand(3, *shape, generator=torch.Generator().manual_seed(2))
    eps = torch.randn(3, 2, generator=torch.Generator().manual_seed(3))
    mu, logvar = encode_by_hand(model.encoder, x).chunk(2, dim=1)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = decode_by_hand(model.decoder, z, shape)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 3
    kl = (0.5 * (mu.square() + logvar.exp() - 1 - logvar)).sum() / 3
    got = loss_terms(model(x, eps), x, "bernoulli", beta=2.0)
    torch.testing.assert_close(got["recon"], recon)
    torch.testing.assert_close(got["kl"], kl)
    torch.testing.assert_close(got["total"], recon + 2.0 * kl)


# ---- config and defaults ----


def test_a_recurrent_coder_takes_exactly_one_hidden_size():
    with pytest.raises(ValueError, match="^hidden: a gru coder has one recurrent layer"):
        ModelConfig(arch="gru", hidden=(64, 32))


def test_defaults_are_a_128_unit_state_2d_bernoulli_for_mnist_and_32d_calibrated_for_faces():
    mnist = default_model_config((1, 28, 28), "vae", arch="gru")
    assert (mnist.hidden, mnist.latent_dim, mnist.likelihood) == ((128,), 2, "bernoulli")
    faces = default_model_config((3, 64, 64), "vae", arch="lstm")
    assert (faces.hidden, faces.latent_dim, faces.likelihood) == ((128,), 32, "calibrated")


def test_the_recipe_for_mnist_keeps_the_recurrent_state_not_the_mlps_hidden_sizes(digits):
    from training.recipe import recipe

    mnist = dataclasses.replace(digits, name="mnist")  # its best recipe names MLP sizes
    assert recipe(mnist, arch="gru").model.hidden == (128,)
    assert recipe(mnist).model.hidden == (512, 512)


# ---- checkpoints ----


@pytest.mark.parametrize("arch", ARCHS)
def test_a_checkpoint_round_trip_is_bit_identical(arch, tmp_path):
    model = tiny(arch, "vae", (3, 6, 5), hidden=8)
    path = save_checkpoint(tmp_path / "m.safetensors", model, TrainConfig(epochs=1))
    loaded = load_checkpoint(path).model
    assert loaded.config == model.config
    for (key, want), got in zip(
        model.state_dict().items(), loaded.state_dict().values(), strict=True
    ):
        assert torch.equal(want, got), key
    x = torch.rand(2, 3, 6, 5)
    assert torch.equal(loaded.decode(loaded.encode(x)), model.eval().decode(model.encode(x)))


def tampered(path: Path, change) -> Path:
    """The checkpoint at path with its tensors changed by change(dict), metadata kept."""
    tensors = safetensors.torch.load_file(path)
    with safetensors.safe_open(path, "pt") as f:
        metadata = f.metadata()
    change(tensors)
    out = path.with_name("tampered.safetensors")
    safetensors.torch.save_file(tensors, out, metadata=metadata)
    return out


def narrower(tensors: dict) -> None:
    """The decoder's recurrent weights one column short: a state of another size."""
    key = "decoder.rnn.weight_hh_l0"
    tensors[key] = tensors[key][:, :-1].contiguous()


HOSTILE = {
    "wrong shape": (
        narrower,
        "the config needs",
    ),
    "missing rnn weights": (lambda t: t.pop("encoder.rnn.weight_ih_l0"), "missing"),
    "NaN": (
        lambda t: t["encoder.rnn.bias_hh_l0"].fill_(float("nan")),
        "NaN or infinite",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
@pytest.mark.parametrize("arch", ARCHS)
def test_a_hostile_recurrent_checkpoint_is_refused_with_one_line(arch, case, tmp_path):
    change, message = HOSTILE[case]
    path = save_checkpoint(tmp_path / "m.safetensors", tiny(arch, "vae", (1, 8, 8), hidden=8))
    bad = tampered(path, change)
    with pytest.raises(CheckpointError, match=message) as error:
        load_checkpoint(bad)
    assert "\n" not in str(error.value)


# ---- the CLI and the app ----


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "training", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_cli_refuses_a_recurrent_checkpoint_without_its_rnn_weights_in_one_line(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny("lstm", "vae", (1, 8, 8), hidden=8))
    bad = tampered(path, HOSTILE["missing rnn weights"][0])
    result = run_cli("evaluate", str(bad), "--dataset", "digits")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "encoder.rnn.weight_ih_l0" in lines[0], result.stderr


@pytest.mark.slow
def test_the_cli_trains_a_gru_pair_on_digits_in_one_epoch(tmp_path):
    result = run_cli(
        *("fit", "--dataset", "digits", "--arch", "gru", "--epochs", "1", "--out", str(tmp_path))
    )
    assert result.returncode == 0, result.stderr
    for kind in ("ae", "vae"):
        ckpt = load_checkpoint(tmp_path / f"{kind}.safetensors")
        assert (ckpt.config.arch, ckpt.config.hidden, ckpt.config.kind) == ("gru", (128,), kind)
        assert isinstance(ckpt.model.decoder, RecurrentDecoder)
        assert ckpt.metrics["recon_mse"] < ckpt.metrics["pca_mse"] * 2
    assert json.loads(json.dumps(ckpt.metrics))  # plain metadata


@pytest.mark.parametrize("arch", ARCHS)
def test_the_browser_bundle_carries_the_recurrent_coders(arch):
    # (tests/test_recurrent_js.py runs them in Node against torch)
    from explorer.web import web_decoder

    models = {kind: tiny(arch, kind) for kind in ("ae", "vae")}
    header = web_decoder.read_header(web_decoder.bundle(models, encoders=True))
    for model in header["models"].values():
        assert arch in [op["op"] for op in model["ops"]]
        assert arch in [op["op"] for op in model["encoder"]["ops"]]


@pytest.fixture(scope="module")
def gru_runs(tmp_path_factory, digits):
    """A runs folder whose default digits pair is a small GRU pair."""
    from training.recipe import train_side_by_side

    runs = tmp_path_factory.mktemp("gru_runs")
    config = ModelConfig(kind="vae", arch="gru", image_shape=digits.image_shape, hidden=(32,))
    train = TrainConfig(epochs=2, batch_size=128, precision="fp32")
    out = runs / "default" / "digits"
    train_side_by_side(digits, ("ae", "vae"), train, out, config, record=False)
    return runs


def test_explore_decodes_a_gru_pair_in_the_browser(gru_runs, monkeypatch):
    from apptest import fresh_app, live_panel, send_trigger

    from explorer.web.web_decoder import read_header

    app = fresh_app(gru_runs, monkeypatch, timeout=60)
    app.run()
    assert not app.exception
    assert not [c.value for c in app.caption if c.value.startswith("Decoding on the server")]
    live = live_panel(app)
    weights = next(e for e in app.get("bidi_component") if e.key == "decoder_weights")
    header = read_header(weights.proto.bytes)
    assert live["bundles"] == [header["id"]]
    assert all("gru" in [op["op"] for op in m["ops"]] for m in header["models"].values())
    click = {"chart": "map_vae", "x": 0.1, "y": -0.2, "point_index": None, "seq": 1}
    send_trigger(app, "latent_click", "click", click)  # a pinned spot, decoded in the browser
    assert not app.exception and app.query_params["point"] == "0.1,-0.2"
