"""The max-split encoding of the bounded argmax-shift proof (proofs.encodings.max_split, run by
proofs.bench): it proves the one-hot theorem at a moderate n, and its mutants are not proved."""

import pytest

from proofs.bench import SPLIT, attempt, plan, run_z3
from proofs.encodings import Split, max_split, one_hot, split_is_honest

N = 256
LIMIT = 60.0  # wall-clock safety net; n = 256 takes well under a second of z3 here
RLIMIT = 50_000_000  # resource bound per step (each step uses under 300,000 units at n = 256)


def test_max_split_is_the_one_hot_theorem_and_uses_only_proved_facts():
    decls, premises, claim, steps = max_split(N)
    assert (decls, premises, claim) == one_hot(N)
    assert split_is_honest(premises, claim, steps)
    assert [s.name for s in steps] == ["max", "at-max", "claim"] and steps[1].scoped
    # a step that uses a fact nobody proved, or ends on another claim, is caught
    assert not split_is_honest(premises, claim, [Split("x", ("(= zmax 0.0)",), (claim,))])
    assert not split_is_honest(premises, claim, steps[:2])


def test_max_split_proves_moderate_n():
    row = attempt(SPLIT, N, LIMIT, RLIMIT)
    assert row["premises"] == "sat"
    assert row["proved"], row
    assert [(s["step"], s["checks"], s["unsat"]) for s in row["steps"]] == [
        ("max", 1, 1), ("at-max", N + 1, N), ("claim", 1, 1)]
    assert 0 < row["rlimit"] <= 3 * RLIMIT


def test_every_scoped_check_is_counted():
    """A scoped step must answer unsat once per index; a missing or extra answer is not a proof."""
    _, steps = plan(SPLIT, 8)
    name, script, expect = steps[1]
    answers, _, _ = run_z3(script, LIMIT, RLIMIT)
    assert name == "at-max" and answers == expect == ["sat"] + ["unsat"] * 8
    # the facts of the step alone are sat; a step whose facts contradict each other is not a proof
    bad = script.replace("(check-sat)", "(assert (= y0 (+ (- z0 c) 1.0)))\n(check-sat)", 1)
    row_answers, _, _ = run_z3(bad, LIMIT, RLIMIT)
    assert row_answers[0] == "unsat" and row_answers != expect


@pytest.mark.parametrize("mutant, failing_step", [
    ({"claim_offset": 1}, "claim"),  # the claim off by one index: zfirst_i = yfirst_{i+1}
    ({"fact_offset": 1}, "at-max"),  # per-index facts pairing y_i with z_{i+1}
    ({"drop": N // 2}, "max"),  # the shift premise of one entry dropped
    ({"per_entry": True}, "max"),  # c_i per entry: the false theorem
])
def test_max_split_mutants_are_not_proved(mutant, failing_step):
    row = attempt(SPLIT, N, LIMIT, RLIMIT, **mutant)
    assert not row["proved"]
    assert row["answer"] == "sat"  # a counterexample, not a timeout
    assert row["steps"][-1]["step"] == failing_step


def test_premises_must_be_satisfiable():
    """Contradictory premises would prove anything: the premises check must answer sat."""
    pre, _ = plan(SPLIT, 4)
    assert run_z3(pre, LIMIT, RLIMIT)[0] == ["sat"]
    assert run_z3(pre.replace("(check-sat)", "(assert (> z0 zmax))\n(check-sat)"), LIMIT, RLIMIT)[0] == ["unsat"]
