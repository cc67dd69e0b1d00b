"""Command line: python -m spec.validate MODULE:ATTR [--factory] [--preset NAME] [--temperature T]
[--top-k K] [--top-p P] [--min-p M] [--logit-bias TOKEN:BIAS,...] [--repetition-penalty R]
[--presence-penalty P] [--frequency-penalty F] [--typical-p P] [--epsilon-cutoff E] [--eta-cutoff E]
[--top-n-sigma N] [--xtc-probability P] [--param NAME=VALUE ...] [--input logits|logprobs] [--array A]
[--one-row] [--profile ...] [--alpha A] [--seed S] [--timeout S] [--json FILE]
[--endpoint URL [--model NAME (--prompt IDS | --prompt-text TEXT) ...]]

    python -m spec.validate mlx_lm.sample_utils:make_sampler --factory --preset mlx-lm --temperature 0.7 --top-p 0.9

Without --factory, ATTR is the sampler itself; with it, ATTR is called with every engine parameter
of the preset (mlx-lm: temp, top_p, ..., logit_bias, repetition_penalty, ...) to build the
sampler, an untyped one at the preset's default, which the spec assumes too (Hugging Face: top_k
50). One flag per registered transform, in the common names (--logit-bias 5:-inf,7:2.5 is a
mapping); --param NAME=VALUE (repeatable) sets an engine-only parameter of the preset, passed to
the preset and to the factory (mlx-lm: xtc_threshold=0.2, xtc_special_tokens=1,2,
repetition_context_size=64; llama.cpp: min_keep, penalty_last_n; version=0.19 for the preset only).
A server instead of MODULE:ATTR: --endpoint URL --preset <served engine> validates it on exact
rows (table models the server loads: mlx-lm-server, llama-cpp-server), and with --model NAME
--prompt IDS (repeatable) a model it already serves, on its own rows (vllm-server: the whole row;
servers that take --prompt-text TEXT: mlx-lm-server, its top 11 log-probabilities, and
llama-cpp-server, every token's by text, where those decide the target; spec.validator.deployment);
a bad endpoint is a usage problem (exit 2, one line).
Exit 0: conforms; 1: does not conform (the report says why); 2: a usage or import problem, in one
line. The sampler runs in a child process, so a sampler that ends the process (os._exit) or
crashes it cannot pass.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spec import presets
from spec.errors import InvalidParameter
from spec.transforms import REGISTRY, LogitBias
from spec.validator import PROFILES, Family, validate
from spec.validator.sampler import ARRAYS, as_sampler

TAKES_LOGPROBS = ("mlx_lm", "tiny_llm")  # engines that hand their sampler z - logsumexp(z)
DEFAULT_PRESET = "reference"
VERDICT_FILE = "SPEC_VALIDATE_VERDICT_FILE"  # set in the child: where it writes its exit status
STARTED = "SPEC_VALIDATE_STARTED"  # set in the child: when the command started (time.time())


class Usage(Exception):  # noqa: N818 - a one-line usage problem, exit 2
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage block
        raise Usage(message)


def resolve(path: str):
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise Usage(f"expected MODULE:ATTR (e.g. mlx_lm.sample_utils:make_sampler), got {path!r}")
    try:
        obj = importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001 - any import failure is a usage problem
        raise Usage(f"cannot import module {module_name!r}: {type(e).__name__}: {e}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise Usage(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


class Progress:
    """A one-line progress bar on stderr, shown once a run has taken more than two seconds."""

    STAGES = ("contract", "white-box", "structure", "coupling", "statistics", "batch independence", "batch same-key",
              "fingerprint")  # in the order the tiers tick them (spec.validator.TIERS)

    def __init__(self, stream=sys.stderr, after: float = 2.0):
        self.stream, self.after, self.start, self.shown, self.last = stream, after, time.monotonic(), False, 0.0
        self.stage = 1

    def __call__(self, text: str):
        # the bar only moves forward: a tick that names no later stage keeps the current one
        self.stage = max(self.stage, next((i for i, s in enumerate(self.STAGES, 1) if text.startswith(s)), 1))
        now = time.monotonic() - self.start
        tty = self.stream.isatty()
        if now < self.after or (not tty and now - self.last < 5):
            return
        stage = self.stage
        bar = "#" * (2 * stage) + "-" * (2 * (len(self.STAGES) - stage))
        line = f"[{bar}] {now:5.1f} s  {text}"[:110]
        self.stream.write(("\r" + line.ljust(110)) if tty else line + "\n")
        self.stream.flush()
        self.shown, self.last = True, now

    def done(self):
        if self.shown and self.stream.isatty():
            self.stream.write("\r" + " " * 110 + "\r")
            self.stream.flush()


def given_params(args) -> dict:
    """The common parameters given on the command line (one flag per registered transform)."""
    return {name: getattr(args, name) for name in REGISTRY if getattr(args, name) is not None}


def bias(text: str) -> dict:
    """--logit-bias 5:-inf,7:2.5 -> {5: -inf, 7: 2.5}."""
    out = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        token, sep, value = item.partition(":")
        try:
            if not sep:
                raise ValueError
            out[int(token)] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected TOKEN:BIAS pairs separated by commas (e.g. 5:-inf,7:2.5), "
                                             f"got {item!r}") from None
    return out


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. xtc_threshold=0.2), got {text!r}")
    return name.strip(), value.strip()


def _typed(name: str, raw: str, annotation: str):
    """An engine parameter's value from text, read as its annotation in the preset says."""
    def number(text, kind):
        try:
            return kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise Usage(f"--param {name}={raw}: {text!r} is not {what}") from None

    if raw.lower() == "none" and "None" in annotation:
        return None
    if "bool" in annotation:
        if raw.lower() not in ("true", "false"):
            raise Usage(f"--param {name}={raw}: expected true or false")
        return raw.lower() == "true"
    if "list" in annotation:
        return [number(t.strip(), int) for t in raw.strip("[]").split(",") if t.strip()]
    if "dict" in annotation:
        try:
            return bias(raw)
        except argparse.ArgumentTypeError as e:
            raise Usage(f"--param {name}: {e}") from None
    if "str" in annotation:
        return raw
    return number(raw, int if annotation.startswith("int") else float)


