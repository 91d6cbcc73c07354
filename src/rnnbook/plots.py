"""One figure style for the whole book, and the diagrams that chapters draw with code."""

from __future__ import annotations

from statistics import median

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
import numpy as np

# Colour-blind-safe palette (Okabe & Ito), in the order the book uses it.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

STYLE = {
    "figure.figsize": (7.0, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "savefig.bbox": "tight",
    "font.size": 10.5,
    "axes.titlesize": 11.5,
    "axes.labelsize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": mpl.cycler(color=COLORS),
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the book's figure style; every chapter calls this once at the top."""
    mpl.rcParams.update(STYLE)

def _canvas(ax: plt.Axes | None, figsize: tuple[float, float], xlim: tuple[float, float], ylim: tuple[float, float]) -> plt.Axes:
    """The axes of a diagram drawn by code: new ones of figsize if ax is None; equal scales, no frame or ticks."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _box(ax, xy, text, color, w=1.6, h=0.8, fontsize=11):
    """A rounded box centred at xy with a label."""
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05",
                                fc=color, ec="black", lw=1.2, alpha=0.9))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, text="", color="black", rad=0.0, text_offset=(0.0, 0.0)):
    """An arrow from start to end, labelled near its middle."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, lw=1.4,
                                 color=color, connectionstyle=f"arc3,rad={rad}"))
    if text:
        mx, my = (start[0] + end[0]) / 2 + text_offset[0], (start[1] + end[1]) / 2 + text_offset[1]
        ax.text(mx, my, text, ha="center", va="center", fontsize=10, color=color,
                bbox=dict(fc="white", ec="none", alpha=0.8, pad=1))


def draw_rnn_cell(ax: plt.Axes | None = None) -> plt.Axes:
    """Draw one Elman cell: x_t enters, h_{t-1} loops back through W_hh, y_t leaves."""
    ax = _canvas(ax, (5.2, 4.4), (-3.2, 3.2), (-2.9, 3.0))
    ax.add_patch(Circle((0, -2.2), 0.45, fc=COLORS[5], ec="black"))
    ax.text(0, -2.2, "$x_t$", ha="center", va="center", fontsize=13)
    _box(ax, (0, 0), r"$h_t = \tanh(W_{hx}x_t + W_{hh}h_{t-1} + b_h)$", "#f2f2f2", w=4.6, h=0.9, fontsize=10.5)
    ax.add_patch(Circle((0, 2.3), 0.45, fc=COLORS[4], ec="black"))
    ax.text(0, 2.3, "$y_t$", ha="center", va="center", fontsize=13)
    _arrow(ax, (0, -1.75), (0, -0.5), r"$W_{hx}$", text_offset=(0.45, 0))
    _arrow(ax, (0, 0.5), (0, 1.85), r"$W_{yh}$", text_offset=(0.45, 0))
    # the recurrent loop: out of the right side, round, back into the right side
    ax.add_patch(FancyArrowPatch((2.3, 0.25), (2.3, -0.25), arrowstyle="-|>", mutation_scale=14, lw=1.6,
                                 color=COLORS[1], connectionstyle="arc3,rad=-2.2"))
    ax.text(3.05, 0, r"$W_{hh}$", color=COLORS[1], ha="center", va="center", fontsize=11)
    ax.text(2.35, -1.05, "$h_{t-1}$: the state\nfrom the last step", color=COLORS[1], fontsize=9, ha="center")
    ax.text(0, 2.95, r"$\mathrm{softmax}(W_{yh} h_t + b_y)$ for classes, or linear for regression",
            ha="center", fontsize=8.5)
    return ax


def _node(ax, xy, text, color, r=0.38, fontsize=11):
    """A circle centred at xy with a label: an input or an output."""
    ax.add_patch(Circle(xy, r, fc=color, ec="black", lw=1.1))
    ax.text(*xy, text, ha="center", va="center", fontsize=fontsize)


