"""`python -m spec.conformance`: does each installed engine sample what it says, for the settings
people use? Every configuration of every engine module in `spec.engines` is validated (`spec.validate`) against the
engine's own preset, and the answers go into one table.

    python -m spec.conformance [--engines mlx-lm,transformers] [--profile quick|default|thorough]
                               [--alpha A] [--seed S] [--json FILE] [--markdown FILE] [--endpoint URL]

A served engine (mlx-lm-server, ...) is a server this command starts on 127.0.0.1 with the table
models and stops at the end, even on failure or Ctrl-C; with --endpoint URL and that one engine
named, the server already running at URL is validated instead.

Exit status: 0 when every configuration that ran conforms (a configuration that shows a documented
engine deviation, `spec.engines.Config.known`, must still fail, with its counterexample), 1 when one
does not, 2 on a usage error. A known deviation that no longer shows reads "not seen on <release>
(fixed upstream?)": on a release other than the one the preset models (drift, named in the
header) that is a finding to look at, not a failure (exit 0); on the modelled release itself it
means the documented deviation no longer reproduces where it was found, and the run fails (exit 1).
The run's false-alarm rate is at most --alpha (default 1e-6), split evenly over the rows. Rows
marked with a loop check the engine's generation loop end to end (`spec.validate_generation`); rows
marked unseeded check that with no seed the draws differ across calls and new processes
(`spec.validator.unseeded`).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import pickle
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from spec import presets
from spec.engines import Config, Engine, engines
from spec.errors import InvalidParameter
from spec.validator import validate
from spec.validator.generation import validate_generation
from spec.validator.unseeded import unseeded

PROMPT = [1, 2, 3]  # the generation loops' prompt on the small model
# Seconds one configuration takes, measured on this project's machine (2 cores, mlx-lm grid, idle):
# quick 88 s and default 23.6 min for its 10 rows. A guide printed before a run, not a promise.
ROW_SECONDS = {"quick": 9, "default": 140}
FIXED_UPSTREAM = "(fixed upstream?)"  # a known deviation not seen on a drifted release: reported, exit 0

@dataclass
class Row:
    engine: str
    version: str
    config: str
    params: str
    verdict: str  # conforms | DOES NOT CONFORM | known deviation | skipped | error
    check: str = ""  # the check that failed
    counterexample: str = ""
    fingerprint: str = ""
    seconds: float = 0.0


def _brief(failure) -> str:
    ce = failure.counterexample
    if ce:
        return f"{ce.get('label', 'row')} {ce['row']}: spec {ce['spec']}; engine {ce['sampler']}"
    return failure.message


def check(engine: Engine, config: Config, *, profile: str, alpha: float, seed: int, progress=None) -> Row:
    """One configuration of one engine, validated against the engine's preset."""
    row = Row(engine.name, engine.version(), config.label, config.shown(), "error")
    start = time.perf_counter()
    try:
        pipeline = presets.PRESETS[engine.preset](**config.params)
        if config.unseeded and not getattr(sys.modules[engine.sampler.__module__], "restartable", lambda: True)():
            row.verdict, row.check = "skipped", "needs new server processes: --endpoint validates one running server"
            return row
        if config.unseeded:  # no seed: fresh draws per call, and per new process
            report = unseeded(engine.sampler(**config.params), pipeline, alpha=alpha, seed=seed,
                              fresh=functools.partial(fresh_draw, engine.name, config.params))
            if not report.checks:  # a deterministic configuration: no pass without a check
                raise ValueError(report.skipped[0])
        elif config.loop:  # a generation loop, end to end, on a small random model
            loop, next_logits = engine.generation(config.loop, **config.params)
            report = validate_generation(loop, next_logits, PROMPT, pipeline, yields=config.yields, profile=profile,
                                         alpha=alpha, seed=seed)
        else:
            report = validate(engine.sampler(**config.params), pipeline, profile=profile, alpha=alpha, seed=seed,
                              progress=progress)
    except (InvalidParameter, TypeError, ValueError, RuntimeError) as e:  # the engine or the preset refused
        row.check = f"{type(e).__name__}: {e}"
        row.seconds = time.perf_counter() - start
        return row
    row.seconds = time.perf_counter() - start
    row.verdict = "conforms" if report.passed else "known deviation" if config.known else "DOES NOT CONFORM"
    if report.failures:
        row.check, row.counterexample = report.failures[0].check, _brief(report.failures[0])
        if config.known:
            row.check += f" (known: {config.known})"
    elif config.known:
        found = presets.releases(engine.preset)
        drifted = found is not None and found[2] not in (None, found[1])
        row.verdict = (f"not seen on {engine.version()} " + (FIXED_UPSTREAM if drifted else
                       "(the release the preset models: the documented deviation no longer reproduces)"))
        row.check = (f"known: {config.known}; every check passed: {len(report.checks)} checks, "
                     f"{report.draws:,} draws")
    row.fingerprint = report.fingerprint.get("summary", "")
    return row


