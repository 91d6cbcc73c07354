"""Tests of rnnbook.data: the Shakespeare text, the vocabulary, and batching."""

import re

import pytest
import torch

from rnnbook.data import (TEST_PLAYS, VAL_PLAYS, CharVocab, WindowDataset, clean_play, load_text, play_paths, shakespeare,
                          shakespeare_test, stream_batches)

PLAY = """# A Play

## ACT I

### SCENE I. A heath.

_Thunder. Enter two Witches,
meeting_

**First Witch**  
When shall we\u2014meet again  
In thunder, _\\[Aside]_ lightning?

**Second Witch**  
Anon.

_Exit First Witch_

Who comes here?
**ALL**  
Fair is foul.
*[They dance.]*

## ACT II

Nobody speaks this line.

**HECATE** 
__\\[Awaking]_  
Well done.
"""


def test_clean_play_keeps_speakers_and_lines_and_drops_markup():
    text = clean_play(PLAY)
    assert text == ("First Witch:\nWhen shall we--meet again\nIn thunder, lightning?\n\n"
                    "Second Witch:\nAnon.\nWho comes here?\n\n"
                    "ALL:\nFair is foul.\n\n"
                    "HECATE:\nWell done.\n\n")


def test_clean_play_keeps_every_speech_of_a_real_play_and_no_markup():
    markdown = play_paths()["macbeth"].read_text(encoding="utf-8")
    text = clean_play(markdown)
    speakers = re.findall(r"^\*\*(.+?)\*\*\s*$", markdown, flags=re.M)  # every speech in the Markdown, in order
    blocks = text.split("\n\n")
    assert blocks[-1] == "" and len(speakers) == len(blocks) - 1 == 649
    assert [b.split("\n")[0] for b in blocks[:-1]] == [f"{s.strip()}:" for s in speakers]
    assert all(len(b.split("\n")) >= 2 for b in blocks[:-1])  # a name, then what is said
    assert not set("*_#[]\\\u2014\u2019") & set(text)
    assert text.startswith("First Witch:\nWhen shall we three meet again\nIn thunder, lightning, or in rain?\n\n")


@pytest.fixture(scope="module")
def corpus():
    return shakespeare()


def test_shakespeare_holds_out_whole_plays(corpus):
    train, val = corpus
    paths = play_paths()
    assert len(paths) >= 30 and set(VAL_PLAYS) <= set(paths)
    held_out = "".join(clean_play(paths[name].read_text(encoding="utf-8")) for name in VAL_PLAYS)
    assert val == held_out
    assert "MACBETH:\n" in val and "MACBETH:\n" not in train  # a speaker of a held-out play never trains
    assert 0.03 < len(val) / (len(train) + len(val)) < 0.1
    assert len(train) > 4_000_000


def test_shakespeare_test_plays_are_in_neither_split(corpus):
    train, val = corpus
    test = shakespeare_test()
    paths = play_paths()
    assert set(TEST_PLAYS) <= set(paths) and not set(TEST_PLAYS) & set(VAL_PLAYS)
    assert test == "".join(clean_play(paths[name].read_text(encoding="utf-8")) for name in TEST_PLAYS)
    assert "KING RICHARD II:\n" in test
    assert "KING RICHARD II:\n" not in train and "KING RICHARD II:\n" not in val
    assert len(test) > 100_000


def test_shakespeare_is_plain_text(corpus):
    train, val = corpus
    text = train + val
    for markup in ("**", "_", "#", "[", "]", "\\", "\u2014"):
        assert markup not in text, f"{markup!r} left in the text"
    assert "\n\n\n" not in text and text.startswith(text.lstrip())
    assert all(c == "\n" or 32 <= ord(c) < 127 for c in set(text))


def test_load_text_splits_90_10(tmp_path):
    path = tmp_path / "t.txt"
    text = "".join(chr(97 + i % 26) for i in range(1000))
    path.write_text(text, encoding="utf-8")
    train, val = load_text(path)
    assert train == text[:900] and val == text[900:]


