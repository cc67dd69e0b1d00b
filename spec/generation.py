"""Re-export for one release (issue 24): the generic generation validator moved to
`spec.validator.generation`, the engines' loops and small models to `spec.engines.mlx_lm` and
`spec.engines.transformers`. Import from there."""

from spec.engines.mlx_lm import loop as mlx_lm_loop
from spec.engines.mlx_lm import speculative_loop as mlx_lm_speculative_loop
from spec.engines.mlx_lm import tiny_llama
from spec.engines.transformers import loop as hf_loop
from spec.engines.transformers import tiny_llama as tiny_hf_llama
from spec.validator.generation import (
    Loop,
    exact_joint,
    processed_logprobs,
    rejection_verify,
    speculative_loop,
    validate_generation,
)

__all__ = ["Loop", "exact_joint", "hf_loop", "mlx_lm_loop", "mlx_lm_speculative_loop", "processed_logprobs",
           "rejection_verify", "speculative_loop", "tiny_hf_llama", "tiny_llama", "validate_generation"]
