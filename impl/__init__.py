"""mlx reference implementation of the samplers (not yet written: see the implementation issue)."""