def engine_only(preset: str, pairs) -> dict:
    """--param NAME=VALUE pairs as the preset's engine-only parameters (Usage for anything else)."""
    params = inspect.signature(presets.PRESETS[preset]).parameters
    common = set(presets.ENGINE_NAMES[preset].values())
    out = {}
    for name, raw in pairs or ():
        if name in common:
            flag = next(c for c, e in presets.ENGINE_NAMES[preset].items() if e == name)
            raise Usage(f"--param {name}: {name} is the {preset} name of a common parameter; use "
                        f"--{flag.replace('_', '-')}")
        if name not in params:
            allowed = ", ".join(p for p in params if p not in common) or "none"
            raise Usage(f"--param {name}: not a parameter of the {preset} preset (its engine-only parameters: "
                        f"{allowed})")
        out[name] = _typed(name, raw, str(params[name].annotation))
    return out


def _has_processors(pipeline) -> bool:
    return any(type(s).history or isinstance(s, LogitBias) for s in pipeline.steps)


def build(args, factories=None):
    """(sampler, pipeline, family, input) from the command line, or Usage. factories: {"module:function"
    of an engine's own factory: an adapter that builds the same sampler with white-box access}
    (`spec.engines.factories()`, which `python -m spec.validate` passes; the validator imports no engine)."""
    obj = resolve(args.target)
    preset = presets.canonical(args.preset)
    given = given_params(args)
    extra = engine_only(preset, args.param)
    pipeline = presets.PRESETS[preset](**presets.engine_params(preset, **given), **extra)
    to_factory = {k: v for k, v in extra.items() if k != "version"}  # version is the spec's, not the engine's
    family = None
    if args.factory:
        if not callable(obj):
            raise Usage(f"{args.target} is not callable, so it cannot be a factory")
        factory = (factories or {}).get(args.target, obj)

        def make(**common):
            return factory(**presets.factory_params(preset, **common), **to_factory)
        try:
            sampler = make(**given)
        except Exception as e:  # noqa: BLE001
            raise Usage(f"{args.target}({presets.factory_params(preset, **given) | to_factory}) raised "
                        f"{type(e).__name__}: {e}") from None
        family = Family(make, preset, given, extra)
    else:
        if not callable(obj):
            raise Usage(f"{args.target} is not callable: pass a sampler, or a factory with --factory")
        sampler = obj
    sampler = as_sampler(sampler, args.array)
    sampler.batched = not args.one_row
    # Processors (bias, penalties) see raw logits, so an engine that hands its sampler
    # log-probabilities still takes logits in front of its processors.
    default = "logprobs" if preset in TAKES_LOGPROBS and not _has_processors(pipeline) else "logits"
    return sampler, pipeline, family, args.input or sampler.input or default


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return value


def _writable(text: str) -> Path:
    """A --json path checked before the run: its folder can be made and the file written."""
    path = Path(text)
    try:
        if path.is_dir():
            raise OSError("it is a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {e.strerror or e}") from None
    return path