def draw_unrolled(T: int, ax: plt.Axes | None = None, grads: bool = False) -> plt.Axes:
    """Draw an Elman RNN unrolled for T steps: the same W_hx, W_hh, W_yh at every step; grads=True adds the backward pass."""
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be a positive integer, got {T!r}")
    dx = 2.4
    top = 3.9 if grads else 2.6
    ax = _canvas(ax, (1.5 + 1.45 * (T + 1), 4.6 if grads else 3.9), (-0.9, T * dx + 0.9), (-2.7, top + 0.55))
    w_hx, w_hh, w_yh = COLORS[0], COLORS[1], COLORS[2]
    _box(ax, (0, 0), "$h_0$", "white", w=1.0, h=0.8)
    for t in range(1, T + 1):
        x = t * dx
        _node(ax, (x, -2.0), f"$x_{{{t}}}$", COLORS[5])
        _box(ax, (x, 0), f"$h_{{{t}}}$", "#f2f2f2", w=1.0, h=0.8)
        _node(ax, (x, 2.0), f"$y_{{{t}}}$", COLORS[4])
        _arrow(ax, (x, -1.6), (x, -0.45), "$W_{hx}$", color=w_hx, text_offset=(0.0, -0.05))
        _arrow(ax, (x - dx + 0.55, 0), (x - 0.55, 0), "$W_{hh}$", color=w_hh, text_offset=(0.0, 0.28))
        _arrow(ax, (x, 0.45), (x, 1.6), "$W_{yh}$", color=w_yh)
        if grads:
            _node(ax, (x, 3.4), f"$L_{{{t}}}$", "white", r=0.34, fontsize=10)
            _arrow(ax, (x, 2.4), (x, 3.05))
            red = COLORS[3]
            ax.add_patch(FancyArrowPatch((x + 0.5, 3.2), (x + 0.5, 0.45), arrowstyle="-|>", mutation_scale=11,
                                         lw=1.2, ls="--", color=red))
            ax.add_patch(FancyArrowPatch((x - 0.5, -0.35), (x - dx + 0.5, -0.35), arrowstyle="-|>", mutation_scale=11,
                                         lw=1.2, ls="--", color=red, connectionstyle="arc3,rad=0.35"))
    if grads:
        ax.text(T * dx / 2 + 0.6, -2.62, r"dashed: gradients flow back from every loss $L_t$ to every earlier state",
                ha="center", fontsize=9.5, color=COLORS[3])
    ax.text(T * dx / 2 + 0.6, top + 0.3 if not grads else top + 0.35,
            "the same $W_{hx}$, $W_{hh}$, $W_{yh}$ (and $b_h$, $b_y$) at every step", ha="center", fontsize=10)
    return ax


IO_PATTERNS = {  # steps, where inputs enter, where outputs leave, steps that belong to the decoder
    "many-to-many": (4, {1, 2, 3, 4}, {1, 2, 3, 4}, set()),
    "many-to-one": (4, {1, 2, 3, 4}, {4}, set()),
    "one-to-many": (4, {1}, {1, 2, 3, 4}, set()),
    "encoder-decoder": (6, {1, 2, 3}, {4, 5, 6}, {4, 5, 6}),
}


def draw_io_pattern(kind: str, ax: plt.Axes | None = None) -> plt.Axes:
    """Draw one input/output pattern of a recurrent network: 'many-to-many', 'many-to-one', 'one-to-many' or 'encoder-decoder'."""
    if kind not in IO_PATTERNS:
        raise ValueError(f"kind must be one of {list(IO_PATTERNS)}, got {kind!r}")
    T, ins, outs, decoder = IO_PATTERNS[kind]
    dx = 1.2
    ax = _canvas(ax, (0.9 * T + 0.6, 3.0), (0.4, T * dx + 0.8), (-2.1, 2.0))
    for t in range(1, T + 1):
        x = t * dx
        dec = t in decoder
        _box(ax, (x, 0), "", COLORS[2] if dec else "#f2f2f2", w=0.62, h=0.55)
        if t > 1:
            _arrow(ax, (x - dx + 0.36, 0), (x - 0.36, 0), color=COLORS[1])
        if t in ins:
            _node(ax, (x, -1.25), "$x$", COLORS[5], r=0.26, fontsize=9)
            _arrow(ax, (x, -0.97), (x, -0.32))
        elif dec:  # a decoder reads its own previous output, or a start symbol <s> at its first step
            _node(ax, (x, -1.25), r"$\hat y$" if t - 1 in outs else r"$\langle s\rangle$", "white", r=0.26, fontsize=8)
            _arrow(ax, (x, -0.97), (x, -0.32))
        if t in outs:
            _node(ax, (x, 1.25), "$y$", COLORS[4], r=0.26, fontsize=9)
            _arrow(ax, (x, 0.32), (x, 0.97))
    ax.set_title(kind, fontsize=11)
    if decoder:
        ax.text(2 * dx, -1.65, "encoder", ha="center", va="top", fontsize=9)
        ax.text(5 * dx, -1.65, "decoder", ha="center", va="top", fontsize=9, color=COLORS[2])
    return ax


