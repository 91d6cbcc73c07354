"""Recurrent models in PyTorch."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


class ElmanRNN(nn.Module):
    """The Elman RNN of chapter 1 in PyTorch, with the same parameter names and equations as `scratch.rnn_forward`."""

    def __init__(self, D: int, H: int, V: int):
        super().__init__()
        self.W_hx = nn.Parameter(torch.empty(H, D))
        self.W_hh = nn.Parameter(torch.empty(H, H))
        self.b_h = nn.Parameter(torch.empty(H))
        self.W_yh = nn.Parameter(torch.empty(V, H))
        self.b_y = nn.Parameter(torch.empty(V))
        for p in self.parameters():
            nn.init.uniform_(p, -1 / math.sqrt(H), 1 / math.sqrt(H))

    @classmethod
    def from_numpy(cls, params: dict[str, np.ndarray]) -> "ElmanRNN":
        """Build the module from a `scratch` parameter dict, keeping its dtype."""
        H, D = params["W_hx"].shape
        model = cls(D, H, params["W_yh"].shape[0]).to(torch.from_numpy(params["W_hx"]).dtype)
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(torch.from_numpy(params[name]))
        return model

    def forward(self, inputs: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs (T, D) or (T, B, D); return hidden states (T, [B,] H) and logits (T, [B,] V)."""
        h = inputs.new_zeros(*inputs.shape[1:-1], self.W_hh.shape[0]) if h0 is None else h0
        hs = []
        for x_t in inputs:
            h = torch.tanh(x_t @ self.W_hx.T + h @ self.W_hh.T + self.b_h)
            hs.append(h)
        hs = torch.stack(hs)
        return hs, hs @ self.W_yh.T + self.b_y
