"""spec.validate_generation, generic: on a small random llama model (mlx-lm's, no download), a
hand-written correct loop (no KV cache) passes, so the check is about what is sampled, not how;
broken loops fail with a counterexample: processors applied after the sampler, a penalty that
counts the prompt where the engine says it does not, and log-probabilities computed as
log(softmax) in float16. mlx-lm's own loops are tested in tests/test_engine_mlx_lm.py."""

import mlx.core as mx
import numpy as np
import pytest
from mlx_lm.sample_utils import make_logits_processors, make_sampler

from spec import presets
from spec.engines.mlx_lm import loop as mlx_lm_loop
from spec.engines.mlx_lm import tiny_llama
from spec.transforms import History
from spec.validator.generation import processed_logprobs, validate_generation
from tests.validating import ALPHA_RUN, ROOT

PROMPT = [1, 2, 3, 2]
PARAMS = dict(temp=0.8, top_p=0.9, repetition_penalty=1.3, logit_bias={4: 1.5})


@pytest.fixture(scope="module")
def model():
    return tiny_llama()


def hand_loop(model, params, *, counts="all", processors_first=True, float16=False):
    """A generation loop written out: one full forward pass per token (no cache). The switches
    make the broken variants."""
    sampler = make_sampler(temp=params["temp"], top_p=params.get("top_p", 0.0))
    processors = make_logits_processors(**{k: v for k, v in params.items() if k not in ("temp", "top_p")})

    def process(tokens, logits):
        for p in processors:
            logits = p(mx.array(tokens), logits)
        return logits

    def generate(prompt, seed):
        mx.random.seed(seed)
        tokens, generated = list(prompt), []
        while True:
            logits = model(mx.array(tokens)[None])[:, -1, :]
            seen = tokens if counts == "all" else generated
            if processors_first and seen:
                logits = process(seen, logits)
            if float16:
                logprobs = mx.log(mx.softmax(logits.astype(mx.float16), axis=-1))
            else:
                logprobs = logits - mx.logsumexp(logits, keepdims=True)
            token = int(sampler(logprobs).item())
            if not processors_first and seen:
                logits = process(seen, logits)  # too late: the token is already drawn
            yield token, np.array(logprobs.astype(mx.float32))[0]
            tokens.append(token)
            generated.append(token)
    return generate


def check(loop, next_logits, pipeline, profile="quick"):
    return validate_generation(loop, next_logits, PROMPT, pipeline, profile=profile, alpha=ALPHA_RUN, seed=3)


def test_a_hand_written_correct_loop_passes(model):
    m, next_logits = model
    report = check(hand_loop(m, PARAMS), next_logits, presets.mlx_lm(**PARAMS))
    assert report.passed, str(report)


@pytest.mark.parametrize("broken, spec_params", [
    (dict(processors_first=False), PARAMS),  # processors applied after the sampler
    (dict(counts="output"), PARAMS),  # mlx-lm counts the prompt; this loop does not
    (dict(float16=True), PARAMS),  # log(softmax) in float16
])
def test_broken_loops_fail_with_a_counterexample(model, broken, spec_params):
    m, next_logits = model
    report = check(hand_loop(m, PARAMS, **broken), next_logits, presets.mlx_lm(**spec_params))
    assert not report.passed
    failure = report.failures[0]
    assert failure.check == "generation: white-box log-probabilities" and failure.counterexample
    assert report.draws <= 1  # found on the first run: deterministic, no statistics needed


def test_statistics_catch_a_loop_whose_log_probabilities_are_right_but_draws_are_not(model):
    """A loop that reports the right log-probabilities but samples at another temperature passes
    the white-box tier and must fail the statistics."""
    m, next_logits = model
    right = mlx_lm_loop(m, temp=1.0)
    hot = make_sampler(temp=1.6)

    def generate(prompt, seed):
        mx.random.seed(seed)
        tokens = list(prompt)
        for _ in range(2):
            logits = m(mx.array(tokens)[None])[:, -1, :]
            logprobs = logits - mx.logsumexp(logits, keepdims=True)
            token = int(hot(logprobs).item())
            yield token, np.array(logprobs)[0]
            tokens.append(token)
    assert right  # the real loop at temp 1 is the reference this one departs from
    report = check(generate, next_logits, presets.mlx_lm(temp=1.0))
    assert not report.passed and report.failures[0].check == "generation: statistics", str(report)


def test_processed_logprobs_apply_the_pipeline_s_processors_only(model):
    _, next_logits = model
    z = next_logits(PROMPT)
    lp = processed_logprobs(z, presets.mlx_lm(**PARAMS), History(tuple(PROMPT)))
    penalised = z.copy()
    penalised[4] += 1.5
    for t in set(PROMPT):
        penalised[t] = penalised[t] / 1.3 if penalised[t] > 0 else penalised[t] * 1.3
    expected = penalised - np.log(np.exp(penalised).sum())
    np.testing.assert_allclose(lp, expected, atol=1e-12)


def _readme_loop_snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\n", readme.index("Your own loop, end to end")) + len("```python\n")
    return readme[start:readme.index("```", start)]


def test_the_readme_generation_example_runs_as_shown_and_its_wrong_temperature_fails():
    """The README's validate_generation example for a loop of one's own, run verbatim (at the suite's
    alpha), then with the loop's temperature changed."""
    code = _readme_loop_snippet().replace('profile="quick")', f'profile="quick", alpha={ALPHA_RUN!r})')
    assert code.count("ALPHA") == 0 and f"alpha={ALPHA_RUN!r}" in code
    for source, passes in ((code, True), (code.replace("/ 0.8", "/ 1.0"), False)):
        scope = {"print": lambda *a: None}
        exec(compile(source, "README.md", "exec"), scope)  # noqa: S102 - the README's own example
        report = scope["report"]
        assert report.passed is passes, str(report)
    assert "history: [1, 2]" in str(report) and "1 run of the loop" in str(report)
