"""Recurrent models in PyTorch."""

from __future__ import annotations

import copy
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


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t sees only positions s <= t (the masked softmax of chapter 8)."""

    def __init__(self, d: int, n_heads: int):
        super().__init__()
        if d % n_heads:
            raise ValueError(f"model width d={d} must be divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.qkv = nn.Linear(d, 3 * d)  # W_Q, W_K, W_V side by side
        self.proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d) -> (B, T, d), all T positions in one pass."""
        B, T, d = x.shape
        q, k, v = (z.view(B, T, self.n_heads, -1).transpose(1, 2) for z in self.qkv(x).split(d, dim=-1))
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, heads, T, T): query t, key s
        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)  # s > t
        weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(B, T, d))


class TransformerBlock(nn.Module):
    """Pre-norm Transformer block: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x))."""

    def __init__(self, d: int, n_heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, n_heads)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d) -> (B, T, d)."""
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CausalTransformer(nn.Module):
    """A small decoder-only (GPT-style) character model: token and position embeddings, blocks, a linear head."""

    def __init__(self, vocab_size: int, d: int = 64, n_layers: int = 2, n_heads: int = 4, block_size: int = 256):
        super().__init__()
        self.block_size = block_size
        self.tok = nn.Embedding(vocab_size, d)
        self.pos = nn.Embedding(block_size, d)
        self.blocks = nn.Sequential(*[TransformerBlock(d, n_heads) for _ in range(n_layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab_size)

    def forward(self, x: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        """Ids x (B, T) -> logits (B, T, V) and no state: the interface of `CharRNN`, so the same loop trains both.

        The logits at position t depend on x[:, :t+1] only. A Transformer carries no state from one call to
        the next; its context is the x it is given, at most `block_size` characters.
        """
        if state is not None:
            raise ValueError("a Transformer has no recurrent state: pass state=None and the whole context in x")
        if x.dim() != 2:
            raise ValueError(f"x has shape {tuple(x.shape)}, expected (B, T) character ids")
        T = x.shape[1]
        if not 1 <= T <= self.block_size:
            raise ValueError(f"sequence length T={T} must be between 1 and block_size={self.block_size}")
        h = self.tok(x) + self.pos(torch.arange(T, device=x.device))
        return self.head(self.ln(self.blocks(h))), None


class UnrolledRNN(nn.Module):
    """An Elman RNN unrolled for exactly T steps: a T-layer feed-forward network whose layer t has its own copy of every weight."""

    def __init__(self, rnn: ElmanRNN, T: int):
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(rnn) for _ in range(T))  # untied: T independent copies

    def forward(self, inputs: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs (T, [B,] D) with exactly T steps; return hidden states (T, [B,] H) and logits (T, [B,] V)."""
        if len(inputs) != len(self.layers):
            raise ValueError(f"this network was unrolled for T={len(self.layers)} steps and cannot read {len(inputs)}; an RNN can")
        h = inputs.new_zeros(*inputs.shape[1:-1], self.layers[0].W_hh.shape[0]) if h0 is None else h0
        hs, ys = [], []
        for x_t, layer in zip(inputs, self.layers):  # layer t: the weights of step t
            h = torch.tanh(x_t @ layer.W_hx.T + h @ layer.W_hh.T + layer.b_h)
            hs.append(h)
            ys.append(h @ layer.W_yh.T + layer.b_y)
        return torch.stack(hs), torch.stack(ys)


class SequenceModel(nn.Module):
    """A recurrent network (nn.RNN, nn.LSTM or nn.GRU; stacked, bidirectional) with a linear read-out y_t = W_yh h_t + b_y at every step."""

    CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, cell: str, D: int, H: int, V: int, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0):
        super().__init__()
        if cell not in self.CELLS:
            raise ValueError(f"cell must be one of {list(self.CELLS)}, got {cell!r}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be an integer >= 1, got {num_layers!r}")
        if not 0.0 <= dropout < 1.0 or (dropout > 0 and num_layers == 1):
            raise ValueError(f"dropout acts between layers: it must lie in [0, 1), and be 0 for one layer; got {dropout!r}"
                             f" with num_layers={num_layers}")
        self.rnn = self.CELLS[cell](D, H, num_layers, dropout=dropout, bidirectional=bidirectional)
        self.head = nn.Linear(2 * H if bidirectional else H, V)  # a bidirectional layer's h_t is [forward; backward]

    def forward(self, inputs: torch.Tensor, state=None):
        """inputs (T, B, D) -> logits (T, B, V) and the final state (h_T, or (h_T, c_T) for an LSTM), to carry on from."""
        hs, state = self.rnn(inputs, state)
        return self.head(hs), state


