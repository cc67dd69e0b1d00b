"""mlx reference implementation of the spec's samplers: `make_sampler(pipeline)`,
`make_sampler_from(preset, **params)` and `filter(logits, pipeline)`."""

from impl.sampler import filter, gumbel_max, make_sampler, make_sampler_from

__all__ = ["filter", "gumbel_max", "make_sampler", "make_sampler_from"]