def draw_parallel_scan(T: int = 8, ax: plt.Axes | None = None) -> plt.Axes:
    """Draw the Hillis-Steele scan of a linear recurrence over T steps: each round composes every block with the one `shift` steps earlier."""
    if not isinstance(T, int) or not 2 <= T <= 16:
        raise ValueError(f"T must be an integer from 2 to 16, got {T!r}")
    rounds = (T - 1).bit_length()  # ceil(log2 T)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.8 * T, 1.1 + 1.05 * rounds))
    ax.set_xlim(-1.6, T + 0.6)
    ax.set_ylim(-rounds - 0.75, 0.7)
    ax.axis("off")
    for r in range(rounds + 1):
        shift = 2 ** (r - 1) if r else 0
        label = "steps $(a_t, b_t)$" if r == 0 else f"round {r}\nshift {shift}"
        ax.text(-1.5, -r, label, ha="left", va="center", fontsize=9)
        for t in range(1, T + 1):
            first = max(1, t - 2**r + 1)  # after round r, block t covers steps first..t
            if r:
                ax.add_patch(FancyArrowPatch((t, -r + 1 - 0.27), (t, -r + 0.27), arrowstyle="-|>", mutation_scale=9,
                                             lw=0.9, color="gray"))
                if t > shift:
                    ax.add_patch(FancyArrowPatch((t - shift, -r + 1 - 0.27), (t - 0.12, -r + 0.27), arrowstyle="-|>",
                                                 mutation_scale=9, lw=1.2, color=COLORS[1]))
            done = first == 1
            ax.add_patch(FancyBboxPatch((t - 0.36, -r - 0.22), 0.72, 0.44, boxstyle="round,pad=0.02",
                                        fc=COLORS[2] if done else "#f2f2f2", ec="black", lw=0.9, alpha=0.9))
            ax.text(t, -r, str(t) if first == t else f"{first}–{t}", ha="center", va="center", fontsize=8.5)
    ax.text(T / 2 + 0.5, -rounds - 0.6, r"green: the block starts at step 1, so $h_t = A_t h_0 + B_t$ is known;"
            r" orange: compose with the block that ends shift steps earlier", ha="center", fontsize=8.5)
    return ax


