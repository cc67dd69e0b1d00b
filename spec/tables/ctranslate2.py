"""The logits-table model in CTranslate2's own format (a directory with model.bin, config.json and
vocabulary.json), written through `ctranslate2.specs` (the converters' model-spec API: no torch,
no transformers). Written against the installed ctranslate2 4.8.5 (ctranslate2/specs/transformer_spec.py,
model_spec.py); tests/test_engine_ctranslate2.py checks with `Generator.forward_batch` that the
logits are the rows bit for bit, at V = 5 and V = 151,936.

The model is a `TransformerDecoderModelSpec`: one pre-norm layer, one head, RMS norms with
epsilon 0, rotary positions (so no position encodings are added to the embeddings), every
attention and feed-forward matrix zero (each sublayer adds an exact 0 to the residual), unscaled
embeddings. Token t's embedding is the one-hot vector of its table row, the final RMS norm maps
it to itself (hidden size R a power of 4: sqrt(1/R) is a power of two, gamma = 1/sqrt(R)), and
the output projection's column c is table row c. So the logits after token t are row rows_of[t],
bit for bit, whatever came before t. The vocabulary is "t0" ... "t{V-1}"; its unknown, start and
end tokens are none of them (CTranslate2 appends "<unk>" at id V), so no output token is special.
"""

from __future__ import annotations

import numpy as np

MASKED = -1e30  # stands for -inf: a weight of -inf would make 0 * -inf = NaN in the projection


def hidden_size(rows: int) -> int:
    """The smallest power of 4 (at least 4) with room for `rows` one-hot columns."""
    size = 4
    while size < rows:
        size *= 4
    return size


def tokens(vocab: int) -> list[str]:
    """The vocabulary's token strings: generate_batch takes tokens, not ids."""
    return [f"t{i}" for i in range(vocab)]


def write(table: np.ndarray, directory: str, rows_of=None) -> str:
    """Write the model whose next-token logits after token t are table[rows_of[t]] (default:
    row t for t < len(table), row 0 for the other tokens) into `directory`; returns it.
    table: (N, V) logits, N <= V; -inf entries are stored as MASKED; NaN and +inf are refused."""
    from ctranslate2.specs import common_spec, transformer_spec

    table = np.asarray(table, dtype=np.float32)
    if table.ndim != 2 or not 1 <= table.shape[0] <= table.shape[1]:
        raise ValueError(f"table must be (N, V) with 1 <= N <= V, not {table.shape}")
    if np.isnan(table).any() or np.isposinf(table).any():
        raise ValueError("table entries must be finite or -inf")
    n, vocab = table.shape
    rows_of = np.where(np.arange(vocab) < n, np.arange(vocab), 0) if rows_of is None else np.asarray(rows_of)
    if rows_of.shape != (vocab,) or rows_of.min() < 0 or rows_of.max() >= n:
        raise ValueError(f"rows_of must give each of the {vocab} tokens a row in [0, {n})")
    size = hidden_size(n)
    spec = transformer_spec.TransformerDecoderModelSpec.from_config(
        1, 1, pre_norm=True, rms_norm=True, rotary_dim=0, activation=common_spec.Activation.RELU)
    decoder = spec.decoder
    zeros = lambda *shape: np.zeros(shape, np.float32)  # noqa: E731
    embeddings = zeros(vocab, size)
    embeddings[np.arange(vocab), rows_of] = 1.0
    decoder.embeddings.weight = embeddings
    decoder.scale_embeddings = False
    decoder.layer_norm.gamma = np.full(size, 1 / np.sqrt(size), np.float32)  # exact: size is a power of 4
    projection = zeros(vocab, size)
    projection[:, :n] = np.where(np.isneginf(table), MASKED, table).T
    decoder.projection.weight = projection
    layer = decoder.layer[0]
    layer.self_attention.layer_norm.gamma = np.ones(size, np.float32)
    layer.self_attention.linear[0].weight = zeros(3 * size, size)
    layer.self_attention.linear[1].weight = zeros(size, size)
    layer.ffn.layer_norm.gamma = np.ones(size, np.float32)
    layer.ffn.linear_0.weight = zeros(size, size)
    layer.ffn.linear_1.weight = zeros(size, size)
    spec.config.layer_norm_epsilon = 0.0
    spec.register_vocabulary(tokens(vocab))
    spec.validate()
    spec.save(directory)
    return directory
