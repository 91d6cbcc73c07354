"""Tests of rnnbook.plots."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from rnnbook.plots import draw_parallel_scan


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
