"""Chapter 7's task, models and beam search."""

import itertools

import numpy as np
import pytest
import torch

from rnnbook.seq2seq import (BOS, EOS, MAX_VALUE, PAD, SRC_WORDS, TGT_CHARS, AdditiveAttention, Seq2Seq, batch,
                             GLOSS, beam_search, chinese_numeral, decoder_step, english_words, free_running_loss,
                             greedy_decode,
                             sequence_logprob, split_values, src_ids, tgt_ids, tgt_text)

# ---------------------------------------------------------------------------------------------- the task

CHINESE = {  # the convention: 十 without 一 only at the start of the number; 零 once for each run of skipped places
    0: "零", 1: "一", 7: "七", 10: "十", 11: "十一", 15: "十五", 20: "二十", 42: "四十二", 99: "九十九", 100: "一百",
    101: "一百零一", 110: "一百一十", 115: "一百一十五", 200: "二百", 999: "九百九十九", 1000: "一千", 1001: "一千零一",
    1005: "一千零五", 1010: "一千零一十", 1015: "一千零一十五", 1100: "一千一百", 1234: "一千二百三十四",
    2030: "二千零三十", 9009: "九千零九", 10000: "一万", 10001: "一万零一", 10010: "一万零一十", 10100: "一万零一百",
    11000: "一万一千", 12305: "一万二千三百零五", 20300: "二万零三百", 99999: "九万九千九百九十九",
    100000: "十万", 100500: "十万零五百", 101000: "十万一千", 100100: "十万零一百", 110000: "十一万",
    150000: "十五万", 200000: "二十万", 210000: "二十一万", 305007: "三十万五千零七", 500050: "五十万零五十",
    999999: "九十九万九千九百九十九", 1000 * 1000 - 1: "九十九万九千九百九十九",
}

ENGLISH = {
    0: "zero", 5: "five", 13: "thirteen", 20: "twenty", 42: "forty-two", 100: "one hundred",
    105: "one hundred and five", 110: "one hundred and ten", 1000: "one thousand", 1005: "one thousand and five",
    1100: "one thousand one hundred", 12305: "twelve thousand three hundred and five",
    20300: "twenty thousand three hundred", 100500: "one hundred thousand five hundred",
    110000: "one hundred and ten thousand", 999999: "nine hundred and ninety-nine thousand nine hundred and ninety-nine",
}


@pytest.mark.parametrize("n", sorted(CHINESE))
def test_chinese_numerals_of_known_numbers(n):
    assert chinese_numeral(n) == CHINESE[n]


@pytest.mark.parametrize("n", sorted(ENGLISH))
def test_english_words_of_known_numbers(n):
    assert english_words(n) == ENGLISH[n]


def parse_chinese(text: str) -> int:
    """An independent reader of Chinese numerals (zeros are place holders and add nothing)."""
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")}
    total, section, digit = 0, 0, 0
    for c in text:
        if c in digits:
            digit = digits[c]
        elif c == "万":
            total, section, digit = (section + digit) * 10_000, 0, 0
        else:
            section += (digit or 1) * {"十": 10, "百": 100, "千": 1000}[c]  # 十 alone is 一十
            digit = 0
    return total + section + digit


def parse_english(text: str) -> int:
    """An independent reader of English number words."""
    units = {w: i for i, w in enumerate(SRC_WORDS[1:21])} | {w: 10 * i for i, w in enumerate(SRC_WORDS[21:29], 2)}
    total, current = 0, 0
    for w in text.replace("-", " ").split():
        if w in units:
            current += units[w]
        elif w == "hundred":
            current *= 100
        elif w == "thousand":
            total, current = current * 1000, 0
    return total + current


NUMBERS = list(range(30_000)) + sorted(np.random.default_rng(0).choice(np.arange(30_000, MAX_VALUE + 1), 30_000,
                                                                       replace=False).tolist()) + [MAX_VALUE]


def test_every_number_reads_back_in_both_languages():  # all up to 30,000 and a sample of the rest
    for n in NUMBERS:
        zh, en = chinese_numeral(n), english_words(n)
        assert parse_chinese(zh) == n and parse_english(en) == n, n


