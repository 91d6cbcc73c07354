"""The command lines train, bench and sample: errors as one line with exit status 2, help, sampling and streaming."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from rnnbook import bench, cli, sample, train
from rnnbook.checkpoint import load_checkpoint, paths
from rnnbook.pretrained import PRETRAINED, load_pretrained
from rnnbook.sampling import generate

TINY = ["--embed", "4", "--hidden", "8", "--batch-size", "4", "--seq-len", "16", "--quiet", "--threads", "1"]
POEM = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate.\n" * 30


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as `sample` uses by default; then torch's thread count of before for the tests that follow."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A text file, a binary file, a 5-character file and a tiny checkpoint trained on the text by the CLI."""
    d = tmp_path_factory.mktemp("cli")
    (d / "poem.txt").write_text(POEM)
    (d / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (d / "short.txt").write_text("hello")
    n = torch.get_num_threads()  # (this fixture runs before one_thread)
    train.main(["--text", str(d / "poem.txt"), "--steps", "3", "--cell", "lstm", "--out", str(d / "tiny"), *TINY])
    torch.set_num_threads(n)
    return d


def run_cli(module, argv, capsys) -> tuple[int, str, str]:
    """Run a command as `python -m` does, in this process: (exit status, stdout, stderr)."""
    try:
        cli.run(module.main, module.parse_args, [str(a) for a in argv])
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def corrupted(d):
    """A copy of the tiny checkpoint with one byte of its tensors flipped."""
    blob = bytearray(paths(d / "tiny")[0].read_bytes())
    blob[-1] ^= 0xFF
    (d / "corrupted.safetensors").write_bytes(bytes(blob))
    (d / "corrupted.json").write_text(paths(d / "tiny")[1].read_text())
    return d / "corrupted"


def other_vocab(d):
    """The tiny checkpoint with a vocabulary one character shorter than its model's (SHA-256 still right)."""
    info = json.loads(paths(d / "tiny")[1].read_text())
    info["vocab"] = info["vocab"][:-1]
    (d / "other.json").write_text(json.dumps(info))
    (d / "other.safetensors").write_bytes(paths(d / "tiny")[0].read_bytes())
    return d / "other"


def bad(name, module, argv, message):
    """A bad input: argv and the exact message, both given the fixture's folder d."""
    return pytest.param(module, argv, message, id=f"{module.__name__.split('.')[-1]}-{name}")


BAD = [
    bad("missing-text", train, lambda d: ["--text", d / "missing.txt"], lambda d: f"no text file at {d / 'missing.txt'}"),
    bad("binary-text", train, lambda d: ["--text", d / "binary.bin"],
        lambda d: f"{d / 'binary.bin'} is not UTF-8 text ('utf-8' codec can't decode byte 0x80 in position 128: "
                  "invalid start byte)"),
    bad("short-text", train, lambda d: ["--text", d / "short.txt"],
        lambda d: f"{d / 'short.txt'} holds 5 characters; a corpus needs at least 20"),
    bad("budget", train, lambda d: ["--text", d / "poem.txt", "--budget", "-1"], lambda d: "budget=-1.0 seconds must be > 0"),
    bad("steps", train, lambda d: ["--text", d / "poem.txt", "--steps", "0"], lambda d: "steps=0 must be >= 1"),
    bad("lr", train, lambda d: ["--text", d / "poem.txt", "--lr", "-1"],
        lambda d: "lr=-1.0: need lr > 0, clip >= 0 (0: no clipping), weight_decay >= 0, 0 <= min_lr <= 1 and warmup >= 0"),
    bad("threads", train, lambda d: ["--text", d / "poem.txt", "--threads", "0"], lambda d: "--threads 0: need at least 1"),
    bad("out", train, lambda d: ["--text", d / "poem.txt", "--steps", "1", *TINY, "--out", d / "poem.txt" / "m"],
        lambda d: f"--out {d / 'poem.txt' / 'm'}: cannot create its folder (File exists)"),
    bad("missing-text", bench, lambda d: ["--text", d / "missing.txt", "--budget", "1"],
        lambda d: f"no text file at {d / 'missing.txt'}"),
    bad("budget", bench, lambda d: ["--text", d / "poem.txt", "--budget", "-1"], lambda d: "--budget must be > 0, got -1.0"),
    bad("threads", bench, lambda d: ["--text", d / "poem.txt", "--threads", "0"], lambda d: "--threads 0: need at least 1"),
    bad("recipes", bench, lambda d: ["--text", d / "poem.txt", "--recipes", "fancy"],
        lambda d: "--recipes must name naive and/or book, got 'fancy'"),
    bad("missing-checkpoint", sample, lambda d: [d / "missing"], lambda d: f"no checkpoint at {d / 'missing.safetensors'}"),
    bad("corrupted-checkpoint", sample, lambda d: [corrupted(d)],
        lambda d: f"{d / 'corrupted.safetensors'} is corrupted or does not belong to corrupted.json: its SHA-256 "
                  "differs from the one recorded when it was saved"),
    bad("other-vocabulary", sample, lambda d: [other_vocab(d)],
        lambda d: f"{d / 'other.json'}: 23 characters in the vocabulary, vocab_size=24"),
    bad("unknown-character", sample, lambda d: [d / "tiny", "--prompt", "Zounds"],
        lambda d: "character 'Z' (U+005A) at position 0 is not in the vocabulary of 24 characters; pass "
                  "unknown='skip' or unknown='replace' (on the command line --unknown skip or replace) to accept it"),
    bad("temperature", sample, lambda d: ["--temperature", "-1"],
        lambda d: "temperature=-1.0: valid temperatures are finite numbers >= 0 (0 is greedy)"),
    bad("top-p", sample, lambda d: ["--top-p", "1.5"],
        lambda d: "top_p=1.5: valid values are None (no limit) or a number in (0, 1]"),
    bad("top-k", sample, lambda d: ["--top-k", "0"],
        lambda d: "top_k=0: valid values are None (no limit) or an integer >= 1"),
    bad("length", sample, lambda d: ["--length", "-1"], lambda d: "length=-1: valid lengths are integers >= 0"),
    bad("seed", sample, lambda d: ["--seed", "-1"], lambda d: "seed=-1: valid seeds are None or an integer in [0, 2**63)"),
]


@pytest.mark.parametrize("module, argv, message", BAD)
def test_bad_input_is_one_error_line_and_exit_status_2(module, argv, message, files, capsys):
    code, out, err = run_cli(module, argv(files), capsys)
    assert (code, out, err) == (2, "", f"error: {message(files)}\n")
    with pytest.raises((ValueError, OSError)) as raised:  # --debug: the exception itself, with its traceback
        run_cli(module, [*argv(files), "--debug"], capsys)
    assert str(raised.value) == message(files)


def test_the_vocabulary_of_the_tiny_checkpoint(files):
    """The messages above count the characters of POEM: 24 distinct ones, and 'Z' is not among them."""
    assert len(load_checkpoint(files / "tiny")[1]) == len(set(POEM)) == 24 and "Z" not in POEM


def test_argparse_usage_errors_keep_exit_status_2(capsys):
    for module, argv in [(train, ["--steps", "1"]), (train, ["--text", "x", "--cell", "transformer"]),
                         (bench, ["--text", "x", "--budget", "soon"]), (sample, ["--unknown", "ignore"])]:
        code, out, err = run_cli(module, argv, capsys)
        assert code == 2 and out == "" and "usage: python -m rnnbook." in err and "error:" in err


def python_m(*argv, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", *map(str, argv)], capture_output=True, text=True, timeout=300,
                          env=env, **kw)


@pytest.mark.parametrize("argv, message", [
    (["rnnbook.train", "--text", "missing.txt"], "error: no text file at missing.txt\n"),
    (["rnnbook.bench", "--text", "missing.txt", "--threads", "0"], "error: --threads 0: need at least 1\n"),
    (["rnnbook.sample", "--temperature", "-1"],
     "error: temperature=-1.0: valid temperatures are finite numbers >= 0 (0 is greedy)\n"),
])
def test_python_m_prints_no_traceback(argv, message, tmp_path):
    proc = python_m(*argv, cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", message)


def test_python_m_prints_the_traceback_with_debug(tmp_path):
    proc = python_m("rnnbook.sample", "--top-p", "1.5", "--debug", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == "" and proc.stderr.startswith("Traceback (most recent call last):")
    assert proc.stderr.endswith("ValueError: top_p=1.5: valid values are None (no limit) or a number in (0, 1]\n")


SETTINGS = [  # (command-line options, the same settings for generate)
    (["--temperature", "0", "--length", "120"], dict(temperature=0, length=120)),
    (["--prompt", "Thou art\n", "--temperature", "0.8", "--top-k", "5", "--seed", "3", "--length", "150"],
     dict(prompt="Thou art\n", temperature=0.8, top_k=5, seed=3, length=150)),
    (["--prompt", "Shall", "--top-p", "0.9", "--seed", "0"], dict(prompt="Shall", top_p=0.9, seed=0)),
    (["--seed", "7", "--length", "0", "--prompt", "I am"], dict(seed=7, length=0, prompt="I am")),
    (["--prompt", "Zé: ", "--unknown", "replace", "--temperature", "1.5", "--seed", "1", "--length", "60"],
     dict(prompt="Zé: ", unknown="replace", temperature=1.5, seed=1, length=60)),
]


@pytest.mark.parametrize("where", ["shipped", "tiny.safetensors", "tiny.json", "tiny"])
@pytest.mark.parametrize("options, kwargs", SETTINGS)
def test_sample_prints_what_generate_returns(where, options, kwargs, files, capsys):
    if where == "shipped":
        model, vocab, argv = *load_pretrained(), options
    else:
        model, vocab, _ = load_checkpoint(files / "tiny")
        argv = [files / where, *options]
    expected = generate(model, vocab, **kwargs)
    assert expected.startswith(kwargs.get("prompt", ""))
    code, out, err = run_cli(sample, argv, capsys)
    assert (code, out, err) == (0, expected + "\n", "")
    code, out, err = run_cli(sample, [*argv, "--stream"], capsys)  # the same text, character by character
    assert (code, out, err) == (0, expected + "\n", "")


def test_sample_from_the_shipped_model_by_its_path(capsys):
    argv = ["--temperature", "0", "--length", "40"]
    assert run_cli(sample, [PRETRAINED, *argv], capsys) == run_cli(sample, argv, capsys)


def test_stream_writes_each_character_as_it_is_drawn(files, monkeypatch):
    """Each character is flushed to stdout before the next one is drawn."""
    writes = []

    class Out:
        def write(self, s):
            writes.append(s)

        def flush(self):
            writes.append("<flush>")

    monkeypatch.setattr(sys, "stdout", Out())
    text = sample.main([str(files / "tiny"), "--prompt", "Thou", "--length", "5", "--seed", "0", "--stream"])
    assert len(text) == 9 and writes[:2] == ["Thou" + text[4], "<flush>"]
    assert writes[2:] == [w for c in text[5:] for w in (c, "<flush>")] + ["\n", "<flush>"]


def test_ctrl_c_while_streaming_leaves_the_text_so_far_and_exit_status_130(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "rnnbook.sample", "--stream", "--length", "1000000", "--seed", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
                            env=dict(os.environ, PYTHONIOENCODING="utf-8"),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    try:
        got, deadline = b"", time.monotonic() + 240
        while len(got) < 200 and time.monotonic() < deadline:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:  # it ended on its own: the asserts below say how
                break
            got += chunk
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    text = (got + out).decode()
    assert proc.returncode == 130 and err == b"" and len(text) > 200 and text.endswith("\n")
    model, vocab = load_pretrained()
    assert text[:-1] == generate(model, vocab, length=len(text) - 1, seed=0)  # every character was written whole


def test_a_reader_that_stops_reading_gets_no_traceback(tmp_path):
    """`python -m rnnbook.sample --stream | head -c 20`: when the pipe closes, the command ends quietly."""
    proc = subprocess.Popen([sys.executable, "-m", "rnnbook.sample", "--stream", "--length", "1000000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        assert len(proc.stdout.read(20)) == 20
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1 and err == b""


GROUPS = {train: ["data", "model", "recipe", "stopping", "output", "machine"],
          bench: ["data", "comparison", "output", "machine"],
          sample: ["model", "text", "sampling", "output", "machine"]}
NO_DEFAULT = {"-h", "--corpus", "--text", "--quiet", "--stream", "--debug"}  # flags, and a choice that is required


def help_entries(text: str) -> dict[str, str]:
    """Each option's (or positional's) entry in a --help text: its first name -> its lines."""
    entries, name = {}, None
    for line in text.splitlines():
        m = re.match(r"^  ([-\w]+)", line)
        if m:
            name = m.group(1)
            entries[name] = line
        elif line.startswith("    ") and name:
            entries[name] += " " + line.strip()
        else:
            name = None
    return entries


@pytest.mark.parametrize("module", [train, bench, sample], ids=["train", "bench", "sample"])
def test_help_groups_the_options_and_shows_each_default_once(module, capsys, monkeypatch):
    made, make = [], cli.parser
    monkeypatch.setattr(cli, "parser", lambda *a: made.append(make(*a)) or made[-1])  # to list its arguments
    with pytest.raises(SystemExit) as e:
        module.parse_args(["--help"])
    text = capsys.readouterr().out
    assert e.value.code == 0 and text.startswith(f"usage: python -m rnnbook.{module.__name__.split('.')[-1]}")
    assert [t for t in re.findall(r"^(\w[\w ]*):$", text, re.M) if t != "options"] == GROUPS[module]
    entries = help_entries(text)
    assert set(entries) == {a.option_strings[0] if a.option_strings else a.metavar for a in made[0]._actions}
    for name, entry in entries.items():
        assert entry.count("default") == (name not in NO_DEFAULT), entry
    assert "(default: None)" not in text and "(default: False)" not in text


def test_the_defaults_of_train_are_those_of_train_config():
    assert train.config_from_args(train.parse_args(["--corpus", "shakespeare"])) == train.TrainConfig(budget=60.0)