def test_load_text_rejects_missing_short_and_binary_files(tmp_path):
    with pytest.raises(ValueError, match="no text file"):
        load_text(tmp_path / "missing.txt")
    (tmp_path / "short.txt").write_text("abc")
    with pytest.raises(ValueError, match="at least 20"):
        load_text(tmp_path / "short.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\xfa" * 20)
    with pytest.raises(ValueError, match="not UTF-8"):
        load_text(tmp_path / "bin.txt")


def test_vocab_round_trip_and_order():
    text = "To be, or not to be:\nthat is the question. \u00e9\U0001F600"
    vocab = CharVocab.from_text(text)
    assert vocab.chars == "".join(sorted(set(text))) and len(vocab) == len(set(text))
    ids = vocab.encode(text)
    assert ids.dtype == torch.int64 and ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    assert vocab.decode(ids.tolist()) == text
    assert vocab.encode("") .shape == (0,) and vocab.decode([]) == ""


def test_vocab_unknown_character_raises_naming_it():
    vocab = CharVocab.from_text("abc ")
    with pytest.raises(ValueError, match=r"'z'.*position 2"):
        vocab.encode("abzc")
    with pytest.raises(ValueError, match="U\\+1F600"):
        vocab.encode("\U0001F600")


def test_vocab_skip_and_replace_policies():
    vocab = CharVocab.from_text("abc ")
    assert vocab.decode(vocab.encode("azb\u00e9c", unknown="skip")) == "abc"
    assert vocab.decode(vocab.encode("azb\u00e9c", unknown="replace")) == "a b c"
    assert vocab.decode(vocab.encode("azb", unknown="replace", replacement="c")) == "acb"
    with pytest.raises(ValueError, match="replacement"):
        vocab.encode("z", unknown="replace", replacement="q")
    with pytest.raises(ValueError, match="valid policies"):
        vocab.encode("a", unknown="ignore")


def test_vocab_rejects_bad_chars_and_ids():
    for bad in ("", "aab", ["a", "b"]):
        with pytest.raises(ValueError):
            CharVocab(bad)
    vocab = CharVocab("ab")
    with pytest.raises(ValueError, match="valid ids are 0..1"):
        vocab.decode([0, 2])
    with pytest.raises(ValueError, match="out of range"):
        vocab.decode([-1])


def test_stream_batches_are_contiguous_streams():
    ids = torch.arange(103)
    chunks = list(stream_batches(ids, batch_size=4, seq_len=10))
    n = (103 - 1) // 4  # 25 characters per stream
    assert [x.shape for x, _ in chunks] == [(4, 10), (4, 10), (4, 5)]
    x = torch.cat([c[0] for c in chunks], dim=1)
    y = torch.cat([c[1] for c in chunks], dim=1)
    for b in range(4):  # row b of chunk k+1 continues row b of chunk k
        assert torch.equal(x[b], torch.arange(b * n, (b + 1) * n))
    assert torch.equal(y, x + 1)
    assert sorted(x.flatten().tolist()) == list(range(100))  # each character once


def test_stream_batches_offset_and_errors():
    ids = torch.arange(50)
    (x, y), *_ = stream_batches(ids, batch_size=2, seq_len=5, offset=3)
    assert x[0, 0] == 3 and torch.equal(y, x + 1)
    with pytest.raises(ValueError, match="too few"):
        list(stream_batches(torch.arange(3), batch_size=4, seq_len=2))
    with pytest.raises(ValueError, match=">= 1"):
        list(stream_batches(ids, batch_size=0, seq_len=2))


def test_window_dataset_has_one_window_per_position():
    ids = torch.arange(20)
    ds = WindowDataset(ids, seq_len=5)
    assert len(ds) == 15
    x, y = ds[7]
    assert torch.equal(x, torch.arange(7, 12)) and torch.equal(y, torch.arange(8, 13))
    with pytest.raises(ValueError):
        WindowDataset(ids, seq_len=20)
