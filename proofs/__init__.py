"""Machine-checked proofs that samplers may take log-probabilities where logits are documented.

Run them all with `python -m proofs.check`.
"""
