"""The logits-table model as an ONNX graph with its genai_config.json, for onnxruntime-genai (and
any ONNX Runtime user): after token t the next-token logits are exactly row t mod R of an (R, V)
float32 table. The graph needs no layers at all: logits = Gather(table, input_ids mod R), so a
stored value comes back bit for bit, -inf included (nothing multiplies it). The KV cache passes
through: present = Concat(past, zeros for the new positions) on the sequence axis, which is the
shape onnxruntime-genai allocates for it (one layer, one head, head size 1). A table of R < V rows
serves wide vocabularies (R = 1: a constant model, whose logits the caller replaces).

The ONNX protobuf is written by hand (the field numbers of onnx/onnx.proto, IR 8, opset 17), so
nothing beyond numpy is needed to build it: the `onnx` package is not a dependency."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FLOAT, INT64 = 1, 7  # TensorProto.DataType
OPSET, IR_VERSION = 17, 8
MODEL, CONFIG = "model.onnx", "genai_config.json"


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1  # negative int64s as two's complement, as protobuf encodes them
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _int(field: int, n: int) -> bytes:
    return _varint(field << 3) + _varint(n)


def _bytes(field: int, data: bytes | str) -> bytes:
    data = data.encode() if isinstance(data, str) else data
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _tensor(name: str, array: np.ndarray) -> bytes:
    """TensorProto: dims (1), data_type (2), name (8), raw_data (9, little-endian)."""
    kind = {np.dtype(np.float32): FLOAT, np.dtype(np.int64): INT64}[array.dtype]
    return (b"".join(_int(1, d) for d in array.shape) + _int(2, kind) + _bytes(8, name)
            + _bytes(9, np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()))


def _value(name: str, kind: int, shape: tuple) -> bytes:
    """ValueInfoProto: name (1), type (2) = TypeProto.tensor_type (1) {elem_type (1), shape (2)};
    a dimension is dim_value (1) or dim_param (2)."""
    dims = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _bytes(2, d)) for d in shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, _int(1, kind) + _bytes(2, dims)))


def _node(op: str, inputs: list[str], outputs: list[str], **ints) -> bytes:
    """NodeProto: input (1), output (2), name (3), op_type (4), attribute (5) = AttributeProto
    {name (1), i (3), type (20) = INT (2)}."""
    attributes = b"".join(_bytes(5, _bytes(1, k) + _int(3, v) + _int(20, 2)) for k, v in ints.items())
    return (b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
            + _bytes(3, outputs[0]) + _bytes(4, op) + attributes)


def graph(table: np.ndarray) -> bytes:
    """The serialized ModelProto of the logits-table graph for an (R, V) float32 table."""
    rows, vocab = table.shape
    past = ("batch", 1, "past", 1)
    nodes = [_node("Mod", ["input_ids", "rows"], ["index"]),
             _node("Gather", ["table", "index"], ["logits"], axis=0),
             _node("Cast", ["input_ids"], ["ids_float"], to=FLOAT),
             _node("Mul", ["ids_float", "zero"], ["zeros"]),
             _node("Unsqueeze", ["zeros", "axes"], ["fresh"])]  # (batch, 1, sequence, 1)
    for kind in ("key", "value"):
        nodes.append(_node("Concat", [f"past_key_values.0.{kind}", "fresh"], [f"present.0.{kind}"], axis=2))
    initializers = [_tensor("table", np.asarray(table, dtype=np.float32)), _tensor("rows", np.array(rows)),
                    _tensor("zero", np.zeros((), np.float32)), _tensor("axes", np.array([1, 3]))]
    inputs = [_value("input_ids", INT64, ("batch", "sequence")),
              _value("attention_mask", INT64, ("batch", "total")),
              _value("past_key_values.0.key", FLOAT, past), _value("past_key_values.0.value", FLOAT, past)]
    outputs = [_value("logits", FLOAT, ("batch", "sequence", vocab)),
               _value("present.0.key", FLOAT, ("batch", 1, "total", 1)),
               _value("present.0.value", FLOAT, ("batch", 1, "total", 1))]
    body = (b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "logits_table")
            + b"".join(_bytes(5, t) for t in initializers)
            + b"".join(_bytes(11, v) for v in inputs) + b"".join(_bytes(12, v) for v in outputs))
    opset = _bytes(1, "") + _int(2, OPSET)  # OperatorSetIdProto: domain (1), version (2)
    return _int(1, IR_VERSION) + _bytes(2, "spec.tables.onnx") + _bytes(7, body) + _bytes(8, opset)


def genai_config(vocab: int, context: int = 64, eos: list[int] | None = None, pad: int = 0) -> dict:
    """onnxruntime-genai's genai_config.json for the graph: a decoder-only "llama" of one layer, one
    head of size 1. eos: the end-of-sequence ids (none given: onnxruntime-genai takes the pad token,
    src/config.cpp). pad (also bos): onnxruntime-genai reads a prompt's logits at its last token
    that is not the pad token (src/models/logits.cpp `Logits::Update`), so where every row must be
    reachable the pad token is one no prompt ends with, e.g. an extra token at -inf in every row
    (which as eos also keeps a generation loop running its full length). The search section is
    left to the library's defaults."""
    return {"model": {
        "type": "llama", "vocab_size": int(vocab), "context_length": int(context), "bos_token_id": int(pad),
        "pad_token_id": int(pad), "eos_token_id": list(eos or []),
        "decoder": {"filename": MODEL, "session_options": {"log_id": "spec.tables.onnx", "provider_options": []},
                    "hidden_size": 1, "head_size": 1, "num_attention_heads": 1, "num_key_value_heads": 1,
                    "num_hidden_layers": 1,
                    "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                               "past_key_names": "past_key_values.%d.key",
                               "past_value_names": "past_key_values.%d.value"},
                    "outputs": {"logits": "logits", "present_key_names": "present.%d.key",
                                "present_value_names": "present.%d.value"}}}}


def write(table, directory, *, context: int = 64, eos: list[int] | None = None, pad: int = 0) -> Path:
    """Write model.onnx and genai_config.json for `table` ((R, V): after token t, row t mod R) into
    `directory` (created if needed); returns the directory, which `onnxruntime_genai.Model` loads."""
    table = np.atleast_2d(np.asarray(table, dtype=np.float32))
    if table.ndim != 2 or 0 in table.shape:
        raise ValueError(f"a logits table is a non-empty (rows, vocabulary) array, not shape {table.shape}")
    where = Path(directory)
    where.mkdir(parents=True, exist_ok=True)
    (where / MODEL).write_bytes(graph(table))
    (where / CONFIG).write_text(json.dumps(genai_config(table.shape[1], context, eos, pad), indent=1))
    return where


__all__ = ["genai_config", "graph", "write"]