def draw_stream_batches(B: int = 4, chunks: int = 3, ax: plt.Axes | None = None) -> plt.Axes:
    """Draw stateful batching for truncated BPTT: the text cut into B streams, read T characters at a time."""
    if not (isinstance(B, int) and isinstance(chunks, int) and 1 <= B <= 8 and 1 <= chunks <= 6):
        raise ValueError(f"need integers 1 <= B <= 8 and 1 <= chunks <= 6, got B={B!r}, chunks={chunks!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7.6, 1.6 + 0.55 * B))
    width = 1.6 * chunks
    ax.set_xlim(-1.3, width + 0.9)
    ax.set_ylim(-B * 0.6 - 0.6, 1.45)
    ax.axis("off")
    ax.text(-1.25, 1.0, "text", va="center", fontsize=9.5)
    for b in range(B):  # the text as one strip, cut into B contiguous pieces
        ax.add_patch(FancyBboxPatch((b * width / B, 0.8), width / B, 0.4, boxstyle="square,pad=0",
                                    fc=COLORS[b % len(COLORS)], ec="white", alpha=0.75))
        ax.text((b + 0.5) * width / B, 1.0, f"stream {b + 1}", ha="center", va="center", fontsize=8.5)
    for b in range(B):
        y = -b * 0.6 - 0.1
        ax.text(-1.25, y, f"row {b + 1} of\nevery batch", va="center", fontsize=7.5)
        for k in range(chunks):
            x0 = k * 1.6 + 0.1
            ax.add_patch(FancyBboxPatch((x0, y - 0.2), 1.2, 0.4, boxstyle="round,pad=0.02",
                                        fc=COLORS[b % len(COLORS)], ec="black", lw=0.8, alpha=0.75))
            ax.text(x0 + 0.6, y, "T chars", ha="center", va="center", fontsize=8)
            if k + 1 < chunks:
                ax.add_patch(FancyArrowPatch((x0 + 1.22, y), (x0 + 1.58, y), arrowstyle="-|>", mutation_scale=10,
                                             lw=1.2, color="black"))
    for k in range(chunks):
        ax.text(k * 1.6 + 0.7, 0.45, f"batch {k + 1}", ha="center", fontsize=9)
    ax.text(width / 2, -B * 0.6 - 0.4, r"$\rightarrow$: the hidden state $h$ is carried to the next batch "
            "(values kept, gradient cut)", ha="center", fontsize=8.5)
    return ax


def draw_ctc_alignment(path: str = "HHE-LL-LOO", ax: plt.Axes | None = None) -> plt.Axes:
    """Draw how CTC reads one label per frame ('-' is the blank): merge repeated labels, then drop the blanks."""
    if not path or any(not (c == "-" or c.isalpha() or c == " ") for c in path):
        raise ValueError(f"path must be letters, spaces and '-' (the blank), one per frame; got {path!r}")
    merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
    output = [c for c in merged if c != "-"]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.62 * len(path) + 2.6, 2.9))
    ax.set_xlim(-2.4, len(path))
    ax.set_ylim(-2.75, 0.8)
    ax.axis("off")
    rows = [("one label per frame", path, 0.0), ("merge repeats", merged, -1.3), ("drop blanks", output, -2.4)]
    for name, labels, y in rows:
        ax.text(-2.3, y, name, va="center", fontsize=9)
        x0 = (len(path) - len(labels)) / 2
        for i, c in enumerate(labels):
            blank = c == "-"
            ax.add_patch(FancyBboxPatch((x0 + i + 0.08, y - 0.3), 0.84, 0.6, boxstyle="round,pad=0.02",
                                        fc="white" if blank else COLORS[5], ec="black", lw=0.9, alpha=0.85))
            ax.text(x0 + i + 0.5, y, r"$\varnothing$" if blank else c, ha="center", va="center", fontsize=11)
    for i in range(len(path)):  # each frame to the merged label it became part of
        j = sum(1 for k in range(1, i + 1) if path[k] != path[k - 1])
        x1 = (len(path) - len(merged)) / 2 + j + 0.5
        ax.add_patch(FancyArrowPatch((i + 0.5, -0.33), (x1, -0.97), arrowstyle="-|>", mutation_scale=8, lw=0.8,
                                     color="grey"))
    kept = [j for j, c in enumerate(merged) if c != "-"]
    for i, j in enumerate(kept):  # each merged label that is not a blank to its place in the output
        x0, x1 = (len(path) - len(merged)) / 2 + j + 0.5, (len(path) - len(output)) / 2 + i + 0.5
        ax.add_patch(FancyArrowPatch((x0, -1.63), (x1, -2.07), arrowstyle="-|>", mutation_scale=8, lw=0.8,
                                     color="grey"))
    ax.text(len(path) / 2, 0.55, r"frames $t = 1, \dots, T$ (the blank $\varnothing$: no new label)", ha="center",
            fontsize=9)
    return ax


