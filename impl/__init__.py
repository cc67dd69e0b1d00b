"""mlx reference implementation of the spec's samplers: `make_sampler(pipeline)` (a sampler
`sampler(logits, key=None, history=None)`), `make_sampler_from(preset, **params)` and
`filter(logits, pipeline, history=None, key=None)` (the keep-set; with XTC, the branch the sampler
with that key takes). `history` is what the penalties read, as `spec.target` takes it: for a
(B, V) batch one `spec.History(prompt, output)` (or token-id sequence) per row."""

from impl.race import gumbel_max
from impl.sampler import filter, make_sampler, make_sampler_from

__all__ = ["filter", "gumbel_max", "make_sampler", "make_sampler_from"]
