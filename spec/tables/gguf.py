"""The logits-table model as a GGUF file (llama architecture), written with the `gguf` package
(the writer llama.cpp's own converters use), for engines that load GGUF through llama.cpp
(node-llama-cpp). After prompt token t the model's next-token logits are exactly row t.

Why it is exact in float32 (llama.cpp's llama graph, src/models/llama.cpp): the embedding of
token t is SCALE * e_t with SCALE = 2^12 sqrt(R), so RMS normalisation sees mean(x^2) = 2^24, to
which eps = 1e-5 adds nothing in float32, and divides by 2^12 exactly; the norm weights 1/sqrt(R)
(R a power of 4: a power of 2) leave e_t. Attention and feed-forward output projections are zero,
so the residual stream stays SCALE * e_t whatever the other weights compute, and the output matrix
times e_t is column t of it: row t of the table, one product with 1 and the rest with 0.

The vocabulary: the table's V tokens first (ids 0..V-1, pieces "t0", "t1", ...), then the 256
byte tokens "<0x00>".."<0xFF>" (llama.cpp's SPM vocabulary looks up "<0x0A>" for the newline
token and fails without it), then <unk>, <s>, </s>. The extra tokens get logit -1e30 in every
row, so they are never drawn. -inf cannot be stored (0 * -inf is NaN in the matrix product):
-1e30 stands for it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

NEG = -1e30  # stands for -inf in the stored table
EXTRA = 256 + 3  # byte tokens, <unk>, <s>, </s>
EPS = 1e-5


def hidden_size(rows: int) -> int:
    """The smallest power of 4 >= rows (and >= 4): sqrt of it is a power of 2."""
    return 4 ** max(1, math.ceil(math.log(max(rows, 1), 4)))


def vocabulary(width: int) -> tuple[list[str], list[int]]:
    """(pieces, token types) of the model's vocabulary: `width` normal tokens, the 256 byte tokens,
    then <unk>, <s>, </s> (gguf TokenType: NORMAL 1, UNKNOWN 2, CONTROL 3, BYTE 6)."""
    pieces = [f"t{i}" for i in range(width)] + [f"<0x{b:02X}>" for b in range(256)] + ["<unk>", "<s>", "</s>"]
    return pieces, [1] * width + [6] * 256 + [2, 3, 3]


def stored(table: np.ndarray) -> np.ndarray:
    """The (n, V) table in float32 with -inf as NEG, padded with NEG columns for the extra tokens."""
    table = np.asarray(table, dtype=np.float32)
    if table.ndim != 2 or np.isnan(table).any() or np.isposinf(table).any():
        raise ValueError("the table must be a 2-d array of logits, no NaN or +inf")
    out = np.full((table.shape[0], table.shape[1] + EXTRA), NEG, dtype=np.float32)
    out[:, :table.shape[1]] = np.where(np.isneginf(table), np.float32(NEG), table)
    return out


def write(path: str | Path, table: np.ndarray) -> Path:
    """A GGUF model at `path` whose logits after prompt token t (t < n) are row t of the (n, V)
    `table` (-inf stored as -1e30; the extra tokens' logits are -1e30). Returns the path."""
    import gguf

    rows = stored(table)
    n, vocab = rows.shape
    width = vocab - EXTRA
    r = hidden_size(n)
    scale = np.float32(2.0**12 * math.sqrt(r))
    norm = np.full(r, 1.0 / math.sqrt(r), dtype=np.float32)
    embed = np.zeros((vocab, r), dtype=np.float32)  # numpy (V, R) is ggml's {n_embd, n_vocab}
    embed[np.arange(n), np.arange(n)] = scale
    output = np.zeros((vocab, r), dtype=np.float32)
    output[:, :n] = rows.T
    zero = np.zeros((r, r), dtype=np.float32)
    pieces, types = vocabulary(width)

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("logits table")
    w.add_context_length(1 << 20)
    w.add_embedding_length(r)
    w.add_block_count(1)
    w.add_feed_forward_length(r)
    w.add_head_count(1)
    w.add_head_count_kv(1)
    w.add_rope_dimension_count(r)
    w.add_layer_norm_rms_eps(EPS)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(pieces)
    w.add_token_scores([0.0] * vocab)
    w.add_token_types(types)
    w.add_unk_token_id(width + 256)
    w.add_bos_token_id(width + 257)
    w.add_eos_token_id(width + 258)
    w.add_add_bos_token(False)
    w.add_add_eos_token(False)
    tensors = {"token_embd.weight": embed, "output_norm.weight": norm, "output.weight": output,
               "blk.0.attn_norm.weight": norm, "blk.0.ffn_norm.weight": norm,
               "blk.0.attn_q.weight": zero, "blk.0.attn_k.weight": zero, "blk.0.attn_v.weight": zero,
               "blk.0.attn_output.weight": zero, "blk.0.ffn_gate.weight": zero, "blk.0.ffn_up.weight": zero,
               "blk.0.ffn_down.weight": zero}
    for name, value in tensors.items():
        w.add_tensor(name, value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return Path(path)
