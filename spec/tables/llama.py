"""The logits-table model as a Hugging Face llama directory (config.json, model.safetensors, a
WordLevel tokenizer.json): the format mlx-lm's server (`mlx_lm.load`) and vLLM's server load.
After token t the next-token logits are exactly table[rows_of[t]] (tests/test_tables_llama.py
checks it bit for bit through mlx-lm).

Why it is exact in float32 (the llama block of mlx_lm/models/llama.py, transformers' and vLLM's
LlamaForCausalLM are the same computation): the embedding of token t is SCALE * e_{rows_of[t]} with
SCALE = 2^12 sqrt(R), so every RMS norm sees mean(x^2) = 2^24, to which eps = 1e-5 adds nothing in
float32, and divides by 2^12 exactly (R a power of 4). The attention and feed-forward output
projections are zero, so the residual stream stays SCALE * e_row; the final norm's weights
1/sqrt(R) (a power of 2) map it to e_row, and the output matrix times e_row is column `row` of it:
the table's row, one product with 1 and the rest with 0.

The vocabulary: the table's V tokens "t0".."t{V-1}" (ids 0..V-1), then "<s>" (id V) and "</s>"
(id V+1). The two extra tokens get logit -1e30 in every row, so they are never drawn: "<s>" starts
every prompt (a penalty that counts the prompt then counts a token that cannot be drawn) and "</s>"
is the end token (so a server never stops a generation early). -inf cannot be stored (0 * -inf is
NaN in the matrix product): -1e30 stands for it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

NEG = -1e30  # stands for -inf in the stored table
EPS = 1e-5
EXTRA = ("<s>", "</s>")


def hidden_size(rows: int, least: int = 4) -> int:
    """The smallest power of 4 >= rows and >= least: sqrt of it is a power of 2."""
    size = 4
    while size < max(rows, least):
        size *= 4
    return size


def pieces(vocab: int) -> list[str]:
    """The token strings, by id: the table's tokens, then <s> and </s>."""
    return [f"t{i}" for i in range(vocab)] + list(EXTRA)


def prompt_text(tokens) -> str:
    """The text a server's tokenizer turns into [<s>, *tokens]."""
    return " ".join(["<s>", *(f"t{int(t)}" for t in tokens)])


def write(table: np.ndarray, directory: str | Path, rows_of=None, least_hidden: int = 4, nope: bool = False) -> Path:
    """Write the model whose logits after token t are table[rows_of[t]] (default: row t for
    t < len(table), row 0 for the others; <s> and </s> select row 0) into `directory`.
    table: (N, V) logits, 1 <= N; -inf entries are stored as NEG; NaN and +inf are refused.
    least_hidden: the smallest hidden size (vLLM's CPU attention wants a head of 64).
    nope: the same weights as a SmolLM3 model whose one layer has no rotary embedding
    (`no_rope_layers: [0]`: mlx_lm/models/smollm3.py, mlx-lm 0.32.2, is llama with NoPE layers). The
    attention's output is zero either way, so the logits are the same; on mlx's CPU the rotary
    embedding was a third of the forward pass (a 10-token row: 835 -> 1,080 tokens/s in process)."""
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, models, pre_tokenizers

    table = np.asarray(table, dtype=np.float32)
    if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 1:
        raise ValueError(f"table must be (N, V) with N, V >= 1, not {table.shape}")
    if np.isnan(table).any() or np.isposinf(table).any():
        raise ValueError("table entries must be finite or -inf")
    n, vocab = table.shape
    width = vocab + len(EXTRA)
    rows_of = np.where(np.arange(width) < n, np.arange(width), 0) if rows_of is None else np.asarray(rows_of)
    if rows_of.shape == (vocab,):
        rows_of = np.concatenate([rows_of, [0] * len(EXTRA)])
    if rows_of.shape != (width,) or rows_of.min() < 0 or rows_of.max() >= n:
        raise ValueError(f"rows_of must give each of the {vocab} tokens a row in [0, {n})")
    size = hidden_size(n, least_hidden)
    root = math.isqrt(size)
    scale = 2.0**12 * root
    embed = np.zeros((width, size), np.float32)
    embed[np.arange(width), rows_of] = scale
    head = np.zeros((width, size), np.float32)
    head[:vocab, :n] = np.where(np.isneginf(table), NEG, table).T
    head[vocab:, :] = NEG
    zeros = lambda *shape: np.zeros(shape, np.float32)  # noqa: E731
    layer = "model.layers.0."
    weights = {
        "model.embed_tokens.weight": embed, "lm_head.weight": head,
        "model.norm.weight": np.full(size, 1.0 / root, np.float32),
        layer + "input_layernorm.weight": np.ones(size, np.float32),
        layer + "post_attention_layernorm.weight": np.ones(size, np.float32),
        layer + "self_attn.q_proj.weight": zeros(size, size), layer + "self_attn.k_proj.weight": zeros(size, size),
        layer + "self_attn.v_proj.weight": zeros(size, size), layer + "self_attn.o_proj.weight": zeros(size, size),
        layer + "mlp.gate_proj.weight": zeros(size, size), layer + "mlp.up_proj.weight": zeros(size, size),
        layer + "mlp.down_proj.weight": zeros(size, size),
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(directory / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": size,
        "intermediate_size": size, "num_hidden_layers": 1, "num_attention_heads": 1, "num_key_value_heads": 1,
        "head_dim": size, "vocab_size": width, "rms_norm_eps": EPS, "max_position_embeddings": 65536,
        "rope_theta": 10000.0, "tie_word_embeddings": False, "hidden_act": "silu", "torch_dtype": "float32",
        "bos_token_id": vocab, "eos_token_id": vocab + 1,
    }
    if nope:
        config.update(architectures=["SmolLM3ForCausalLM"], model_type="smollm3", no_rope_layers=[0],
                      pad_token_id=vocab + 1)  # SmolLM3's default pad id (128004) lies outside the vocabulary
    (directory / "config.json").write_text(json.dumps(config, indent=1))
    (directory / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": vocab, "eos_token_id": vocab + 1}))  # no sampling defaults: the server's own apply
    tokenizer = Tokenizer(models.WordLevel({p: i for i, p in enumerate(pieces(vocab))}, unk_token="<s>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
        "unk_token": "<s>", "model_max_length": 65536, "clean_up_tokenization_spaces": False}))
    return directory
