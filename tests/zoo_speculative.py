"""Speculative verifiers with the bug shapes real implementations have shipped, for
tests/test_speculative.py: each takes (ps, qs, drafts, rng, logits) as spec.validator.generation.rejection_verify
does, and is wrong in one way."""

import numpy as np


def resample_from_p(ps, qs, drafts, rng, logits=None):
    """On a rejection, a token from p instead of max(0, p - q) normalised."""
    out = []
    for i, d in enumerate(drafts):
        if rng.random() * qs[i][d] < ps[i][d]:
            out.append(d)
            continue
        out.append(int(rng.choice(ps[i].size, p=ps[i])))
        return out
    return out + [int(rng.choice(ps[-1].size, p=ps[-1]))]


def ratio_from_logits(ps, qs, drafts, rng, logits=None):
    """The acceptance ratio exp(z_p(d) - z_q(d)) from the raw logits (not normalised)."""
    zp, zq = logits
    out = []
    for i, d in enumerate(drafts):
        if rng.random() < min(1.0, float(np.exp(zp[i][d] - zq[i][d]))):
            out.append(d)
            continue
        residual = np.maximum(ps[i] - qs[i], 0.0)
        out.append(int(rng.choice(residual.size, p=residual / residual.sum())) if residual.sum() > 0
                   else int(rng.choice(ps[i].size, p=ps[i])))
        return out
    return out + [int(rng.choice(ps[-1].size, p=ps[-1]))]


def bonus_from_q(ps, qs, drafts, rng, logits=None):
    """When every draft is kept, the bonus token drawn from the draft's distribution."""
    out = []
    for i, d in enumerate(drafts):
        if rng.random() * qs[i][d] < ps[i][d]:
            out.append(d)
            continue
        residual = np.maximum(ps[i] - qs[i], 0.0)
        out.append(int(rng.choice(residual.size, p=residual / residual.sum())))
        return out
    return out + [int(rng.choice(qs[-1].size, p=qs[-1]))]


def shared_uniform(ps, qs, drafts, rng, logits=None):
    """One uniform for every acceptance test of the step, instead of one per position."""
    u = rng.random()
    out = []
    for i, d in enumerate(drafts):
        if u * qs[i][d] < ps[i][d]:
            out.append(d)
            continue
        residual = np.maximum(ps[i] - qs[i], 0.0)
        out.append(int(rng.choice(residual.size, p=residual / residual.sum())))
        return out
    return out + [int(rng.choice(ps[-1].size, p=ps[-1]))]