def test_chinese_rules_hold_for_every_number():
    for n in NUMBERS[1:]:
        zh = chinese_numeral(n)
        assert "零零" not in zh and not zh.endswith("零"), n  # one 零 per run of zeros, none at the end
        assert zh.startswith("十") == (10 <= n < 20 or 100_000 <= n < 200_000), n  # 十 alone only at the start
        assert "一十" not in zh[:2], n
        assert zh.count("万") == (n >= 10_000), n
        if n >= 10_000:
            low = n % 10_000
            assert zh.endswith("万") == (low == 0) and ("万零" in zh) == (0 < low < 1000), n


def test_english_and_is_british():
    assert sum(" and " in english_words(n) for n in range(1, 100)) == 0
    assert all(" and " in english_words(n) for n in (101, 1001, 1099, 100099, 200010))
    assert " and " not in english_words(1100) and " and " not in english_words(300000)


@pytest.mark.parametrize("bad", [-1, MAX_VALUE + 1, 3.0, "7", None])
def test_converters_reject_bad_numbers(bad):
    with pytest.raises(ValueError, match="integer from 0"):
        chinese_numeral(bad)
    with pytest.raises(ValueError, match="integer from 0"):
        english_words(bad)


def test_ids_round_trip_and_reject_unknown_text():
    assert [SRC_WORDS[i] for i in src_ids("forty-two thousand and one")] == ["forty", "two", "thousand", "and", "one"]
    assert tgt_text(tgt_ids("十万零五百") + [EOS, 5, 6]) == "十万零五百"
    assert tgt_text([BOS, PAD] + tgt_ids("一")) == "一"
    for bad in ("", "forty-twelvety", "one million"):
        with pytest.raises(ValueError, match="English number"):
            src_ids(bad)
    for bad in ("", "百a", "亿"):
        with pytest.raises(ValueError, match="Chinese numeral"):
            tgt_ids(bad)


def test_splits_are_disjoint_distinct_and_varied():
    train, val, test = split_values([3000, 300, 600], seed=0)
    assert (len(train), len(val), len(test)) == (3000, 300, 600)
    assert len(set(train) | set(val) | set(test)) == 3900
    assert all(1 <= n <= MAX_VALUE for n in train + val + test)
    assert {len(str(n)) for n in test} >= set(range(2, 7))
    assert sum("零" in chinese_numeral(n) for n in train) > 500
    assert split_values([10, 10], seed=1) == split_values([10, 10], seed=1) != split_values([10, 10], seed=2)
    with pytest.raises(ValueError, match="sizes"):
        split_values([0, 10])


def test_batch_pads_and_shifts():
    x, lengths, z_in, z_out = batch([5, 12305])
    assert lengths.tolist() == [1, 6] and x.shape == (2, 6) and (x[0, 1:] == PAD).all()
    assert tgt_text(z_out[1].tolist()) == "一万二千三百零五" and z_out[1, 8] == EOS
    assert z_in[:, 0].tolist() == [BOS, BOS] and (z_in[1, 1:] == z_out[1, :-1]).all()
    assert z_out[0, :2].tolist() == [TGT_CHARS.index("五"), EOS] and (z_out[0, 2:] == PAD).all()


# ---------------------------------------------------------------------------------------------- the models


def test_additive_attention_matches_its_equations():
    torch.manual_seed(0)
    att = AdditiveAttention(3, 4, 5)
    s, h = torch.randn(2, 3), torch.randn(2, 6, 4)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    c, alpha = att(s, h, att.W_ah(h), mask)
    for b in range(2):
        S = int(mask[b].sum())
        e = torch.stack([att.v.weight[0] @ torch.tanh(att.W_as.weight @ s[b] + att.W_ah.weight @ h[b, j] + att.W_ah.bias)
                         for j in range(S)])
        a = e.softmax(0)
        torch.testing.assert_close(alpha[b, :S], a)
        torch.testing.assert_close(c[b], (a[:, None] * h[b, :S]).sum(0))
    assert (alpha[1, 4:] == 0).all() and torch.allclose(alpha.sum(1), torch.ones(2))


