"""The model shipped with the package, trained with `python -m rnnbook.train` on Shakespeare's plays."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from rnnbook.checkpoint import load_checkpoint
from rnnbook.data import CharVocab
from rnnbook.models import CharRNN

PRETRAINED = Path(str(resources.files("rnnbook") / "weights" / "shakespeare.safetensors"))


def load_pretrained() -> tuple[CharRNN, CharVocab]:
    """The shipped model (in eval mode) and its vocabulary; its metadata: `load_checkpoint(PRETRAINED)[2]`."""
    model, vocab, _ = load_checkpoint(PRETRAINED)
    return model, vocab
