"""Tests of rnnbook.checkpoint: round trip, and every kind of bad file refused with a ValueError."""

import json
import pickle

import pytest
import torch

from rnnbook.checkpoint import load_checkpoint, paths, save_checkpoint
from rnnbook.data import CharVocab
from rnnbook.models import CharRNN


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    vocab = CharVocab.from_text("hello world\n")
    model = CharRNN(len(vocab), 4, 8, 2, "lstm")
    path = save_checkpoint(tmp_path / "run", model, vocab, {"val_loss": 1.23, "command": "python -m rnnbook.train"})
    return path, model, vocab


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_round_trip(tmp_path, cell):
    torch.manual_seed(1)
    vocab = CharVocab.from_text("abc \n")
    model = CharRNN(len(vocab), 3, 5, 2, cell)
    path = save_checkpoint(tmp_path / "m.safetensors", model, vocab, {"note": "x"})
    assert path == tmp_path / "m.safetensors" and (tmp_path / "m.json").is_file()
    loaded, vocab2, meta = load_checkpoint(path)
    assert vocab2.chars == vocab.chars and meta == {"note": "x"} and loaded.config == model.config
    assert not loaded.training
    x = torch.randint(0, len(vocab), (2, 6))
    assert torch.equal(loaded(x)[0], model.eval()(x)[0])
    assert load_checkpoint(tmp_path / "m")[1].chars == vocab.chars  # the name without suffix works too


def test_paths():
    assert paths("a/b") == paths("a/b.safetensors") == paths("a/b.json")
    assert [p.name for p in paths("runs/lstm.v2")] == ["lstm.v2.safetensors", "lstm.v2.json"]


def test_save_rejects_vocab_of_wrong_size(tmp_path):
    with pytest.raises(ValueError, match="vocab_size"):
        save_checkpoint(tmp_path / "x", CharRNN(5), CharVocab("abc"))


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nothing.safetensors")


def test_empty_file(saved):
    path = saved[0]
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"is empty \(0 bytes\)"):  # (the messages name the file, whose path
                                                                # holds the test's name: match more than one word)
        load_checkpoint(path)


@pytest.mark.parametrize("keep, match", [(4, "is truncated or not a safetensors file"),  # not even the header's length
                                         (100, "is truncated or not a safetensors file"),  # less than the header
                                         (-50, "is not a valid safetensors file"),  # a whole header, short data
                                         (None, "is truncated or not a safetensors file")])  # 4 bytes of the header short
def test_truncated_file(saved, keep, match):
    path = saved[0]
    blob = path.read_bytes()
    if keep is None:
        keep = 8 + int.from_bytes(blob[:8], "little") - 4
    path.write_bytes(blob[:keep])
    with pytest.raises(ValueError, match=match):
        load_checkpoint(path)


def test_corrupted_tensor_bytes(saved):
    path = saved[0]
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0xFF  # one flipped byte inside a tensor: still a well-formed safetensors file
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="is corrupted or does not belong to run.json"):
        load_checkpoint(path)


def test_corrupted_header(saved):
    path = saved[0]
    blob = bytearray(path.read_bytes())
    blob[10:20] = b"\x00" * 10
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="not a valid safetensors"):
        load_checkpoint(path)
    path.write_bytes(b"\x00" * 8)  # a header that announces 0 bytes, and holds them: complete, but not safetensors
    with pytest.raises(ValueError, match="is not a valid safetensors file"):
        load_checkpoint(path)


class Boom:
    """Unpickling this object would create a file: proof that something was unpickled."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def test_pickle_files_are_refused_and_never_unpickled(tmp_path, saved):
    path = saved[0]
    marker = tmp_path / "unpickled"
    path.write_bytes(pickle.dumps(Boom(marker)))
    with pytest.raises(ValueError, match="looks like a pickle"):
        load_checkpoint(path)
    torch.save({"w": torch.zeros(3)}, path)  # PyTorch's own format: a zip archive of pickles
    with pytest.raises(ValueError, match="looks like a pickle"):
        load_checkpoint(path)
    assert not marker.exists()


def test_missing_or_bad_json(saved):
    path, _, _ = saved
    json_path = path.with_suffix(".json")
    good = json_path.read_text()
    json_path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_checkpoint(path)
    json_path.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not an rnnbook checkpoint"):
        load_checkpoint(path)
    info = json.loads(good)
    info["config"]["hidden_size"] = 9  # the tensors no longer fit the configuration
    json_path.write_text(json.dumps(info))
    with pytest.raises(ValueError, match="does not match"):
        load_checkpoint(path)
    json_path.unlink()
    with pytest.raises(ValueError, match="no companion"):
        load_checkpoint(path)


def test_json_lacking_a_key_or_with_a_vocabulary_of_another_size(saved):
    path, _, _ = saved
    json_path = path.with_suffix(".json")
    good = json.loads(json_path.read_text())
    for key in ("config", "vocab", "meta", "sha256"):
        json_path.write_text(json.dumps({k: v for k, v in good.items() if k != key}))
        with pytest.raises(ValueError, match=rf"lacks \['{key}'\]"):
            load_checkpoint(path)
    json_path.write_text(json.dumps({**good, "vocab": good["vocab"][:-1]}))  # one character short of vocab_size
    with pytest.raises(ValueError, match="characters in the vocabulary"):
        load_checkpoint(path)
    json_path.write_text(json.dumps([good]))
    with pytest.raises(ValueError, match="not an rnnbook checkpoint"):
        load_checkpoint(path)


def test_save_without_meta_into_a_new_folder_and_over_an_old_checkpoint(tmp_path):
    vocab = CharVocab("aé\n")  # a non-ASCII character: the JSON file escapes it
    model = CharRNN(len(vocab), 2, 3, 1, "gru").double()  # float64 weights are stored as float32
    for _ in range(2):
        path = save_checkpoint(tmp_path / "new" / "folder" / "m", model, vocab)
    info_text = (tmp_path / "new" / "folder" / "m.json").read_text(encoding="utf-8")
    assert info_text.isascii() and info_text.endswith("}\n") and json.loads(info_text)["format"] == "rnnbook-charrnn-1"
    # the layout of the shipped model's JSON (one value per line), so that a new checkpoint diffs line by line
    assert info_text == json.dumps(json.loads(info_text), indent=1) + "\n"
    loaded, vocab2, meta = load_checkpoint(path)
    assert meta == {} and vocab2.chars == "aé\n"
    for (name, p), q in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert q.dtype == torch.float32 and torch.equal(q, p.float()), name
