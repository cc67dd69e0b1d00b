"""The bug zoo of the transforms that read a token history or act at random (penalties, logit
bias, typical-p, epsilon, eta, top-n-sigma, XTC): each bug modelled on one an engine shipped
(sources in tests/zoo.py), each paired with the preset whose convention it breaks.

White-box (deterministic): every bug's distribution differs from `spec.target` on some probe with
some history, every correct numpy sampler's equals it. End to end: `spec.validate` catches every
bug black-box with the default profile (the sampler takes `history`, one spec.History per row, when
its pipeline reads the history), and passes the correct samplers at alpha = ALPHA_RUN
(tests/validating.py). Each validator run is seeded: the verdicts are fixed.
"""

import inspect
import json

import numpy as np
import pytest
from validating import ALPHA_RUN
from zoo import BUGGY_TRANSFORMS, CORRECT_TRANSFORMS, HISTORY_PROBES, find_bug, inverse_cdf, softmax_rows

import spec
from proofs.catalogue import BY_ID as THEOREMS


@pytest.mark.parametrize("sampler", CORRECT_TRANSFORMS, ids=lambda s: s.name)
def test_correct_samplers_equal_the_target(sampler):
    assert find_bug(sampler) is None


@pytest.mark.parametrize("bug", BUGGY_TRANSFORMS, ids=lambda s: s.name)
def test_spec_catches_the_bug(bug):
    finding = find_bug(bug)
    assert finding is not None, f"{bug.name} was not caught"
    assert "NaN row" not in finding, finding  # caught by its own defect, not by missing input validation


@pytest.mark.parametrize("bug", [b for b in BUGGY_TRANSFORMS if b.reads_history], ids=lambda s: s.name)
def test_each_penalty_bug_needs_a_history(bug):
    """With nothing seen a penalty does nothing, so the bug is invisible: it is the history probes
    that tell it from the spec (the validator must generate histories to catch it)."""
    for z, _ in HISTORY_PROBES:
        empty = [spec.History()] * len(z)
        assert np.allclose(bug.distribution(z, empty), spec.target(z, bug.pipeline, history=empty).probs)
    assert any(not np.allclose(bug.distribution(z, h), spec.target(z, bug.pipeline, history=h).probs)
               for z, h in HISTORY_PROBES)


def test_the_correct_samplers_read_each_rows_own_history():
    z, histories = HISTORY_PROBES[-1]  # two rows, two different histories
    for sampler in (s for s in CORRECT_TRANSFORMS if s.reads_history):
        swapped = sampler.distribution(z, histories[::-1])
        expected = spec.target(z, sampler.pipeline, history=histories).probs
        assert np.allclose(sampler.distribution(z, histories), expected)
        assert not np.allclose(swapped, expected), sampler.name


def test_the_batch_xtc_bug_shows_only_in_a_batch_of_different_rows():
    """mlx-lm #1575: each row alone (or a batch of copies of it) is exact; two rows whose least
    likely above-threshold tokens differ are not (row 1 loses its 0.33 token to row 0's 0.14 cut)."""
    bug = next(b for b in BUGGY_TRANSFORMS if "whole batch" in b.name)
    rows = np.array([[2.0, 2.0, 1.0, 0.5, -1.0], [0.0, 3.0, 1.0, 2.5, 0.2]])
    for row in rows:
        for batch in (row[None], np.tile(row, (3, 1))):
            assert np.allclose(bug.distribution(batch), spec.target(batch, bug.pipeline).probs)
    got, want = bug.distribution(rows), spec.target(rows, bug.pipeline).probs
    assert np.allclose(got[0], want[0]) and got[1, 3] == 0 < want[1, 3]


def test_the_zoo_covers_every_new_transform():
    names = {type(s).name for b in BUGGY_TRANSFORMS + CORRECT_TRANSFORMS for s in b.pipeline.steps}
    assert names >= {"logit_bias", "repetition_penalty", "presence_penalty", "frequency_penalty", "typical_p",
                     "epsilon_cutoff", "eta_cutoff", "top_n_sigma", "xtc_probability"}
    assert len(BUGGY_TRANSFORMS) >= 8 and len({s.name for s in BUGGY_TRANSFORMS}) == len(BUGGY_TRANSFORMS)


@pytest.mark.parametrize("sampler", BUGGY_TRANSFORMS + CORRECT_TRANSFORMS, ids=lambda s: s.name)
def test_the_black_box_takes_history_iff_the_pipeline_reads_it(sampler):
    box = sampler.black_box(white_box=True)
    assert ("history" in inspect.signature(box.draw).parameters) == sampler.reads_history
    random = any(type(s).random for s in sampler.pipeline.steps)
    assert (box.filter is None) == random  # XTC's mixture has no single keep-set to expose
    if box.filter is not None:
        assert ("history" in inspect.signature(box.filter).parameters) == sampler.reads_history
    if not sampler.reads_history:
        return
    z, histories = HISTORY_PROBES[-1]
    ids = box.draw(z, seed=7, history=histories)
    assert np.array_equal(ids, inverse_cdf(sampler.distribution(z, histories), np.random.default_rng(7)))
    assert np.allclose(softmax_rows(box.filter(z, history=histories)), sampler.distribution(z, histories))
    tiled = np.tile(z[:1], (3, 1))  # equal rows with different histories are not collapsed into one
    rows = [histories[0], spec.History(), histories[0]]
    expected = inverse_cdf(sampler.distribution(tiled, rows), np.random.default_rng(7))
    assert np.array_equal(box.draw(tiled, seed=7, history=rows), expected)


def test_the_white_box_is_exact_where_probabilities_underflow():
    """Filtered logits come from the sampler's own logits, not log(probabilities): a token 10^4
    below the top has probability 0 in float64 but is still kept."""
    z = np.array([[0.0, 1e4, 5.0]])
    for sampler in CORRECT_TRANSFORMS:
        if sampler.logits is not None and not any(type(s).filters for s in sampler.pipeline.steps):
            assert np.isfinite(sampler.filtered(z)).all(), sampler.name


# --- end to end: these need the validator's history support (a `history` keyword, one
# spec.History per row, and history cases); see tests/zoo.py for what each bug needs. ------------

@pytest.mark.slow
@pytest.mark.parametrize("bug", BUGGY_TRANSFORMS, ids=lambda s: s.name)
def test_default_profile_catches_the_bug_black_box(bug):
    report = spec.validate(bug.black_box(), bug.pipeline)
    assert not report.passed, f"{bug.name} was not caught:\n{report}"
    failure = report.failures[0]
    assert failure.message and failure.check and failure.case
    assert failure.check not in ("contract: output", "contract: no hang")  # caught by its defect, not by garbage
    assert json.loads(report.to_json())["passed"] is False
    for theorem in failure.theorems:
        assert theorem in THEOREMS


@pytest.mark.slow
@pytest.mark.parametrize("sampler", CORRECT_TRANSFORMS, ids=lambda s: s.name)
def test_correct_numpy_samplers_pass(sampler):
    """The quick profile: every tier runs, and a correct sampler's false-alarm bound is alpha at any
    profile (the default profile's passes are run on impl, mlx-lm and the numpy top-p samplers in
    test_validate.py; at the default profile these 12 runs took 3-4 of CI's 20 minutes)."""
    report = spec.validate(sampler.black_box(), sampler.pipeline, profile="quick", alpha=ALPHA_RUN)
    assert report.passed, str(report)
    assert not any("token histories" in s for s in report.skipped), report.skipped  # histories were tested
