"""`spec.validate_generation`: check an engine's generation loop, not only its sampler.

Bugs also live in the loop: the order it applies processors in, which tokens a penalty counts,
the precision of the log-probabilities it samples from. Here the loop runs a small model for
`steps` tokens, many times, and the first tokens it generates must follow the spec's exact joint
distribution: token 1 from target(model(prompt), pipeline, history = prompt) and token 2 from
target(model(prompt + [t1]), pipeline, history = prompt + [t1]), where the model's own logits come
from the same model, computed here without the loop.

The same tiers as `spec.validate`, on the loop:
1. contract: each step yields a token id in [0, V) and a length-V vector of log-probabilities;
2. white-box: those log-probabilities (what mlx-lm's generate_step yields: the processed logits
   minus their logsumexp) equal the spec's processors applied to the model's logits, to
   `TOLERANCE` nats, at every step of the runs checked (every distinct history once);
3. structure: every generated sequence has spec probability > 0;
4. statistics: the counts of the generated sequences against the exact joint (binomial scan,
   merged Pearson, rank KS), the run's false-alarm rate at most `alpha`.
A loop is `generate(prompt, seed) -> iterator of (token, logprobs)`; the engines' real loops and the
small random models they run on are in their modules (`spec.engines.mlx_lm.loop`, `tiny_llama`).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator

import numpy as np

from spec.numerics import Tolerance, log_softmax
from spec.presets import drift
from spec.target import target
from spec.transforms import (
    FrequencyPenalty,
    History,
    LogitBias,
    Pipeline,
    PresencePenalty,
    RepetitionPenalty,
    Row,
)
from spec.validator import stats
from spec.validator.report import Failure, Report

PROCESSORS = (LogitBias, RepetitionPenalty, PresencePenalty, FrequencyPenalty)  # what acts before log-softmax
DRAWS = {"quick": 4_000, "default": 10_000, "thorough": 40_000}
TOLERANCE = 1e-4  # nats: float32 logits through a KV cache vs one forward pass differ by about 1e-6

Loop = Callable[[list, int], Iterator]


def processed_logprobs(logits: np.ndarray, pipeline: Pipeline, history: History) -> np.ndarray:
    """The spec's log-probabilities after the pipeline's leading processors (bias, penalties)."""
    z = np.asarray(logits, dtype=np.float64)
    row = Row(z.copy(), z.copy(), np.isfinite(z), np.zeros(z.size, dtype=bool), Tolerance(0.0, 0.0))
    for step in pipeline.steps:
        if not isinstance(step, PROCESSORS):
            break
        step.apply(row, history)
    return log_softmax(np.where(row.keep, row.z, -np.inf))


def exact_joint(next_logits: Callable, prompt: list, pipeline: Pipeline, steps: int) -> dict:
    """{sequence: spec probability} for every sequence of `steps` tokens with probability > 0."""
    out = {(): 1.0}
    for _ in range(steps):
        grown = {}
        for seq, p in out.items():
            t = target(next_logits(list(prompt) + list(seq)), pipeline, history=History(tuple(prompt), seq))
            for token in np.flatnonzero(t.probs > 0):
                grown[(*seq, int(token))] = p * float(t.probs[token])
        out = grown
    return out


def spec_logprobs(logits: np.ndarray, pipeline: Pipeline, history: History, yields: str):
    """What the loop's yielded log-probabilities must be, and the tokens where they may differ
    (boundary tokens, whose fate rounding decides)."""
    if yields == "processed":
        return processed_logprobs(logits, pipeline, history), np.zeros(len(logits), dtype=bool)
    t = target(np.asarray(logits, dtype=np.float64), pipeline, history=history)
    with np.errstate(divide="ignore"):
        return np.log(t.probs), t.boundary


def validate_generation(loop: Loop, next_logits: Callable, prompt: list, pipeline: Pipeline, *, steps: int = 2,
                        yields: str = "processed", profile: str = "default", alpha: float = 1e-6, seed: int = 0,
                        name: str = "") -> Report:
    """Check that `loop` generates the spec's joint distribution of its first `steps` tokens.

    loop(prompt, seed): the engine's generation loop, yielding (token, logprobs) per step, its
    randomness fixed by `seed`. next_logits(tokens): the model's logits for the next position
    (float, length V), computed without the loop. pipeline: what the engine says it samples (its
    preset, processors included). yields: what the loop's log-probabilities are: "processed"
    (after the processors, before the sampler's filters: mlx-lm's generate_step), "final" (the
    distribution it draws from: Hugging Face's output scores, log-softmaxed) or "none" (no
    white-box: the loop's own log-probabilities are not evidence, as in `speculative_loop`).
    Returns a `spec.validator.Report`."""
    draws = DRAWS[profile]
    report = Report(name or getattr(loop, "__name__", "generation loop"), str(pipeline), "logits", profile, alpha,
                    seed, generation=True, release=drift(pipeline.name) or "")
    start = time.perf_counter()
    joint = exact_joint(next_logits, prompt, pipeline, steps)
    seen_lp: dict = {}
    counts: dict = {}
    rng = np.random.SeedSequence(seed).generate_state(draws)
    vocab = len(next_logits(list(prompt)))

    def fail(check, message, case, **extra):
        report.failures.append(Failure(f"generation: {check}", extra.pop("invariant", check), (), message, case,
                                       **extra))

    report.checks.append(f"generation of {steps} tokens from prompt {list(prompt)}, {draws:,} runs")
    for i in range(draws):
        seq = []
        for token, logprobs in itertools.islice(loop(list(prompt), int(rng[i])), steps):
            lp = np.asarray(logprobs, dtype=np.float64).reshape(-1) if yields != "none" else np.zeros(vocab)
            token = int(np.asarray(token).reshape(-1)[0])
            case = {"name": "generation", "prompt": list(prompt), "generated": list(seq), "seed": int(rng[i])}
            if lp.size != vocab or not 0 <= token < vocab:
                fail("contract", f"step {len(seq) + 1} yielded token {token} and {lp.size} log-probabilities "
                     f"(vocabulary {vocab})", case)
                return _done(report, start, i)
            key = tuple(seq)
            if yields != "none" and key not in seen_lp:  # white-box, once per distinct history
                seen_lp[key] = True
                history = History(tuple(prompt), key)
                spec_lp, free = spec_logprobs(next_logits(list(prompt) + seq), pipeline, history, yields)
                both = np.isfinite(spec_lp) & np.isfinite(lp)
                with np.errstate(invalid="ignore"):  # -inf - -inf: both banned, a match
                    gap = np.where(both, np.abs(spec_lp - lp),
                                   np.where(np.isfinite(spec_lp) == np.isfinite(lp), 0, np.inf))
                gap[free] = 0
                if gap.max() > TOLERANCE:
                    worst = int(np.argmax(gap))
                    fail("white-box log-probabilities",
                         f"step {len(seq) + 1}: the loop samples from log-probabilities {_fmt(lp[worst])} for token "
                         f"{worst} where the spec gives {_fmt(spec_lp[worst])} (tolerance {TOLERANCE})",
                         case, invariant=("the loop's log-probabilities are log_softmax of the processed logits"
                                          if yields == "processed" else "the loop draws from the spec's target"),
                         counterexample={"how": "the first history where they differ", "label": "history",
                                         "row": list(prompt) + seq,
                                         "spec": _fmt_row(spec_lp), "sampler": _fmt_row(lp)})
                    return _done(report, start, i + 1)
            seq.append(token)
        if len(seq) < steps:
            fail("contract", f"the loop stopped after {len(seq)} of {steps} tokens",
                 {"name": "generation", "prompt": list(prompt), "seed": int(rng[i])})
            return _done(report, start, i + 1)
        if tuple(seq) not in joint:
            fail("support", f"generated {seq}, which has spec probability 0",
                 {"name": "generation", "prompt": list(prompt), "seed": int(rng[i])},
                 invariant="every generated sequence is in the support of the exact joint",
                 counterexample={"how": "a generated sequence", "label": "prompt", "row": list(prompt),
                                 "spec": "probability 0", "sampler": str(seq)})
            return _done(report, start, i + 1)
        counts[tuple(seq)] = counts.get(tuple(seq), 0) + 1
    if yields != "none":
        report.checks.append(f"white-box: the loop's log-probabilities ({yields}) at {len(seen_lp)} histories, "
                             f"to {TOLERANCE} nats")
    report.checks.append("structure: every generated sequence in the exact joint's support")
    cells = sorted(joint)
    probs = np.array([joint[c] for c in cells])
    observed = np.array([counts.get(c, 0) for c in cells])
    alpha_test = alpha / len(stats.TESTS)
    for test in stats.TESTS:
        result = test(observed, probs)
        report.checks.append(f"statistics: {result.name} over {len(cells)} sequences, p = {result.pvalue:.3g}")
        if result.pvalue < alpha_test:
            expected = draws * probs
            worst = int(np.argmax(np.abs(observed - expected) / np.sqrt(np.maximum(expected, 1))))
            seq = cells[worst]
            fail("statistics", f"{result.name}: p = {result.pvalue:.3g} < {alpha_test:.3g}; the sequence {list(seq)} "
                 f"was generated {int(observed[worst])} times in {draws:,} runs, {expected[worst]:.1f} expected "
                 f"(spec p = {probs[worst]:.4g})",
                 {"name": "generation", "prompt": list(prompt), "seed": seed},
                 invariant="the generated sequences follow the exact joint distribution",
                 statistics={"test": result.name, "p-value": result.pvalue, "alpha": alpha_test, "draws": draws},
                 counterexample={"how": "the most deviating sequence of the joint", "label": "prompt",
                                 "row": list(prompt),
                                 "spec": f"P({list(seq)}) = {probs[worst]:.4g}",
                                 "sampler": f"observed {observed[worst] / draws:.4g} over {draws:,} runs"})
            break
    report.alpha_split = f"alpha {alpha:g} split evenly over the {len(stats.TESTS)} tests (Bonferroni)"
    report.power = [f"a sequence of spec probability >= {stats.missing_token(draws, alpha_test, len(cells)):.3g} "
                    "never generated",
                    f"a total-variation distance >= {stats.ks_detectable(draws, alpha_test):.3g} that moves mass "
                    "along the spec's rank order (99% of the time)"]
    return _done(report, start, draws)


def _done(report: Report, start: float, runs: int) -> Report:
    report.draws = runs
    report.calls = runs
    report.seconds = time.perf_counter() - start
    return report


def _fmt(x: float) -> str:
    return "-inf" if x == -math.inf else f"{x:.6g}"


def _fmt_row(lp) -> str:
    return "(" + ", ".join(_fmt(float(x)) for x in lp) + ")"


# --- a speculative loop around any verifier (numpy), and an exact one ------------------------------

def rejection_verify(ps, qs, drafts, rng, logits=None) -> list:
    """Speculative sampling's verifier (Leviathan et al., arXiv:2211.17192), exact: draft i is kept
    with probability min(1, p_i(d)/q_i(d)); the first one rejected is replaced by a token from
    max(0, p_i - q_i) normalised, and if all are kept a bonus token comes from p_k. ps: k + 1
    target distributions, qs: the k + 1 draft distributions the drafts were drawn from (the last
    unused here), drafts: k token ids; rng: numpy Generator. Returns the emitted tokens."""
    out = []
    for i, d in enumerate(drafts):
        if rng.random() * qs[i][d] < ps[i][d]:  # u < p/q, q(d) > 0 since d was drawn from q
            out.append(d)
            continue
        residual = np.maximum(ps[i] - qs[i], 0.0)
        out.append(int(rng.choice(residual.size, p=residual / residual.sum())))
        return out
    out.append(int(rng.choice(ps[-1].size, p=ps[-1])))
    return out


def speculative_loop(verify, target_logits: Callable, draft_logits: Callable, pipeline: Pipeline,
                     draft_pipeline: Pipeline | None = None, k: int = 2, draft_seen: str = "sampled") -> Loop:
    """A speculative generation loop around `verify(ps, qs, drafts, rng, logits)`: the draft
    samples k tokens from target(draft logits, draft_pipeline), the target's distributions at the
    k + 1 positions come from target(target logits, pipeline), and the verifier decides what is
    emitted. draft_seen="raw" hands the verifier the draft's plain softmax instead of the
    distribution the drafts were drawn from (a bug shape). logits: (target logits, draft logits)
    per position, for verifiers that read them. Yields (token, None): use yields="none"."""
    import functools

    draft_pipeline = draft_pipeline or pipeline
    target_at = functools.lru_cache(maxsize=None)(lambda tokens: np.asarray(target_logits(list(tokens)), float))
    draft_at = functools.lru_cache(maxsize=None)(lambda tokens: np.asarray(draft_logits(list(tokens)), float))

    def generate(prompt, seed):
        rng = np.random.default_rng(seed)
        tokens = list(prompt)
        while True:
            drafts, qs, seen, zq = [], [], [], []
            for _ in range(k + 1):
                z = draft_at(tuple(tokens + drafts))
                q = target(z, draft_pipeline).probs
                qs.append(q)
                seen.append(q if draft_seen == "sampled" else np.exp(log_softmax(z)))
                zq.append(z)
                if len(drafts) < k:
                    drafts.append(int(rng.choice(q.size, p=q)))
            zp = [target_at(tuple(tokens + drafts[:i])) for i in range(k + 1)]
            ps = [target(z, pipeline).probs for z in zp]
            for token in verify(ps, seen, drafts, rng, (zp, zq)):
                yield token, None
                tokens.append(token)
    generate.__name__ = f"speculative loop around {getattr(verify, '__name__', 'a verifier')} (k = {k})"
    return generate
