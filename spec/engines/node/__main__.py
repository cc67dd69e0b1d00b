"""`python -m spec.engines.node install`: the npm engines at the exact versions of package.json and
package-lock.json, into spec/engines/node/node_modules. `npm install` with the lock file rather than
`npm ci`: `npm ci` refuses a lock file that lacks optional packages the registry here does not carry
(node-llama-cpp 3.22.1's mac and win binaries), while `npm install` installs what the lock names and
skips those. `--ignore-scripts`: install scripts would download binaries from outside the npm registry
(onnxruntime-node's postinstall); the engines' prebuilt binaries come as npm packages and need no script."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from spec.engines.node.bridge import HERE


def command() -> list[str]:
    """npm's command line (it writes the lock file only when package.json has changed)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise SystemExit("node/npm not found on PATH: install Node.js >= 18 with npm (e.g. apt-get install nodejs npm)")
    return [npm, "install", "--save-exact", "--ignore-scripts", "--no-audit", "--no-fund"]


def main(argv: list[str]) -> int:
    if argv != ["install"]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    start = time.monotonic()
    done = subprocess.run(command(), cwd=HERE)
    if done.returncode:
        print(f"npm failed (exit code {done.returncode}) in {HERE}", file=sys.stderr)
        return done.returncode
    print(f"npm engines installed into {HERE / 'node_modules'} in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