def plot_seeds(ax: plt.Axes, groups: dict[str, list[float]], color: str = COLORS[0], label: str | None = None,
               offset: float = 0.0) -> plt.Axes:
    """One row per group, top down: a dot per seed, a line from the lowest to the highest, a tick at the median."""
    for i, (name, values) in enumerate(groups.items()):
        if not values:
            raise ValueError(f"group {name!r} has no values")
        y = i + offset
        ax.plot([min(values), max(values)], [y, y], color=color, lw=2.5, alpha=0.35, solid_capstyle="round")
        ax.scatter(values, [y] * len(values), color=color, s=16, zorder=3, label=label if i == 0 else None)
        ax.plot([median(values)] * 2, [y - 0.13, y + 0.13], color=color, lw=2)
    ax.set_yticks(range(len(groups)), list(groups))
    ax.set_ylim(len(groups) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)
    return ax


def plot_band(ax: plt.Axes, curves: list[list[tuple[float, float]]], color: str = COLORS[0],
              label: str | None = None) -> plt.Axes:
    """Curves of several seeds on the same x: their median as a line, the band between their lowest and highest."""
    if not curves or len({tuple(x for x, _ in c) for c in curves}) != 1:
        raise ValueError("plot_band needs at least one curve, and every curve on the same x values")
    xs = [x for x, _ in curves[0]]
    columns = [[y for _, y in points] for points in zip(*curves)]  # the seeds' values at each x
    ax.fill_between(xs, [min(c) for c in columns], [max(c) for c in columns], color=color, alpha=0.25, lw=0)
    ax.plot(xs, [median(c) for c in columns], color=color, label=label)
    return ax


def plot_horizon_errors(ax: plt.Axes, seeds: np.ndarray, baselines: dict[str, np.ndarray], xlabel: str,
                        ylabel: str) -> plt.Axes:
    """Forecast errors against the horizon k = 1 .. K: the seeds' (S, K) median and range for the RNN, a line per baseline."""
    seeds = np.asarray(seeds)
    if seeds.ndim != 2 or any(np.shape(e) != seeds.shape[1:] for e in baselines.values()):
        raise ValueError(f"seeds must be (S, K) and every baseline (K,); got {seeds.shape} and "
                         f"{ {name: np.shape(e) for name, e in baselines.items()} }")
    k = np.arange(1, seeds.shape[1] + 1)
    ax.fill_between(k, seeds.min(0), seeds.max(0), color=COLORS[0], alpha=0.25, lw=0)
    ax.plot(k, np.median(seeds, 0), marker="o", ms=3, color=COLORS[0], label="RNN")
    for color, (name, errors) in zip(COLORS[1:], baselines.items()):
        ax.plot(k, errors, marker="o", ms=3, color=color, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, None)
    ax.legend()
    return ax


def _op(ax, xy, text, r=0.28):
    """A small white circle with an elementwise operation: ×, + or 1−."""
    ax.add_patch(Circle(xy, r, fc="white", ec="black", lw=1.1, zorder=3))
    ax.text(*xy, text, ha="center", va="center", fontsize=11, zorder=4)


def _wire(ax, points, color="black"):
    """A path through points whose last segment ends in an arrowhead."""
    for (x0, y0), (x1, y1) in zip(points[:-2], points[1:-1]):
        ax.plot([x0, x1], [y0, y1], color=color, lw=1.4, zorder=1)
    ax.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>", mutation_scale=13, lw=1.4, color=color, zorder=2))


def _line(ax, points, color="black"):
    """A path through points, without an arrowhead: a bus that feeds several gates."""
    ax.plot([p[0] for p in points], [p[1] for p in points], color=color, lw=1.4, zorder=1)


def _gated_frame(ax, title):
    """Axes and the bus that carries h_{t-1} and x_t to every gate: returns the bus's height."""
    ax = _canvas(ax, (7.4, 4.6), (-4.6, 4.9), (-3.6, 3.3))
    ax.add_patch(FancyBboxPatch((-3.6, -2.5), 7.0, 5.1, boxstyle="round,pad=0.1", fc="#fafafa", ec="gray", lw=1))
    ax.text(-3.5, 2.75, title, fontsize=10, color="gray", va="bottom")
    _node(ax, (-2.9, -3.2), "$x_t$", COLORS[5], r=0.33)
    ax.text(-4.55, -1.9, "$h_{t-1}$", fontsize=11, va="center")
    return ax