@pytest.mark.parametrize("attention", [False, True])
def test_padding_does_not_change_the_output(attention):
    torch.manual_seed(0)
    model = Seq2Seq(attention, H=8, E=4).eval()
    x, lengths, z_in, z_out = batch([5, 123456])
    alone = batch([5])
    with torch.no_grad():
        y_batch, a_batch = model(x, lengths, z_in)
        y_alone, a_alone = model(*alone[:3])
    torch.testing.assert_close(y_batch[0, :2], y_alone[0])
    if attention:
        torch.testing.assert_close(a_batch[0, :2, :1], a_alone[0])
        assert (a_batch[0, :, 1:] == 0).all()


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_decoding_and_scores_agree(attention):
    torch.manual_seed(1)
    model = Seq2Seq(attention, H=8, E=4).eval()
    values = [7, 1005, 120034]
    x, lengths, _, _ = batch(values)
    outs, _ = greedy_decode(model, x, lengths, max_len=6)
    scores = sequence_logprob(model, x, lengths, [o if len(o) < 6 else o[:5] for o in outs])
    for i in range(3):
        step, state = decoder_step(model, x[i:i + 1], lengths[i:i + 1])
        (best, score), = beam_search(step, state, BOS, EOS, 1, 6)
        assert (best[:-1] if best[-1] == EOS else best) == outs[i]
        if best[-1] == EOS:
            assert abs(score - scores[i].item()) < 1e-4
    with pytest.raises(ValueError, match="one input"):
        decoder_step(model, x, lengths)


# --------------------------------------------------------------------------------------------- beam search


def tiny_model(V: int, seed: int, H: int = 3):
    """A random tanh RNN over V tokens: step(h, token) -> (log-probabilities, new h)."""
    rng = np.random.default_rng(seed)
    E, W, U = rng.normal(0, 1.5, (V, H)), rng.normal(0, 1.5, (H, H)), rng.normal(0, 2.0, (V, H))

    def step(h, token):
        h = np.tanh(W @ h + E[token])
        y = U @ h
        return y - np.log(np.exp(y - y.max()).sum()) - y.max(), h

    return step, np.zeros(H)


def exhaustive(step, state, bos, eos, V, max_len):
    """Every complete hypothesis (ends with eos, or has max_len tokens) with its log-probability, best first."""
    out = []
    for L in range(1, max_len + 1):
        for tokens in itertools.product(range(V), repeat=L):
            if eos in tokens[:-1] or (L < max_len and tokens[-1] != eos):
                continue
            h, score, prev = state, 0.0, bos
            for tok in tokens:
                logp, h = step(h, prev)
                score, prev = score + logp[tok], tok
            out.append((list(tokens), score))
    return sorted(out, key=lambda r: -r[1])


def greedy(step, state, bos, eos, max_len):
    tokens, score, prev = [], 0.0, bos
    while len(tokens) < max_len:
        logp, state = step(state, prev)
        prev = int(np.argmax(logp))
        tokens.append(prev)
        score += logp[prev]
        if prev == eos:
            break
    return tokens, score


def plain_beam(step, state, bos, eos, k, max_len):
    """The textbook beam search, slowly: extend every live hypothesis by every token, keep the best k of all; those
    that end leave the beam for the finished list; at max_len the live ones join it."""
    alive, finished = [([], 0.0, state)], []
    for _ in range(max_len):
        if not alive:
            break
        cands = []
        for tokens, score, h in alive:
            logp, h2 = step(h, tokens[-1] if tokens else bos)
            cands += [(tokens + [v], score + logp[v], h2) for v in range(len(logp))]
        best = sorted(cands, key=lambda c: -c[1])[:k]
        finished += [(t, s) for t, s, _ in best if t[-1] == eos]
        alive = [c for c in best if c[0][-1] != eos]
    return sorted(finished + [(t, s) for t, s, _ in alive], key=lambda r: -r[1])[:k]


