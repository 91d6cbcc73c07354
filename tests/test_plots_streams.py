"""Tests of the stream-batching diagram of chapter 5."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from rnnbook.plots import draw_stream_batches


def test_draws_one_box_per_stream_and_chunk():
    ax = draw_stream_batches(B=3, chunks=2)
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("T chars") == 6 and "stream 3" in texts and "batch 2" in texts
    plt.close("all")


@pytest.mark.parametrize("B, chunks", [(0, 2), (9, 2), (2, 0), (2.5, 2)])
def test_rejects_bad_sizes(B, chunks):
    with pytest.raises(ValueError):
        draw_stream_batches(B, chunks)