def draw_lstm_cell(ax: plt.Axes | None = None) -> plt.Axes:
    """Draw one LSTM cell: forget (f), input (i) and output (o) gates, candidate g, and the additive cell path c_{t-1} -> c_t."""
    ax = _gated_frame(ax, "LSTM cell")
    bus = -1.9
    _line(ax, [(-4.0, bus), (1.6, bus)])  # h_{t-1}, joined by x_t: every gate reads both
    _line(ax, [(-2.9, -2.87), (-2.9, bus)])
    gates = {"f": (-2.2, r"$\sigma$", COLORS[1]), "i": (-0.9, r"$\sigma$", COLORS[1]), "g": (0.3, "tanh", COLORS[0]),
             "o": (1.6, r"$\sigma$", COLORS[1])}
    for name, (x, fn, c) in gates.items():
        _wire(ax, [(x, bus), (x, -0.95)])
        _box(ax, (x, -0.6), fn, c, w=0.8, h=0.6, fontsize=10)
        ax.text(x + 0.45, -1.25, f"${name}_t$", fontsize=10)
    # the cell path along the top: keep f_t of c_{t-1}, add i_t * g_t
    ax.text(-4.55, 1.9, "$c_{t-1}$", fontsize=11, va="center")
    _wire(ax, [(-4.0, 1.9), (-2.5, 1.9)], color=COLORS[2])
    _op(ax, (-2.2, 1.9), "×")
    _wire(ax, [(-2.2, -0.3), (-2.2, 1.62)])
    _wire(ax, [(-1.92, 1.9), (-0.08, 1.9)], color=COLORS[2])
    _op(ax, (0.3, 1.9), "+")
    _op(ax, (-0.3, 0.6), "×")
    _wire(ax, [(-0.9, -0.3), (-0.9, 0.6), (-0.58, 0.6)])
    _wire(ax, [(0.3, -0.3), (0.3, 0.6), (-0.02, 0.6)])
    _wire(ax, [(-0.3, 0.88), (-0.3, 1.3), (0.3, 1.3), (0.3, 1.62)])
    _wire(ax, [(0.58, 1.9), (4.3, 1.9)], color=COLORS[2])
    ax.text(4.35, 1.9, "$c_t$", fontsize=11, va="center")
    # the output: h_t = o_t * tanh(c_t)
    _box(ax, (2.8, 1.0), "tanh", "#f2f2f2", w=0.8, h=0.5, fontsize=9.5)
    _wire(ax, [(2.8, 1.9), (2.8, 1.25)])
    _op(ax, (2.8, -0.6), "×")
    _wire(ax, [(2.8, 0.75), (2.8, -0.32)])
    _wire(ax, [(2.0, -0.6), (2.52, -0.6)])
    _wire(ax, [(2.8, -0.88), (2.8, -1.3), (4.3, -1.3)])
    ax.text(4.35, -1.3, "$h_t$", fontsize=11, va="center")
    ax.text(0.0, 2.35, r"cell path: $c_t = f_t \odot c_{t-1} + i_t \odot g_t$", fontsize=9, color=COLORS[2], ha="center")
    return ax


