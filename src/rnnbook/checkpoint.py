"""Checkpoints as two files: NAME.safetensors (the tensors) and NAME.json (configuration, vocabulary, metadata).

Nothing is ever unpickled: safetensors holds raw tensors behind a JSON header, and the JSON file records
the SHA-256 of the tensor file, so that a truncated or corrupted file is refused rather than loaded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from rnnbook.data import CharVocab
from rnnbook.models import CharRNN

FORMAT = "rnnbook-charrnn-1"


def paths(path: str | Path) -> tuple[Path, Path]:
    """The tensor file and the JSON file of a checkpoint named `NAME` or `NAME.safetensors`."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def save_checkpoint(path: str | Path, model: CharRNN, vocab: CharVocab, meta: dict | None = None) -> Path:
    """Write the model's tensors to NAME.safetensors and its config, vocabulary and meta to NAME.json."""
    if len(vocab) != model.config["vocab_size"]:
        raise ValueError(f"vocabulary of {len(vocab)} characters, but the model has vocab_size={model.config['vocab_size']}")
    tensor_path, json_path = paths(path)
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    blob = save({k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()})
    tensor_path.write_bytes(blob)
    info = {"format": FORMAT, "config": model.config, "vocab": vocab.chars, "meta": meta or {},
            "sha256": hashlib.sha256(blob).hexdigest()}
    json_path.write_text(json.dumps(info, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
    return tensor_path


def _read_tensors(tensor_path: Path) -> tuple[bytes, dict[str, torch.Tensor]]:
    """The bytes and tensors of a safetensors file, or a ValueError that says why it is not one."""
    if not tensor_path.is_file():
        raise ValueError(f"no checkpoint at {tensor_path}")
    blob = tensor_path.read_bytes()
    if len(blob) == 0:
        raise ValueError(f"{tensor_path} is empty (0 bytes)")
    if blob[:1] == b"\x80" or blob[:4] == b"PK\x03\x04":
        raise ValueError(f"{tensor_path} looks like a pickle (a torch.save file); rnnbook never unpickles, "
                         "it reads safetensors written by save_checkpoint")
    if len(blob) < 8 or int.from_bytes(blob[:8], "little") > len(blob) - 8:
        raise ValueError(f"{tensor_path} is truncated or not a safetensors file ({len(blob)} bytes; "
                         "its header announces more than that)")
    try:
        return blob, load(blob)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise ValueError(f"{tensor_path} is not a valid safetensors file: {e}") from None


def load_checkpoint(path: str | Path) -> tuple[CharRNN, CharVocab, dict]:
    """Read a checkpoint written by save_checkpoint; return (model in eval mode, vocab, meta)."""
    tensor_path, json_path = paths(path)
    blob, tensors = _read_tensors(tensor_path)
    if not json_path.is_file():
        raise ValueError(f"{tensor_path} has no companion {json_path.name} (configuration and vocabulary)")
    try:
        info = json.loads(json_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{json_path} is not valid JSON: {e}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ValueError(f"{json_path} is not an rnnbook checkpoint (expected format {FORMAT!r})")
    missing = [k for k in ("config", "vocab", "meta", "sha256") if k not in info]
    if missing:
        raise ValueError(f"{json_path} lacks {missing}")
    if hashlib.sha256(blob).hexdigest() != info["sha256"]:
        raise ValueError(f"{tensor_path} is corrupted or does not belong to {json_path.name}: its SHA-256 differs "
                         "from the one recorded when it was saved")
    try:
        model = CharRNN(**info["config"])
        vocab = CharVocab(info["vocab"])
        model.load_state_dict(tensors)
    except (TypeError, RuntimeError) as e:
        raise ValueError(f"{json_path} describes a model that does not match {tensor_path.name}: {e}") from None
    if len(vocab) != model.config["vocab_size"]:
        raise ValueError(f"{json_path}: {len(vocab)} characters in the vocabulary, vocab_size={model.config['vocab_size']}")
    return model.eval(), vocab, info["meta"]
