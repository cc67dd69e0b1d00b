"""What the validator's tests share: the false-alarm rate of one run of a correct sampler, and the CLI.

Every run of a correct sampler in the tests uses alpha = ALPHA_RUN, and there are fewer than 150 such
runs (with every engine extra installed), so they fail a correct sampler by chance with probability
below 4e-7 (Bonferroni over the runs; the suite's whole budget is in conftest.py). The count, slow
tests included:
- test_validate.py 27: the zoo's 6 correct samplers, mlx-lm at 3 configurations and with its logits
  processors at 4, impl at those 4, 3 seeds x 3 samplers, the Hugging Face processors;
- test_zoo_transforms.py 12; the test_validator_*.py files about 30 (defects 10, history 4,
  contract 3, statistics 3, white-box 3, fingerprint 2, cli 2, calls 2, and a few more);
- test_conformance.py 6 (the mlx-lm grid's rows that must pass; the run gets 10 x ALPHA_RUN, split over
  its 10 rows);
- test_batch_same_key.py 3 (min-p with a row maximum, impl at 2 pipelines); test_spec.py 1 (the drift line);
  test_testing.py 1; test_validator_cuts.py 1;
- test_generation.py 4 (mlx-lm's generate_step twice, a hand-written loop, the README's loop);
  test_speculative.py 1 (the exact verifier); test_conformance.py's mlx-lm grid includes 2 generation loops;
- with the engine extras: test_hf_engine.py 16 (generate()'s processors at 7 configurations, the
  generate() loop twice, the transformers grid of 7), test_vllm_engine.py 6, test_vllm_speculative.py 2,
  test_llama_cpp_engine.py 8 (their grids, the known deviations not counted):
about 120 in all. (The samplers that own their generators, test_own_rng.py, have a share of their own.)
"""

import subprocess
import sys
from pathlib import Path

ALPHA_RUN = 4e-7 / 150
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=600, cwd=ROOT, env=None):
    """python -m spec.validate ARGS, captured."""
    return subprocess.run([sys.executable, "-m", "spec.validate", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
