"""Executable specification of LLM token samplers (not yet written: see the spec issue)."""