def fresh_draw(name: str, params: dict, rows) -> list[int]:
    """One unseeded call of an engine's sampler in a new Python process (nothing of this process's
    random state is inherited): the tokens it returns."""
    child = "from spec.engines.conformance import _draw_once; _draw_once()"
    done = subprocess.run([sys.executable, "-c", child], input=pickle.dumps((name, params, rows)),
                          capture_output=True, timeout=600)
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"a new process drawing from {name} failed: {last}")
    return pickle.loads(done.stdout)


def _draw_once():
    name, params, rows = pickle.load(sys.stdin.buffer)
    sampler = engines()[name].sampler(**params)
    tokens = [int(t) for t in sampler.host(sampler(sampler.to_array(rows), None)).ravel()]
    sys.stdout.buffer.write(pickle.dumps(tokens))


def run(names=None, *, profile: str = "default", alpha: float = 1e-6, seed: int = 0, log=None) -> list[Row]:
    """Every configuration of every named engine (default: all); engines not installed are rows
    that say how to install them. `log(line)` hears each row as it starts and ends."""
    log = log or (lambda line: None)
    table = engines()
    chosen = [table[n] for n in (names or table)]
    todo = [(e, c) for e in chosen if e.installed() for c in e.configs]
    share = alpha / max(1, len(todo))
    rows = []
    for e in chosen:
        if not e.installed():
            missing = ", ".join(e.missing())
            rows.append(Row(e.name, f"not installed (no {missing})", "(all)", "", "skipped",
                            f"not installed: {e.install}"))
            log(f"{e.name}: not installed ({e.install})")
    per_row = ROW_SECONDS.get(profile)
    log(f"{len(todo)} configurations at the {profile} profile: "
        + (f"expect about {_duration(per_row * len(todo))} (about {per_row} s each on 2 idle cores)" if per_row else
           "no measured figure for this profile (it draws 8x the default's: expect hours)"))
    start = time.perf_counter()
    for i, (e, c) in enumerate(todo, 1):
        where = f"[{i}/{len(todo)}] {e.name}: {c.label}"
        log(f"{where} ...")
        row = check(e, c, profile=profile, alpha=share, seed=seed, progress=_stages(log, where))
        log(f"{where}: {row.verdict} in {row.seconds:.1f} s ({_duration(time.perf_counter() - start)} so far)")
        rows.append(row)
    return rows


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _stages(log, where: str):
    """A validator progress callback that logs a line each time a new check starts, with its time."""
    start, last = time.perf_counter(), [""]

    def tick(text: str):
        stage = text.split(":")[0].split(" (")[0]
        if stage != last[0]:
            last[0] = stage
            log(f"{where}:   {stage} (from {time.perf_counter() - start:.1f} s)")
    return tick


