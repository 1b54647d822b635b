"""Recurrent coders (`--arch gru`, `--arch lstm`): an image read, and written, one row at a time.

The encoder reads the H rows of an image as a sequence (each row's C*W values, channel-major)
and codes its last hidden state; the decoder starts from a state set by the code, is fed the
code at every step, and writes one row of logits per step. With config.rows_per_step = F, a
step reads (and writes) F consecutive rows: a signal of 128 steps is read as 8 frames of 16
values, which trains about 25x as fast on a CPU as 128 steps of one value and learns far better
(training/presets.py, SIGNAL_FRAME). The browser's GRU/LSTM cells
(explorer/web) follow this exact structure: keep the attribute names and shapes.
"""

from __future__ import annotations

import torch
from torch import nn

from training.config import ModelConfig

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def image_steps(x: torch.Tensor, rows_per_step: int = 1) -> torch.Tensor:
    """(B, C, H, W) -> (B, H/F, F*C*W) for F = rows_per_step: step t holds rows tF .. tF+F-1,
    each x[:, :, row, :] flattened channel-major."""
    b, c, h, w = x.shape
    return x.permute(0, 2, 1, 3).reshape(b, h // rows_per_step, rows_per_step * c * w)


class RecurrentEncoder(nn.Module):
    """(B, C, H, W) -> (B, n_out): a one-layer GRU or LSTM (self.rnn, hidden config.hidden[0])
    reads the H / F steps of F rows; its last hidden state (B, hidden) goes through self.head."""

    def __init__(self, config: ModelConfig, n_out: int):
        super().__init__()
        c, _, w = config.image_shape
        hidden, self.rows_per_step = config.hidden[0], config.rows_per_step
        self.rnn = CELLS[config.arch](
            self.rows_per_step * c * w, hidden, num_layers=1, batch_first=True
        )
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(image_steps(x, self.rows_per_step))  # (B, steps, hidden)
        return self.head(states[:, -1])


class RecurrentDecoder(nn.Module):
    """(B, latent) -> (B, C, H, W) logits: h0 = tanh(self.start(z)) (an LSTM's c0 is zeros),
    z is the input at each of the H / F steps of self.rnn, and self.out turns each step's output
    into F rows of C*W logits."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        c, _, w = config.image_shape
        hidden = config.hidden[0]
        self.image_shape, self.rows_per_step = config.image_shape, config.rows_per_step
        self.start = nn.Linear(config.latent_dim, hidden)
        self.rnn = CELLS[config.arch](config.latent_dim, hidden, num_layers=1, batch_first=True)
        self.out = nn.Linear(hidden, self.rows_per_step * c * w)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c, h, w = self.image_shape
        b = z.shape[0]
        h0 = torch.tanh(self.start(z)).unsqueeze(0)  # (1, B, hidden): one layer
        state = (h0, torch.zeros_like(h0)) if isinstance(self.rnn, nn.LSTM) else h0
        n_steps = h // self.rows_per_step
        inputs = z.unsqueeze(1).expand(b, n_steps, z.shape[1])  # z at every step
        outputs, _ = self.rnn(inputs, state)  # (B, steps, hidden)
        rows = self.out(outputs)  # (B, steps, F*C*W): F rows of C*W each, in order
        return rows.reshape(b, h, c, w).permute(0, 2, 1, 3)