@pytest.mark.parametrize("seed", range(6))
def test_beam_search_keeps_the_best_k_at_every_step(seed):
    V, max_len = 5, 6
    step, state = tiny_model(V, 200 + seed, H=4)
    for k in (2, 3, 4, 8):
        for eos in (0, 3):
            found, ref = beam_search(step, state, 1, eos, k, max_len), plain_beam(step, state, 1, eos, k, max_len)
            assert [t for t, _ in found] == [t for t, _ in ref], (k, eos)
            np.testing.assert_allclose([s for _, s in found], [s for _, s in ref], rtol=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_a_wide_beam_is_exact_search(seed):
    V, max_len, eos, bos = 4, 4, seed % 4, (seed + 1) % 4
    step, state = tiny_model(V, seed)
    truth = exhaustive(step, state, bos, eos, V, max_len)
    found = beam_search(step, state, bos, eos, V ** max_len, max_len)
    assert [t for t, _ in found] == [t for t, _ in truth]
    np.testing.assert_allclose([s for _, s in found], [s for _, s in truth], rtol=1e-9)
    top = beam_search(step, state, bos, eos, 5, max_len)  # a narrower beam: valid, sorted, correctly scored
    assert len(top) == 5 and [s for _, s in top] == sorted([s for _, s in top], reverse=True)
    scores = dict((tuple(t), s) for t, s in truth)
    assert all(abs(scores[tuple(t)] - s) < 1e-9 for t, s in top)


@pytest.mark.parametrize("seed", range(8))
def test_beam_size_one_is_greedy(seed):
    V, max_len = 5, 6
    step, state = tiny_model(V, 100 + seed)
    for eos in range(V):
        (tokens, score), = beam_search(step, state, 0, eos, 1, max_len)
        g_tokens, g_score = greedy(step, state, 0, eos, max_len)
        assert tokens == g_tokens and abs(score - g_score) < 1e-9


def test_finished_hypotheses_are_kept_and_lengths_are_exact():
    # token 0 is eos, very likely at the first step only; later steps prefer 1 but never end
    def step(n, token):
        logp = np.log([0.6, 0.4]) if n == 0 else np.log([0.05, 0.95])
        return logp, n + 1

    found = beam_search(step, 0, 1, 0, 2, 3)
    assert found[0] == ([0], pytest.approx(np.log(0.6)))  # ended at once, kept while the other grew
    assert found[1][0] == [1, 1, 1] and len(found) == 2  # never ended: exactly max_len ids
    assert beam_search(step, 0, 1, 0, 3, 1) == [([0], pytest.approx(np.log(0.6))), ([1], pytest.approx(np.log(0.4)))]
    long = beam_search(step, 0, 1, 0, 1, 1)
    assert long == [([0], pytest.approx(np.log(0.6)))]
    calls = []
    beam_search(lambda n, t: (calls.append(n) or step(n, t)), 0, 1, 0, 1, 5)
    assert calls == [0]  # greedy stops when eos is chosen


@pytest.mark.parametrize("kwargs, message", [
    (dict(beam_size=0), "beam_size"), (dict(max_len=0), "max_len"), (dict(beam_size=2.0), "beam_size"),
    (dict(eos=4), "log-probabilities"), (dict(eos=-1), "eos"), (dict(bos=-2), "bos"), (dict(bos=4), "bos=4"),
])
def test_beam_search_rejects_bad_arguments(kwargs, message):
    step, state = tiny_model(4, 0)
    args = dict(bos=0, eos=1, beam_size=2, max_len=3) | kwargs
    with pytest.raises(ValueError, match=message):
        beam_search(lambda h, token: step(h, token % 4), state, **args)  # a step that accepts any token


def test_beam_search_leaves_the_errors_of_step_alone():
    step, state = tiny_model(4, 0)
    with pytest.raises(IndexError):  # bos out of step's range: step's own error, not a message about bos
        beam_search(step, state, 9, 1, 2, 3)

    def buggy(h, token):
        """A step whose own indexing fails after the first token."""
        if token != 0:
            return [][0]
        return step(h, token)

    with pytest.raises(IndexError):  # a bug inside step is not reported as a bad bos
        beam_search(buggy, state, 0, 1, 2, 3)


def test_free_running_loss_equals_the_teacher_forced_loss_when_the_model_is_right():
    torch.manual_seed(0)
    model = Seq2Seq(True, H=8, E=4).eval()
    x, lengths, z_in, z_out = batch([7, 305007])
    outs, _ = greedy_decode(model, x, lengths, max_len=z_out.shape[1])
    fed = torch.tensor([[BOS] + o[:z_out.shape[1] - 1] for o in outs])  # the model's own outputs as inputs
    with torch.no_grad():
        from rnnbook.seq2seq import seq_loss
        own = seq_loss(model(x, lengths, fed)[0], z_out).item()
        true = seq_loss(model(x, lengths, z_in)[0], z_out).item()
    assert abs(free_running_loss(model, x, lengths, z_out) - own) < 1e-5 and abs(own - true) > 1e-3


def test_plot_attention_labels_rows_and_columns():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rnnbook.plots import plot_attention
    fig, ax = plt.subplots()
    plot_attention(ax, np.eye(3)[:2], ["one", "two", "three"], [GLOSS["一"], GLOSS["万"]], title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["one", "two", "three"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["yī 1", "wàn 10⁴"]
    with pytest.raises(ValueError, match="shape"):
        plot_attention(ax, np.eye(3), ["one"], ["x"])
    plt.close(fig)
