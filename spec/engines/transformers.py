"""Hugging Face transformers (https://github.com/huggingface/transformers, extra [hf]): the logits
processors and warpers `generate(do_sample=True)` runs, its generate() loop on a small random
model, and the grid `python -m spec.conformance` runs. Everything calls the installed package; what
it must sample is the spec's `hf` preset."""

from __future__ import annotations

from spec.engines.engine import Config, Engine, version
from spec.transforms import History
from spec.validator.generation import Loop
from spec.validator.sampler import Sampler

INF = float("inf")


def from_processors(processors, name: str = "") -> Sampler:
    """Hugging Face logits processors and warpers followed by softmax and `torch.multinomial`, as
    `generate(do_sample=True)` samples (transformers 5.24.0, generation/utils.py `_sample`: the
    logits cast to float32, `next_token_scores = logits_processor(input_ids, next_token_logits)`,
    `probs = softmax(next_token_scores)`, `torch.multinomial(probs, num_samples=1)` from torch's
    global random state, seeded before each call). The processors' output is the white-box view.

    `processors`: a `LogitsProcessorList`, copied afresh for each call (generate() builds its list
    once per call, and SequenceBiasLogitsProcessor fixes the vocabulary size at its first call), or
    a function `input_ids -> LogitsProcessorList` that builds one. `input_ids` is each row's
    prompt + output; rows with the same tokens are processed together, as one (n, L) batch, since
    generate() runs one input_ids tensor of one length per batch."""
    import copy

    import torch

    pristine = copy.deepcopy(processors) if isinstance(processors, list) else None

    def filtered(scores, history=None):
        scores = scores.to(torch.float32)
        groups = {}
        for b in range(scores.shape[0]):
            seen = history[b] if history else History()
            groups.setdefault(seen.prompt + seen.output, []).append(b)
        out = torch.empty_like(scores)
        for tokens, rows in groups.items():
            input_ids = torch.tensor([list(tokens)] * len(rows), dtype=torch.long).reshape(len(rows), len(tokens))
            chain = copy.deepcopy(pristine) if pristine is not None else processors(input_ids)
            out[rows] = chain(input_ids, scores[rows].clone())
        return out

    def sample(scores, history=None):
        probs = torch.nn.functional.softmax(filtered(scores, history), dim=-1)
        return torch.multinomial(probs, num_samples=1).squeeze(1)

    shown = ([type(p).__name__ for p in pristine] if pristine is not None
             else f"{getattr(processors, '__module__', '?')}:"
                  f"{getattr(processors, '__qualname__', type(processors).__name__)}")
    return Sampler(sample, "torch", "global", filtered, name=name or f"transformers processors {shown}",
                   history=True, input="logits")


def generation_config(**params):
    """The GenerationConfig that `generate(do_sample=True, **params)` runs with on a model with no
    generation defaults of its own (transformers 5.24.0, `_prepare_generation_config`: the global
    defaults `GenerationConfig._get_default_generation_params()` fill what is unset, then the
    keyword arguments are applied, an explicit None included, and the config is validated).
    `sequence_bias` {token or (tokens,): bias} is passed as its documented [[ids], bias] list."""
    from transformers import GenerationConfig

    bias = params.get("sequence_bias")
    if bias is not None:
        params["sequence_bias"] = [[list(k) if isinstance(k, tuple | list) else [int(k)], float(v)]
                                   for k, v in bias.items()]
    config = GenerationConfig()
    config.update(**GenerationConfig._get_default_generation_params(), defaults_only=True)
    config.update(do_sample=True, **params)
    return config


def logits_processor(config, input_ids):
    """`GenerationMixin._get_logits_processor` for `config` and a decoder-only model, as generate()
    calls it for `input_ids` (an all-ones attention mask: no padding, so the repetition penalty
    counts the whole prompt; none for an empty input_ids, as with inputs_embeds alone)."""
    import warnings
    from types import SimpleNamespace

    import torch
    from transformers.generation import GenerationMixin

    class _DecoderOnly(GenerationMixin):  # _get_logits_processor reads only config.is_encoder_decoder of the model
        config = SimpleNamespace(is_encoder_decoder=False)

    with warnings.catch_warnings():  # an empty input_ids (no history) warns that only new tokens are penalised
        warnings.filterwarnings("ignore", message=".*repetition_penalty.*without `input_ids`")
        return _DecoderOnly()._get_logits_processor(
            config, input_ids_seq_length=input_ids.shape[1], encoder_input_ids=input_ids, device="cpu",
            model_kwargs={"attention_mask": torch.ones_like(input_ids)} if input_ids.shape[1] else None)