def markdown(rows: list[Row], header: str = "") -> str:
    lines = [header] if header else []
    lines += ["| engine | version | configuration | verdict | failed check | counterexample | fingerprint | time |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r.engine, r.version, f"{r.config} (`{r.params}`)" if r.params else r.config, r.verdict, r.check,
                 r.counterexample, r.fingerprint, f"{r.seconds:.1f} s" if r.seconds else ""]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    table = engines()
    parser = argparse.ArgumentParser(prog="python -m spec.conformance", description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default=",".join(table),
                        help=f"comma-separated, from: {', '.join(table)} (default: all)")
    parser.add_argument("--profile", default="default", choices=("quick", "default", "thorough"),
                        help="how many draws per configuration (default: default)")
    parser.add_argument("--alpha", type=float, default=1e-6, help="false-alarm rate of the whole run (default: 1e-6)")
    parser.add_argument("--seed", type=int, default=0, help="the runs' random keys and rows (default: 0)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON (default: none)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown (default: none)")
    parser.add_argument("--endpoint", metavar="URL",
                        help="validate the server running at URL (one served engine in --engines; default: start one)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    unknown = [n for n in names if n not in table]
    if unknown or not names:
        parser.error(f"unknown engine {', '.join(unknown) or '(none given)'}; choose from {', '.join(table)}")
    if args.endpoint:
        point(parser, [table[n] for n in names], args.endpoint)
    if not 0 < args.alpha < 1:
        parser.error(f"--alpha must be in (0, 1), not {args.alpha}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, not {args.seed}")
    for path in (args.json, args.markdown):
        if path:
            try:
                open(path, "a").close()
            except OSError as e:
                parser.error(f"cannot write {path}: {e.strerror}")
    start = time.perf_counter()
    rows = run(names, profile=args.profile, alpha=args.alpha, seed=args.seed,
               log=lambda line: print(line, file=sys.stderr, flush=True))
    took = time.perf_counter() - start
    header = (f"Conformance run of {datetime.date.today()}, profile {args.profile}, alpha {args.alpha:g} over "
              f"{sum(r.verdict != 'skipped' for r in rows)} configurations, seed {args.seed}, "
              f"{took:.0f} s ({platform.machine()}, Python {platform.python_version()}).\n\n"
              + "\n".join(f"- {line}" for line in releases(names)) + "\n")
    table = markdown(rows, header)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"profile": args.profile, "alpha": args.alpha, "seed": args.seed, "seconds": took,
                       "releases": releases(names),
                       "rows": [asdict(r) for r in rows]}, f, indent=2)
    return 0 if all(passes(r) for r in rows) else 1


def point(parser, chosen: list[Engine], url: str):
    """--endpoint: the one served engine named validates the server at `url` (usage errors exit 2)."""
    from spec.engines import endpoints

    running = {p for p, module in endpoints().items() if hasattr(module, "use")}  # not only a deployment's rows
    if len(chosen) != 1 or chosen[0].preset not in running:
        parser.error(f"--endpoint validates one served engine: name exactly one of "
                     f"{', '.join(e.name for e in engines().values() if e.preset in running)} in --engines")
    module = endpoints()[chosen[0].preset]
    module.use(url)
    try:
        module.probe()
    except Exception as e:  # noqa: BLE001 - a bad endpoint is a usage problem, in one line
        parser.error(f"--endpoint {url}: {e}")


def passes(row: Row) -> bool:
    """Conforms, shows its known deviation, is skipped, or stopped showing it on a drifted release."""
    return row.verdict in ("conforms", "known deviation", "skipped") or (
        row.verdict.startswith("not seen on") and row.verdict.endswith(FIXED_UPSTREAM))


def releases(names) -> list[str]:
    """A line per engine: what it modelled against what is installed (presets.drift), first in the report."""
    table = engines()
    return [f"{table[n].name}: {presets.drift(table[n].preset) or 'the preset models no numbered release'}; "
            f"installed: {table[n].version()}" for n in names]

