"""`python -m spec.conformance`: the conformance run's command line (its code: spec/engines/conformance.py).

Also a re-export for one release (issue 24): the runner's names moved to `spec.engines.conformance`."""

import sys

from spec.engines.conformance import FIXED_UPSTREAM, ROW_SECONDS, Row, check, main, markdown, passes, releases, run

__all__ = ["FIXED_UPSTREAM", "ROW_SECONDS", "Row", "check", "main", "markdown", "passes", "releases", "run"]

if __name__ == "__main__":
    sys.exit(main())
