"""Tests of rnnbook.plots."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.patches import Circle

from rnnbook.plots import draw_parallel_scan
from rnnbook.plots import IO_PATTERNS, draw_io_pattern, draw_unrolled


@pytest.mark.parametrize("T,rounds", [(2, 1), (5, 3), (8, 3), (9, 4)])
def test_draw_parallel_scan_draws_every_block_of_every_round(T, rounds):
    ax = draw_parallel_scan(T)
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == T * (rounds + 1)
    combines = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    # every round has a vertical arrow per step and a combining arrow per step after the first `shift` ones
    assert len(combines) == sum(T + (T - 2 ** (r - 1)) for r in range(1, rounds + 1))
    labels = {t.get_text() for t in ax.texts}
    assert f"1–{T}" in labels  # the last block covers every step
    plt.close(ax.figure)


@pytest.mark.parametrize("T", [1, 17, 4.0])
def test_draw_parallel_scan_rejects_bad_lengths(T):
    with pytest.raises(ValueError, match="T must be"):
        draw_parallel_scan(T)


@pytest.mark.parametrize("T", [1, 3, 7])
@pytest.mark.parametrize("grads", [False, True])
def test_draw_unrolled_draws_one_column_per_step_with_the_same_weights(T, grads):
    ax = draw_unrolled(T, grads=grads)
    texts = [t.get_text() for t in ax.texts]
    assert sum(isinstance(p, Circle) for p in ax.patches) == (3 if grads else 2) * T  # x_t, y_t (and L_t)
    for w in ("$W_{hx}$", "$W_{hh}$", "$W_{yh}$"):
        assert texts.count(w) == T  # the same matrix at every step
    assert f"$h_{{{T}}}$" in texts and f"$h_{{{T + 1}}}$" not in texts
    plt.close(ax.figure)


@pytest.mark.parametrize("T", [0, -2, 2.5, "3"])
def test_draw_unrolled_rejects_bad_lengths(T):
    with pytest.raises(ValueError, match="T must be a positive integer"):
        draw_unrolled(T)


@pytest.mark.parametrize("kind", list(IO_PATTERNS))
def test_draw_io_pattern_draws_inputs_and_outputs_where_the_pattern_has_them(kind):
    steps, ins, outs, decoder = IO_PATTERNS[kind]
    ax = draw_io_pattern(kind)
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("$x$") == len(ins) and texts.count("$y$") == len(outs)
    assert sum(isinstance(p, FancyBboxPatch) for p in ax.patches) == steps
    assert ax.get_title() == kind
    plt.close(ax.figure)


def test_draw_io_pattern_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="kind must be one of"):
        draw_io_pattern("many-to-some")


def test_plot_seeds_and_plot_band_show_the_spread_of_the_seeds():
    import matplotlib.pyplot as plt
    from rnnbook.plots import plot_band, plot_seeds
    fig, ax = plt.subplots()
    plot_seeds(ax, {"a": [1.0, 3.0, 2.0], "b": [5.0]}, label="val")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"] and ax.get_ylim() == (1.5, -0.5)
    spread, median = ax.lines[0], ax.lines[1]
    assert list(spread.get_xdata()) == [1.0, 3.0] and list(median.get_xdata()) == [2.0, 2.0]
    with pytest.raises(ValueError, match="no values"):
        plot_seeds(ax, {"c": []})
    plot_band(ax, [[(0, 1.0), (1, 4.0)], [(0, 3.0), (1, 2.0)], [(0, 2.0), (1, 3.0)]], label="train")
    assert list(ax.lines[-1].get_ydata()) == [2.0, 3.0]
    with pytest.raises(ValueError, match="same x"):
        plot_band(ax, [[(0, 1.0)], [(1, 1.0)]])
    plt.close(fig)


def test_plot_horizon_errors_draws_the_seeds_band_their_median_and_each_baseline():
    import matplotlib.pyplot as plt
    import numpy as np
    from rnnbook.plots import plot_horizon_errors
    fig, ax = plt.subplots()
    seeds = np.array([[1.0, 2.0, 3.0], [3.0, 2.5, 2.0], [2.0, 4.0, 1.0]])
    plot_horizon_errors(ax, seeds, {"naive": np.array([2.5, 3.0, 3.5]), "drift": np.array([1.0, 1.0, 1.0])}, "k", "error")
    rnn, naive, drift = ax.lines
    assert list(rnn.get_xdata()) == [1, 2, 3] and list(rnn.get_ydata()) == [2.0, 2.5, 2.0]  # the median of each column
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == 1.0 and band[:, 1].max() == 4.0  # from the lowest seed to the highest
    assert list(naive.get_ydata()) == [2.5, 3.0, 3.5] and [t.get_text() for t in ax.get_legend().get_texts()] == ["RNN", "naive", "drift"]
    assert ax.get_ylim()[0] == 0 and ax.get_xlabel() == "k"
    with pytest.raises(ValueError, match="every baseline"):
        plot_horizon_errors(ax, seeds, {"naive": np.ones(4)}, "k", "error")
    plt.close(fig)


@pytest.mark.parametrize("draw,gates", [("draw_lstm_cell", ["f_t", "i_t", "g_t", "o_t"]), ("draw_gru_cell", ["r_t", "z_t", "n_t"])])
def test_gated_cells_label_every_gate_and_both_ends_of_the_state_path(draw, gates):
    import rnnbook.plots as plots

    fig, ax = plt.subplots()
    getattr(plots, draw)(ax)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert all(f"${g}$" in texts for g in gates), texts
    state = "c" if "lstm" in draw else "h"
    assert f"${state}_{{t-1}}$" in texts and f"${state}_t$" in texts and "$x_t$" in texts
    assert texts.count("×") >= 3 and "+" in texts
    plt.close(fig)