def parse(argv):
    parser = Parser(prog="python -m spec.validate", description=__doc__.split("\n\n")[0],
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", metavar="MODULE:ATTR", nargs="?",
                        help="the sampler, or with --factory what builds it (not given with --endpoint)")
    parser.add_argument("--endpoint", metavar="URL",
                        help="validate the OpenAI-compatible server at URL instead, on exact rows: --preset names "
                             "its kind (a served engine: mlx-lm-server, llama-cpp-server) and the flags are its "
                             "request's sampling fields (default: none)")
    parser.add_argument("--model", metavar="NAME",
                        help="with --endpoint: validate the model the server already serves, on its own rows after "
                             "each --prompt (your deployment; default: none, exact rows on table models)")
    parser.add_argument("--prompt", action="append", type=_ids, metavar="IDS",
                        help="with --model: a prompt as token ids, e.g. 1,2,3 (repeatable; default: none)")
    parser.add_argument("--prompt-text", action="append", dest="prompt", metavar="TEXT",
                        help="with --model: a prompt as text, for a server that takes only text (mlx-lm-server, "
                             "llama-cpp-server; repeatable; default: none)")
    parser.add_argument("--factory", action="store_true",
                        help="call ATTR with the preset's engine parameters (default: ATTR is the sampler)")
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help=f"the spec's conventions: {', '.join(presets.PRESETS)} (default: reference, this "
                             "project's recommendation, which keeps ties whole at a cut; name the engine whose "
                             "conventions the sampler follows)")
    for cls in REGISTRY.values():
        kind = bias if cls.kind is dict else cls.kind
        parser.add_argument("--" + cls.name.replace("_", "-"), dest=cls.name, type=kind,
                            metavar="TOKEN:BIAS,..." if cls.kind is dict else None,
                            help=f"{cls.__name__} ({cls.name}; no-op: {'none' if cls.kind is dict else cls.noop}; "
                                 "default: the preset's own)")
    parser.add_argument("--param", action="append", type=_pair, metavar="NAME=VALUE",
                        help="an engine-only parameter of the preset (repeatable), e.g. xtc_threshold=0.2 "
                             "(default: the preset's own)")
    parser.add_argument("--input", choices=("logits", "logprobs"),
                        help="what the sampler is fed (default: logprobs for mlx_lm and tiny_llm, else logits)")
    parser.add_argument("--array", choices=("auto", *ARRAYS), default="auto",
                        help="the array type the sampler takes (default: auto, guessed from its module)")
    parser.add_argument("--one-row", action="store_true",
                        help="the sampler takes one (1, V) row at a time (default: a (B, V) batch)")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="default",
                        help="how many draws (default: default; quick takes about a fifth of its draws, thorough 8x)")
    parser.add_argument("--alpha", type=float, default=1e-6,
                        help="false-alarm rate of the whole run (default: 1e-6)")
    parser.add_argument("--seed", type=_seed, default=0, help="the run's random keys and rows (default: 0)")
    parser.add_argument("--timeout", type=float,
                        help="seconds one sampler call may take (default: the profile's: "
                             + ", ".join(f"{p.name} {p.call_timeout:g}" for p in PROFILES.values()) + ")")
    parser.add_argument("--json", type=_writable, metavar="FILE",
                        help="also write the report as JSON (default: none)")
    args = parser.parse_args(argv)
    if (args.target is None) == (args.endpoint is None):
        parser.error("give the sampler as MODULE:ATTR, or a server with --endpoint URL (one of the two)")
    if args.endpoint is not None and not args.endpoint.startswith(("http://", "https://")):
        parser.error(f"--endpoint must be an http:// or https:// URL, not {args.endpoint!r}")
    if (args.model is not None or args.prompt) and (args.endpoint is None or args.model is None or not args.prompt):
        parser.error("--model and --prompt (or --prompt-text) go together, with --endpoint (your deployment: the "
                     "served model's own rows)")
    return args


def _ids(text: str) -> list[int]:
    try:
        ids = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected token ids separated by commas (e.g. 1,2,3), got {text!r}") from None
    if not ids or min(ids) < 0:
        raise argparse.ArgumentTypeError(f"expected token ids >= 0 separated by commas, got {text!r}")
    return ids


def _served(endpoints, preset: str, capability: str, flag: str, does: str, given: str):
    """The served engine module of `preset` that has `capability`, or a Usage naming those that do."""
    module = (endpoints or {}).get(preset)
    if module is None or not getattr(module, capability, False):
        served = ", ".join(sorted(p for p, m in (endpoints or {}).items() if getattr(m, capability, False))) or "none"
        raise Usage(f"{flag} needs --preset naming a served engine that {does} (one of: {served}), not {given!r}")
    return module