def sampler(temperature: float = 1.0, top_k: int | None = 50, top_p: float | None = 1.0,
               min_p: float | None = None, min_tokens_to_keep: int = 1, typical_p: float | None = 1.0,
               epsilon_cutoff: float | None = 0.0, eta_cutoff: float | None = 0.0,
               repetition_penalty: float | None = 1.0, sequence_bias: dict | None = None) -> Sampler:
    """What `generate(do_sample=True, ...)` samples with for these parameters (every parameter of the
    hf preset): the processors that `GenerationMixin._get_logits_processor` selects from the
    GenerationConfig (transformers 5.24.0: sequence_bias, repetition_penalty, then the warpers
    temperature, top-k, top-p, min-p, typical, epsilon, eta), then `torch.multinomial` (see
    `from_processors`).
    A factory for the `hf` preset.

    generate() gives its warpers min_tokens_to_keep=1 when it samples without beams, and has no
    parameter for it; another min_tokens_to_keep builds the same warpers in the same order by hand,
    each given min_tokens_to_keep."""
    given = dict(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, typical_p=typical_p,
                 epsilon_cutoff=epsilon_cutoff, eta_cutoff=eta_cutoff, repetition_penalty=repetition_penalty,
                 sequence_bias=sequence_bias)
    config = generation_config(**given)
    name = (f"{version('transformers')} generate(do_sample=True, " + ", ".join(f"{k}={v}" for k, v in given.items())
            + (f", warpers' min_tokens_to_keep={min_tokens_to_keep}" if min_tokens_to_keep != 1 else "") + ")")
    if min_tokens_to_keep == 1:
        return from_processors(lambda input_ids: logits_processor(config, input_ids), name=name)
    return from_processors(_by_hand(config, min_tokens_to_keep), name=name)


def _by_hand(config, min_tokens_to_keep: int):
    """_get_logits_processor's choice and order for the parameters of the hf preset, each warper
    given min_tokens_to_keep."""
    from transformers import generation as g

    processors = []
    if config.sequence_bias is not None:
        processors.append(g.SequenceBiasLogitsProcessor(sequence_bias=config.sequence_bias))
    if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
        processors.append(g.RepetitionPenaltyLogitsProcessor(config.repetition_penalty))
    if config.temperature is not None and config.temperature != 1.0:
        processors.append(g.TemperatureLogitsWarper(config.temperature))
    if config.top_k is not None and config.top_k != 0:
        processors.append(g.TopKLogitsWarper(top_k=config.top_k, min_tokens_to_keep=min_tokens_to_keep))
    if config.top_p is not None and config.top_p < 1.0:
        processors.append(g.TopPLogitsWarper(top_p=config.top_p, min_tokens_to_keep=min_tokens_to_keep))
    if config.min_p is not None:
        processors.append(g.MinPLogitsWarper(min_p=config.min_p, min_tokens_to_keep=min_tokens_to_keep))
    if config.typical_p is not None and config.typical_p < 1.0:
        processors.append(g.TypicalLogitsWarper(mass=config.typical_p, min_tokens_to_keep=min_tokens_to_keep))
    if config.epsilon_cutoff is not None and 0.0 < config.epsilon_cutoff < 1.0:
        processors.append(g.EpsilonLogitsWarper(epsilon=config.epsilon_cutoff, min_tokens_to_keep=min_tokens_to_keep))
    if config.eta_cutoff is not None and 0.0 < config.eta_cutoff < 1.0:
        processors.append(g.EtaLogitsWarper(epsilon=config.eta_cutoff, min_tokens_to_keep=min_tokens_to_keep))
    return g.LogitsProcessorList(processors)


def tiny_llama(vocab: int = 16, seed: int = 2):
    """A small randomly initialised transformers LlamaForCausalLM (no download), float32 on the CPU:
    hidden size 16, one layer, one head. Returns (model, next_logits)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=1, num_key_value_heads=1, bos_token_id=None, eos_token_id=None,
                         pad_token_id=None)
    model = LlamaForCausalLM(config).eval()

    def next_logits(tokens):
        with torch.no_grad():
            return model(torch.tensor([tokens])).logits[0, -1].double().numpy()
    return model, next_logits


def loop(model, steps: int = 2, **params) -> Loop:
    """transformers' own `generate(do_sample=True, **params)` for `steps` new tokens, seeded with
    torch.manual_seed; yields each token with the log-softmax of its output score (the processed,
    warped scores it drew from: yields="final")."""
    import torch

    def generate(prompt, seed):
        torch.manual_seed(seed)
        ids = torch.tensor([prompt])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, max_new_tokens=steps,
                             min_new_tokens=steps, output_scores=True, return_dict_in_generate=True, **params)
        for k, score in enumerate(out.scores):
            yield int(out.sequences[0, len(prompt) + k]), torch.log_softmax(score[0].double(), -1).numpy()
    generate.__name__ = f"transformers generate(do_sample=True, {', '.join(f'{k}={v}' for k, v in params.items())})"
    return generate


ENGINE = Engine(
    "transformers", "hf", ("transformers", "torch"), ("torch", "transformers"),
    'pip install -e ".[test,hf]" -c tests/constraints.txt', sampler, (
        Config("defaults (temperature 1, top-k 50)"),
        Config("temperature 0.7 + top-p 0.9", {"temperature": 0.7, "top_p": 0.9}),
        Config("no seed: temperature 0.7 + top-p 0.9", {"temperature": 0.7, "top_p": 0.9}, unseeded=True),
        Config("top-k 40 + top-p 0.95 + temperature 0.8", {"temperature": 0.8, "top_k": 40, "top_p": 0.95}),
        Config("min-p 0.05", {"min_p": 0.05}),
        Config("repetition 1.2 + sequence bias", {"repetition_penalty": 1.2, "sequence_bias": {1: 2.0, 5: -INF}}),
        Config("typical-p 0.9", {"typical_p": 0.9}),
        Config("eta 0.001", {"eta_cutoff": 1e-3}),
    ), rank=1)
