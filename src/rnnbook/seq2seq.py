"""Chapter 7: a translation task (English number words to Chinese numerals), encoder–decoders with and without
additive attention, greedy decoding and beam search."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ------------------------------------------------------------------------------------------------ the task

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
DIGITS = "零一二三四五六七八九"
MAX_VALUE = 999_999  # the task's numbers: 1 to MAX_VALUE

SRC_WORDS = ["<pad>"] + ONES + TENS[2:] + ["hundred", "thousand", "and"]  # the input vocabulary, words
TGT_CHARS = ["<pad>", "<bos>", "<eos>"] + list(DIGITS + "十百千万")  # the output vocabulary, characters
PAD, BOS, EOS = 0, 1, 2  # PAD in both vocabularies; BOS and EOS in the output one


def english_words(n: int) -> str:
    """n (0..999,999) in British English words: 'twelve thousand three hundred and five', 'forty-two'."""
    if not isinstance(n, (int, np.integer)) or not 0 <= n <= MAX_VALUE:
        raise ValueError(f"need an integer from 0 to {MAX_VALUE}, got {n!r}")
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("-" + ONES[n % 10] if n % 10 else "")
    if n < 1000:
        return ONES[n // 100] + " hundred" + (" and " + english_words(n % 100) if n % 100 else "")
    high, low = divmod(n, 1000)
    tail = "" if low == 0 else (" and " if low < 100 else " ") + english_words(low)
    return english_words(high) + " thousand" + tail


def _group(n: int) -> str:
    """A number 1..9999 in Chinese, every 十 with its digit (一十): '一千零一十五' for 1015."""
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            zero = bool(out)  # a zero after a non-zero digit; written only if a non-zero digit follows
        else:
            out += ("零" if zero else "") + DIGITS[d] + unit
            zero = False
    return out


def chinese_numeral(n: int) -> str:
    """n (0..999,999) in Chinese numerals, grouped by 万 (10^4): 零 marks skipped places, and 十 drops its 一 only
    at the start of the number (十五, 十万零五百, but 一百一十)."""
    if not isinstance(n, (int, np.integer)) or not 0 <= n <= MAX_VALUE:
        raise ValueError(f"need an integer from 0 to {MAX_VALUE}, got {n!r}")
    if n == 0:
        return "零"
    high, low = divmod(int(n), 10_000)
    out = (_group(high) + "万" if high else "") + ("零" if high and 0 < low < 1000 else "") + (_group(low) if low else "")
    return out[1:] if out.startswith("一十") else out


def src_ids(text: str) -> list[int]:
    """The word ids of an English number ('forty-two' is two words, forty and two)."""
    words = text.replace("-", " ").split()
    unknown = [w for w in words if w not in SRC_WORDS[1:]]
    if not words or unknown:
        raise ValueError(f"not an English number the task knows: {text!r}")
    return [SRC_WORDS.index(w) for w in words]


def tgt_ids(text: str) -> list[int]:
    """The character ids of a Chinese numeral, without BOS or EOS."""
    if not text or any(c not in TGT_CHARS[3:] for c in text):
        raise ValueError(f"not a Chinese numeral the task knows: {text!r}")
    return [TGT_CHARS.index(c) for c in text]


def tgt_text(ids: Sequence[int]) -> str:
    """A Chinese numeral from output ids, read up to the first EOS (PAD and BOS skipped)."""
    out = []
    for i in ids:
        if i == EOS:
            break
        if i > EOS:
            out.append(TGT_CHARS[i])
    return "".join(out)


def split_values(sizes: Sequence[int], seed: int = 0, zero: float = 0.3) -> list[list[int]]:
    """Disjoint lists of distinct numbers, one per size: a number of digits (1 to 6) uniformly, then the
    digits at random, each after the first 0 with probability `zero` (so that 零 is frequent)."""
    if any(s < 1 for s in sizes) or sum(sizes) > 200_000:
        raise ValueError(f"need sizes >= 1 and at most 200000 numbers in all, got {list(sizes)}")
    rng = np.random.default_rng(seed)
    seen: set[int] = set()
    values: list[int] = []
    while len(values) < sum(sizes):
        d = int(rng.integers(1, 7))
        digits = [int(rng.integers(1, 10))] + [0 if rng.random() < zero else int(rng.integers(1, 10))
                                               for _ in range(d - 1)]
        n = int("".join(map(str, digits)))
        if n not in seen:
            seen.add(n)
            values.append(n)
    values = [values[i] for i in rng.permutation(len(values))]  # short numbers are drawn early: spread them
    cuts = np.cumsum([0, *sizes])
    return [values[a:b] for a, b in zip(cuts[:-1], cuts[1:])]


def batch(values: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded tensors for numbers: source ids (B, S), source lengths (B,), decoder inputs BOS z_1 ... z_T and
    targets z_1 ... z_T EOS (B, T + 1), padded with PAD."""
    src = [src_ids(english_words(n)) for n in values]
    tgt = [tgt_ids(chinese_numeral(n)) for n in values]
    S, T = max(map(len, src)), max(map(len, tgt)) + 1
    x = torch.tensor([s + [PAD] * (S - len(s)) for s in src])
    z_in = torch.tensor([[BOS] + t + [PAD] * (T - 1 - len(t)) for t in tgt])
    z_out = torch.tensor([t + [EOS] + [PAD] * (T - 1 - len(t)) for t in tgt])
    return x, torch.tensor([len(s) for s in src]), z_in, z_out


