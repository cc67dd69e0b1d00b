"""What the validator's tests share: the false-alarm rate of one run of a correct sampler, and the CLI.

Every run of a correct sampler in the tests uses alpha = ALPHA_RUN, and there are about 200 such runs
(204 with every engine extra installed, 179 in CI), so they fail a correct sampler by chance with
probability below 4.08e-7 (Bonferroni over the runs; the suite's whole budget, 9.98e-7, is in
conftest.py). The count, slow tests included:
- test_validate.py 27: the zoo's 6 correct samplers, mlx-lm at 3 configurations and with its logits
  processors at 4, impl at those 4, 3 seeds x 3 samplers, the Hugging Face processors;
- test_zoo_transforms.py 12; the test_validator_*.py files about 30 (defects 10, history 4,
  contract 3, statistics 3, white-box 3, fingerprint 2, cli 2, calls 2, and a few more);
- test_engine_mlx_lm.py 9 (the grid's rows that must pass, 2 of them generation loops: the run gets
  11 x ALPHA_RUN, split over its 11 rows; generate_step twice); test_conformance.py 2 (the README's toy
  engine's grid);
- test_batch_same_key.py 3 (min-p with a row maximum, impl at 2 pipelines); test_spec.py 1 (the drift line);
  test_testing.py 1; test_validator_cuts.py 1;
- test_validator_generation.py 2 (a hand-written loop, the README's loop); test_speculative.py 1 (the
  exact verifier);
- with the engine extras: test_engine_transformers.py 16 (generate()'s processors at 7 configurations,
  the generate() loop twice, the transformers grid of 7), test_engine_vllm.py 8 (its grid of 6, its
  rejection sampler with expand fixed at 2 draft counts), test_engine_llama_cpp.py 8 (their grids, the
  known deviations not counted), each grid one row more for its no-seed check;
- test_engine_onnxruntime_genai.py 13 (its grid of 11, the generate() loop twice), test_engine_ctranslate2.py 9
  (its grid), and with the npm engines test_engine_transformers_js.py 15 (its grid) and
  test_engine_node_llama_cpp.py 14 (its grid of 10, the no-seed check, the generation loop);
- the served engines: test_engine_mlx_lm_server.py 4 (three grid rows and a deployment run, in CI; its
  proxies are broken servers), and with their extras test_engine_vllm_server.py 14 (its grid of 10, 2 more runs, the
  deployment run, a grid row on a running server) and test_engine_llama_cpp_server.py 11 (its grid of 9, 1 more
  run, the deployment run):
about 204 in all. (The samplers that own their generators, test_own_rng.py, have a share of their own.)
"""

import subprocess
import sys
from pathlib import Path

ALPHA_RUN = 4e-7 / 200
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=600, cwd=ROOT, env=None):
    """python -m spec.validate ARGS, captured."""
    return subprocess.run([sys.executable, "-m", "spec.validate", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def run_grid(name: str, version: str):
    """An engine's conformance grid at the quick profile, ALPHA_RUN per row, checked for what every
    engine's grid must show: each row in order, conforming or showing its documented deviation with a
    counterexample, and the release named. Returns (configs, rows) for the engine's own checks."""
    from spec import conformance
    from spec.engines import engines

    configs = engines()[name].configs
    rows = conformance.run([name], profile="quick", alpha=ALPHA_RUN * len(configs))
    assert [r.config for r in rows] == [c.label for c in configs]
    assert [r.verdict for r in rows] == ["known deviation" if c.known else "conforms" for c in configs], \
        conformance.markdown(rows)
    assert all(r.counterexample for r, c in zip(rows, configs, strict=True) if c.known)
    assert all(r.version.startswith(version) for r in rows)
    return configs, rows
