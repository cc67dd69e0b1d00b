"""Re-export for one release (issue 24): the calling convention moved to `spec.validator.sampler`,
and each engine's adapter to its module in `spec.engines` (`spec.engines.mlx_lm.sampler`,
`spec.engines.transformers.sampler` and `.from_processors`, `spec.engines.vllm.sampler`,
`spec.engines.llama_cpp.sampler`). The validator imports no engine, so those are not re-exported here."""

from spec.validator.sampler import ARRAYS, Sampler, as_sampler, detect_array, installed

__all__ = ["ARRAYS", "Sampler", "as_sampler", "detect_array", "installed"]
