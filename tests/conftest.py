"""Hypothesis runs derandomized: the same examples on every run, so CI cannot flake on a new draw.
(Set HYPOTHESIS_PROFILE=explore to search with fresh random examples locally.)"""

import os

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
