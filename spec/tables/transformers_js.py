"""The logits-table model in the layout transformers.js loads (`AutoModelForCausalLM.from_pretrained(directory)`):
config.json (a one-layer "llama" with one key/value head of size 1, so the empty cache it makes,
(batch, 1, 0, 1), is the shape the graph passes through) and onnx/model.onnx, the graph of
`spec.tables.onnx` (logits = Gather(table, input_ids mod R): after token t, row t mod R, bit for bit,
-inf included). No eos or bos token: a generation loop runs its full length."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from spec.tables.onnx import graph


def config(vocab: int) -> dict:
    """config.json: what transformers.js reads to pick LlamaForCausalLM and size the cache it feeds."""
    return {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": int(vocab),
            "hidden_size": 1, "num_hidden_layers": 1, "num_attention_heads": 1, "num_key_value_heads": 1,
            "bos_token_id": None, "eos_token_id": None, "pad_token_id": None}


def write(table, directory) -> Path:
    """Write config.json and onnx/model.onnx for `table` ((R, V) float32: after token t, row t mod R)
    into `directory` (created if needed); returns the directory."""
    table = np.atleast_2d(np.asarray(table, dtype=np.float32))
    if table.ndim != 2 or 0 in table.shape:
        raise ValueError(f"a logits table is a non-empty (rows, vocabulary) array, not shape {table.shape}")
    where = Path(directory)
    (where / "onnx").mkdir(parents=True, exist_ok=True)
    (where / "onnx" / "model.onnx").write_bytes(graph(table))
    (where / "config.json").write_text(json.dumps(config(table.shape[1]), indent=1))
    return where


__all__ = ["config", "write"]