def draw_gru_cell(ax: plt.Axes | None = None) -> plt.Axes:
    """Draw one GRU cell: reset (r) and update (z) gates, candidate n, and h_t = (1 - z_t) n_t + z_t h_{t-1}."""
    ax = _gated_frame(ax, "GRU cell")
    bus = -1.9
    _line(ax, [(-2.9, -2.87), (-2.9, bus)])
    _line(ax, [(-4.0, bus), (1.2, bus)])
    # the state path along the top: h_{t-1} goes up the left side and is kept with weight z_t
    _wire(ax, [(-3.3, bus), (-3.3, 1.9), (-0.58, 1.9)], color=COLORS[2])
    gates = {"r": (-2.2, r"$\sigma$", COLORS[1]), "z": (-0.3, r"$\sigma$", COLORS[1])}
    for name, (x, fn, c) in gates.items():
        _wire(ax, [(x, bus), (x, -0.95)])
        _box(ax, (x, -0.6), fn, c, w=0.8, h=0.6, fontsize=10)
        ax.text(x + 0.45, -1.25, f"${name}_t$", fontsize=10)
    # candidate: n_t = tanh(W_nx x_t + b_n + r_t * (W_nh h_{t-1} + b_nh))
    _op(ax, (-1.3, -0.6), "×")
    _wire(ax, [(-1.8, -0.6), (-1.58, -0.6)])
    _wire(ax, [(-1.3, bus), (-1.3, -0.88)])
    ax.text(-1.25, -1.45, r"$W_{nh}h_{t-1}$", fontsize=8, ha="left")
    _box(ax, (1.2, 0.2), "tanh", COLORS[0], w=0.8, h=0.6, fontsize=10)
    _wire(ax, [(-1.3, -0.32), (-1.3, 0.2), (0.8, 0.2)])
    _wire(ax, [(1.2, bus), (1.2, -0.1)])
    ax.text(1.3, -1.45, r"$W_{nx}x_t$", fontsize=8, ha="left")
    ax.text(1.65, 0.55, "$n_t$", fontsize=10)
    # mix: z_t * h_{t-1} + (1 - z_t) * n_t
    _op(ax, (-0.3, 1.9), "×")
    _wire(ax, [(-0.3, -0.3), (-0.3, 1.62)])
    _op(ax, (0.45, 0.9), "1−")
    _wire(ax, [(-0.3, 0.9), (0.17, 0.9)])
    _op(ax, (1.2, 1.2), "×")
    _wire(ax, [(1.2, 0.5), (1.2, 0.92)])
    _wire(ax, [(0.73, 0.9), (0.92, 1.1)])
    _op(ax, (2.2, 1.9), "+")
    _wire(ax, [(-0.02, 1.9), (1.92, 1.9)], color=COLORS[2])
    _wire(ax, [(1.48, 1.3), (1.95, 1.75)])
    _wire(ax, [(2.48, 1.9), (4.3, 1.9)], color=COLORS[2])
    ax.text(4.35, 1.9, "$h_t$", fontsize=11, va="center")
    ax.text(0.4, 2.35, r"state path: $h_t = z_t \odot h_{t-1} + (1 - z_t) \odot n_t$", fontsize=9, color=COLORS[2], ha="center")


def plot_attention(ax: plt.Axes, alpha, src_words: list[str], out_labels: list[str], title: str = "") -> plt.Axes:
    """An attention heat map: one row per output step t, one column per input word j, shade alpha[t, j]."""
    import numpy as np  # local: the rest of the module needs no NumPy

    alpha = np.asarray(alpha, dtype=float)
    if alpha.shape != (len(out_labels), len(src_words)):
        raise ValueError(f"alpha has shape {alpha.shape}, expected (outputs, inputs) = "
                         f"({len(out_labels)}, {len(src_words)})")
    ax.imshow(alpha, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(src_words)), src_words, rotation=60, ha="right", fontsize=8.5)
    ax.set_yticks(range(len(out_labels)), out_labels, fontsize=8.5)
    ax.set_xlabel("input word $j$")
    ax.set_ylabel("output step $t$")
    ax.grid(False)
    if title:
        ax.set_title(title, fontsize=9.5, loc="left")