# ---------------------------------------------------------------------------------------------- the models


class AdditiveAttention(nn.Module):
    """Bahdanau attention: scores e_j = v^T tanh(W_as s + W_ah h_j), weights softmax(e), context sum_j alpha_j h_j."""

    def __init__(self, s_size: int, h_size: int, a_size: int):
        super().__init__()
        self.W_as = nn.Linear(s_size, a_size, bias=False)
        self.W_ah = nn.Linear(h_size, a_size)
        self.v = nn.Linear(a_size, 1, bias=False)

    def forward(self, s: torch.Tensor, h: torch.Tensor, Wh: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Context (B, h_size) and weights (B, S) for decoder states s (B, s_size), encoder states h (B, S, h_size),
        their projections Wh = W_ah h (B, S, a_size), computed once per sequence, and mask (B, S), True on words."""
        e = self.v(torch.tanh(self.W_as(s)[:, None] + Wh)).squeeze(-1)  # (B, S)
        alpha = e.masked_fill(~mask, float("-inf")).softmax(-1)
        return (alpha[:, :, None] * h).sum(1), alpha


class Seq2Seq(nn.Module):
    """A bidirectional GRU encoder and a GRU decoder, with additive attention or with the encoder's last states as
    its only view of the input (the context vector)."""

    def __init__(self, attention: bool, H: int = 48, E: int = 32, V_src: int = len(SRC_WORDS),
                 V_tgt: int = len(TGT_CHARS)):
        super().__init__()
        self.attention, self.H = attention, H
        self.src_emb = nn.Embedding(V_src, E, padding_idx=PAD)
        self.encoder = nn.GRU(E, H, batch_first=True, bidirectional=True)
        self.init = nn.Linear(2 * H, H)  # s_0 = tanh(W (h_S forward, h_1 backward))
        self.tgt_emb = nn.Embedding(V_tgt, E)
        self.attend = AdditiveAttention(H, 2 * H, H) if attention else None
        self.decoder = nn.GRUCell(E + (2 * H if attention else 0), H)
        self.out = nn.Linear(H + (2 * H if attention else 0), V_tgt)

    def encode(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple:
        """The decoder's starting state: (s_0, encoder states h (B, S, 2H), W_ah h, mask)."""
        packed = nn.utils.rnn.pack_padded_sequence(self.src_emb(x), lengths, batch_first=True, enforce_sorted=False)
        out, last = self.encoder(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        s0 = torch.tanh(self.init(torch.cat([last[0], last[1]], -1)))
        Wh = self.attend.W_ah(h) if self.attention else None
        return s0, h, Wh, x != PAD

    def step(self, state: tuple, z: torch.Tensor) -> tuple[torch.Tensor, tuple, torch.Tensor | None]:
        """One decoder step from the previous tokens z (B,): logits y_t (B, V), the new state, attention weights."""
        s, h, Wh, mask = state
        inp, alpha = self.tgt_emb(z), None
        if self.attention:
            c, alpha = self.attend(s, h, Wh, mask)  # attends with s_{t-1}
            inp = torch.cat([inp, c], -1)
        s = self.decoder(inp, s)
        y = self.out(torch.cat([s, c], -1) if self.attention else s)
        return y, (s, h, Wh, mask), alpha

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, z_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: logits (B, T, V) for decoder inputs z_in (B, T), and attention weights (B, T, S) (zeros
        without attention)."""
        state = self.encode(x, lengths)
        ys, alphas = [], []
        for t in range(z_in.shape[1]):
            y, state, alpha = self.step(state, z_in[:, t])
            ys.append(y)
            alphas.append(alpha if alpha is not None else torch.zeros(x.shape))
        return torch.stack(ys, 1), torch.stack(alphas, 1)


def seq_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per output token, PAD positions ignored."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD)


@torch.no_grad()
def greedy_decode(model: Seq2Seq, x: torch.Tensor, lengths: torch.Tensor, max_len: int = 16
                  ) -> tuple[list[list[int]], torch.Tensor]:
    """Free-running decoding of a batch, the most likely token at each step: the ids up to EOS (EOS excluded) and
    the attention weights (B, max_len, S)."""
    state = model.encode(x, lengths)
    z = torch.full((x.shape[0],), BOS)
    outs, alphas = [], []
    for _ in range(max_len):
        y, state, alpha = model.step(state, z)
        z = y.argmax(-1)
        outs.append(z)
        alphas.append(alpha if alpha is not None else torch.zeros(x.shape))
    ids = torch.stack(outs, 1).tolist()
    return [row[:row.index(EOS)] if EOS in row else row for row in ids], torch.stack(alphas, 1)


@torch.no_grad()
def sequence_logprob(model: Seq2Seq, x: torch.Tensor, lengths: torch.Tensor, outputs: list[list[int]]) -> torch.Tensor:
    """The model's log-probability log p(z_1 ... z_T EOS | x) of each output (token ids without BOS and EOS), (B,)."""
    T = max(map(len, outputs)) + 1
    z_in = torch.tensor([[BOS] + o + [PAD] * (T - 1 - len(o)) for o in outputs])
    z_out = torch.tensor([o + [EOS] + [PAD] * (T - 1 - len(o)) for o in outputs])
    logp = model(x, lengths, z_in)[0].log_softmax(-1).gather(-1, z_out[..., None]).squeeze(-1)
    return (logp * (z_out != PAD)).sum(1)


def decoder_step(model: Seq2Seq, x: torch.Tensor, lengths: torch.Tensor) -> tuple[Callable, tuple]:
    """A `step(state, token) -> (log_probs, new_state)` for `beam_search`, and the start state, for one input."""
    if x.shape[0] != 1:
        raise ValueError(f"decoder_step decodes one input at a time, got a batch of {x.shape[0]}")

    @torch.no_grad()
    def step(state: tuple, token: int) -> tuple[np.ndarray, tuple]:
        y, new_state, _ = model.step(state, torch.tensor([token]))
        return y[0].log_softmax(-1).numpy(), new_state

    with torch.no_grad():
        return step, model.encode(x, lengths)


# ---------------------------------------------------------------------------------------------- beam search


def beam_search(step: Callable, state, bos: int, eos: int, beam_size: int, max_len: int
                ) -> list[tuple[list[int], float]]:
    """Up to beam_size hypotheses, best first: the token ids after bos, ending with eos (or max_len ids if never
    ended), with their summed log-probabilities; step(state, token) -> (log_probs, new_state) scores one hypothesis."""
    if not isinstance(beam_size, int) or beam_size < 1 or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"need beam_size >= 1 and max_len >= 1, got beam_size={beam_size!r}, max_len={max_len!r}")
    if bos < 0 or eos < 0:
        raise ValueError(f"bos and eos must be token ids (>= 0), got bos={bos}, eos={eos}")
    alive = [([], 0.0, state)]  # (tokens after bos, summed log-probability, state before the next token)
    finished: list[tuple[list[int], float]] = []
    for t in range(max_len):
        candidates = []
        for tokens, score, st in alive:
            log_probs, new_st = step(st, tokens[-1] if tokens else bos)  # step's own errors are its own
            log_probs = np.asarray(log_probs, dtype=np.float64)
            if log_probs.ndim != 1 or not max(bos, eos) < len(log_probs):
                raise ValueError(f"step must return log-probabilities of V > max(bos, eos) tokens (bos={bos}, "
                                 f"eos={eos}), got shape {log_probs.shape}")
            for k in np.argsort(-log_probs, kind="stable")[:beam_size]:  # no other extension can make the beam
                candidates.append((tokens + [int(k)], score + float(log_probs[k]), new_st))
        candidates.sort(key=lambda c: -c[1])
        alive = []
        for tokens, score, st in candidates[:beam_size]:
            if tokens[-1] == eos:
                finished.append((tokens, score))
            else:
                alive.append((tokens, score, st))
        finished.sort(key=lambda f: -f[1])
        if not alive or (len(finished) >= beam_size and finished[beam_size - 1][1] >= alive[0][1]):
            break  # log-probabilities only fall: no live hypothesis can still enter the best beam_size
    results = finished + [(tokens, score) for tokens, score, _ in alive if len(tokens) == max_len]
    return sorted(results, key=lambda r: -r[1])[:beam_size]


# ------------------------------------------------------------------------------------- training, evaluation

LENGTH_BINS = ((1, 4), (5, 6), (7, 8), (9, 11))  # input lengths in words, for accuracy against length


def train_seq2seq(attention: bool, train_values: Sequence[int], seed: int, steps: int = 200, batch_size: int = 64,
                  lr: float = 0.02, H: int = 48) -> Seq2Seq:
    """A Seq2Seq trained from seed by teacher forcing: Adam on shuffled batches of the training numbers."""
    from rnnbook.apps import fit

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(train_values)) for _ in range(steps * batch_size // len(train_values) + 1)])
    batches = [batch([train_values[i] for i in order[k * batch_size:(k + 1) * batch_size]]) for k in range(steps)]
    model = Seq2Seq(attention, H=H)

    def batch_loss(step: int) -> torch.Tensor:
        """Teacher-forced cross-entropy of one batch."""
        x, lengths, z_in, z_out = batches[step]
        return seq_loss(model(x, lengths, z_in)[0], z_out)

    fit(model, batch_loss, steps, lr, desc=f"{'with' if attention else 'without'} attention, seed {seed}")
    return model


def accuracy_by_length(correct: Sequence[bool], lengths: Sequence[int]) -> dict[tuple[int, int], float]:
    """Exact-match accuracy in each bin of LENGTH_BINS, {(shortest, longest): accuracy}."""
    c, L = np.asarray(correct, dtype=float), np.asarray(lengths)
    return {(lo, hi): float(c[(L >= lo) & (L <= hi)].mean()) for lo, hi in LENGTH_BINS if ((L >= lo) & (L <= hi)).any()}


@torch.no_grad()
def free_running_loss(model: Seq2Seq, x: torch.Tensor, lengths: torch.Tensor, z_out: torch.Tensor) -> float:
    """Cross-entropy per target token when the decoder is fed its own previous (greedy) outputs instead of the
    true ones: the loss it is trained on, measured under the conditions of use."""
    state = model.encode(x, lengths)
    z, losses = torch.full((x.shape[0],), BOS), []
    for t in range(z_out.shape[1]):
        y, state, _ = model.step(state, z)
        losses.append(F.cross_entropy(y, z_out[:, t], ignore_index=PAD, reduction="none"))
        z = y.argmax(-1)
    return (torch.stack(losses, 1).sum() / (z_out != PAD).sum()).item()


GLOSS = {"零": "líng 0", "一": "yī 1", "二": "èr 2", "三": "sān 3", "四": "sì 4", "五": "wǔ 5", "六": "liù 6",
         "七": "qī 7", "八": "bā 8", "九": "jiǔ 9", "十": "shí 10", "百": "bǎi 100", "千": "qiān 1000",
         "万": "wàn 10⁴", "<eos>": "<eos>"}  # pinyin and value: figure labels that need no Chinese font
