"""node-llama-cpp's preset: llama.cpp's samplers in node-llama-cpp's own chain, under its option names."""

from __future__ import annotations

from spec.errors import InvalidParameter
from spec.presets.builders import llama_cpp
from spec.presets.checks import _check, _finite
from spec.transforms import Pipeline, Temperature

XTC_KEYS = ("probability", "threshold")
PENALTY_KEYS = ("penalty", "frequencyPenalty", "presencePenalty", "maxPunishTokens")


def _options(name: str, value, keys: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    """An options object ({} for None): a dict of finite numbers under `keys` (`required` present)."""
    needed = f"; {', '.join(required)} required" if required else ""
    allowed = f"None or a mapping with {', '.join(keys)} (finite numbers{needed})"
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) - set(keys) or set(required) - set(value):
        raise InvalidParameter(name, value, allowed)
    for number in value.values():
        try:
            _check(name, number, float, _finite, allowed)
        except InvalidParameter:
            raise InvalidParameter(name, value, allowed) from None
    return {k: float(v) for k, v in value.items()}


def node_llama_cpp(temperature: float = 0.0, minP: float = 0.0, topK: int = 40, topP: float = 0.95,  # noqa: N803
                   xtc: dict | None = None, repeatPenalty: dict | None = None, tokenBias: dict | None = None,
                   threads: int = 1, sequences: int = 1) -> Pipeline:
    """node-llama-cpp 3.22.1 (npm): `LlamaContextSequence` options as
    dist/evaluator/LlamaContext/LlamaContext.js `_resolveSamplerConfig` resolves them (defaults
    temperature 0, minP 0, topK 40, topP 0.95; `evaluateWithMetadata` and `controlledEvaluate`
    use the same), built into a chain by llama/addon/AddonSampler.cpp (`ApplyConfig`,
    `rebuildChainIfNeeded`) from llama.cpp's own samplers (the bundled llama.cpp, release tag
    v0.5.0 in llama/binariesGithubRelease.json). That is the `llama_cpp` preset's chain without
    typical-p, top-n-sigma and DRY (DRY, dryRepeatPenalty, is not modelled), so this builder
    translates to it:

    Order: tokenBias -> penalties -> top-k -> top-p -> min-p -> XTC -> temperature -> dist(seed).
    temperature <= 0 (the default) is greedy, and then the chain is tokenBias -> penalties -> XTC ->
    greedy: top-k, top-p and min-p are left out (not merely ignored), so a tie for the maximum
    goes to the lowest token id (llama_sampler_greedy keeps the first maximum) -- unless XTC
    sorts the array first. topK <= 0 means the vocabulary size (no cut); topP outside [0, 1]
    leaves top-p out; minP <= 0 leaves min-p out; min_keep is 1 for top-p and min-p (`n_probs =
    0` -> `min_keep = max(1, 0)`) and 0 for XTC, which is the llama_cpp preset's min_keep = 0.
    xtc = {probability, threshold}, each clamped to [0, 1] by the JS side; XTC's coin uses
    the dist seed. repeatPenalty = {penalty (documented default 1.1, dist/evaluator/LlamaContext/
    types.d.ts `LlamaContextSequenceRepeatPenalty`; 1: off), frequencyPenalty, presencePenalty,
    maxPunishTokens}: every token in punishTokens counts (maxPunishTokens is raised to
    punishTokens.length: `Math.max(repeatPenalty?.maxPunishTokens ?? 64, tokens.length)`), so
    the window is all the history given (the adapter passes prompt + output); the penalty
    sampler exists only when one of the three is not neutral (and, with no history, has nothing to count).
    tokenBias = {token: logit} (a `TokenBias` set with `{logit}`; -inf: "never"), added first.
    temperature, topP, minP, penalties and biases reach C++ as float32 (`FloatValue()`).
    threads / sequences: the context's threads and parallel sequences (no effect on the target).
    """
    _check("threads", threads, int, lambda t: t >= 0, "an integer >= 0 (0: node-llama-cpp's default)")
    _check("sequences", sequences, int, lambda s: s >= 1, "an integer >= 1")
    temperature = _check("temperature", temperature, float, _finite, "a finite number (<= 0: greedy)")
    minP = _check("minP", minP, float, lambda p: p <= 1, "a number <= 1 (<= 0: off)")  # noqa: N806
    topK = _check("topK", topK, int, lambda k: True, "an integer (<= 0: the vocabulary size)")  # noqa: N806
    topP = _check("topP", topP, float, _finite, "a finite number (outside [0, 1]: off)")  # noqa: N806
    xtc = _options("xtc", xtc, XTC_KEYS, XTC_KEYS)
    penalty = _options("repeatPenalty", repeatPenalty, PENALTY_KEYS)
    if penalty.get("penalty", 1.0) <= 0:
        raise InvalidParameter("repeatPenalty", repeatPenalty, "a penalty > 0 (1: off)")
    if tokenBias is not None and not isinstance(tokenBias, dict):
        raise InvalidParameter("tokenBias", tokenBias, "a mapping {token id: logit bias}, or None")
    greedy = temperature <= 0
    chain = llama_cpp(
        temp=temperature, top_k=0 if greedy else topK, top_p=1.0 if greedy or not 0 <= topP <= 1 else topP,
        min_p=0.0 if greedy else minP, min_keep=0,
        xtc_probability=min(1.0, max(0.0, xtc.get("probability", 0.0))) if xtc else 0.0,
        xtc_threshold=min(1.0, max(0.0, xtc.get("threshold", 0.1))) if xtc else 0.1,
        penalty_last_n=-1, penalty_repeat=penalty.get("penalty", 1.1 if repeatPenalty is not None else 1.0),
        penalty_freq=penalty.get("frequencyPenalty", 0.0), penalty_present=penalty.get("presencePenalty", 0.0),
        logit_bias=tokenBias)
    steps = chain.steps
    if greedy and xtc and xtc.get("probability", 0) > 0 and xtc.get("threshold", 0.1) <= 0.5:
        steps = steps[:-1] + (Temperature(0, ties="any"),)  # XTC's softmax sorts the array before greedy
    return Pipeline(steps, "node_llama_cpp")