def single_layer(rnn: nn.RNN | nn.LSTM | nn.GRU, layer: int = 0, reverse: bool = False) -> nn.RNN | nn.LSTM | nn.GRU:
    """A one-layer, one-directional copy of one layer (its backward direction if reverse) of a stacked or bidirectional rnn."""
    if not isinstance(rnn, (nn.RNN, nn.LSTM, nn.GRU)) or getattr(rnn, "proj_size", 0) or rnn.batch_first:
        raise ValueError(f"expected an nn.RNN, nn.LSTM or nn.GRU, time first and without projection; got {rnn!r}")
    if not 0 <= layer < rnn.num_layers or (reverse and not rnn.bidirectional):
        raise ValueError(f"rnn has {rnn.num_layers} layer(s), bidirectional={rnn.bidirectional}; "
                         f"there is no layer={layer}, reverse={reverse}")
    D = rnn.input_size if layer == 0 else rnn.hidden_size * (2 if rnn.bidirectional else 1)
    kwargs = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
    one = type(rnn)(D, rnn.hidden_size, bias=rnn.bias, **kwargs).to(rnn.weight_ih_l0.dtype)
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    with torch.no_grad():
        for name, p in one.named_parameters():
            p.copy_(getattr(rnn, name.replace("_l0", suffix)))
    return one


def gated_params(layer: nn.LSTM | nn.GRU | nn.LSTMCell | nn.GRUCell, head: nn.Linear | None = None) -> dict[str, np.ndarray]:
    """A one-layer PyTorch LSTM or GRU (and its output layer `head`) as the float64 NumPy dict of `scratch.lstm_forward` / `gru_forward`.

    PyTorch stacks the gates (LSTM: i, f, g, o; GRU: r, z, n) in `weight_ih`, `weight_hh` and two bias vectors; a
    gate's one bias is the sum of its two slices, except the GRU candidate's, kept apart as b_n (input) and b_nh
    (recurrent, inside the reset product). Without a head, W_yh is the identity and b_y zero, so the logits are h_t.
    """
    if not isinstance(layer, (nn.LSTM, nn.GRU, nn.LSTMCell, nn.GRUCell)):
        raise ValueError(f"expected an nn.LSTM, nn.GRU, nn.LSTMCell or nn.GRUCell, got {type(layer).__name__}")
    if getattr(layer, "num_layers", 1) != 1 or getattr(layer, "bidirectional", False) or getattr(layer, "proj_size", 0) or not layer.bias:
        raise ValueError("expected a one-layer, one-directional LSTM or GRU with biases and no projection")
    H = layer.hidden_size
    if head is not None and (not isinstance(head, nn.Linear) or head.in_features != H or head.bias is None):
        raise ValueError(f"expected head to be an nn.Linear from H={H} features with a bias, got {head!r}")
    suffix = "_l0" if isinstance(layer, (nn.LSTM, nn.GRU)) else ""
    W_x, W_h, b_x, b_h = (getattr(layer, name + suffix).detach().double().numpy() for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    gates = "ifgo" if isinstance(layer, (nn.LSTM, nn.LSTMCell)) else "rzn"
    p = {}
    for k, gate in enumerate(gates):
        rows = slice(k * H, (k + 1) * H)
        p[f"W_{gate}x"], p[f"W_{gate}h"] = W_x[rows].copy(), W_h[rows].copy()
        p[f"b_{gate}"] = b_x[rows] + (0 if gate == "n" else b_h[rows])
    if gates == "rzn":
        p["b_nh"] = b_h[2 * H:].copy()
    if head is None:
        p["W_yh"], p["b_y"] = np.eye(H), np.zeros(H)
    else:
        p["W_yh"], p["b_y"] = head.weight.detach().double().numpy().copy(), head.bias.detach().double().numpy().copy()
    return p


class CharRNN(nn.Module):
    """Character-level language model: Embedding -> nn.RNN/LSTM/GRU (batch_first) -> Linear to V logits.

    Children, in order: `embed` (V, E), `rnn` (PyTorch's parameter names `weight_ih_l{k}`, `weight_hh_l{k}`,
    `bias_ih_l{k}`, `bias_hh_l{k}`; gates stacked i,f,g,o for the LSTM and r,z,n for the GRU; tanh for
    the RNN), `drop`, `head` (V, H). Dropout, if any, acts on the non-recurrent connections only (Zaremba et
    al., 2014): on the embeddings going in, between layers inside `rnn`, and on the hidden states going to
    the head; never on h_{t-1} -> h_t. It is off in eval mode.
    """

    CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256, num_layers: int = 2,
                 cell: str = "lstm", dropout: float = 0.0):
        super().__init__()
        if cell not in self.CELLS:
            raise ValueError(f"cell={cell!r}; valid cells are {sorted(self.CELLS)}")
        for name, value in (("vocab_size", vocab_size), ("embed_dim", embed_dim), ("hidden_size", hidden_size),
                            ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be an integer >= 1")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be in [0, 1)")
        self.config = dict(vocab_size=vocab_size, embed_dim=embed_dim, hidden_size=hidden_size,
                           num_layers=num_layers, cell=cell, dropout=dropout)
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = self.CELLS[cell](embed_dim, hidden_size, num_layers, batch_first=True,
                                    dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, state=None):
        """Ids x (B, T) -> logits (B, T, V) and the state after the last step (h, or (h, c) for the LSTM)."""
        out, state = self.rnn(self.drop(self.embed(x)), state)
        return self.head(self.drop(out)), state
