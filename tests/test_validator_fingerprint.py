"""The fingerprint (spec/validator/fingerprint.py) and the cases (cases.py).

False alarms: every run of a correct sampler uses alpha = ALPHA_RUN (tests/validating.py); the suite's
budget is in conftest.py. Each run is seeded: the verdicts are fixed.
"""

import numpy as np
from validating import ALPHA_RUN

import impl
import spec
from spec import presets
from spec.engines import mlx_lm
from spec.validator import Case


def test_fingerprint_tells_temperature_order_apart():
    params = dict(temp=0.7, top_p=0.9)
    report = spec.validate(mlx_lm.sampler(**params), presets.mlx_lm(**params), input="logprobs", profile="quick",
                           alpha=ALPHA_RUN)
    fp = report.fingerprint
    assert "mlx_lm" in fp["consistent"] and "hf" not in fp["consistent"] and fp["rows"]
    hf_like = impl.make_sampler(presets.hf(temperature=0.7, top_k=0, top_p=0.9))
    fp = spec.validate(hf_like, presets.hf(temperature=0.7, top_k=0, top_p=0.9), profile="quick",
                       alpha=ALPHA_RUN).fingerprint
    assert "hf" in fp["consistent"] and "mlx_lm" not in fp["consistent"]


def test_cases_are_deterministic():
    from spec.validator import cases
    a, b = cases(3), cases(3)
    assert all(np.array_equal(x.rows, y.rows) for x, y in zip(a, b, strict=True))
    assert all(isinstance(c, Case) for c in a)
