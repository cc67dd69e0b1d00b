"""`python -m spec.validate ...`: the validator's command line (spec/validator/__main__.py), given the
engines' own factories (`spec.engines.factories()`: mlx-lm's make_sampler gets white-box access)
and the served engines `--endpoint` can point at (`spec.engines.endpoints()`).

Only to be run, not imported: `spec.validate` is the function (`spec.validator.validate`), and
importing a module of the same name would rebind it."""

import sys

if __name__ != "__main__":
    raise ImportError("spec.validate is the function spec.validator.validate; the command line is "
                      "`python -m spec.validate` (its code: spec.validator.__main__)")

from spec.engines import endpoints, factories  # noqa: E402
from spec.validator.__main__ import main  # noqa: E402

sys.exit(main(factories=factories(), entry="spec.validate", endpoints=endpoints()))
