"""Re-export for one release (issue 24): vLLM's rejection sampler as a verifier moved to
`spec.engines.vllm.verifier`. Import from there."""

from spec.engines.vllm import verifier as vllm_verify

__all__ = ["vllm_verify"]