def deployment(args, endpoints) -> int:
    """--endpoint URL --model NAME --prompt IDS (or --prompt-text TEXT): the served model's own rows
    (spec.validator.deployment)."""
    from spec.validator.deployment import validate_deployment

    preset = presets.canonical(args.preset)
    module = _served(endpoints, preset, "deployment", "--model", "reads a deployment's rows", args.preset)
    text = getattr(module, "PROMPT", "ids") == "text"  # what the server's prompts are: token ids or text
    if any(isinstance(p, str) != text for p in args.prompt):
        kind = "text (--prompt-text)" if text else "token ids (--prompt)"
        raise Usage(f"--preset {args.preset} takes its prompts as {kind}")
    params = presets.engine_params(preset, **given_params(args)) | engine_only(preset, args.param)
    pipeline = presets.PRESETS[preset](**params)
    try:
        next_row, draw = module.deployment(args.endpoint, args.model, **params)
        next_row(args.prompt[0])  # one line, exit 2, for an endpoint that cannot give the rows
    except Exception as e:  # noqa: BLE001
        raise Usage(f"--endpoint {args.endpoint}: {e}") from None
    try:
        reports = validate_deployment(next_row, draw, args.prompt, pipeline, profile=args.profile, alpha=args.alpha,
                                      seed=args.seed, name=f"{args.model} at {args.endpoint}")
    except (ValueError, RuntimeError) as e:  # a prompt that cannot be checked, an EndpointError mid-run
        raise Usage(str(e)) from None
    for report in reports:
        print(report, flush=True)
    if args.json:
        args.json.write_text("[" + ",\n".join(r.to_json() for r in reports) + "]")
    return 0 if all(r.passed for r in reports) else 1


def endpoint(args, endpoints) -> None:
    """--endpoint: point the served engine of --preset at the URL and validate its sampler factory."""
    module = _served(endpoints, presets.canonical(args.preset), "EXACT_ROWS", "--endpoint", "can load the table models",
                     args.preset)
    module.use(args.endpoint)
    try:
        module.probe()
    except Exception as e:  # noqa: BLE001 - a bad endpoint is a usage problem, in one line
        raise Usage(f"--endpoint {args.endpoint}: {e}") from None
    args.target, args.factory = f"{module.__name__}:sampler", True


def run(argv, factories=None, endpoints=None) -> int:
    """The validation itself (in the child process)."""
    try:
        args = parse(argv)
        if args.model is not None:
            return deployment(args, endpoints)
        if args.endpoint:
            endpoint(args, endpoints)
        sampler, pipeline, family, input_kind = build(args, factories)
        progress = Progress()
        report = validate(sampler, pipeline, input=input_kind, profile=args.profile, alpha=args.alpha,
                          seed=args.seed, family=family, progress=progress, timeout=args.timeout)
        progress.done()
    except (Usage, InvalidParameter) as e:
        print(f"spec.validate: {e}", file=sys.stderr)
        return 2
    if started := os.environ.get(STARTED):
        report.command_seconds = time.time() - float(started)
    if defaults := presets.engine_defaults(args.preset, **given_params(args)):
        shown = ", ".join(f"{k}={v}" for k, v in defaults.items())
        report.pipeline += f" [not typed, the engine's own defaults: {shown}; a flag sets each, its no-op turns it off]"
    if args.preset == DEFAULT_PRESET and not report.release:
        report.release = (f"preset {DEFAULT_PRESET} (the default: this project's recommendation, which keeps ties "
                          "whole at a cut; --preset names the engine whose conventions the sampler follows)")
    print(report, flush=True)
    if args.json:
        args.json.write_text(report.to_json())
    return 0 if report.passed else 1


def main(argv=None, factories=None, entry: str = "spec.validator", endpoints=None) -> int:
    """Parse in this process (usage errors exit 2 at once), validate in a child process (`python -m
    entry`, which gets the same `factories` and `endpoints`: {preset: the served engine module that
    --endpoint uses}), and trust only a verdict the child wrote: a child that ends without one does
    not conform."""
    started = time.time()  # after this process's imports: its own start-up is about a second more
    argv = sys.argv[1:] if argv is None else list(argv)
    if os.environ.get(VERDICT_FILE):
        status = run(argv, factories, endpoints)
        Path(os.environ[VERDICT_FILE]).write_text(str(status))
        return status
    try:
        parse(argv)
    except Usage as e:
        print(f"spec.validate: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        verdict = Path(tmp) / "verdict"
        child = subprocess.run([sys.executable, "-m", entry, *argv],
                               env={**os.environ, VERDICT_FILE: str(verdict), STARTED: str(started)})
        written = verdict.read_text() if verdict.exists() else ""
    if written == str(child.returncode):
        return child.returncode
    if not written:
        print(f"spec.validate: DOES NOT CONFORM: the validating process ended with status {child.returncode} "
              "before a verdict (the sampler ended or crashed the process)", file=sys.stderr)
        return 1
    print(f"spec.validate: the validating process wrote verdict {written} but ended with status "
          f"{child.returncode} (it crashed on the way out)", file=sys.stderr)
    return child.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