def draw_stacked(T: int, layers: int = 2, ax: plt.Axes | None = None) -> plt.Axes:
    """Draw a stacked RNN unrolled for T steps: layer l reads layer l-1's state h_t^(l-1); dropout sits between layers."""
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be a positive integer, got {T!r}")
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be a positive integer, got {layers!r}")
    dx, dy = 2.4, 1.9
    top = (layers + 1) * dy
    ax = _canvas(ax, (1.5 + 1.45 * (T + 1), 1.6 + 1.15 * (layers + 1)), (-0.9, T * dx + 0.9), (-0.5, top + 0.9))
    for l in range(1, layers + 1):
        _box(ax, (0, l * dy), f"$h_0^{{({l})}}$", "white", w=1.0, h=0.8, fontsize=10)
    for t in range(1, T + 1):
        x = t * dx
        _node(ax, (x, 0), f"$x_{{{t}}}$", COLORS[5])
        for l in range(1, layers + 1):
            y = l * dy
            _box(ax, (x, y), f"$h_{{{t}}}^{{({l})}}$", "#f2f2f2", w=1.0, h=0.8, fontsize=10)
            _arrow(ax, (x - dx + 0.55, y), (x - 0.55, y), f"$W_{{hh}}^{{({l})}}$", color=COLORS[1],
                   text_offset=(0.0, 0.3))
            _arrow(ax, (x, y - dy + 0.42), (x, y - 0.45), f"$W_{{hx}}^{{({l})}}$", color=COLORS[0],
                   text_offset=(0.0, -0.05))
            if l > 1:  # the connection that dropout acts on
                ax.text(x - 0.42, y - dy / 2, "dropout", fontsize=8, color=COLORS[3], ha="right", va="center")
        _node(ax, (x, top), f"$y_{{{t}}}$", COLORS[4])
        _arrow(ax, (x, layers * dy + 0.45), (x, top - 0.4), "$W_{yh}$", color=COLORS[2])
    ax.text(T * dx / 2 + 0.6, top + 0.62, "layer $l$ reads $h_t^{(l-1)}$ (with $h_t^{(0)} = x_t$); each layer has its own weights",
            ha="center", fontsize=9.5)
    return ax


def draw_bidirectional(T: int, ax: plt.Axes | None = None) -> plt.Axes:
    """Draw a bidirectional RNN unrolled for T steps: a forward and a backward chain read x_t, y_t reads both."""
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be a positive integer, got {T!r}")
    dx, s = 2.4, 0.35  # the forward row is shifted left by s, the backward row right, so that arrows pass by
    y_fwd, y_bwd, y_out = 1.9, 3.8, 5.6
    ax = _canvas(ax, (1.5 + 1.45 * (T + 2), 4.6), (-1.3, (T + 1) * dx + 1.3), (-0.5, y_out + 1.0))
    _box(ax, (-s, y_fwd), r"$\overrightarrow{h}_0$", "white", w=1.0, h=0.8, fontsize=10)
    _box(ax, ((T + 1) * dx + s, y_bwd), rf"$\overleftarrow{{h}}_{{{T + 1}}}$", "white", w=1.0, h=0.8, fontsize=10)
    for t in range(1, T + 1):
        x = t * dx
        _node(ax, (x, 0), f"$x_{{{t}}}$", COLORS[5])
        _box(ax, (x - s, y_fwd), rf"$\overrightarrow{{h}}_{{{t}}}$", "#f2f2f2", w=1.0, h=0.8, fontsize=10)
        _box(ax, (x + s, y_bwd), rf"$\overleftarrow{{h}}_{{{t}}}$", "#e6eef7", w=1.0, h=0.8, fontsize=10)
        _node(ax, (x, y_out), f"$y_{{{t}}}$", COLORS[4])
        _arrow(ax, (x - dx - s + 0.55, y_fwd), (x - s - 0.55, y_fwd), color=COLORS[1])
        _arrow(ax, (x + dx + s - 0.55, y_bwd), (x + s + 0.55, y_bwd), color=COLORS[3])
        _arrow(ax, (x - 0.15, 0.35), (x - s, y_fwd - 0.45), color=COLORS[0])
        _arrow(ax, (x + 0.15, 0.35), (x + s, y_bwd - 0.45), color=COLORS[0])
        _arrow(ax, (x - s, y_fwd + 0.45), (x - 0.15, y_out - 0.37), color=COLORS[2])
        _arrow(ax, (x + s, y_bwd + 0.45), (x + 0.15, y_out - 0.37), color=COLORS[2])
    ax.text(dx / 2 - s, y_fwd - 0.25, "forward", fontsize=9, color=COLORS[1], ha="center", va="top")
    ax.text(T * dx + dx / 2 + s, y_bwd - 0.25, "backward", fontsize=9, color=COLORS[3], ha="center", va="top")
    ax.text((T + 1) * dx / 2, y_out + 0.7, r"$y_t$ reads $\overrightarrow{h}_t$ (from $x_1, \dots, x_t$) and "
            r"$\overleftarrow{h}_t$ (from $x_t, \dots, x_T$)", ha="center", fontsize=9.5)
    return ax
