"""What the validator's tests share: the false-alarm rate of one run of a correct sampler, and the CLI.

Every run of a correct sampler in the tests uses alpha = ALPHA_RUN, and there are fewer than 100 such
runs, so they fail a correct sampler by chance with probability below 4e-7 (Bonferroni over the
runs; the suite's whole budget is in conftest.py).
"""

import subprocess
import sys
from pathlib import Path

ALPHA_RUN = 4e-7 / 100
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=600, cwd=ROOT, env=None):
    """python -m spec.validate ARGS, captured."""
    return subprocess.run([sys.executable, "-m", "spec.validate", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
