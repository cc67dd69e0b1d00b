"""The spec catches every broken sampler in the zoo and passes the correct ones (white-box,
deterministic: each verdict compares a sampler's distribution with the spec's exact target)."""

import pytest
from zoo import BUGGY, CORRECT, find_bug


@pytest.mark.parametrize("sampler", CORRECT, ids=lambda s: s.name)
def test_correct_samplers_pass(sampler):
    assert find_bug(sampler) is None


@pytest.mark.parametrize("sampler", BUGGY, ids=lambda s: s.name)
def test_spec_catches_the_bug(sampler):
    finding = find_bug(sampler)
    assert finding is not None, f"{sampler.name} was not caught"
    if "NaN" not in sampler.name:  # caught by its own defect, not by missing input validation
        assert "NaN row" not in finding, finding


def test_findings_are_readable(capsys):
    for sampler in BUGGY:
        print(f"{sampler.name:50} -> {find_bug(sampler)}")
    assert len(capsys.readouterr().out.splitlines()) == len(BUGGY)


def test_the_zoo_is_big_enough():
    assert len(BUGGY) >= 15 and len({s.name for s in BUGGY}) == len(BUGGY)
